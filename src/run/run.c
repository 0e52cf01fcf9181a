/* src/run/run.c - the training loop with a mixing policy, evaluation, log, checkpoints. */
#include "bmx/run.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bmx/backend.h"
#include "bmx/checkpoint.h"
#include "bmx/cuda.h"
#include "bmx/data.h"
#include "bmx/dist.h"
#include "bmx/kernels.h"
#include "bmx/mix.h"
#include "bmx/model.h"
#include "bmx/report.h"
#include "bmx/rng.h"
#include "bmx/train.h"

#define RUN_STATE_VERSION 1u
#define VAL_SEED          0

struct bmx_run {
    bmx_run_config cfg;
    bmx_run_strings strs;
    char *cfg_text;
    char dir[PATH_MAX];
    int K;
    char **names;
    uint64_t *train_tokens;
    bmx_shard **train, **val;
    uint64_t **vstart;
    size_t *nval;
    bmx_rng *drng;
    bmx_mix *mix;
    int doremi, mean_obs;
    bmx_reward reward;
    bmx_model *model, *ref;
    bmx_trainer *tr, *reftr;
    bmx_backend *be, *refbe; /* the trainer's and the reference's backends */
    int device, precision;
    int *dseq; /* doremi: the step's domains, drawn first */
    int *inp, *tgt;
    uint32_t *win;
    double *tok, *rtok;
    double *probs, *dloss, *exsum, *extok, *vloss;
    int *dcount;
    FILE *log, *timing;
    long step;
    uint64_t tokens;
    long last_ckpt;
    int have_ckpt; /* a checkpoint of this run exists (written or resumed from) */
    int lock_fd;
    bmx_json j;
    bmx_dist *dist;   /* data-parallel: the ranks (NULL = this process alone) */
    int rank, nranks; /* 0 and 1 alone */
    int synced;       /* every rank passed set-up (collectives from here on) */
    double *obs;      /* the step's micro-batch losses, slot g (then excess sums, N*G more) */
    double *wt;       /* the step's micro-batch loss weights, slot g */
    double *vbuf;     /* validation: every domain's window losses */
    bmx_run_opts opts;
    int fresh;          /* a new run (not resumed) */
    int probe;          /* the step's round is one of aioli's probes */
    long evaluated;     /* the step of the last logged evaluation (-1: none yet) */
    double lsum;        /* data-parallel: the step's micro-batch losses summed in order */
    double loss, tok_s; /* of the last step */
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void path_in(const bmx_run *r, char *buf, size_t cap, const char *name)
{
    snprintf(buf, cap, "%s/%s", r->dir, name);
}

static void run_free(bmx_run *r)
{
    for (int i = 0; i < r->K; i++) {
        if (r->train)
            bmx_shard_free(r->train[i]);
        if (r->val)
            bmx_shard_free(r->val[i]);
        if (r->vstart)
            free(r->vstart[i]);
    }
    free(r->train);
    free(r->val);
    free(r->vstart);
    free(r->nval);
    free(r->drng);
    bmx_run_names_free(r->names, r->K);
    free(r->train_tokens);
    bmx_mix_free(r->mix);
    bmx_backend_free(r->be);
    bmx_backend_free(r->refbe);
    bmx_trainer_free(r->tr);
    bmx_trainer_free(r->reftr);
    free(r->dseq);
    bmx_model_free(r->model);
    bmx_model_free(r->ref);
    free(r->inp);
    free(r->tgt);
    free(r->win);
    free(r->tok);
    free(r->rtok);
    free(r->probs);
    free(r->dloss);
    free(r->exsum);
    free(r->extok);
    free(r->vloss);
    free(r->dcount);
    free(r->obs);
    free(r->wt);
    free(r->vbuf);
    if (r->log)
        fclose(r->log);
    if (r->timing)
        fclose(r->timing);
    bmx_json_free(&r->j);
    free(r->cfg_text);
    bmx_run_strings_free(&r->strs);
    bmx_run_unlock(r->lock_fd);
}

/* What a stop on a non-finite loss leaves behind, for its message. */
static const char *ckpt_note(const bmx_run *r, char *buf, size_t cap)
{
    if (r->have_ckpt)
        snprintf(buf, cap, "the last good checkpoint, step %ld, is intact in %s/checkpoint.bin",
                 r->last_ckpt, r->dir);
    else
        snprintf(buf, cap,
                 "no checkpoint was written yet, the first was due at step %ld; log.jsonl "
                 "holds the steps so far",
                 r->cfg.ckpt_every ? r->cfg.ckpt_every : r->cfg.steps);
    return buf;
}

/* The policy's independent work (ado's refits) over the run's threads. */
static void parallel_for(void *ctx, int n, bmx_mix_task task, void *arg)
{
    (void)ctx;
#pragma omp parallel for schedule(dynamic, 16)
    for (int i = 0; i < n; i++)
        task(arg, i);
}

/* ---- weights ---- */

static int parse_weights(const char *s, int K, double *w, bmx_err *err)
{
    int n = 0;
    const char *p = s;
    while (*p) {
        char *end;
        errno = 0;
        double x = strtod(p, &end);
        if (end == p || errno || !isfinite(x) || x < 0)
            return bmx_err_set(err, BMX_EINVAL,
                               "weights '%s': give %d comma-separated finite numbers >= 0", s, K);
        if (n < K)
            w[n] = x;
        n++;
        p = end;
        while (*p == ' ')
            p++;
        if (*p == ',')
            p++;
        else if (*p)
            return bmx_err_set(err, BMX_EINVAL, "weights '%s': unexpected '%c'", s, *p);
    }
    if (n != K)
        return bmx_err_set(err, BMX_EINVAL,
                           "weights '%s' has %d values but the run has %d domains (in the order "
                           "of the log header)",
                           s, n, K);
    return 0;
}

/* ---- log records ---- */

static int put_line(bmx_run *r, FILE *f, const char *what, bmx_err *err)
{
    return bmx_json_line(&r->j, f, what, err);
}

static int write_header(bmx_run *r, bmx_err *err)
{
    bmx_json *j = &r->j;
    bmx_json_obj(j);
    bmx_json_kv_str(j, "type", "header");
    bmx_json_kv_int(j, "version", 1);
    bmx_json_kv_str(j, "method", *r->cfg.method ? r->cfg.method : bmx_mix_name(r->mix));
    bmx_json_kv_str(j, "policy", bmx_mix_spec(r->mix));
    bmx_json_kv_int(j, "seed", (long long)r->cfg.seed);
    bmx_json_key(j, "domains");
    bmx_json_arr(j);
    for (int i = 0; i < r->K; i++)
        bmx_json_str(j, r->names[i]);
    bmx_json_end_arr(j);
    bmx_json_key(j, "train_tokens");
    bmx_json_arr(j);
    for (int i = 0; i < r->K; i++)
        bmx_json_int(j, (long long)r->train_tokens[i]);
    bmx_json_end_arr(j);
    bmx_json_key(j, "val_windows");
    bmx_json_arr(j);
    for (int i = 0; i < r->K; i++)
        bmx_json_int(j, (long long)r->nval[i]);
    bmx_json_end_arr(j);
    bmx_json_kv_int(j, "params", (long long)bmx_model_num_params(r->model));
    bmx_json_kv_int(j, "tokens_per_step",
                    (long long)r->cfg.batch * r->cfg.seq * (long long)r->cfg.accum * r->nranks);
    if (r->nranks > 1)
        bmx_json_kv_int(j, "ranks", r->nranks);
    bmx_json_kv_int(j, "steps", r->cfg.steps);
    bmx_json_kv_str(j, "config", r->cfg_text);
    bmx_json_end_obj(j);
    return put_line(r, r->log, "log.jsonl", err);
}

/* ---- evaluation ---- */

static int together(bmx_run *r, int rc, bmx_err *err);

/* Per-domain mean loss over the fixed validation windows into r->vloss. Batch k of every
 * domain's windows runs on rank k mod N; the losses are summed over the ranks (each slot from
 * one rank) and added up in window order, so one rank sums exactly as N do. */
static int val_losses(bmx_run *r, bmx_err *err)
{
    int B = r->cfg.batch, T = r->cfg.seq;
    double *seq = r->vbuf;
    size_t nv = 0, base = 0;
    int rc = 0;
    for (int d = 0; d < r->K; d++)
        nv += r->nval[d];
    memset(seq, 0, nv * sizeof *seq);
    for (int d = 0; !rc && d < r->K; base += r->nval[d], d++) {
        for (size_t w0 = 0; !rc && w0 < r->nval[d]; w0 += (size_t)B) {
            int nb = (int)(r->nval[d] - w0 < (size_t)B ? r->nval[d] - w0 : (size_t)B);
            if ((int)((w0 / (size_t)B) % (size_t)r->nranks) != r->rank)
                continue;
            for (int b = 0; b < nb; b++) {
                bmx_shard_copy(r->val[d], r->vstart[d][w0 + (size_t)b], (size_t)T + 1, r->win);
                for (int k = 0; k < T; k++) {
                    r->inp[b * T + k] = (int)r->win[k];
                    r->tgt[b * T + k] = (int)r->win[k + 1];
                }
            }
            rc = bmx_backend_eval(r->be, r->inp, r->tgt, nb, T, NULL, seq + base + w0, NULL, err);
        }
    }
    if ((rc = bmx_dist_agree(r->dist, rc, err)) ||
        (rc = bmx_dist_sum_doubles(r->dist, r->vbuf, nv, "the validation reduction", err)))
        return rc;
    seq = r->vbuf;
    for (int d = 0; d < r->K; d++) {
        double sum = 0;
        for (size_t w = 0; w < r->nval[d]; w++)
            sum += *seq++;
        r->vloss[d] = sum / (double)r->nval[d];
    }
    return 0;
}

int bmx_run_evaluate(bmx_run *r, bmx_run_eval *ev, bmx_err *err)
{
    int rc = val_losses(r, err);
    if (rc)
        return rc;
    ev->step = r->step;
    ev->ndomains = r->K;
    ev->loss = r->vloss;
    ev->avg_loss = 0;
    ev->avg_ppl = 0;
    for (int d = 0; d < r->K; d++) {
        ev->avg_loss += r->vloss[d];
        ev->avg_ppl += exp(r->vloss[d]);
    }
    ev->avg_loss /= r->K;
    ev->avg_ppl /= r->K;
    return BMX_OK;
}

/* A non-finite validation loss stops the run (every rank: the losses are reduced). */
static int eval_verdict(bmx_run *r, const bmx_run_eval *ev, bmx_err *err)
{
    char note[PATH_MAX + 100];
    if (isfinite(ev->avg_loss))
        return BMX_OK;
    return together(r,
                    bmx_err_set(err, BMX_ESTATE,
                                "step %ld: the validation loss is not finite; stopped (%s): "
                                "lower --lr",
                                ev->step, ckpt_note(r, note, sizeof note)),
                    err);
}

int bmx_run_log_eval(bmx_run *r, const bmx_run_eval *ev, bmx_err *err)
{
    int rc = eval_verdict(r, ev, err);
    if (rc)
        return rc;
    bmx_json *j = &r->j;
    bmx_json_obj(j);
    bmx_json_kv_str(j, "type", "eval");
    bmx_json_kv_int(j, "step", ev->step);
    bmx_json_key(j, "loss");
    bmx_json_nums(j, ev->loss, (size_t)ev->ndomains);
    bmx_json_key(j, "ppl");
    bmx_json_arr(j);
    for (int d = 0; d < ev->ndomains; d++)
        bmx_json_num(j, exp(ev->loss[d]));
    bmx_json_end_arr(j);
    bmx_json_kv_num(j, "avg_loss", ev->avg_loss);
    bmx_json_kv_num(j, "avg_ppl", ev->avg_ppl);
    bmx_json_end_obj(j);
    if ((rc = put_line(r, r->log, "log.jsonl", err)))
        return rc;
    r->evaluated = ev->step;
    return BMX_OK;
}

/* ---- the checkpoint: the trainer's sections, then "run" (u32 version, u32 domains, u64 step,
 * tokens, the byte length of log.jsonl), "rng" (each domain's generator, 4 x u64) and
 * "policy" (bmx_mix_save) ---- */

#define RUN_SECTION 32

/* Data-parallel: the run state's digest (policy state, generators, step, tokens) and the
 * parameters' digest against rank 0's; a mismatch stops every rank. */
static int check_lockstep(bmx_run *r, bmx_err *err)
{
    size_t mlen = 0, np = bmx_backend_num_params(r->be);
    int rc = bmx_mix_save(r->mix, NULL, 0, &mlen, err);
    unsigned char *buf = rc ? NULL : malloc(mlen > np * sizeof(float) ? mlen : np * sizeof(float));
    char what[96];
    if (!rc && !buf)
        rc = bmx_err_set(err, BMX_ENOMEM, "out of memory for the lockstep check");
    if (!rc)
        rc = bmx_mix_save(r->mix, buf, mlen, &mlen, err);
    uint64_t h = BMX_DIGEST_INIT, hp = BMX_DIGEST_INIT;
    if (!rc) {
        h = bmx_digest(h, buf, mlen);
        for (int i = 0; i < r->K; i++)
            h = bmx_digest(h, r->drng[i].s, sizeof r->drng[i].s);
        h = bmx_digest(h, &r->step, sizeof r->step);
        h = bmx_digest(h, &r->tokens, sizeof r->tokens);
        rc = bmx_backend_get_params(r->be, (float *)buf, err);
    }
    if (!rc)
        hp = bmx_digest(hp, buf, np * sizeof(float));
    free(buf);
    if ((rc = bmx_dist_agree(r->dist, rc, err)))
        return rc;
    snprintf(what, sizeof what, "step %ld: the policy and generator state", r->step);
    if ((rc = bmx_dist_check_digest(r->dist, h, what, err)))
        return rc;
    snprintf(what, sizeof what, "step %ld: the model parameters", r->step);
    return bmx_dist_check_digest(r->dist, hp, what, err);
}

static int write_checkpoint(bmx_run *r, bmx_err *err);

/* Every rank: the lockstep check, then rank 0 writes; every rank learns how that went. */
static int checkpoint(bmx_run *r, bmx_err *err)
{
    int rc = 0;
    if (r->nranks > 1 && (rc = check_lockstep(r, err)))
        return rc;
    if (r->rank == 0)
        rc = write_checkpoint(r, err);
    if (r->nranks > 1)
        rc = bmx_dist_agree(r->dist, rc, err);
    if (!rc) {
        r->last_ckpt = r->step;
        r->have_ckpt = 1;
    }
    return rc;
}

static int write_checkpoint(bmx_run *r, bmx_err *err)
{
    char path[PATH_MAX + 32];
    unsigned char run[RUN_SECTION], *rng = NULL, *pol = NULL;
    size_t mlen = 0;
    bmx_ckpt_writer *w = NULL;
    int rc;
    if (fflush(r->log) || fflush(r->timing) || fsync(fileno(r->log)) || fsync(fileno(r->timing)))
        return bmx_err_set(err, BMX_EIO, "cannot write the logs of %s: %s", r->dir,
                           strerror(errno));
    if ((rc = bmx_mix_save(r->mix, NULL, 0, &mlen, err)))
        return rc;
    rng = malloc((size_t)r->K * 32);
    pol = malloc(mlen ? mlen : 1);
    if (!rng || !pol) {
        free(rng);
        free(pol);
        return bmx_err_set(err, BMX_ENOMEM, "out of memory for the run state");
    }
    bmx_le_put32(run, RUN_STATE_VERSION);
    bmx_le_put32(run + 4, (uint32_t)r->K);
    bmx_le_put64(run + 8, (uint64_t)r->step);
    bmx_le_put64(run + 16, r->tokens);
    bmx_le_put64(run + 24, (uint64_t)ftell(r->log));
    for (int i = 0; i < r->K; i++)
        for (int k = 0; k < 4; k++)
            bmx_le_put64(rng + 32 * i + 8 * k, r->drng[i].s[k]);
    path_in(r, path, sizeof path, "checkpoint.bin");
    if (!(rc = bmx_mix_save(r->mix, pol, mlen, &mlen, err)) &&
        !(rc = bmx_backend_sync_to_host(r->be, err)) && !(rc = bmx_ckpt_writer_create(&w, err)) &&
        !(rc = bmx_ckpt_add_trainer(w, r->tr, err)) &&
        !(rc = bmx_ckpt_add(w, "run", run, sizeof run, err)) &&
        !(rc = bmx_ckpt_add(w, "rng", rng, (size_t)r->K * 32, err)) &&
        !(rc = bmx_ckpt_add(w, "policy", pol, mlen, err)))
        rc = bmx_ckpt_save(w, path, err);
    bmx_ckpt_writer_free(w);
    free(rng);
    free(pol);
    return rc;
}

static int cut_file(const char *path, uint64_t len, bmx_err *err)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return bmx_err_set(err, BMX_EIO, "cannot resume: %s is missing: %s", path, strerror(errno));
    if ((uint64_t)st.st_size < len)
        return bmx_err_set(err, BMX_ECORRUPT,
                           "cannot resume: %s holds %lld bytes but the checkpoint wrote %llu; "
                           "the run folder was changed by hand",
                           path, (long long)st.st_size, (unsigned long long)len);
    if (truncate(path, (off_t)len) != 0)
        return bmx_err_set(err, BMX_EIO, "cannot cut %s back to the checkpoint: %s", path,
                           strerror(errno));
    return 0;
}

