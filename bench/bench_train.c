/* bench/bench_train.c - step time of the GPT trainer against PyTorch, and against sgemm peak.
 *
 *   build/bench/bench_train [a] [b] [c] [--steps N] [--threads N (2)] [--no-torch]
 *
 * Configurations (issue 4): (a) GPT-2 124M, B=4, T=64; (b) L=4 H=4 C=256 V=8192, B=8, T=256;
 * (c) GPT-2 124M, B=4, T=256. With 2 threads (OpenMP and OpenBLAS). For each: seconds per
 * full step (forward, backward, clipping, AdamW), its parts, tokens/s, model FLOP/s as a
 * fraction of the sgemm peak measured first in the same run, and the ratio to PyTorch
 * (bench/torch_step.py under /usr/bin/python3, same configuration, same run; reported
 * missing when torch is not installed).
 *
 * Model FLOPs per step (the PaLM count): tokens * (6 * (12 L C^2 + C V) + 12 L C T), i.e.
 * every matrix product (lm head included) forward and backward, attention at full T x T.
 */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bmx/kernels.h"
#include "bmx/model.h"
#include "bmx/train.h"

static int THREADS = 2; /* --threads */

struct bcfg {
    const char *name;
    int L, H, C, V, B, T, steps;
};

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double sgemm_peak(void)
{
    int n = 1536;
    float *a = malloc(sizeof(float) * n * n), *b = malloc(sizeof(float) * n * n);
    float *c = malloc(sizeof(float) * n * n);
    for (long i = 0; i < (long)n * n; i++)
        a[i] = b[i] = (float)(i % 7) * 0.1f;
    double best = 1e30;
    for (int r = 0; r < 4; r++) {
        double t0 = now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, a, n, b, n, 0, c, n);
        double t = now() - t0;
        best = t < best ? t : best;
    }
    free(a), free(b), free(c);
    return 2.0 * n * n * n / best / 1e9;
}

/* Seconds per step of torch_step.py, or -1 when torch is unavailable. */
static double torch_step(const struct bcfg *k)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 bench/torch_step.py --layers %d --heads %d --width %d --vocab %d "
             "--batch %d --seq %d --steps %d --threads %d 2>/dev/null",
             k->L, k->H, k->C, k->V, k->B, k->T, k->steps, THREADS);
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    char line[1024] = {0}, last[1024] = {0};
    while (fgets(line, sizeof line, p))
        memcpy(last, line, sizeof line);
    int rc = pclose(p);
    const char *s = strstr(last, "\"step_s\":");
    return rc == 0 && s ? atof(s + 9) : -1;
}

