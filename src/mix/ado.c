/* ADO: per-domain scaling laws fitted online (ALGORITHMS.md section 6; bmx/mix.h's exact
 * conventions).
 *
 * State beyond the per-arm arrays (mu = BASE, h = EST, pibar = AUX, the round's loss sums
 * and counts = ACC, CNT) lives in ext: ext[0] = 1 once a fit exists, ext[1 .. 3k] = theta
 * (a_k, e_k, alpha_k per arm), then one row per step of history: B, L_1 .. L_k (B = the
 * step's sequences; every domain is credited B, so C[t, k] = B_t). */
#include "mix_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define ADO_WINDOW  101
#define ADO_ORDER   3
#define ADO_STARTS  512
#define ADO_EVERY   10
#define ADO_TOL     1e-5
#define ADO_MAXITER 200

static size_t head_len(int k)
{
    return 1 + 3 * (size_t)k;
}

static size_t hist_rows(const bmx_mix *m)
{
    return (m->next - head_len(m->k)) / ((size_t)m->k + 1);
}

const double *mix_ado_theta(const bmx_mix *m)
{
    return m->ext && m->ext[0] != 0.0 ? m->ext + 1 : NULL;
}

int mix_ado_init(bmx_mix *m, bmx_err *err)
{
    int rc = mix_ext_reserve(m, head_len(m->k), err);

    if (rc)
        return rc;
    memset(m->ext, 0, head_len(m->k) * sizeof *m->ext);
    m->next = head_len(m->k);
    memcpy(m->arr[ARR_EST], m->arr[ARR_BASE], (size_t)m->k * sizeof(double));
    memcpy(m->arr[ARR_AUX], m->arr[ARR_BASE], (size_t)m->k * sizeof(double));
    memcpy(m->arr[ARR_PI], m->arr[ARR_BASE], (size_t)m->k * sizeof(double));
    return 0;
}

int mix_ado_check(const bmx_mix *m, bmx_err *err)
{
    size_t h = head_len(m->k);

    if (m->next < h || (m->next - h) % ((size_t)m->k + 1) != 0 ||
        hist_rows(m) != (size_t)(m->t - 1))
        return bmx_err_set(err, BMX_ECORRUPT,
                           "mix state: ado's history of %zu values does not fit %d arms and "
                           "round %ld",
                           m->next, m->k, m->t);
    if (m->ext[0] != 0.0 && m->ext[0] != 1.0)
        return bmx_err_set(err, BMX_ECORRUPT, "mix state: ado's fit flag is %g", m->ext[0]);
    for (size_t i = 1; i < m->next; i++)
        if (!isfinite(m->ext[i]))
            return bmx_err_set(err, BMX_ECORRUPT, "mix state: ado's value %zu is not finite", i);
    return 0;
}

/* ---- Savitzky-Golay (order 3, SciPy's mode 'interp') ---- */

/* Solve the 4x4 system G z = b by Gaussian elimination with partial pivoting. */
static void solve4(double G[4][4], double *b, double *z)
{
    double A[4][5];
    int n = ADO_ORDER + 1;

    for (int i = 0; i < n; i++) {
        for (int j = 0; j < n; j++)
            A[i][j] = G[i][j];
        A[i][n] = b[i];
    }
    for (int c = 0; c < n; c++) {
        int p = c;
        for (int r = c + 1; r < n; r++)
            if (fabs(A[r][c]) > fabs(A[p][c]))
                p = r;
        if (p != c)
            for (int j = 0; j <= n; j++) {
                double t = A[c][j];
                A[c][j] = A[p][j];
                A[p][j] = t;
            }
        for (int r = c + 1; r < n; r++) {
            double f = A[r][c] / A[c][c];
            for (int j = c; j <= n; j++)
                A[r][j] -= f * A[c][j];
        }
    }
    for (int i = n - 1; i >= 0; i--) {
        double s = A[i][n];
        for (int j = i + 1; j < n; j++)
            s -= A[i][j] * z[j];
        z[i] = s / A[i][i];
    }
}

