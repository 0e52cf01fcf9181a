/* bench/bench_train.c - step time of the GPT trainer against PyTorch, and against sgemm peak.
 *
 *   build/bench/bench_train [a] [b] [c] [--steps N] [--threads N (2)] [--rounds N (3)]
 *                           [--no-torch]
 *
 * Configurations (issue 4): (a) GPT-2 124M, B=4, T=64; (b) L=4 H=4 C=256 V=8192, B=8, T=256;
 * (c) GPT-2 124M, B=4, T=256. With 2 threads (OpenMP and OpenBLAS). For each: seconds per
 * full step (forward, backward, clipping, AdamW), its parts, tokens/s, model FLOP/s as a
 * fraction of the sgemm peak measured in the same round, and the ratio to PyTorch
 * (bench/torch_step.py under /usr/bin/python3, same configuration, same run; reported
 * missing when torch is not installed).
 *
 * The machine is shared, so other processes take the cores from under us at any moment: the
 * driver re-executes itself with OMP_WAIT_POLICY=passive (unless set), so that a waiting
 * OpenMP thread sleeps instead of spinning on a core another thread needs; the PyTorch peer
 * inherits the same environment (and OMP_NUM_THREADS = OPENBLAS_NUM_THREADS = --threads). A
 * sgemm peak sample is the best of 4 products of 1536^3 with OpenBLAS's own threading.
 *
 * The speed of this shared machine drifts from minute to minute (sgemm peak samples range
 * from below 100 to above 160 GFLOP/s within an hour), so C and PyTorch take turns (--rounds,
 * default 3): each round samples the sgemm peak (before and after the C steps, the higher
 * counts), runs a warm-up step and --steps timed C steps, one forward alone, then the
 * PyTorch steps. A round's step time is the median of its steps on each side (a step that
 * another tenant of the host stalls for seconds would otherwise dominate); its model FLOP/s
 * is taken against its own peak and its C step time against its own PyTorch time; the
 * headline figures are the medians of those over rounds. Also reported: means over all
 * rounds, each side's fastest step and the ratio of those minima, and the load average at
 * the start.
 *
 * Each round also times the step's linear-layer products alone (products_s): the floor of
 * the step time with OpenBLAS, reported against the peak and against PyTorch's step.
 *
 * Model FLOPs per step (the PaLM count): tokens * (6 * (12 L C^2 + C V) + 12 L C T), i.e.
 * every matrix product (lm head included) forward and backward, attention at full T x T.
 */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bmx/kernels.h"
#include "bmx/model.h"
#include "bmx/train.h"

#include "bench.h"

static int THREADS = 2; /* --threads */
#define MAX_ROUNDS 16
#define MAX_STEPS  64
static int ROUNDS = 3; /* --rounds: C and PyTorch take turns this many times */

struct bcfg {
    const char *name;
    int L, H, C, V, B, T, steps;
};

static double sgemm_peak(void)
{
    int n = 1536;
    float *a = malloc(sizeof(float) * n * n), *b = malloc(sizeof(float) * n * n);
    float *c = malloc(sizeof(float) * n * n);
    for (long i = 0; i < (long)n * n; i++)
        a[i] = b[i] = (float)(i % 7) * 0.1f;
    double best = 1e30;
    for (int r = 0; r < 4; r++) {
        double t0 = bench_now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, a, n, b, n, 0, c, n);
        double t = bench_now() - t0;
        best = t < best ? t : best;
    }
    free(a), free(b), free(c);
    return 2.0 * n * n * n / best / 1e9;
}

/* Mean, minimum and median seconds per step of torch_step.py; mean -1 when torch is
 * unavailable. */
static double torch_step(const struct bcfg *k, double *min_s, double *median_s)
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
    const char *s = strstr(last, "\"step_s\":"), *m = strstr(last, "\"min_s\":");
    const char *md = strstr(last, "\"median_s\":");
    if (rc != 0 || !s || !m || !md)
        return -1;
    *min_s = atof(m + 8);
    *median_s = atof(md + 11);
    return atof(s + 9);
}

/* The step's linear-layer products alone, back to back, on the model's own weights and
 * gradient buffers (forward, input gradient, weight and bias gradients of every layer and of
 * the lm head): the time a step would take if everything else were free. Attention is left
 * out. Seconds for one pass. */
