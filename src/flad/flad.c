/* src/flad/flad.c - the FLAD loop: target and auxiliary gradients, rewards, early stopping. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bmx/eval.h"
#include "bmx/flad.h"

enum { P_TARGET_ONLY, P_EXPLORE, P_EXPLOIT, P_EXP3, P_UCB1 };

struct bmx_flad {
    bmx_flad_config cfg;
    char policy[128], params[256];
    int kind;
    bmx_trainer *tr;
    bmx_model *m;
    const bmx_tok *tok;
    const bmx_task *target;
    bmx_flad_aux *aux;
    int naux;
    size_t **aux_idx, *aux_n; /* train-split indices per arm */
    size_t *ftrain, nftrain, *fval, nfval;
    bmx_mix *mix;
    bmx_rng rng;
    bmx_flad_range *ranges;
    size_t nranges, nparams;
    float *gt, *best, *gacc; /* gacc: g_T + g_1 + ... while G > 1 draws accumulate */
    int *tin, *ttg, *ain, *atg, *arms;
    double *rewards;
    size_t *tidx;
    long round, aux_batches, *arm_counts, best_round, nonuniform;
    double best_val;
    int bad_evals, stopped, scored;
};

bmx_flad_config bmx_flad_config_default(void)
{
    bmx_flad_config c = {"exp3", BMX_REWARD_AGG, "final", 4, 64, 10, 5, 0, 1, 1, 0};
    return c;
}

long bmx_flad_nonuniform_rounds(const bmx_flad *f)
{
    return f->nonuniform;
}

long bmx_flad_rounds(const bmx_flad *f)
{
    return f->round;
}
int bmx_flad_stopped(const bmx_flad *f)
{
    return f->stopped;
}
const bmx_mix *bmx_flad_mix(const bmx_flad *f)
{
    return f->mix;
}
long bmx_flad_aux_batches(const bmx_flad *f)
{
    return f->aux_batches;
}
const long *bmx_flad_arm_counts(const bmx_flad *f)
{
    return f->arm_counts;
}
const float *bmx_flad_target_grad(const bmx_flad *f)
{
    return f->gt;
}

double bmx_flad_best_val(const bmx_flad *f, long *best_round)
{
    if (best_round)
        *best_round = f->best_round;
    return f->best_val;
}

const bmx_flad_range *bmx_flad_ranges(const bmx_flad *f, size_t *n)
{
    *n = f->nranges;
    return f->ranges;
}

const size_t *bmx_flad_last_target(const bmx_flad *f, const int **inputs, const int **targets)
{
    if (inputs)
        *inputs = f->tin;
    if (targets)
        *targets = f->ttg;
    return f->tidx;
}

double bmx_flad_reward(bmx_reward kind, const bmx_flad_range *r, size_t nr, const float *ga,
                       const float *gt)
{
    bmx_grad_stats s = {0, 0, 0};
    for (size_t i = 0; i < nr; i++)
        bmx_grad_stats_add(&s, ga + r[i].offset, gt + r[i].offset, r[i].count);
    return bmx_reward_value(kind, &s, 0);
}