int main(int argc, char **argv)
{
    struct bcfg all[3] = {{"a", 12, 12, 768, 50257, 4, 64, 3},
                          {"b", 4, 4, 256, 8192, 8, 256, 5},
                          {"c", 12, 12, 768, 50257, 4, 256, 2}};
    int want[3] = {0, 0, 0}, any = 0, use_torch = 1, steps = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--no-torch"))
            use_torch = 0;
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            THREADS = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--steps") && i + 1 < argc)
            steps = atoi(argv[++i]);
        else
            for (int k = 0; k < 3; k++)
                if (!strcmp(argv[i], all[k].name))
                    want[k] = any = 1;
    }
    bmx_err err = {0};
    if (bmx_kernels_check_blas(&err)) {
        fprintf(stderr, "bench_train: %s\n", err.msg);
        return 1;
    }
    bmx_kernels_set_threads(THREADS);
    double peak = sgemm_peak();
    printf("sgemm peak (1536^3, best of 4, %d threads): %.1f GFLOP/s\n", THREADS, peak);
    char json[8192];
    int jl =
        snprintf(json, sizeof json,
                 "{\"bench\":\"train\",\"threads\":%d,\"sgemm_peak_gflops\":%.2f,\"configs\":[",
                 THREADS, peak);
    int first = 1;
    for (int k = 0; k < 3; k++) {
        if (any && !want[k])
            continue;
        struct bcfg c = all[k];
        if (steps > 0)
            c.steps = steps;
        bmx_gpt_config mc = {c.V, 1024, c.L, c.H, c.C};
        bmx_train_config tc = bmx_train_config_default();
        bmx_model *m;
        bmx_trainer *t;
        bmx_rng r;
        bmx_rng_seed(&r, 1, 0);
        if (bmx_model_create(&mc, BMX_F32, 1, &m, &err) || bmx_trainer_create(m, &tc, &t, &err)) {
            fprintf(stderr, "bench_train: %s\n", err.msg);
            return 1;
        }
        bmx_model_init(m, &r);
        int N = c.B * c.T;
        int *in = malloc(sizeof(int) * N), *tg = malloc(sizeof(int) * N);
        for (int i = 0; i < N; i++) {
            in[i] = (int)bmx_rng_below(&r, c.V);
            tg[i] = (int)bmx_rng_below(&r, c.V);
        }
        double fwd = 0, fb = 0, opt = 0, best = 1e30, loss = 0;
        for (int s = 0; s <= c.steps; s++) {
            double t0 = now();
            bmx_model_forward(m, in, tg, c.B, c.T, NULL, NULL, NULL, &err);
            double t1 = now();
            bmx_trainer_micro(t, in, tg, c.B, c.T, &loss, NULL, NULL, &err);
            double t2 = now();
            bmx_trainer_apply(t, NULL, &err);
            double t3 = now();
            if (s == 0)
                continue; /* warm-up */
            fwd += t1 - t0;
            fb += t2 - t1;
            opt += t3 - t2;
            best = t3 - t1 < best ? t3 - t1 : best;
        }
        fwd /= c.steps, fb /= c.steps, opt /= c.steps;
        double step = fb + opt;
        double flops = (double)N * (6.0 * (12.0 * c.L * c.C * c.C + (double)c.C * c.V) +
                                    12.0 * c.L * c.C * c.T);
        double gfs = flops / step / 1e9;
        double ts = use_torch ? torch_step(&c) : -1;
        printf("(%s) L=%d H=%d C=%d V=%d B=%d T=%d: %.3f s/step (min %.3f; forward %.3f, "
               "forward+backward %.3f, AdamW %.3f), %.0f tokens/s, %.1f GFLOP/s = %.0f%% of "
               "sgemm peak; PyTorch %.3f s/step, speed-up %.2fx\n",
               c.name, c.L, c.H, c.C, c.V, c.B, c.T, step, best, fwd, fb, opt, N / step, gfs,
               100 * gfs / peak, ts, ts > 0 ? ts / step : 0.0);
        jl += snprintf(json + jl, sizeof json - jl,
                       "%s{\"config\":\"%s\",\"L\":%d,\"H\":%d,\"C\":%d,\"V\":%d,\"B\":%d,\"T\":%d,"
                       "\"steps\":%d,\"step_s\":%.4f,\"min_step_s\":%.4f,\"forward_s\":%.4f,"
                       "\"fwd_bwd_s\":%.4f,\"adamw_s\":%.4f,\"tokens_per_s\":%.1f,"
                       "\"model_gflops\":%.2f,\"frac_sgemm_peak\":%.3f,",
                       first ? "" : ",", c.name, c.L, c.H, c.C, c.V, c.B, c.T, c.steps, step, best,
                       fwd, fb, opt, N / step, gfs, gfs / peak);
        if (ts > 0)
            jl += snprintf(json + jl, sizeof json - jl,
                           "\"torch_step_s\":%.4f,\"speedup_vs_torch\":%.3f}", ts, ts / step);
        else
            jl += snprintf(json + jl, sizeof json - jl, "\"torch\":\"missing\"}");
        first = 0;
        free(in), free(tg);
        bmx_trainer_free(t);
        bmx_model_free(m);
    }
    printf("%s]}\n", json);
    return 0;
}
