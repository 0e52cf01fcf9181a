/* src/report/html_seeds.c - the report's evidence over seeds: intervals, the paired
 * comparison against uniform and its plot with a band, the sampling weights per domain
 * (bmx/report.h). */
#include "report_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void ci_cell(bmx_sbuf *o, const bmx_ci *c, int prec, int mark_zero)
{
    char b[160];
    int z = mark_zero && bmx_ci_excludes_zero(c);
    bmx_sbuf_printf(o, "<td>%s%s%s</td>", z ? "<b>" : "",
                    bmx_rl_fmt_ci(b, sizeof b, c, prec, "&plusmn;"), z ? "</b>" : "");
}

static void th(bmx_sbuf *o, const char *s)
{
    bmx_sbuf_puts(o, "<th>");
    bmx_sbuf_xml(o, s);
    bmx_sbuf_puts(o, "</th>");
}

void bmx_rl_html_seeds(bmx_sbuf *o, const bmx_summary *s)
{
    bmx_sbuf_puts(o, "\n<h2>Over seeds: means with 95% t-intervals</h2>\n<table><tr><th>method"
                     "</th><th>seeds</th><th>final mean perplexity</th><th>seeds reaching the "
                     "target</th><th>steps to the target</th><th>paired seeds</th><th>difference "
                     "to uniform</th><th>difference to uniform (%)</th><th>wins</th></tr>\n");
    for (size_t i = 0; i < s->nmethods; i++) {
        const bmx_method_summary *m = &s->methods[i];
        bmx_sbuf_puts(o, "<tr><td>");
        bmx_sbuf_xml(o, m->method);
        bmx_sbuf_printf(o, "</td><td>%zu</td>", m->nseeds);
        ci_cell(o, &m->final_ci, 3, 0);
        if (isfinite(s->target)) {
            bmx_sbuf_printf(o, "<td>%zu of %zu</td>", m->nreached, m->nseeds);
            ci_cell(o, &m->reach_ci, 1, 0);
        } else {
            bmx_sbuf_puts(o, "<td>&ndash;</td><td>&ndash;</td>");
        }
        if (m->is_reference || !s->reference) {
            bmx_sbuf_printf(o, "<td>%s</td><td>&ndash;</td><td>&ndash;</td><td>&ndash;</td>",
                            m->is_reference ? "reference" : "&ndash;");
        } else {
            bmx_sbuf_printf(o, "<td>%zu</td>", m->npaired);
            ci_cell(o, &m->diff_ci, 3, 1);
            ci_cell(o, &m->rel_ci, 2, 1);
            bmx_sbuf_printf(o, "<td>%zu of %zu</td>", m->wins, m->npaired);
        }
        bmx_sbuf_puts(o, "</tr>\n");
    }
    bmx_sbuf_puts(o, "</table>\n<p class=\"note\">Intervals: ");
    bmx_sbuf_xml(o, bmx_rl_interval_text);
    bmx_sbuf_puts(o, ". Final values at the last step every seed of the method evaluated. "
                     "Steps to the target: each seed's own curve (interpolated linearly), the "
                     "mean over the seeds that reach it. ");
    if (s->reference) {
        bmx_sbuf_puts(o, "Differences: method &minus; ");
        bmx_sbuf_xml(o, s->reference);
        bmx_sbuf_puts(o, " on the same seeds (only seeds both have), at the last step both "
                         "evaluated, with the paired t-interval; in bold where it excludes 0; "
                         "wins: seeds where the method's perplexity is lower.");
    } else {
        bmx_sbuf_puts(o, "No uniform method among the runs: no paired comparison.");
    }
    bmx_sbuf_puts(o, "</p>\n");
}

void bmx_rl_html_domains(bmx_sbuf *o, const bmx_summary *s)
{
    for (int t = 0; t < 2; t++) {
        if (t == 1 && !s->reference)
            break;
        bmx_sbuf_puts(o, t == 0 ? "\n<h3>Per domain, 95% t-intervals over seeds</h3>\n"
                                : "\n<h3>Per domain, paired difference to uniform</h3>\n");
        bmx_sbuf_puts(o, "<table><tr><th>domain</th>");
        for (size_t i = 0; i < s->nmethods; i++)
            if (t == 0 || !s->methods[i].is_reference)
                th(o, s->methods[i].method);
        bmx_sbuf_puts(o, "</tr>\n");
        for (int d = 0; d < s->K; d++) {
            bmx_sbuf_puts(o, "<tr><td>");
            bmx_sbuf_xml(o, s->domains[d]);
            bmx_sbuf_puts(o, "</td>");
            for (size_t i = 0; i < s->nmethods; i++) {
                const bmx_method_summary *m = &s->methods[i];
                if (t == 0)
                    ci_cell(o, &m->domain_ci[d], 3, 0);
                else if (!m->is_reference)
                    ci_cell(o, &m->domain_diff_ci[d], 3, 1);
            }
            bmx_sbuf_puts(o, "</tr>\n");
        }
        bmx_sbuf_puts(o, "</table>\n");
    }
    if (s->reference)
        bmx_sbuf_puts(o, "<p class=\"note\">The difference is method &minus; uniform of each "
                         "domain's final perplexity, seed by seed; in bold where the interval "
                         "excludes 0.</p>\n");
}