/* timing.jsonl is wall-clock, so its length is not in the checkpoint: keep its lines up to
 * step `step` ({"step":N,...} each). */
static int cut_timing(const char *path, long step, bmx_err *err)
{
    FILE *f;
    char line[512];
    long keep = 0;
    if (access(path, F_OK) != 0)
        return 0; /* written again from here */
    if (bmx_file_fopen_regular(path, &f, err) < 0)
        return BMX_EIO;
    while (fgets(line, sizeof line, f)) {
        long s = -1;
        if (sscanf(line, "{\"step\":%ld", &s) != 1 || s > step || !strchr(line, '\n'))
            break;
        keep = ftell(f);
    }
    fclose(f);
    if (truncate(path, (off_t)keep) != 0)
        return bmx_err_set(err, BMX_EIO, "cannot cut %s back to the checkpoint: %s", path,
                           strerror(errno));
    return 0;
}

/* The configuration the run started with (the "config" of the log's header line) against
 * config.txt now: every key but steps, threads and data must be the same; the corpus (which
 * may have moved) must hold the same domains with the same token counts. */
static int check_header(bmx_run *r, const char *line, size_t n, const char *path, bmx_err *err)
{
    bmx_jval *h = NULL;
    int rc = bmx_jval_parse(line, n, &h, err);
    if (rc) {
        char why[BMX_ERR_LEN];
        snprintf(why, sizeof why, "%s", err->msg);
        return bmx_err_set(err, BMX_ECORRUPT, "cannot resume: the header line of %s: %s", path,
                           why);
    }
    bmx_jval *t = bmx_jval_get(h, "type"), *cf = bmx_jval_get(h, "config");
    bmx_jval *dn = bmx_jval_get(h, "domains"), *tt = bmx_jval_get(h, "train_tokens");
    bmx_jval *rk = bmx_jval_get(h, "ranks");
    uint64_t ranks = 1;
    if (rk && (bmx_jval_as_u64(rk, &ranks) != 0 || ranks < 1 || ranks > INT_MAX)) {
        bmx_jval_free(h);
        return bmx_err_set(err, BMX_ECORRUPT, "cannot resume: the header of %s has a bad ranks",
                           path);
    }
    if (ranks != (uint64_t)r->nranks) {
        bmx_jval_free(h);
        return bmx_err_set(err, BMX_EINVAL,
                           "cannot resume %s: it was started on %llu rank%s and this is %d; an "
                           "exact resume needs the same number: run it again with %s%llu%s",
                           r->dir, (unsigned long long)ranks, ranks > 1 ? "s" : "", r->nranks,
                           ranks > 1 ? "mpirun -np " : "one process (", (unsigned long long)ranks,
                           ranks > 1 ? " bmx train --resume ..." : ", no mpirun)");
    }
    if (!t || t->t != BMX_JSTR || strcmp(t->s, "header") != 0) {
        bmx_jval_free(h);
        return bmx_err_set(err, BMX_ECORRUPT,
                           "cannot resume: %s does not start with the run's header record", path);
    }
    int same = dn && tt && dn->t == BMX_JARR && tt->t == BMX_JARR && dn->n == (size_t)r->K &&
               tt->n == (size_t)r->K;
    for (int i = 0; same && i < r->K; i++) {
        uint64_t x;
        same = dn->items[i]->t == BMX_JSTR && strcmp(dn->items[i]->s, r->names[i]) == 0 &&
               bmx_jval_as_u64(tt->items[i], &x) == 0 && x == r->train_tokens[i];
    }
    if (!same) {
        bmx_jval_free(h);
        return bmx_err_set(err, BMX_EINVAL,
                           "cannot resume: the domains or token counts of %s differ from those "
                           "in the header of %s: give the corpus the run started on",
                           r->cfg.data, path);
    }
    bmx_run_config hc = bmx_run_config_default();
    bmx_run_strings st = {0};
    char name[PATH_MAX + 64], diff[300] = "";
    size_t m = 0;
    snprintf(name, sizeof name, "the header of %s", path);
    if (cf && cf->t == BMX_JSTR)
        rc = bmx_run_config_parse(&hc, cf->s, strlen(cf->s), name, &st, err);
    for (const bmx_run_key *k = bmx_run_keys(); !rc && cf && k->name; k++) {
        const char *a = (const char *)&hc + k->offset, *b = (const char *)&r->cfg + k->offset;
        int differ = 0;
        if (!strcmp(k->name, "steps") || !strcmp(k->name, "threads") || !strcmp(k->name, "data") ||
            !strcmp(k->name, "out") || !strcmp(k->name, "device") || !strcmp(k->name, "precision"))
            continue;
        switch (k->type) {
        case BMX_RK_STR:
            differ = strcmp(*(const char *const *)a, *(const char *const *)b) != 0;
            break;
        case BMX_RK_INT:
            differ = *(const int *)a != *(const int *)b;
            break;
        case BMX_RK_LONG:
            differ = *(const long *)a != *(const long *)b;
            break;
        case BMX_RK_U64:
            differ = *(const uint64_t *)a != *(const uint64_t *)b;
            break;
        case BMX_RK_DOUBLE:
            differ = *(const double *)a != *(const double *)b;
            break;
        }
        if (differ && m < sizeof diff)
            m += (size_t)snprintf(diff + m, sizeof diff - m, "%s%s", m ? ", " : "", k->name);
    }
    bmx_run_strings_free(&st);
    bmx_jval_free(h);
    if (rc)
        return rc;
    if (m)
        return bmx_err_set(err, BMX_EINVAL,
                           "cannot resume %s: config.txt differs from the configuration the run "
                           "started with (in the header of %s) in: %s. An exact resume cannot "
                           "change them: restore them, or start a new run from this config.txt",
                           r->dir, path, diff);
    return 0;
}

