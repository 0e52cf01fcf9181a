/* A small L-BFGS for ADO's fits (ALGORITHMS.md section 6: tolerance 1e-5, at most 200
 * iterations). n <= 8 parameters, memory 10 pairs, a strong-Wolfe line search. The exact
 * method (tests/ref/online_ref.py follows the same text):
 *   stop when |g|_2 <= tol, after max_iter iterations, or when the line search fails;
 *   direction d = -H g by the two-loop recursion over the stored pairs, newest first, with
 *   H0 = (s'y / y'y) I of the newest pair (d = -g without pairs); if g'd >= 0 the pairs are
 *   dropped and d = -g;
 *   first trial step 1, or min(1, 1/|g|_2) without pairs;
 *   line search (Nocedal & Wright 3.5/3.6, c1 = 1e-4, c2 = 0.9): up to 20 trial steps,
 *   doubling; zoom by bisection, up to 30 halvings; a zoom that runs out accepts its low
 *   end if that is a step > 0 (sufficient decrease), else the search fails; a non-finite
 *   value counts as no decrease;
 *   pair (s, y) = (x_new - x, g_new - g) kept when s'y > 1e-10 (the oldest of 10 dropped). */
#include "mix_internal.h"

#include <math.h>
#include <string.h>

#define LB_N   8
#define LB_MEM 10
#define LB_C1  1e-4
#define LB_C2  0.9

struct lb_point {
    double a, f, x[LB_N], g[LB_N];
};

static double dot(const double *a, const double *b, int n)
{
    double s = 0.0;

    for (int i = 0; i < n; i++)
        s += a[i] * b[i];
    return s;
}

static void eval_at(mix_objective f, void *ctx, int n, const double *x, const double *d, double a,
                    struct lb_point *p)
{
    p->a = a;
    for (int i = 0; i < n; i++)
        p->x[i] = x[i] + a * d[i];
    p->f = f(ctx, p->x, p->g);
}

/* 1 with *out set to an accepted point, 0 when the search fails. */
static int line_search(mix_objective f, void *ctx, int n, const double *x, double fx,
                       const double *d, double dg0, double a0, struct lb_point *out)
{
    struct lb_point lo, hi, cur;
    double flo;
    int i;

    lo.a = 0.0;
    lo.f = fx;
    hi.a = a0;
    for (i = 0; i < 20; i++) {
        eval_at(f, ctx, n, x, d, hi.a, &cur);
        double dga = dot(cur.g, d, n);
        if (!(cur.f <= fx + LB_C1 * cur.a * dg0) || (i > 0 && cur.f >= lo.f)) {
            hi = cur;
            break; /* zoom(lo, hi) */
        }
        if (fabs(dga) <= -LB_C2 * dg0) {
            *out = cur;
            return 1;
        }
        if (dga >= 0.0) {
            hi = lo;
            lo = cur;
            break; /* zoom(cur, previous) */
        }
        lo = cur;
        hi.a = 2.0 * cur.a;
    }
    if (i == 20)
        return 0;
    flo = lo.f;
    for (int j = 0; j < 30; j++) {
        eval_at(f, ctx, n, x, d, 0.5 * (lo.a + hi.a), &cur);
        double dga = dot(cur.g, d, n);
        if (!(cur.f <= fx + LB_C1 * cur.a * dg0) || cur.f >= flo) {
            hi.a = cur.a;
        } else {
            if (fabs(dga) <= -LB_C2 * dg0) {
                *out = cur;
                return 1;
            }
            if (dga * (hi.a - lo.a) >= 0.0)
                hi.a = lo.a;
            lo = cur;
            flo = cur.f;
        }
    }
    if (lo.a > 0.0) {
        *out = lo;
        return 1;
    }
    return 0;
}

int mix_lbfgs(mix_objective f, void *ctx, int n, double *x, double *fx, int max_iter, double tol)
{
    double g[LB_N], d[LB_N], S[LB_MEM][LB_N], Y[LB_MEM][LB_N], rho[LB_MEM], al[LB_MEM];
    int np = 0, head = 0, it; /* pairs head-np .. head-1 (mod LB_MEM), oldest first */
    double fv;

    if (n < 1 || n > LB_N)
        return -1;
    fv = f(ctx, x, g);
    for (it = 0; it < max_iter && isfinite(fv); it++) {
        double gn = sqrt(dot(g, g, n)), dg, a0;
        struct lb_point p;

        if (gn <= tol)
            break;
        memcpy(d, g, (size_t)n * sizeof *d);
        for (int j = 0; j < np; j++) { /* newest first */
            int s = (head - 1 - j + LB_MEM) % LB_MEM;
            al[s] = rho[s] * dot(S[s], d, n);
            for (int i = 0; i < n; i++)
                d[i] -= al[s] * Y[s][i];
        }
        if (np) {
            int s = (head - 1 + LB_MEM) % LB_MEM;
            double gam = dot(S[s], Y[s], n) / dot(Y[s], Y[s], n);
            for (int i = 0; i < n; i++)
                d[i] *= gam;
        }
        for (int j = np - 1; j >= 0; j--) { /* oldest first */
            int s = (head - 1 - j + LB_MEM) % LB_MEM;
            double b = rho[s] * dot(Y[s], d, n);
            for (int i = 0; i < n; i++)
                d[i] += S[s][i] * (al[s] - b);
        }
        for (int i = 0; i < n; i++)
            d[i] = -d[i];
        dg = dot(g, d, n);
        if (!(dg < 0.0)) {
            for (int i = 0; i < n; i++)
                d[i] = -g[i];
            dg = -gn * gn;
            np = 0;
        }
        a0 = np ? 1.0 : (1.0 / gn < 1.0 ? 1.0 / gn : 1.0);
        if (!line_search(f, ctx, n, x, fv, d, dg, a0, &p))
            break;
        {
            double s[LB_N], y[LB_N];
            for (int i = 0; i < n; i++) {
                s[i] = p.x[i] - x[i];
                y[i] = p.g[i] - g[i];
            }
            double sy = dot(s, y, n);
            if (sy > 1e-10) {
                memcpy(S[head], s, sizeof s);
                memcpy(Y[head], y, sizeof y);
                rho[head] = 1.0 / sy;
                head = (head + 1) % LB_MEM;
                if (np < LB_MEM)
                    np++;
            }
        }
        memcpy(x, p.x, (size_t)n * sizeof *x);
        memcpy(g, p.g, (size_t)n * sizeof *g);
        fv = p.f;
    }
    *fx = fv;
    return it;
}
