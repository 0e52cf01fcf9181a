/* bench_online - what ADO and Aioli cost against the training they steer (issue 17).
 *
 *   build/bench/bench_online [--quick] [--threads N (2: the parallel hook's threads)]
 *
 * The machine is shared with other agents (load averages of 50-90 on 2 cores were seen),
 * so the figures that compare are CPU seconds of this process with one thread, which the
 * load changes far less than wall time; the parallel hook's figure is wall time.
 * 1. The demo model's training step (L = 2, H = 4, C = 128, V = 2048, T = 64, batch 8,
 *    accum 4: `bmx train`'s defaults), median CPU seconds over 20 steps after 3 warm-up
 *    steps, 1 thread; U = 1000 such steps is the time between two ADO refits.
 * 2. ADO's refit at K = 22 after 5,000 and 50,000 steps of history (W = 500, so 451 and
 *    4,951 points per domain; U = history / 2 puts the one refit at t = history): CPU
 *    seconds of that step without a parallel hook (serial), against 1% of U = 1000 training
 *    steps; and wall seconds with an OpenMP hook over 2 threads (what `bmx train` gives it)
 *    at 5,000 (at 50,000 too with --quick, which skips the serial 50,000 refit instead).
 * 3. Aioli: one validation pass (K = 22 domains x 32 windows of 64 tokens, forward only in
 *    batches of 8, `bmx train`'s --eval-windows default) against a round of the defaults
 *    U = 250 steps, R = 4, S = 4, which needs 1 + R K passes; with K = 22 the defaults break
 *    R K S < U, so the round is sized as the smallest U that fits (R K S + 1 = 353) and also
 *    reported per 1000 steps.
 * 4. The policy's own cost per step at K = 22, G = 8 draws: draw + observe + step, ns per
 *    step, for odm, ado between refits (the refit amortised separately in 2), aioli with
 *    U = 1000, R = 4, S = 4 (its steps and its solves, given validation losses without
 *    computing them: the passes are in 3).
 * The last line is one JSON object.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bmx/kernels.h"
#include "bmx/mix.h"
#include "bmx/model.h"
#include "bmx/rng.h"
#include "bmx/train.h"

#include "bench.h"

#define K 22
#define G 8

static void die(const char *what, const bmx_err *e)
{
    fprintf(stderr, "bench_online: %s: %s\n", what, e ? e->msg : "out of memory");
    exit(1);
}

static int par_threads = 2; /* --threads N */

static void omp_for(void *ctx, int n, bmx_mix_task task, void *arg)
{
    (void)ctx;
#pragma omp parallel for schedule(dynamic, 16) num_threads(par_threads)
    for (int i = 0; i < n; i++)
        task(arg, i);
}

/* per-domain loss of a draw: a power law in the domain's draws so far, plus noise */
static double loss_of(int a, const double *n, bmx_rng *r)
{
    return 1.5 + 0.05 * a + 3.0 * pow(n[a] * 8.0 + 100.0, -0.3 - 0.01 * a) +
           0.05 * (bmx_rng_double(r) - 0.5);
}

/* Drive m for steps steps; returns the seconds of the slowest step and, in *mean_ns, the
 * mean ns per step of the others. CPU seconds of the process (clock = bench_cpu_s) with one
 * thread; wall seconds (bench_now) with the parallel hook. */
static double (*clock_s)(void) = bench_cpu_s;

static double drive(bmx_mix *m, long steps, bmx_rng *r, double *n, double *mean_ns)
{
    bmx_err e = {0};
    double slow = 0, tot = 0;
    double L[K];
    for (int i = 0; i < K; i++)
        L[i] = 3.0 - 0.01 * i;
    for (long s = 0; s < steps; s++) {
        double t0 = clock_s();
        if (bmx_mix_needs_validation(m) && bmx_mix_observe_validation(m, L, &e))
            die("validation", &e); /* aioli: the losses as given (the pass is not timed) */
        for (int g = 0; g < G; g++) {
            int a = bmx_mix_draw(m);
            n[a] += 1;
            if (bmx_mix_observe(m, a, loss_of(a, n, r), &e))
                die("observe", &e);
        }
        if (bmx_mix_step(m, &e))
            die("step", &e);
        double dt = clock_s() - t0;
        tot += dt;
        if (dt > slow)
            slow = dt;
    }
    *mean_ns = steps > 1 ? (tot - slow) / (double)(steps - 1) * 1e9 : 0;
    return slow;
}

