/* src/flad/flad.c - the FLAD loop: target and auxiliary gradients, rewards, early stopping.
 * The model is reached only through the trainer backend (bmx/backend.h): per-batch gradients
 * (bmx_backend_grad; the step's last batch through bmx_backend_micro), the step's gradient
 * (the backend's host gradient buffer in place, or get_grads/set_grads), the optimizer
 * (bmx_backend_apply), validation and test scoring (bmx_backend_eval), the best parameters
 * (get_params; put back through the host trainer and bmx_backend_sync_from_host). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bmx/backend.h"
#include "bmx/checkpoint.h"
#include "bmx/eval.h"
#include "bmx/flad.h"
#include "flad_int.h"

enum { P_TARGET_ONLY, P_EXPLORE, P_EXPLOIT, P_EXP3, P_UCB1 };

struct bmx_flad {
    bmx_flad_config cfg;
    char policy[128], params[256];
    int kind;
    bmx_backend *be;
    int own_be;   /* made by bmx_flad_create (the CPU backend of its trainer) */
    bmx_model *m; /* the backend's host model: its shape (tensors, sizes), never its values */
    bmx_eval_forward fw; /* validation and test scoring through bmx_backend_eval */
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
    float *ga;               /* a gradient's host copy, when the backend has no host buffer */
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
    free(f->ga);
    free(f->arms);
    free(f->rewards);
    free(f->tin);
    free(f->ttg);
    free(f->ain);
    free(f->atg);
    free(f->tidx);
    free(f->arm_counts);
    if (f->own_be)
        bmx_backend_free(f->be);
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

/* The gradient of one packed batch at the current parameters into the backend's buffer
 * (outside the optimizer step's count). */
static int batch_grad(bmx_flad *f, const int *in, const int *tg, double *loss, bmx_err *err)
{
    return bmx_backend_grad(f->be, in, tg, f->cfg.batch, f->cfg.T, loss, err);
}

/* The gradient just computed, on the host: the backend's own buffer (CPU: no copy), or a copy
 * in f->ga. */
static int host_grads(bmx_flad *f, float **g, bmx_err *err)
{
    if ((*g = bmx_backend_host_grads(f->be)))
        return BMX_OK;
    *g = f->ga;
    return bmx_backend_get_grads(f->be, f->ga, err);
}