int bmx_flad_parse_params(const bmx_model *m, const char *spec, bmx_flad_range **out, size_t *n,
                          bmx_err *err)
{
    *out = NULL;
    *n = 0;
    if (!spec)
        spec = "final";
    int L = bmx_model_config(m)->layers;
    bmx_flad_range *r = calloc(BMX_NTENSORS, sizeof *r);
    if (!r)
        return bmx_err_set(err, BMX_ENOMEM, "out of memory");
    size_t k = 0;
    if (!strcmp(spec, "all")) {
        r[k++] = (bmx_flad_range){0, bmx_model_num_params(m)};
    } else if (!strcmp(spec, "final")) {
        for (int id = 0; id < BMX_NTENSORS; id++) {
            bmx_tensor_info ti = bmx_model_tensor(m, id);
            if (id == BMX_T_WPE)
                continue;
            if (id == BMX_T_WTE || id == BMX_T_LNFW || id == BMX_T_LNFB)
                r[k++] = (bmx_flad_range){ti.offset, ti.count};
            else
                r[k++] =
                    (bmx_flad_range){ti.offset + (size_t)(L - 1) * (ti.count / L), ti.count / L};
        }
    } else {
        char buf[512];
        snprintf(buf, sizeof buf, "%s", spec);
        for (char *s = strtok(buf, ","); s; s = strtok(NULL, ",")) {
            int found = -1;
            for (int id = 0; id < BMX_NTENSORS; id++)
                if (!strcmp(bmx_model_tensor(m, id).name, s))
                    found = id;
            if (found < 0) {
                free(r);
                return bmx_err_set(err, BMX_EINVAL,
                                   "reward parameters: unknown tensor '%s' (give final, all, or "
                                   "names such as wte,lnfw,fcprojw)",
                                   s);
            }
            for (size_t i = 0; i < k; i++)
                if (r[i].offset == bmx_model_tensor(m, found).offset) {
                    free(r);
                    return bmx_err_set(err, BMX_EINVAL, "reward parameters: '%s' given twice", s);
                }
            if (k == BMX_NTENSORS)
                break;
            bmx_tensor_info ti = bmx_model_tensor(m, found);
            r[k++] = (bmx_flad_range){ti.offset, ti.count};
        }
        if (k == 0) {
            free(r);
            return bmx_err_set(err, BMX_EINVAL, "reward parameters: '%s' names no tensor", spec);
        }
    }
    *out = r;
    *n = k;
    return 0;
}

void bmx_flad_free(bmx_flad *f)
{
    if (!f)
        return;
    for (int i = 0; f->aux_idx && i < f->naux; i++)
        free(f->aux_idx[i]);
    free(f->aux_idx);
    free(f->aux_n);
    free(f->aux);
    free(f->ftrain);
    free(f->fval);
    bmx_mix_free(f->mix);
    free(f->ranges);
    free(f->gt);
    free(f->best);
    free(f->gacc);
    free(f->arms);
    free(f->rewards);
    free(f->tin);
    free(f->ttg);
    free(f->ain);
    free(f->atg);
    free(f->tidx);
    free(f->arm_counts);
    free(f);
}

/* Pack a batch of rows: examples idx[0..B) of task t, template tmpl, correct answers. */
static int pack_batch(bmx_flad *f, const bmx_task *t, int tmpl, const size_t *idx, int *in, int *tg,
                      bmx_err *err)
{
    int T = f->cfg.T;
    for (int b = 0; b < f->cfg.batch; b++) {
        const bmx_task_example *e = bmx_task_example_at(t, idx[b]);
        char *prompt;
        int rc = bmx_task_prompt(t, idx[b], tmpl, &prompt, err);
        if (!rc)
            rc = bmx_eval_pack_text(f->tok, prompt, e->choices[e->correct], T, in + (size_t)b * T,
                                    tg + (size_t)b * T, NULL, err);
        free(prompt);
        if (rc)
            return rc;
    }
    return 0;
}

static int target_batch(bmx_flad *f, bmx_err *err)
{
    for (int b = 0; b < f->cfg.batch; b++)
        f->tidx[b] = f->ftrain[bmx_rng_below(&f->rng, f->nftrain)];
    return pack_batch(f, f->target, 0, f->tidx, f->tin, f->ttg, err);
}

static int aux_batch(bmx_flad *f, int a, bmx_err *err)
{
    size_t idx[256];
    for (int b = 0; b < f->cfg.batch; b++)
        idx[b] = f->aux_idx[a][bmx_rng_below(&f->rng, f->aux_n[a])];
    f->aux_batches++;
    f->arm_counts[a]++;
    return pack_batch(f, f->aux[a].task, f->aux[a].tmpl, idx, f->ain, f->atg, err);
}

