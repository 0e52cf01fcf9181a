/* src/report/group.c - runs grouped by method (their seeds), the seed-mean curves and the
 * headline (bmx/report.h). */
#include "report_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void bmx_rl_methods_free(struct bmx_rl_method *ms, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(ms[i].runs);
        free(ms[i].x);
        free(ms[i].mean);
        free(ms[i].lo);
        free(ms[i].hi);
    }
    free(ms);
}

/* The eval index of step s in run l, or -1. */
long bmx_rl_eval_at(const bmx_runlog *l, long s)
{
    for (size_t i = 0; i < l->nevals; i++)
        if (l->eval_step[i] == s)
            return (long)i;
    return -1;
}

int bmx_rl_group(bmx_runlog *const *runs, size_t n, struct bmx_rl_method **out, size_t *nm,
                 bmx_err *err)
{
    struct bmx_rl_method *ms = calloc(n ? n : 1, sizeof *ms);
    size_t k = 0;
    if (!ms)
        return bmx_err_set(err, BMX_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const bmx_runlog *l = runs[i];
        if (l->K != runs[0]->K)
            goto differ;
        for (int d = 0; d < l->K; d++)
            if (strcmp(l->domains[d], runs[0]->domains[d]) != 0)
                goto differ;
        if (l->nevals == 0) {
            bmx_rl_methods_free(ms, k);
            return bmx_err_set(err, BMX_EINVAL, "the run %s has no evaluation yet", l->path);
        }
        /* the headline is never built from impossible values (bmx_runlog_load refuses them;
         * runs filled by other code are checked here) */
        for (size_t e = 0; e < l->nevals; e++)
            if (!(isfinite(l->eval_avg_ppl[e]) && l->eval_avg_ppl[e] >= 1.0) ||
                l->eval_step[e] < 0 || (e > 0 && l->eval_step[e] <= l->eval_step[e - 1])) {
                bmx_rl_methods_free(ms, k);
                return bmx_err_set(err, BMX_EINVAL,
                                   "the run %s has an impossible evaluation (mean perplexity "
                                   "%g at step %ld): perplexities are finite and >= 1, steps "
                                   ">= 0 and increasing",
                                   l->path, l->eval_avg_ppl[e], l->eval_step[e]);
            }
        size_t j = 0;
        while (j < k && strcmp(ms[j].name, l->method) != 0)
            j++;
        if (j == k)
            ms[k++].name = l->method;
        bmx_runlog **nr = realloc(ms[j].runs, (ms[j].n + 1) * sizeof *nr);
        if (!nr) {
            bmx_rl_methods_free(ms, k);
            return bmx_err_set(err, BMX_ENOMEM, "out of memory");
        }
        ms[j].runs = nr;
        ms[j].runs[ms[j].n++] = runs[i];
    }
    for (size_t j = 0; j < k; j++) {
        struct bmx_rl_method *m = &ms[j];
        const bmx_runlog *f = m->runs[0];
        m->x = malloc(f->nevals * sizeof *m->x);
        m->mean = malloc(f->nevals * sizeof *m->mean);
        m->lo = malloc(f->nevals * sizeof *m->lo);
        m->hi = malloc(f->nevals * sizeof *m->hi);
        if (!m->x || !m->mean || !m->lo || !m->hi) {
            bmx_rl_methods_free(ms, k);
            return bmx_err_set(err, BMX_ENOMEM, "out of memory");
        }
        for (size_t e = 0; e < f->nevals; e++) {
            long s = f->eval_step[e];
            double sum = 0, lo = INFINITY, hi = -INFINITY;
            size_t c = 0;
            for (size_t r = 0; r < m->n; r++) {
                long i = bmx_rl_eval_at(m->runs[r], s);
                if (i < 0)
                    continue;
                double v = m->runs[r]->eval_avg_ppl[i];
                sum += v;
                lo = v < lo ? v : lo;
                hi = v > hi ? v : hi;
                c++;
            }
            /* a step not evaluated by every seed is left out of the mean curve */
            if (c != m->n)
                continue;
            m->x[m->m] = (double)s;
            m->mean[m->m] = sum / (double)c;
            m->lo[m->m] = lo;
            m->hi[m->m] = hi;
            m->m++;
        }
    }
    *out = ms;
    *nm = k;
    return 0;
differ:
    bmx_rl_methods_free(ms, k);
    return bmx_err_set(err, BMX_EINVAL,
                       "the runs %s and %s have different domains: compare runs on one data "
                       "folder",
                       runs[0]->path, runs[n - 1]->path);
}

double bmx_rl_reach(const double *x, const double *y, size_t m, double target)
{
    for (size_t e = 0; e < m; e++) {
        if (!(y[e] <= target))
            continue;
        if (e > 0 && y[e - 1] > y[e])
            return x[e - 1] + (y[e - 1] - target) / (y[e - 1] - y[e]) * (x[e] - x[e - 1]);
        return x[e];
    }
    return NAN;
}

int bmx_rl_is_static(const struct bmx_rl_method *m)
{
    return bmx_runlog_is_static(m->runs[0]);
}

int bmx_rl_headline(struct bmx_rl_method *ms, size_t nm, bmx_headline *rows, const char **baseline,
                    double *target, bmx_err *err)
{
    long b = -1;
    for (size_t j = 0; j < nm; j++)
        if (bmx_rl_is_static(&ms[j]) && ms[j].m > 0 &&
            (b < 0 || ms[j].mean[ms[j].m - 1] < ms[b].mean[ms[b].m - 1]))
            b = (long)j;
    if (b < 0)
        return bmx_err_set(err, BMX_EINVAL,
                           "no static baseline among the runs (uniform, natural or weights): "
                           "the headline needs one to compare against");
    *baseline = ms[b].name;
    *target = ms[b].mean[ms[b].m - 1];
    double bsteps = ms[b].x[ms[b].m - 1];
    for (size_t j = 0; j < nm; j++) {
        struct bmx_rl_method *m = &ms[j];
        rows[j].method = m->name;
        rows[j].final_ppl = m->m ? m->mean[m->m - 1] : NAN;
        rows[j].reach_step = NAN;
        rows[j].fewer_pct = NAN;
        double st = bmx_rl_reach(m->x, m->mean, m->m, *target);
        if (isfinite(st)) {
            rows[j].reach_step = st;
            rows[j].fewer_pct = bsteps > 0 ? 100.0 * (1.0 - st / bsteps) : NAN;
        }
    }
    return 0;
}

int bmx_report_headline(bmx_runlog *const *runs, size_t n, bmx_headline **rows, size_t *nrows,
                        const char **baseline, double *target, bmx_err *err)
{
    struct bmx_rl_method *ms;
    size_t nm;
    if (n == 0)
        return bmx_err_set(err, BMX_EINVAL, "no runs to report on");
    int rc = bmx_rl_group(runs, n, &ms, &nm, err);
    if (rc)
        return rc;
    *rows = calloc(nm, sizeof **rows);
    if (!*rows) {
        bmx_rl_methods_free(ms, nm);
        return bmx_err_set(err, BMX_ENOMEM, "out of memory");
    }
    rc = bmx_rl_headline(ms, nm, *rows, baseline, target, err);
    bmx_rl_methods_free(ms, nm);
    if (rc) {
        free(*rows);
        *rows = NULL;
        return rc;
    }
    *nrows = nm;
    return 0;
}
