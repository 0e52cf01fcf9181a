/* bench/bench_run.c - the cost of mixing in the training loop (bmx/run.h).
 *
 * 1. policy + sampler share: the time per optimizer step spent in the mixing policy
 *    (bmx_mix_probs, accum draws, observations, bmx_mix_step) and in drawing the windows of
 *    the step (bmx_shard_sample, batch * accum windows), measured alone in a loop of the same
 *    shape as the run's, divided by the time of one whole training step (bmx_run_step).
 *    Goal: below 0.01% for the policy alone; the sampler (copying tokens) is reported apart.
 * 2. tokens/s of the run's step (bmx_run_step of the stepwise API, bmx/run.h: odm, 22
 *    domains) against the bare trainer (bmx_trainer_step on pre-drawn batches: no policy, no
 *    sampling, no log) on the same model and batch, one thread. Main figure: process CPU time
 *    per step: for the run, the CPU time of its STEPS calls of bmx_run_step alone (set-up,
 *    the evaluations at start and end and the final checkpoint are outside the clock),
 *    against the bare steps; also the run's loop wall time (timing.jsonl), which load from
 *    other processes inflates.
 *    Goal: within 2%.
 * The two trainers alternate, 3 rounds; medians, and the best (minimum) time of each, which
 * load from other processes disturbs least. Synthetic shards (random tokens) of 22
 * domains in a temporary folder. Prints one JSON object last. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bmx/data.h"
#include "bmx/kernels.h"
#include "bmx/mix.h"
#include "bmx/model.h"
#include "bmx/rng.h"
#include "bmx/run.h"
#include "bmx/train.h"

#include "bench.h"

#define K      22
#define V      512
#define STEPS  20
#define ROUNDS 3

static char dir[128];
static int B = 8, T = 64, G = 4, L = 2, H = 4, C = 128; /* the bmx train defaults */

static void die(const char *what, const bmx_err *e)
{
    fprintf(stderr, "bench_run: %s: %s\n", what, e ? e->msg : "");
    exit(1);
}

static void make_shards(void)
{
    char p[300];
    bmx_err err;
    bmx_rng r;
    bmx_rng_seed(&r, 42, 0);
    uint32_t *ids = malloc(200000 * sizeof *ids);
    mkdir(dir, 0777);
    snprintf(p, sizeof p, "%s/data", dir);
    mkdir(p, 0777);
    for (int d = 0; d < K; d++) {
        snprintf(p, sizeof p, "%s/data/d%02d", dir, d);
        mkdir(p, 0777);
        for (int s = 0; s < 2; s++) {
            bmx_shard_writer *w;
            size_t n = s ? 5000 : 200000;
            for (size_t i = 0; i < n; i++)
                ids[i] = (uint32_t)bmx_rng_below(&r, V - 1);
            snprintf(p, sizeof p, "%s/data/d%02d/%s.bin", dir, d, s ? "val" : "train");
            if (bmx_shard_writer_open(&w, p, V, V - 1, &err) ||
                bmx_shard_writer_add(w, ids, n, &err) || bmx_shard_writer_close(w, &err))
                die("shard", &err);
        }
    }
    free(ids);
}

/* Seconds per step of the bare trainer on pre-drawn batches. */
static double bare(void)
{
    bmx_err err;
    bmx_model *m;
    bmx_trainer *t;
    bmx_rng r;
    bmx_gpt_config mc = {V, T, L, H, C};
    bmx_train_config tc = bmx_train_config_default();
    tc.lr = 3e-3;
    tc.min_lr = 3e-4;
    tc.warmup = 20;
    tc.total = STEPS;
    tc.accum = G;
    if (bmx_model_create(&mc, BMX_F32, 1, &m, &err))
        die("model", &err);
    bmx_rng_seed(&r, 1, 2);
    bmx_model_init(m, &r);
    if (bmx_trainer_create(m, &tc, &t, &err))
        die("trainer", &err);
    size_t N = (size_t)B * T * G;
    int *in = malloc(N * sizeof *in), *tg = malloc(N * sizeof *tg);
    for (size_t i = 0; i < N; i++) {
        in[i] = (int)bmx_rng_below(&r, V - 1);
        tg[i] = (int)bmx_rng_below(&r, V - 1);
    }
    bmx_step_info info;
    double t0 = bench_cpu_s();
    for (int s = 0; s < STEPS; s++)
        if (bmx_trainer_step(t, in, tg, B, T, &info, &err))
            die("step", &err);
    double dt = (bench_cpu_s() - t0) / STEPS;
    free(in);
    free(tg);
    bmx_trainer_free(t);
    bmx_model_free(m);
    return dt;
}

static void eval_and_log(bmx_run *r)
{
    bmx_err err;
    bmx_run_eval ev;
    if (bmx_run_evaluate(r, &ev, &err) || bmx_run_log_eval(r, &ev, &err))
        die("evaluate", &err);
}

/* Seconds per step of a run driven through the stepwise API with bmx_run_train's schedule:
 * the wall time of the loop (sum of timing.jsonl step_s) and the CPU time of bmx_run_step. */