/* The gradient of one packed batch at the current parameters into the model's buffer. */
static int batch_grad(bmx_flad *f, const int *in, const int *tg, double *loss, bmx_err *err)
{
    int rc = bmx_model_forward(f->m, in, tg, f->cfg.batch, f->cfg.T, loss, NULL, NULL, err);
    return rc ? rc : bmx_model_backward(f->m, 1.0, 0, err);
}

/* Target gradient at the current parameters into f->gt (model gradient buffer overwritten). */
static int target_grad(bmx_flad *f, double *loss, bmx_err *err)
{
    int rc = target_batch(f, err);
    if (!rc)
        rc = batch_grad(f, f->tin, f->ttg, loss, err);
    if (!rc)
        memcpy(f->gt, bmx_model_grads(f->m), f->nparams * sizeof(float));
    return rc;
}

/* max_a |pi_a - 1/K| > 1e-12 */
static int nonuniform(const double *pi, int k)
{
    for (int a = 0; a < k; a++)
        if (fabs(pi[a] - 1.0 / k) > 1e-12)
            return 1;
    return 0;
}

static int validate(bmx_flad *f, double *acc, bmx_err *err)
{
    return bmx_eval_task(f->m, f->tok, f->target, f->fval, f->nfval, 0, f->cfg.T, acc, NULL, err);
}

static int scoring_pass(bmx_flad *f, bmx_err *err)
{
    double lt;
    int rc = target_grad(f, &lt, err);
    for (int a = 0; a < f->naux && !rc; a++) {
        rc = aux_batch(f, a, err);
        if (!rc)
            rc = batch_grad(f, f->ain, f->atg, NULL, err);
        if (!rc)
            rc = bmx_mix_observe(
                f->mix, a,
                bmx_flad_reward(f->cfg.reward, f->ranges, f->nranges, bmx_model_grads(f->m), f->gt),
                err);
    }
    if (!rc)
        f->scored = 1;
    return rc;
}

