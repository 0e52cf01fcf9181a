/* src/report/summary.c - the evidence over seeds: per method the final perplexities with
 * t-intervals, steps to the target per seed, the paired comparison against uniform and the
 * curves with bands (bmx/report.h). */
#include "report_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void msum_free(bmx_method_summary *m)
{
    free(m->seeds);
    free(m->final_ppl);
    free(m->domain_ppl);
    free(m->domain_ci);
    free(m->mean_pi);
    free(m->reach);
    free(m->paired_seeds);
    free(m->paired_step);
    free(m->diff);
    free(m->rel_pct);
    free(m->domain_diff);
    free(m->domain_diff_ci);
    free(m->curve_step);
    free(m->curve);
    free(m->rel_step);
    free(m->rel_curve);
}

void bmx_summary_free(bmx_summary *s)
{
    if (!s)
        return;
    for (size_t j = 0; j < s->nmethods; j++)
        msum_free(&s->methods[j]);
    free(s->methods);
    free(s);
}

/* A domain's perplexity (d < K) or the mean over domains (d == K) at eval index e. */
static double ppl_at(const bmx_runlog *l, long e, int d)
{
    return d < l->K ? exp(l->eval_loss[(size_t)e * (size_t)l->K + (size_t)d]) : l->eval_avg_ppl[e];
}

/* The last step both runs evaluated: eval indices in *ea, *eb; -1 when none. */
static long last_common(const bmx_runlog *a, const bmx_runlog *b, long *ea, long *eb)
{
    for (size_t i = a->nevals; i-- > 0;) {
        long j = bmx_rl_eval_at(b, a->eval_step[i]);
        if (j >= 0) {
            *ea = (long)i;
            *eb = j;
            return a->eval_step[i];
        }
    }
    return -1;
}

/* The run of method r with the given seed, or NULL. */
static const bmx_runlog *run_of_seed(const struct bmx_rl_method *r, uint64_t seed)
{
    for (size_t i = 0; i < r->n; i++)
        if (r->runs[i]->seed == seed)
            return r->runs[i];
    return NULL;
}

/* Run l's sampling probability of each domain, the mean over its steps, into pi[K]. */
static void mean_pi(const bmx_runlog *l, double *pi)
{
    size_t K = (size_t)l->K;
    for (size_t d = 0; d < K; d++) {
        double sum = 0;
        for (size_t st = 0; st < l->nsteps; st++)
            sum += l->probs[st * K + d];
        pi[d] = l->nsteps ? sum / (double)l->nsteps : NAN;
    }
}

