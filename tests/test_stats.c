/* tests/test_stats.c - the statistics over seeds (bmx/report.h): Student's t quantile against
 * table values and closed forms, the 95% t-interval, and the summary of synthetic runs (3
 * seeds x 2 methods and a 2-seed third) whose every figure is computed by hand below.
 *
 * Table values of t_{p,df} (any statistics table; also scipy.stats.t.ppf):
 *   t_{0.975,1} = 12.7062047  t_{0.975,2} = 4.3026527  t_{0.975,3} = 3.1824463
 *   t_{0.975,4} = 2.7764451   t_{0.975,5} = 2.5705818  t_{0.975,10} = 2.2281389
 *   t_{0.975,29} = 2.0452296  t_{0.975,30} = 2.0422725 t_{0.975,120} = 1.9799304
 *   t_{0.95,10} = 1.8124611   t_{0.995,5} = 4.0321430  t_{0.9995,1} = 636.6192488
 * Closed forms: df = 1 (Cauchy) t_p = tan(pi (p - 1/2)); df = 2 t_p = (2p - 1) / sqrt(2p(1-p)).
 *
 * Synthetic runs, two domains a and b, evaluations at steps 0, 10, 20; each run's perplexities
 * (a, b) and their mean (the mean validation perplexity):
 *             step 0         step 10          step 20
 *   uniform s1 (100,100) 100  (50,50) 50      (30,50) 40
 *   uniform s2 (100,100) 100  (52,52) 52      (32,52) 42
 *   uniform s3 (100,100) 100  (54,54) 54      (34,54) 44
 *   odm s1     (100,100) 100  (45,45) 45      (28,48) 38
 *   odm s2     (100,100) 100  (46,46) 46      (30,48) 39
 *   odm s3     (100,100) 100  (47,47) 47      (30,50) 40
 *   natural s1 (100,100) 100  (60,60) 60      (35,55) 45
 *   natural s5 (100,100) 100  (62,62) 62      (37,57) 47
 * With T2 = t_{0.975,2} and T1 = t_{0.975,1}:
 *  - uniform final 40, 42, 44: mean 42, s 2, half T2 2 / sqrt 3; odm 38, 39, 40: mean 39, s 1,
 *    half T2 / sqrt 3; natural 45, 47: mean 46, s sqrt 2, half T1 sqrt 2 / sqrt 2 = T1.
 *  - target: the best static method's seed-mean final, uniform 42 (natural 46).
 *    uniform s1 reaches 42 at 10 + (50 - 42) / (50 - 40) 10 = 18, s2 at 20, s3 never:
 *    2 of 3, mean 19, s sqrt 2, half T1. odm s1 at 10 + 3/7 10, s2 10 + 4/7 10, s3
 *    10 + 5/7 10: mean 10 + 40/7, s 10/7, half T2 (10/7) / sqrt 3. natural: 0 of 2.
 *  - odm - uniform, paired: -2, -3, -4: mean -3, s 1, half T2 / sqrt 3, interval
 *    [-5.484, -0.516] excludes 0, wins 3 of 3; in %: 100 (38/40 - 1) = -5,
 *    100 (39/42 - 1) = -7.142857, 100 (40/44 - 1) = -9.090909.
 *    Domain a: 28-30, 30-32, 30-34 = -2, -2, -4: mean -8/3, s 2/sqrt 3, interval
 *    [-5.535, 0.202] holds 0; domain b: 48-50, 48-52, 50-54 = -2, -4, -4: mean -10/3,
 *    interval [-6.202, -0.465] excludes 0.
 *  - natural - uniform: only seed 1 is in both: 45 - 40 = 5, 12.5%, no interval, 0 wins.
 *  - at step 10 uniform's band: 50, 52, 54 -> 52 -+ T2 2 / sqrt 3; odm relative to uniform:
 *    100 (45/50 - 1) = -10, 100 (46/52 - 1), 100 (47/54 - 1). */
#include "check.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bmx/report.h"

#define T1 12.7062047361747
#define T2 4.30265272974946

