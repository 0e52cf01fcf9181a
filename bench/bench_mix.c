/* bench_mix - what a mixing policy costs per draw and per round, at K = 22, 260 and 100,000.
 *
 * draw:   ns per bmx_mix_draw (one uniform double + a binary search of the cumulative pi).
 * update: us per round = G bmx_mix_observe calls + bmx_mix_step (doremi: one
 *         bmx_mix_observe_excess + step), G = 8; also ns per arm (update / K: linearity).
 * Peers measured in the same run, so load from other processes hits both sides alike:
 *   rng_double  ns per bmx_rng_double (the draw's floor);
 *   linear      ns per naive categorical draw: one double, then a linear scan of pi;
 *   softmax     us per naive stable softmax over K doubles (what an EXP3-style step must
 *               at least do once).
 * Each figure is the median of 5 repetitions. Goals (K = 22): draw < 100 ns, update < 2 us.
 * The last line is one JSON object.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bmx/mix.h"
#include "bmx/rng.h"

#include "bench.h"

#define G    8
#define REPS 5

static volatile double sink;

/* Arms and values for the observations, drawn once (the timed loop only reads them). */
typedef struct feed {
    int *arm;
    double *val;
    size_t n;
} feed;

static void die(const char *what, const bmx_err *err)
{
    fprintf(stderr, "bench_mix: %s: %s\n", what, err ? err->msg : "out of memory");
    exit(1);
}

static void run_rounds(bmx_mix *m, const char *name, int k, const feed *f, size_t *pos, long rounds,
                       double *exsum, double *tokens)
{
    bmx_err err = {0};

    for (long r = 0; r < rounds; r++) {
        if (!strcmp(name, "doremi")) {
            if (bmx_mix_observe_excess(m, exsum, tokens, &err))
                die("observe_excess", &err);
        } else {
            for (int g = 0; g < G; g++) {
                size_t i = (*pos)++ % f->n;
                if (bmx_mix_observe(m, f->arm[i] % k, f->val[i], &err))
                    die("observe", &err);
            }
        }
        if (bmx_mix_step(m, &err))
            die("step", &err);
    }
}