/* log.jsonl up to the checkpoint's length loglen must be the header, then step records
 * 1..step (evaluations between them), ending at a line's end. */
static int check_log(bmx_run *r, const char *path, uint64_t loglen, const char *ck, bmx_err *err)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return bmx_err_set(err, BMX_EIO, "cannot resume: %s is missing: %s", path, strerror(errno));
    if (loglen == 0 || (uint64_t)st.st_size < loglen)
        return bmx_err_set(err, BMX_ECORRUPT,
                           "cannot resume: %s says log.jsonl held %llu bytes at step %ld, but %s "
                           "holds %lld%s; the run folder was changed by hand",
                           ck, (unsigned long long)loglen, r->step, path, (long long)st.st_size,
                           loglen ? "" : " (a log always starts with its header)");
    FILE *f = fopen(path, "rb");
    if (!f)
        return bmx_err_set(err, BMX_EIO, "cannot resume: cannot open %s: %s", path,
                           strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    uint64_t pos = 0;
    long steps = 0, lineno = 0;
    int rc = 0;
    static const char step_rec[] = "{\"type\":\"step\",\"step\":";
    while (!rc && pos < loglen) {
        ssize_t n = getline(&line, &cap, f);
        if (n <= 0 || (pos += (uint64_t)n) > loglen || line[n - 1] != '\n') {
            rc = bmx_err_set(err, BMX_ECORRUPT,
                             "cannot resume: %s says log.jsonl held %llu bytes, which is not "
                             "the end of a line of %s; the run folder was changed by hand",
                             ck, (unsigned long long)loglen, path);
            break;
        }
        if (++lineno == 1) {
            rc = check_header(r, line, (size_t)n - 1, path, err);
        } else if (strncmp(line, step_rec, sizeof step_rec - 1) == 0) {
            if (strtol(line + sizeof step_rec - 1, NULL, 10) != ++steps)
                rc = bmx_err_set(err, BMX_ECORRUPT,
                                 "cannot resume: %s:%ld is not the record of step %ld; the log "
                                 "was changed by hand",
                                 path, lineno, steps);
        }
    }
    free(line);
    fclose(f);
    if (!rc && steps != r->step)
        rc = bmx_err_set(err, BMX_ECORRUPT,
                         "cannot resume: %s says step %ld, but %s holds %ld step records up to "
                         "the checkpoint's length; refusing to resume",
                         ck, r->step, path, steps);
    return rc;
}