static void test_t_quantile(void)
{
    static const struct {
        double p;
        long df;
        double t;
    } table[] = {
        {0.975, 1, 12.7062047}, {0.975, 2, 4.3026527},  {0.975, 3, 3.1824463},
        {0.975, 4, 2.7764451},  {0.975, 5, 2.5705818},  {0.975, 10, 2.2281389},
        {0.975, 29, 2.0452296}, {0.975, 30, 2.0422725}, {0.975, 120, 1.9799304},
        {0.95, 10, 1.8124611},  {0.995, 5, 4.0321430},  {0.9995, 1, 636.6192488},
    };
    for (size_t i = 0; i < sizeof table / sizeof *table; i++) {
        double t = bmx_t_quantile(table[i].p, table[i].df);
        CHECK_MSG(fabs(t - table[i].t) <= 6e-8 * table[i].t, "t_{%g,%ld} = %.9f, table %.7f",
                  table[i].p, table[i].df, t, table[i].t);
        /* symmetry and the CDF round trip */
        CHECK_NEAR(bmx_t_quantile(1 - table[i].p, table[i].df), -t, 1e-12);
        CHECK_NEAR(bmx_t_cdf(t, table[i].df), table[i].p, 1e-13);
        CHECK_NEAR(bmx_t_cdf(-t, table[i].df), 1 - table[i].p, 1e-13);
    }
    /* closed forms for df = 1 and 2, to double precision */
    for (double p = 0.01; p < 1; p += 0.07) {
        CHECK_NEAR(bmx_t_quantile(p, 1), tan(M_PI * (p - 0.5)), 1e-12);
        CHECK_NEAR(bmx_t_quantile(p, 2), (2 * p - 1) / sqrt(2 * p * (1 - p)), 1e-12);
    }
    CHECK_NEAR(bmx_t_quantile(0.975, 1), T1, 1e-13);
    CHECK_NEAR(bmx_t_quantile(0.975, 2), T2, 1e-13);
    /* large df: the Cornish-Fisher expansion around the normal quantile z (Abramowitz and
     * Stegun 26.7.5), z + (z^3 + z) / (4 df) + (5 z^5 + 16 z^3 + 3 z) / (96 df^2) */
    {
        double z = 1.959963984540054, nu = 100000;
        double cf = z + (z * z * z + z) / (4 * nu) +
                    (5 * pow(z, 5) + 16 * z * z * z + 3 * z) / (96 * nu * nu);
        CHECK_NEAR(bmx_t_quantile(0.975, 100000), cf, 1e-11);
    }
    CHECK_NEAR(bmx_t_quantile(0.5, 7), 0, 0);
    CHECK_NEAR(bmx_t_cdf(0, 3), 0.5, 1e-15);
    CHECK(isnan(bmx_t_quantile(0.975, 0)));
    CHECK(isnan(bmx_t_quantile(0.975, BMX_T_MAX_DF + 1)));
    CHECK(isnan(bmx_t_quantile(1.0, 3)) && isnan(bmx_t_quantile(0.0, 3)));
    CHECK(isnan(bmx_t_quantile(NAN, 3)) && isnan(bmx_t_cdf(NAN, 3)));
}

static void test_ci95(void)
{
    const double x[] = {40, 42, 44};
    bmx_ci c = bmx_ci95(x, 3);
    CHECK_EQ_INT(c.n, 3);
    CHECK_NEAR(c.mean, 42, 1e-14);
    CHECK_NEAR(c.sd, 2, 1e-14);
    CHECK_NEAR(c.half, T2 * 2 / sqrt(3), 1e-12);
    CHECK_NEAR(c.lo, 37.0317245765, 1e-10);
    CHECK_NEAR(c.hi, 46.9682754235, 1e-10);
    CHECK(bmx_ci_excludes_zero(&c)); /* [37.03, 46.97] */
    /* 5 values: 1..5, mean 3, s sqrt(2.5), half t_{0.975,4} sqrt(2.5) / sqrt(5) */
    const double y[] = {1, 2, 3, 4, 5};
    c = bmx_ci95(y, 5);
    CHECK_NEAR(c.half, 2.7764451 * sqrt(0.5), 1e-7);
    /* one value: the mean and no interval */
    c = bmx_ci95(x, 1);
    CHECK_EQ_INT(c.n, 1);
    CHECK_NEAR(c.mean, 40, 0);
    CHECK(isnan(c.sd) && isnan(c.half) && isnan(c.lo) && isnan(c.hi));
    CHECK(!bmx_ci_excludes_zero(&c));
    char b[80];
    CHECK_EQ_STR(bmx_ci_text(b, sizeof b, &c, 3), "40.000 (1 seed, no interval)");
    c = bmx_ci95(x, 0);
    CHECK(c.n == 0 && isnan(c.mean));
    CHECK_EQ_STR(bmx_ci_text(b, sizeof b, &c, 3), "-");
    c = bmx_ci95(x, 3);
    CHECK_EQ_STR(bmx_ci_text(b, sizeof b, &c, 2), "42.00 +- 4.97");
    const double z[] = {-2, -3, -4}, w[] = {-2, 0, 1};
    c = bmx_ci95(z, 3);
    CHECK(bmx_ci_excludes_zero(&c));
    c = bmx_ci95(w, 3);
    CHECK(!bmx_ci_excludes_zero(&c));
}