int main(void)
{
    static const char *const policies[] = {"uniform", "odm",  "odm-smoothed-mean",
                                           "exp3",    "ucb1", "doremi"};
    static const int ks[] = {22, 260, 100000};
    enum { NP = sizeof policies / sizeof policies[0], NK = sizeof ks / sizeof ks[0] };
    double draw_ns[NP][NK], upd_us[NP][NK], rng_ns, lin_ns[NK], soft_us[NK];
    feed f;
    bmx_rng r;

    bmx_rng_seed(&r, 12345, 0);
    f.n = 1 << 16;
    f.arm = malloc(f.n * sizeof *f.arm);
    f.val = malloc(f.n * sizeof *f.val);
    if (!f.arm || !f.val)
        die("feed", NULL);
    for (size_t i = 0; i < f.n; i++) {
        f.arm[i] = (int)bmx_rng_below(&r, 1u << 30);
        f.val[i] = 1.0 + 3.0 * bmx_rng_double(&r);
    }

    /* Peer: one uniform double. */
    {
        double t[REPS];
        long n = 4000000;
        for (int rep = 0; rep < REPS; rep++) {
            double s = 0, t0 = bench_now();
            for (long i = 0; i < n; i++)
                s += bmx_rng_double(&r);
            t[rep] = (bench_now() - t0) / n * 1e9;
            sink = s;
        }
        rng_ns = bench_median(t, REPS);
    }

    for (int ki = 0; ki < NK; ki++) {
        int k = ks[ki];
        double *pi = malloc((size_t)k * sizeof *pi), *x = malloc((size_t)k * sizeof *x);
        double *exsum = malloc((size_t)k * sizeof *exsum),
               *tokens = malloc((size_t)k * sizeof *tokens);
        double t[REPS];
        long ndraw = k > 1000 ? 20000 : 1000000, nsoft = k > 1000 ? 20 : 200000;
        long nlin = k > 1000 ? 500 : 1000000;

        if (!pi || !x || !exsum || !tokens)
            die("arrays", NULL);
        for (int a = 0; a < k; a++) {
            x[a] = 3.0 * bmx_rng_double(&r);
            exsum[a] = bmx_rng_double(&r);
            tokens[a] = 1.0;
        }
        /* Peer: naive linear-scan categorical draw over a non-uniform pi. */
        {
            double s = 0;
            for (int a = 0; a < k; a++)
                s += pi[a] = exp(x[a]);
            for (int a = 0; a < k; a++)
                pi[a] /= s;
        }
        for (int rep = 0; rep < REPS; rep++) {
            long acc = 0;
            double t0 = bench_now();
            for (long i = 0; i < nlin; i++) {
                double u = bmx_rng_double(&r), c = 0;
                int a = 0;
                for (; a < k - 1; a++) {
                    c += pi[a];
                    if (c > u)
                        break;
                }
                acc += a;
            }
            t[rep] = (bench_now() - t0) / nlin * 1e9;
            sink = (double)acc;
        }
        lin_ns[ki] = bench_median(t, REPS);
        /* Peer: naive stable softmax over k values. */
        for (int rep = 0; rep < REPS; rep++) {
            double t0 = bench_now();
            for (long i = 0; i < nsoft; i++) {
                double mx = x[0], s = 0;
                x[i % k] += 1e-9;
                for (int a = 1; a < k; a++)
                    mx = fmax(mx, x[a]);
                for (int a = 0; a < k; a++)
                    s += pi[a] = exp(x[a] - mx);
                for (int a = 0; a < k; a++)
                    pi[a] /= s;
            }
            t[rep] = (bench_now() - t0) / nsoft * 1e6;
            sink = pi[0];
        }
        soft_us[ki] = bench_median(t, REPS);

        for (int pi_ = 0; pi_ < NP; pi_++) {
            const char *name = policies[pi_];
            bmx_mix *m = NULL;
            bmx_err err = {0};
            size_t pos = 0;
            long nround = k > 1000 ? 40 : 20000;

            if (bmx_mix_create(&m, name, k, NULL, 1, &err))
                die(name, &err);
            /* Warm up past ucb1's scoring pass and odm's uniform start (t > K ln K). */
            run_rounds(m, name, k, &f, &pos, k > 1000 ? 20 : 400, exsum, tokens);
            for (int rep = 0; rep < REPS; rep++) {
                long acc = 0;
                double t0 = bench_now();
                for (long i = 0; i < ndraw; i++)
                    acc += bmx_mix_draw(m);
                t[rep] = (bench_now() - t0) / ndraw * 1e9;
                sink = (double)acc;
            }
            draw_ns[pi_][ki] = bench_median(t, REPS);
            for (int rep = 0; rep < REPS; rep++) {
                double t0 = bench_now();
                run_rounds(m, name, k, &f, &pos, nround, exsum, tokens);
                t[rep] = (bench_now() - t0) / nround * 1e6;
            }
            upd_us[pi_][ki] = bench_median(t, REPS);
            bmx_mix_free(m);
        }
        free(pi);
        free(x);
        free(exsum);
        free(tokens);
    }

    printf("bench_mix: G = %d observations per round, median of %d runs\n", G, REPS);
    printf("peer rng_double: %.2f ns\n", rng_ns);
    printf("%-18s %7s %10s %8s %9s %11s %11s %9s\n", "policy", "K", "draw ns", "/rng", "/linear",
           "update us", "ns per arm", "/softmax");
    for (int ki = 0; ki < NK; ki++) {
        printf("%-18s %7d %10.1f %8s %9.2f %11.3f %11s %9s   (peers)\n", "linear / softmax", ks[ki],
               lin_ns[ki], "", 1.0, soft_us[ki], "", "");
        for (int p = 0; p < NP; p++)
            printf("%-18s %7d %10.1f %8.2f %9.2f %11.3f %11.2f %9.2f\n", policies[p], ks[ki],
                   draw_ns[p][ki], draw_ns[p][ki] / rng_ns, draw_ns[p][ki] / lin_ns[ki],
                   upd_us[p][ki], upd_us[p][ki] * 1e3 / ks[ki], upd_us[p][ki] / soft_us[ki]);
    }
    {
        double worst_draw = 0, worst_upd = 0;
        for (int p = 0; p < NP; p++) {
            worst_draw = fmax(worst_draw, draw_ns[p][0]);
            worst_upd = fmax(worst_upd, upd_us[p][0]);
        }
        printf("{\"bench\":\"mix\",\"G\":%d,\"reps\":%d,\"rng_double_ns\":%.3f", G, REPS, rng_ns);
        printf(",\"peers\":[");
        for (int ki = 0; ki < NK; ki++)
            printf("%s{\"k\":%d,\"linear_draw_ns\":%.3f,\"softmax_us\":%.4f}", ki ? "," : "",
                   ks[ki], lin_ns[ki], soft_us[ki]);
        printf("],\"results\":[");
        for (int ki = 0, first = 1; ki < NK; ki++)
            for (int p = 0; p < NP; p++, first = 0)
                printf("%s{\"policy\":\"%s\",\"k\":%d,\"draw_ns\":%.3f,\"draw_vs_rng\":%.3f,"
                       "\"draw_vs_linear\":%.3f,\"update_us\":%.4f,\"update_ns_per_arm\":%.3f,"
                       "\"update_vs_softmax\":%.3f}",
                       first ? "" : ",", policies[p], ks[ki], draw_ns[p][ki],
                       draw_ns[p][ki] / rng_ns, draw_ns[p][ki] / lin_ns[ki], upd_us[p][ki],
                       upd_us[p][ki] * 1e3 / ks[ki], upd_us[p][ki] / soft_us[ki]);
        printf(
            "],\"k22_worst_draw_ns\":%.3f,\"k22_worst_update_us\":%.4f,\"goal_draw_lt_100ns\":%s,"
            "\"goal_update_lt_2us\":%s}\n",
            worst_draw, worst_upd, worst_draw < 100 ? "true" : "false",
            worst_upd < 2 ? "true" : "false");
    }
    free(f.arm);
    free(f.val);
    return 0;
}
