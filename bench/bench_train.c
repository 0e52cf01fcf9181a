/* bench/bench_train.c - step time of the GPT trainer against PyTorch, and against sgemm peak.
 *
 *   build/bench/bench_train [a] [b] [c] [--pairs N] [--threads N (2)] [--no-torch]
 *
 * Configurations (issue 4): (a) GPT-2 124M, B=4, T=64; (b) L=4 H=4 C=256 V=8192, B=8, T=256;
 * (c) GPT-2 124M, B=4, T=256. With 2 threads (OpenMP and OpenBLAS). For each: seconds per
 * full step (forward, backward, clipping, AdamW), its parts, tokens/s, model FLOP/s as a
 * fraction of the sgemm peak, and the ratio to PyTorch (bench/torch_step.py under
 * /usr/bin/python3, same configuration, same run; reported missing when torch is not
 * installed).
 *
 * Both sides get the same environment: --threads threads for every OpenMP and OpenBLAS pool
 * and OMP_WAIT_POLICY=passive (the driver re-executes itself with it unless set), so that the
 * side that waits sleeps instead of spinning on a core the other side needs.
 *
 * The speed of this machine drifts in phases of seconds to minutes (sgemm peak samples from
 * 124 to 176 GFLOP/s within an hour, no other process running), so every figure is taken in
 * pairs: a sgemm peak sample (best of 3 products of 1536^3 with OpenBLAS's own threading),
 * one C step, the same step's linear-layer products alone, a second peak sample, then one
 * PyTorch step from a worker process that lives for the whole configuration (one warm-up
 * step on each side first). A pair's model FLOP/s is taken against the higher of its two peak
 * samples and its C step against its own PyTorch step; the headline figures are the medians over
 * pairs (--pairs, default 8, 12 and 6). Also reported: medians of each side's steps, means, fastest
 * steps, how many pairs reach the goals, and the products alone (products_s: the floor of a step
 * whose products are OpenBLAS's, against the pair's peak and against PyTorch's step).
 *
 * Model FLOPs per step (the PaLM count): tokens * (6 * (12 L C^2 + C V) + 12 L C T), i.e.
 * every matrix product (lm head included) forward and backward, attention at full T x T.
 */
#include <cblas.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bmx/kernels.h"
#include "bmx/model.h"
#include "bmx/train.h"

#include "bench.h"

static int THREADS = 2; /* --threads */
#define MAX_PAIRS 64

struct bcfg {
    const char *name;
    int L, H, C, V, B, T, pairs;
};

static double sgemm_peak(void)
{
    int n = 1536;
    float *a = malloc(sizeof(float) * n * n), *b = malloc(sizeof(float) * n * n);
    float *c = malloc(sizeof(float) * n * n);
    for (long i = 0; i < (long)n * n; i++)
        a[i] = b[i] = (float)(i % 7) * 0.1f;
    double best = 1e30;
    for (int r = 0; r < 3; r++) {
        double t0 = bench_now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, a, n, b, n, 0, c, n);
        double t = bench_now() - t0;
        best = t < best ? t : best;
    }
    free(a), free(b), free(c);
    return 2.0 * n * n * n / best / 1e9;
}

/* The PyTorch peer: a torch_step.py worker process and its pipes. */
struct torch_worker {
    pid_t pid;
    FILE *in, *out; /* its stdin (our requests) and stdout (its replies) */
};

static void torch_close(struct torch_worker *w)
{
    if (w->in)
        fclose(w->in);
    if (w->out)
        fclose(w->out);
    if (w->pid > 0)
        waitpid(w->pid, NULL, 0);
    memset(w, 0, sizeof *w);
}

/* Start the worker for configuration k and wait for its warm-up step; 0 when it is ready,
 * -1 when python3 or torch is missing (the worker's stderr is discarded). */
