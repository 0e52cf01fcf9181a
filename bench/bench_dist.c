/* bench/bench_dist.c - data-parallel training on this machine: 1 rank x 2 threads against
 * 2 ranks x 1 thread (mpirun), paired, for bench_train's configurations (a) and (b).
 *
 *   build/bench/bench_dist [a] [b] [--pairs N (2)] [--steps N (4)]
 *
 * (a) GPT-2 124M (L12 H12 C768 V50257), B=4, T=64; (b) L4 H4 C256 V8192, B=8, T=256. The
 * same tokens per step on both sides: 1 rank with --accum 2 --threads 2, 2 ranks with
 * --accum 1 --threads 1 each (so both draw the same micro-batches, bmx/run.h). Data: two
 * domains of random tokens written here (shards of 300k tokens). Each side is a real
 * `bmx train` under `mpirun --bind-to none` (OMP_WAIT_POLICY=passive); its figures come from
 * rank 0's timing.jsonl: the median step time over the steps after the first (tokens/s =
 * tokens per step / that), and for 2 ranks the median share of the step rank 0 spent in
 * collectives (comm_s / step_s: the gradient all-reduce of the whole model in float, the
 * step's observations, the stop flag; waiting for the other rank counts as communication).
 * A pair runs the two sides back to back, alternating which goes first; the headline is the
 * median of the pairs' ratios. Needs bmx built with MPI and mpirun; otherwise it says so
 * and prints {"skipped":...}.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bmx/data.h"
#include "bmx/dist.h"
#include "bmx/rng.h"

struct conf {
    const char *name;
    int L, H, C, V, B, T;
};

static const struct conf confs[] = {
    {"a", 12, 12, 768, 50257, 4, 64},
    {"b", 4, 4, 256, 8192, 8, 256},
};

static int write_data(const char *dir, int V)
{
    bmx_err err = {0};
    bmx_rng r;
    bmx_rng_seed(&r, 5, 0);
    const char *doms[2] = {"a", "b"}, *splits[2] = {"train", "val"};
    uint32_t *ids = malloc(1000 * sizeof *ids);
    for (int d = 0; d < 2; d++)
        for (int s = 0; s < 2; s++) {
            char p[4200];
            snprintf(p, sizeof p, "%s/%s", dir, doms[d]);
            mkdir(p, 0777);
            snprintf(p, sizeof p, "%s/%s/%s.bin", dir, doms[d], splits[s]);
            bmx_shard_writer *w = NULL;
            if (bmx_shard_writer_open(&w, p, (uint32_t)V, (uint32_t)V - 1, &err) < 0) {
                fprintf(stderr, "bench_dist: %s\n", err.msg);
                free(ids);
                return -1;
            }
            for (int k = 0; k < (s ? 30 : 300); k++) {
                for (int i = 0; i < 1000; i++)
                    ids[i] = (uint32_t)bmx_rng_below(&r, (uint64_t)V - 1);
                bmx_shard_writer_add(w, ids, 1000, &err);
            }
            if (bmx_shard_writer_close(w, &err) < 0) {
                fprintf(stderr, "bench_dist: %s\n", err.msg);
                free(ids);
                return -1;
            }
        }
    free(ids);
    return 0;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    return n ? (n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2])) : 0;
}

/* One side: returns 0 and the median step seconds and communication share. */
static int run_side(const char *bmx, const char *tmp, const struct conf *c, int ranks, int steps,
                    double *step_s, double *comm)
{
    char cmd[8192], out[128];
    snprintf(out, sizeof out, "%s/run%d", tmp, ranks);
    snprintf(cmd, sizeof cmd,
             "rm -rf %s && OMP_WAIT_POLICY=passive OMPI_ALLOW_RUN_AS_ROOT=1 "
             "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 mpirun --allow-run-as-root --oversubscribe "
             "--bind-to none -np %d -x OMP_WAIT_POLICY %s train --data %s/data --out %s "
             "--layers %d --heads %d --width %d --batch %d --seq %d --accum %d --threads %d "
             "--steps %d --eval-every 0 --eval-windows 1 --ckpt-every 0 --warmup 1 "
             "--policy uniform >%s.log 2>&1",
             out, ranks, bmx, tmp, out, c->L, c->H, c->C, c->B, c->T, 2 / ranks, 3 - ranks, steps,
             out);
    if (system(cmd) != 0) {
        fprintf(stderr, "bench_dist: failed: %s (see %s.log)\n", cmd, out);
        return -1;
    }
    char path[256], line[512];
    snprintf(path, sizeof path, "%s/timing.jsonl", out);
    FILE *f = fopen(path, "r");
    double st[256], cs[256];
    int n = 0;
    while (f && fgets(line, sizeof line, f) && n < 256) {
        long s = 0;
        double tok = 0, dt = 0, cm = 0;
        char *p = strstr(line, "\"comm_s\":");
        if (sscanf(line, "{\"step\":%ld,\"tok_s\":%lf,\"step_s\":%lf", &s, &tok, &dt) != 3)
            continue;
        if (p)
            cm = atof(p + 9);
        if (s == 1)
            continue; /* warm-up */
        st[n] = dt;
        cs[n] = dt > 0 ? cm / dt : 0;
        n++;
    }
    if (f)
        fclose(f);
    if (n == 0) {
        fprintf(stderr, "bench_dist: no timing in %s\n", path);
        return -1;
    }
    *step_s = median(st, n);
    *comm = median(cs, n);
    return 0;
}

