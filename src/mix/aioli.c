/* Aioli: online estimation of the mixing law (ALGORITHMS.md section 7; bmx/mix.h's exact
 * conventions).
 *
 * Per-arm arrays: prior = BASE, p = EST, the current probe's draws = CNT. ext holds
 * ext[0] = 1 while validation losses are due, ext[1] = 1 once Abar exists, then the round's
 * R K probe order, prev (k), M (k x k), the summed realised fractions W (k x k, row j =
 * probe j) and Abar (k x k), row-major. Steps s = t - 1 done; the P prior steps first, then
 * rounds of U steps: position r = (s - P) mod U, probing while r < R K S. */
#include "mix_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct aioli_view {
    long RK;
    double *perm, *prev, *M, *W, *Abar;
};

static size_t ext_len(const bmx_mix *m)
{
    size_t k = (size_t)m->k;
    return 2 + (size_t)(m->p.rounds * m->k) + k + 3 * k * k;
}

static struct aioli_view view(const bmx_mix *m)
{
    struct aioli_view v;
    size_t k = (size_t)m->k;

    v.RK = m->p.rounds * m->k;
    v.perm = m->ext + 2;
    v.prev = v.perm + v.RK;
    v.M = v.prev + k;
    v.W = v.M + k * k;
    v.Abar = v.W + k * k;
    return v;
}

/* steps done since the prior phase, or -1 while in it */
static long in_rounds(const bmx_mix *m)
{
    long s = m->t - 1;
    return s < m->p.warmup ? -1 : (s - m->p.warmup) % m->p.interval;
}

/* 1 when round t is one where validation losses are due: a round's start (r = 0) or the end
 * of one of its R*K probes (r = S, 2S, ..., R*K*S) */
static int due(const bmx_mix *m)
{
    long r = in_rounds(m), S = m->p.probe;
    return r == 0 || (r > 0 && r <= m->p.rounds * m->k * S && r % S == 0);
}

int mix_aioli_needs(const bmx_mix *m)
{
    return m->ext[0] != 0.0;
}

int mix_aioli_probing(const bmx_mix *m)
{
    long r = in_rounds(m);
    return r >= 0 && r < m->p.rounds * m->k * m->p.probe;
}

int mix_aioli_init(bmx_mix *m, const double *prior, bmx_err *err)
{
    int rc = mix_ext_reserve(m, ext_len(m), err);

    if (rc)
        return rc;
    m->next = ext_len(m);
    memset(m->ext, 0, m->next * sizeof *m->ext);
    memcpy(m->arr[ARR_EST], prior, (size_t)m->k * sizeof *prior);
    memcpy(m->arr[ARR_PI], prior, (size_t)m->k * sizeof *prior);
    m->ext[0] = m->p.warmup == 0;
    return 0;
}

int mix_aioli_check(bmx_mix *m, bmx_err *err)
{
    struct aioli_view v;

    if (m->next != ext_len(m))
        return bmx_err_set(err, BMX_ECORRUPT,
                           "mix state: aioli's state holds %zu values, %d groups need %zu", m->next,
                           m->k, ext_len(m));
    v = view(m);
    if ((m->ext[0] != 0.0 && m->ext[0] != 1.0) || (m->ext[1] != 0.0 && m->ext[1] != 1.0))
        return bmx_err_set(err, BMX_ECORRUPT, "mix state: aioli's flags are %g, %g", m->ext[0],
                           m->ext[1]);
    if (m->ext[0] != 0.0 && !due(m))
        return bmx_err_set(err, BMX_ECORRUPT,
                           "mix state: aioli says validation losses are due at round %ld, where "
                           "none are",
                           m->t);
    for (long i = 0; i < v.RK; i++)
        if (!(v.perm[i] >= 0.0 && v.perm[i] < m->k && v.perm[i] == floor(v.perm[i])))
            return bmx_err_set(err, BMX_ECORRUPT, "mix state: aioli's probe order[%ld] = %g", i,
                               v.perm[i]);
    for (size_t i = 2; i < m->next; i++)
        if (!isfinite(m->ext[i]))
            return bmx_err_set(err, BMX_ECORRUPT, "mix state: aioli's value %zu is not finite", i);
    return 0;
}