static int torch_open(struct torch_worker *w, const struct bcfg *k)
{
    int to[2], from[2];
    memset(w, 0, sizeof *w);
    if (pipe(to))
        return -1;
    if (pipe(from)) {
        close(to[0]), close(to[1]);
        return -1;
    }
    char a[7][16];
    int v[7] = {k->L, k->H, k->C, k->V, k->B, k->T, THREADS};
    for (int i = 0; i < 7; i++)
        snprintf(a[i], sizeof a[i], "%d", v[i]);
    w->pid = fork();
    if (w->pid == 0) {
        dup2(to[0], 0), dup2(from[1], 1);
        close(to[0]), close(to[1]), close(from[0]), close(from[1]);
        int null = open("/dev/null", O_WRONLY); /* only async-signal-safe calls after fork */
        if (null < 0 || dup2(null, 2) < 0)
            _exit(127);
        execl("/usr/bin/python3", "python3", "bench/torch_step.py", "--layers", a[0], "--heads",
              a[1], "--width", a[2], "--vocab", a[3], "--batch", a[4], "--seq", a[5], "--threads",
              a[6], (char *)NULL);
        _exit(127);
    }
    close(to[0]), close(from[1]);
    if (w->pid < 0) {
        close(to[1]), close(from[0]);
        return -1;
    }
    w->in = fdopen(to[1], "w");
    w->out = fdopen(from[0], "r");
    char line[256];
    if (!w->in || !w->out || !fgets(line, sizeof line, w->out) || !strstr(line, "\"ready\"")) {
        torch_close(w);
        return -1;
    }
    return 0;
}