static double products_s(bmx_model *m, const struct bcfg *k)
{
    int N = k->B * k->T, C = k->C, Vp = bmx_model_vocab_padded(m);
    size_t big = (size_t)N * (size_t)(Vp > 4 * C ? Vp : 4 * C);
    float *x = calloc((size_t)N * 4 * C, sizeof(float)), *dx = calloc((size_t)N * 4 * C, 4);
    float *y = calloc(big, sizeof(float));
    float *p = bmx_model_params(m), *g = bmx_model_grads(m);
    if (!x || !dx || !y) {
        free(x), free(dx), free(y);
        return -1;
    }
    for (size_t i = 0; i < (size_t)N * 4 * C; i++)
        x[i] = (float)(i % 17) * 0.01f;
    for (size_t i = 0; i < big; i++)
        y[i] = (float)(i % 13) * 0.001f;
    static const int W[4] = {BMX_T_QKVW, BMX_T_ATTPROJW, BMX_T_FCW, BMX_T_FCPROJW};
    static const int Bs[4] = {BMX_T_QKVB, BMX_T_ATTPROJB, BMX_T_FCB, BMX_T_FCPROJB};
    int cin[4] = {C, C, C, 4 * C}, cout[4] = {3 * C, C, 4 * C, C};
    double t0 = bench_now();
    for (int l = 0; l < k->L; l++)
        for (int j = 0; j < 4; j++) {
            size_t wo = bmx_model_tensor(m, W[j]).offset + (size_t)l * cin[j] * cout[j];
            size_t bo = bmx_model_tensor(m, Bs[j]).offset + (size_t)l * cout[j];
            bmx_matmul_forward_f(y, x, p + wo, p + bo, NULL, N, cin[j], cout[j], 1);
            bmx_matmul_backward_f(dx, g + wo, g + bo, y, x, p + wo, N, cin[j], cout[j], 0, 1);
        }
    size_t we = bmx_model_tensor(m, BMX_T_WTE).offset;
    bmx_matmul_forward_f(y, x, p + we, NULL, NULL, N, C, Vp, 1);
    bmx_matmul_backward_f(dx, g + we, NULL, y, x, p + we, N, C, Vp, 0, 1);
    double t = bench_now() - t0;
    free(x), free(dx), free(y);
    return t;
}

