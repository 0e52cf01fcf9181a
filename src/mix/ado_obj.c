/* ADO's fit objective (ALGORITHMS.md section 6) and its gradient, in one pass:
 *   f(a, e, alpha) = sum_i huber(log y_i - logsumexp(a - alpha log x_i, e))
 *                    + max(alpha - 0.8, 0) - min(alpha, 0.001) + max(a - 6.5, 0) - min(e - 0.5, 0)
 * logsumexp(u, e) = max(u, e) + log1p(z), z = exp(-|u - e|); its weights on u and e are
 * 1 / (1 + z) and z / (1 + z), the larger one on the larger argument; huber(r) = r^2 / 2 for
 * |r| <= 1e-3, else 1e-3 (|r| - 5e-4); the penalties' subgradient is 0 at their kinks.
 *
 * Bit for bit the value of the straightforward loop (one point at a time, the terms added
 * to f, ga, ge, gal in point order; tests/test_mix_online.c keeps that loop and checks):
 * every point does the same IEEE operations on the same operands, over the same exp and
 * log1p. That is a requirement, not a nicety: the fit's result (the lowest objective over
 * 512 starts, ties to the first) moves by up to 1e-3 relative when a single rounding in the
 * objective changes (a reordered sum is enough), because many starts end in a flat valley
 * with objectives equal to about 1e-9; the fixtures pin it to 1e-6 (see bench/RESULTS.md).
 * So the speed comes from the layout only: points in blocks, the branches turned into
 * selects, both weights from one division of (1, z) by 1 + z, so that the compiler can
 * vectorise everything around exp and log1p; the sums stay serial, in point order. */
#include "mix_internal.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#define OBJ_DELTA 1e-3
#define OBJ_BLOCK 64

/* c ? x : y by bit masks: both operands are computed, so the loops stay branch-free (the
 * compiler does not speculate a floating-point operation that a branch guards) */
static inline double pick(uint64_t c, double x, double y)
{
    uint64_t m = (uint64_t)0 - c, xb, yb;

    memcpy(&xb, &x, sizeof xb);
    memcpy(&yb, &y, sizeof yb);
    xb = (xb & m) | (yb & ~m);
    memcpy(&x, &xb, sizeof x);
    return x;
}

double mix_ado_objective(void *vc, const double *x, double *g)
{
    const struct mix_ado_obj *c = vc;
    const double a = x[0], e = x[1], al = x[2];
    double f = 0.0, ga = 0.0, ge = 0.0, gal = 0.0;

    for (int i0 = 0; i0 < c->np; i0 += OBJ_BLOCK) {
        const int nb = c->np - i0 < OBJ_BLOCK ? c->np - i0 : OBJ_BLOCK;
        const double *restrict lx = c->lx + i0, *restrict ly = c->ly + i0;
        double u[OBJ_BLOCK], z[OBJ_BLOCK], lp[OBJ_BLOCK], px[OBJ_BLOCK], py[OBJ_BLOCK];
        double tf[OBJ_BLOCK], tu[OBJ_BLOCK], te[OBJ_BLOCK], tl[OBJ_BLOCK];

        if (nb < OBJ_BLOCK) { /* the last block, padded: the loops around exp run whole */
            for (int j = 0; j < OBJ_BLOCK; j++) {
                px[j] = j < nb ? lx[j] : 0.0;
                py[j] = j < nb ? ly[j] : 0.0;
            }
            lx = px;
            ly = py;
        }
        for (int j = 0; j < OBJ_BLOCK; j++) { /* every operand computed, then selected */
            const double uj = a - al * lx[j], below = e - uj, above = uj - e;
            u[j] = uj;
            z[j] = pick((uint64_t)(uj > e), below, above); /* -|u - e| */
        }
        for (int j = 0; j < nb; j++) {
            z[j] = exp(z[j]);
            lp[j] = log1p(z[j]);
        }
        for (int j = nb; j < OBJ_BLOCK; j++)
            z[j] = lp[j] = 0.0;
        for (int j = 0; j < OBJ_BLOCK; j++) {
            const uint64_t gt = u[j] > e;
            const double l = pick(gt, u[j], e) + lp[j];
            const double q = 1.0 + z[j], big = 1.0 / q, small = z[j] / q;
            const double wu = pick(gt, big, small), we = pick(gt, small, big);
            const double r = ly[j] - l, ar = fabs(r);
            const double sq = r * r / 2.0, lin = OBJ_DELTA * (ar - 5e-4);
            const uint64_t in = ar <= OBJ_DELTA;
            const double dr = pick(in, r, pick((uint64_t)(r > 0.0), OBJ_DELTA, -OBJ_DELTA));
            tf[j] = pick(in, sq, lin);
            tu[j] = dr * wu;
            te[j] = dr * we;
            tl[j] = tu[j] * lx[j];
        }
        for (int j = 0; j < nb; j++) { /* in point order: the same roundings as one loop */
            f += tf[j];
            ga -= tu[j];
            ge -= te[j];
            gal += tl[j];
        }
    }
    f += (al - 0.8 > 0.0 ? al - 0.8 : 0.0);
    f -= (al < 0.001 ? al : 0.001);
    f += (a - 6.5 > 0.0 ? a - 6.5 : 0.0);
    f -= (e - 0.5 < 0.0 ? e - 0.5 : 0.0);
    if (al > 0.8)
        gal += 1.0;
    if (al < 0.001)
        gal -= 1.0;
    if (a > 6.5)
        ga += 1.0;
    if (e < 0.5)
        ge -= 1.0;
    g[0] = ga;
    g[1] = ge;
    g[2] = gal;
    return f;
}