/* Everything but the pairing. */
static int per_method(const struct bmx_rl_method *g, int K, double target, bmx_method_summary *m,
                      double *tmp)
{
    size_t n = g->n;
    m->method = g->name;
    m->policy = g->runs[0]->policy;
    m->is_static = bmx_rl_is_static(g);
    m->nseeds = n;
    m->diff_ci = m->rel_ci = bmx_ci95(NULL, 0);
    m->final_step = g->m ? (long)g->x[g->m - 1] : -1;
    m->seeds = malloc(n * sizeof *m->seeds);
    m->final_ppl = malloc(n * sizeof *m->final_ppl);
    m->domain_ppl = malloc(n * (size_t)K * sizeof *m->domain_ppl);
    m->domain_ci = calloc((size_t)K, sizeof *m->domain_ci);
    m->mean_pi = malloc(n * (size_t)K * sizeof *m->mean_pi);
    m->reach = malloc(n * sizeof *m->reach);
    m->curve_step = malloc((g->m + 1) * sizeof *m->curve_step);
    m->curve = calloc(g->m + 1, sizeof *m->curve);
    if (!m->seeds || !m->final_ppl || !m->domain_ppl || !m->domain_ci || !m->mean_pi || !m->reach ||
        !m->curve_step || !m->curve)
        return -1;
    for (size_t r = 0; r < n; r++) {
        const bmx_runlog *l = g->runs[r];
        long e = m->final_step >= 0 ? bmx_rl_eval_at(l, m->final_step) : -1;
        m->seeds[r] = l->seed;
        m->final_ppl[r] = e >= 0 ? ppl_at(l, e, K) : NAN;
        for (int d = 0; d < K; d++)
            m->domain_ppl[r * (size_t)K + (size_t)d] = e >= 0 ? ppl_at(l, e, d) : NAN;
        mean_pi(l, m->mean_pi + r * (size_t)K);
        /* this seed's own curve against the target */
        double *xs = tmp, *ys = tmp + l->nevals;
        for (size_t i = 0; i < l->nevals; i++) {
            xs[i] = (double)l->eval_step[i];
            ys[i] = l->eval_avg_ppl[i];
        }
        m->reach[r] = isfinite(target) ? bmx_rl_reach(xs, ys, l->nevals, target) : NAN;
    }
    if (m->final_step >= 0) {
        m->final_ci = bmx_ci95(m->final_ppl, n);
        for (int d = 0; d < K; d++) {
            for (size_t r = 0; r < n; r++)
                tmp[r] = m->domain_ppl[r * (size_t)K + (size_t)d];
            m->domain_ci[d] = bmx_ci95(tmp, n);
        }
    } else {
        m->final_ci = bmx_ci95(NULL, 0);
        for (int d = 0; d < K; d++)
            m->domain_ci[d] = bmx_ci95(NULL, 0);
    }
    m->nreached = 0;
    for (size_t r = 0; r < n; r++)
        if (isfinite(m->reach[r]))
            tmp[m->nreached++] = m->reach[r];
    m->reach_ci = bmx_ci95(tmp, m->nreached);
    /* the curve with its band: every seed has these steps (group()) */
    m->ncurve = g->m;
    for (size_t e = 0; e < g->m; e++) {
        for (size_t r = 0; r < n; r++)
            tmp[r] = g->runs[r]->eval_avg_ppl[bmx_rl_eval_at(g->runs[r], (long)g->x[e])];
        m->curve_step[e] = g->x[e];
        m->curve[e] = bmx_ci95(tmp, n);
    }
    return 0;
}

/* The paired comparison of g against the reference u. */
static int paired(const struct bmx_rl_method *g, const struct bmx_rl_method *u, int K,
                  bmx_method_summary *m, double *tmp)
{
    size_t n = g->n;
    m->paired_seeds = malloc(n * sizeof *m->paired_seeds);
    m->paired_step = malloc(n * sizeof *m->paired_step);
    m->diff = malloc(n * sizeof *m->diff);
    m->rel_pct = malloc(n * sizeof *m->rel_pct);
    m->domain_diff = malloc(n * (size_t)K * sizeof *m->domain_diff);
    m->domain_diff_ci = calloc((size_t)K, sizeof *m->domain_diff_ci);
    m->rel_step = malloc((g->m + 1) * sizeof *m->rel_step);
    m->rel_curve = calloc(g->m + 1, sizeof *m->rel_curve);
    const bmx_runlog **pu = calloc(n + 1, sizeof *pu), **pm = calloc(n + 1, sizeof *pm);
    if (!m->paired_seeds || !m->paired_step || !m->diff || !m->rel_pct || !m->domain_diff ||
        !m->domain_diff_ci || !m->rel_step || !m->rel_curve || !pu || !pm) {
        free(pu);
        free(pm);
        return -1;
    }
    size_t k = 0;
    for (size_t r = 0; r < n; r++) {
        const bmx_runlog *a = g->runs[r], *b = run_of_seed(u, a->seed);
        long ea, eb, st;
        size_t dup = 0;
        while (dup < k && m->paired_seeds[dup] != a->seed)
            dup++;
        if (!b || dup < k || (st = last_common(a, b, &ea, &eb)) < 0)
            continue; /* only seeds present in both (a repeated seed counts once) */
        double x = ppl_at(a, ea, K), y = ppl_at(b, eb, K);
        pm[k] = a;
        pu[k] = b;
        m->paired_seeds[k] = a->seed;
        m->paired_step[k] = st;
        m->diff[k] = x - y;
        m->rel_pct[k] = 100.0 * (x / y - 1.0);
        m->wins += x < y;
        for (int d = 0; d < K; d++)
            m->domain_diff[k * (size_t)K + (size_t)d] = ppl_at(a, ea, d) - ppl_at(b, eb, d);
        k++;
    }
    m->npaired = k;
    m->diff_ci = bmx_ci95(m->diff, k);
    m->rel_ci = bmx_ci95(m->rel_pct, k);
    for (int d = 0; d < K; d++) {
        for (size_t i = 0; i < k; i++)
            tmp[i] = m->domain_diff[i * (size_t)K + (size_t)d];
        m->domain_diff_ci[d] = bmx_ci95(tmp, k);
    }
    /* the relative difference over the method's common steps that every paired uniform run
     * evaluated too */
    m->nrel = 0;
    for (size_t e = 0; k && e < g->m; e++) {
        long s = (long)g->x[e];
        size_t i = 0;
        for (; i < k; i++) {
            long ia = bmx_rl_eval_at(pm[i], s), ib = bmx_rl_eval_at(pu[i], s);
            if (ia < 0 || ib < 0)
                break;
            tmp[i] = 100.0 * (pm[i]->eval_avg_ppl[ia] / pu[i]->eval_avg_ppl[ib] - 1.0);
        }
        if (i < k)
            continue;
        m->rel_step[m->nrel] = (double)s;
        m->rel_curve[m->nrel++] = bmx_ci95(tmp, k);
    }
    free(pu);
    free(pm);
    return 0;
}