/* weights w[j + h], j = -h..h, of the cubic fitted on offsets -h..h evaluated at j0 */
static void sg_weights(int h, double j0, double *w)
{
    double G[4][4] = {{0}}, v[4], z[4];

    for (int j = -h; j <= h; j++) {
        double p[4] = {1.0, (double)j, (double)j * j, (double)j * j * j};
        for (int a = 0; a < 4; a++)
            for (int b = 0; b < 4; b++)
                G[a][b] += p[a] * p[b];
    }
    v[0] = 1.0;
    v[1] = j0;
    v[2] = j0 * j0;
    v[3] = j0 * j0 * j0;
    solve4(G, v, z);
    for (int j = -h; j <= h; j++)
        w[j + h] = z[0] + z[1] * j + z[2] * ((double)j * j) + z[3] * ((double)j * j * j);
}

/* y[0..n) = smoothed column k of the history (n >= 5). */
static void savgol(const bmx_mix *m, int k, size_t n, double *y, double *w)
{
    size_t stride = (size_t)m->k + 1;
    const double *L = m->ext + head_len(m->k) + 1 + k; /* L[s * stride] */
    int win = n >= ADO_WINDOW ? ADO_WINDOW : (int)(n % 2 ? n : n - 1);
    int h = win / 2;

    sg_weights(h, 0.0, w);
    for (size_t i = (size_t)h; i + (size_t)h < n; i++) {
        double s = 0.0;
        for (int j = -h; j <= h; j++)
            s += w[j + h] * L[(i + (size_t)j) * stride];
        y[i] = s;
    }
    for (int e = 0; e < h; e++) { /* the first h and the last h points */
        size_t c0 = (size_t)h, c1 = n - 1 - (size_t)h;
        double s0 = 0.0, s1 = 0.0;
        sg_weights(h, (double)(e - h), w);
        for (int j = -h; j <= h; j++)
            s0 += w[j + h] * L[(c0 + (size_t)j) * stride];
        y[e] = s0;
        sg_weights(h, (double)(e + 1), w);
        for (int j = -h; j <= h; j++)
            s1 += w[j + h] * L[(c1 + (size_t)j) * stride];
        y[c1 + 1 + (size_t)e] = s1;
    }
}

/* ---- the fit ---- */

struct fit_ctx {
    int k, np;
    const double *lx; /* np values: log x_i */
    const double *ly; /* k * np values: log y_i per domain */
    double *res;      /* k * ADO_STARTS * 4: objective, a, e, alpha */
};

static void fit_task(void *arg, int i)
{
    struct fit_ctx *c = arg;
    int k = i / ADO_STARTS, s = i % ADO_STARTS;
    struct mix_ado_obj oc = {c->np, c->lx, c->ly + (size_t)k * (size_t)c->np};
    double x[3] = {-2.0 + (double)(s / 64), -2.0 + 0.5 * (double)((s / 8) % 8),
                   (double)(s % 8) / 10.0};
    double fx;

    mix_lbfgs(mix_ado_objective, &oc, 3, x, &fx, ADO_MAXITER, ADO_TOL);
    double *r = c->res + (size_t)i * 4;
    r[0] = fx;
    r[1] = x[0];
    r[2] = x[1];
    r[3] = x[2];
}

/* Refit theta from the history of rows 0..n-1; keeps the old theta on a non-finite value. */
static int fit(bmx_mix *m, size_t n, bmx_err *err)
{
    int K = m->k, W = (int)m->p.warmup, np = 0, rc = 0;
    size_t stride = (size_t)K + 1;
    const double *rows = m->ext + head_len(K);
    double *lx = NULL, *ly = NULL, *y = NULL, *w = NULL, *res = NULL, *theta = NULL;

    if (n < 5)
        return 0;
    for (size_t t = (size_t)W; t < n; t += ADO_EVERY)
        np++;
    lx = malloc((size_t)np * sizeof *lx);
    ly = malloc((size_t)np * (size_t)K * sizeof *ly);
    y = malloc(n * sizeof *y);
    w = malloc(ADO_WINDOW * sizeof *w);
    res = malloc((size_t)K * ADO_STARTS * 4 * sizeof *res);
    theta = malloc(3 * (size_t)K * sizeof *theta);
    if (!lx || !ly || !y || !w || !res || !theta) {
        rc = bmx_err_set(err, BMX_ENOMEM, "mix policy ado: out of memory for a fit over %zu steps",
                         n);
        goto out;
    }
    {
        double x = 0.0;
        int i = 0;
        for (size_t t = 0; t < n; t++) {
            x += rows[t * stride];
            if (t >= (size_t)W && (t - (size_t)W) % ADO_EVERY == 0)
                lx[i++] = log(x);
        }
    }
    for (int k = 0; k < K; k++) {
        savgol(m, k, n, y, w);
        int i = 0;
        for (size_t t = (size_t)W; t < n; t += ADO_EVERY)
            ly[(size_t)k * (size_t)np + (size_t)i++] = log(y[t]);
    }
    struct fit_ctx c = {K, np, lx, ly, res};
    if (m->par)
        m->par(m->par_ctx, K * ADO_STARTS, fit_task, &c);
    else
        for (int i = 0; i < K * ADO_STARTS; i++)
            fit_task(&c, i);
    for (int k = 0; k < K; k++) {
        const double *best = NULL;
        for (int s = 0; s < ADO_STARTS; s++) {
            const double *r = res + ((size_t)k * ADO_STARTS + (size_t)s) * 4;
            if (isfinite(r[0]) && (!best || r[0] < best[0]))
                best = r;
        }
        if (!best || !isfinite(best[1]) || !isfinite(best[2]) || !isfinite(best[3]))
            goto out; /* keep the old theta */
        theta[3 * k] = best[1];
        theta[3 * k + 1] = best[2];
        theta[3 * k + 2] = best[3];
    }
    memcpy(m->ext + 1, theta, 3 * (size_t)K * sizeof *theta);
    m->ext[0] = 1.0;
out:
    free(lx);
    free(ly);
    free(y);
    free(w);
    free(res);
    free(theta);
    return rc;
}

