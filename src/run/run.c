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
#include "bmx/cuda.h"
#include "bmx/data.h"
#include "bmx/dist.h"
#include "bmx/kernels.h"
#include "bmx/mix.h"
#include "bmx/model.h"
#include "bmx/report.h"
#include "bmx/rng.h"
#include "bmx/train.h"

#define STATE_MAGIC   "BMXRUN01"
#define STATE_VERSION 1u
#define VAL_SEED      0

struct run {
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
    double *vbuf;     /* validation: every domain's window losses */
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void path_in(const struct run *r, char *buf, size_t cap, const char *name)
{
    snprintf(buf, cap, "%s/%s", r->dir, name);
}

static void run_free(struct run *r)
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
static const char *ckpt_note(const struct run *r, char *buf, size_t cap)
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

static int put_line(struct run *r, FILE *f, const char *what, bmx_err *err)
{
    return bmx_json_line(&r->j, f, what, err);
}

static int write_header(struct run *r, bmx_err *err)
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

static int together(struct run *r, int rc, bmx_err *err);

/* Per-domain mean loss over the fixed validation windows into r->vloss. Batch k of every
 * domain's windows runs on rank k mod N; the losses are summed over the ranks (each slot from
 * one rank) and added up in window order, so one rank sums exactly as N do. */
static int val_losses(struct run *r, bmx_err *err)
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

static int evaluate(struct run *r, bmx_err *err)
{
    double avg_loss = 0, avg_ppl = 0;
    int rc = val_losses(r, err);
    if (rc)
        return rc;
    for (int d = 0; d < r->K; d++) {
        avg_loss += r->vloss[d];
        avg_ppl += exp(r->vloss[d]);
    }
    avg_loss /= r->K;
    avg_ppl /= r->K;
    bmx_json *j = &r->j;
    bmx_json_obj(j);
    bmx_json_kv_str(j, "type", "eval");
    bmx_json_kv_int(j, "step", r->step);
    bmx_json_key(j, "loss");
    bmx_json_nums(j, r->vloss, (size_t)r->K);
    bmx_json_key(j, "ppl");
    bmx_json_arr(j);
    for (int d = 0; d < r->K; d++)
        bmx_json_num(j, exp(r->vloss[d]));
    bmx_json_end_arr(j);
    bmx_json_kv_num(j, "avg_loss", avg_loss);
    bmx_json_kv_num(j, "avg_ppl", avg_ppl);
    bmx_json_end_obj(j);
    if (!isfinite(avg_loss)) {
        char note[PATH_MAX + 100];
        return together(r,
                        bmx_err_set(err, BMX_ESTATE,
                                    "step %ld: the validation loss is not finite; stopped (%s): "
                                    "lower --lr",
                                    r->step, ckpt_note(r, note, sizeof note)),
                        err);
    }
    return put_line(r, r->log, "log.jsonl", err);
}

/* ---- run state (the checkpoint's extra bytes) ---- */

static void put64(unsigned char **p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        *(*p)++ = (unsigned char)(v >> (8 * i));
}

static uint64_t get64(const unsigned char **p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)(*p)[i] << (8 * i);
    *p += 8;
    return v;
}

/* Data-parallel: the run state's digest (policy state, generators, step, tokens) and the
 * parameters' digest against rank 0's; a mismatch stops every rank. */
static int check_lockstep(struct run *r, bmx_err *err)
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

static int write_checkpoint(struct run *r, bmx_err *err);

/* Every rank: the lockstep check, then rank 0 writes; every rank learns how that went. */
static int checkpoint(struct run *r, bmx_err *err)
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

