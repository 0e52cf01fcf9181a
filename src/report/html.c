/* src/report/html.c - the comparison report: headline, curves, tables, distributions. */
#include "report_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void cell(bmx_sbuf *o, const char *fmt, double v)
{
    if (isfinite(v))
        bmx_sbuf_printf(o, fmt, v);
    else
        bmx_sbuf_puts(o, "&ndash;");
}

/* What every section of the report reads: the runs, grouped by method, with the headline and
 * the summary over seeds. */
struct html_ctx {
    bmx_runlog *const *runs;
    size_t n;
    int K;
    struct bmx_rl_method *ms;
    size_t nm;
    bmx_headline *rows;
    const char *base;
    double target;
    int have_head;
    bmx_summary *sum;
};

static void html_top(bmx_sbuf *o, const struct html_ctx *c, const char *title)
{
    bmx_sbuf_puts(o, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>");
    bmx_sbuf_xml(o, title);
    bmx_sbuf_puts(o, "</title><style>body{font-family:sans-serif;max-width:1100px;margin:2em "
                     "auto;color:#222}table{border-collapse:collapse;margin:1em 0}td,th{border:"
                     "1px solid #ccc;padding:4px 8px;text-align:right}th{background:#f3f3f3}"
                     "td:first-child,th:first-child{text-align:left}.big{font-size:1.3em}"
                     ".note{color:#666;font-size:0.9em}</style></head><body>\n<h1>");
    bmx_sbuf_xml(o, title);
    bmx_sbuf_printf(o,
                    "</h1>\n<p class=\"note\">%zu runs, %zu methods, %d domains; built from "
                    "the runs' log.jsonl alone.</p>\n",
                    c->n, c->nm, c->K);
    size_t live = 0;
    for (size_t i = 0; i < c->n; i++)
        live += c->runs[i]->live != 0;
    if (live)
        bmx_sbuf_printf(o,
                        "<p class=\"note\">%zu of the runs were still going when this page was "
                        "built: their curves end where their logs did (see Runs).</p>\n",
                        live);
}

/* 1. headline: the target and the steps each method needs to reach it (or why there is none) */
static void html_headline(bmx_sbuf *o, const struct html_ctx *c, bmx_err *err)
{
    const struct bmx_rl_method *ms = c->ms;
    const bmx_headline *rows = c->rows;
    bmx_sbuf_puts(o, "<h2>Steps to reach the best static baseline</h2>\n");
    if (!c->have_head) {
        bmx_sbuf_puts(o, "<p>");
        bmx_sbuf_xml(o, err->msg);
        bmx_sbuf_puts(o, "</p>\n");
        bmx_err_clear(err);
        return;
    }
    bmx_sbuf_puts(o, "<p class=\"big\">Target: <b>");
    bmx_sbuf_xml(o, c->base);
    bmx_sbuf_printf(o, "</b>'s final mean validation perplexity, <b>%.3f</b>.", c->target);
    for (size_t j = 0; j < c->nm; j++)
        if (!bmx_rl_is_static(&ms[j]) && isfinite(rows[j].fewer_pct)) {
            bmx_sbuf_puts(o, " <b>");
            bmx_sbuf_xml(o, rows[j].method);
            bmx_sbuf_printf(o, "</b> reaches it in <b>%.1f%%</b> %s steps.",
                            fabs(rows[j].fewer_pct), rows[j].fewer_pct >= 0 ? "fewer" : "more");
        }
    bmx_sbuf_puts(o, "</p>\n<table><tr><th>method</th><th>seeds</th><th>final mean "
                     "perplexity</th><th>step reaching the target</th><th>fewer steps than "
                     "the baseline</th></tr>\n");
    for (size_t j = 0; j < c->nm; j++) {
        bmx_sbuf_puts(o, "<tr><td>");
        bmx_sbuf_xml(o, rows[j].method);
        bmx_sbuf_printf(o, "</td><td>%zu</td><td>", ms[j].n);
        cell(o, "%.3f", rows[j].final_ppl);
        bmx_sbuf_puts(o, "</td><td>");
        if (isfinite(rows[j].reach_step))
            bmx_sbuf_printf(o, "%.1f", rows[j].reach_step);
        else
            bmx_sbuf_puts(o, "not reached");
        bmx_sbuf_puts(o, "</td><td>");
        cell(o, "%.1f%%", rows[j].fewer_pct);
        bmx_sbuf_puts(o, "</td></tr>\n");
    }
    bmx_sbuf_puts(o, "</table>\n<p class=\"note\">As in the ODM paper: the target is the "
                     "lowest final mean validation perplexity among the static baselines "
                     "(uniform, natural, weights; DoReMi's final run uses static weights, "
                     "its reference and proxy runs are not counted). Each method's "
                     "seed-mean curve is interpolated linearly between evaluations.</p>\n");
}

/* The plotted series of the curves: per method its seed mean (with the t-band of the summary
 * when several seeds), then its min and max; names and band values live in the caller's
 * arrays (3 nm names and series, 2 sum m band values). Returns the number of series. */
static size_t curve_series(const struct html_ctx *c, bmx_plot_series *series, bmx_plot_band *bands,
                           char (*names)[160], double *bv)
{
    const struct bmx_rl_method *ms = c->ms;
    size_t ns = 0, used = 0;
    for (size_t j = 0; j < c->nm; j++) {
        if (!ms[j].m)
            continue;
        snprintf(names[ns], sizeof names[ns], "%s%s", ms[j].name, ms[j].n > 1 ? " (mean)" : "");
        series[ns] = (bmx_plot_series){names[ns], ms[j].x, ms[j].mean, ms[j].m};
        if (ms[j].n > 1 && c->sum->methods[j].ncurve == ms[j].m) {
            double *lo = bv + used, *hi = bv + used + ms[j].m;
            used += 2 * ms[j].m;
            for (size_t e = 0; e < ms[j].m; e++) {
                lo[e] = c->sum->methods[j].curve[e].lo;
                hi[e] = c->sum->methods[j].curve[e].hi;
            }
            bands[ns] = (bmx_plot_band){lo, hi};
        }
        ns++;
        if (ms[j].n > 1) {
            snprintf(names[ns], sizeof names[ns], "%s min", ms[j].name);
            series[ns] = (bmx_plot_series){names[ns], ms[j].x, ms[j].lo, ms[j].m};
            ns++;
            snprintf(names[ns], sizeof names[ns], "%s max", ms[j].name);
            series[ns] = (bmx_plot_series){names[ns], ms[j].x, ms[j].hi, ms[j].m};
            ns++;
        }
    }
    return ns;
}

/* 2. curves, the mean over seeds with its t-band (sum's curves are ms's) */
static int html_curves(bmx_sbuf *o, const struct html_ctx *c, bmx_err *err)
{
    size_t nm = c->nm, nbv = 0;
    for (size_t j = 0; j < nm; j++)
        nbv += 2 * c->ms[j].m;
    bmx_plot_series *series = calloc(3 * nm, sizeof *series);
    bmx_plot_band *bands = calloc(3 * nm, sizeof *bands);
    double *bv = malloc((nbv + 1) * sizeof *bv);
    char(*names)[160] = calloc(3 * nm, sizeof *names);
    int rc = 0;
    if (!series || !names || !bands || !bv) {
        rc = bmx_err_set(err, BMX_ENOMEM, "out of memory");
        goto done;
    }
    size_t ns = curve_series(c, series, bands, names, bv);
    bmx_sbuf_puts(o, "<h2>Mean validation perplexity</h2>\n");
    bmx_plot plot = {"mean validation perplexity over domains (mean over seeds with its 95% "
                     "t-band; min and max when several)",
                     "optimizer step", "perplexity", 900, 460};
    if ((rc = bmx_svg_lines_band(o, &plot, series, bands, ns, 0, err)))
        goto done;
    bmx_sbuf_puts(o, "<p class=\"note\">The shaded band around each method's mean is the 95% "
                     "Student t-interval over its seeds at that step (none with one seed); the "
                     "thin min and max lines are the extremes over seeds, not an "
                     "interval.</p>\n");
done:
    free(bands);
    free(bv);
    free(series);
    free(names);
    return rc;
}

/* 2c. without uniform: relative to the baseline, 100 (mean / baseline's mean at the same
 * step - 1) */
static int html_rel_baseline(bmx_sbuf *o, const struct html_ctx *c, bmx_err *err)
{
    const struct bmx_rl_method *ms = c->ms;
    size_t nm = c->nm, bi = 0;
    int rc = 0;
    while (bi < nm && strcmp(ms[bi].name, c->base) != 0)
        bi++;
    double *ry = calloc(nm * ms[bi].m + 1, sizeof *ry);
    double *rx = calloc(nm * ms[bi].m + 1, sizeof *rx);
    bmx_plot_series *rs = calloc(nm, sizeof *rs);
    size_t nr = 0;
    if (!ry || !rx || !rs) {
        rc = bmx_err_set(err, BMX_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t j = 0; j < nm; j++) {
        double *x = rx + nr * ms[bi].m, *y = ry + nr * ms[bi].m;
        size_t k = 0;
        for (size_t e = 0; e < ms[j].m; e++)
            for (size_t f = 0; f < ms[bi].m; f++)
                if (ms[bi].x[f] == ms[j].x[e] && ms[bi].x[f] > 0 && k < ms[bi].m) {
                    x[k] = ms[j].x[e];
                    y[k++] = 100.0 * (ms[j].mean[e] / ms[bi].mean[f] - 1.0);
                }
        if (k)
            rs[nr++] = (bmx_plot_series){ms[j].name, x, y, k};
    }
    char rt[300];
    snprintf(rt, sizeof rt, "mean validation perplexity relative to %s at the same step (%%)",
             c->base);
    bmx_plot rp = {rt, "optimizer step", "% vs baseline (lower is better)", 900, 380};
    if (nr) {
        bmx_sbuf_puts(o, "\n<h2>Relative to the baseline</h2>\n");
        rc = bmx_svg_lines(o, &rp, rs, nr, err);
    }
done:
    free(ry);
    free(rx);
    free(rs);
    return rc;
}

/* One row of the per-domain table: domain d's (d == K: the mean over domains) final
 * perplexity per method, mean over seeds, +- half the range, the lowest in bold. */
static int domain_row(bmx_sbuf *o, const struct html_ctx *c, int d, bmx_err *err)
{
    const struct bmx_rl_method *ms = c->ms;
    int K = c->K;
    bmx_sbuf_puts(o, "<tr><td>");
    bmx_sbuf_xml(o, d < K ? c->runs[0]->domains[d] : "mean over domains");
    bmx_sbuf_puts(o, "</td>");
    double best = INFINITY;
    double *v = calloc(c->nm, sizeof *v), *spread = calloc(c->nm, sizeof *spread);
    if (!v || !spread) {
        free(v);
        free(spread);
        return bmx_err_set(err, BMX_ENOMEM, "out of memory");
    }
    for (size_t j = 0; j < c->nm; j++) {
        double s = 0, lo = INFINITY, hi = -INFINITY;
        for (size_t r = 0; r < ms[j].n; r++) {
            const bmx_runlog *l = ms[j].runs[r];
            const double *el = l->eval_loss + (l->nevals - 1) * (size_t)K;
            double x = d < K ? exp(el[d]) : l->eval_avg_ppl[l->nevals - 1];
            s += x;
            lo = x < lo ? x : lo;
            hi = x > hi ? x : hi;
        }
        v[j] = s / (double)ms[j].n;
        spread[j] = ms[j].n > 1 ? hi - lo : NAN;
        best = v[j] < best ? v[j] : best;
    }
    for (size_t j = 0; j < c->nm; j++) {
        bmx_sbuf_printf(o, "<td>%s%.3f%s", v[j] == best ? "<b>" : "", v[j],
                        v[j] == best ? "</b>" : "");
        if (isfinite(spread[j]))
            bmx_sbuf_printf(o, " <span class=\"note\">&plusmn;%.3f</span>", spread[j] / 2);
        bmx_sbuf_puts(o, "</td>");
    }
    bmx_sbuf_puts(o, "</tr>\n");
    free(v);
    free(spread);
    return 0;
}

/* 3. per-domain table, then the summary's per-domain tables */
static int html_domains(bmx_sbuf *o, const struct html_ctx *c, bmx_err *err)
{
    int rc;
    bmx_sbuf_puts(o, "\n<h2>Final validation perplexity per domain</h2>\n<table><tr><th>domain"
                     "</th>");
    for (size_t j = 0; j < c->nm; j++) {
        bmx_sbuf_puts(o, "<th>");
        bmx_sbuf_xml(o, c->ms[j].name);
        bmx_sbuf_puts(o, "</th>");
    }
    bmx_sbuf_puts(o, "</tr>\n");
    for (int d = 0; d <= c->K; d++)
        if ((rc = domain_row(o, c, d, err)))
            return rc;
    bmx_sbuf_puts(o, "</table>\n<p class=\"note\">Mean over seeds of exp(mean token loss) on "
                     "each domain's fixed validation windows at the last step; &plusmn; half "
                     "the range over seeds; the lowest per row in bold.</p>\n");
    bmx_rl_html_domains(o, c->sum);
    return 0;
}

/* 4. the sampling distribution over time of one adaptive method (its first seed), with how
 * many steps were exactly uniform and how many were probes */
static int html_distribution(bmx_sbuf *o, const struct bmx_rl_method *m, int K, bmx_err *err)
{
    const bmx_runlog *l = m->runs[0];
    double *x = malloc(l->nsteps * sizeof *x);
    if (!x)
        return bmx_err_set(err, BMX_ENOMEM, "out of memory");
    for (size_t s = 0; s < l->nsteps; s++)
        x[s] = (double)l->step[s];
    char t[300];
    snprintf(t, sizeof t, "%s: sampling distribution over domains (seed %llu)", m->name,
             (unsigned long long)l->seed);
    bmx_plot sp = {t, "optimizer step", "probability", 900, 380};
    bmx_sbuf_puts(o, "\n<h2>Distribution over time: ");
    bmx_sbuf_xml(o, m->name);
    bmx_sbuf_puts(o, "</h2>\n");
    int rc = bmx_svg_stacked(o, &sp, x, l->nsteps, l->probs, (size_t)K,
                             (const char *const *)l->domains, 12, err);
    free(x);
    if (rc)
        return rc;
    size_t u = bmx_runlog_uniform_steps(l);
    bmx_sbuf_puts(o, "<p class=\"note\">");
    bmx_sbuf_xml(o, m->name);
    if (u == l->nsteps)
        bmx_sbuf_printf(o,
                        "'s distribution was exactly uniform in all %zu steps (max |pi - "
                        "1/K| &le; 1e-12): this run is uniform's, draw for draw.",
                        u);
    else
        bmx_sbuf_printf(o,
                        "'s distribution was exactly uniform (max |pi - 1/K| &le; 1e-12) in "
                        "%zu of its %zu steps.",
                        u, l->nsteps);
    if (l->nprobe)
        bmx_sbuf_printf(o,
                        " %zu of its %zu steps were probe steps (fixed compositions that "
                        "estimate the mixing law; they count against the step budget).",
                        l->nprobe, l->nsteps);
    bmx_sbuf_puts(o, "</p>\n");
    return 0;
}

/* 4a. a DoReMi proxy's domain weights alpha over time (its first seed), below what it
 * sampled from */
static int html_alpha(bmx_sbuf *o, const struct bmx_rl_method *m, int K, bmx_err *err)
{
    const bmx_runlog *l = m->runs[0];
    size_t a0 = l->alpha_from, n = l->nsteps - a0;
    double *x = malloc(n * sizeof *x);
    if (!x)
        return bmx_err_set(err, BMX_ENOMEM, "out of memory");
    for (size_t s = 0; s < n; s++)
        x[s] = (double)l->step[a0 + s];
    char t[300];
    snprintf(t, sizeof t, "%s: the proxy's domain weights alpha (seed %llu)", m->name,
             (unsigned long long)l->seed);
    bmx_plot ap = {t, "optimizer step", "weight", 900, 380};
    int rc = bmx_svg_stacked(o, &ap, x, n, l->alpha + a0 * (size_t)K, (size_t)K,
                             (const char *const *)l->domains, 12, err);
    free(x);
    bmx_sbuf_puts(o, "<p class=\"note\">A DoReMi proxy draws its micro-batches from q (the "
                     "distribution above) and moves alpha once a step (Group DRO over the "
                     "excess loss against the reference model); its final run trains on "
                     "alpha_bar, the mean of alpha_0 and every step's alpha.</p>\n");
    return rc;
}

/* the table of runs, then the end of the page */
static void html_runs(bmx_sbuf *o, const struct html_ctx *c)
{
    bmx_runlog *const *runs = c->runs;
    bmx_sbuf_puts(o, "\n<h2>Runs</h2>\n<table><tr><th>run</th><th>method</th><th>policy</th>"
                     "<th>seed</th><th>steps</th><th>tokens/step</th><th>steps with pi "
                     "exactly uniform</th></tr>\n");
    for (size_t i = 0; i < c->n; i++) {
        bmx_sbuf_puts(o, "<tr><td>");
        bmx_sbuf_xml(o, runs[i]->path);
        bmx_sbuf_puts(o, "</td><td>");
        bmx_sbuf_xml(o, runs[i]->method);
        bmx_sbuf_puts(o, "</td><td>");
        bmx_sbuf_xml(o, runs[i]->policy);
        bmx_sbuf_printf(o, "</td><td>%llu</td><td>%zu", (unsigned long long)runs[i]->seed,
                        runs[i]->nsteps);
        if ((long)runs[i]->nsteps < runs[i]->steps_planned) /* unfinished */
            bmx_sbuf_printf(o, " of %ld%s", runs[i]->steps_planned,
                            runs[i]->live ? " (running)" : "");
        bmx_sbuf_printf(o, "</td><td>%ld</td><td>%zu</td></tr>\n", runs[i]->tokens_per_step,
                        bmx_runlog_uniform_steps(runs[i]));
    }
    bmx_sbuf_puts(o, "</table>\n</body></html>\n");
}

/* The sections in order, once the context is built. */
static int html_sections(bmx_sbuf *o, const struct html_ctx *c, const char *title, bmx_err *err)
{
    int rc;
    html_top(o, c, title);
    html_headline(o, c, err);
    bmx_rl_html_seeds(o, c->sum);
    if ((rc = html_curves(o, c, err)))
        return rc;
    if (c->sum->reference) /* 2b. relative to uniform, paired by seed, with its band */
        rc = bmx_rl_html_rel(o, c->sum, err);
    else if (c->have_head)
        rc = html_rel_baseline(o, c, err);
    if (rc || (rc = html_domains(o, c, err)))
        return rc;
    for (size_t j = 0; j < c->nm; j++)
        if (!bmx_rl_is_static(&c->ms[j]) && c->ms[j].runs[0]->nsteps != 0 &&
            ((rc = html_distribution(o, &c->ms[j], c->K, err)) ||
             (c->ms[j].runs[0]->alpha && (rc = html_alpha(o, &c->ms[j], c->K, err)))))
            return rc;
    bmx_rl_html_weights(o, c->sum);
    html_runs(o, c);
    if (o->oom)
        return bmx_err_set(err, BMX_ENOMEM, "out of memory building the report");
    return 0;
}

int bmx_report_html(bmx_runlog *const *runs, size_t n, const char *title, bmx_sbuf *o, bmx_err *err)
{
    struct html_ctx c = {.runs = runs, .n = n, .target = NAN};
    int rc;
    if (n == 0)
        return bmx_err_set(err, BMX_EINVAL, "no runs to report on");
    if ((rc = bmx_rl_group(runs, n, &c.ms, &c.nm, err)))
        return rc;
    c.K = runs[0]->K;
    c.rows = calloc(c.nm, sizeof *c.rows);
    if (!c.rows) {
        bmx_rl_methods_free(c.ms, c.nm);
        return bmx_err_set(err, BMX_ENOMEM, "out of memory");
    }
    c.have_head = bmx_rl_headline(c.ms, c.nm, c.rows, &c.base, &c.target, err) == 0;
    bmx_err serr = {0};
    if (bmx_report_summary(runs, n, &c.sum, &serr))
        rc = bmx_err_set(err, serr.code, "%s", serr.msg);
    else
        rc = html_sections(o, &c, title, err);
    bmx_summary_free(c.sum);
    free(c.rows);
    bmx_rl_methods_free(c.ms, c.nm);
    return rc;
}
