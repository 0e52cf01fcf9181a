/* src/flad/init.c - the initial model of a FLAD run (theta_0: a pre-trained checkpoint's
 * parameters or a random model from the seed) and its zero-shot scores (bmx/flad.h,
 * bmx_flad_zero_shot). */
#include <stdio.h>
#include <stdlib.h>

#include "bmx/eval.h"
#include "bmx/flad.h"
#include "bmx/kernels.h"
#include "flad_int.h"

int flad_init_model(const bmx_flad_run_config *c, const bmx_tok *tok, bmx_model **m, bmx_err *err)
{
    *m = NULL;
    if (*c->init) {
        bmx_trainer *t0 = NULL;
        int rc = bmx_checkpoint_load(c->init, c->blas, m, &t0, NULL, NULL, err);
        bmx_trainer_free(t0);
        return rc;
    }
    bmx_gpt_config gc = {0};
    if (sscanf(c->init_random, "%d,%d,%d,%d", &gc.layers, &gc.heads, &gc.width, &gc.ctx) != 4)
        return bmx_err_set(err, BMX_EINVAL, "--init-random '%s': give LAYERS,HEADS,WIDTH,CTX",
                           c->init_random);
    gc.vocab = (int)bmx_tok_vocab_size(tok);
    int rc = bmx_gpt_config_check(&gc, err);
    if (!rc)
        rc = bmx_model_create(&gc, BMX_F32, c->blas, m, err);
    if (!rc) {
        bmx_rng g;
        bmx_rng_seed(&g, c->seed, 7);
        bmx_model_init(*m, &g);
    }
    return rc;
}

bmx_train_config flad_train_config(const bmx_flad_run_config *c)
{
    bmx_train_config tc = bmx_train_config_default();
    tc.lr = tc.min_lr = c->lr;
    tc.warmup = 0;
    tc.total = 1L << 40;
    tc.weight_decay = c->weight_decay;
    tc.accum = 1;
    return tc;
}

int flad_backend(const bmx_flad_run_config *c, bmx_trainer *tr, const bmx_task *target,
                 bmx_backend **be, bmx_err *err)
{
    int dev = BMX_DEVICE_CPU, prec = BMX_PREC_FP32, rows = c->batch;
    if (bmx_device_parse(c->device, &dev, err) ||
        bmx_precision_parse(c->precision, dev, &prec, err))
        return BMX_EINVAL;
    if (dev == BMX_DEVICE_CPU)
        return bmx_backend_cpu(tr, be, err);
    for (size_t i = 0; i < bmx_task_count(target); i++)
        if (bmx_task_example_at(target, i)->nchoices > rows)
            rows = bmx_task_example_at(target, i)->nchoices;
    return bmx_backend_cuda(tr, prec, 0, rows, c->seq, be, err);
}

/* The most frequent correct choice index of examples idx[0..n) (ties: the lowest). */
static int prior_choice(const bmx_task *t, const size_t *idx, size_t n)
{
    size_t cnt[BMX_TASK_MAX_CHOICES] = {0};
    int b = 0;
    for (size_t k = 0; k < n; k++) {
        int c = bmx_task_example_at(t, idx[k])->correct;
        if (c >= 0 && c < BMX_TASK_MAX_CHOICES)
            cnt[c]++;
    }
    for (int c = 1; c < BMX_TASK_MAX_CHOICES; c++)
        if (cnt[c] > cnt[b])
            b = c;
    return b;
}

static double share_of(const bmx_task *t, const size_t *idx, size_t n, int choice)
{
    size_t hit = 0;
    for (size_t k = 0; k < n; k++)
        hit += bmx_task_example_at(t, idx[k])->correct == choice;
    return n ? (double)hit / (double)n : 0;
}