/* A run of two domains evaluated at 0, 10, 20 with the given (a, b) perplexities. */
static bmx_runlog *mk(const char *method, const char *policy, uint64_t seed, const double p[3][2])
{
    bmx_runlog *l = calloc(1, sizeof *l);
    char path[64];
    snprintf(path, sizeof path, "synthetic/%s-s%llu", method, (unsigned long long)seed);
    l->path = strdup(path);
    l->method = strdup(method);
    l->policy = strdup(policy);
    l->seed = seed;
    l->K = 2;
    l->domains = calloc(2, sizeof *l->domains);
    l->domains[0] = strdup("a");
    l->domains[1] = strdup("b");
    l->train_tokens = calloc(2, sizeof *l->train_tokens);
    l->nevals = 3;
    l->eval_step = malloc(3 * sizeof *l->eval_step);
    l->eval_loss = malloc(6 * sizeof *l->eval_loss);
    l->eval_avg_ppl = malloc(3 * sizeof *l->eval_avg_ppl);
    for (int e = 0; e < 3; e++) {
        l->eval_step[e] = 10 * e;
        l->eval_loss[2 * e] = log(p[e][0]);
        l->eval_loss[2 * e + 1] = log(p[e][1]);
        l->eval_avg_ppl[e] = (p[e][0] + p[e][1]) / 2;
    }
    return l;
}

#define NRUNS 8
static void synthetic(bmx_runlog **r)
{
    static const double u[3][3][2] = {{{100, 100}, {50, 50}, {30, 50}},
                                      {{100, 100}, {52, 52}, {32, 52}},
                                      {{100, 100}, {54, 54}, {34, 54}}};
    static const double o[3][3][2] = {{{100, 100}, {45, 45}, {28, 48}},
                                      {{100, 100}, {46, 46}, {30, 48}},
                                      {{100, 100}, {47, 47}, {30, 50}}};
    static const double n1[3][2] = {{100, 100}, {60, 60}, {35, 55}};
    static const double n5[3][2] = {{100, 100}, {62, 62}, {37, 57}};
    /* interleaved, as bmx compare lists them; natural has seeds 1 and 5 */
    r[0] = mk("uniform", "uniform", 1, u[0]);
    r[1] = mk("odm", "odm:alpha=0.9", 1, o[0]);
    r[2] = mk("natural", "natural", 1, n1);
    r[3] = mk("uniform", "uniform", 2, u[1]);
    r[4] = mk("odm", "odm:alpha=0.9", 2, o[1]);
    r[5] = mk("uniform", "uniform", 3, u[2]);
    r[6] = mk("odm", "odm:alpha=0.9", 3, o[2]);
    r[7] = mk("natural", "natural", 5, n5);
}

