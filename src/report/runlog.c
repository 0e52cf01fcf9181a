/* src/report/runlog.c - load a run's log.jsonl into arrays. */
#include "bmx/report.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

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
    free(l->alpha);
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

static char *str_dup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

/* Bounds of what a real run logs: steps and token counts up to 1e15 (a million times any
 * run), losses finite and >= 0, perplexities finite and >= 1, probabilities in [0, 1]. */
#define LOG_MAX_COUNT 1e15

/* A value check: finite, within [lo, hi]; integral when asked. */
struct range {
    double lo, hi;
    int integral;
};

static const struct range R_LOSS = {0.0, INFINITY, 0}, R_PPL = {1.0, INFINITY, 0},
                          R_PROB = {0.0, 1.0, 0}, R_COUNT = {0.0, LOG_MAX_COUNT, 1},
                          R_DCOUNT = {0.0, INT_MAX, 1};

static int in_range(double x, struct range r)
{
    return isfinite(x) && x >= r.lo && x <= r.hi && (!r.integral || x == floor(x));
}

/* Why a field is bad, for the message: "\"key\" = VALUE is out of range" etc. */
static void why_field(char *why, size_t cap, const bmx_jval *o, const char *key, int idx,
                      const char *want)
{
    const bmx_jval *v = bmx_jval_get(o, key);
    char at[24] = "";
    if (idx >= 0) {
        snprintf(at, sizeof at, "[%d]", idx);
        v = v && v->t == BMX_JARR && (size_t)idx < v->n ? v->items[idx] : NULL;
    }
    if (!v)
        snprintf(why, cap, "\"%s\"%s is missing (%s)", key, at, want);
    else if (v->t != BMX_JNUM)
        snprintf(why, cap, "\"%s\"%s is not a number (%s)", key, at, want);
    else
        snprintf(why, cap, "\"%s\"%s = %.40s is out of range (%s)", key, at, v->s, want);
}

/* K numbers within r (nulls as NAN when allow_null) from an array member. */
static int nums(const bmx_jval *o, const char *key, int K, double *out, int allow_null,
                struct range r, const char *want, char *why, size_t wcap)
{
    const bmx_jval *a = bmx_jval_get(o, key);
    if (!a || a->t != BMX_JARR || a->n != (size_t)K) {
        snprintf(why, wcap, "\"%s\" is not an array of %d numbers (%s)", key, K, want);
        return -1;
    }
    for (int i = 0; i < K; i++) {
        if (a->items[i]->t == BMX_JNULL && allow_null)
            out[i] = NAN;
        else if (bmx_jval_as_double(a->items[i], &out[i]) || !in_range(out[i], r)) {
            why_field(why, wcap, o, key, i, want);
            return -1;
        }
    }
    return 0;
}

/* One number within r. */
static int num(const bmx_jval *o, const char *key, double *out, struct range r, const char *want,
               char *why, size_t wcap)
{
    if (bmx_jval_as_double(bmx_jval_get(o, key), out) || !in_range(*out, r)) {
        why_field(why, wcap, o, key, -1, want);
        return -1;
    }
    return 0;
}

/* The header's seed: an integer of 64 bits, written unsigned or as its signed reading. */
static int seed_of(const bmx_jval *v, uint64_t *out)
{
    uint64_t u;
    if (!v || v->t != BMX_JNUM)
        return -1;
    if (v->s[0] == '-') {
        bmx_jval neg = *v;
        neg.s = v->s + 1;
        if (bmx_jval_as_u64(&neg, &u) || u > (uint64_t)1 << 63)
            return -1;
        *out = (uint64_t)0 - u;
        return 0;
    }
    return bmx_jval_as_u64(v, out);
}

static int grow(void **p, size_t n, size_t esz)
{
    void *q = realloc(*p, n * esz);
    if (!q)
        return -1;
    *p = q;
    return 0;
}

/* What a record handler says: the record is good, impossible (why says why, or nothing: not
 * a run record at all), or memory ran out. */
enum { REC_OK, REC_BAD, REC_NOMEM };

/* The header (line 1): method, policy, domains, train tokens, and seed, steps and tokens per
 * step when present; sets l->K. */
