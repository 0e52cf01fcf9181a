/* src/flad/compare.c - every FLAD method on every target task and few-shot split, each a run
 * folder of bmx_flad_run, then a table shaped like the FLAD paper's, results.jsonl and an HTML
 * report with plots (bmx/flad.h, bmx_flad_compare). */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bmx/flad.h"
#include "bmx/mix.h"
#include "bmx/report.h"
#include "flad_int.h"

#define MAX_T BMX_FLAD_COMPARE_MAX_TARGETS
#define NS    BMX_TASK_FEWSHOT_SPLITS
#define NM    5

static const char *const methods[NM] = {"target-only", "explore-only", "exploit-only", "exp3",
                                        "ucb1"};
static const char *const rows[NM] = {"target-only", "explore-only", "exploit-only", "EXP3-FLAD",
                                     "UCB1-FLAD"};

/* What the runs leave for the table and the report. */
struct grid {
    char tbuf[1024], *tn[MAX_T];
    int nt, use[NM];
    char exp3spec[64];
    double acc[NM][MAX_T][NS];
    long nonuni[NM][MAX_T][NS], nrounds[NM][MAX_T][NS], best_round[NM][MAX_T][NS];
    bmx_flad_zero_shot_scores zs[MAX_T]; /* theta_0's scores per target */
    long min_used;
    bmx_sbuf jl, plots, usage; /* results.jsonl, the probability plots, the usage table rows */
};

static void grid_free(struct grid *g)
{
    bmx_sbuf_free(&g->jl);
    bmx_sbuf_free(&g->plots);
    bmx_sbuf_free(&g->usage);
    free(g);
}

/* The "probs" arrays of a run's log.jsonl: *n rows of k values (malloc'd). */
static double *read_probs(const char *log, int k, size_t *n)
{
    FILE *f;
    *n = 0;
    if (bmx_file_fopen_regular(log, &f, NULL))
        return NULL;
    size_t cap = 256;
    double *v = malloc(cap * (size_t)k * sizeof *v);
    char *line = NULL;
    size_t lc = 0;
    while (v && getline(&line, &lc, f) >= 0) {
        char *p = strstr(line, "\"probs\":[");
        if (!p)
            continue;
        p += 9;
        if (*n == cap) {
            cap *= 2;
            double *nv = realloc(v, cap * (size_t)k * sizeof *v);
            if (!nv)
                break;
            v = nv;
        }
        int a;
        for (a = 0; a < k; a++) {
            char *e;
            v[*n * (size_t)k + (size_t)a] = strtod(p, &e);
            if (e == p)
                break;
            p = e + 1;
        }
        if (a == k)
            (*n)++;
    }
    free(line);
    fclose(f);
    return v;
}

/* EXP3-FLAD's cell when none of its n runs left uniform: they were explore-only draw for
 * draw, so the figure is a copy, not a tie. rounds: each run's rounds. */
static void cell_uniform(bmx_sbuf *b, const long *rounds, int n)
{
    long lo = rounds[0], hi = rounds[0];
    for (int i = 1; i < n; i++) {
        lo = rounds[i] < lo ? rounds[i] : lo;
        hi = rounds[i] > hi ? rounds[i] : hi;
    }
    bmx_sbuf_puts(b, "identical to explore-only: never left uniform in ");
    if (lo == hi)
        bmx_sbuf_printf(b, "%ld rounds", lo);
    else
        bmx_sbuf_printf(b, "%ld-%ld rounds", lo, hi);
}

static int count_zero(const long *v, int n)
{
    int z = 0;
    for (int i = 0; i < n; i++)
        z += v[i] == 0;
    return z;
}

static void cell(bmx_sbuf *b, const double *v, int n)
{
    double m = 0, s = 0;
    for (int i = 0; i < n; i++)
        m += v[i];
    m /= n;
    for (int i = 0; i < n; i++)
        s += (v[i] - m) * (v[i] - m);
    s = n > 1 ? sqrt(s / (n - 1)) : 0;
    bmx_sbuf_printf(b, "%.1f ± %.1f", 100 * m, 100 * s);
}