/* Splits 0..splits-1 of target t: theta_0's validation accuracy and the prior baseline. */
static int score_splits(const bmx_eval_forward *fw, const bmx_tok *tok, const bmx_task *t,
                        int splits, int T, const size_t *test, size_t ntest,
                        bmx_flad_zero_shot_scores *zs, bmx_err *err)
{
    int rc = 0;
    for (int s = 0; s < splits && !rc; s++) {
        size_t *tr = NULL, *va = NULL, ntr = 0, nva = 0;
        rc = bmx_task_fewshot(t, s, &tr, &ntr, &va, &nva, err);
        if (!rc)
            rc = bmx_eval_task_fw(fw, tok, t, va, nva, 0, T, &zs->val[s], NULL, err);
        if (!rc)
            zs->prior[s] = share_of(t, test, ntest, prior_choice(t, tr, ntr));
        free(tr);
        free(va);
    }
    return rc;
}

int bmx_flad_zero_shot(const bmx_flad_run_config *cfg, int splits, bmx_flad_zero_shot_scores *zs,
                       bmx_err *err)
{
    bmx_flad_run_config c = *cfg;
    bmx_tok *tok = NULL;
    bmx_task *t = NULL;
    bmx_model *m = NULL;
    bmx_trainer *tr = NULL;
    bmx_backend *be = NULL;
    size_t *test = NULL, ntest = 0;
    int rc = 0;
    flad_run_config_fill(&c);
    *zs = (bmx_flad_zero_shot_scores){0};
    if (splits < 0 || splits > BMX_TASK_FEWSHOT_SPLITS)
        return bmx_err_set(err, BMX_EINVAL, "zero-shot scores: %d splits, give 0..%d", splits,
                           BMX_TASK_FEWSHOT_SPLITS);
    if (!*c.target || !*c.tok || !*c.init == !*c.init_random)
        return bmx_err_set(err, BMX_EINVAL,
                           "zero-shot scores need a target, a tokenizer (--tok) and exactly one "
                           "of --init CKPT or --init-random L,H,C,CTX");
    if (c.threads > 0)
        bmx_kernels_set_threads(c.threads);
    if ((rc = bmx_tok_load(&tok, c.tok, err)) || (rc = bmx_task_open(&t, c.tasks, c.target, err)) ||
        (rc = flad_init_model(&c, tok, &m, err)))
        goto done;
    if (bmx_tok_vocab_size(tok) > (uint32_t)bmx_model_config(m)->vocab || c.seq < 2 ||
        c.seq > bmx_model_config(m)->ctx) {
        rc = bmx_err_set(err, BMX_EINVAL,
                         "zero-shot scores: the model (%s) has %d ids and context %d; the "
                         "tokenizer %s has %u ids and --seq is %d: use the model's tokenizer "
                         "and a --seq of 2..%d",
                         *c.init ? c.init : c.init_random, bmx_model_config(m)->vocab,
                         bmx_model_config(m)->ctx, c.tok, bmx_tok_vocab_size(tok), c.seq,
                         bmx_model_config(m)->ctx);
        goto done;
    }
    /* scored where the runs will train (--device): theta_0 through the same backend */
    bmx_train_config tc = flad_train_config(&c);
    if ((rc = bmx_trainer_create(m, &tc, &tr, err)) || (rc = flad_backend(&c, tr, t, &be, err)))
        goto done;
    bmx_eval_forward fw = flad_backend_forward(be);
    rc = bmx_task_split_indices(t, BMX_SPLIT_TEST, &test, &ntest, err);
    if (!rc)
        rc = bmx_eval_task_fw(&fw, tok, t, test, ntest, 0, c.seq, &zs->test_sum, &zs->test_mean,
                              err);
    if (!rc)
        rc = score_splits(&fw, tok, t, splits, c.seq, test, ntest, zs, err);
    zs->splits = rc ? 0 : splits;
done:
    free(test);
    bmx_backend_free(be);
    bmx_trainer_free(tr);
    bmx_model_free(m);
    bmx_task_free(t);
    bmx_tok_free(tok);
    return rc;
}
