/* src/report/sim_report.c - the simulator's report (bmx/report.h): after bmx_sim_run_exec,
 * summary.json, metric.svg, probs-LABEL.svg and index.html, and the table bmx simulate prints;
 * what the runner holds is read through bmx/sim.h's accessors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bmx/mix.h"
#include "bmx/report.h"
#include "bmx/sim.h"

/* What the report reads of a finished runner. */
struct view {
    const bmx_sim_run *run;
    const bmx_sim_run_config *c;
    const bmx_sim_policy *ps;
    int np, bandit;
};

static struct view view_of(const bmx_sim_run *run)
{
    struct view v = {run, bmx_sim_run_cfg(run), NULL, 0, bmx_sim_run_is_bandit(run)};
    v.ps = bmx_sim_run_policies(run, &v.np);
    return v;
}

static int save(const bmx_sbuf *b, const char *dir, const char *name, bmx_err *err)
{
    char path[4096];

    snprintf(path, sizeof path, "%s/%s", dir, name);
    return bmx_sbuf_save(b, path, err);
}

static void json_policy(bmx_json *j, const struct view *r, int i)
{
    const bmx_sim_policy *p = &r->ps[i];
    char name[256];
    double mean, sd;

    bmx_sim_mean_sd(p->final, r->c->seeds, &mean, &sd);
    bmx_json_obj(j);
    bmx_json_kv_str(j, "label", p->label);
    bmx_json_kv_str(j, "policy", p->canon);
    bmx_json_kv_str(j, "observe", bmx_sim_observes_name(p->observes));
    bmx_json_kv_num(j, "mean", mean);
    bmx_json_kv_num(j, "sd", sd);
    bmx_json_key(j, "final");
    bmx_json_nums(j, p->final, (size_t)r->c->seeds);
    bmx_json_key(j, "logs");
    bmx_json_arr(j);
    for (int s = 0; s < r->c->seeds; s++) {
        bmx_sim_run_log_name(r->run, i, s, name, sizeof name);
        bmx_json_str(j, name);
    }
    bmx_json_end_arr(j);
    if (p->adaptive) {
        snprintf(name, sizeof name, "probs-%s.svg", p->label);
        bmx_json_kv_str(j, "probs_plot", name);
    }
    bmx_json_end_obj(j);
}

static int write_summary(const struct view *r, bmx_err *err)
{
    const bmx_sim_run_config *c = r->c;
    bmx_json j = {0};
    char path[4096];
    FILE *f;
    int rc;

    bmx_json_obj(&j);
    bmx_json_kv_str(&j, "tool", "bmx simulate");
    bmx_json_kv_str(&j, "command", c->command);
    bmx_json_kv_str(&j, "env", bmx_sim_env_name(c->env.env));
    bmx_json_kv_int(&j, "arms", c->env.arms);
    bmx_json_kv_int(&j, "rounds", c->rounds);
    bmx_json_kv_int(&j, "batches", c->batches);
    bmx_json_key(&j, "seeds");
    bmx_json_arr(&j);
    for (int s = 0; s < c->seeds; s++)
        bmx_json_int(&j, (long long)(c->env.seed + (uint64_t)s));
    bmx_json_end_arr(&j);
    bmx_json_kv_str(&j, "metric", r->bandit ? "final_regret" : "final_mean_loss");
    bmx_json_kv_str(&j, "metric_plot", "metric.svg");
    bmx_json_key(&j, "policies");
    bmx_json_arr(&j);
    for (int i = 0; i < r->np; i++)
        json_policy(&j, r, i);
    bmx_json_end_arr(&j);
    bmx_json_end_obj(&j);
    snprintf(path, sizeof path, "%s/summary.json", c->out);
    f = fopen(path, "w");
    if (!f)
        rc = bmx_err_set(err, BMX_EIO, "cannot create summary.json (check --out is writable)");
    else if ((rc = bmx_json_line(&j, f, path, err)) != BMX_OK)
        fclose(f);
    else if (fclose(f) != 0)
        rc = bmx_err_set(err, BMX_EIO, "cannot write %s", path);
    bmx_json_free(&j);
    return rc;
}