int bmx_report_summary(bmx_runlog *const *runs, size_t n, bmx_summary **out, bmx_err *err)
{
    struct bmx_rl_method *g;
    size_t ng, maxe = 1;
    bmx_summary *s;
    bmx_headline *rows;
    double *tmp;
    int rc;

    *out = NULL;
    if (n == 0)
        return bmx_err_set(err, BMX_EINVAL, "no runs to report on");
    if ((rc = bmx_rl_group(runs, n, &g, &ng, err)))
        return rc;
    for (size_t i = 0; i < n; i++)
        maxe = runs[i]->nevals > maxe ? runs[i]->nevals : maxe;
    s = calloc(1, sizeof *s);
    rows = calloc(ng, sizeof *rows);
    tmp = malloc((2 * maxe + n * (size_t)runs[0]->K + n + 1) * sizeof *tmp);
    if (!s || !rows || !tmp || !(s->methods = calloc(ng, sizeof *s->methods)))
        goto oom;
    s->K = runs[0]->K;
    s->domains = runs[0]->domains;
    s->nmethods = ng;
    s->target = NAN;
    if (bmx_rl_headline(g, ng, rows, &s->baseline, &s->target, err)) {
        s->baseline = NULL; /* no static method: no target, the rest stands */
        s->target = NAN;
        bmx_err_clear(err);
    }
    size_t ref = ng;
    for (size_t j = 0; j < ng && ref == ng; j++)
        if (strncmp(g[j].runs[0]->policy, "uniform", 7) == 0 &&
            (g[j].runs[0]->policy[7] == 0 || g[j].runs[0]->policy[7] == ':'))
            ref = j;
    if (ref < ng) {
        s->reference = g[ref].name;
        s->methods[ref].is_reference = 1;
    }
    for (size_t j = 0; j < ng; j++) {
        if (per_method(&g[j], s->K, s->target, &s->methods[j], tmp))
            goto oom;
        if (ref < ng && j != ref && paired(&g[j], &g[ref], s->K, &s->methods[j], tmp))
            goto oom;
    }
    free(rows);
    free(tmp);
    bmx_rl_methods_free(g, ng);
    *out = s;
    return 0;
oom:
    free(rows);
    free(tmp);
    bmx_rl_methods_free(g, ng);
    bmx_summary_free(s);
    return bmx_err_set(err, BMX_ENOMEM, "out of memory building the summary");
}