static int header_record(bmx_runlog *l, const bmx_jval *v, const char *t, char *why, size_t wcap)
{
    const bmx_jval *m = bmx_jval_get(v, "method"), *p = bmx_jval_get(v, "policy"),
                   *d = bmx_jval_get(v, "domains");
    double x;
    if (strcmp(t, "header") != 0 || !m || m->t != BMX_JSTR || !p || p->t != BMX_JSTR || !d ||
        d->t != BMX_JARR || d->n == 0 || d->n > 1000000)
        return REC_BAD;
    l->method = str_dup(m->s);
    l->policy = str_dup(p->s);
    int K = l->K = (int)d->n;
    l->domains = calloc((size_t)K, sizeof *l->domains);
    l->train_tokens = calloc((size_t)K, sizeof *l->train_tokens);
    if (!l->method || !l->policy || !l->domains || !l->train_tokens)
        return REC_NOMEM;
    for (int i = 0; i < K; i++)
        if (d->items[i]->t != BMX_JSTR || !(l->domains[i] = str_dup(d->items[i]->s)))
            return REC_BAD;
    if (nums(v, "train_tokens", K, l->train_tokens, 0, R_COUNT, "a token count, 0 to 1e15", why,
             wcap))
        return REC_BAD;
    if (bmx_jval_get(v, "seed") && seed_of(bmx_jval_get(v, "seed"), &l->seed)) {
        why_field(why, wcap, v, "seed", -1, "an integer of 64 bits");
        return REC_BAD;
    }
    if (bmx_jval_get(v, "steps")) {
        if (num(v, "steps", &x, R_COUNT, "0 to 1e15", why, wcap))
            return REC_BAD;
        l->steps_planned = (long)x;
    }
    if (bmx_jval_get(v, "tokens_per_step")) {
        if (num(v, "tokens_per_step", &x, R_COUNT, "0 to 1e15", why, wcap))
            return REC_BAD;
        l->tokens_per_step = (long)x;
    }
    return REC_OK;
}

/* Room for step record i: the step arrays grow by doubling from 256 (*cap). */
static int step_room(bmx_runlog *l, size_t i, size_t *cap)
{
    size_t K = (size_t)l->K;
    if (i < *cap)
        return 0;
    *cap = *cap ? 2 * *cap : 256;
    return grow((void **)&l->step, *cap, sizeof *l->step) ||
           grow((void **)&l->loss, *cap, sizeof *l->loss) ||
           grow((void **)&l->grad_norm, *cap, sizeof *l->grad_norm) ||
           grow((void **)&l->probs, *cap * K, sizeof *l->probs) ||
           grow((void **)&l->dloss, *cap * K, sizeof *l->dloss) ||
           grow((void **)&l->dcount, *cap * K, sizeof *l->dcount) ||
           (l->alpha && grow((void **)&l->alpha, *cap * K, sizeof *l->alpha));
}

/* A doremi proxy's "alpha" (domain weights) of step record i: from the first record that has
 * one (a run resumed by a newer bmx starts them mid-log) every later record must. */
static int step_alpha(bmx_runlog *l, const bmx_jval *v, size_t i, size_t cap, char *why,
                      size_t wcap)
{
    size_t K = (size_t)l->K;
    if (!bmx_jval_get(v, "alpha")) {
        if (!l->alpha)
            return REC_OK;
        snprintf(why, wcap,
                 "no \"alpha\" after step %ld had one (a doremi proxy's step records "
                 "carry it from then on)",
                 l->step[l->alpha_from]);
        return REC_BAD;
    }
    if (!l->alpha) {
        if (!(l->alpha = malloc(cap * K * sizeof *l->alpha)))
            return REC_NOMEM;
        l->alpha_from = i;
    }
    if (nums(v, "alpha", l->K, l->alpha + i * K, 0, R_PROB, "weights in [0, 1]", why, wcap))
        return REC_BAD;
    return REC_OK;
}

/* A step record: step (increasing), loss, gradient norm, probabilities, per-domain losses
 * and counts, whether it was a probe step, and a doremi proxy's alpha. */