int main(int argc, char **argv)
{
    int pairs = 2, steps = 4, want[2] = {0, 0}, any = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--pairs") && i + 1 < argc)
            pairs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--steps") && i + 1 < argc)
            steps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "a") || !strcmp(argv[i], "b"))
            want[argv[i][0] - 'a'] = any = 1;
        else {
            fprintf(stderr, "usage: bench_dist [a] [b] [--pairs N] [--steps N]\n");
            return 2;
        }
    }
    if (!any)
        want[0] = want[1] = 1;
    if (pairs < 1 || pairs > 50 || steps < 2 || steps > 200) {
        fprintf(stderr, "bench_dist: --pairs 1..50, --steps 2..200\n");
        return 2;
    }
    char bmx[1024];
    snprintf(bmx, sizeof bmx, "%s", argv[0]);
    char *slash = strrchr(bmx, '/');
    if (slash && slash - bmx >= 6 && !strncmp(slash - 6, "/bench", 6))
        snprintf(slash - 6, sizeof bmx - (size_t)(slash - 6 - bmx), "/bmx");
    else
        snprintf(bmx, sizeof bmx, "build/bmx");
    if (!bmx_dist_built_with_mpi() || system("command -v mpirun >/dev/null 2>&1") != 0) {
        printf("bench_dist: skipped: bmx built without MPI or no mpirun (apt-get install "
               "libopenmpi-dev openmpi-bin, then make)\n{\"skipped\":\"no MPI\"}\n");
        return 0;
    }
    printf("{\"bench\":\"dist\",\"pairs\":%d,\"steps\":%d,\"results\":[", pairs, steps);
    int first = 1;
    for (int k = 0; k < 2; k++) {
        if (!want[k])
            continue;
        const struct conf *c = &confs[k];
        char tmp[] = "/tmp/bmx_bench_dist_XXXXXX";
        if (!mkdtemp(tmp))
            return 1;
        char dd[64];
        snprintf(dd, sizeof dd, "%s/data", tmp);
        mkdir(dd, 0777);
        if (write_data(dd, c->V) < 0)
            return 1;
        double r1[50], r2[50], share[50], ratio[50];
        for (int p = 0; p < pairs; p++) {
            double c1 = 0;
            int order = p % 2, rc = 0;
            for (int side = 0; side < 2 && !rc; side++) {
                int ranks = (side ^ order) ? 2 : 1;
                double s = 0, cm = 0;
                rc = run_side(bmx, tmp, c, ranks, steps, &s, &cm);
                if (ranks == 1)
                    r1[p] = s, c1 = cm;
                else
                    r2[p] = s, share[p] = cm;
            }
            (void)c1;
            if (rc)
                return 1;
            ratio[p] = r1[p] / r2[p];
            fprintf(stderr,
                    "bench_dist (%s) pair %d: 1x2 %.3f s/step, 2x1 %.3f s/step (comm %.0f%%)\n",
                    c->name, p + 1, r1[p], r2[p], 100 * share[p]);
        }
        double tokens = 2.0 * c->B * c->T;
        double m1 = median(r1, pairs), m2 = median(r2, pairs), ms = median(share, pairs);
        double mr = median(ratio, pairs);
        printf(
            "%s{\"config\":\"%s\",\"tokens_per_step\":%.0f,\"one_rank_2_threads\":{\"step_s\":%.4f,"
            "\"tok_s\":%.1f},\"two_ranks_1_thread\":{\"step_s\":%.4f,\"tok_s\":%.1f,"
            "\"comm_share\":%.3f},\"speedup_median_of_pairs\":%.3f}",
            first ? "" : ",", c->name, tokens, m1, tokens / m1, m2, tokens / m2, ms, mr);
        fflush(stdout);
        first = 0;
        char rm[200];
        snprintf(rm, sizeof rm, "rm -rf %s", tmp);
        if (system(rm) != 0)
            fprintf(stderr, "bench_dist: could not remove %s\n", tmp);
    }
    printf("]}\n");
    return 0;
}