static int write_checkpoint(struct run *r, bmx_err *err)
{
    char path[PATH_MAX + 32];
    size_t mlen = 0;
    int rc;
    if (fflush(r->log) || fflush(r->timing) || fsync(fileno(r->log)) || fsync(fileno(r->timing)))
        return bmx_err_set(err, BMX_EIO, "cannot write the logs of %s: %s", r->dir,
                           strerror(errno));
    if ((rc = bmx_mix_save(r->mix, NULL, 0, &mlen, err)))
        return rc;
    size_t n = 8 + 4 * 8 + (size_t)r->K * 32 + mlen + 4;
    unsigned char *buf = malloc(n), *p = buf;
    if (!buf)
        return bmx_err_set(err, BMX_ENOMEM, "out of memory for the run state");
    memcpy(p, STATE_MAGIC, 8);
    p += 8;
    put64(&p, STATE_VERSION | ((uint64_t)r->K << 32));
    put64(&p, (uint64_t)r->step);
    put64(&p, r->tokens);
    put64(&p, (uint64_t)ftell(r->log));
    for (int i = 0; i < r->K; i++)
        for (int k = 0; k < 4; k++)
            put64(&p, r->drng[i].s[k]);
    if ((rc = bmx_mix_save(r->mix, p, mlen, &mlen, err))) {
        free(buf);
        return rc;
    }
    p += mlen;
    uint32_t crc = bmx_crc32(0, buf, (size_t)(p - buf));
    for (int i = 0; i < 4; i++)
        *p++ = (unsigned char)(crc >> (8 * i));
    path_in(r, path, sizeof path, "checkpoint.bin");
    rc = bmx_backend_sync_to_host(r->be, err);
    if (!rc)
        rc = bmx_checkpoint_save(path, r->tr, buf, (size_t)(p - buf), err);
    free(buf);
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
static int check_header(struct run *r, const char *line, size_t n, const char *path, bmx_err *err)
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
    char name[PATH_MAX + 32], diff[300] = "";
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
static int check_log(struct run *r, const char *path, uint64_t loglen, const char *ck, bmx_err *err)
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

static int restore(struct run *r, const unsigned char *buf, size_t n, const char *ck, bmx_err *err)
{
    const unsigned char *p = buf;
    size_t fixed = 8 + 4 * 8 + (size_t)r->K * 32 + 4;
    if (n < fixed || memcmp(buf, STATE_MAGIC, 8) != 0)
        return bmx_err_set(err, BMX_ECORRUPT, "%s: no bmx run state in the checkpoint", ck);
    uint32_t crc = 0;
    for (int i = 0; i < 4; i++)
        crc |= (uint32_t)buf[n - 4 + (size_t)i] << (8 * i);
    if (crc != bmx_crc32(0, buf, n - 4))
        return bmx_err_set(err, BMX_ECORRUPT, "%s: the run state fails its CRC-32", ck);
    p += 8;
    uint64_t vk = get64(&p);
    if ((vk & 0xffffffffu) != STATE_VERSION || (int)(vk >> 32) != r->K)
        return bmx_err_set(err, BMX_ECORRUPT,
                           "%s: run state version %u with %d domains; this run has %d domains "
                           "(version %u)",
                           ck, (unsigned)(vk & 0xffffffffu), (int)(vk >> 32), r->K, STATE_VERSION);
    int64_t step = (int64_t)get64(&p);
    r->tokens = get64(&p);
    uint64_t loglen = get64(&p);
    if (step < 0 || step != (int64_t)bmx_trainer_step_count(r->tr))
        return bmx_err_set(err, BMX_ECORRUPT,
                           "%s: its run state says step %lld, its header step %ld: the file was "
                           "altered; refusing to resume from it",
                           ck, (long long)step, bmx_trainer_step_count(r->tr));
    r->step = (long)step;
    /* the log (and the configuration in its header, so batch, seq and accum) first */
    char path[PATH_MAX + 32];
    path_in(r, path, sizeof path, "log.jsonl");
    int rc = check_log(r, path, loglen, ck, err);
    if (rc)
        return rc;
    uint64_t tps = (uint64_t)r->cfg.batch * (uint64_t)r->cfg.seq * (uint64_t)r->cfg.accum *
                   (uint64_t)r->nranks;
    if (r->tokens % tps != 0 || r->tokens / tps != (uint64_t)step)
        return bmx_err_set(err, BMX_ECORRUPT,
                           "%s: its run state says %llu tokens after %lld steps of %llu tokens: "
                           "the file was altered; refusing to resume from it",
                           ck, (unsigned long long)r->tokens, (long long)step,
                           (unsigned long long)tps);
    for (int i = 0; i < r->K; i++)
        for (int k = 0; k < 4; k++)
            r->drng[i].s[k] = get64(&p);
    size_t mlen = n - 4 - (size_t)(p - buf);
    bmx_mix *m = NULL;
    if ((rc = bmx_mix_restore(&m, p, mlen, err)))
        return rc;
    if (bmx_mix_arms(m) != r->K || strcmp(bmx_mix_spec(m), bmx_mix_spec(r->mix)) != 0) {
        rc = bmx_err_set(err, BMX_ECORRUPT,
                         "%s: the policy state is %s over %d arms, the run's "
                         "is %s over %d",
                         ck, bmx_mix_spec(m), bmx_mix_arms(m), bmx_mix_spec(r->mix), r->K);
        bmx_mix_free(m);
        return rc;
    }
    bmx_mix_free(r->mix);
    r->mix = m;
    bmx_mix_set_parallel(r->mix, parallel_for, NULL);
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

static int open_data(struct run *r, bmx_err *err)
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

static int make_policy(struct run *r, bmx_err *err)
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

static int make_buffers(struct run *r, bmx_err *err)
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
    r->vbuf = calloc(nv, sizeof *r->vbuf);
    if (!r->inp || !r->tgt || !r->win || !r->tok || !r->rtok || !r->probs || !r->dloss ||
        !r->exsum || !r->extok || !r->vloss || !r->dcount || !r->dseq || !r->obs || !r->vbuf)
        return bmx_err_set(err, BMX_ENOMEM, "out of memory for batches of %zu tokens", N);
    return 0;
}

/* The run's device: the CPU trainer itself, or the CUDA trainer over it. */
static int make_backend(struct run *r, bmx_trainer *t, bmx_backend **out, bmx_err *err)
{
    if (r->device == BMX_DEVICE_CPU)
        return bmx_backend_cpu(t, out, err);
    return bmx_backend_cuda(t, r->precision, 0, r->cfg.batch, r->cfg.seq, out, err);
}

static int load_reference(struct run *r, bmx_err *err)
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

static void fill_batch(struct run *r, int d)
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
static int together(struct run *r, int rc, bmx_err *err)
{
    return r->nranks > 1 ? bmx_dist_agree(r->dist, rc, err) : rc;
}

/* One micro-batch's value for the policy (doremi: the excess sum into r->exsum/extok). */
static int observe(struct run *r, int d, double loss, double ex, bmx_err *err)
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

/* The step's N*G micro-batches in the order of g (bmx/run.h, "Data-parallel runs"): rank R
 * computes g = R*G .. R*G+G-1 and only advances the domain generators for the others. One
 * rank observes each micro-batch at once, as always; N ranks observe them all in the order of
 * g once the values are summed over the ranks. */
static int train_step(struct run *r, double *loss_out, bmx_err *err)
{
    int K = r->K, G = r->cfg.accum, B = r->cfg.batch, T = r->cfg.seq, rc = 0;
    int GT = G * r->nranks, g0 = r->rank * G;
    size_t N = (size_t)B * T;
    const double *alpha = r->doremi ? bmx_mix_estimates(r->mix) : NULL;
    double wsum = 0, *obs = r->obs, *exg = r->obs + GT, lsum = 0;
    if (bmx_mix_needs_validation(r->mix)) { /* aioli: per-group validation on demand */
        if ((rc = val_losses(r, err)) || (rc = bmx_mix_observe_validation(r->mix, r->vloss, err)))
            return rc;
    }
    int probe = bmx_mix_probing(r->mix);
    const double *q = bmx_mix_probs(r->mix);
    memcpy(r->probs, q, (size_t)K * sizeof *r->probs);
    for (int d = 0; d < K; d++) {
        r->dloss[d] = 0;
        r->dcount[d] = 0;
        r->exsum[d] = 0;
        r->extok[d] = 0;
    }
    memset(obs, 0, 2 * (size_t)GT * sizeof *obs);
    /* doremi: the gradient of sum_g w_g loss_g / sum_g w_g, w = alpha_d / q_d, as micro-batch
     * loss weights GT w_g / sum w (nothing between its draws uses the policy's generator, so
     * drawing the step's domains first draws the same ones) */
    for (int g = 0; r->doremi && g < GT; g++) {
        r->dseq[g] = bmx_mix_draw(r->mix);
        if (r->dseq[g] < 0)
            break; /* every domain capped: the loop below stops */
        wsum += alpha[r->dseq[g]] / r->probs[r->dseq[g]];
    }
    for (int g = 0; !rc && g < GT; g++) {
        int d = r->doremi ? r->dseq[g] : bmx_mix_draw(r->mix);
        if (d < 0) {
            char note[PATH_MAX + 100];
            return bmx_err_set(err, BMX_ESTATE,
                               "step %ld: every domain has been drawn max-epochs times its "
                               "training tokens in the middle of the step; stopped (%s): raise "
                               "max-epochs or shorten --steps",
                               r->step + 1, ckpt_note(r, note, sizeof note));
        }
        r->dseq[g] = d;
        if (g < g0 || g >= g0 + G) { /* another rank's: the same generator draws, no copy */
            for (int b = 0; b < B; b++)
                (void)bmx_rng_below(&r->drng[d], r->train[d]->ntokens - (uint64_t)T);
            continue;
        }
        double loss = 0, ex = 0, wt = r->doremi ? GT * (alpha[d] / r->probs[d]) / wsum : 1.0;
        fill_batch(r, d);
        rc = bmx_backend_micro(r->be, r->inp, r->tgt, B, T, wt, &loss, NULL,
                               r->doremi ? r->tok : NULL, err);
        if (!rc && r->doremi &&
            !(rc = bmx_backend_eval(r->refbe, r->inp, r->tgt, B, T, NULL, NULL, r->rtok, err)))
            for (size_t i = 0; i < N; i++)
                ex += r->tok[i] > r->rtok[i] ? r->tok[i] - r->rtok[i] : 0.0;
        obs[g] = loss;
        exg[g] = ex;
        if (!rc && r->nranks == 1)
            rc = observe(r, d, loss, ex, err);
    }
    if (r->nranks > 1) {
        if ((rc = bmx_dist_agree(r->dist, rc, err)) ||
            (rc = bmx_dist_sum_doubles(r->dist, obs, 2 * (size_t)GT, "the step's observations",
                                       err)))
            return rc;
        for (int g = 0; !rc && g < GT; g++) {
            lsum += obs[g];
            rc = observe(r, r->dseq[g], obs[g], exg[g], err);
        }
        if ((rc = together(r, rc, err)) || (rc = bmx_dist_grads(r->dist, r->be, err)))
            return rc;
    }
    if (rc)
        return rc;
    bmx_step_info info;
    if ((rc = together(r, bmx_backend_apply(r->be, &info, err), err)))
        return rc;
    if (r->nranks > 1)
        info.loss = lsum / GT; /* the trainer's mean of G, made the mean of the N*G */
    if (r->doremi &&
        (rc = together(r, bmx_mix_observe_excess(r->mix, r->exsum, r->extok, err), err)))
        return rc;
    if ((rc = together(r, bmx_mix_step(r->mix, err), err)))
        return rc;
    r->step++;
    r->tokens += (uint64_t)N * (uint64_t)GT;
    *loss_out = info.loss;
    bmx_json *j = &r->j;
    bmx_json_obj(j);
    bmx_json_kv_str(j, "type", "step");
    bmx_json_kv_int(j, "step", r->step);
    if (probe)
        bmx_json_kv_int(j, "probe", 1);
    bmx_json_kv_num(j, "loss", info.loss);
    bmx_json_kv_num(j, "lr", info.lr);
    bmx_json_kv_num(j, "grad_norm", info.grad_norm);
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
static int check_memory(struct run *r, const bmx_run_opts *opts, bmx_err *err)
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

static int setup(struct run *r, const bmx_run_config *cfg, const bmx_run_opts *opts, bmx_err *err)
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

static int write_config(struct run *r, bmx_err *err)
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

int bmx_run_train(const bmx_run_config *cfg, const bmx_run_opts *opts, bmx_err *err)
{
    struct run r;
    char path[PATH_MAX + 32];
    int rc, fresh = 1;
    void *extra = NULL;
    size_t extra_len = 0;
    struct stat st;
    memset(&r, 0, sizeof r);
    r.lock_fd = -1;
    r.dist = opts ? opts->dist : NULL;
    r.rank = bmx_dist_rank(r.dist);
    r.nranks = bmx_dist_size(r.dist);
    rc = setup(&r, cfg, opts, err);
    if (rc)
        goto done;
    bmx_gpt_config mc = {(int)r.train[0]->vocab_size, r.cfg.seq, r.cfg.layers, r.cfg.heads,
                         r.cfg.width};
    bmx_train_config tc = bmx_train_config_default();
    tc.lr = r.cfg.lr;
    tc.min_lr = r.cfg.min_lr;
    tc.warmup = r.cfg.warmup;
    tc.total = r.cfg.schedule;
    tc.beta1 = r.cfg.beta1;
    tc.beta2 = r.cfg.beta2;
    tc.weight_decay = r.cfg.weight_decay;
    tc.clip = r.cfg.clip;
    tc.accum = r.cfg.accum;
    path_in(&r, path, sizeof path, "checkpoint.bin");
    if (opts && opts->resume && stat(path, &st) == 0) {
        if ((rc = bmx_checkpoint_load(path, 1, &r.model, &r.tr, &extra, &extra_len, err)))
            goto done;
        const bmx_gpt_config *lc = bmx_model_config(r.model);
        if (memcmp(lc, &mc, sizeof mc) != 0) {
            rc = bmx_err_set(err, BMX_ECORRUPT,
                             "%s holds a model V=%d ctx=%d L=%d H=%d C=%d, but config.txt "
                             "says V=%d ctx=%d L=%d H=%d C=%d",
                             path, lc->vocab, lc->ctx, lc->layers, lc->heads, lc->width, mc.vocab,
                             mc.ctx, mc.layers, mc.heads, mc.width);
            goto done;
        }
        if ((rc = check_optimizer(path, bmx_trainer_config(r.tr), &tc, err)))
            goto done;
        if ((rc = restore(&r, extra, extra_len, path, err)))
            goto done;
        fresh = 0;
        if (r.step > r.cfg.steps) {
            rc = bmx_err_set(err, BMX_EINVAL,
                             "%s is already at step %ld, past --steps %ld: give more steps", r.dir,
                             r.step, r.cfg.steps);
            goto done;
        }
    } else {
        bmx_rng ir;
        if ((rc = bmx_model_create(&mc, BMX_F32, 1, &r.model, err)))
            goto done;
        bmx_rng_seed(&ir, r.cfg.seed, 2);
        bmx_model_init(r.model, &ir);
        if ((rc = bmx_trainer_create(r.model, &tc, &r.tr, err)))
            goto done;
    }
    if ((rc = make_backend(&r, r.tr, &r.be, err)))
        goto done;
    if (r.doremi && (rc = load_reference(&r, err)))
        goto done;
    if (r.rank == 0 && (rc = write_config(&r, err))) /* on resume too: --steps may change */
        goto done;
    /* rank 0 alone writes the run folder; the others' records go nowhere */
    path_in(&r, path, sizeof path, "log.jsonl");
    r.log = fopen(r.rank ? "/dev/null" : path, fresh ? "w" : "a");
    char tp[PATH_MAX + 32];
    path_in(&r, tp, sizeof tp, "timing.jsonl");
    r.timing = fopen(r.rank ? "/dev/null" : tp, fresh ? "w" : "a");
    if (!r.log || !r.timing) {
        rc = bmx_err_set(err, BMX_EIO, "cannot open %s for writing: %s", !r.log ? path : tp,
                         strerror(errno));
        goto done;
    }
    r.synced = 1; /* every rank got here: from now on they meet in collectives */
    if ((rc = bmx_dist_agree(r.dist, 0, err)))
        goto done;
    if (fresh) {
        if ((rc = write_header(&r, err)) || (rc = evaluate(&r, err)))
            goto done;
    }
    bmx_log(opts ? &opts->log : NULL, BMX_LOG_INFO, "%s %s at step %ld of %ld, %d domains",
            fresh ? "starting" : "resuming", r.dir, r.step, r.cfg.steps, r.K);
    double t_start = now_s();
    bmx_run_progress pg = {0};
    pg.steps = r.cfg.steps;
    pg.ndomains = r.K;
    pg.domains = (const char *const *)r.names;
    while (r.step < r.cfg.steps) {
        int stop = opts && opts->stop && *opts->stop;
        if (r.nranks > 1 && (rc = bmx_dist_max_int(r.dist, stop, &stop, "the stop check", err)))
            goto done;
        if (stop) {
            rc = checkpoint(&r, err);
            if (!rc)
                rc = 1;
            goto done;
        }
        if (bmx_mix_exhausted(r.mix)) {
            bmx_log(opts ? &opts->log : NULL, BMX_LOG_WARN,
                    "step %ld of %ld: every domain has been drawn max-epochs times its training "
                    "tokens; the run stops here",
                    r.step, r.cfg.steps);
            break;
        }
        double t0 = now_s(), loss = 0, c0 = bmx_dist_comm_seconds(r.dist);
        if ((rc = train_step(&r, &loss, err)))
            goto done;
        if (bmx_dist_check_every_step(r.dist) && (rc = check_lockstep(&r, err)))
            goto done;
        double dt = now_s() - t0;
        double tok_s = dt > 0 ? (double)r.cfg.batch * r.cfg.seq * r.cfg.accum * r.nranks / dt : 0;
        bmx_json_obj(&r.j);
        bmx_json_kv_int(&r.j, "step", r.step);
        bmx_json_kv_num(&r.j, "tok_s", tok_s);
        bmx_json_kv_num(&r.j, "step_s", dt);
        if (r.nranks > 1)
            bmx_json_kv_num(&r.j, "comm_s", bmx_dist_comm_seconds(r.dist) - c0);
        bmx_json_end_obj(&r.j);
        if ((rc = put_line(&r, r.timing, "timing.jsonl", err)))
            goto done;
        pg.step = r.step;
        pg.loss = loss;
        pg.tok_s = tok_s;
        pg.elapsed_s = now_s() - t_start;
        pg.probs = bmx_mix_probs(r.mix);
        pg.eval = 0;
        if (opts && opts->progress && r.rank == 0)
            opts->progress(opts->progress_ctx, &pg);
        if ((r.cfg.eval_every && r.step % r.cfg.eval_every == 0) || r.step == r.cfg.steps) {
            if ((rc = evaluate(&r, err)))
                goto done;
            double a = 0;
            for (int d = 0; d < r.K; d++)
                a += exp(r.vloss[d]);
            pg.eval = 1;
            pg.avg_ppl = a / r.K;
            if (opts && opts->progress && r.rank == 0)
                opts->progress(opts->progress_ctx, &pg);
        }
        if ((r.cfg.ckpt_every && r.step % r.cfg.ckpt_every == 0) || r.step == r.cfg.steps)
            if ((rc = checkpoint(&r, err)))
                goto done;
    }
    if (r.last_ckpt != r.step)
        rc = checkpoint(&r, err);
done:
    /* a rank that failed before the others got to set-up's end tells them (they wait there) */
    if (!r.synced && r.nranks > 1)
        rc = bmx_dist_agree(r.dist, rc, err);
    free(extra);
    run_free(&r);
    return rc;
}

int bmx_run_policy_load(const char *run_dir, bmx_mix **out, bmx_err *err)
{
    char path[PATH_MAX + 32];
    bmx_model *m = NULL;
    bmx_trainer *t = NULL;
    unsigned char *extra = NULL;
    size_t n = 0;
    snprintf(path, sizeof path, "%s/checkpoint.bin", run_dir);
    int rc = bmx_checkpoint_load(path, 1, &m, &t, (void **)&extra, &n, err);
    bmx_trainer_free(t);
    bmx_model_free(m);
    if (rc)
        return rc;
    if (n < 8 + 4 * 8 + 4 || memcmp(extra, STATE_MAGIC, 8) != 0 ||
        bmx_crc32(0, extra, n - 4) !=
            ((uint32_t)extra[n - 4] | (uint32_t)extra[n - 3] << 8 | (uint32_t)extra[n - 2] << 16 |
             (uint32_t)extra[n - 1] << 24)) {
        free(extra);
        return bmx_err_set(err, BMX_ECORRUPT, "%s: no valid bmx run state in the checkpoint", path);
    }
    const unsigned char *p = extra + 8;
    uint64_t vk = get64(&p);
    size_t K = (size_t)(vk >> 32), off = 8 + 4 * 8 + K * 32;
    if (off + 4 > n) {
        free(extra);
        return bmx_err_set(err, BMX_ECORRUPT, "%s: the run state is cut short", path);
    }
    rc = bmx_mix_restore(out, extra + off, n - 4 - off, err);
    free(extra);
    return rc;
}