static int step_record(bmx_runlog *l, const bmx_jval *v, size_t *cap, char *why, size_t wcap)
{
    size_t i = l->nsteps, K = (size_t)l->K;
    double x;
    if (step_room(l, i, cap))
        return REC_NOMEM;
    double *cnt = malloc(K * sizeof *cnt);
    if (!cnt)
        return REC_NOMEM;
    int rc = REC_OK;
    if (num(v, "step", &x, R_COUNT, "a step number, 0 to 1e15", why, wcap) ||
        num(v, "loss", &l->loss[i], R_LOSS, "a loss, finite and >= 0", why, wcap) ||
        num(v, "grad_norm", &l->grad_norm[i], R_LOSS, "a norm, finite and >= 0", why, wcap) ||
        nums(v, "probs", l->K, l->probs + i * K, 0, R_PROB, "probabilities in [0, 1]", why, wcap) ||
        nums(v, "domain_loss", l->K, l->dloss + i * K, 1, R_LOSS,
             "losses, finite and >= 0, or null", why, wcap) ||
        nums(v, "domain_count", l->K, cnt, 0, R_DCOUNT, "counts, 0 to 2^31 - 1", why, wcap))
        rc = REC_BAD;
    else if (i > 0 && (long)x <= l->step[i - 1]) {
        snprintf(why, wcap, "step %ld after step %ld (steps must increase)", (long)x,
                 l->step[i - 1]);
        rc = REC_BAD;
    } else if ((rc = step_alpha(l, v, i, *cap, why, wcap)) == REC_OK) {
        l->step[i] = (long)x;
        const bmx_jval *pv = bmx_jval_get(v, "probe");
        double pr;
        if (pv && bmx_jval_as_double(pv, &pr) == 0 && pr != 0.0)
            l->nprobe++;
        for (size_t k = 0; k < K; k++)
            l->dcount[i * K + k] = (int)cnt[k];
        l->nsteps++;
    }
    free(cnt);
    return rc;
}

/* An eval record: step (increasing), per-domain losses, mean perplexity. */
static int eval_record(bmx_runlog *l, const bmx_jval *v, size_t *cap, char *why, size_t wcap)
{
    size_t i = l->nevals, K = (size_t)l->K;
    double x;
    if (i == *cap) {
        *cap = *cap ? 2 * *cap : 64;
        if (grow((void **)&l->eval_step, *cap, sizeof *l->eval_step) ||
            grow((void **)&l->eval_loss, *cap * K, sizeof *l->eval_loss) ||
            grow((void **)&l->eval_avg_ppl, *cap, sizeof *l->eval_avg_ppl))
            return REC_NOMEM;
    }
    if (num(v, "step", &x, R_COUNT, "a step number, 0 to 1e15", why, wcap) ||
        nums(v, "loss", l->K, l->eval_loss + i * K, 0, R_LOSS, "losses, finite and >= 0", why,
             wcap) ||
        num(v, "avg_ppl", &l->eval_avg_ppl[i], R_PPL, "a perplexity, finite and >= 1", why, wcap))
        return REC_BAD;
    if (i > 0 && (long)x <= l->eval_step[i - 1]) {
        snprintf(why, wcap,
                 "evaluation at step %ld after one at step %ld (steps "
                 "must increase)",
                 (long)x, l->eval_step[i - 1]);
        return REC_BAD;
    }
    l->eval_step[i] = (long)x;
    l->nevals++;
    return REC_OK;
}

/* One line of the log (without its newline), number lineno, into l. */
static int load_line(bmx_runlog *l, const char *file, long lineno, const char *line, size_t len,
                     size_t caps[2], bmx_err *err)
{
    bmx_jval *v;
    bmx_err jerr;
    if (bmx_jval_parse(line, len, &v, &jerr))
        return bmx_err_set(err, jerr.code, "%s:%ld: not JSON: %s", file, lineno, jerr.msg);
    const bmx_jval *type = bmx_jval_get(v, "type");
    char t[32], why[200] = "";
    snprintf(t, sizeof t, "%s", type && type->t == BMX_JSTR ? type->s : "");
    int r = REC_BAD;
    if (lineno == 1)
        r = header_record(l, v, t, why, sizeof why);
    else if (strcmp(t, "step") == 0)
        r = step_record(l, v, &caps[0], why, sizeof why);
    else if (strcmp(t, "eval") == 0)
        r = eval_record(l, v, &caps[1], why, sizeof why);
    bmx_jval_free(v);
    if (r == REC_NOMEM)
        return bmx_err_set(err, BMX_ENOMEM, "out of memory");
    if (r == REC_BAD && why[0])
        return bmx_err_set(err, BMX_ECORRUPT,
                           "%s:%ld: impossible %s record: %s; the log is damaged or was "
                           "edited (give the log of a 'bmx train' run)",
                           file, lineno, lineno == 1 ? "header" : t, why);
    if (r == REC_BAD)
        return bmx_err_set(err, BMX_ECORRUPT,
                           "%s:%ld: not a bmx run record (%s): the log must start with a "
                           "header and hold step and eval records of %d domains",
                           file, lineno, lineno == 1 ? "no header" : t, l->K);
    return 0;
}

