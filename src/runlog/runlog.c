/* src/runlog/runlog.c - load a run's log.jsonl into arrays. */
#include "bmx/runlog.h"
#include "bmx/report.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void bmx_runlog_free(bmx_runlog *l)
{
    if (!l)
        return;
    free(l->path);
    free(l->method);
    free(l->policy);
    for (int i = 0; i < l->K; i++)
        free(l->domains ? l->domains[i] : NULL);
    free(l->domains);
    free(l->train_tokens);
    free(l->step);
    free(l->loss);
    free(l->grad_norm);
    free(l->probs);
    free(l->dloss);
    free(l->dcount);
    free(l->eval_step);
    free(l->eval_loss);
    free(l->eval_avg_ppl);
    free(l);
}

int bmx_runlog_is_static(const bmx_runlog *l)
{
    const char *p = l->policy;
    size_t n = strcspn(p, ":");
    return (n == 7 && strncmp(p, "uniform", 7) == 0) || (n == 7 && strncmp(p, "natural", 7) == 0) ||
           (n == 7 && strncmp(p, "weights", 7) == 0);
}

size_t bmx_runlog_uniform_steps(const bmx_runlog *l)
{
    size_t n = 0;
    for (size_t s = 0; s < l->nsteps; s++) {
        const double *pi = l->probs + s * (size_t)l->K;
        int u = 1;
        for (int d = 0; d < l->K && u; d++)
            u = fabs(pi[d] - 1.0 / l->K) <= 1e-12;
        n += (size_t)u;
    }
    return n;
}

static char *dup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

/* K numbers (nulls as NAN when allow_null) from an array member. */
static int nums(const bmx_jval *o, const char *key, int K, double *out, int allow_null)
{
    const bmx_jval *a = bmx_jval_get(o, key);
    if (!a || a->t != BMX_JARR || a->n != (size_t)K)
        return -1;
    for (int i = 0; i < K; i++) {
        if (a->items[i]->t == BMX_JNULL && allow_null)
            out[i] = NAN;
        else if (bmx_jval_as_double(a->items[i], &out[i]))
            return -1;
    }
    return 0;
}

static int num(const bmx_jval *o, const char *key, double *out)
{
    return bmx_jval_as_double(bmx_jval_get(o, key), out);
}

static int grow(void **p, size_t n, size_t esz)
{
    void *q = realloc(*p, n * esz);
    if (!q)
        return -1;
    *p = q;
    return 0;
}