/* Target gradient at the current parameters into f->gt (the backend's gradient overwritten). */
static int target_grad(bmx_flad *f, double *loss, bmx_err *err)
{
    int rc = target_batch(f, err);
    if (!rc)
        rc = batch_grad(f, f->tin, f->ttg, loss, err);
    if (!rc)
        rc = bmx_backend_get_grads(f->be, f->gt, err);
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

/* rows through the backend's evaluation forward (scoring: validation, test) */
static int backend_fw(void *ctx, const int *inputs, const int *targets, int B, int T,
                      double *tok_loss, bmx_err *err)
{
    return bmx_backend_eval(ctx, inputs, targets, B, T, NULL, NULL, tok_loss, err);
}

bmx_eval_forward flad_backend_forward(bmx_backend *be)
{
    return (bmx_eval_forward){backend_fw, be,
                              bmx_model_config(bmx_trainer_model(bmx_backend_host(be)))->vocab};
}

static int validate(bmx_flad *f, double *acc, bmx_err *err)
{
    return bmx_eval_task_fw(&f->fw, f->tok, f->target, f->fval, f->nfval, 0, f->cfg.T, acc, NULL,
                            err);
}

static int scoring_pass(bmx_flad *f, bmx_err *err)
{
    double lt;
    float *g;
    int rc = target_grad(f, &lt, err);
    for (int a = 0; a < f->naux && !rc; a++) {
        rc = aux_batch(f, a, err);
        if (!rc)
            rc = batch_grad(f, f->ain, f->atg, NULL, err);
        if (!rc)
            rc = host_grads(f, &g, err);
        if (!rc)
            rc = bmx_mix_observe(
                f->mix, a, bmx_flad_reward(f->cfg.reward, f->ranges, f->nranges, g, f->gt), err);
    }
    if (!rc)
        f->scored = 1;
    return rc;
}

int bmx_flad_create(bmx_flad **out, const bmx_flad_config *cfg, bmx_trainer *tr, const bmx_tok *tok,
                    const bmx_task *target, const bmx_flad_aux *aux, int naux, bmx_err *err)
{
    bmx_backend *be = NULL;
    *out = NULL;
    int rc = bmx_backend_cpu(tr, &be, err);
    if (!rc)
        rc = bmx_flad_create_backend(out, cfg, be, tok, target, aux, naux, err);
    if (rc)
        bmx_backend_free(be);
    else
        (*out)->own_be = 1;
    return rc;
}

static const char *const kind_names[] = {"target-only", "explore-only", "exploit-only", "exp3",
                                         "ucb1"};

/* The policy's kind from its name, and the settings checked against the backend's model. */
static int check_setup(const bmx_flad_config *cfg, const char *pol, bmx_backend *be,
                       const bmx_tok *tok, int naux, int *kind, bmx_err *err)
{
    size_t plen = strcspn(pol, ":");
    *kind = -1;
    for (int i = 0; i < 5; i++)
        if (strlen(kind_names[i]) == plen && !strncmp(pol, kind_names[i], plen))
            *kind = i;
    if (*kind < 0)
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
    bmx_trainer *tr = bmx_backend_host(be);
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
    if (*kind != P_TARGET_ONLY && naux < 1)
        return bmx_err_set(err, BMX_EINVAL, "policy %s needs at least one auxiliary dataset",
                           kind_names[*kind]);
    if (naux < 0 || naux > BMX_MIX_MAX_ARMS)
        return bmx_err_set(err, BMX_EINVAL, "bad number of auxiliary datasets %d", naux);
    return BMX_OK;
}

/* The run's buffers: per auxiliary dataset, the gradients the rounds keep, the batches. */
static int alloc_buffers(bmx_flad *f, bmx_err *err)
{
    const bmx_flad_config *cfg = &f->cfg;
    size_t BT = (size_t)cfg->batch * cfg->T, na = f->naux ? (size_t)f->naux : 1;
    int need_ga = !bmx_backend_host_grads(f->be);
    f->aux = calloc(na, sizeof *f->aux);
    f->aux_idx = calloc(na, sizeof *f->aux_idx);
    f->aux_n = calloc(na, sizeof *f->aux_n);
    f->arm_counts = calloc(na, sizeof *f->arm_counts);
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
    if (need_ga)
        f->ga = malloc(f->nparams * sizeof *f->ga);
    if (!f->aux || !f->aux_idx || !f->aux_n || !f->arm_counts || !f->gt || !f->best || !f->tin ||
        !f->ttg || !f->ain || !f->atg || !f->tidx || !f->arms || !f->rewards ||
        (cfg->aux_draws > 1 && !f->gacc) || (need_ga && !f->ga))
        return bmx_err_set(err, BMX_ENOMEM, "out of memory for a FLAD run");
    return BMX_OK;
}

/* The auxiliary datasets (each a task and a template, never the target) and their examples. */
static int open_aux(bmx_flad *f, const bmx_flad_aux *aux, bmx_err *err)
{
    int rc = BMX_OK;
    for (int a = 0; a < f->naux && !rc; a++) {
        if (aux[a].tmpl < 0 || aux[a].tmpl >= BMX_TASK_TEMPLATES)
            rc = bmx_err_set(err, BMX_EINVAL, "auxiliary dataset %d: template %d out of range", a,
                             aux[a].tmpl);
        else if (aux[a].task == f->target)
            rc = bmx_err_set(err, BMX_EINVAL,
                             "auxiliary dataset %d is the target task %s itself: hold the "
                             "target out of the auxiliary pool",
                             a, bmx_task_name(f->target));
        else {
            f->aux[a] = aux[a];
            rc = bmx_task_split_indices(aux[a].task, BMX_SPLIT_TRAIN, &f->aux_idx[a], &f->aux_n[a],
                                        err);
            if (!rc && f->aux_n[a] == 0)
                rc = bmx_err_set(err, BMX_EINVAL, "auxiliary task %s has no training examples",
                                 bmx_task_name(aux[a].task));
        }
    }
    return rc;
}

int bmx_flad_create_backend(bmx_flad **out, const bmx_flad_config *cfg, bmx_backend *be,
                            const bmx_tok *tok, const bmx_task *target, const bmx_flad_aux *aux,
                            int naux, bmx_err *err)
{
    const char *pol = cfg->policy ? cfg->policy : "exp3";
    int kind, rc;
    *out = NULL;
    if ((rc = check_setup(cfg, pol, be, tok, naux, &kind, err)))
        return rc;
    bmx_flad *f = calloc(1, sizeof *f);
    if (!f)
        return bmx_err_set(err, BMX_ENOMEM, "out of memory");
    bmx_model *m = bmx_trainer_model(bmx_backend_host(be));
    f->cfg = *cfg;
    snprintf(f->policy, sizeof f->policy, "%s", pol);
    snprintf(f->params, sizeof f->params, "%s", cfg->params ? cfg->params : "final");
    f->cfg.policy = f->policy;
    f->cfg.params = f->params;
    f->kind = kind;
    f->be = be;
    f->m = m;
    f->fw = flad_backend_forward(be);
    f->tok = tok;
    f->target = target;
    f->naux = naux;
    f->nparams = bmx_model_num_params(m);
    f->best_val = -1;
    bmx_rng_seed(&f->rng, cfg->seed, 1);
    if (!(rc = alloc_buffers(f, err)) && !(rc = open_aux(f, aux, err)))
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
    if (!rc)
        rc = bmx_backend_get_params(be, f->best, err);
    if (rc) {
        bmx_flad_free(f);
        return rc;
    }
    f->best_val = acc;
    f->best_round = 0;
    *out = f;
    return 0;
}

/* Target-only: one target batch, the step's one micro-batch. */
static int target_only_grad(bmx_flad *f, bmx_flad_info *in, bmx_err *err)
{
    int rc = target_batch(f, err);
    return rc ? rc
              : bmx_backend_micro(f->be, f->tin, f->ttg, f->cfg.batch, f->cfg.T, 1.0,
                                  &in->target_loss, NULL, NULL, err);
}

/* Auxiliary draw j of the round: a_j ~ pi, its batch's gradient (the last draw is the step's
 * micro-batch) on the host in *g, its reward observed. */
static int aux_draw(bmx_flad *f, int j, double *loss, float **g, bmx_err *err)
{
    int last = j + 1 == f->cfg.aux_draws;
    f->arms[j] = bmx_mix_draw(f->mix);
    f->rewards[j] = NAN;
    int rc = aux_batch(f, f->arms[j], err);
    if (!rc)
        rc = last ? bmx_backend_micro(f->be, f->ain, f->atg, f->cfg.batch, f->cfg.T, 1.0, loss,
                                      NULL, NULL, err)
                  : batch_grad(f, f->ain, f->atg, loss, err);
    if (!rc)
        rc = host_grads(f, g, err);
    if (!rc && (f->kind == P_EXP3 || f->kind == P_UCB1)) {
        f->rewards[j] = bmx_flad_reward(f->cfg.reward, f->ranges, f->nranges, *g, f->gt);
        rc = bmx_mix_observe(f->mix, f->arms[j], f->rewards[j], err);
    }
    return rc;
}

/* With a pool: target gradient g_T, then G auxiliary draws, then the step's gradient
 * (g_T + g_1 + ... + g_G) / (G + 1) (summed in that order in float) in the backend's buffer:
 * in place in its host buffer, or computed in the host copy and set. */
static int pooled_grad(bmx_flad *f, bmx_flad_info *in, bmx_err *err)
{
    int G = f->cfg.aux_draws;
    float *g = NULL, *acc = G > 1 ? f->gacc : f->gt;
    double lsum = 0;
    int rc = target_grad(f, &in->target_loss, err);
    in->nonuniform = nonuniform(bmx_mix_probs(f->mix), f->naux);
    if (!rc && G > 1)
        memcpy(f->gacc, f->gt, f->nparams * sizeof(float));
    for (int j = 0; j < G && !rc; j++) {
        double l = 0;
        rc = aux_draw(f, j, &l, &g, err);
        lsum += l;
        if (!rc && j + 1 < G)
            for (size_t i = 0; i < f->nparams; i++)
                f->gacc[i] += g[i];
    }
    if (!rc)
        for (size_t i = 0; i < f->nparams; i++)
            g[i] = (acc[i] + g[i]) / (float)(G + 1);
    if (!rc && g == f->ga)
        rc = bmx_backend_set_grads(f->be, g, err);
    in->arm = f->arms[0];
    in->reward = f->rewards[0];
    in->draws = G;
    in->arms = f->arms;
    in->rewards = f->rewards;
    in->aux_loss = lsum / G;
    return rc;
}

/* The round's best-so-far and stop into in. */
static void round_state(const bmx_flad *f, bmx_flad_info *in)
{
    in->round = f->round;
    in->best_val = f->best_val;
    in->best_round = f->best_round;
    in->stopped = f->stopped;
}

int bmx_flad_validate(bmx_flad *f, bmx_flad_info *info, bmx_err *err)
{
    double acc = 0;
    int rc = validate(f, &acc, err);
    if (rc)
        return rc;
    if (acc > f->best_val) {
        f->best_val = acc;
        f->best_round = f->round;
        f->bad_evals = 0;
        rc = bmx_backend_get_params(f->be, f->best, err);
    } else if (f->cfg.patience && ++f->bad_evals >= f->cfg.patience &&
               f->round >= f->cfg.min_rounds) {
        f->stopped = 1;
    }
    if (info) {
        info->evaluated = 1;
        info->val_acc = acc;
        round_state(f, info);
    }
    return rc;
}

int bmx_flad_validation_due(const bmx_flad *f)
{
    return f->round % f->cfg.eval_every == 0;
}

int bmx_flad_round(bmx_flad *f, bmx_flad_info *info, bmx_err *err)
{
    bmx_flad_info in;
    int rc = bmx_flad_step(f, &in, err);
    if (!rc && bmx_flad_validation_due(f))
        rc = bmx_flad_validate(f, &in, err);
    if (!rc && info)
        *info = in;
    return rc;
}

int bmx_flad_step(bmx_flad *f, bmx_flad_info *info, bmx_err *err)
{
    bmx_flad_info in = {0};
    in.arm = -1;
    in.reward = NAN;
    in.aux_loss = NAN;
    if (f->stopped)
        return bmx_err_set(err, BMX_ESTATE, "the run stopped early at round %ld", f->round);
    int rc = 0;
    if (f->kind == P_EXPLOIT && !f->scored) /* once, before round 1 */
        rc = scoring_pass(f, err);
    if (!rc) /* the step's gradient: target (and auxiliary draws, rewards, observations) */
        rc = f->kind == P_TARGET_ONLY ? target_only_grad(f, &in, err) : pooled_grad(f, &in, err);
    if (!rc) /* the optimizer */
        rc = bmx_backend_apply(f->be, NULL, err);
    if (!rc && f->mix) /* the policy's round ends */
        rc = bmx_mix_step(f->mix, err);
    if (rc)
        return rc;
    f->round++;
    f->nonuniform += in.nonuniform;
    round_state(f, &in);
    if (info)
        *info = in;
    return BMX_OK;
}

int bmx_flad_finish(bmx_flad *f, double *test_acc_sum, double *test_acc_mean, bmx_err *err)
{
    size_t *idx, n;
    int rc = bmx_backend_sync_to_host(f->be, err);
    if (rc)
        return rc;
    memcpy(bmx_model_params(f->m), f->best, f->nparams * sizeof(float));
    if ((rc = bmx_backend_sync_from_host(f->be, err)) ||
        (rc = bmx_task_split_indices(f->target, BMX_SPLIT_TEST, &idx, &n, err)))
        return rc;
    rc = bmx_eval_task_fw(&f->fw, f->tok, f->target, idx, n, 0, f->cfg.T, test_acc_sum,
                          test_acc_mean, err);
    free(idx);
    return rc;
}

/* ---- state: sections of checkpoint.bin (bmx/checkpoint.h), little-endian ----
 *   "flad.st"   u32 version 4, u32 naux, u64 nparams, i64 round, aux_batches, best_round,
 *               nonuniform, f64 best_val, i32 bad_evals, stopped, scored, i32 0,
 *               i64 arm_counts[naux]
 *   "flad.rng"  the batch generator, u64 s[4]
 *   "flad.pol"  bmx_mix_save's bytes (no section for target-only)
 *   "flad.bst"  the best parameters, f32 each
 * (version 3 was one blob with its own magic and CRC, inside the run state's "extra"
 * section; versions 1 and 2 wrote native-endian longs). */

#define FLAD_STATE_VERSION 4u
#define FLAD_ST_FIXED      (4 + 4 + 8 + 4 * 8 + 8 + 4 * 4)

static void put_f64(flad_le_w *w, double d)
{
    unsigned char b[8];
    bmx_le_put_f64(b, d);
    flad_le_bytes(w, b, 8);
}

int bmx_flad_save_sections(const bmx_flad *f, struct bmx_ckpt_writer *w, bmx_err *err)
{
    size_t n = FLAD_ST_FIXED + (size_t)f->naux * 8, mlen = 0;
    unsigned char *st = malloc(n), rng[32], *pol = NULL;
    int rc = f->mix ? bmx_mix_save(f->mix, NULL, 0, &mlen, err) : 0;
    if (!rc && (!st || (f->mix && !(pol = malloc(mlen ? mlen : 1)))))
        rc = bmx_err_set(err, BMX_ENOMEM, "out of memory for the FLAD state");
    if (!rc) {
        flad_le_w s = {st, 0, n}, g = {rng, 0, sizeof rng};
        flad_le_put(&s, FLAD_STATE_VERSION, 4);
        flad_le_put(&s, (uint32_t)f->naux, 4);
        flad_le_put(&s, f->nparams, 8);
        flad_le_put(&s, (uint64_t)(int64_t)f->round, 8);
        flad_le_put(&s, (uint64_t)(int64_t)f->aux_batches, 8);
        flad_le_put(&s, (uint64_t)(int64_t)f->best_round, 8);
        flad_le_put(&s, (uint64_t)(int64_t)f->nonuniform, 8);
        put_f64(&s, f->best_val);
        flad_le_put(&s, (uint32_t)f->bad_evals, 4);
        flad_le_put(&s, (uint32_t)f->stopped, 4);
        flad_le_put(&s, (uint32_t)f->scored, 4);
        flad_le_put(&s, 0, 4);
        for (int a = 0; a < f->naux; a++)
            flad_le_put(&s, (uint64_t)(int64_t)f->arm_counts[a], 8);
        for (int i = 0; i < 4; i++)
            flad_le_put(&g, f->rng.s[i], 8);
    }
    if (!rc && f->mix)
        rc = bmx_mix_save(f->mix, pol, mlen, &mlen, err);
    if (!rc && !(rc = bmx_ckpt_add(w, "flad.st", st, n, err)) &&
        !(rc = bmx_ckpt_add(w, "flad.rng", rng, sizeof rng, err)) &&
        !(f->mix && (rc = bmx_ckpt_add(w, "flad.pol", pol, mlen, err))))
        rc = bmx_ckpt_add_f32(w, "flad.bst", f->best, f->nparams, err);
    free(st);
    free(pol);
    return rc;
}

/* "flad.st" (n bytes at p) into f, checked against f's pool and model, naming ck. */
static int load_counters(bmx_flad *f, const unsigned char *p, size_t n, const char *ck,
                         bmx_err *err)
{
    if (n < FLAD_ST_FIXED)
        return bmx_err_set(err, BMX_ECORRUPT, "%s: the FLAD state (flad.st) is %zu bytes, short",
                           ck, n);
    uint32_t ver = (uint32_t)flad_le_get(&p, 4), naux = (uint32_t)flad_le_get(&p, 4);
    uint64_t np = flad_le_get(&p, 8);
    if (ver != FLAD_STATE_VERSION)
        return bmx_err_set(err, BMX_EINVAL,
                           "%s: FLAD state version %u; this build reads version %u: start the run "
                           "again in a new run folder",
                           ck, ver, FLAD_STATE_VERSION);
    if (naux != (uint32_t)f->naux || np != f->nparams)
        return bmx_err_set(err, BMX_EINVAL,
                           "%s: FLAD state is for %u auxiliary datasets and %llu parameters, this "
                           "run has %d and %zu (resume with the same settings)",
                           ck, naux, (unsigned long long)np, f->naux, f->nparams);
    long round = (long)(int64_t)flad_le_get(&p, 8), auxb = (long)(int64_t)flad_le_get(&p, 8);
    long bestr = (long)(int64_t)flad_le_get(&p, 8), nonuni = (long)(int64_t)flad_le_get(&p, 8);
    double bv = bmx_le_get_f64(p);
    p += 8;
    int32_t flags[4];
    for (int i = 0; i < 4; i++)
        flags[i] = (int32_t)flad_le_get(&p, 4);
    if (n != FLAD_ST_FIXED + (size_t)naux * 8 || round < 0 || auxb < 0 || bestr < 0 ||
        bestr > round || nonuni < 0 || nonuni > round || flags[0] < 0 || (flags[1] & ~1) ||
        (flags[2] & ~1) || flags[3])
        return bmx_err_set(err, BMX_ECORRUPT,
                           "%s: the FLAD state's sizes or counters do not add up", ck);
    for (int a = 0; a < f->naux; a++)
        f->arm_counts[a] = (long)(int64_t)flad_le_get(&p, 8);
    f->round = round;
    f->aux_batches = auxb;
    f->best_round = bestr;
    f->nonuniform = nonuni;
    f->best_val = bv;
    f->bad_evals = flags[0];
    f->stopped = flags[1];
    f->scored = flags[2];
    return BMX_OK;
}

int bmx_flad_load_sections(bmx_flad *f, struct bmx_ckpt_reader *r, bmx_err *err)
{
    const char *ck = bmx_ckpt_path(r);
    unsigned char rng[32];
    void *st = NULL, *pol = NULL;
    size_t n = 0, ml = 0;
    int haspol = bmx_ckpt_has(r, "flad.pol", NULL), rc;
    if (haspol != (f->mix != NULL))
        return bmx_err_set(err, BMX_EINVAL,
                           "%s: the FLAD state was saved with another policy (%s policy state); "
                           "resume with the same --policy",
                           ck, haspol ? "it has a" : "it has no");
    if (!(rc = bmx_ckpt_read_alloc(r, "flad.st", &st, &n, err)) &&
        !(rc = load_counters(f, st, n, ck, err)) &&
        !(rc = bmx_ckpt_read(r, "flad.rng", rng, sizeof rng, err)) &&
        !(haspol && (rc = bmx_ckpt_read_alloc(r, "flad.pol", &pol, &ml, err))) &&
        !(rc = bmx_ckpt_read_f32(r, "flad.bst", f->best, f->nparams, err)) && haspol &&
        (rc = bmx_mix_load(f->mix, pol, ml, err))) {
        char why[BMX_ERR_LEN];
        snprintf(why, sizeof why, "%s", err->msg);
        rc = bmx_err_set(err, rc, "%s: section flad.pol: %s", ck, why);
    }
    if (!rc) {
        const unsigned char *g = rng;
        for (int i = 0; i < 4; i++)
            f->rng.s[i] = flad_le_get(&g, 8);
    }
    free(st);
    free(pol);
    return rc;
}