int mix_ado_step(bmx_mix *m, bmx_err *err)
{
    int K = m->k, rc;
    double *acc = m->arr[ARR_ACC], *cnt = m->arr[ARR_CNT], *h = m->arr[ARR_EST];
    double *pibar = m->arr[ARR_AUX], *pi = m->arr[ARR_PI];
    const double *mu = m->arr[ARR_BASE];
    double nobs = 0.0, sum = 0.0;
    long t = m->t - 1;
    size_t n = hist_rows(m), stride = (size_t)K + 1;

    for (int i = 0; i < K; i++) {
        nobs += cnt[i];
        sum += acc[i];
    }
    if (nobs == 0.0)
        return bmx_err_set(err, BMX_ESTATE,
                           "mix policy ado: round %ld ended without observations; observe the "
                           "loss of every draw before bmx_mix_step",
                           m->t);
    if ((rc = mix_ext_reserve(m, m->next + stride, err)))
        return rc;
    double B = nobs * m->draw_seqs, *row = m->ext + m->next;
    row[0] = B;
    for (int i = 0; i < K; i++) {
        if (cnt[i] > 0.0)
            row[1 + i] = acc[i] / cnt[i];
        else
            row[1 + i] = n ? (row - stride)[1 + i] : sum / nobs;
    }
    m->next += stride;
    n++;
    for (int i = 0; i < K; i++)
        h[i] = 0.9 * h[i] + 0.1 * (cnt[i] * m->draw_seqs) / B;
    for (int j = 0; j < m->ntouched; j++) {
        acc[m->touched[j]] = 0.0;
        cnt[m->touched[j]] = 0.0;
    }
    m->ntouched = 0;
    long W = m->p.warmup, U = m->p.interval;
    if (t >= W && t % U == 0 && t >= W + U && (rc = fit(m, n, err)))
        return rc;
    const double *th = mix_ado_theta(m);
    if (th) {
        double nn = (double)(t + 1) * B, s = 0.0, s2 = 0.0;
        double *rho = m->cdf; /* scratch: the cdf is rebuilt after the step */
        for (int i = 0; i < K; i++) {
            double a = th[3 * i], e = th[3 * i + 1], al = th[3 * i + 2];
            double Lhat = exp(e) + exp(a) * pow(nn, -al);
            double g = (al > 0.05 ? al : 0.05) * (Lhat - exp(e)) / nn;
            rho[i] = g * mu[i] * pow(h[i], 0.5);
            s += rho[i];
        }
        if (s > 0.0 && isfinite(s)) {
            for (int i = 0; i < K; i++) {
                rho[i] /= s;
                if (rho[i] < 0.01)
                    rho[i] = 0.01;
                s2 += rho[i];
            }
            for (int i = 0; i < K; i++) {
                rho[i] /= s2;
                pi[i] = 0.9 * pibar[i] + 0.1 * rho[i];
                pibar[i] = (1.0 - 1.0 / (double)(t + 1)) * pibar[i] + rho[i] / (double)(t + 1);
            }
        }
    }
    m->t++;
    return 0;
}