/* The policy of a checkpoint's "policy" section, checked against the run's. */
static int restore_policy(bmx_run *r, bmx_ckpt_reader *ck, bmx_err *err)
{
    void *buf = NULL;
    size_t n = 0;
    bmx_mix *m = NULL;
    int rc = bmx_ckpt_read_alloc(ck, "policy", &buf, &n, err);
    if (!rc)
        rc = bmx_mix_restore(&m, buf, n, err);
    free(buf);
    if (rc)
        return rc;
    if (bmx_mix_arms(m) != r->K || strcmp(bmx_mix_spec(m), bmx_mix_spec(r->mix)) != 0) {
        rc = bmx_err_set(err, BMX_ECORRUPT,
                         "%s: the policy state is %s over %d arms, the run's "
                         "is %s over %d",
                         bmx_ckpt_path(ck), bmx_mix_spec(m), bmx_mix_arms(m), bmx_mix_spec(r->mix),
                         r->K);
        bmx_mix_free(m);
        return rc;
    }
    bmx_mix_free(r->mix);
    r->mix = m;
    bmx_mix_set_parallel(r->mix, parallel_for, NULL);
    return BMX_OK;
}

static int restore(bmx_run *r, bmx_ckpt_reader *rd, bmx_err *err)
{
    unsigned char run[RUN_SECTION];
    const char *ck = bmx_ckpt_path(rd);
    int rc = bmx_ckpt_read(rd, "run", run, sizeof run, err);
    if (rc)
        return rc;
    uint32_t ver = bmx_le_get32(run), K = bmx_le_get32(run + 4);
    if (ver != RUN_STATE_VERSION || K != (uint32_t)r->K)
        return bmx_err_set(err, BMX_ECORRUPT,
                           "%s: run state version %u with %u domains; this run has %d domains "
                           "(version %u)",
                           ck, ver, K, r->K, RUN_STATE_VERSION);
    int64_t step = (int64_t)bmx_le_get64(run + 8);
    r->tokens = bmx_le_get64(run + 16);
    uint64_t loglen = bmx_le_get64(run + 24);
    if (step < 0 || step != (int64_t)bmx_trainer_step_count(r->tr))
        return bmx_err_set(err, BMX_ECORRUPT,
                           "%s: its run state says step %lld, its header step %ld: the file was "
                           "altered; refusing to resume from it",
                           ck, (long long)step, bmx_trainer_step_count(r->tr));
    r->step = (long)step;
    /* the log (and the configuration in its header, so batch, seq and accum) first */
    char path[PATH_MAX + 32];
    path_in(r, path, sizeof path, "log.jsonl");
    if ((rc = check_log(r, path, loglen, ck, err)))
        return rc;
    uint64_t tps = (uint64_t)r->cfg.batch * (uint64_t)r->cfg.seq * (uint64_t)r->cfg.accum *
                   (uint64_t)r->nranks;
    if (r->tokens % tps != 0 || r->tokens / tps != (uint64_t)step)
        return bmx_err_set(err, BMX_ECORRUPT,
                           "%s: its run state says %llu tokens after %lld steps of %llu tokens: "
                           "the file was altered; refusing to resume from it",
                           ck, (unsigned long long)r->tokens, (long long)step,
                           (unsigned long long)tps);
    unsigned char *rng = malloc((size_t)r->K * 32);
    if (!rng)
        return bmx_err_set(err, BMX_ENOMEM, "out of memory for the run state");
    if (!(rc = bmx_ckpt_read(rd, "rng", rng, (size_t)r->K * 32, err)))
        for (int i = 0; i < r->K; i++)
            for (int k = 0; k < 4; k++)
                r->drng[i].s[k] = bmx_le_get64(rng + 32 * i + 8 * k);
    free(rng);
    if (rc || (rc = restore_policy(r, rd, err)))
        return rc;
    if (r->rank == 0 && (rc = cut_file(path, loglen, err)))
        return rc;
    path_in(r, path, sizeof path, "timing.jsonl");
    if (r->rank == 0 && (rc = cut_timing(path, r->step, err)))
        return rc;
    r->last_ckpt = r->step;
    r->have_ckpt = 1;
    return 0;
}

/* ---- set-up ---- */

static int mkdirs(const char *dir, bmx_err *err)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s", dir);
    for (char *s = p + 1; *s; s++)
        if (*s == '/') {
            *s = 0;
            if (mkdir(p, 0777) != 0 && errno != EEXIST)
                return bmx_err_set(err, BMX_EIO, "cannot create the folder %s: %s", p,
                                   strerror(errno));
            *s = '/';
        }
    if (mkdir(p, 0777) != 0 && errno != EEXIST)
        return bmx_err_set(err, BMX_EIO, "cannot create the run folder %s: %s", p, strerror(errno));
    return 0;
}

static int open_data(bmx_run *r, bmx_err *err)
{
    char path[PATH_MAX + 300];
    int rc = bmx_run_domains(r->cfg.data, r->cfg.domains, &r->names, &r->train_tokens, &r->K, err);
    if (rc)
        return rc;
    int K = r->K;
    r->train = calloc((size_t)K, sizeof *r->train);
    r->val = calloc((size_t)K, sizeof *r->val);
    r->vstart = calloc((size_t)K, sizeof *r->vstart);
    r->nval = calloc((size_t)K, sizeof *r->nval);
    r->drng = calloc((size_t)K, sizeof *r->drng);
    if (!r->train || !r->val || !r->vstart || !r->nval || !r->drng)
        return bmx_err_set(err, BMX_ENOMEM, "out of memory");
    for (int d = 0; d < K; d++) {
        snprintf(path, sizeof path, "%s/%s/train.bin", r->cfg.data, r->names[d]);
        if ((rc = bmx_shard_open(&r->train[d], path, err)))
            return rc;
        if (r->train[d]->ntokens < (uint64_t)r->cfg.seq + 1)
            return bmx_err_set(err, BMX_EINVAL,
                               "%s holds %llu tokens, fewer than seq + 1 = %d: lower --seq or "
                               "leave the domain out (--domains)",
                               path, (unsigned long long)r->train[d]->ntokens, r->cfg.seq + 1);
        snprintf(path, sizeof path, "%s/%s/val.bin", r->cfg.data, r->names[d]);
        if ((rc = bmx_shard_open(&r->val[d], path, err)))
            return rc;
        if (r->val[d]->vocab_size != r->train[0]->vocab_size ||
            r->train[d]->vocab_size != r->train[0]->vocab_size)
            return bmx_err_set(err, BMX_EINVAL,
                               "the shards of domain '%s' have vocabulary %u/%u, those of '%s' "
                               "%u: shard every domain with one tokenizer",
                               r->names[d], r->train[d]->vocab_size, r->val[d]->vocab_size,
                               r->names[0], r->train[0]->vocab_size);
        if ((rc = bmx_shard_val_windows(r->val[d], (size_t)r->cfg.seq, (size_t)r->cfg.eval_windows,
                                        VAL_SEED, &r->vstart[d], &r->nval[d], err)))
            return rc;
        if (r->nval[d] == 0)
            return bmx_err_set(err, BMX_EINVAL,
                               "%s holds %llu tokens, too few for one validation window of "
                               "seq + 1 = %d: lower --seq or leave the domain out",
                               path, (unsigned long long)r->val[d]->ntokens, r->cfg.seq + 1);
        bmx_rng_seed(&r->drng[d], r->cfg.seed ^ bmx_run_name_hash(r->names[d]), 1);
    }
    return 0;
}

