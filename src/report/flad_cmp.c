/* The FLAD comparison's table, results and report (bmx/report.h, bmx flad-compare). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bmx/report.h"

#define NM BMX_FLAD_CMP_METHODS
#define NT BMX_FLAD_CMP_TARGETS
#define NS BMX_FLAD_CMP_SPLITS

static const char *const methods[NM] = {"target-only", "explore-only", "exploit-only", "exp3",
                                        "ucb1"};
static const char *const rows[NM] = {"target-only", "explore-only", "exploit-only", "EXP3-FLAD",
                                     "UCB1-FLAD"};

struct bmx_flad_cmp {
    const char *const *targets;
    int nt, splits, use[NM], aux_draws;
    char reward[64], exp3spec[96];
    double acc[NM][NT][NS];
    long nonuni[NM][NT][NS], nrounds[NM][NT][NS], best_round[NM][NT][NS], min_used;
    bmx_flad_reference ref[NT];
    int has_ref[NT];
    int naux;
    char **anames; /* arm names of the current target */
    long *agg;     /* its arm usage by exp3 + ucb1 over the splits */
    bmx_sbuf md, jl, plots, usage;
};

const char *bmx_flad_cmp_method(int k)
{
    return k >= 0 && k < NM ? methods[k] : NULL;
}

void bmx_flad_cmp_methods(const char *list, int use[NM])
{
    for (int k = 0; k < NM; k++) {
        const char *p = list ? strstr(list, methods[k]) : NULL;
        size_t l = strlen(methods[k]);
        use[k] = !list || (p && (p == list || p[-1] == ',') && (p[l] == 0 || p[l] == ','));
    }
}

int bmx_flad_cmp_create(bmx_flad_cmp **out, const char *const *targets, int nt, int splits,
                        const int *use, const char *reward, const char *exp3spec, int aux_draws,
                        bmx_err *err)
{
    bmx_flad_cmp *c;

    *out = NULL;
    if (nt < 2 || nt > NT || splits < 1 || splits > NS)
        return bmx_err_set(err, BMX_EINVAL,
                           "flad comparison: %d targets and %d splits; give 2..%d targets and "
                           "1..%d splits",
                           nt, splits, NT, NS);
    if (!(c = calloc(1, sizeof *c)))
        return bmx_err_set(err, BMX_ENOMEM, "out of memory");
    c->targets = targets;
    c->nt = nt;
    c->splits = splits;
    memcpy(c->use, use, sizeof c->use);
    c->aux_draws = aux_draws;
    snprintf(c->reward, sizeof c->reward, "%s", reward);
    snprintf(c->exp3spec, sizeof c->exp3spec, "%s", exp3spec);
    *out = c;
    return BMX_OK;
}

static void free_arms(bmx_flad_cmp *c)
{
    for (int a = 0; c->anames && a < c->naux; a++)
        free(c->anames[a]);
    free(c->anames);
    free(c->agg);
    c->anames = NULL;
    c->agg = NULL;
    c->naux = 0;
}

void bmx_flad_cmp_free(bmx_flad_cmp *c)
{
    if (!c)
        return;
    free_arms(c);
    bmx_sbuf_free(&c->md);
    bmx_sbuf_free(&c->jl);
    bmx_sbuf_free(&c->plots);
    bmx_sbuf_free(&c->usage);
    free(c);
}