/* Targets, methods and EXP3-FLAD's spec from c, checked. */
static int parse(const bmx_flad_compare_config *c, struct grid *g, bmx_err *err)
{
    snprintf(g->tbuf, sizeof g->tbuf, "%s", c->targets ? c->targets : "");
    char *save = NULL;
    for (char *s = strtok_r(g->tbuf, ",", &save); s; s = strtok_r(NULL, ",", &save)) {
        if (g->nt == MAX_T)
            return bmx_err_set(err, BMX_EINVAL, "--targets '%s': give at most %d target tasks",
                               c->targets, MAX_T);
        g->tn[g->nt++] = s;
    }
    if (g->nt < 2)
        return bmx_err_set(err, BMX_EINVAL,
                           "--targets '%s': give at least 2 target tasks (all of them are held "
                           "out of every auxiliary pool)",
                           c->targets ? c->targets : "");
    if (c->splits < 1 || c->splits > NS)
        return bmx_err_set(err, BMX_EINVAL, "--splits %d: give 1..%d", c->splits, NS);
    const char *ml = c->methods && *c->methods ? c->methods : NULL;
    for (const char *p = ml; p && *p;) {
        size_t l = strcspn(p, ",");
        int k = 0;
        while (k < NM && (strlen(methods[k]) != l || strncmp(p, methods[k], l)))
            k++;
        if (k == NM)
            return bmx_err_set(err, BMX_EINVAL,
                               "--methods '%s': unknown method '%.*s'; give a subset of "
                               "target-only,explore-only,exploit-only,exp3,ucb1",
                               ml, (int)l, p);
        g->use[k] = 1;
        p += l + (p[l] == ',');
    }
    for (int k = 0; k < NM && !ml; k++)
        g->use[k] = 1;
    snprintf(g->exp3spec, sizeof g->exp3spec, "exp3");
    if (c->tscale != 1)
        snprintf(g->exp3spec, sizeof g->exp3spec, "exp3:tscale=%.15g", c->tscale);
    bmx_mix *m = NULL;
    if (bmx_mix_create(&m, g->exp3spec, 2, NULL, 1, err)) {
        char why[BMX_ERR_LEN];
        snprintf(why, sizeof why, "%s", err->msg);
        return bmx_err_set(err, BMX_EINVAL, "--tscale: %s", why);
    }
    bmx_mix_free(m);
    return 0;
}

/* Method k on target t, split s: its run folder run (or resumed, or found done), its figures
 * into g; EXP3-FLAD's split 0 plots its probabilities. *agg and *anames: arm usage of exp3 +
 * ucb1 over the splits. */
static int one_run(const bmx_flad_compare_config *c, const bmx_flad_compare_opts *o, struct grid *g,
                   int t, int s, int k, long **agg, char ***anames, int *naux, bmx_err *err)
{
    char dir[PATH_MAX], ck[PATH_MAX + 32];
    struct stat st;
    bmx_flad_run_config rc = c->run;
    bmx_flad_run_opts ro = {0};
    bmx_flad_result res;
    snprintf(dir, sizeof dir, "%s/%s/s%d/%s", c->run.out, g->tn[t], s, methods[k]);
    snprintf(ck, sizeof ck, "%s/config.txt", dir);
    rc.target = g->tn[t];
    rc.split = s;
    rc.policy = k == 3 ? g->exp3spec : methods[k];
    rc.out = dir;
    rc.tscale = c->tscale;
    rc.holdout = c->targets;
    ro.resume = stat(ck, &st) == 0; /* a run started before: resumed, or found done */
    ro.stop = o ? o->stop : NULL;
    ro.log = o ? o->log : (bmx_logger){0};
    if (o && o->progress)
        o->progress(o->ctx, g->tn[t], s, methods[k], NULL);
    int r = bmx_flad_run(&rc, &ro, &res, err);
    if (r)
        return r;
    if (o && o->progress)
        o->progress(o->ctx, g->tn[t], s, methods[k], &res);
    g->acc[k][t][s] = res.test_sum;
    g->nonuni[k][t][s] = res.nonuniform;
    g->nrounds[k][t][s] = res.rounds;
    g->best_round[k][t][s] = res.best_round;
    if (k == 3)
        g->min_used = res.min_rounds;
    bmx_sbuf_printf(&g->jl,
                    "{\"target\":\"%s\",\"split\":%d,\"method\":\"%s\",\"policy\":\"%s\","
                    "\"reward\":\"%s\",\"test_acc\":%.17g,\"best_val\":%.17g,\"rounds\":%ld,"
                    "\"nonuniform_rounds\":%ld,\"min_rounds\":%ld,\"aux_draws\":%d,"
                    "\"aux_batches\":%ld,\"best_round\":%ld,\"zero_shot_test_acc\":%.17g,"
                    "\"zero_shot_val_acc\":%.17g,\"prior_test_acc\":%.17g}\n",
                    g->tn[t], s, methods[k], rc.policy, c->run.reward, res.test_sum, res.best_val,
                    res.rounds, res.nonuniform, res.min_rounds, c->run.aux_draws, res.aux_batches,
                    res.best_round, g->zs[t].test_sum, g->zs[t].val[s], g->zs[t].prior[s]);
    if ((k == 3 || k == 4) && res.naux) {
        if (!*agg) {
            *naux = res.naux;
            *agg = calloc((size_t)res.naux, sizeof **agg);
            *anames = calloc((size_t)res.naux, sizeof **anames);
            for (int a = 0; *agg && *anames && a < res.naux; a++)
                (*anames)[a] = strdup(res.arm_names[a]);
        }
        for (int a = 0; *agg && a < *naux && a < res.naux; a++)
            (*agg)[a] += res.arm_counts[a];
    }
    if (k == 3 && s == 0 && res.naux) {
        char lp[PATH_MAX + 32], title[256];
        size_t n;
        snprintf(lp, sizeof lp, "%s/log.jsonl", dir);
        double *pr = read_probs(lp, res.naux, &n);
        if (pr && n) {
            snprintf(title, sizeof title, "%s: EXP3-FLAD arm probabilities (split 0)", g->tn[t]);
            bmx_plot pl = {title, "round", "probability", 0, 0};
            bmx_svg_stacked(&g->plots, &pl, NULL, n, pr, (size_t)res.naux,
                            (const char *const *)res.arm_names, 8, err);
        }
        free(pr);
    }
    bmx_flad_result_free(&res);
    return 0;
}

