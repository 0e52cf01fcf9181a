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
#include "bmx/core.h"
#include "bmx/rng.h"
#include "bmx/train.h"
#include "run_int.h"

#define VAL_SEED 0

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

/* ---- weights ---- */

static int parse_weights(const char *s, int K, double *w, bmx_err *err)
{
    const char *bad = NULL;
    int n = bmx_mix_parse_weights(s, w, K, &bad);
    if (n < 0)
        return bmx_err_set(err, BMX_EINVAL,
                           "weights '%s': '%.*s' is not a finite number >= 0; give %d "
                           "comma-separated numbers",
                           s, (int)strcspn(bad, ","), bad, K);
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
    bmx_json_kv_u64(j, "seed", r->cfg.seed);
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
    if (r->nranks > 1) {
        bmx_json_kv_int(j, "ranks", r->nranks);
        bmx_json_kv_str(j, "reduce", bmx_dist_reduce_name(bmx_dist_reduce_mode(r->dist)));
    }
    bmx_json_kv_int(j, "steps", r->cfg.steps);
    bmx_json_kv_str(j, "config", r->cfg_text);
    bmx_json_end_obj(j);
    return put_line(r, r->log, "log.jsonl", err);
}

/* ---- evaluation ---- */

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
    if (r->kind)
        return bmx_run_kind_evaluate(r, ev, err);
    int rc = val_losses(r, err);
    if (rc)
        return rc;
    ev->step = r->step;
    ev->acc = ev->best = NAN;
    ev->best_step = -1;
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
    if (r->kind)
        return bmx_run_kind_log_eval(r, ev, err);
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

/* Every rank: the lockstep check, then rank 0 writes; every rank learns how that went. */
int bmx_run_checkpoint(bmx_run *r, bmx_err *err)
{
    int rc = 0;
    if (r->kind)
        return bmx_run_kind_checkpoint(r, err);
    if (r->nranks > 1 && (rc = check_lockstep(r, err)))
        return rc;
    if (r->rank == 0)
        rc = bmx_run_state_save(r, err);
    if (r->nranks > 1)
        rc = bmx_dist_agree(r->dist, rc, err);
    if (!rc) {
        r->last_ckpt = r->step;
        r->have_ckpt = 1;
    }
    return rc;
}

/* ---- set-up ---- */

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
    if (r->doremi) { /* the proxy's domain weights after this step's update */
        bmx_json_key(j, "alpha");
        bmx_json_nums(j, bmx_mix_estimates(r->mix), (size_t)K);
    }
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
    if (r->kind)
        return bmx_run_kind_step(r, err);
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
        if ((rc = bmx_file_mkdir_p(r->dir, err)) || (rc = bmx_run_lock(r->dir, &r->lock_fd, err)))
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
    int rc = b.oom ? bmx_err_set(err, BMX_ENOMEM, "out of memory for %s", path)
                   : bmx_file_write_atomic(path, bmx_sbuf_str(&b), b.len, err);
    bmx_sbuf_free(&b);
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
        return bmx_run_state_resume(r, path, &mc, &tc, err);
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
    if (r->kind)
        r->kind->close(r->impl);
    run_free(r);
    free(r);
}