int bmx_rl_html_rel(bmx_sbuf *o, const bmx_summary *s, bmx_err *err)
{
    size_t nm = s->nmethods, ns = 0, tot = 0;
    for (size_t j = 0; j < nm; j++)
        tot += s->methods[j].nrel;
    bmx_plot_series *rs = calloc(nm + 1, sizeof *rs);
    bmx_plot_band *bands = calloc(nm + 1, sizeof *bands);
    double *v = malloc((3 * tot + 1) * sizeof *v);
    int rc = 0;
    if (!rs || !bands || !v) {
        rc = bmx_err_set(err, BMX_ENOMEM, "out of memory");
        goto done;
    }
    double *p = v;
    for (size_t j = 0; j < nm; j++) {
        const bmx_method_summary *m = &s->methods[j];
        if (!m->nrel)
            continue;
        double *y = p, *lo = p + m->nrel, *hi = p + 2 * m->nrel;
        p += 3 * m->nrel;
        for (size_t e = 0; e < m->nrel; e++) {
            y[e] = m->rel_curve[e].mean;
            lo[e] = m->rel_curve[e].lo;
            hi[e] = m->rel_curve[e].hi;
        }
        rs[ns] = (bmx_plot_series){m->method, m->rel_step, y, m->nrel};
        bands[ns++] = (bmx_plot_band){lo, hi};
    }
    if (!ns)
        goto done;
    char t[300];
    snprintf(t, sizeof t,
             "mean validation perplexity relative to %s at the same step (%%), paired by seed: "
             "mean and 95%% t-band",
             s->reference);
    bmx_plot rp = {t, "optimizer step", "% vs uniform (lower is better)", 900, 380};
    bmx_sbuf_puts(o, "\n<h2>Relative to uniform, paired by seed</h2>\n");
    rc = bmx_svg_lines_band(o, &rp, rs, bands, ns, 1, err);
    if (!rc)
        bmx_sbuf_puts(o, "<p class=\"note\">Per seed 100 (method / uniform &minus; 1) of the "
                         "mean validation perplexity at each step both evaluated; the line is "
                         "the mean over the paired seeds, the band its 95% t-interval (none "
                         "with one pair); the dashed line is 0.</p>\n");
done:
    free(rs);
    free(bands);
    free(v);
    return rc;
}

void bmx_rl_html_weights(bmx_sbuf *o, const bmx_summary *s)
{
    bmx_sbuf_puts(o, "\n<h2>Sampling weights per domain</h2>\n<table><tr><th>domain</th>");
    for (size_t j = 0; j < s->nmethods; j++)
        th(o, s->methods[j].method);
    bmx_sbuf_puts(o, "</tr>\n");
    for (int d = 0; d < s->K; d++) {
        bmx_sbuf_puts(o, "<tr><td>");
        bmx_sbuf_xml(o, s->domains[d]);
        bmx_sbuf_puts(o, "</td>");
        for (size_t j = 0; j < s->nmethods; j++) {
            double mean, half;
            bmx_rl_pi_cell(&s->methods[j], s->K, d, &mean, &half);
            if (isfinite(mean))
                bmx_sbuf_printf(o, "<td>%.4f", mean);
            else
                bmx_sbuf_puts(o, "<td>&ndash;");
            if (half > 0)
                bmx_sbuf_printf(o, " <span class=\"note\">&plusmn;%.4f</span>", half);
            bmx_sbuf_puts(o, "</td>");
        }
        bmx_sbuf_puts(o, "</tr>\n");
    }
    bmx_sbuf_printf(o, "</table>\n<p class=\"note\">1/K = %.4f. ", 1.0 / s->K);
    bmx_sbuf_xml(o, bmx_rl_pi_text);
    bmx_sbuf_puts(o, ".</p>\n");
}