/* The usage row of target t: the five auxiliary datasets EXP3 and UCB1 drew most. */
static void usage_row(struct grid *g, int t, long *agg, char **anames, int naux)
{
    bmx_sbuf_printf(&g->usage, "<tr><td>%s</td><td>", g->tn[t]);
    for (int top = 0; top < 5; top++) {
        int b = -1;
        for (int a = 0; a < naux; a++)
            if (agg[a] >= 0 && (b < 0 || agg[a] > agg[b]))
                b = a;
        if (b < 0 || agg[b] <= 0)
            break;
        bmx_sbuf_xml(&g->usage, anames[b] ? anames[b] : "?");
        bmx_sbuf_printf(&g->usage, " (%ld)%s", agg[b], top < 4 ? "; " : "");
        agg[b] = -1;
    }
    bmx_sbuf_puts(&g->usage, "</td></tr>\n");
}

/* theta_0's scores on target t (every run of it starts there). */
static int zero_shot(const bmx_flad_compare_config *c, const bmx_flad_compare_opts *o,
                     struct grid *g, int t, bmx_err *err)
{
    bmx_flad_run_config rc = c->run;
    bmx_flad_result res = {0};
    rc.target = g->tn[t];
    if (o && o->progress)
        o->progress(o->ctx, g->tn[t], -1, "zero-shot", NULL);
    int r = bmx_flad_zero_shot(&rc, c->splits, &g->zs[t], err);
    if (r)
        return r;
    res.test_sum = g->zs[t].test_sum;
    res.test_mean = g->zs[t].test_mean;
    res.best_val = g->zs[t].val[0];
    if (o && o->progress)
        o->progress(o->ctx, g->tn[t], -1, "zero-shot", &res);
    return 0;
}

/* theta_0's scores, then every split and method of target t. */
static int run_target(const bmx_flad_compare_config *c, const bmx_flad_compare_opts *o,
                      struct grid *g, int t, bmx_err *err)
{
    int naux = 0, rc = zero_shot(c, o, g, t, err);
    char **anames = NULL;
    long *agg = NULL;
    for (int s = 0; s < c->splits && !rc; s++)
        for (int k = 0; k < NM && !rc; k++)
            if (g->use[k])
                rc = one_run(c, o, g, t, s, k, &agg, &anames, &naux, err);
    if (!rc && agg && anames)
        usage_row(g, t, agg, anames, naux);
    for (int a = 0; anames && a < naux; a++)
        free(anames[a]);
    free(anames);
    free(agg);
    return rc;
}

/* A row of the table into md and html: its cells, then the mean column. */
static void row(bmx_sbuf *md, bmx_sbuf *html, const char *name, bmx_sbuf *cells, int n)
{
    bmx_sbuf_printf(md, "| %s |", name);
    bmx_sbuf_printf(html, "<tr><td>%s</td>", name);
    for (int i = 0; i < n; i++) {
        bmx_sbuf_printf(md, " %s |", bmx_sbuf_str(&cells[i]));
        bmx_sbuf_printf(html, "<td>%s</td>", bmx_sbuf_str(&cells[i]));
        bmx_sbuf_free(&cells[i]);
    }
    bmx_sbuf_puts(md, "\n");
    bmx_sbuf_puts(html, "</tr>\n");
}

