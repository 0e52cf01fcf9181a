/* src/report/stats.c - Student's t distribution and the 95% t-interval of a mean
 * (bmx/report.h, "statistics over seeds").
 *
 * The t distribution with an integer number of degrees of freedom nu has an elementary CDF
 * (Abramowitz and Stegun 26.7.3 and 26.7.4): with theta = atan(t / sqrt(nu)),
 * A(t | nu) = P(|T| <= t) is
 *   nu = 1:        2 theta / pi
 *   nu odd > 1:    (2 / pi) (theta + sin theta (cos theta + 2/3 cos^3 theta + ...
 *                  + (2 4 ... (nu - 3)) / (1 3 ... (nu - 2)) cos^(nu - 2) theta))
 *   nu even:       sin theta (1 + 1/2 cos^2 theta + (1 3) / (2 4) cos^4 theta + ...
 *                  + (1 3 ... (nu - 3)) / (2 4 ... (nu - 2)) cos^(nu - 2) theta)
 * Every term is positive and each coefficient is the previous one times a ratio below 1, so
 * the sums are stable. A is increasing in theta on [0, pi/2), so the quantile is found by
 * bisection on theta (no special functions, no lgamma and its global signgam). */
#include "bmx/report.h"

#include <math.h>

#define PI 3.14159265358979323846

/* A(t | nu) as a function of theta in [0, pi/2]. */
static double abs_cdf_theta(double th, long nu)
{
    double s = sin(th), c = cos(th), c2 = c * c, sum, term;
    if (nu == 1)
        return 2.0 * th / PI;
    if (nu % 2) {
        sum = term = c;
        for (long k = 1; 2 * k + 1 <= nu - 2; k++) {
            term *= c2 * (double)(2 * k) / (double)(2 * k + 1);
            sum += term;
        }
        return 2.0 / PI * (th + s * sum);
    }
    sum = term = 1.0;
    for (long k = 1; 2 * k <= nu - 2; k++) {
        term *= c2 * (double)(2 * k - 1) / (double)(2 * k);
        sum += term;
    }
    return s * sum;
}

static int df_ok(long df)
{
    return df >= 1 && df <= BMX_T_MAX_DF;
}

double bmx_t_cdf(double t, long df)
{
    if (!df_ok(df) || isnan(t))
        return NAN;
    double a = abs_cdf_theta(atan(fabs(t) / sqrt((double)df)), df);
    a = a > 1.0 ? 1.0 : a;
    return t >= 0 ? 0.5 + 0.5 * a : 0.5 - 0.5 * a;
}

double bmx_t_quantile(double p, long df)
{
    if (!df_ok(df) || !(p > 0.0 && p < 1.0))
        return NAN;
    if (p == 0.5)
        return 0.0;
    double q = fabs(2.0 * p - 1.0), lo = 0.0, hi = PI / 2;
    /* bisection to the last bit of theta: at most ~60 halvings */
    for (int i = 0; i < 200; i++) {
        double mid = 0.5 * (lo + hi);
        if (!(mid > lo && mid < hi))
            break;
        if (abs_cdf_theta(mid, df) < q)
            lo = mid;
        else
            hi = mid;
    }
    double t = sqrt((double)df) * tan(0.5 * (lo + hi));
    return p > 0.5 ? t : -t;
}

bmx_ci bmx_ci95(const double *x, size_t n)
{
    bmx_ci c = {n, NAN, NAN, NAN, NAN, NAN};
    double s = 0, ss = 0;
    if (n == 0)
        return c;
    for (size_t i = 0; i < n; i++)
        s += x[i];
    c.mean = s / (double)n;
    if (n < 2 || (long)(n - 1) > BMX_T_MAX_DF)
        return c;
    for (size_t i = 0; i < n; i++)
        ss += (x[i] - c.mean) * (x[i] - c.mean);
    c.sd = sqrt(ss / (double)(n - 1));
    c.half = bmx_t_quantile(0.975, (long)(n - 1)) * c.sd / sqrt((double)n);
    c.lo = c.mean - c.half;
    c.hi = c.mean + c.half;
    return c;
}

int bmx_ci_excludes_zero(const bmx_ci *c)
{
    return c->n >= 2 && (c->lo > 0 || c->hi < 0);
}
