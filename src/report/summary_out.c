/* src/report/summary_out.c - the evidence over seeds as JSON and as Markdown tables
 * (bmx/report.h). */
#include "report_int.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

const char *const bmx_rl_interval_text =
    "95% Student t-interval over seeds: mean +- t_{0.975,n-1} s/sqrt(n), s the sample "
    "standard deviation; with 1 seed no interval";

char *bmx_rl_fmt_ci(char *buf, size_t cap, const bmx_ci *c, int prec, const char *pm)
{
    if (c->n == 0 || !isfinite(c->mean))
        snprintf(buf, cap, "-");
    else if (c->n == 1)
        snprintf(buf, cap, "%.*f (1 seed, no interval)", prec, c->mean);
    else
        snprintf(buf, cap, "%.*f %s %.*f", prec, c->mean, pm, prec, c->half);
    return buf;
}

char *bmx_ci_text(char *buf, size_t cap, const bmx_ci *c, int prec)
{
    return bmx_rl_fmt_ci(buf, cap, c, prec, "+-");
}

/* ---- JSON ---- */

/* {"n",...,"values":[...]} */
static void ci_values(bmx_json *j, const char *key, const bmx_ci *c, const double *v, size_t n,
                      size_t stride, int excl)
{
    bmx_json_key(j, key);
    bmx_json_obj(j);
    bmx_json_kv_int(j, "n", (long long)c->n);
    bmx_json_kv_num(j, "mean", c->mean);
    bmx_json_kv_num(j, "sd", c->sd);
    bmx_json_kv_num(j, "half", c->half);
    bmx_json_kv_num(j, "lo", c->lo);
    bmx_json_kv_num(j, "hi", c->hi);
    if (excl) {
        bmx_json_key(j, "excludes_zero");
        bmx_json_bool(j, bmx_ci_excludes_zero(c));
    }
    bmx_json_key(j, "values");
    bmx_json_arr(j);
    for (size_t i = 0; i < n; i++)
        bmx_json_num(j, v[i * stride]);
    bmx_json_end_arr(j);
    bmx_json_end_obj(j);
}

static void curve(bmx_json *j, const char *key, const double *x, const bmx_ci *c, size_t n)
{
    bmx_json_key(j, key);
    bmx_json_obj(j);
    bmx_json_key(j, "step");
    bmx_json_nums(j, x, n);
    static const char *const f[] = {"mean", "lo", "hi"};
    for (int k = 0; k < 3; k++) {
        bmx_json_key(j, f[k]);
        bmx_json_arr(j);
        for (size_t i = 0; i < n; i++)
            bmx_json_num(j, k == 0 ? c[i].mean : k == 1 ? c[i].lo : c[i].hi);
        bmx_json_end_arr(j);
    }
    bmx_json_end_obj(j);
}

static void seeds(bmx_json *j, const char *key, const uint64_t *s, size_t n)
{
    bmx_json_key(j, key);
    bmx_json_arr(j);
    for (size_t i = 0; i < n; i++)
        bmx_json_int(j, (long long)s[i]); /* as the run log writes a seed */
    bmx_json_end_arr(j);
}

const char *const bmx_rl_pi_text =
    "How often each method drew each domain: the mean of its sampling probability over a run's "
    "steps, mean over seeds, +- half the range where the seeds differ. A static method's "
    "weights are constant: uniform 1/K, natural the domains' shares of the training tokens, "
    "weights the given ones (DoReMi's final run: its proxy's averaged weights alpha_bar)";

void bmx_rl_pi_cell(const bmx_method_summary *m, int K, int d, double *mean, double *half)
{
    double sum = 0, lo = INFINITY, hi = -INFINITY;
    size_t n = 0;
    for (size_t r = 0; r < m->nseeds; r++) {
        double w = m->mean_pi[r * (size_t)K + (size_t)d];
        if (!isfinite(w))
            continue;
        sum += w;
        lo = w < lo ? w : lo;
        hi = w > hi ? w : hi;
        n++;
    }
    *mean = n ? sum / (double)n : NAN;
    *half = n ? (hi - lo) / 2 : NAN;
}