/* The policy spec over K domains of 1000 + 500 i tokens (draw data d, or none), seed 1. */
static bmx_mix *make(const char *spec, const bmx_mix_data *d)
{
    double w[K];
    bmx_mix *m = NULL;
    bmx_err e = {0};
    for (int i = 0; i < K; i++)
        w[i] = 1000.0 + 500.0 * i;
    if (bmx_mix_create_data(&m, spec, K, w, d, 1, &e))
        die("create", &e);
    return m;
}

static double refit_s(long hist, int par, double *per_step_ns)
{
    char spec[96];
    double n[K] = {0};
    bmx_rng r;
    bmx_rng_seed(&r, 99, 1);
    snprintf(spec, sizeof spec, "ado:warmup=500,interval=%ld", hist / 2);
    bmx_mix_data d = {NULL, 8 * 64, 8};
    bmx_mix *m = make(spec, &d);
    if (par)
        bmx_mix_set_parallel(m, omp_for, NULL);
    clock_s = bench_cpu_s;
    drive(m, hist, &r, n, per_step_ns); /* t = 0 .. hist - 1: no refit */
    if (bmx_mix_fit(m))
        die("a refit before t = history", NULL);
    clock_s = par ? bench_now : bench_cpu_s;
    double dummy, s = drive(m, 1, &r, n, &dummy); /* t = hist: the refit */
    clock_s = bench_cpu_s;
    if (!bmx_mix_fit(m))
        die("no refit at t = history", NULL);
    bmx_mix_free(m);
    return s;
}

static double policy_ns(const char *spec)
{
    double n[K] = {0}, ns;
    bmx_rng r;
    bmx_rng_seed(&r, 5, 1);
    bmx_mix *m = make(spec, NULL);
    drive(m, 20000, &r, n, &ns);
    bmx_mix_free(m);
    return ns;
}