void mix_aioli_drawn(bmx_mix *m, int arm)
{
    m->arr[ARR_CNT][arm] += 1.0;
}

/* pi = q of probe group j */
static void probe_dist(bmx_mix *m, int j)
{
    double *pi = m->arr[ARR_PI], f = m->p.f;

    for (int i = 0; i < m->k; i++)
        pi[i] = (1.0 - f) / (double)(m->k - 1);
    pi[j] = f;
}

/* W x = b (n x n, row-major) by Gaussian elimination with partial pivoting; 0, or -1 when
 * a pivot is <= tiny. */
static int solve(const double *Win, const double *b, double *x, int n, double tiny, double *A)
{
    for (int i = 0; i < n; i++) {
        memcpy(A + (size_t)i * (size_t)(n + 1), Win + (size_t)i * (size_t)n, (size_t)n * sizeof *A);
        A[(size_t)i * (size_t)(n + 1) + (size_t)n] = b[i];
    }
#define AE(r, c) A[(size_t)(r) * (size_t)(n + 1) + (size_t)(c)]
    for (int c = 0; c < n; c++) {
        int p = c;
        for (int r = c + 1; r < n; r++)
            if (fabs(AE(r, c)) > fabs(AE(p, c)))
                p = r;
        if (!(fabs(AE(p, c)) > tiny))
            return -1;
        if (p != c)
            for (int j = 0; j <= n; j++) {
                double t = AE(c, j);
                AE(c, j) = AE(p, j);
                AE(p, j) = t;
            }
        for (int r = c + 1; r < n; r++) {
            double f = AE(r, c) / AE(c, c);
            for (int j = c; j <= n; j++)
                AE(r, j) -= f * AE(c, j);
        }
    }
    for (int i = n - 1; i >= 0; i--) {
        double s = AE(i, n);
        for (int j = i + 1; j < n; j++)
            s -= AE(i, j) * x[j];
        x[i] = s / AE(i, i);
    }
#undef AE
    return 0;
}

/* The end of the probes: A, Abar, p. */
static int finish_round(bmx_mix *m, bmx_err *err)
{
    struct aioli_view v = view(m);
    int K = m->k, ok = 1;
    size_t kk = (size_t)K * (size_t)K;
    double R = (double)m->p.rounds, *p = m->arr[ARR_EST];
    double *A = malloc(kk * sizeof *A), *Wm = malloc(kk * sizeof *Wm);
    double *scratch = malloc((size_t)K * (size_t)(K + 1) * sizeof *scratch);
    double *row = malloc((size_t)K * sizeof *row);

    if (!A || !Wm || !scratch || !row) {
        free(A);
        free(Wm);
        free(scratch);
        free(row);
        return bmx_err_set(err, BMX_ENOMEM, "mix policy aioli: out of memory for %d groups", K);
    }
    for (size_t i = 0; i < kk; i++)
        v.M[i] /= R;
    if (m->p.f < 1.0) {
        double mx = 0.0;
        for (size_t i = 0; i < kk; i++) {
            Wm[i] = v.W[i] / R;
            if (fabs(Wm[i]) > mx)
                mx = fabs(Wm[i]);
        }
        for (int i = 0; i < K && ok; i++) {
            for (int j = 0; j < K; j++)
                row[j] = v.M[(size_t)i * (size_t)K + (size_t)j];
            if (solve(Wm, row, A + (size_t)i * (size_t)K, K, 1e-12 * mx, scratch) != 0)
                ok = 0;
        }
    } else {
        memcpy(A, v.M, kk * sizeof *A);
    }
    if (ok) {
        double mn = A[0], s = 0.0;
        for (size_t i = 1; i < kk; i++)
            if (A[i] < mn)
                mn = A[i];
        if (mn < 0.0)
            for (size_t i = 0; i < kk; i++)
                A[i] -= mn;
        for (size_t i = 0; i < kk; i++)
            s += A[i];
        if (!(s != 0.0 && isfinite(s)))
            ok = 0;
        else
            for (size_t i = 0; i < kk; i++)
                A[i] /= s;
    }
    if (ok) {
        double g = m->p.gamma, mxs = -INFINITY, tot = 0.0;
        for (size_t i = 0; i < kk; i++)
            v.Abar[i] = m->ext[1] != 0.0 ? (1.0 - g) * A[i] + g * v.Abar[i] : A[i];
        m->ext[1] = 1.0;
        for (int j = 0; j < K; j++) {
            double cs = 0.0;
            for (int i = 0; i < K; i++)
                cs += v.Abar[(size_t)i * (size_t)K + (size_t)j];
            row[j] = m->p.eta * cs;
            if (row[j] > mxs)
                mxs = row[j];
        }
        for (int j = 0; j < K; j++) {
            p[j] = exp(row[j] - mxs);
            tot += p[j];
        }
        for (int j = 0; j < K; j++)
            p[j] /= tot;
    } else {
        for (int j = 0; j < K; j++)
            p[j] = 1.0 / K;
    }
    memcpy(m->arr[ARR_PI], p, (size_t)K * sizeof *p);
    free(A);
    free(Wm);
    free(scratch);
    free(row);
    return 0;
}