static void test_summary(void)
{
    bmx_runlog *r[NRUNS];
    bmx_summary *s = NULL;
    bmx_err err = {0};
    synthetic(r);
    CHECK_MSG(bmx_report_summary(r, NRUNS, &s, &err) == 0, "%s", err.msg);
    CHECK_EQ_INT(s->nmethods, 3);
    CHECK_EQ_STR(s->baseline, "uniform");
    CHECK_EQ_STR(s->reference, "uniform");
    CHECK_NEAR(s->target, 42, 1e-12);
    const bmx_method_summary *u = &s->methods[0], *o = &s->methods[1], *n = &s->methods[2];
    CHECK_EQ_STR(u->method, "uniform");
    CHECK_EQ_STR(o->method, "odm");
    CHECK_EQ_STR(n->method, "natural");
    CHECK(u->is_reference && !o->is_reference && u->is_static && !o->is_static);
    /* final mean perplexity */
    CHECK_EQ_INT(u->nseeds, 3);
    CHECK_EQ_INT(u->final_step, 20);
    CHECK_NEAR(u->final_ci.mean, 42, 1e-12);
    CHECK_NEAR(u->final_ci.sd, 2, 1e-12);
    CHECK_NEAR(u->final_ci.half, T2 * 2 / sqrt(3), 1e-12);
    CHECK_NEAR(o->final_ci.mean, 39, 1e-12);
    CHECK_NEAR(o->final_ci.half, T2 / sqrt(3), 1e-12);
    CHECK_NEAR(o->final_ci.lo, 36.5158622882, 1e-10);
    CHECK_NEAR(n->final_ci.mean, 46, 1e-12);
    CHECK_NEAR(n->final_ci.half, T1, 1e-12);
    CHECK(n->seeds[0] == 1 && n->seeds[1] == 5);
    /* per domain: odm a 28, 30, 30; b 48, 48, 50 */
    CHECK_NEAR(o->domain_ci[0].mean, 88.0 / 3, 1e-12);
    CHECK_NEAR(o->domain_ci[0].sd, 2 / sqrt(3), 1e-12);
    CHECK_NEAR(o->domain_ci[1].mean, 146.0 / 3, 1e-12);
    CHECK_NEAR(u->domain_ci[1].half, T2 * 2 / sqrt(3), 1e-12);
    /* steps to the target */
    CHECK_EQ_INT(u->nreached, 2);
    CHECK_NEAR(u->reach[0], 18, 1e-12);
    CHECK_NEAR(u->reach[1], 20, 1e-12);
    CHECK(isnan(u->reach[2]));
    CHECK_NEAR(u->reach_ci.mean, 19, 1e-12);
    CHECK_NEAR(u->reach_ci.half, T1, 1e-12);
    CHECK_EQ_INT(o->nreached, 3);
    CHECK_NEAR(o->reach[0], 10 + 30.0 / 7, 1e-12);
    CHECK_NEAR(o->reach_ci.mean, 10 + 40.0 / 7, 1e-12);
    CHECK_NEAR(o->reach_ci.sd, 10.0 / 7, 1e-12);
    CHECK_NEAR(o->reach_ci.half, T2 * 10.0 / 7 / sqrt(3), 1e-12);
    CHECK_EQ_INT(n->nreached, 0);
    CHECK(n->reach_ci.n == 0 && isnan(n->reach_ci.mean));
    /* paired with uniform */
    CHECK_EQ_INT(u->npaired, 0);
    CHECK_EQ_INT(o->npaired, 3);
    CHECK_NEAR(o->diff[0], -2, 1e-12);
    CHECK_NEAR(o->diff[2], -4, 1e-12);
    CHECK_EQ_INT(o->paired_step[1], 20);
    CHECK_NEAR(o->diff_ci.mean, -3, 1e-12);
    CHECK_NEAR(o->diff_ci.half, T2 / sqrt(3), 1e-12);
    CHECK_NEAR(o->diff_ci.hi, -0.5158622882, 1e-10);
    CHECK(bmx_ci_excludes_zero(&o->diff_ci));
    CHECK_EQ_INT(o->wins, 3);
    CHECK_NEAR(o->rel_pct[0], -5, 1e-12);
    CHECK_NEAR(o->rel_pct[1], 100 * (39.0 / 42 - 1), 1e-12);
    CHECK_NEAR(o->rel_ci.mean, (-5 + 100 * (39.0 / 42 - 1) + 100 * (40.0 / 44 - 1)) / 3, 1e-12);
    CHECK_NEAR(o->rel_ci.lo, -12.1610328183, 1e-9);
    CHECK_NEAR(o->domain_diff_ci[0].mean, -8.0 / 3, 1e-12);
    CHECK_NEAR(o->domain_diff_ci[0].hi, 0.2017684865, 1e-9);
    CHECK(!bmx_ci_excludes_zero(&o->domain_diff_ci[0]));
    CHECK_NEAR(o->domain_diff_ci[1].mean, -10.0 / 3, 1e-12);
    CHECK_NEAR(o->domain_diff_ci[1].hi, -0.4648981802, 1e-9);
    CHECK(bmx_ci_excludes_zero(&o->domain_diff_ci[1]));
    /* natural: seed 5 has no uniform partner */
    CHECK_EQ_INT(n->npaired, 1);
    CHECK(n->paired_seeds[0] == 1);
    CHECK_NEAR(n->diff_ci.mean, 5, 1e-12);
    CHECK_NEAR(n->rel_ci.mean, 12.5, 1e-12);
    CHECK(isnan(n->diff_ci.half) && !bmx_ci_excludes_zero(&n->diff_ci));
    CHECK_EQ_INT(n->wins, 0);
    /* curves with bands */
    CHECK_EQ_INT(u->ncurve, 3);
    CHECK_NEAR(u->curve_step[1], 10, 0);
    CHECK_NEAR(u->curve[1].mean, 52, 1e-12);
    CHECK_NEAR(u->curve[1].half, T2 * 2 / sqrt(3), 1e-12);
    CHECK_NEAR(u->curve[0].half, 0, 1e-12); /* every seed starts at 100 */
    CHECK_EQ_INT(o->nrel, 3);
    CHECK_NEAR(o->rel_curve[1].mean, (-10 + 100 * (46.0 / 52 - 1) + 100 * (47.0 / 54 - 1)) / 3,
               1e-12);
    CHECK_NEAR(o->rel_curve[1].hi, -7.8193635801, 1e-9);
    CHECK_NEAR(o->rel_curve[0].mean, 0, 1e-12);
    CHECK_EQ_INT(n->nrel, 3);
    CHECK(isnan(n->rel_curve[2].half)); /* one pair: no band */
    bmx_summary_free(s);
    for (int i = 0; i < NRUNS; i++)
        bmx_runlog_free(r[i]);
}