/* The rows before the methods': theta_0's test accuracy (zero-shot: the same for every split)
 * and the label prior's (always the choice most often correct in the split's train set). */
static void reference_rows(const bmx_flad_compare_config *c, struct grid *g, bmx_sbuf *md,
                           bmx_sbuf *html)
{
    int S = c->splits, nt = g->nt;
    bmx_sbuf cells[MAX_T + 1];
    double mean = 0, means[NS] = {0}, v[NS];
    memset(cells, 0, sizeof cells);
    for (int t = 0; t < nt; t++) {
        bmx_sbuf_printf(&cells[t], "%.1f", 100 * g->zs[t].test_sum);
        mean += g->zs[t].test_sum / nt;
    }
    bmx_sbuf_printf(&cells[nt], "%.1f", 100 * mean);
    row(md, html, "zero-shot (base model)", cells, nt + 1);
    for (int t = 0; t < nt; t++) {
        for (int s = 0; s < S; s++) {
            v[s] = g->zs[t].prior[s];
            means[s] += v[s] / nt;
        }
        cell(&cells[t], v, S);
    }
    cell(&cells[nt], means, S);
    row(md, html, "label prior", cells, nt + 1);
}

/* How many runs of each method kept theta_0 (best validation at round 0: their test score is
 * the zero-shot one). */
static void kept_theta0(const bmx_flad_compare_config *c, const struct grid *g, bmx_sbuf *md)
{
    int S = c->splits, first = 1;
    bmx_sbuf_puts(md, "\nRuns that kept the base model (best validation accuracy at round 0, "
                      "so their test score is the zero-shot one):");
    for (int k = 0; k < NM; k++) {
        if (!g->use[k])
            continue;
        int n = 0;
        for (int t = 0; t < g->nt; t++)
            for (int s = 0; s < S; s++)
                n += g->best_round[k][t][s] == 0;
        bmx_sbuf_printf(md, "%s %s %d of %d", first ? "" : ",", rows[k], n, g->nt * S);
        first = 0;
    }
    bmx_sbuf_puts(md, ".\n");
}

/* The table (rows methods, columns targets + mean; mean ± sample std over splits, in %) as
 * markdown into md and as HTML into html; EXP3-FLAD's non-uniform rounds after it. */
static void table(const bmx_flad_compare_config *c, struct grid *g, bmx_sbuf *md, bmx_sbuf *html)
{
    int S = c->splits, nt = g->nt;
    bmx_sbuf_printf(md,
                    "Test accuracy (%%, rank classification, mean ± std over %d split%s; "
                    "reward %s)\n\n| method |",
                    S, S > 1 ? "s" : "", c->run.reward);
    bmx_sbuf_puts(html, "<table border=\"1\" cellpadding=\"4\"><tr><th>method</th>");
    for (int t = 0; t < nt; t++) {
        bmx_sbuf_printf(md, " %s |", g->tn[t]);
        bmx_sbuf_printf(html, "<th>%s</th>", g->tn[t]);
    }
    bmx_sbuf_puts(md, " mean |\n|---|");
    bmx_sbuf_puts(html, "<th>mean</th></tr>\n");
    for (int t = 0; t <= nt; t++)
        bmx_sbuf_puts(md, "---|");
    bmx_sbuf_puts(md, "\n");
    reference_rows(c, g, md, html);
    for (int k = 0; k < NM; k++) {
        if (!g->use[k])
            continue;
        bmx_sbuf_printf(md, "| %s |", rows[k]);
        bmx_sbuf_printf(html, "<tr><td>%s</td>", rows[k]);
        double means[NS] = {0};
        int all_uniform = k == 3;
        for (int t = 0; t < nt; t++) {
            bmx_sbuf b = {0};
            int z = k == 3 ? count_zero(g->nonuni[k][t], S) : 0;
            if (z == S) {
                cell_uniform(&b, g->nrounds[k][t], S);
            } else {
                cell(&b, g->acc[k][t], S);
                if (z)
                    bmx_sbuf_printf(&b, " (%d of %d splits never left uniform)", z, S);
            }
            all_uniform &= z == S;
            bmx_sbuf_printf(md, " %s |", bmx_sbuf_str(&b));
            bmx_sbuf_printf(html, "<td>%s</td>", bmx_sbuf_str(&b));
            bmx_sbuf_free(&b);
            for (int s = 0; s < S; s++)
                means[s] += g->acc[k][t][s] / nt;
        }
        bmx_sbuf b = {0};
        if (all_uniform) {
            long all[MAX_T * NS];
            for (int t = 0; t < nt; t++)
                memcpy(all + t * S, g->nrounds[k][t], (size_t)S * sizeof *all);
            cell_uniform(&b, all, nt * S);
        } else {
            cell(&b, means, S);
        }
        bmx_sbuf_printf(md, " %s |\n", bmx_sbuf_str(&b));
        bmx_sbuf_printf(html, "<td>%s</td></tr>\n", bmx_sbuf_str(&b));
        bmx_sbuf_free(&b);
    }
    bmx_sbuf_puts(html, "</table>\n");
    kept_theta0(c, g, md);
    if (!g->use[3])
        return;
    bmx_sbuf_printf(md,
                    "\nEXP3-FLAD (%s): rounds whose distribution differed from uniform "
                    "(max |pi - 1/K| > 1e-12), of all its rounds:",
                    g->exp3spec);
    for (int t = 0; t < nt; t++)
        for (int s = 0; s < S; s++)
            bmx_sbuf_printf(md, "%s %s/s%d %ld of %ld", t || s ? "," : "", g->tn[t], s,
                            g->nonuni[3][t][s], g->nrounds[3][t][s]);
    bmx_sbuf_printf(md,
                    ". Over K auxiliary datasets, EXP3 is exactly uniform - draw for draw "
                    "explore-only with the same seed - while S t <= K ln K; early stopping "
                    "could not end a run before round %ld.\n",
                    g->min_used);
}