int bmx_flad_create(bmx_flad **out, const bmx_flad_config *cfg, bmx_trainer *tr, const bmx_tok *tok,
                    const bmx_task *target, const bmx_flad_aux *aux, int naux, bmx_err *err)
{
    *out = NULL;
    static const char *const names[] = {"target-only", "explore-only", "exploit-only", "exp3",
                                        "ucb1"};
    int kind = -1;
    const char *pol = cfg->policy ? cfg->policy : "exp3";
    size_t plen = strcspn(pol, ":");
    for (int i = 0; i < 5; i++)
        if (strlen(names[i]) == plen && !strncmp(pol, names[i], plen))
            kind = i;
    if (kind < 0)
        return bmx_err_set(err, BMX_EINVAL,
                           "unknown FLAD policy '%s': give exp3, ucb1, explore-only, "
                           "exploit-only or target-only",
                           pol);
    if (cfg->reward != BMX_REWARD_GA && cfg->reward != BMX_REWARD_GMS &&
        cfg->reward != BMX_REWARD_AGG)
        return bmx_err_set(err, BMX_EINVAL, "FLAD rewards are ga, gms or agg");
    if (cfg->batch < 1 || cfg->batch > 256 || cfg->T < 2 || cfg->eval_every < 1 ||
        cfg->patience < 0 || cfg->aux_draws < 1 || cfg->aux_draws > BMX_FLAD_MAX_DRAWS ||
        cfg->min_rounds < 0)
        return bmx_err_set(err, BMX_EINVAL,
                           "bad FLAD settings: batch %d (1..256), T %d (>= 2), eval_every %d "
                           "(>= 1), patience %d (>= 0), aux_draws %d (1..%d), min_rounds %ld "
                           "(>= 0)",
                           cfg->batch, cfg->T, cfg->eval_every, cfg->patience, cfg->aux_draws,
                           BMX_FLAD_MAX_DRAWS, cfg->min_rounds);
    bmx_model *m = bmx_trainer_model(tr);
    if (bmx_model_dtype(m) != BMX_F32 || bmx_trainer_config(tr)->accum != 1)
        return bmx_err_set(err, BMX_EINVAL, "FLAD needs a float model and a trainer with accum 1");
    if (cfg->T > bmx_model_config(m)->ctx)
        return bmx_err_set(err, BMX_EINVAL, "T %d exceeds the model's context %d", cfg->T,
                           bmx_model_config(m)->ctx);
    if (bmx_tok_vocab_size(tok) > (uint32_t)bmx_model_config(m)->vocab)
        return bmx_err_set(err, BMX_EINVAL,
                           "the tokenizer has %u ids, the model %d: use the model's tokenizer",
                           bmx_tok_vocab_size(tok), bmx_model_config(m)->vocab);
    if (kind != P_TARGET_ONLY && naux < 1)
        return bmx_err_set(err, BMX_EINVAL, "policy %s needs at least one auxiliary dataset",
                           names[kind]);
    if (naux < 0 || naux > BMX_MIX_MAX_ARMS)
        return bmx_err_set(err, BMX_EINVAL, "bad number of auxiliary datasets %d", naux);
    bmx_flad *f = calloc(1, sizeof *f);
    if (!f)
        return bmx_err_set(err, BMX_ENOMEM, "out of memory");
    f->cfg = *cfg;
    snprintf(f->policy, sizeof f->policy, "%s", pol);
    snprintf(f->params, sizeof f->params, "%s", cfg->params ? cfg->params : "final");
    f->cfg.policy = f->policy;
    f->cfg.params = f->params;
    f->kind = kind;
    f->tr = tr;
    f->m = m;
    f->tok = tok;
    f->target = target;
    f->naux = naux;
    f->nparams = bmx_model_num_params(m);
    f->best_val = -1;
    bmx_rng_seed(&f->rng, cfg->seed, 1);
    size_t BT = (size_t)cfg->batch * cfg->T;
    int rc = 0;
    f->aux = calloc(naux ? naux : 1, sizeof *f->aux);
    f->aux_idx = calloc(naux ? naux : 1, sizeof *f->aux_idx);
    f->aux_n = calloc(naux ? naux : 1, sizeof *f->aux_n);
    f->arm_counts = calloc(naux ? naux : 1, sizeof *f->arm_counts);
    f->gt = malloc(f->nparams * sizeof *f->gt);
    f->best = malloc(f->nparams * sizeof *f->best);
    f->tin = malloc(BT * sizeof(int));
    f->ttg = malloc(BT * sizeof(int));
    f->ain = malloc(BT * sizeof(int));
    f->atg = malloc(BT * sizeof(int));
    f->tidx = calloc((size_t)cfg->batch, sizeof *f->tidx);
    f->arms = calloc((size_t)cfg->aux_draws, sizeof *f->arms);
    f->rewards = calloc((size_t)cfg->aux_draws, sizeof *f->rewards);
    if (cfg->aux_draws > 1)
        f->gacc = malloc(f->nparams * sizeof *f->gacc);
    if (!f->aux || !f->aux_idx || !f->aux_n || !f->arm_counts || !f->gt || !f->best || !f->tin ||
        !f->ttg || !f->ain || !f->atg || !f->tidx || !f->arms || !f->rewards ||
        (cfg->aux_draws > 1 && !f->gacc))
        rc = bmx_err_set(err, BMX_ENOMEM, "out of memory for a FLAD run");
    for (int a = 0; a < naux && !rc; a++) {
        if (aux[a].tmpl < 0 || aux[a].tmpl >= BMX_TASK_TEMPLATES)
            rc = bmx_err_set(err, BMX_EINVAL, "auxiliary dataset %d: template %d out of range", a,
                             aux[a].tmpl);
        else if (aux[a].task == target)
            rc = bmx_err_set(err, BMX_EINVAL,
                             "auxiliary dataset %d is the target task %s itself: hold the "
                             "target out of the auxiliary pool",
                             a, bmx_task_name(target));
        else {
            f->aux[a] = aux[a];
            rc = bmx_task_split_indices(aux[a].task, BMX_SPLIT_TRAIN, &f->aux_idx[a], &f->aux_n[a],
                                        err);
            if (!rc && f->aux_n[a] == 0)
                rc = bmx_err_set(err, BMX_EINVAL, "auxiliary task %s has no training examples",
                                 bmx_task_name(aux[a].task));
        }
    }
    if (!rc)
        rc =
            bmx_task_fewshot(target, cfg->split, &f->ftrain, &f->nftrain, &f->fval, &f->nfval, err);
    if (!rc)
        rc = bmx_flad_parse_params(m, f->params, &f->ranges, &f->nranges, err);
    if (!rc && kind != P_TARGET_ONLY) {
        char spec[160];
        snprintf(spec, sizeof spec, "%s", pol);
        rc = bmx_mix_create(&f->mix, spec, naux, NULL, cfg->seed, err);
    }
    double acc = 0;
    if (!rc)
        rc = validate(f, &acc, err);
    if (rc) {
        bmx_flad_free(f);
        return rc;
    }
    f->best_val = acc;
    f->best_round = 0;
    memcpy(f->best, bmx_model_params(m), f->nparams * sizeof(float));
    *out = f;
    return 0;
}

