/* src/flad/compare.c - every FLAD method on every target task and few-shot split, each a run
 * folder of bmx_flad_run; the table shaped like the FLAD paper's, results.jsonl and the HTML
 * report are the report module's (bmx_flad_cmp_*, bmx/report.h). bmx/flad.h, bmx_flad_compare. */
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
_Static_assert(NS <= BMX_FLAD_CMP_SPLITS && MAX_T <= BMX_FLAD_CMP_TARGETS,
               "the report's table holds every split and target");

static const char *const methods[NM] = {"target-only", "explore-only", "exploit-only", "exp3",
                                        "ucb1"};

/* The targets, the methods used and EXP3-FLAD's spec; the table the runs fill. */
struct grid {
    char tbuf[1024], *tn[MAX_T];
    int nt, use[NM];
    char exp3spec[64];
    bmx_flad_cmp *cmp;
};

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

/* Method k on target t, split s: its run folder run (or resumed, or found done), its outcome
 * into the table. */
static int one_run(const bmx_flad_compare_config *c, const bmx_flad_compare_opts *o, struct grid *g,
                   int t, int s, int k, bmx_err *err)
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
    char log[PATH_MAX + 32];
    snprintf(log, sizeof log, "%s/log.jsonl", dir);
    bmx_flad_outcome oc = {rc.policy,
                           res.test_sum,
                           res.best_val,
                           res.rounds,
                           res.nonuniform,
                           res.min_rounds,
                           res.aux_batches,
                           res.naux,
                           (const char *const *)res.arm_names,
                           res.arm_counts,
                           log,
                           res.best_round};
    r = bmx_flad_cmp_add(g->cmp, t, s, k, &oc, err);
    bmx_flad_result_free(&res);
    return r;
}

/* theta_0's scores on target t (every run of it starts there), handed to the table. */
static int zero_shot(const bmx_flad_compare_config *c, const bmx_flad_compare_opts *o,
                     struct grid *g, int t, bmx_err *err)
{
    bmx_flad_run_config rc = c->run;
    bmx_flad_zero_shot_scores zs;
    bmx_flad_result res = {0};
    bmx_flad_reference ref = {0};
    rc.target = g->tn[t];
    if (o && o->progress)
        o->progress(o->ctx, g->tn[t], -1, "zero-shot", NULL);
    int r = bmx_flad_zero_shot(&rc, c->splits, &zs, err);
    if (r)
        return r;
    ref.test_acc = zs.test_sum;
    for (int s = 0; s < c->splits; s++) {
        ref.val[s] = zs.val[s];
        ref.prior[s] = zs.prior[s];
    }
    res.test_sum = zs.test_sum;
    res.test_mean = zs.test_mean;
    res.best_val = zs.val[0];
    if (o && o->progress)
        o->progress(o->ctx, g->tn[t], -1, "zero-shot", &res);
    return bmx_flad_cmp_set_reference(g->cmp, t, &ref, err);
}

/* A stop asked for between runs (a finished run is only scored again, and never looks at the
 * flag itself): the comparison returns 1 before the next one. */
static int stop_asked(const bmx_flad_compare_opts *o)
{
    return o && o->stop && *o->stop;
}

/* theta_0's scores, every split and method of target t, then its row of most-used auxiliary
 * datasets. */
static int run_target(const bmx_flad_compare_config *c, const bmx_flad_compare_opts *o,
                      struct grid *g, int t, bmx_err *err)
{
    int rc = stop_asked(o) ? 1 : zero_shot(c, o, g, t, err);
    for (int s = 0; s < c->splits && !rc; s++)
        for (int k = 0; k < NM && !rc; k++)
            if (g->use[k])
                rc = stop_asked(o) ? 1 : one_run(c, o, g, t, s, k, err);
    if (!rc)
        bmx_flad_cmp_end_target(g->cmp, t);
    return rc;
}

int bmx_flad_compare(const bmx_flad_compare_config *cfg, const bmx_flad_compare_opts *o,
                     char **table_md, bmx_err *err)
{
    bmx_flad_compare_config cc = *cfg, *c = &cc;
    struct grid *g = calloc(1, sizeof *g);
    flad_run_config_fill(&cc.run);
    int rc;
    *table_md = NULL;
    if (!g)
        return bmx_err_set(err, BMX_ENOMEM, "out of memory");
    if (!*c->run.out)
        rc = bmx_err_set(err, BMX_EINVAL, "no output folder: give --out DIR");
    else
        rc = parse(c, g, err);
    if (!rc)
        rc = bmx_flad_cmp_create(&g->cmp, (const char *const *)g->tn, g->nt, c->splits, g->use,
                                 c->run.reward, g->exp3spec, c->run.aux_draws, err);
    if (!rc)
        rc = bmx_file_mkdir_p(c->run.out, err);
    for (int t = 0; t < g->nt && !rc; t++)
        rc = run_target(c, o, g, t, err);
    const char *md = NULL;
    if (!rc)
        rc = bmx_flad_cmp_write(g->cmp, c->run.out, &md, err);
    if (!rc && !(*table_md = strdup(md ? md : "")))
        rc = bmx_err_set(err, BMX_ENOMEM, "out of memory");
    bmx_flad_cmp_free(g->cmp);
    free(g);
    return rc;
}