/* Seconds of one PyTorch step, or -1 when the worker has gone. */
static double torch_step(struct torch_worker *w)
{
    char line[1024];
    if (fputs("1\n", w->in) == EOF || fflush(w->in) || !fgets(line, sizeof line, w->out))
        return -1;
    const char *t = strstr(line, "\"times\": [");
    return t ? atof(t + 10) : -1;
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

/* The whole number after option opt, from 1 to max, into *out; 0, or -1 after saying why. */
static int int_arg(const char *opt, const char *val, int max, int *out)
{
    char *end = NULL;
    long v = val ? strtol(val, &end, 10) : 0;
    if (!val || end == val || *end || v < 1 || v > max) {
        fprintf(stderr, "bench_train: %s wants a whole number from 1 to %d, got '%s'\n", opt, max,
                val ? val : "(nothing)");
        return -1;
    }
    *out = (int)v;
    return 0;
}

/* Median of n values, leaving v as it is. */
static double median_of(const double *v, int n)
{
    double tmp[MAX_PAIRS];
    memcpy(tmp, v, sizeof(double) * n);
    return bench_median(tmp, n);
}

static double mean_of(const double *v, int n)
{
    double s = 0;
    for (int i = 0; i < n; i++)
        s += v[i];
    return s / n;
}

static double min_of(const double *v, int n)
{
    double m = v[0];
    for (int i = 1; i < n; i++)
        m = v[i] < m ? v[i] : m;
    return m;
}

static int count_at_least(const double *v, int n, double goal)
{
    int c = 0;
    for (int i = 0; i < n; i++)
        c += v[i] >= goal;
    return c;
}

int main(int argc, char **argv)
{
    struct bcfg all[3] = {{"a", 12, 12, 768, 50257, 4, 64, 8},
                          {"b", 4, 4, 256, 8192, 8, 256, 12},
                          {"c", 12, 12, 768, 50257, 4, 256, 6}};
    int want[3] = {0, 0, 0}, any = 0, use_torch = 1, pairs = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--no-torch"))
            use_torch = 0;
        else if (!strcmp(argv[i], "--threads") || !strcmp(argv[i], "--pairs")) {
            const char *opt = argv[i], *val = i + 1 < argc ? argv[++i] : NULL;
            int threads = !strcmp(opt, "--threads");
            if (int_arg(opt, val, threads ? 64 : MAX_PAIRS, threads ? &THREADS : &pairs))
                return 2;
        } else if (!strcmp(argv[i], "a") || !strcmp(argv[i], "b") || !strcmp(argv[i], "c"))
            want[argv[i][0] - 'a'] = any = 1;
        else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: bench_train [a] [b] [c] [--pairs N] [--threads N] [--no-torch]\n"
                   "  a b c        configurations to run (default: all three)\n"
                   "  --pairs N    C/PyTorch step pairs per configuration (default: 8, 12, 6)\n"
                   "  --threads N  threads on both sides (default: 2)\n"
                   "  --no-torch   skip the PyTorch peer\n");
            return 0;
        } else {
            fprintf(stderr,
                    "bench_train: unknown argument '%s'; usage: bench_train [a] [b] [c] "
                    "[--pairs N] [--threads N] [--no-torch] (--help for more)\n",
                    argv[i]);
            return 2;
        }
    }
    char nt[16];
    snprintf(nt, sizeof nt, "%d", THREADS);
    setenv("OMP_NUM_THREADS", nt, 0);
    setenv("OPENBLAS_NUM_THREADS", nt, 0);
    if (!getenv("OMP_WAIT_POLICY")) {
        setenv("OMP_WAIT_POLICY", "passive", 1);
        execv("/proc/self/exe", argv);
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN); /* a worker that dies is reported as torch missing */
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
        int P = pairs > 0 ? pairs : c.pairs;
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
        double load[3] = {0, 0, 0};
        getloadavg(load, 3);
        struct torch_worker w;
        int torch_ok = use_torch && torch_open(&w, &c) == 0;
        if (use_torch && !torch_ok)
            fprintf(stderr, "bench_train: no PyTorch peer: /usr/bin/python3 bench/torch_step.py "
                            "did not start (run from the repository root, with Debian's "
                            "python3-torch installed)\n");
        double loss = 0, fb = 0, opt = 0;
        double st[MAX_PAIRS], tt[MAX_PAIRS], pk[MAX_PAIRS], frac[MAX_PAIRS], ratio[MAX_PAIRS];
        double pr[MAX_PAIRS], prf[MAX_PAIRS], over[MAX_PAIRS];
        for (int i = 0; i <= P; i++) { /* i = 0: the C warm-up step */
            int p = i - 1;
            if (p >= 0)
                pk[p] = sgemm_peak();
            double t1 = bench_now();
            bmx_trainer_micro(t, in, tg, c.B, c.T, &loss, NULL, NULL, &err);
            double t2 = bench_now();
            bmx_trainer_apply(t, NULL, &err);
            double t3 = bench_now();
            if (p < 0)
                continue;
            fb += t2 - t1, opt += t3 - t2;
            st[p] = t3 - t1;
            pr[p] = products_s(m, &c);
            double after = sgemm_peak(); /* the higher of the samples around them counts */
            pk[p] = after > pk[p] ? after : pk[p];
            frac[p] = flops / st[p] / 1e9 / pk[p];
            prf[p] = pflops / pr[p] / 1e9 / pk[p];
            over[p] = st[p] / pr[p];
            tt[p] = ratio[p] = -1;
            if (torch_ok && (tt[p] = torch_step(&w)) > 0)
                ratio[p] = tt[p] / st[p];
            else
                torch_ok = 0;
            printf("(%s) pair %d: sgemm peak %.1f GFLOP/s, C %.3f s/step = %.0f%% of peak "
                   "(products alone %.3f s = %.0f%%), PyTorch %.3f s/step, speed-up %.2fx\n",
                   c.name, i, pk[p], st[p], 100 * frac[p], pr[p], 100 * prf[p], tt[p], ratio[p]);
        }
        if (use_torch)
            torch_close(&w);
        fb /= P, opt /= P;
        double t0 = bench_now();
        bmx_model_forward(m, in, tg, c.B, c.T, NULL, NULL, NULL, &err);
        double fwd = bench_now() - t0;
        double prod = median_of(pr, P), pfrac = median_of(prf, P), omed = median_of(over, P);
        double step = median_of(st, P), peak = median_of(pk, P), fmed = median_of(frac, P);
        double smean = mean_of(st, P), smin = min_of(st, P);
        int f75 = count_at_least(frac, P, 0.75);
        printf("(%s) L=%d H=%d C=%d V=%d B=%d T=%d, %d pairs: C %.3f s/step (median; mean %.3f, "
               "min %.3f; forward %.3f, forward+backward %.3f, AdamW %.3f), %.0f tokens/s, "
               "%.1f GFLOP/s; model FLOP/s per pair's sgemm peak: median %.0f%% (%d of %d pairs "
               ">= 75%%; peak samples median %.1f GFLOP/s); linear-layer products alone %.3f s "
               "(median; %.0f%% of the pair's peak), the step is %.3fx its products; load "
               "%.2f\n",
               c.name, c.L, c.H, c.C, c.V, c.B, c.T, P, step, smean, smin, fwd, fb, opt, N / step,
               flops / step / 1e9, 100 * fmed, f75, P, peak, prod, 100 * pfrac, omed, load[0]);
        jl += snprintf(
            json + jl, sizeof json - jl,
            "%s{\"config\":\"%s\",\"L\":%d,\"H\":%d,\"C\":%d,\"V\":%d,\"B\":%d,\"T\":%d,"
            "\"pairs\":%d,\"step_s\":%.4f,\"mean_step_s\":%.4f,\"min_step_s\":%.4f,"
            "\"forward_s\":%.4f,\"fwd_bwd_s\":%.4f,\"adamw_s\":%.4f,"
            "\"tokens_per_s\":%.1f,\"model_gflops\":%.2f,\"sgemm_peak_gflops\":%.2f,"
            "\"frac_sgemm_peak_median\":%.3f,\"pairs_frac_ge_75\":%d,"
            "\"products_s\":%.4f,\"products_frac_peak\":%.3f,\"step_over_products\":%.3f,"
            "\"loadavg\":%.2f,",
            first ? "" : ",", c.name, c.L, c.H, c.C, c.V, c.B, c.T, P, step, smean, smin, fwd, fb,
            opt, N / step, flops / step / 1e9, peak, fmed, f75, prod, pfrac, omed, load[0]);
        if (torch_ok) {
            double tstep = median_of(tt, P), rmed = median_of(ratio, P);
            double tmean = mean_of(tt, P), tmin = min_of(tt, P);
            int r16 = count_at_least(ratio, P, 1.6);
            printf("(%s) PyTorch %.3f s/step (median; mean %.3f, min %.3f); speed-up: median of "
                   "pairs %.2fx (%d of %d pairs >= 1.6x), of medians %.2fx, of means %.2fx, of "
                   "minima %.2fx; the products alone are %.2fx PyTorch's median step\n",
                   c.name, tstep, tmean, tmin, rmed, r16, P, tstep / step, tmean / smean,
                   tmin / smin, tstep / prod);
            jl += snprintf(json + jl, sizeof json - jl,
                           "\"torch_step_s\":%.4f,\"torch_mean_step_s\":%.4f,"
                           "\"torch_min_step_s\":%.4f,\"speedup_median\":%.3f,"
                           "\"pairs_speedup_ge_1_6\":%d,\"speedup_of_medians\":%.3f,"
                           "\"speedup_of_means\":%.3f,\"speedup_of_minima\":%.3f}",
                           tstep, tmean, tmin, rmed, r16, tstep / step, tmean / smean, tmin / smin);
        } else {
            jl += snprintf(json + jl, sizeof json - jl, "\"torch\":\"missing\"}");
        }
        first = 0;
        free(in), free(tg);
        bmx_trainer_free(t);
        bmx_model_free(m);
    }
    printf("%s]}\n", json);
    return 0;
}