/* metric.svg: every policy's metric curve; probs-LABEL.svg: each adaptive policy's
 * distribution (doremi: its averaged weights) over rounds. */
static int write_plots(const struct view *r, bmx_sbuf *b, bmx_err *err)
{
    const bmx_sim_run_config *c = r->c;
    const char *mtitle = r->bandit ? "cumulative regret" : "mean loss over domains";
    bmx_plot_series series[BMX_SIM_MAX_POLICIES];
    char title[256], name[256];
    int rc;

    for (int i = 0; i < r->np; i++)
        series[i] =
            (bmx_plot_series){.name = r->ps[i].label, .y = r->ps[i].curve, .n = (size_t)c->rounds};
    snprintf(title, sizeof title, "%s: %s (%d arms, %d batch%s/round%s)",
             bmx_sim_env_name(c->env.env), mtitle, c->env.arms, c->batches,
             c->batches == 1 ? "" : "es", c->seeds > 1 ? ", mean over seeds" : "");
    bmx_plot pl = {title, "round", mtitle, 0, 0};
    if ((rc = bmx_svg_lines(b, &pl, series, (size_t)r->np, err)) != BMX_OK)
        return bmx_err_prefix(err, "metric plot: ");
    if ((rc = save(b, c->out, "metric.svg", err)) != BMX_OK)
        return rc;
    for (int i = 0; i < r->np; i++) {
        const bmx_sim_policy *p = &r->ps[i];
        int excess = p->observes == BMX_MIX_OBS_EXCESS;
        if (!p->adaptive)
            continue;
        bmx_sbuf_clear(b);
        snprintf(title, sizeof title, "%s: %s over rounds (seed %llu)", p->label,
                 excess ? "domain weights alpha_bar" : "arm probabilities",
                 (unsigned long long)c->env.seed);
        bmx_plot pp = {title, "round", excess ? "weight" : "probability", 0, 0};
        if (bmx_svg_stacked(b, &pp, p->colx, (size_t)p->ncols, p->cols, (size_t)c->env.arms, NULL,
                            (size_t)c->top, err) != BMX_OK)
            return bmx_err_prefix(err, "plot of %s: ", p->label);
        snprintf(name, sizeof name, "probs-%s.svg", p->label);
        if ((rc = save(b, c->out, name, err)) != BMX_OK)
            return rc;
    }
    return BMX_OK;
}

static void html_head(bmx_sbuf *b, const struct view *r)
{
    const bmx_sim_run_config *c = r->c;

    bmx_sbuf_puts(b, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
                     "<title>bmx simulate</title>\n<style>body{font-family:sans-serif;"
                     "margin:1.5em}table{border-collapse:collapse}td,th{border:1px solid #ccc;"
                     "padding:3px 8px;text-align:right}td:first-child,th:first-child{text-align:"
                     "left}.plots{display:flex;flex-wrap:wrap;gap:8px}.plots img{width:560px;"
                     "border:1px solid #eee}</style></head><body>\n<h1>bmx simulate</h1>\n<p>");
    bmx_sbuf_printf(b, "environment <b>%s</b>, %d arms, %ld rounds of %d batches, seed%s ",
                    bmx_sim_env_name(c->env.env), c->env.arms, c->rounds, c->batches,
                    c->seeds > 1 ? "s" : "");
    if (c->seeds > 1)
        bmx_sbuf_printf(b, "%llu to %llu", (unsigned long long)c->env.seed,
                        (unsigned long long)(c->env.seed + (uint64_t)c->seeds - 1));
    else
        bmx_sbuf_printf(b, "%llu", (unsigned long long)c->env.seed);
    bmx_sbuf_puts(b, ".<br><code>");
    bmx_sbuf_xml(b, c->command);
    bmx_sbuf_printf(b,
                    "</code></p>\n<table><tr><th>policy</th><th>observes</th><th>%s</th>"
                    "%s<th>log</th></tr>\n",
                    r->bandit ? "final regret" : "final mean loss",
                    c->seeds > 1 ? "<th>sd over seeds</th>" : "");
}