static void page(struct grid *g, const bmx_sbuf *md, const bmx_sbuf *html, bmx_sbuf *out)
{
    bmx_sbuf_puts(out, "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>bmx "
                       "flad-compare</title></head><body>\n<h1>FLAD comparison</h1>\n<p>");
    bmx_sbuf_xml(out, bmx_sbuf_str(md));
    bmx_sbuf_puts(out, "</pre>\n");
    bmx_sbuf_puts(out, bmx_sbuf_str(html));
    bmx_sbuf_puts(out, "<h2>Auxiliary datasets used most (EXP3 + UCB1 batches, all splits)</h2>"
                       "<table border=\"1\" cellpadding=\"4\"><tr><th>target</th><th>top "
                       "auxiliary datasets (batches)</th></tr>\n");
    bmx_sbuf_puts(out, bmx_sbuf_str(&g->usage));
    bmx_sbuf_puts(out, "</table>\n<h2>Arm probabilities over time</h2>\n");
    bmx_sbuf_puts(out, bmx_sbuf_str(&g->plots));
    bmx_sbuf_puts(out, "</body></html>\n");
}

static int save(const char *dir, const char *name, const bmx_sbuf *b, bmx_err *err)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (b->oom)
        return bmx_err_set(err, BMX_ENOMEM, "out of memory writing %s", path);
    return bmx_file_write_atomic(path, b->p ? b->p : "", b->len, err);
}

int bmx_flad_compare(const bmx_flad_compare_config *cfg, const bmx_flad_compare_opts *o,
                     char **table_md, bmx_err *err)
{
    bmx_flad_compare_config cc = *cfg, *c = &cc;
    struct grid *g = calloc(1, sizeof *g);
    flad_run_config_fill(&cc.run);
    bmx_sbuf md = {0}, html = {0}, pg = {0};
    int rc;
    *table_md = NULL;
    if (!g)
        return bmx_err_set(err, BMX_ENOMEM, "out of memory");
    if (!*c->run.out)
        rc = bmx_err_set(err, BMX_EINVAL, "no output folder: give --out DIR");
    else
        rc = parse(c, g, err);
    if (!rc)
        rc = bmx_file_mkdir_p(c->run.out, err);
    for (int t = 0; t < g->nt && !rc; t++)
        rc = run_target(c, o, g, t, err);
    if (!rc) {
        table(c, g, &md, &html);
        page(g, &md, &html, &pg);
        rc = save(c->run.out, "table.md", &md, err);
    }
    if (!rc)
        rc = save(c->run.out, "results.jsonl", &g->jl, err);
    if (!rc)
        rc = save(c->run.out, "report.html", &pg, err);
    if (!rc) {
        *table_md = md.p;
        md.p = NULL;
    }
    bmx_sbuf_free(&md);
    bmx_sbuf_free(&html);
    bmx_sbuf_free(&pg);
    grid_free(g);
    return rc;
}