int bmx_flad_round(bmx_flad *f, bmx_flad_info *info, bmx_err *err)
{
    bmx_flad_info in = {0};
    in.arm = -1;
    in.reward = NAN;
    in.aux_loss = NAN;
    if (f->stopped)
        return bmx_err_set(err, BMX_ESTATE, "the run stopped early at round %ld", f->round);
    int rc = 0;
    if (f->kind == P_EXPLOIT && !f->scored)
        rc = scoring_pass(f, err);
    if (rc)
        return rc;
    if (f->kind == P_TARGET_ONLY) {
        rc = target_batch(f, err);
        if (!rc)
            rc = bmx_trainer_micro(f->tr, f->tin, f->ttg, f->cfg.batch, f->cfg.T, &in.target_loss,
                                   NULL, NULL, err);
    } else {
        int G = f->cfg.aux_draws;
        float *g = bmx_model_grads(f->m), *acc = G > 1 ? f->gacc : f->gt;
        double lsum = 0;
        rc = target_grad(f, &in.target_loss, err);
        in.nonuniform = nonuniform(bmx_mix_probs(f->mix), f->naux);
        if (!rc && G > 1)
            memcpy(f->gacc, f->gt, f->nparams * sizeof(float));
        for (int j = 0; j < G && !rc; j++) {
            double l = 0;
            f->arms[j] = bmx_mix_draw(f->mix);
            f->rewards[j] = NAN;
            rc = aux_batch(f, f->arms[j], err);
            if (!rc) /* the last draw through the trainer: its gradient becomes the step's */
                rc = j + 1 < G ? batch_grad(f, f->ain, f->atg, &l, err)
                               : bmx_trainer_micro(f->tr, f->ain, f->atg, f->cfg.batch, f->cfg.T,
                                                   &l, NULL, NULL, err);
            lsum += l;
            if (!rc && (f->kind == P_EXP3 || f->kind == P_UCB1)) {
                f->rewards[j] = bmx_flad_reward(f->cfg.reward, f->ranges, f->nranges, g, f->gt);
                rc = bmx_mix_observe(f->mix, f->arms[j], f->rewards[j], err);
            }
            if (!rc && j + 1 < G)
                for (size_t i = 0; i < f->nparams; i++)
                    f->gacc[i] += g[i];
        }
        if (!rc)
            for (size_t i = 0; i < f->nparams; i++)
                g[i] = (acc[i] + g[i]) / (float)(G + 1);
        in.arm = f->arms[0];
        in.reward = f->rewards[0];
        in.draws = G;
        in.arms = f->arms;
        in.rewards = f->rewards;
        in.aux_loss = lsum / G;
    }
    if (!rc)
        rc = bmx_trainer_apply(f->tr, NULL, err);
    if (!rc && f->mix)
        rc = bmx_mix_step(f->mix, err);
    if (rc)
        return rc;
    f->round++;
    f->nonuniform += in.nonuniform;
    in.round = f->round;
    if (f->round % f->cfg.eval_every == 0) {
        rc = validate(f, &in.val_acc, err);
        if (rc)
            return rc;
        in.evaluated = 1;
        if (in.val_acc > f->best_val) {
            f->best_val = in.val_acc;
            f->best_round = f->round;
            f->bad_evals = 0;
            memcpy(f->best, bmx_model_params(f->m), f->nparams * sizeof(float));
        } else if (f->cfg.patience && ++f->bad_evals >= f->cfg.patience &&
                   f->round >= f->cfg.min_rounds) {
            f->stopped = 1;
        }
    }
    in.best_val = f->best_val;
    in.best_round = f->best_round;
    in.stopped = f->stopped;
    if (info)
        *info = in;
    return 0;
}