/* The "probs" arrays of a run's log.jsonl: *n rows of k values (malloc'd). */
static double *read_probs(const char *log, int k, size_t *n)
{
    FILE *f = fopen(log, "r");
    size_t cap = 256, lc = 0;
    double *v;
    char *line = NULL;

    *n = 0;
    if (!f)
        return NULL;
    v = malloc(cap * (size_t)k * sizeof *v);
    while (v && getline(&line, &lc, f) >= 0) {
        char *p = strstr(line, "\"probs\":[");
        int a;
        if (!p)
            continue;
        p += 9;
        if (*n == cap) {
            double *nv = realloc(v, 2 * cap * (size_t)k * sizeof *v);
            if (!nv)
                break;
            v = nv;
            cap *= 2;
        }
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

/* EXP3's arm probabilities over the rounds of a run, as a stacked plot. */
static void plot_probs(bmx_flad_cmp *c, const char *target, const bmx_flad_outcome *r)
{
    size_t n;
    double *pr = read_probs(r->log, r->naux, &n);
    bmx_err err = {0};

    if (pr && n) {
        char title[256];
        snprintf(title, sizeof title, "%s: EXP3-FLAD arm probabilities (split 0)", target);
        bmx_plot pl = {title, "round", "probability", 0, 0};
        bmx_svg_stacked(&c->plots, &pl, NULL, n, pr, (size_t)r->naux, r->arm_names, 8, &err);
    }
    free(pr);
}

/* Arm usage of exp3 and ucb1, summed over the splits of the current target. */
static int add_usage(bmx_flad_cmp *c, const bmx_flad_outcome *r, bmx_err *err)
{
    if (!c->agg) {
        c->naux = r->naux;
        c->agg = calloc((size_t)r->naux, sizeof *c->agg);
        c->anames = calloc((size_t)r->naux, sizeof *c->anames);
        for (int a = 0; c->agg && c->anames && a < r->naux; a++)
            if (!(c->anames[a] = strdup(r->arm_names[a])))
                return bmx_err_set(err, BMX_ENOMEM, "out of memory");
        if (!c->agg || !c->anames)
            return bmx_err_set(err, BMX_ENOMEM, "out of memory");
    }
    for (int a = 0; a < c->naux && a < r->naux; a++)
        c->agg[a] += r->arm_counts[a];
    return BMX_OK;
}

int bmx_flad_cmp_set_reference(bmx_flad_cmp *c, int t, const bmx_flad_reference *r, bmx_err *err)
{
    if (t < 0 || t >= c->nt)
        return bmx_err_set(err, BMX_EINVAL, "flad comparison: no target %d (give 0..%d)", t,
                           c->nt - 1);
    c->ref[t] = *r;
    c->has_ref[t] = 1;
    return BMX_OK;
}

/* ,"key":v with %.17g, or null where target t has no reference scores. */
static void ref_field(bmx_flad_cmp *c, int t, const char *key, double v)
{
    if (c->has_ref[t])
        bmx_sbuf_printf(&c->jl, ",\"%s\":%.17g", key, v);
    else
        bmx_sbuf_printf(&c->jl, ",\"%s\":null", key);
}

int bmx_flad_cmp_add(bmx_flad_cmp *c, int t, int s, int k, const bmx_flad_outcome *r, bmx_err *err)
{
    if (t < 0 || t >= c->nt || s < 0 || s >= c->splits || k < 0 || k >= NM)
        return bmx_err_set(err, BMX_EINVAL, "flad comparison: no cell %d/%d/%d", t, s, k);
    c->acc[k][t][s] = r->test_acc;
    c->nonuni[k][t][s] = r->nonuniform;
    c->nrounds[k][t][s] = r->rounds;
    c->best_round[k][t][s] = r->best_round;
    if (k == 3)
        c->min_used = r->min_rounds;
    bmx_sbuf_printf(&c->jl,
                    "{\"target\":\"%s\",\"split\":%d,\"method\":\"%s\",\"policy\":\"%s\","
                    "\"reward\":\"%s\",\"test_acc\":%.17g,\"best_val\":%.17g,\"rounds\":%ld,"
                    "\"nonuniform_rounds\":%ld,\"min_rounds\":%ld,\"aux_draws\":%d,"
                    "\"aux_batches\":%ld,\"best_round\":%ld",
                    c->targets[t], s, methods[k], r->policy, c->reward, r->test_acc, r->best_val,
                    r->rounds, r->nonuniform, r->min_rounds, c->aux_draws, r->aux_batches,
                    r->best_round);
    ref_field(c, t, "zero_shot_test_acc", c->ref[t].test_acc);
    ref_field(c, t, "zero_shot_val_acc", c->ref[t].val[s]);
    ref_field(c, t, "prior_test_acc", c->ref[t].prior[s]);
    bmx_sbuf_puts(&c->jl, "}\n");
    if ((k == 3 || k == 4) && r->naux && add_usage(c, r, err) != BMX_OK)
        return err->code;
    if (k == 3 && s == 0 && r->naux && r->log)
        plot_probs(c, c->targets[t], r);
    return BMX_OK;
}

void bmx_flad_cmp_end_target(bmx_flad_cmp *c, int t)
{
    if (c->agg) {
        bmx_sbuf_printf(&c->usage, "<tr><td>%s</td><td>", c->targets[t]);
        for (int top = 0; top < 5; top++) {
            int b = -1;
            for (int a = 0; a < c->naux; a++)
                if (c->agg[a] >= 0 && (b < 0 || c->agg[a] > c->agg[b]))
                    b = a;
            if (b < 0 || c->agg[b] <= 0)
                break;
            bmx_sbuf_xml(&c->usage, c->anames[b]);
            bmx_sbuf_printf(&c->usage, " (%ld)%s", c->agg[b], top < 4 ? "; " : "");
            c->agg[b] = -1;
        }
        bmx_sbuf_puts(&c->usage, "</td></tr>\n");
    }
    free_arms(c);
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

/* mean ± sample std of n accuracies, in % (std 0 for one value). */
static void cell(bmx_sbuf *b, const double *v, int n)
{
    bmx_ci c = bmx_ci95(v, (size_t)n);
    bmx_sbuf_printf(b, "%.1f ± %.1f", 100 * c.mean, n > 1 ? 100 * c.sd : 0.0);
}

/* One method's row: a cell per target and the mean over targets. */
static void table_row(bmx_flad_cmp *c, int k, bmx_sbuf *html)
{
    double means[NS] = {0};
    int all_uniform = k == 3, splits = c->splits, nt = c->nt;
    bmx_sbuf m = {0};

    bmx_sbuf_printf(&c->md, "| %s |", rows[k]);
    bmx_sbuf_printf(html, "<tr><td>%s</td>", rows[k]);
    for (int t = 0; t < nt; t++) {
        bmx_sbuf x = {0};
        int z = k == 3 ? count_zero(c->nonuni[k][t], splits) : 0;
        if (z == splits) {
            cell_uniform(&x, c->nrounds[k][t], splits);
        } else {
            cell(&x, c->acc[k][t], splits);
            if (z)
                bmx_sbuf_printf(&x, " (%d of %d splits never left uniform)", z, splits);
        }
        all_uniform &= z == splits;
        bmx_sbuf_printf(&c->md, " %s |", bmx_sbuf_str(&x));
        bmx_sbuf_printf(html, "<td>%s</td>", bmx_sbuf_str(&x));
        bmx_sbuf_free(&x);
        for (int s = 0; s < splits; s++)
            means[s] += c->acc[k][t][s] / nt;
    }
    if (all_uniform) {
        long all[NT * NS];
        for (int t = 0; t < nt; t++)
            memcpy(all + t * splits, c->nrounds[k][t], (size_t)splits * sizeof *all);
        cell_uniform(&m, all, nt * splits);
    } else {
        cell(&m, means, splits);
    }
    bmx_sbuf_printf(&c->md, " %s |\n", bmx_sbuf_str(&m));
    bmx_sbuf_printf(html, "<td>%s</td></tr>\n", bmx_sbuf_str(&m));
    bmx_sbuf_free(&m);
}

/* A row of cells[0..n) (freed) into the table and html. */
static void row(bmx_flad_cmp *c, bmx_sbuf *html, const char *name, bmx_sbuf *cells, int n)
{
    bmx_sbuf_printf(&c->md, "| %s |", name);
    bmx_sbuf_printf(html, "<tr><td>%s</td>", name);
    for (int i = 0; i < n; i++) {
        bmx_sbuf_printf(&c->md, " %s |", bmx_sbuf_str(&cells[i]));
        bmx_sbuf_printf(html, "<td>%s</td>", bmx_sbuf_str(&cells[i]));
        bmx_sbuf_free(&cells[i]);
    }
    bmx_sbuf_puts(&c->md, "\n");
    bmx_sbuf_puts(html, "</tr>\n");
}

/* The rows before the methods', when every target has its reference scores: the base model's
 * test accuracy (the same for every split) and the label prior's (mean ± std over splits). */
static void reference_rows(bmx_flad_cmp *c, bmx_sbuf *html)
{
    int S = c->splits, nt = c->nt;
    bmx_sbuf cells[NT + 1];
    double mean = 0, means[NS] = {0};

    for (int t = 0; t < nt; t++)
        if (!c->has_ref[t])
            return;
    memset(cells, 0, sizeof cells);
    for (int t = 0; t < nt; t++) {
        bmx_sbuf_printf(&cells[t], "%.1f", 100 * c->ref[t].test_acc);
        mean += c->ref[t].test_acc / nt;
    }
    bmx_sbuf_printf(&cells[nt], "%.1f", 100 * mean);
    row(c, html, "zero-shot (base model)", cells, nt + 1);
    for (int t = 0; t < nt; t++) {
        for (int s = 0; s < S; s++)
            means[s] += c->ref[t].prior[s] / nt;
        cell(&cells[t], c->ref[t].prior, S);
    }
    cell(&cells[nt], means, S);
    row(c, html, "label prior", cells, nt + 1);
}

/* How many runs of each method kept theta_0 (best validation accuracy at round 0, so their
 * test score is the zero-shot one). */
static void kept_base(bmx_flad_cmp *c)
{
    int first = 1;

    bmx_sbuf_puts(&c->md, "\nRuns that kept the base model (best validation accuracy at round "
                          "0, so their test score is the zero-shot one):");
    for (int k = 0; k < NM; k++) {
        int n = 0;
        if (!c->use[k])
            continue;
        for (int t = 0; t < c->nt; t++)
            for (int s = 0; s < c->splits; s++)
                n += c->best_round[k][t][s] == 0;
        bmx_sbuf_printf(&c->md, "%s %s %d of %d", first ? "" : ",", rows[k], n, c->nt * c->splits);
        first = 0;
    }
    bmx_sbuf_puts(&c->md, ".\n");
}

/* Each method against target-only and explore-only, paired by split: per split the
 * difference of the mean accuracy over targets, with its 95% t-interval over splits. */
static void paired(bmx_flad_cmp *c)
{
    int S = c->splits, nt = c->nt;
    if (S < 2)
        return;
    for (int r = 0; r < 2; r++) {
        int first = 1;
        if (!c->use[r])
            continue;
        for (int k = 0; k < NM; k++) {
            double d[NS] = {0};
            int wins = 0;
            char b[96];
            if (k == r || !c->use[k])
                continue;
            for (int s = 0; s < S; s++) {
                for (int t = 0; t < nt; t++)
                    d[s] += 100 * (c->acc[k][t][s] - c->acc[r][t][s]) / nt;
                wins += d[s] > 0;
            }
            bmx_ci ci = bmx_ci95(d, (size_t)S);
            if (first)
                bmx_sbuf_printf(&c->md,
                                "\nAgainst %s, paired by split (mean over targets, method - %s, "
                                "points; 95%% t-interval over %d splits; wins: splits where "
                                "the method scored higher):",
                                rows[r], rows[r], S);
            bmx_sbuf_printf(&c->md, "%s %s %s%s (wins %d of %d)", first ? "" : ",", rows[k],
                            bmx_ci_text(b, sizeof b, &ci, 1), bmx_ci_excludes_zero(&ci) ? " *" : "",
                            wins, S);
            first = 0;
        }
        if (!first)
            bmx_sbuf_puts(&c->md, ". (* the interval excludes 0)\n");
    }
}

/* The table: the reference rows, then rows methods, columns targets + mean; mean ± sample std
 * over splits, in %; the runs that kept the base model; EXP3-FLAD's non-uniform rounds. */
static void table(bmx_flad_cmp *c, bmx_sbuf *html)
{
    bmx_sbuf_printf(&c->md,
                    "Test accuracy (%%, rank classification, mean ± std over %d split%s; "
                    "reward %s)\n\n| method |",
                    c->splits, c->splits > 1 ? "s" : "", c->reward);
    bmx_sbuf_puts(html, "<table border=\"1\" cellpadding=\"4\"><tr><th>method</th>");
    for (int t = 0; t < c->nt; t++) {
        bmx_sbuf_printf(&c->md, " %s |", c->targets[t]);
        bmx_sbuf_printf(html, "<th>%s</th>", c->targets[t]);
    }
    bmx_sbuf_puts(&c->md, " mean |\n|---|");
    bmx_sbuf_puts(html, "<th>mean</th></tr>\n");
    for (int t = 0; t <= c->nt; t++)
        bmx_sbuf_puts(&c->md, "---|");
    bmx_sbuf_puts(&c->md, "\n");
    reference_rows(c, html);
    for (int k = 0; k < NM; k++)
        if (c->use[k])
            table_row(c, k, html);
    bmx_sbuf_puts(html, "</table>\n");
    kept_base(c);
    paired(c);
    if (!c->use[3])
        return;
    bmx_sbuf_printf(&c->md,
                    "\nEXP3-FLAD (%s): rounds whose distribution differed from uniform "
                    "(max |pi - 1/K| > 1e-12), of all its rounds:",
                    c->exp3spec);
    for (int t = 0; t < c->nt; t++)
        for (int s = 0; s < c->splits; s++)
            bmx_sbuf_printf(&c->md, "%s %s/s%d %ld of %ld", t || s ? "," : "", c->targets[t], s,
                            c->nonuni[3][t][s], c->nrounds[3][t][s]);
    bmx_sbuf_printf(&c->md,
                    ". Over K auxiliary datasets, EXP3 is exactly uniform - draw for draw "
                    "explore-only with the same seed - while S t <= K ln K; early stopping "
                    "could not end a run before round %ld.\n",
                    c->min_used);
}

static void page(const bmx_flad_cmp *c, const bmx_sbuf *html, bmx_sbuf *p)
{
    bmx_sbuf_puts(p, "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>bmx "
                     "flad-compare</title></head><body>\n<h1>FLAD comparison</h1>\n<p>");
    bmx_sbuf_xml(p, bmx_sbuf_str(&c->md));
    bmx_sbuf_puts(p, "</pre>\n");
    bmx_sbuf_puts(p, bmx_sbuf_str(html));
    bmx_sbuf_puts(p, "<h2>Auxiliary datasets used most (EXP3 + UCB1 batches, all splits)</h2>"
                     "<table border=\"1\" cellpadding=\"4\"><tr><th>target</th><th>top "
                     "auxiliary datasets (batches)</th></tr>\n");
    bmx_sbuf_puts(p, bmx_sbuf_str(&c->usage));
    bmx_sbuf_puts(p, "</table>\n<h2>Arm probabilities over time</h2>\n");
    bmx_sbuf_puts(p, bmx_sbuf_str(&c->plots));
    bmx_sbuf_puts(p, "</body></html>\n");
}

int bmx_flad_cmp_write(bmx_flad_cmp *c, const char *out, const char **text, bmx_err *err)
{
    bmx_sbuf html = {0}, p = {0};
    char path[2048];
    int rc;

    bmx_sbuf_clear(&c->md);
    table(c, &html);
    page(c, &html, &p);
    snprintf(path, sizeof path, "%s/table.md", out);
    rc = bmx_sbuf_save(&c->md, path, err);
    snprintf(path, sizeof path, "%s/results.jsonl", out);
    if (!rc)
        rc = bmx_sbuf_save(&c->jl, path, err);
    snprintf(path, sizeof path, "%s/report.html", out);
    if (!rc)
        rc = bmx_sbuf_save(&p, path, err);
    bmx_sbuf_free(&html);
    bmx_sbuf_free(&p);
    if (text)
        *text = bmx_sbuf_str(&c->md);
    return rc;
}