int main(int argc, char **argv)
{
    struct bcfg all[3] = {{"a", 12, 12, 768, 50257, 4, 64, 4},
                          {"b", 4, 4, 256, 8192, 8, 256, 6},
                          {"c", 12, 12, 768, 50257, 4, 256, 3}};
    int want[3] = {0, 0, 0}, any = 0, use_torch = 1, steps = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--no-torch"))
            use_torch = 0;
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            THREADS = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--rounds") && i + 1 < argc)
            ROUNDS = atoi(argv[++i]) < 1          ? 1
                     : atoi(argv[i]) > MAX_ROUNDS ? MAX_ROUNDS
                                                  : atoi(argv[i]);
        else if (!strcmp(argv[i], "--steps") && i + 1 < argc)
            steps = atoi(argv[++i]) < 1 ? 1 : atoi(argv[i]) > MAX_STEPS ? MAX_STEPS : atoi(argv[i]);
        else
            for (int k = 0; k < 3; k++)
                if (!strcmp(argv[i], all[k].name))
                    want[k] = any = 1;
    }
    /* Both sides get the same environment: THREADS threads for every OpenMP or OpenBLAS pool
     * (PyTorch also gets torch.set_num_threads(THREADS)) and passive waits. */
    char nt[16];
    snprintf(nt, sizeof nt, "%d", THREADS);
    setenv("OMP_NUM_THREADS", nt, 0);
    setenv("OPENBLAS_NUM_THREADS", nt, 0);
    if (!getenv("OMP_WAIT_POLICY")) {
        setenv("OMP_WAIT_POLICY", "passive", 1);
        execv("/proc/self/exe", argv);
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    bmx_err err = {0};
    if (bmx_kernels_check_blas(&err)) {
        fprintf(stderr, "bench_train: %s\n", err.msg);
        return 1;
    }
    bmx_kernels_set_threads(THREADS);
    char json[8192];
    int jl = snprintf(json, sizeof json,
                      "{\"bench\":\"train\",\"threads\":%d,\"omp_wait_policy\":\"%s\","
                      "\"configs\":[",
                      THREADS, getenv("OMP_WAIT_POLICY"));
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
        double flops = (double)N * (6.0 * (12.0 * c.L * c.C * c.C + (double)c.C * c.V) +
                                    12.0 * c.L * c.C * c.T);
        /* the products timed by products_s (the lm head at the padded vocabulary) */
        double pflops =
            6.0 * N * (12.0 * c.L * c.C * c.C + (double)c.C * bmx_gpt_vocab_padded(c.V));
        int *in = malloc(sizeof(int) * N), *tg = malloc(sizeof(int) * N);
        for (int i = 0; i < N; i++) {
            in[i] = (int)bmx_rng_below(&r, c.V);
            tg[i] = (int)bmx_rng_below(&r, c.V);
        }
        /* Per round: a peak sample, the C steps, a forward alone, a second peak sample,
         * the PyTorch steps. Each round's figures are taken against that round's own peak and
         * PyTorch time; the headline is the median over rounds. */
        double fwd = 0, fb = 0, opt = 0, best = 1e30, loss = 0, tmin = 1e30, ts = 0;
        double r_step[MAX_ROUNDS], r_peak[MAX_ROUNDS], r_torch[MAX_ROUNDS];
        double r_frac[MAX_ROUNDS], r_ratio[MAX_ROUNDS], r_prod[MAX_ROUNDS], peak = 0;
        int torch_ok = use_torch;
        double load[3] = {0, 0, 0};
        getloadavg(load, 3);
        for (int round = 0; round < ROUNDS; round++) {
            double pk = sgemm_peak(), sfb = 0, sopt = 0, st[MAX_STEPS];
            for (int s = 0; s <= c.steps; s++) { /* a warm-up step in every round */
                double t1 = bench_now();
                bmx_trainer_micro(t, in, tg, c.B, c.T, &loss, NULL, NULL, &err);
                double t2 = bench_now();
                bmx_trainer_apply(t, NULL, &err);
                double t3 = bench_now();
                if (s == 0)
                    continue;
                sfb += t2 - t1;
                sopt += t3 - t2;
                st[s - 1] = t3 - t1;
                best = t3 - t1 < best ? t3 - t1 : best;
            }
            double t0 = bench_now();
            bmx_model_forward(m, in, tg, c.B, c.T, NULL, NULL, NULL, &err);
            fwd += bench_now() - t0;
            r_prod[round] = products_s(m, &c);
            double pk2 = sgemm_peak();
            r_peak[round] = pk2 > pk ? pk2 : pk;
            peak = r_peak[round] > peak ? r_peak[round] : peak;
            fb += sfb, opt += sopt;
            r_step[round] = bench_median(st, c.steps);
            r_frac[round] = flops / r_step[round] / 1e9 / r_peak[round];
            r_torch[round] = r_ratio[round] = -1;
            if (torch_ok) {
                double mn = 0, med = 0, mean = torch_step(&c, &mn, &med);
                if (mean > 0) {
                    ts += mean / ROUNDS;
                    r_torch[round] = med;
                    r_ratio[round] = med / r_step[round];
                    tmin = mn < tmin ? mn : tmin;
                } else {
                    torch_ok = 0;
                }
            }
            printf("(%s) round %d: sgemm peak %.1f GFLOP/s, C %.3f s/step (median) = %.0f%% of "
                   "peak, its linear-layer products alone %.3f s (%.0f%% of peak), PyTorch %.3f "
                   "s/step (median), speed-up %.2fx\n",
                   c.name, round + 1, r_peak[round], r_step[round], 100 * r_frac[round],
                   r_prod[round], 100 * pflops / r_prod[round] / 1e9 / r_peak[round],
                   r_torch[round], r_ratio[round]);
        }
        fwd /= ROUNDS, fb /= c.steps * ROUNDS, opt /= c.steps * ROUNDS;
        double step = fb + opt;
        if (!torch_ok)
            ts = -1, tmin = -1;
        double frac_med = bench_median(r_frac, ROUNDS), ratio_med = bench_median(r_ratio, ROUNDS);
        double prod_med = bench_median(r_prod, ROUNDS);
        double gfs = flops / step / 1e9;
        printf("(%s) L=%d H=%d C=%d V=%d B=%d T=%d, %d rounds: %.3f s/step (min %.3f; forward "
               "%.3f, forward+backward %.3f, AdamW %.3f), %.0f tokens/s, %.1f GFLOP/s; model "
               "FLOP/s per round's sgemm peak: median %.0f%% (highest peak %.1f GFLOP/s); "
               "PyTorch %.3f s/step (min %.3f), speed-up: median of rounds %.2fx, of means "
               "%.2fx, of minima %.2fx; linear-layer products alone %.3f s (median), i.e. "
               "%.2fx PyTorch's mean step at best; load %.2f\n",
               c.name, c.L, c.H, c.C, c.V, c.B, c.T, ROUNDS, step, best, fwd, fb, opt, N / step,
               gfs, 100 * frac_med, peak, ts, tmin, torch_ok ? ratio_med : 0.0,
               ts > 0 ? ts / step : 0.0, ts > 0 ? tmin / best : 0.0, prod_med,
               ts > 0 ? ts / prod_med : 0.0, load[0]);
        jl += snprintf(json + jl, sizeof json - jl,
                       "%s{\"config\":\"%s\",\"L\":%d,\"H\":%d,\"C\":%d,\"V\":%d,\"B\":%d,\"T\":%d,"
                       "\"steps\":%d,\"rounds\":%d,\"step_s\":%.4f,\"min_step_s\":%.4f,"
                       "\"forward_s\":%.4f,\"fwd_bwd_s\":%.4f,\"adamw_s\":%.4f,"
                       "\"tokens_per_s\":%.1f,\"model_gflops\":%.2f,\"sgemm_peak_gflops\":%.2f,"
                       "\"frac_sgemm_peak_median\":%.3f,\"products_s\":%.4f,\"loadavg\":%.2f,",
                       first ? "" : ",", c.name, c.L, c.H, c.C, c.V, c.B, c.T, c.steps, ROUNDS,
                       step, best, fwd, fb, opt, N / step, gfs, peak, frac_med, prod_med, load[0]);
        if (torch_ok)
            jl += snprintf(json + jl, sizeof json - jl,
                           "\"torch_step_s\":%.4f,\"torch_min_step_s\":%.4f,"
                           "\"speedup_median\":%.3f,\"speedup_of_means\":%.3f,"
                           "\"speedup_of_minima\":%.3f}",
                           ts, tmin, ratio_med, ts / step, tmin / best);
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
