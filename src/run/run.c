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

#include "bmx/data.h"
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
    bmx_trainer *tr;
    int *inp, *tgt;
    uint32_t *win;
    double *tok, *rtok;
    double *probs, *dloss, *exsum, *extok, *vloss;
    int *dcount;
    FILE *log, *timing;
    long step;
    uint64_t tokens;
    long last_ckpt;
    bmx_json j;
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
    bmx_trainer_free(r->tr);
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
    if (r->log)
        fclose(r->log);
    if (r->timing)
        fclose(r->timing);
    bmx_json_free(&r->j);
    free(r->cfg_text);
    bmx_run_strings_free(&r->strs);
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
                    (long long)r->cfg.batch * r->cfg.seq * (long long)r->cfg.accum);
    bmx_json_kv_int(j, "steps", r->cfg.steps);
    bmx_json_kv_str(j, "config", r->cfg_text);
    bmx_json_end_obj(j);
    return put_line(r, r->log, "log.jsonl", err);
}

/* ---- evaluation ---- */

static int evaluate(struct run *r, bmx_err *err)
{
    int B = r->cfg.batch, T = r->cfg.seq;
    double avg_loss = 0, avg_ppl = 0;
    double *seq = r->tok; /* at least B values */
    for (int d = 0; d < r->K; d++) {
        double sum = 0;
        for (size_t w0 = 0; w0 < r->nval[d]; w0 += (size_t)B) {
            int nb = (int)(r->nval[d] - w0 < (size_t)B ? r->nval[d] - w0 : (size_t)B);
            for (int b = 0; b < nb; b++) {
                bmx_shard_copy(r->val[d], r->vstart[d][w0 + (size_t)b], (size_t)T + 1, r->win);
                for (int k = 0; k < T; k++) {
                    r->inp[b * T + k] = (int)r->win[k];
                    r->tgt[b * T + k] = (int)r->win[k + 1];
                }
            }
            int rc = bmx_model_forward(r->model, r->inp, r->tgt, nb, T, NULL, seq, NULL, err);
            if (rc)
                return rc;
            for (int b = 0; b < nb; b++)
                sum += seq[b];
        }
        r->vloss[d] = sum / (double)r->nval[d];
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
    if (!isfinite(avg_loss))
        return bmx_err_set(err, BMX_ESTATE,
                           "step %ld: the validation loss is not finite; stopped (the last good "
                           "checkpoint, step %ld, is intact in %s/checkpoint.bin): lower --lr",
                           r->step, r->last_ckpt, r->dir);
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

static int checkpoint(struct run *r, bmx_err *err)
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
    rc = bmx_checkpoint_save(path, r->tr, buf, (size_t)(p - buf), err);
    free(buf);
    if (!rc)
        r->last_ckpt = r->step;
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
    r->step = (long)get64(&p);
    r->tokens = get64(&p);
    uint64_t loglen = get64(&p);
    for (int i = 0; i < r->K; i++)
        for (int k = 0; k < 4; k++)
            r->drng[i].s[k] = get64(&p);
    size_t mlen = n - 4 - (size_t)(p - buf);
    bmx_mix *m = NULL;
    int rc = bmx_mix_restore(&m, p, mlen, err);
    if (rc)
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
    char path[PATH_MAX + 32];
    path_in(r, path, sizeof path, "log.jsonl");
    if ((rc = cut_file(path, loglen, err)))
        return rc;
    path_in(r, path, sizeof path, "timing.jsonl");
    if ((rc = cut_timing(path, r->step, err)))
        return rc;
    r->last_ckpt = r->step;
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
    if (nl == 7 && strncmp(spec, "natural", 7) == 0) { /* always the training tokens */
        for (int i = 0; i < K; i++)
            w[i] = (double)r->train_tokens[i];
        wp = w;
    }
    r->doremi = nl == 6 && strncmp(spec, "doremi", 6) == 0;
    if (r->doremi && !strstr(spec, "vocab="))
        snprintf(spec + strlen(spec), sizeof spec - strlen(spec), "%svocab=%u",
                 strchr(spec, ':') ? "," : ":", r->train[0]->vocab_size);
    rc = bmx_mix_create(&r->mix, spec, K, wp, r->cfg.seed, err);
    free(w);
    if (rc)
        return rc;
    r->mean_obs = strcmp(bmx_mix_name(r->mix), "odm-smoothed-mean") == 0;
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
    if (!r->inp || !r->tgt || !r->win || !r->tok || !r->rtok || !r->probs || !r->dloss ||
        !r->exsum || !r->extok || !r->vloss || !r->dcount)
        return bmx_err_set(err, BMX_ENOMEM, "out of memory for batches of %zu tokens", N);
    return 0;
}

static int load_reference(struct run *r, bmx_err *err)
{
    char path[PATH_MAX + 32];
    bmx_trainer *t = NULL;
    snprintf(path, sizeof path, "%s/checkpoint.bin", r->cfg.reference);
    int rc = bmx_checkpoint_load(path, 1, &r->ref, &t, NULL, NULL, err);
    bmx_trainer_free(t);
    if (rc)
        return rc;
    const bmx_gpt_config *a = bmx_model_config(r->ref), *b = bmx_model_config(r->model);
    if (a->vocab != b->vocab || a->ctx < r->cfg.seq)
        return bmx_err_set(err, BMX_EINVAL,
                           "the reference model %s has vocabulary %d and context %d; this run "
                           "needs vocabulary %d and context >= %d",
                           path, a->vocab, a->ctx, b->vocab, r->cfg.seq);
    return 0;
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

static void scale_grads(struct run *r, double s)
{
    float *g = bmx_model_grads(r->model);
    size_t n = bmx_model_num_params(r->model);
    float fs = (float)s;
    for (size_t i = 0; i < n; i++)
        g[i] *= fs;
}

static int train_step(struct run *r, double *loss_out, bmx_err *err)
{
    int K = r->K, G = r->cfg.accum, B = r->cfg.batch, T = r->cfg.seq, rc;
    size_t N = (size_t)B * T;
    const double *alpha = r->doremi ? bmx_mix_estimates(r->mix) : NULL;
    const double *q = bmx_mix_probs(r->mix);
    double wprev = 0, wsum = 0;
    memcpy(r->probs, q, (size_t)K * sizeof *r->probs);
    for (int d = 0; d < K; d++) {
        r->dloss[d] = 0;
        r->dcount[d] = 0;
        r->exsum[d] = 0;
        r->extok[d] = 0;
    }
    for (int g = 0; g < G; g++) {
        int d = bmx_mix_draw(r->mix);
        double loss = 0;
        fill_batch(r, d);
        if (r->doremi) {
            /* gradient of sum_g w_g loss_g / sum_g w_g: keep the buffer scaled by 1 / w of
             * the newest micro-batch, fix the scale at the end */
            double w = alpha[d] / r->probs[d];
            if (g > 0)
                scale_grads(r, wprev / w);
            wprev = w;
            wsum += w;
        }
        rc = bmx_trainer_micro(r->tr, r->inp, r->tgt, B, T, &loss, NULL, r->doremi ? r->tok : NULL,
                               err);
        if (rc)
            return rc;
        if (!isfinite(loss))
            return bmx_err_set(err, BMX_ESTATE,
                               "step %ld: a micro-batch of domain '%s' has loss %g; stopped (the "
                               "last good checkpoint, step %ld, is intact in %s/checkpoint.bin): "
                               "lower --lr or raise --warmup",
                               r->step + 1, r->names[d], loss, r->last_ckpt, r->dir);
        r->dloss[d] += loss;
        r->dcount[d]++;
        if (r->doremi) {
            if ((rc = bmx_model_forward(r->ref, r->inp, r->tgt, B, T, NULL, NULL, r->rtok, err)))
                return rc;
            double ex = 0;
            for (size_t i = 0; i < N; i++)
                ex += r->tok[i] > r->rtok[i] ? r->tok[i] - r->rtok[i] : 0.0;
            r->exsum[d] += ex;
            r->extok[d] += (double)N;
        } else {
            double v = bmx_reward_value(r->reward, NULL, loss);
            if ((rc = bmx_mix_observe(r->mix, d, v, err)))
                return rc;
        }
    }
    if (r->doremi)
        scale_grads(r, wprev * G / wsum);
    bmx_step_info info;
    if ((rc = bmx_trainer_apply(r->tr, &info, err)))
        return rc;
    if (r->doremi && (rc = bmx_mix_observe_excess(r->mix, r->exsum, r->extok, err)))
        return rc;
    if ((rc = bmx_mix_step(r->mix, err)))
        return rc;
    r->step++;
    r->tokens += (uint64_t)N * (uint64_t)G;
    *loss_out = info.loss;
    bmx_json *j = &r->j;
    bmx_json_obj(j);
    bmx_json_kv_str(j, "type", "step");
    bmx_json_kv_int(j, "step", r->step);
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

static int setup(struct run *r, const bmx_run_config *cfg, int resume, bmx_err *err)
{
    char path[PATH_MAX + 32];
    int rc;
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
        if ((rc = bmx_run_config_load(&r->cfg, path, &r->strs, err)))
            return rc;
        r->cfg.out = cfg->out;
        if (cfg->steps > 0)
            r->cfg.steps = cfg->steps;
        if (cfg->threads > 0)
            r->cfg.threads = cfg->threads;
    } else {
        r->cfg = *cfg;
    }
    if ((rc = bmx_run_config_check(&r->cfg, err)))
        return rc;
    if (r->cfg.schedule == 0)
        r->cfg.schedule = r->cfg.steps;
    if (r->cfg.threads > 0)
        bmx_kernels_set_threads(r->cfg.threads);
    if ((rc = open_data(r, err)) || (rc = make_policy(r, err)) || (rc = make_buffers(r, err)))
        return rc;
    if (!resume) {
        path_in(r, path, sizeof path, "checkpoint.bin");
        char lp[PATH_MAX + 32];
        path_in(r, lp, sizeof lp, "log.jsonl");
        if (stat(path, &st) == 0 || stat(lp, &st) == 0)
            return bmx_err_set(err, BMX_EINVAL,
                               "%s already holds a run: continue it with --resume, or give "
                               "another --out",
                               r->dir);
        if ((rc = mkdirs(r->dir, err)))
            return rc;
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
    rc = setup(&r, cfg, opts && opts->resume, err);
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
    if (r.doremi && (rc = load_reference(&r, err)))
        goto done;
    if ((rc = write_config(&r, err))) /* on resume too: --steps may have changed */
        goto done;
    path_in(&r, path, sizeof path, "log.jsonl");
    r.log = fopen(path, fresh ? "w" : "a");
    char tp[PATH_MAX + 32];
    path_in(&r, tp, sizeof tp, "timing.jsonl");
    r.timing = fopen(tp, fresh ? "w" : "a");
    if (!r.log || !r.timing) {
        rc = bmx_err_set(err, BMX_EIO, "cannot open %s for writing: %s", !r.log ? path : tp,
                         strerror(errno));
        goto done;
    }
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
        if (opts && opts->stop && *opts->stop) {
            rc = checkpoint(&r, err);
            if (!rc)
                rc = 1;
            goto done;
        }
        double t0 = now_s(), loss = 0;
        if ((rc = train_step(&r, &loss, err)))
            goto done;
        double dt = now_s() - t0;
        double tok_s = dt > 0 ? (double)r.cfg.batch * r.cfg.seq * r.cfg.accum / dt : 0;
        bmx_json_obj(&r.j);
        bmx_json_kv_int(&r.j, "step", r.step);
        bmx_json_kv_num(&r.j, "tok_s", tok_s);
        bmx_json_kv_num(&r.j, "step_s", dt);
        bmx_json_end_obj(&r.j);
        if ((rc = put_line(&r, r.timing, "timing.jsonl", err)))
            goto done;
        pg.step = r.step;
        pg.loss = loss;
        pg.tok_s = tok_s;
        pg.elapsed_s = now_s() - t_start;
        pg.probs = bmx_mix_probs(r.mix);
        pg.eval = 0;
        if (opts && opts->progress)
            opts->progress(opts->progress_ctx, &pg);
        if ((r.cfg.eval_every && r.step % r.cfg.eval_every == 0) || r.step == r.cfg.steps) {
            if ((rc = evaluate(&r, err)))
                goto done;
            double a = 0;
            for (int d = 0; d < r.K; d++)
                a += exp(r.vloss[d]);
            pg.eval = 1;
            pg.avg_ppl = a / r.K;
            if (opts && opts->progress)
                opts->progress(opts->progress_ctx, &pg);
        }
        if ((r.cfg.ckpt_every && r.step % r.cfg.ckpt_every == 0) || r.step == r.cfg.steps)
            if ((rc = checkpoint(&r, err)))
                goto done;
    }
    if (r.last_ckpt != r.step)
        rc = checkpoint(&r, err);
done:
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