/* index.html: the table of final metrics and every plot. */
static void html_page(bmx_sbuf *b, const struct view *r)
{
    char name[256];

    html_head(b, r);
    for (int i = 0; i < r->np; i++) {
        double mean, sd;
        bmx_sim_mean_sd(r->ps[i].final, r->c->seeds, &mean, &sd);
        bmx_sbuf_puts(b, "<tr><td>");
        bmx_sbuf_xml(b, r->ps[i].canon);
        bmx_sbuf_printf(b, "</td><td>%s</td><td>%.6g</td>",
                        bmx_sim_observes_name(r->ps[i].observes), mean);
        if (r->c->seeds > 1)
            bmx_sbuf_printf(b, "<td>%.3g</td>", sd);
        bmx_sim_run_log_name(r->run, i, 0, name, sizeof name);
        bmx_sbuf_puts(b, "<td><a href=\"");
        bmx_sbuf_xml(b, name);
        bmx_sbuf_puts(b, "\">");
        bmx_sbuf_xml(b, name);
        bmx_sbuf_puts(b, "</a></td></tr>\n");
    }
    bmx_sbuf_puts(b, "</table>\n<div class=\"plots\">\n<img src=\"metric.svg\" alt=\"metric\">\n");
    for (int i = 0; i < r->np; i++)
        if (r->ps[i].adaptive) {
            snprintf(name, sizeof name, "probs-%s.svg", r->ps[i].label);
            bmx_sbuf_puts(b, "<img src=\"");
            bmx_sbuf_xml(b, name);
            bmx_sbuf_puts(b, "\" alt=\"");
            bmx_sbuf_xml(b, r->ps[i].label);
            bmx_sbuf_puts(b, "\">\n");
        }
    bmx_sbuf_puts(b, "</div>\n</body></html>\n");
}

void bmx_report_sim_table(const bmx_sim_run *run, bmx_sbuf *b)
{
    struct view V = view_of(run), *r = &V;
    int wp = 6, seeds = r->c->seeds;

    for (int i = 0; i < r->np; i++)
        if ((int)strlen(r->ps[i].canon) > wp)
            wp = (int)strlen(r->ps[i].canon);
    bmx_sbuf_printf(b, "  %-*s  %-24s %16s%s\n", wp, "policy", "observes",
                    r->bandit ? "final regret" : "final mean loss",
                    seeds > 1 ? "   sd over seeds" : "");
    for (int i = 0; i < r->np; i++) {
        double mean, sd;
        bmx_sim_mean_sd(r->ps[i].final, seeds, &mean, &sd);
        bmx_sbuf_printf(b, "  %-*s  %-24s %16.6g", wp, r->ps[i].canon,
                        bmx_sim_observes_name(r->ps[i].observes), mean);
        if (seeds > 1)
            bmx_sbuf_printf(b, " %16.3g", sd);
        bmx_sbuf_puts(b, "\n");
    }
}

int bmx_report_sim(const bmx_sim_run *run, bmx_err *err)
{
    struct view V = view_of(run), *r = &V;
    bmx_sbuf b = {0};
    int rc;

    if ((rc = write_summary(r, err)) == BMX_OK && (rc = write_plots(r, &b, err)) == BMX_OK) {
        bmx_sbuf_clear(&b);
        html_page(&b, r);
        rc = save(&b, r->c->out, "index.html", err);
    }
    bmx_sbuf_free(&b);
    return rc;
}