static void test_outputs(void)
{
    bmx_runlog *r[NRUNS];
    bmx_summary *s = NULL;
    bmx_err err = {0};
    bmx_sbuf j = {0}, m = {0}, h = {0};
    bmx_jval *v = NULL;
    synthetic(r);
    CHECK(bmx_report_summary(r, NRUNS, &s, &err) == 0);
    /* JSON: parses, and holds the figures */
    CHECK_MSG(bmx_summary_json(s, &j, &err) == 0, "%s", err.msg);
    CHECK_MSG(bmx_jval_parse(j.p, j.len, &v, &err) == 0, "%s", err.msg);
    CHECK_CONTAINS(bmx_jval_get(v, "interval")->s, "Student t-interval");
    CHECK_EQ_STR(bmx_jval_get(v, "reference")->s, "uniform");
    const bmx_jval *ms = bmx_jval_get(v, "methods");
    CHECK(ms && ms->t == BMX_JARR && ms->n == 3);
    CHECK(bmx_jval_get(ms->items[0], "vs_uniform")->t == BMX_JNULL);
    const bmx_jval *vs = bmx_jval_get(ms->items[1], "vs_uniform"), *d = bmx_jval_get(vs, "diff");
    double x;
    CHECK(bmx_jval_as_double(bmx_jval_get(d, "mean"), &x) == 0 && fabs(x + 3) < 1e-12);
    CHECK(bmx_jval_get(d, "excludes_zero")->b == 1);
    CHECK(bmx_jval_get(d, "values")->n == 3);
    CHECK(bmx_jval_as_double(bmx_jval_get(vs, "wins"), &x) == 0 && x == 3);
    const bmx_jval *da = bmx_jval_get(bmx_jval_get(vs, "domain_diff"), "a");
    CHECK(bmx_jval_get(da, "excludes_zero")->b == 0);
    const bmx_jval *reach = bmx_jval_get(bmx_jval_get(ms->items[0], "reach"), "steps");
    CHECK(bmx_jval_get(reach, "values")->items[2]->t == BMX_JNULL); /* uniform s3: never */
    const bmx_jval *nd = bmx_jval_get(bmx_jval_get(ms->items[2], "vs_uniform"), "diff");
    CHECK(bmx_jval_get(nd, "half")->t == BMX_JNULL);
    CHECK(bmx_jval_get(bmx_jval_get(ms->items[1], "curve"), "lo")->n == 3);
    bmx_jval_free(v);
    /* Markdown */
    CHECK(bmx_summary_markdown(s, &m, &err) == 0);
    const char *md = bmx_sbuf_str(&m);
    CHECK_CONTAINS(md, "95% Student t-interval");
    CHECK_CONTAINS(md, "| odm | 3 | 39.000 ± 2.484 | 3 of 3 | 15.7 ± 3.5 | 3 | -3.000 ± 2.484 | "
                       "-7.08 ± 5.08 | 3 of 3 |");
    CHECK_CONTAINS(md, "| uniform | 3 | 42.000 ± 4.968 | 2 of 3 | 19.0 ± 12.7 | reference |");
    CHECK_CONTAINS(md, "| natural | 2 | 46.000 ± 12.706 | 0 of 2 | - | 1 | 5.000 (1 seed, no "
                       "interval) | 12.50 (1 seed, no interval) | 0 of 1 |");
    CHECK_CONTAINS(md, "| b | -3.333 ± 2.868 * | 5.000 (1 seed, no interval) |");
    CHECK_CONTAINS(md, "| a | -2.667 ± 2.868 | 5.000 (1 seed, no interval) |");
    /* HTML: the table, the bands, the paired plot with its zero line */
    CHECK(bmx_report_html(r, NRUNS, "synthetic", &h, &err) == 0);
    const char *html = bmx_sbuf_str(&h);
    CHECK_CONTAINS(html, "Over seeds: means with 95% t-intervals");
    CHECK_CONTAINS(html, "<td>39.000 &plusmn; 2.484</td><td>3 of 3</td>");
    CHECK_CONTAINS(html, "<td><b>-3.000 &plusmn; 2.484</b></td>");
    CHECK_CONTAINS(html, "12.50 (1 seed, no interval)");
    CHECK_CONTAINS(html, "Relative to uniform, paired by seed");
    CHECK_CONTAINS(html, "class=\"ci-band\"");
    CHECK_CONTAINS(html, "<line class=\"zero\"");
    int bands = 0;
    for (const char *p = html; (p = strstr(p, "class=\"ci-band\"")); p++)
        bands++;
    /* perplexity plot: uniform, odm, natural (3 bands); relative: odm only (natural has 1 pair) */
    CHECK_EQ_INT(bands, 4);
    bmx_summary_free(s);
    bmx_sbuf_free(&j);
    bmx_sbuf_free(&m);
    bmx_sbuf_free(&h);
    for (int i = 0; i < NRUNS; i++)
        bmx_runlog_free(r[i]);
}