int bmx_runlog_load(const char *path, bmx_runlog **out, bmx_err *err)
{
    char file[PATH_MAX + 16];
    struct stat st;
    FILE *f;
    char *line = NULL;
    size_t lcap = 0;
    ssize_t len;
    long lineno = 0;
    int rc = 0;
    size_t scap = 0, ecap = 0;
    bmx_runlog *l = calloc(1, sizeof *l);

    *out = NULL;
    if (!l)
        return bmx_err_set(err, BMX_ENOMEM, "out of memory");
    size_t pl = strlen(path);
    int is_dir = stat(path, &st) == 0 ? S_ISDIR(st.st_mode)
                                      : !(pl > 6 && strcmp(path + pl - 6, ".jsonl") == 0);
    if (is_dir)
        snprintf(file, sizeof file, "%s/log.jsonl", path);
    else
        snprintf(file, sizeof file, "%s", path);
    l->path = dup(path);
    f = fopen(file, "r");
    if (!f) {
        bmx_runlog_free(l);
        return bmx_err_set(err, BMX_EIO,
                           "cannot open the run log %s: %s (give a run folder "
                           "of 'bmx train' or its log.jsonl)",
                           file, strerror(errno));
    }
    while ((len = getline(&line, &lcap, f)) > 0) {
        bmx_jval *v;
        bmx_err why;
        lineno++;
        if (line[len - 1] != '\n') {
            rc = bmx_err_set(err, BMX_ECORRUPT,
                             "%s:%ld: the last line is cut short (the run was killed while "
                             "writing): resume it with 'bmx train --resume'",
                             file, lineno);
            break;
        }
        if (bmx_jval_parse(line, (size_t)len - 1, &v, &why)) {
            rc = bmx_err_set(err, why.code, "%s:%ld: not JSON: %s", file, lineno, why.msg);
            break;
        }
        const bmx_jval *type = bmx_jval_get(v, "type");
        char t[32];
        snprintf(t, sizeof t, "%s", type && type->t == BMX_JSTR ? type->s : "");
        int K = l->K, bad = 0;
        double x;
        if (lineno == 1) {
            const bmx_jval *m = bmx_jval_get(v, "method"), *p = bmx_jval_get(v, "policy"),
                           *d = bmx_jval_get(v, "domains");
            if (strcmp(t, "header") != 0 || !m || m->t != BMX_JSTR || !p || p->t != BMX_JSTR ||
                !d || d->t != BMX_JARR || d->n == 0 || d->n > 1000000) {
                bad = 1;
            } else {
                l->method = dup(m->s);
                l->policy = dup(p->s);
                l->K = K = (int)d->n;
                l->domains = calloc((size_t)K, sizeof *l->domains);
                l->train_tokens = calloc((size_t)K, sizeof *l->train_tokens);
                if (!l->method || !l->policy || !l->domains || !l->train_tokens) {
                    bmx_jval_free(v);
                    rc = bmx_err_set(err, BMX_ENOMEM, "out of memory");
                    break;
                }
                for (int i = 0; i < K && !bad; i++) {
                    if (d->items[i]->t != BMX_JSTR)
                        bad = 1;
                    else if (!(l->domains[i] = dup(d->items[i]->s)))
                        bad = 1;
                }
                if (!bad && nums(v, "train_tokens", K, l->train_tokens, 0))
                    bad = 1;
                if (!bad && num(v, "seed", &x) == 0)
                    l->seed = (uint64_t)x;
                if (!bad && num(v, "steps", &x) == 0)
                    l->steps_planned = (long)x;
                if (!bad && num(v, "tokens_per_step", &x) == 0)
                    l->tokens_per_step = (long)x;
            }
        } else if (strcmp(t, "step") == 0) {
            size_t i = l->nsteps;
            if (i == scap) {
                scap = scap ? 2 * scap : 256;
                if (grow((void **)&l->step, scap, sizeof *l->step) ||
                    grow((void **)&l->loss, scap, sizeof *l->loss) ||
                    grow((void **)&l->grad_norm, scap, sizeof *l->grad_norm) ||
                    grow((void **)&l->probs, scap * (size_t)K, sizeof *l->probs) ||
                    grow((void **)&l->dloss, scap * (size_t)K, sizeof *l->dloss) ||
                    grow((void **)&l->dcount, scap * (size_t)K, sizeof *l->dcount)) {
                    bmx_jval_free(v);
                    rc = bmx_err_set(err, BMX_ENOMEM, "out of memory");
                    break;
                }
            }
            double *cnt = malloc((size_t)K * sizeof *cnt);
            if (!cnt || num(v, "step", &x) || num(v, "loss", &l->loss[i]) ||
                num(v, "grad_norm", &l->grad_norm[i]) ||
                nums(v, "probs", K, l->probs + i * (size_t)K, 0) ||
                nums(v, "domain_loss", K, l->dloss + i * (size_t)K, 1) ||
                nums(v, "domain_count", K, cnt, 0))
                bad = 1;
            else {
                l->step[i] = (long)x;
                double pr;
                if (num(v, "probe", &pr) == 0 && pr != 0.0)
                    l->nprobe++;
                for (int k = 0; k < K; k++)
                    l->dcount[i * (size_t)K + (size_t)k] = (int)cnt[k];
                l->nsteps++;
            }
            free(cnt);
        } else if (strcmp(t, "eval") == 0) {
            size_t i = l->nevals;
            if (i == ecap) {
                ecap = ecap ? 2 * ecap : 64;
                if (grow((void **)&l->eval_step, ecap, sizeof *l->eval_step) ||
                    grow((void **)&l->eval_loss, ecap * (size_t)K, sizeof *l->eval_loss) ||
                    grow((void **)&l->eval_avg_ppl, ecap, sizeof *l->eval_avg_ppl)) {
                    bmx_jval_free(v);
                    rc = bmx_err_set(err, BMX_ENOMEM, "out of memory");
                    break;
                }
            }
            if (num(v, "step", &x) || nums(v, "loss", K, l->eval_loss + i * (size_t)K, 0) ||
                num(v, "avg_ppl", &l->eval_avg_ppl[i]))
                bad = 1;
            else {
                l->eval_step[i] = (long)x;
                l->nevals++;
            }
        } else {
            bad = 1;
        }
        bmx_jval_free(v);
        if (bad) {
            rc = bmx_err_set(err, BMX_ECORRUPT,
                             "%s:%ld: not a bmx run record (%s): the log must start with a "
                             "header and hold step and eval records of %d domains",
                             file, lineno, lineno == 1 ? "no header" : t, l->K);
            break;
        }
    }
    if (!rc && ferror(f))
        rc = bmx_err_set(err, BMX_EIO, "cannot read %s", file);
    if (!rc && lineno == 0)
        rc = bmx_err_set(err, BMX_ECORRUPT, "%s is empty: the run never started", file);
    free(line);
    fclose(f);
    if (rc) {
        bmx_runlog_free(l);
        return rc;
    }
    *out = l;
    return 0;
}