static void run(int round, long steps, double *loop, double *cpu)
{
    char out[300], p[400], cmd[400];
    bmx_err err;
    snprintf(out, sizeof out, "%s/run%d", dir, round);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", out);
    if (system(cmd) != 0)
        die("rm", NULL);
    bmx_run_config c = bmx_run_config_default();
    snprintf(p, sizeof p, "%s/data", dir);
    c.data = p;
    c.out = out;
    c.policy = "odm";
    c.steps = steps;
    c.batch = B;
    c.seq = T;
    c.accum = G;
    c.layers = L;
    c.heads = H;
    c.width = C;
    c.eval_every = 0;
    c.eval_windows = 1;
    c.ckpt_every = 0;
    c.threads = 1;
    bmx_run_opts o = {0};
    bmx_run *r;
    if (bmx_run_open(&r, &c, &o, &err))
        die("open", &err);
    eval_and_log(r); /* step 0 */
    double t = 0;
    while (!bmx_run_done(r)) {
        double t0 = bench_cpu_s();
        if (bmx_run_step(r, &err))
            die("step", &err);
        t += bench_cpu_s() - t0;
        if (bmx_run_eval_due(r))
            eval_and_log(r);
        if (bmx_run_ckpt_due(r) && bmx_run_checkpoint(r, &err))
            die("checkpoint", &err);
    }
    bmx_run_close(r);
    *cpu = t / (double)steps;
    char tp[400];
    snprintf(tp, sizeof tp, "%s/timing.jsonl", out);
    FILE *f = fopen(tp, "r");
    double sum = 0, x;
    long s;
    char line[300];
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "{\"step\":%ld,\"tok_s\":%*[^,],\"step_s\":%lf", &s, &x) == 2)
            sum += x;
    if (f)
        fclose(f);
    *loop = sum / (double)steps;
}

/* Seconds per step in the policy alone, and in the sampler alone (same shapes as a run). */
static void mixing(double *policy, double *sampler)
{
    bmx_err err;
    bmx_mix *m;
    bmx_shard *sh[K];
    bmx_rng dr[K];
    char p[300];
    uint32_t *win = malloc(((size_t)T + 1) * sizeof *win);
    int *in = malloc((size_t)B * T * sizeof *in);
    const int reps = 20000;
    for (int d = 0; d < K; d++) {
        snprintf(p, sizeof p, "%s/data/d%02d/train.bin", dir, d);
        if (bmx_shard_open(&sh[d], p, &err))
            die("open", &err);
        bmx_rng_seed(&dr[d], (uint64_t)d, 1);
    }
    if (bmx_mix_create(&m, "odm", K, NULL, 1, &err))
        die("mix", &err);
    volatile double sink = 0;
    double t0 = bench_cpu_s();
    for (int s = 0; s < reps; s++) {
        sink += bmx_mix_probs(m)[0];
        for (int g = 0; g < G; g++) {
            int d = bmx_mix_draw(m);
            if (bmx_mix_observe(m, d, 3.0 + 0.001 * (s % 100), &err))
                die("observe", &err);
        }
        if (bmx_mix_step(m, &err))
            die("mix step", &err);
    }
    *policy = (bench_cpu_s() - t0) / reps;
    const int sreps = 2000;
    t0 = bench_cpu_s();
    for (int s = 0; s < sreps; s++)
        for (int g = 0; g < G; g++) {
            int d = (s * G + g) % K;
            for (int b = 0; b < B; b++) {
                bmx_shard_sample(sh[d], &dr[d], (size_t)T, win, NULL, NULL);
                for (int k = 0; k < T; k++)
                    in[b * T + k] = (int)win[k];
            }
        }
    *sampler = (bench_cpu_s() - t0) / sreps;
    sink += in[0];
    bmx_mix_free(m);
    for (int d = 0; d < K; d++)
        bmx_shard_free(sh[d]);
    free(win);
    free(in);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/bmx_bench_run_%d", (int)getpid());
    /* one thread: on a shared 2-core machine two OpenMP threads mostly wait for each other */
    bmx_kernels_set_threads(1);
    make_shards();
    double b[ROUNDS], lo[ROUNDS], to[ROUNDS];
    for (int r = 0; r < ROUNDS; r++) {
        b[r] = bare();
        run(r, STEPS, &lo[r], &to[r]);
        fprintf(stderr,
                "round %d: bare %.2f ms/step, run loop %.2f ms/step (wall), bmx_run_step "
                "%.2f ms/step (CPU)\n",
                r, 1e3 * b[r], 1e3 * lo[r], 1e3 * to[r]);
    }
    double bmin = b[0], lmin = to[0];
    for (int r = 1; r < ROUNDS; r++) {
        bmin = b[r] < bmin ? b[r] : bmin;
        lmin = to[r] < lmin ? to[r] : lmin;
    }
    double bm = bench_median(b, ROUNDS), lm = bench_median(lo, ROUNDS),
           tm = bench_median(to, ROUNDS);
    double pol, smp;
    mixing(&pol, &smp);
    double tokens = (double)B * T * G;
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "bench_run: cannot remove %s\n", dir);
    printf("{\"bench\":\"run\",\"model\":\"L%d H%d C%d V%d\",\"batch\":%d,\"seq\":%d,\"accum\":%d,"
           "\"domains\":%d,\"policy\":\"odm\",\"steps\":%d,\"rounds\":%d,"
           "\"bare_cpu_tok_s\":%.1f,\"run_loop_wall_tok_s\":%.1f,\"run_cpu_tok_s\":%.1f,"
           "\"run_loop_wall_vs_bare_cpu\":%.4f,\"run_cpu_vs_bare_cpu\":%.4f,\"best_run_cpu_vs_best_"
           "bare_cpu\":%.4f,"
           "\"policy_us_per_step\":%.3f,\"sampler_us_per_step\":%.3f,"
           "\"policy_share_pct\":%.6f,\"sampler_share_pct\":%.6f}\n",
           L, H, C, V, B, T, G, K, STEPS, ROUNDS, tokens / bm, tokens / lm, tokens / tm, bm / lm,
           bm / tm, bmin / lmin, 1e6 * pol, 1e6 * smp, 100 * pol / tm, 100 * smp / tm);
    return 0;
}