/* Without uniform: no pairing, and without a static method no target either. */
static void test_no_reference(void)
{
    bmx_runlog *r[NRUNS];
    bmx_summary *s = NULL;
    bmx_err err = {0};
    bmx_sbuf m = {0};
    synthetic(r);
    bmx_runlog *odm[3] = {r[1], r[4], r[6]};
    CHECK(bmx_report_summary(odm, 3, &s, &err) == 0);
    CHECK(s->reference == NULL && s->baseline == NULL && isnan(s->target));
    CHECK_EQ_INT(s->methods[0].npaired, 0);
    CHECK(isnan(s->methods[0].reach[0]));
    CHECK_NEAR(s->methods[0].final_ci.mean, 39, 1e-12);
    CHECK(bmx_summary_markdown(s, &m, &err) == 0);
    CHECK_CONTAINS(bmx_sbuf_str(&m), "No uniform method: no paired comparison.");
    bmx_summary_free(s);
    bmx_sbuf_free(&m);
    CHECK(bmx_report_summary(r, 0, &s, &err) == BMX_EINVAL && s == NULL);
    for (int i = 0; i < NRUNS; i++)
        bmx_runlog_free(r[i]);
}

int main(int argc, char **argv)
{
    static const struct check_case cases[] = {
        {"t_quantile", test_t_quantile},     {"ci95", test_ci95},
        {"summary", test_summary},           {"outputs", test_outputs},
        {"no_reference", test_no_reference}, {0}};
    return check_main(argc, argv, cases);
}