static void method_json(bmx_json *j, const bmx_summary *s, const bmx_method_summary *m)
{
    int K = s->K;
    bmx_json_obj(j);
    bmx_json_kv_str(j, "method", m->method);
    bmx_json_kv_str(j, "policy", m->policy);
    bmx_json_key(j, "static");
    bmx_json_bool(j, m->is_static);
    seeds(j, "seeds", m->seeds, m->nseeds);
    bmx_json_kv_int(j, "final_step", m->final_step);
    ci_values(j, "final_ppl", &m->final_ci, m->final_ppl, m->nseeds, 1, 0);
    bmx_json_key(j, "domain_ppl");
    bmx_json_obj(j);
    for (int d = 0; d < K; d++)
        ci_values(j, s->domains[d], &m->domain_ci[d], m->domain_ppl + d, m->nseeds, (size_t)K, 0);
    bmx_json_end_obj(j);
    bmx_json_key(j, "mean_pi"); /* per domain, each seed's value */
    bmx_json_obj(j);
    for (int d = 0; d < K; d++) {
        bmx_json_key(j, s->domains[d]);
        bmx_json_arr(j);
        for (size_t r = 0; r < m->nseeds; r++) {
            double w = m->mean_pi[r * (size_t)K + (size_t)d];
            if (isfinite(w))
                bmx_json_num(j, w);
            else
                bmx_json_null(j);
        }
        bmx_json_end_arr(j);
    }
    bmx_json_end_obj(j);
    bmx_json_key(j, "reach");
    if (isfinite(s->target)) {
        bmx_json_obj(j);
        bmx_json_kv_int(j, "reached", (long long)m->nreached);
        bmx_json_kv_int(j, "of", (long long)m->nseeds);
        ci_values(j, "steps", &m->reach_ci, m->reach, m->nseeds, 1, 0);
        bmx_json_end_obj(j);
    } else {
        bmx_json_null(j);
    }
    bmx_json_key(j, "vs_uniform");
    if (s->reference && !m->is_reference) {
        bmx_json_obj(j);
        seeds(j, "seeds", m->paired_seeds, m->npaired);
        bmx_json_key(j, "step");
        bmx_json_arr(j);
        for (size_t i = 0; i < m->npaired; i++)
            bmx_json_int(j, m->paired_step[i]);
        bmx_json_end_arr(j);
        ci_values(j, "diff", &m->diff_ci, m->diff, m->npaired, 1, 1);
        ci_values(j, "rel_pct", &m->rel_ci, m->rel_pct, m->npaired, 1, 1);
        bmx_json_kv_int(j, "wins", (long long)m->wins);
        bmx_json_key(j, "domain_diff");
        bmx_json_obj(j);
        for (int d = 0; d < K; d++)
            ci_values(j, s->domains[d], &m->domain_diff_ci[d], m->domain_diff + d, m->npaired,
                      (size_t)K, 1);
        bmx_json_end_obj(j);
        curve(j, "rel_curve", m->rel_step, m->rel_curve, m->nrel);
        bmx_json_end_obj(j);
    } else {
        bmx_json_null(j);
    }
    curve(j, "curve", m->curve_step, m->curve, m->ncurve);
    bmx_json_end_obj(j);
}

int bmx_summary_json(const bmx_summary *s, bmx_sbuf *out, bmx_err *err)
{
    bmx_json j = {0};
    bmx_json_obj(&j);
    bmx_json_kv_str(&j, "interval", bmx_rl_interval_text);
    bmx_json_key(&j, "domains");
    bmx_json_arr(&j);
    for (int d = 0; d < s->K; d++)
        bmx_json_str(&j, s->domains[d]);
    bmx_json_end_arr(&j);
    bmx_json_key(&j, "baseline");
    if (s->baseline)
        bmx_json_str(&j, s->baseline);
    else
        bmx_json_null(&j);
    bmx_json_kv_num(&j, "target", s->target);
    bmx_json_key(&j, "reference");
    if (s->reference)
        bmx_json_str(&j, s->reference);
    else
        bmx_json_null(&j);
    bmx_json_key(&j, "methods");
    bmx_json_arr(&j);
    for (size_t i = 0; i < s->nmethods; i++)
        method_json(&j, s, &s->methods[i]);
    bmx_json_end_arr(&j);
    bmx_json_end_obj(&j);
    int rc = 0;
    if (j.bad || j.depth != 0)
        rc = bmx_err_set(err, BMX_EINVAL, "summary JSON: unbalanced writer (a bug)");
    else if (j.out.oom)
        rc = bmx_err_set(err, BMX_ENOMEM, "out of memory writing the summary JSON");
    else {
        bmx_sbuf_put(out, bmx_sbuf_str(&j.out), j.out.len);
        bmx_sbuf_puts(out, "\n");
    }
    bmx_json_free(&j);
    if (!rc && out->oom)
        rc = bmx_err_set(err, BMX_ENOMEM, "out of memory writing the summary JSON");
    return rc;
}

/* ---- Markdown ---- */

/* A table cell: | and newlines cannot occur in a cell. */
static void md_cell(bmx_sbuf *o, const char *s)
{
    bmx_sbuf_puts(o, " ");
    for (; *s; s++) {
        if (*s == '|')
            bmx_sbuf_puts(o, "\\|");
        else
            bmx_sbuf_put(o, *s == '\n' ? " " : s, 1);
    }
    bmx_sbuf_puts(o, " |");
}

/* A per-domain table's method columns (without the reference when skip_ref) and its
 * alignment row. */
static void md_columns(bmx_sbuf *o, const bmx_summary *s, int skip_ref)
{
    size_t nc = 0;
    for (size_t i = 0; i < s->nmethods; i++)
        if (!skip_ref || !s->methods[i].is_reference) {
            md_cell(o, s->methods[i].method);
            nc++;
        }
    bmx_sbuf_puts(o, "\n|---|");
    for (size_t i = 0; i < nc; i++)
        bmx_sbuf_puts(o, "---:|");
    bmx_sbuf_puts(o, "\n");
}