int bmx_flad_finish(bmx_flad *f, double *test_acc_sum, double *test_acc_mean, bmx_err *err)
{
    memcpy(bmx_model_params(f->m), f->best, f->nparams * sizeof(float));
    size_t *idx, n;
    int rc = bmx_task_split_indices(f->target, BMX_SPLIT_TEST, &idx, &n, err);
    if (rc)
        return rc;
    rc = bmx_eval_task(f->m, f->tok, f->target, idx, n, 0, f->cfg.T, test_acc_sum, test_acc_mean,
                       err);
    free(idx);
    return rc;
}

/* ---- state ---- */

#define MAGIC "BMXFLAD1"
/* Version 2 adds the count of non-uniform rounds after best_round. */
#define FLAD_STATE_VERSION 2u

typedef struct sw {
    unsigned char *p;
    size_t len, cap;
} sw;

static void put(sw *w, const void *s, size_t n)
{
    if (w->p && w->len + n <= w->cap)
        memcpy(w->p + w->len, s, n);
    w->len += n;
}

int bmx_flad_save(const bmx_flad *f, void *buf, size_t cap, size_t *len, bmx_err *err)
{
    size_t mlen = 0;
    int rc = f->mix ? bmx_mix_save(f->mix, NULL, 0, &mlen, err) : 0;
    if (rc)
        return rc;
    sw w = {buf, 0, cap};
    uint32_t ver = FLAD_STATE_VERSION, naux = (uint32_t)f->naux;
    uint64_t np = f->nparams, ml = mlen;
    int32_t flags[3] = {f->bad_evals, f->stopped, f->scored};
    put(&w, MAGIC, 8);
    put(&w, &ver, 4);
    put(&w, &naux, 4);
    put(&w, &np, 8);
    put(&w, &f->round, sizeof(long));
    put(&w, &f->aux_batches, sizeof(long));
    put(&w, &f->best_round, sizeof(long));
    put(&w, &f->nonuniform, sizeof(long));
    put(&w, &f->best_val, 8);
    put(&w, flags, sizeof flags);
    put(&w, &f->rng, sizeof f->rng);
    put(&w, f->arm_counts, sizeof(long) * f->naux);
    put(&w, &ml, 8);
    size_t at = w.len;
    w.len += mlen;
    put(&w, f->best, f->nparams * sizeof(float));
    uint32_t crc = 0;
    size_t need = w.len + 4;
    *len = need;
    if (!buf)
        return 0;
    if (cap < need)
        return bmx_err_set(err, BMX_EINVAL, "FLAD state needs %zu bytes, buffer has %zu", need,
                           cap);
    size_t ml2;
    if (f->mix && (rc = bmx_mix_save(f->mix, w.p + at, mlen, &ml2, err)))
        return rc;
    crc = bmx_crc32(0, buf, w.len);
    memcpy(w.p + w.len, &crc, 4);
    return 0;
}