static int make_policy(bmx_run *r, bmx_err *err)
{
    int K = r->K, rc;
    double *w = calloc((size_t)K, sizeof *w);
    const double *wp = NULL;
    char spec[1024];
    if (!w)
        return bmx_err_set(err, BMX_ENOMEM, "out of memory");
    if (*r->cfg.weights) {
        if ((rc = parse_weights(r->cfg.weights, K, w, err))) {
            free(w);
            return rc;
        }
        wp = w;
    }
    snprintf(spec, sizeof spec, "%s", r->cfg.policy);
    size_t nl = strcspn(spec, ":");
    double *tok = calloc((size_t)K, sizeof *tok);
    if (!tok) {
        free(w);
        return bmx_err_set(err, BMX_ENOMEM, "out of memory");
    }
    for (int i = 0; i < K; i++)
        tok[i] = (double)r->train_tokens[i];
    if ((nl == 7 && strncmp(spec, "natural", 7) == 0) ||
        (nl == 11 && strncmp(spec, "temperature", 11) == 0) ||
        (nl == 3 && strncmp(spec, "ado", 3) == 0)) { /* always the training tokens */
        memcpy(w, tok, (size_t)K * sizeof *w);
        wp = w;
    }
    /* a draw is one micro-batch: batch sequences of seq tokens (max-epochs, ado's n) */
    bmx_mix_data data = {tok, (double)r->cfg.batch * r->cfg.seq, (double)r->cfg.batch};
    /* doremi's vocab defaults to the shards' vocabulary (a parameter, not what it observes) */
    if (nl == 6 && strncmp(spec, "doremi", 6) == 0 && !strstr(spec, "vocab="))
        snprintf(spec + strlen(spec), sizeof spec - strlen(spec), "%svocab=%u",
                 strchr(spec, ':') ? "," : ":", r->train[0]->vocab_size);
    rc = bmx_mix_create_data(&r->mix, spec, K, wp, &data, r->cfg.seed, err);
    free(w);
    free(tok);
    if (rc)
        return rc;
    bmx_mix_set_parallel(r->mix, parallel_for, NULL);
    r->doremi = bmx_mix_observes(r->mix) == BMX_MIX_OBS_EXCESS;
    r->mean_obs = bmx_mix_round_mean(r->mix);
    if (r->nranks > 1 && strcmp(bmx_mix_name(r->mix), "exploit-only") == 0)
        return bmx_err_set(err, BMX_EINVAL,
                           "policy exploit-only scores the arms one micro-batch after another "
                           "within a step, which %d ranks cannot replay: run it on one process",
                           r->nranks);
    if ((rc = bmx_reward_parse(r->cfg.reward, &r->reward, err)))
        return rc;
    if (r->doremi && !*r->cfg.reference)
        return bmx_err_set(err, BMX_EINVAL,
                           "policy doremi needs --reference DIR, a finished run with the "
                           "baseline weights (or use 'bmx doremi', which trains it)");
    if (!r->doremi && *r->cfg.reference)
        return bmx_err_set(err, BMX_EINVAL,
                           "--reference is only for policy doremi (this run's policy is %s)",
                           bmx_mix_name(r->mix));
    return 0;
}

static int make_buffers(bmx_run *r, bmx_err *err)
{
    size_t N = (size_t)r->cfg.batch * (size_t)r->cfg.seq, K = (size_t)r->K;
    r->inp = malloc(N * sizeof *r->inp);
    r->tgt = malloc(N * sizeof *r->tgt);
    r->win = malloc(((size_t)r->cfg.seq + 1) * sizeof *r->win);
    r->tok = malloc((N > (size_t)r->cfg.batch ? N : (size_t)r->cfg.batch) * sizeof *r->tok);
    r->rtok = malloc(N * sizeof *r->rtok);
    r->probs = calloc(K, sizeof *r->probs);
    r->dloss = calloc(K, sizeof *r->dloss);
    r->exsum = calloc(K, sizeof *r->exsum);
    r->extok = calloc(K, sizeof *r->extok);
    r->vloss = calloc(K, sizeof *r->vloss);
    r->dcount = calloc(K, sizeof *r->dcount);
    size_t GT = (size_t)r->cfg.accum * (size_t)r->nranks, nv = 0;
    for (int d = 0; d < r->K; d++)
        nv += r->nval[d];
    r->dseq = calloc(GT, sizeof *r->dseq);
    r->obs = calloc(2 * GT + 1, sizeof *r->obs);
    r->wt = calloc(GT, sizeof *r->wt);
    r->vbuf = calloc(nv, sizeof *r->vbuf);
    if (!r->inp || !r->tgt || !r->win || !r->tok || !r->rtok || !r->probs || !r->dloss ||
        !r->exsum || !r->extok || !r->vloss || !r->dcount || !r->dseq || !r->obs || !r->wt ||
        !r->vbuf)
        return bmx_err_set(err, BMX_ENOMEM, "out of memory for batches of %zu tokens", N);
    return 0;
}

/* The run's device: the CPU trainer itself, or the CUDA trainer over it. */
static int make_backend(bmx_run *r, bmx_trainer *t, bmx_backend **out, bmx_err *err)
{
    if (r->device == BMX_DEVICE_CPU)
        return bmx_backend_cpu(t, out, err);
    return bmx_backend_cuda(t, r->precision, 0, r->cfg.batch, r->cfg.seq, out, err);
}

static int load_reference(bmx_run *r, bmx_err *err)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/checkpoint.bin", r->cfg.reference);
    int rc = bmx_checkpoint_load(path, 1, &r->ref, &r->reftr, NULL, NULL, err);
    if (rc)
        return rc;
    const bmx_gpt_config *a = bmx_model_config(r->ref), *b = bmx_model_config(r->model);
    if (a->vocab != b->vocab || a->ctx < r->cfg.seq)
        return bmx_err_set(err, BMX_EINVAL,
                           "the reference model %s has vocabulary %d and context %d; this run "
                           "needs vocabulary %d and context >= %d",
                           path, a->vocab, a->ctx, b->vocab, r->cfg.seq);
    return make_backend(r, r->reftr, &r->refbe, err);
}

/* ---- one step ---- */

static void fill_batch(bmx_run *r, int d)
{
    int B = r->cfg.batch, T = r->cfg.seq;
    for (int b = 0; b < B; b++) {
        bmx_shard_sample(r->train[d], &r->drng[d], (size_t)T, r->win, NULL, NULL);
        for (int k = 0; k < T; k++) {
            r->inp[b * T + k] = (int)r->win[k];
            r->tgt[b * T + k] = (int)r->win[k + 1];
        }
    }
}

/* Data-parallel: an error every rank met the same way (after a reduction) is agreed, so
 * every rank knows the others stop too. */
static int together(bmx_run *r, int rc, bmx_err *err)
{
    return r->nranks > 1 ? bmx_dist_agree(r->dist, rc, err) : rc;
}

/* One micro-batch's value for the policy (doremi: the excess sum into r->exsum/extok). */
static int observe(bmx_run *r, int d, double loss, double ex, bmx_err *err)
{
    if (!isfinite(loss)) {
        char note[PATH_MAX + 100];
        return bmx_err_set(err, BMX_ESTATE,
                           "step %ld: a micro-batch of domain '%s' has loss %g; stopped (%s): "
                           "lower --lr or raise --warmup",
                           r->step + 1, r->names[d], loss, ckpt_note(r, note, sizeof note));
    }
    r->dloss[d] += loss;
    r->dcount[d]++;
    if (r->doremi) {
        r->exsum[d] += ex;
        r->extok[d] += (double)r->cfg.batch * r->cfg.seq;
        return 0;
    }
    return bmx_mix_observe(r->mix, d, bmx_reward_value(r->reward, NULL, loss), err);
}

/* The step's start: aioli's validation on demand, the round's pi, the accumulators, and the
 * micro-batch loss weights. A policy that observes excess losses (doremi) trains on
 * sum_g w_g loss_g / sum_g w_g, w = alpha_d / q_d: the step's domains are drawn first
 * (nothing between its draws uses the policy's generator, so they are the same ones) and
 * weight g is GT w_g / sum w; every other policy weighs each micro-batch 1. */
static int begin_step(bmx_run *r, bmx_err *err)
{
    int K = r->K, GT = r->cfg.accum * r->nranks, rc;
    if (bmx_mix_needs_validation(r->mix) &&
        ((rc = val_losses(r, err)) || (rc = bmx_mix_observe_validation(r->mix, r->vloss, err))))
        return rc;
    r->probe = bmx_mix_probing(r->mix);
    memcpy(r->probs, bmx_mix_probs(r->mix), (size_t)K * sizeof *r->probs);
    for (int d = 0; d < K; d++) {
        r->dloss[d] = 0;
        r->dcount[d] = 0;
        r->exsum[d] = 0;
        r->extok[d] = 0;
    }
    memset(r->obs, 0, 2 * (size_t)GT * sizeof *r->obs);
    r->lsum = 0;
    for (int g = 0; g < GT; g++)
        r->wt[g] = 1.0;
    if (!r->doremi)
        return BMX_OK;
    const double *alpha = bmx_mix_estimates(r->mix);
    double wsum = 0;
    int g = 0;
    for (; g < GT && (r->dseq[g] = bmx_mix_draw(r->mix)) >= 0; g++)
        wsum += alpha[r->dseq[g]] / r->probs[r->dseq[g]];
    for (int k = 0; k < g; k++)
        r->wt[k] = GT * (alpha[r->dseq[k]] / r->probs[r->dseq[k]]) / wsum;
    return BMX_OK; /* a capped draw (-1) stops the step at slot g */
}

/* The domain of micro-batch g: drawn now, or in begin_step. */
static int draw_domain(bmx_run *r, int g, int *d, bmx_err *err)
{
    *d = r->doremi ? r->dseq[g] : bmx_mix_draw(r->mix);
    if (*d < 0) {
        char note[PATH_MAX + 100];
        return bmx_err_set(err, BMX_ESTATE,
                           "step %ld: every domain has been drawn max-epochs times its "
                           "training tokens in the middle of the step; stopped (%s): raise "
                           "max-epochs or shorten --steps",
                           r->step + 1, ckpt_note(r, note, sizeof note));
    }
    r->dseq[g] = *d;
    return BMX_OK;
}