/* Every line of the open log f (named file) into l. */
static int load_lines(bmx_runlog *l, FILE *f, const char *file, bmx_err *err)
{
    char *line = NULL;
    size_t lcap = 0, caps[2] = {0, 0};
    ssize_t len;
    long lineno = 0;
    int rc = 0;
    while (!rc && (len = getline(&line, &lcap, f)) > 0) {
        lineno++;
        if (line[len - 1] != '\n' && l->live)
            break; /* the live run's writer is in the middle of this line */
        if (line[len - 1] != '\n')
            rc = bmx_err_set(err, BMX_ECORRUPT,
                             "%s:%ld: the last line is cut short (the run was killed while "
                             "writing): resume it with 'bmx train --resume'",
                             file, lineno);
        else
            rc = load_line(l, file, lineno, line, (size_t)len - 1, caps, err);
    }
    if (!rc && ferror(f))
        rc = bmx_err_set(err, BMX_EIO, "cannot read %s", file);
    if (!rc && lineno == 0)
        rc = bmx_err_set(err, BMX_ECORRUPT, "%s is empty: the run never started", file);
    free(line);
    return rc;
}

/* Does a process hold the lock of run folder dir (bmx/run.h's bmx_run_lock: flock on
 * dir/lock)? Then the run is still going. */
static int run_is_live(const char *dir)
{
    char p[PATH_MAX + 16];
    snprintf(p, sizeof p, "%s/lock", dir);
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    int held = flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
    close(fd);
    return held;
}

int bmx_runlog_load(const char *path, bmx_runlog **out, bmx_err *err)
{
    char file[PATH_MAX + 16];
    struct stat st;
    bmx_err oerr;
    FILE *f;
    int rc = 0;
    bmx_runlog *l = calloc(1, sizeof *l);

    *out = NULL;
    if (!l)
        return bmx_err_set(err, BMX_ENOMEM, "out of memory");
    size_t pl = strlen(path);
    int is_dir = stat(path, &st) == 0 ? S_ISDIR(st.st_mode)
                                      : !(pl > 6 && strcmp(path + pl - 6, ".jsonl") == 0);
    char run[PATH_MAX + 8];
    snprintf(run, sizeof run, "%s", path);
    if (is_dir) {
        snprintf(file, sizeof file, "%s/log.jsonl", path);
        /* a DoReMi folder (bmx doremi, compare's doremi-sN) stands for its final run */
        char fin[PATH_MAX + 16];
        snprintf(fin, sizeof fin, "%s/final/log.jsonl", path);
        if (stat(file, &st) != 0 && stat(fin, &st) == 0) {
            snprintf(run, sizeof run, "%s/final", path);
            snprintf(file, sizeof file, "%s", fin);
        }
    } else {
        snprintf(file, sizeof file, "%s", path);
    }
    l->path = str_dup(run);
    l->live = is_dir && run_is_live(run);
    if ((rc = bmx_file_fopen_regular(file, &f, &oerr)) < 0) {
        bmx_runlog_free(l);
        return bmx_err_set(err, rc,
                           "cannot open the run log: %s (give a run folder of 'bmx train', a "
                           "DoReMi folder of 'bmx doremi', or a log.jsonl)",
                           oerr.msg);
    }
    rc = load_lines(l, f, file, err);
    fclose(f);
    if (rc) {
        bmx_runlog_free(l);
        return rc;
    }
    *out = l;
    return 0;
}