int bmx_flad_load(bmx_flad *f, const void *buf, size_t len, bmx_err *err)
{
    const unsigned char *p = buf;
    size_t fixed = 8 + 4 + 4 + 8 + 4 * sizeof(long) + 8 + 12 + sizeof(bmx_rng);
    if (len < fixed + 12 || memcmp(p, MAGIC, 8))
        return bmx_err_set(err, BMX_ECORRUPT, "FLAD state: bad magic or too short");
    uint32_t crc;
    memcpy(&crc, p + len - 4, 4);
    if (crc != bmx_crc32(0, p, len - 4))
        return bmx_err_set(err, BMX_ECORRUPT, "FLAD state: checksum mismatch");
    uint32_t ver, naux;
    uint64_t np, ml;
    memcpy(&ver, p + 8, 4);
    memcpy(&naux, p + 12, 4);
    memcpy(&np, p + 16, 8);
    if (ver != FLAD_STATE_VERSION)
        return bmx_err_set(err, BMX_EINVAL,
                           "FLAD state version %u; this build reads version %u (version 1 "
                           "predates the count of non-uniform rounds): start the run again in a "
                           "new run folder",
                           ver, FLAD_STATE_VERSION);
    if (naux != (uint32_t)f->naux || np != f->nparams)
        return bmx_err_set(err, BMX_EINVAL,
                           "FLAD state is for %u auxiliary datasets and %llu parameters, this "
                           "run has %d and %zu (resume with the same settings)",
                           naux, (unsigned long long)np, f->naux, f->nparams);
    size_t o = 24;
    long round, auxb, bestr, nonuni;
    double bestv;
    int32_t flags[3];
    bmx_rng rng;
    memcpy(&round, p + o, sizeof(long));
    o += sizeof(long);
    memcpy(&auxb, p + o, sizeof(long));
    o += sizeof(long);
    memcpy(&bestr, p + o, sizeof(long));
    o += sizeof(long);
    memcpy(&nonuni, p + o, sizeof(long));
    o += sizeof(long);
    memcpy(&bestv, p + o, 8);
    o += 8;
    memcpy(flags, p + o, 12);
    o += 12;
    memcpy(&rng, p + o, sizeof rng);
    o += sizeof rng;
    size_t ac = sizeof(long) * naux;
    if (len < o + ac + 8 + 4)
        return bmx_err_set(err, BMX_ECORRUPT, "FLAD state: truncated");
    const unsigned char *arms = p + o;
    o += ac;
    memcpy(&ml, p + o, 8);
    o += 8;
    if (ml > len || len - o - 4 != ml + np * sizeof(float))
        return bmx_err_set(err, BMX_ECORRUPT, "FLAD state: sizes do not add up");
    if ((ml != 0) != (f->mix != NULL))
        return bmx_err_set(err, BMX_EINVAL, "FLAD state: saved with another policy");
    if (f->mix) {
        int rc = bmx_mix_load(f->mix, p + o, ml, err);
        if (rc)
            return rc;
    }
    o += ml;
    memcpy(f->best, p + o, np * sizeof(float));
    memcpy(f->arm_counts, arms, ac);
    f->round = round;
    f->aux_batches = auxb;
    f->best_round = bestr;
    f->nonuniform = nonuni;
    f->best_val = bestv;
    f->bad_evals = flags[0];
    f->stopped = flags[1];
    f->scored = flags[2];
    f->rng = rng;
    return 0;
}