/* Another rank's micro-batch: domain d's generator draws its windows, nothing is copied. */
static void skip_batch(bmx_run *r, int d)
{
    for (int b = 0; b < r->cfg.batch; b++)
        (void)bmx_rng_below(&r->drng[d], r->train[d]->ntokens - (uint64_t)r->cfg.seq);
}

/* Forward and backward of micro-batch g with its loss weight; its mean loss into obs[g] and,
 * with a reference model, its excess-loss sum max(l - l_ref, 0) into obs[GT + g]. */
static int forward_backward(bmx_run *r, int g, bmx_err *err)
{
    int B = r->cfg.batch, T = r->cfg.seq, GT = r->cfg.accum * r->nranks;
    size_t N = (size_t)B * T;
    double loss = 0, ex = 0;
    int rc = bmx_backend_micro(r->be, r->inp, r->tgt, B, T, r->wt[g], &loss, NULL,
                               r->refbe ? r->tok : NULL, err);
    if (!rc && r->refbe &&
        !(rc = bmx_backend_eval(r->refbe, r->inp, r->tgt, B, T, NULL, NULL, r->rtok, err)))
        for (size_t i = 0; i < N; i++)
            ex += r->tok[i] > r->rtok[i] ? r->tok[i] - r->rtok[i] : 0.0;
    r->obs[g] = loss;
    r->obs[GT + g] = ex;
    return rc;
}

/* Data-parallel: the ranks agree on rc, sum the step's observations (each slot from one rank),
 * observe them all in the order of g, and reduce the gradients. One rank: rc. */
static int gather_observations(bmx_run *r, int rc, bmx_err *err)
{
    int GT = r->cfg.accum * r->nranks;
    if (r->nranks == 1)
        return rc;
    if ((rc = bmx_dist_agree(r->dist, rc, err)) ||
        (rc =
             bmx_dist_sum_doubles(r->dist, r->obs, 2 * (size_t)GT, "the step's observations", err)))
        return rc;
    for (int g = 0; !rc && g < GT; g++) {
        r->lsum += r->obs[g];
        rc = observe(r, r->dseq[g], r->obs[g], r->obs[GT + g], err);
    }
    if ((rc = together(r, rc, err)))
        return rc;
    return bmx_dist_grads(r->dist, r->be, err);
}

/* The policy's end of round (doremi: the step's excess losses first). */
static int policy_step(bmx_run *r, bmx_err *err)
{
    int rc;
    if (r->doremi &&
        (rc = together(r, bmx_mix_observe_excess(r->mix, r->exsum, r->extok, err), err)))
        return rc;
    return together(r, bmx_mix_step(r->mix, err), err);
}

static int write_step_record(bmx_run *r, const bmx_step_info *info, bmx_err *err)
{
    int K = r->K;
    bmx_json *j = &r->j;
    bmx_json_obj(j);
    bmx_json_kv_str(j, "type", "step");
    bmx_json_kv_int(j, "step", r->step);
    if (r->probe)
        bmx_json_kv_int(j, "probe", 1);
    bmx_json_kv_num(j, "loss", info->loss);
    bmx_json_kv_num(j, "lr", info->lr);
    bmx_json_kv_num(j, "grad_norm", info->grad_norm);
    bmx_json_kv_int(j, "tokens", (long long)r->tokens);
    bmx_json_key(j, "domain_loss");
    bmx_json_arr(j);
    for (int d = 0; d < K; d++) {
        if (r->dcount[d])
            bmx_json_num(j, r->mean_obs ? r->dloss[d] / r->dcount[d] : r->dloss[d]);
        else
            bmx_json_null(j);
    }
    bmx_json_end_arr(j);
    bmx_json_key(j, "domain_count");
    bmx_json_ints(j, r->dcount, (size_t)K);
    bmx_json_key(j, "probs");
    bmx_json_nums(j, r->probs, (size_t)K);
    bmx_json_end_obj(j);
    return put_line(r, r->log, "log.jsonl", err);
}

/* timing.jsonl: the step's wall-clock seconds (data-parallel: and rank 0's in collectives). */
static int write_timing(bmx_run *r, double t0, double c0, bmx_err *err)
{
    double dt = now_s() - t0;
    r->tok_s = dt > 0 ? (double)r->cfg.batch * r->cfg.seq * r->cfg.accum * r->nranks / dt : 0;
    bmx_json_obj(&r->j);
    bmx_json_kv_int(&r->j, "step", r->step);
    bmx_json_kv_num(&r->j, "tok_s", r->tok_s);
    bmx_json_kv_num(&r->j, "step_s", dt);
    if (r->nranks > 1)
        bmx_json_kv_num(&r->j, "comm_s", bmx_dist_comm_seconds(r->dist) - c0);
    bmx_json_end_obj(&r->j);
    return put_line(r, r->timing, "timing.jsonl", err);
}

/* One optimizer step: the step's N*G micro-batches in the order of g (bmx/run.h,
 * "Data-parallel runs"); rank R computes g = R*G .. R*G+G-1. One rank observes each
 * micro-batch at once; N ranks observe them all in the order of g once gathered. */
int bmx_run_step(bmx_run *r, bmx_err *err)
{
    int G = r->cfg.accum, GT = G * r->nranks, g0 = r->rank * G, rc, d;
    double t0 = now_s(), c0 = bmx_dist_comm_seconds(r->dist);
    bmx_step_info info;
    if ((rc = begin_step(r, err)))
        return rc;
    for (int g = 0; !rc && g < GT; g++) {
        if ((rc = draw_domain(r, g, &d, err)))
            return rc;
        if (g < g0 || g >= g0 + G) {
            skip_batch(r, d);
            continue;
        }
        fill_batch(r, d);
        if (!(rc = forward_backward(r, g, err)) && r->nranks == 1)
            rc = observe(r, d, r->obs[g], r->obs[GT + g], err);
    }
    if ((rc = gather_observations(r, rc, err)) ||
        (rc = together(r, bmx_backend_apply(r->be, &info, err), err)) || (rc = policy_step(r, err)))
        return rc;
    r->step++;
    r->tokens += (uint64_t)r->cfg.batch * (uint64_t)r->cfg.seq * (uint64_t)GT;
    if (r->nranks > 1)
        info.loss = r->lsum / GT; /* the trainer's mean of G, made the mean of the N*G */
    r->loss = info.loss;
    if ((rc = write_step_record(r, &info, err)) ||
        (bmx_dist_check_every_step(r->dist) && (rc = check_lockstep(r, err))))
        return rc;
    return write_timing(r, t0, c0, err);
}

/* ---- the run ---- */

/* config.txt's optimizer values (want) against the checkpoint's (have): refuse any edit,
 * naming the keys. */
static int check_optimizer(const char *ck, const bmx_train_config *have,
                           const bmx_train_config *want, bmx_err *err)
{
    char diff[320] = "";
    size_t n = 0;
#define DIFF(cond, key, a, b)                                                                      \
    if ((cond) && n < sizeof diff)                                                                 \
    n += (size_t)snprintf(diff + n, sizeof diff - n, "%s%s %.9g (checkpoint %.9g)", n ? ", " : "", \
                          key, (double)(a), (double)(b))
    DIFF(want->lr != have->lr, "lr", want->lr, have->lr);
    DIFF(want->min_lr != have->min_lr, "min_lr", want->min_lr, have->min_lr);
    DIFF(want->warmup != have->warmup, "warmup", want->warmup, have->warmup);
    DIFF(want->total != have->total, "schedule", want->total, have->total);
    DIFF(want->beta1 != have->beta1, "beta1", want->beta1, have->beta1);
    DIFF(want->beta2 != have->beta2, "beta2", want->beta2, have->beta2);
    DIFF(want->weight_decay != have->weight_decay, "weight_decay", want->weight_decay,
         have->weight_decay);
    DIFF(want->clip != have->clip, "clip", want->clip, have->clip);
    DIFF(want->accum != have->accum, "accum", want->accum, have->accum);
#undef DIFF
    if (n)
        return bmx_err_set(err, BMX_EINVAL,
                           "cannot resume: config.txt's optimizer values differ from those %s "
                           "was saved with: %s. An exact resume continues the checkpoint's "
                           "optimizer: restore them, or start a new run",
                           ck, diff);
    return 0;
}