int main(int argc, char **argv)
{
    int quick = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick"))
            quick = 1;
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            par_threads = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: bench_online [--quick] [--threads N (2)]\n");
            return 2;
        }
    }
    if (par_threads < 1)
        par_threads = 1;
    bmx_err e = {0};
    bmx_kernels_set_threads(1);
    setvbuf(stdout, NULL, _IOLBF, 0);

    /* 1. the demo model's step */
    bmx_gpt_config mc = {2048, 64, 2, 4, 128};
    bmx_model *model = NULL;
    bmx_trainer *tr = NULL;
    bmx_train_config tc = bmx_train_config_default();
    tc.accum = 4;
    tc.total = 1000;
    if (bmx_model_create(&mc, BMX_F32, 1, &model, &e) || bmx_trainer_create(model, &tc, &tr, &e))
        die("model", &e);
    bmx_rng r;
    bmx_rng_seed(&r, 1, 0);
    bmx_model_init(model, &r);
    int B = 8, T = 64, N = B * T * 4;
    int *inp = malloc((size_t)N * sizeof *inp), *tgt = malloc((size_t)N * sizeof *tgt);
    if (!inp || !tgt)
        die("tokens", NULL);
    for (int i = 0; i < N; i++) {
        inp[i] = (int)bmx_rng_below(&r, 2048);
        tgt[i] = (int)bmx_rng_below(&r, 2048);
    }
    double st[20];
    bmx_step_info info;
    for (int s = 0; s < 23; s++) {
        double t0 = bench_cpu_s();
        if (bmx_trainer_step(tr, inp, tgt, B, T, &info, &e))
            die("step", &e);
        if (s >= 3)
            st[s - 3] = bench_cpu_s() - t0;
    }
    double step_s = bench_median(st, 20), u_s = 1000 * step_s;
    /* a validation pass: K domains x 32 windows, forward only in batches of 8 */
    double fw[5];
    for (int rep = 0; rep < 5; rep++) {
        double t0 = bench_cpu_s(), loss;
        for (int b = 0; b < K * 32 / 8; b++)
            if (bmx_model_forward(model, inp, tgt, B, T, &loss, NULL, NULL, &e))
                die("forward", &e);
        fw[rep] = bench_cpu_s() - t0;
    }
    double val_s = bench_median(fw, 5);
    printf("demo model step (L2 C128 V2048, batch 8 x seq 64, accum 4, 1 thread): %.4f CPU s; "
           "U = 1000 steps: %.1f s; 1%% of that: %.3f s\n",
           step_s, u_s, u_s / 100);

    /* 2. ADO refits */
    double ns5, ns50, r5s = refit_s(5000, 0, &ns5);
    printf("ado refit, K = 22, 5000 steps of history (451 points): serial %.2f CPU s = %.2f%% of "
           "U = 1000 demo steps\n",
           r5s, 100 * r5s / u_s);
    double r5p = refit_s(5000, 1, &ns5);
    printf("  with the %d-thread OpenMP hook: %.2f s wall = %.2f%% of U\n", par_threads, r5p,
           100 * r5p / u_s);
    double r50s = quick ? NAN : refit_s(50000, 0, &ns50);
    printf("ado refit, K = 22, 50000 steps of history (4951 points): serial %.2f CPU s = %.2f%% "
           "of U = 1000 demo steps\n",
           r50s, 100 * r50s / u_s);
    double r50p = quick ? refit_s(50000, 1, &ns50) : NAN;
    if (quick)
        printf("  with the %d-thread OpenMP hook: %.2f s wall = %.2f%% of U\n", par_threads, r50p,
               100 * r50p / u_s);

    /* 3. aioli's validation passes */
    double passes = 1 + 4.0 * K, round_steps = 4.0 * K * 4 + 1;
    double round_s = round_steps * step_s + passes * val_s;
    printf("aioli: one validation pass (22 domains x 32 windows) %.4f CPU s = %.1f demo steps; a "
           "round of %g steps needs %g passes: %.1f%% of the round's time\n",
           val_s, val_s / step_s, round_steps, passes, 100 * passes * val_s / round_s);

    /* 4. policy cost per step */
    double odm = policy_ns("odm"), ado = ns5,
           aio = policy_ns("aioli:interval=1000,rounds=4,probe=4");
    printf("policy cost per step (K = 22, G = 8 draws, CPU): odm %.0f ns, ado %.0f ns (between "
           "refits, history up to 5000; %.0f ns up to 50000), aioli %.0f ns (validation passes "
           "not included)\n",
           odm, ado, ns50, aio);
    /* JSON has no NaN: a figure not measured (--quick) is null */
    const char *key[] = {"step_s",
                         "u_s",
                         "ado_refit_5k_serial_s",
                         "ado_refit_5k_par_s",
                         "ado_refit_50k_serial_s",
                         "ado_refit_50k_par_s",
                         "val_pass_s",
                         "aioli_val_share",
                         "odm_ns",
                         "ado_ns",
                         "ado_ns_50k",
                         "aioli_ns"};
    double val[] = {step_s, u_s, r5s,  r5p, r50s, r50p, val_s, passes * val_s / round_s,
                    odm,    ado, ns50, aio};
    printf("{\"par_threads\":%d", par_threads);
    for (size_t i = 0; i < sizeof val / sizeof *val; i++) {
        if (isfinite(val[i]))
            printf(",\"%s\":%.6g", key[i], val[i]);
        else
            printf(",\"%s\":null", key[i]);
    }
    printf("}\n");
    free(inp);
    free(tgt);
    bmx_trainer_free(tr);
    bmx_model_free(model);
    return 0;
}