/* The table of every method's sampling weight per domain (bmx_rl_pi_cell). */
static void md_weights(bmx_sbuf *o, const bmx_summary *s)
{
    char b[64];
    bmx_sbuf_printf(o, "\nSampling weights per domain (1/K = %.4f). %s.\n\n| domain |", 1.0 / s->K,
                    bmx_rl_pi_text);
    md_columns(o, s, 0);
    for (int d = 0; d < s->K; d++) {
        bmx_sbuf_puts(o, "|");
        md_cell(o, s->domains[d]);
        for (size_t i = 0; i < s->nmethods; i++) {
            double mean, half;
            bmx_rl_pi_cell(&s->methods[i], s->K, d, &mean, &half);
            if (!isfinite(mean))
                snprintf(b, sizeof b, "-");
            else if (half > 0)
                snprintf(b, sizeof b, "%.4f ± %.4f", mean, half);
            else
                snprintf(b, sizeof b, "%.4f", mean);
            md_cell(o, b);
        }
        bmx_sbuf_puts(o, "\n");
    }
}

int bmx_summary_markdown(const bmx_summary *s, bmx_sbuf *o, bmx_err *err)
{
    char b[160];
    bmx_sbuf_printf(o, "Intervals: %s.\n\n", bmx_rl_interval_text);
    if (s->baseline)
        bmx_sbuf_printf(o,
                        "Target: %s's final mean validation perplexity (mean over its seeds), "
                        "%.3f.\n\n",
                        s->baseline, s->target);
    else
        bmx_sbuf_puts(o, "No static baseline (uniform, natural, weights): no target.\n\n");
    if (s->reference)
        bmx_sbuf_printf(o,
                        "Paired with %s on the seeds both have, at the last step both "
                        "evaluated; wins = seeds with the lower perplexity.\n\n",
                        s->reference);
    else
        bmx_sbuf_puts(o, "No uniform method: no paired comparison.\n\n");
    bmx_sbuf_puts(o, "| method | seeds | final mean perplexity | seeds reaching the target | "
                     "steps to the target | paired seeds | difference to uniform | difference "
                     "to uniform (%) | wins |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for (size_t i = 0; i < s->nmethods; i++) {
        const bmx_method_summary *m = &s->methods[i];
        bmx_sbuf_puts(o, "|");
        md_cell(o, m->method);
        snprintf(b, sizeof b, "%zu", m->nseeds);
        md_cell(o, b);
        md_cell(o, bmx_rl_fmt_ci(b, sizeof b, &m->final_ci, 3, "±"));
        if (isfinite(s->target)) {
            snprintf(b, sizeof b, "%zu of %zu", m->nreached, m->nseeds);
            md_cell(o, b);
            md_cell(o, bmx_rl_fmt_ci(b, sizeof b, &m->reach_ci, 1, "±"));
        } else {
            md_cell(o, "-");
            md_cell(o, "-");
        }
        if (m->is_reference || !s->reference) {
            md_cell(o, m->is_reference ? "reference" : "-");
            md_cell(o, "-");
            md_cell(o, "-");
            md_cell(o, "-");
        } else {
            snprintf(b, sizeof b, "%zu", m->npaired);
            md_cell(o, b);
            md_cell(o, bmx_rl_fmt_ci(b, sizeof b, &m->diff_ci, 3, "±"));
            md_cell(o, bmx_rl_fmt_ci(b, sizeof b, &m->rel_ci, 2, "±"));
            snprintf(b, sizeof b, "%zu of %zu", m->wins, m->npaired);
            md_cell(o, b);
        }
        bmx_sbuf_puts(o, "\n");
    }
    /* per-domain final perplexity, then the paired difference per domain */
    for (int t = 0; t < 2; t++) {
        if (t == 1 && !s->reference)
            break;
        bmx_sbuf_puts(o, t == 0 ? "\nFinal validation perplexity per domain:\n\n| domain |"
                                : "\nPaired difference to uniform of each domain's final "
                                  "perplexity (method - uniform; * the interval excludes 0):"
                                  "\n\n| domain |");
        md_columns(o, s, t == 1);
        for (int d = 0; d < s->K; d++) {
            bmx_sbuf_puts(o, "|");
            md_cell(o, s->domains[d]);
            for (size_t i = 0; i < s->nmethods; i++) {
                const bmx_method_summary *m = &s->methods[i];
                if (t == 0) {
                    md_cell(o, bmx_rl_fmt_ci(b, sizeof b, &m->domain_ci[d], 3, "±"));
                } else if (!m->is_reference) {
                    bmx_rl_fmt_ci(b, sizeof b, &m->domain_diff_ci[d], 3, "±");
                    if (bmx_ci_excludes_zero(&m->domain_diff_ci[d]))
                        strncat(b, " *", sizeof b - strlen(b) - 1);
                    md_cell(o, b);
                }
            }
            bmx_sbuf_puts(o, "\n");
        }
    }
    md_weights(o, s);
    if (o->oom)
        return bmx_err_set(err, BMX_ENOMEM, "out of memory writing the Markdown tables");
    return 0;
}