/* The memory the run needs against what it may use; logged either way. */
static int check_memory(bmx_run *r, const bmx_run_opts *opts, bmx_err *err)
{
    bmx_run_memory m = bmx_run_memory_estimate(&r->cfg, (int)r->train[0]->vocab_size);
    uint64_t avail = opts && opts->mem_limit ? opts->mem_limit : bmx_run_memory_available();
    char t[32], p[32], g[32], mo[32], a[32], rf[64] = "", av[32];
    bmx_run_fmt_bytes(t, m.total);
    bmx_run_fmt_bytes(p, m.params);
    bmx_run_fmt_bytes(g, m.grads);
    bmx_run_fmt_bytes(mo, m.moments);
    bmx_run_fmt_bytes(a, m.activations);
    bmx_run_fmt_bytes(av, avail);
    if (m.reference) {
        char x[32];
        snprintf(rf, sizeof rf, ", reference model %s", bmx_run_fmt_bytes(x, m.reference));
    }
    const char *src = opts && opts->mem_limit ? "the limit given" : "available now";
    bmx_log(opts ? &opts->log : NULL, BMX_LOG_INFO,
            "memory: the run needs about %s (parameters %s, gradients %s, AdamW moments %s, "
            "activations %s%s); %s %s",
            t, p, g, mo, a, rf, av, src);
    if (avail && m.total > avail)
        return bmx_err_set(err, BMX_ENOMEM,
                           "the run needs about %s of memory (parameters %s, gradients %s, AdamW "
                           "moments %s, activations of batch %d x seq %d %s%s) but %s is %s: "
                           "lower --layers, --width, --batch or --seq",
                           t, p, g, mo, r->cfg.batch, r->cfg.seq, a, rf, av, src);
    return 0;
}

static int setup(bmx_run *r, const bmx_run_config *cfg, const bmx_run_opts *opts, bmx_err *err)
{
    char path[PATH_MAX + 32];
    int rc, resume = opts && opts->resume;
    const bmx_logger *log = opts ? &opts->log : NULL;
    struct stat st;
    snprintf(r->dir, sizeof r->dir, "%s", cfg->out && *cfg->out ? cfg->out : "");
    if (!*r->dir)
        return bmx_err_set(err, BMX_EINVAL, "out is not set: give --out DIR, the run folder");
    if (resume) {
        r->cfg = bmx_run_config_default();
        path_in(r, path, sizeof path, "config.txt");
        if (stat(path, &st) != 0)
            return bmx_err_set(err, BMX_EIO,
                               "cannot resume %s: it holds no config.txt (not a run folder, or "
                               "the run never started)",
                               r->dir);
        if (r->rank == 0 && (rc = bmx_run_lock(r->dir, &r->lock_fd, err)))
            return rc;
        if (r->rank == 0)
            bmx_run_clean_temporaries(r->dir, log);
        if ((rc = bmx_run_config_load(&r->cfg, path, &r->strs, err)))
            return rc;
        r->cfg.out = cfg->out;
        if (cfg->steps > 0)
            r->cfg.steps = cfg->steps;
        if (cfg->threads > 0)
            r->cfg.threads = cfg->threads;
        if (cfg->device && *cfg->device) { /* a checkpoint moves between devices */
            r->cfg.device = cfg->device;
            r->cfg.precision = "";
        }
        if (cfg->precision && *cfg->precision)
            r->cfg.precision = cfg->precision;
    } else {
        r->cfg = *cfg;
    }
    if ((rc = bmx_run_config_check(&r->cfg, err)) ||
        (rc = bmx_device_parse(r->cfg.device, &r->device, err)) ||
        (rc = bmx_precision_parse(r->cfg.precision, r->device, &r->precision, err)))
        return rc;
    /* stored resolved, so a resume keeps them */
    r->cfg.device = r->device == BMX_DEVICE_CUDA ? "cuda" : "cpu";
    r->cfg.precision = r->precision == BMX_CUDA_BF16 ? "bf16" : "fp32";
    if (r->cfg.schedule == 0)
        r->cfg.schedule = r->cfg.steps;
    if (r->cfg.threads > 0)
        bmx_kernels_set_threads(r->cfg.threads);
    if ((rc = open_data(r, err)) || (rc = check_memory(r, opts, err)) ||
        (rc = make_policy(r, err)) || (rc = make_buffers(r, err)))
        return rc;
    if (!resume && r->rank == 0) {
        if ((rc = mkdirs(r->dir, err)) || (rc = bmx_run_lock(r->dir, &r->lock_fd, err)))
            return rc;
        bmx_run_clean_temporaries(r->dir, log);
        path_in(r, path, sizeof path, "checkpoint.bin");
        char lp[PATH_MAX + 32];
        path_in(r, lp, sizeof lp, "log.jsonl");
        if (stat(path, &st) == 0 || stat(lp, &st) == 0)
            return bmx_err_set(err, BMX_EINVAL,
                               "%s already holds a run: continue it with --resume, or give "
                               "another --out",
                               r->dir);
    }
    /* the stored configuration leaves out `out`: the run folder is where it lives */
    bmx_run_config stored = r->cfg;
    stored.out = "";
    r->cfg_text = bmx_run_config_text(&stored);
    if (!r->cfg_text)
        return bmx_err_set(err, BMX_ENOMEM, "out of memory");
    return 0;
}