int mix_aioli_validation(bmx_mix *m, const double *L, bmx_err *err)
{
    struct aioli_view v = view(m);
    int K = m->k;
    long r = in_rounds(m), S = m->p.probe;
    double *cnt = m->arr[ARR_CNT];
    size_t kk = (size_t)K * (size_t)K;

    if (!due(m))
        return bmx_err_set(err, BMX_ESTATE,
                           "mix policy aioli: no validation losses are due at round %ld; give "
                           "them only when bmx_mix_needs_validation says so",
                           m->t);
    if (r == 0) { /* a round starts: L0, the probe order */
        memcpy(v.prev, L, (size_t)K * sizeof *L);
        memset(v.M, 0, kk * sizeof *v.M);
        memset(v.W, 0, kk * sizeof *v.W);
        for (long q = 0; q < m->p.rounds; q++) {
            double *perm = v.perm + q * K;
            for (int i = 0; i < K; i++)
                perm[i] = (double)i;
            for (int i = K - 1; i >= 1; i--) {
                int j = (int)bmx_rng_below(&m->rng, (uint64_t)i + 1);
                double t = perm[i];
                perm[i] = perm[j];
                perm[j] = t;
            }
        }
        probe_dist(m, (int)v.perm[0]);
    } else { /* probe idx has ended */
        long idx = r / S - 1;
        int j = (int)v.perm[idx];
        double nd = 0.0;
        for (int i = 0; i < K; i++)
            nd += cnt[i];
        if (nd == 0.0)
            return bmx_err_set(err, BMX_ESTATE,
                               "mix policy aioli: probe %ld of the round drew nothing; draw the "
                               "probe's sequences before its validation",
                               idx + 1);
        for (int i = 0; i < K; i++) {
            v.M[(size_t)i * (size_t)K + (size_t)j] += v.prev[i] - L[i];
            v.prev[i] = L[i];
            v.W[(size_t)j * (size_t)K + (size_t)i] += cnt[i] / nd;
        }
        if (idx + 1 < v.RK) {
            probe_dist(m, (int)v.perm[idx + 1]);
        } else {
            int rc = finish_round(m, err);
            if (rc)
                return rc;
        }
    }
    memset(cnt, 0, (size_t)K * sizeof *cnt);
    m->ext[0] = 0.0;
    return 0;
}

int mix_aioli_step(bmx_mix *m, bmx_err *err)
{
    if (m->ext[0] != 0.0)
        return bmx_err_set(err, BMX_ESTATE,
                           "mix policy aioli: per-group validation losses are due before round "
                           "%ld ends; call bmx_mix_observe_validation when "
                           "bmx_mix_needs_validation says so",
                           m->t);
    m->t++;
    if (due(m))
        m->ext[0] = 1.0;
    return 0;
}