static int write_config(bmx_run *r, bmx_err *err)
{
    char path[PATH_MAX + 32];
    bmx_sbuf b = {0};
    bmx_sbuf_puts(&b, "# bmx train configuration (bmx train --config this-file)\n");
    bmx_sbuf_puts(&b, r->cfg_text);
    path_in(r, path, sizeof path, "config.txt");
    char tmp[PATH_MAX + 64];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int rc = bmx_sbuf_save(&b, tmp, err);
    bmx_sbuf_free(&b);
    if (!rc && rename(tmp, path) != 0)
        rc = bmx_err_set(err, BMX_EIO, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
    return rc;
}

/* The trainer's optimizer configuration of the run's. */
static bmx_train_config train_config(const bmx_run_config *c)
{
    bmx_train_config tc = bmx_train_config_default();
    tc.lr = c->lr;
    tc.min_lr = c->min_lr;
    tc.warmup = c->warmup;
    tc.total = c->schedule;
    tc.beta1 = c->beta1;
    tc.beta2 = c->beta2;
    tc.weight_decay = c->weight_decay;
    tc.clip = c->clip;
    tc.accum = c->accum;
    return tc;
}

/* Resume: the model, optimizer and run state of checkpoint.bin, checked against config.txt
 * and log.jsonl. */
static int resume_trainer(bmx_run *r, const char *path, const bmx_gpt_config *mc,
                          const bmx_train_config *tc, bmx_err *err)
{
    bmx_ckpt_reader *rd = NULL;
    int rc = bmx_ckpt_open(path, &rd, err);
    if (!rc)
        rc = bmx_ckpt_load_trainer(rd, 1, &r->model, &r->tr, err);
    const bmx_gpt_config *lc = rc ? NULL : bmx_model_config(r->model);
    if (lc && memcmp(lc, mc, sizeof *mc) != 0)
        rc = bmx_err_set(err, BMX_ECORRUPT,
                         "%s holds a model V=%d ctx=%d L=%d H=%d C=%d, but config.txt "
                         "says V=%d ctx=%d L=%d H=%d C=%d",
                         path, lc->vocab, lc->ctx, lc->layers, lc->heads, lc->width, mc->vocab,
                         mc->ctx, mc->layers, mc->heads, mc->width);
    if (!rc && !(rc = check_optimizer(path, bmx_trainer_config(r->tr), tc, err)))
        rc = restore(r, rd, err);
    bmx_ckpt_close(rd);
    if (!rc && r->step > r->cfg.steps)
        rc = bmx_err_set(err, BMX_EINVAL,
                         "%s is already at step %ld, past --steps %ld: give more steps", r->dir,
                         r->step, r->cfg.steps);
    return rc;
}

/* The model and trainer: resumed from checkpoint.bin, or new (initialised from the seed). */
static int make_trainer(bmx_run *r, int resume, bmx_err *err)
{
    char path[PATH_MAX + 32];
    struct stat st;
    bmx_gpt_config mc = {(int)r->train[0]->vocab_size, r->cfg.seq, r->cfg.layers, r->cfg.heads,
                         r->cfg.width};
    bmx_train_config tc = train_config(&r->cfg);
    bmx_rng ir;
    int rc;
    path_in(r, path, sizeof path, "checkpoint.bin");
    r->fresh = !(resume && stat(path, &st) == 0);
    if (!r->fresh)
        return resume_trainer(r, path, &mc, &tc, err);
    if ((rc = bmx_model_create(&mc, BMX_F32, 1, &r->model, err)))
        return rc;
    bmx_rng_seed(&ir, r->cfg.seed, 2);
    bmx_model_init(r->model, &ir);
    return bmx_trainer_create(r->model, &tc, &r->tr, err);
}

/* log.jsonl and timing.jsonl, new or continued; rank 0 alone writes the run folder, the
 * others' records go nowhere. */
static int open_logs(bmx_run *r, bmx_err *err)
{
    char path[PATH_MAX + 32], tp[PATH_MAX + 32];
    path_in(r, path, sizeof path, "log.jsonl");
    path_in(r, tp, sizeof tp, "timing.jsonl");
    r->log = fopen(r->rank ? "/dev/null" : path, r->fresh ? "w" : "a");
    r->timing = fopen(r->rank ? "/dev/null" : tp, r->fresh ? "w" : "a");
    if (!r->log || !r->timing)
        return bmx_err_set(err, BMX_EIO, "cannot open %s for writing: %s", !r->log ? path : tp,
                           strerror(errno));
    return BMX_OK;
}

int bmx_run_open(bmx_run **out, const bmx_run_config *cfg, const bmx_run_opts *opts, bmx_err *err)
{
    bmx_run *r = calloc(1, sizeof *r);
    int rc;
    *out = NULL;
    if (!r)
        return bmx_err_set(err, BMX_ENOMEM, "out of memory for a training run");
    r->lock_fd = -1;
    if (opts)
        r->opts = *opts;
    r->dist = r->opts.dist;
    r->rank = bmx_dist_rank(r->dist);
    r->nranks = bmx_dist_size(r->dist);
    if (!(rc = setup(r, cfg, opts, err)) && !(rc = make_trainer(r, r->opts.resume, err)) &&
        !(rc = make_backend(r, r->tr, &r->be, err)) &&
        !(r->doremi && (rc = load_reference(r, err))))
        /* on resume too: --steps may change */
        if (!(r->rank == 0 && (rc = write_config(r, err))))
            rc = open_logs(r, err);
    if (!rc) {
        r->synced = 1; /* every rank got here: from now on they meet in collectives */
        rc = bmx_dist_agree(r->dist, 0, err);
    }
    r->evaluated = r->fresh ? -1 : r->step;
    if (!rc && r->fresh)
        rc = write_header(r, err);
    /* a rank that failed before the others got to set-up's end tells them (they wait there) */
    if (rc && !r->synced && r->nranks > 1)
        rc = bmx_dist_agree(r->dist, rc, err);
    if (rc) {
        bmx_run_close(r);
        return rc;
    }
    *out = r;
    return BMX_OK;
}

void bmx_run_close(bmx_run *r)
{
    if (!r)
        return;
    run_free(r);
    free(r);
}

int bmx_run_checkpoint(bmx_run *r, bmx_err *err)
{
    return checkpoint(r, err);
}

long bmx_run_step_count(const bmx_run *r)
{
    return r->step;
}

long bmx_run_steps(const bmx_run *r)
{
    return r->cfg.steps;
}

int bmx_run_resumed(const bmx_run *r)
{
    return !r->fresh;
}

int bmx_run_done(const bmx_run *r)
{
    return r->step >= r->cfg.steps;
}

int bmx_run_exhausted(const bmx_run *r)
{
    return bmx_mix_exhausted(r->mix);
}

int bmx_run_eval_due(const bmx_run *r)
{
    long s = r->step;
    return r->evaluated != s &&
           (s == 0 || (r->cfg.eval_every && s % r->cfg.eval_every == 0) || s == r->cfg.steps);
}

int bmx_run_ckpt_due(const bmx_run *r)
{
    long s = r->step;
    return r->last_ckpt != s && s > 0 &&
           ((r->cfg.ckpt_every && s % r->cfg.ckpt_every == 0) || s == r->cfg.steps);
}

int bmx_run_ckpt_current(const bmx_run *r)
{
    return r->last_ckpt == r->step;
}

double bmx_run_loss(const bmx_run *r)
{
    return r->loss;
}

double bmx_run_tok_s(const bmx_run *r)
{
    return r->tok_s;
}

const bmx_run_config *bmx_run_cfg(const bmx_run *r)
{
    return &r->cfg;
}

const char *const *bmx_run_domain_names(const bmx_run *r, int *n)
{
    if (n)
        *n = r->K;
    return (const char *const *)r->names;
}

const double *bmx_run_probs(const bmx_run *r)
{
    return bmx_mix_probs(r->mix);
}

const bmx_mix *bmx_run_policy(const bmx_run *r)
{
    return r->mix;
}

bmx_backend *bmx_run_backend(bmx_run *r)
{
    return r->be;
}

int bmx_run_stop_requested(bmx_run *r, int *stop, bmx_err *err)
{
    *stop = r->opts.stop && *r->opts.stop;
    if (r->nranks > 1)
        return bmx_dist_max_int(r->dist, *stop, stop, "the stop check", err);
    return BMX_OK;
}

/* bmx_run_progress of the last step (or evaluation, ev not NULL) to the caller's callback. */
static void report(const bmx_run_opts *o, bmx_run *r, bmx_run_progress *pg, const bmx_run_eval *ev)
{
    if (!o->progress || r->rank != 0)
        return;
    pg->step = r->step;
    pg->loss = r->loss;
    pg->tok_s = r->tok_s;
    pg->probs = bmx_mix_probs(r->mix);
    pg->eval = ev != NULL;
    if (ev)
        pg->avg_ppl = ev->avg_ppl;
    o->progress(o->progress_ctx, pg);
}

static int evaluate_and_log(bmx_run *r, bmx_run_eval *ev, bmx_err *err)
{
    int rc = bmx_run_evaluate(r, ev, err);
    return rc ? rc : bmx_run_log_eval(r, ev, err);
}

/* The run's schedule over the stepwise API: step 0's evaluation (a new run), then steps with
 * evaluations and checkpoints when due, a checkpoint and 1 on a stop, a last checkpoint. */
static int drive(bmx_run *r, const bmx_run_opts *o, bmx_err *err)
{
    bmx_run_progress pg = {0};
    bmx_run_eval ev;
    int rc = 0, stop;
    double t_start;
    if (bmx_run_eval_due(r) && (rc = evaluate_and_log(r, &ev, err)))
        return rc;
    bmx_log(&o->log, BMX_LOG_INFO, "%s %s at step %ld of %ld, %d domains",
            r->fresh ? "starting" : "resuming", r->dir, r->step, r->cfg.steps, r->K);
    t_start = now_s();
    pg.steps = r->cfg.steps;
    pg.domains = bmx_run_domain_names(r, &pg.ndomains);
    while (!bmx_run_done(r)) {
        if ((rc = bmx_run_stop_requested(r, &stop, err)))
            return rc;
        if (stop)
            return (rc = bmx_run_checkpoint(r, err)) ? rc : 1;
        if (bmx_run_exhausted(r)) {
            bmx_log(&o->log, BMX_LOG_WARN,
                    "step %ld of %ld: every domain has been drawn max-epochs times its training "
                    "tokens; the run stops here",
                    r->step, r->cfg.steps);
            break;
        }
        if ((rc = bmx_run_step(r, err)))
            return rc;
        pg.elapsed_s = now_s() - t_start;
        report(o, r, &pg, NULL);
        if (bmx_run_eval_due(r)) {
            if ((rc = evaluate_and_log(r, &ev, err)))
                return rc;
            report(o, r, &pg, &ev);
        }
        if (bmx_run_ckpt_due(r) && (rc = bmx_run_checkpoint(r, err)))
            return rc;
    }
    return bmx_run_ckpt_current(r) ? 0 : bmx_run_checkpoint(r, err);
}

int bmx_run_train(const bmx_run_config *cfg, const bmx_run_opts *opts, bmx_err *err)
{
    bmx_run *r = NULL;
    bmx_run_opts none = {0};
    int rc = bmx_run_open(&r, cfg, opts, err);
    if (!rc)
        rc = drive(r, opts ? opts : &none, err);
    bmx_run_close(r);
    return rc;
}

int bmx_run_policy_load(const char *run_dir, bmx_mix **out, bmx_err *err)
{
    char path[PATH_MAX + 32];
    bmx_ckpt_reader *rd = NULL;
    void *buf = NULL;
    size_t n = 0;
    snprintf(path, sizeof path, "%s/checkpoint.bin", run_dir);
    int rc = bmx_ckpt_open(path, &rd, err);
    if (!rc)
        rc = bmx_ckpt_read_alloc(rd, "policy", &buf, &n, err);
    bmx_ckpt_close(rd);
    if (!rc)
        rc = bmx_mix_restore(out, buf, n, err);
    free(buf);
    return rc;
}
