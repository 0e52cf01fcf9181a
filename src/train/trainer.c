/* src/train/trainer.c - AdamW, learning-rate schedule, clipping, gradient accumulation. */
#include "bmx/train.h"

#include <math.h>
#include <stdlib.h>
#if defined(__SSE2__)
#include <immintrin.h>
#endif

#include "trainer_impl.h"

bmx_train_config bmx_train_config_default(void)
{
    bmx_train_config c = {6e-4, 6e-5, 100, 10000, 0.9, 0.95, 1e-8, 0.1, 1.0, 1};
    return c;
}

int bmx_train_config_check(const bmx_train_config *c, bmx_err *err)
{
    if (!c)
        return bmx_err_set(err, BMX_EINVAL, "training configuration is NULL");
    if (!(c->lr >= 0) || !(c->min_lr >= 0) || c->warmup < 0 || c->total < 0 || c->accum < 1)
        return bmx_err_set(err, BMX_EINVAL,
                           "training configuration lr=%g min_lr=%g warmup=%ld total=%ld accum=%d: "
                           "rates must be >= 0, steps >= 0, accum >= 1",
                           c->lr, c->min_lr, c->warmup, c->total, c->accum);
    if (!(c->beta1 >= 0 && c->beta1 < 1) || !(c->beta2 >= 0 && c->beta2 < 1) || !(c->eps > 0) ||
        !(c->weight_decay >= 0) || isnan(c->clip))
        return bmx_err_set(err, BMX_EINVAL,
                           "AdamW settings beta1=%g beta2=%g eps=%g weight_decay=%g clip=%g: "
                           "need 0 <= beta < 1, eps > 0, weight_decay >= 0",
                           c->beta1, c->beta2, c->eps, c->weight_decay, c->clip);
    return BMX_OK;
}

double bmx_train_lr(const bmx_train_config *c, long s)
{
    if (s < c->warmup)
        return c->lr * (double)(s + 1) / (double)c->warmup;
    if (s >= c->total)
        return c->min_lr;
    double r = (double)(s - c->warmup) / (double)(c->total - c->warmup);
    return c->min_lr + (c->lr - c->min_lr) * 0.5 * (1.0 + cos(M_PI * r));
}

int bmx_trainer_create(bmx_model *m, const bmx_train_config *cfg, bmx_trainer **out, bmx_err *err)
{
    int rc = bmx_train_config_check(cfg, err);
    if (rc)
        return rc;
    if (bmx_model_dtype(m) != BMX_F32)
        return bmx_err_set(err, BMX_EINVAL, "the trainer needs a BMX_F32 model");
    bmx_trainer *t = calloc(1, sizeof *t);
    size_t n = bmx_model_num_params(m);
    if (t) {
        t->m1 = calloc(n, sizeof(float));
        t->m2 = calloc(n, sizeof(float));
    }
    if (!t || !t->m1 || !t->m2) {
        bmx_trainer_free(t);
        return bmx_err_set(err, BMX_ENOMEM, "out of memory for AdamW moments (%zu parameters)", n);
    }
    t->model = m;
    t->cfg = *cfg;
    *out = t;
    return BMX_OK;
}

void bmx_trainer_free(bmx_trainer *t)
{
    if (!t)
        return;
    free(t->m1);
    free(t->m2);
    free(t);
}

bmx_model *bmx_trainer_model(bmx_trainer *t)
{
    return t->model;
}

const bmx_train_config *bmx_trainer_config(const bmx_trainer *t)
{
    return &t->cfg;
}

long bmx_trainer_step_count(const bmx_trainer *t)
{
    return t->step;
}

void bmx_trainer_set_step(bmx_trainer *t, long step)
{
    t->step = step;
    t->micro = 0;
}

float *bmx_trainer_moment1(bmx_trainer *t)
{
    return t->m1;
}

float *bmx_trainer_moment2(bmx_trainer *t)
{
    return t->m2;
}

int bmx_trainer_micro(bmx_trainer *t, const int *inputs, const int *targets, int B, int T,
                      double *loss, double *seq_loss, double *tok_loss, bmx_err *err)
{
    return bmx_trainer_micro_weighted(t, inputs, targets, B, T, 1.0, loss, seq_loss, tok_loss, err);
}

int bmx_trainer_micro_weighted(bmx_trainer *t, const int *inputs, const int *targets, int B, int T,
                               double weight, double *loss, double *seq_loss, double *tok_loss,
                               bmx_err *err)
{
    if (t->micro >= t->cfg.accum)
        return bmx_err_set(err, BMX_ESTATE,
                           "already %d micro-batches since the last step (accum=%d): call "
                           "bmx_trainer_apply first",
                           t->micro, t->cfg.accum);
    if (!targets)
        return bmx_err_set(err, BMX_EINVAL, "a training micro-batch needs targets");
    double l = 0;
    int rc = bmx_model_forward(t->model, inputs, targets, B, T, &l, seq_loss, tok_loss, err);
    if (!rc)
        rc = bmx_model_backward(t->model, weight / t->cfg.accum, t->micro > 0, err);
    if (rc)
        return rc;
    t->loss_sum = (t->micro ? t->loss_sum : 0) + l;
    t->micro++;
    if (loss)
        *loss = l;
    return BMX_OK;
}

/* Global gradient norm, accumulated in double. The sum has one fixed order whatever the
 * threads and their timing: float partial sums over chunks of 4096, added in order into 64
 * block sums, which are added in order; so a run is reproducible bit for bit. */
static double grad_norm(const float *g, size_t n)
{
    enum { CHUNK = 4096, BLOCKS = 64 };
    double part[BLOCKS];
    size_t nc = (n + CHUNK - 1) / CHUNK;
#pragma omp parallel for schedule(dynamic, 1)
    for (int b = 0; b < BLOCKS; b++) {
        double s = 0;
        for (size_t c = nc * b / BLOCKS; c < nc * (b + 1) / BLOCKS; c++) {
            size_t i0 = c * CHUNK, i1 = i0 + CHUNK < n ? i0 + CHUNK : n;
            float f = 0; /* float partial sums over short chunks, vectorised */
#pragma omp simd reduction(+ : f)
            for (size_t i = i0; i < i1; i++)
                f += g[i] * g[i];
            s += f;
        }
        part[b] = s;
    }
    double s = 0;
    for (int b = 0; b < BLOCKS; b++)
        s += part[b];
    return sqrt(s);
}

/* The constants of one AdamW update (see bmx/train.h). */
struct adamw_k {
    float cs;        /* clipping scale of the gradient */
    float b1, b2;    /* moment decays */
    float decay;     /* 1 - lr * weight_decay (1 for vectors) */
    float step_size; /* lr / (1 - b1^t) */
    float rbc2;      /* 1 / sqrt(1 - b2^t) */
    float eps;
};

/* AdamW over n consecutive parameters: SSE four at a time (sqrtf in a loop does not vectorise
 * while errno is kept), then the same arithmetic, in the same order, one at a time. */
static void adamw_block(float *p, const float *g, float *m1, float *m2, size_t n,
                        const struct adamw_k *k)
{
    size_t i = 0;
#if defined(__SSE2__)
    __m128 cs = _mm_set1_ps(k->cs), b1 = _mm_set1_ps(k->b1), ob1 = _mm_set1_ps(1 - k->b1);
    __m128 b2 = _mm_set1_ps(k->b2), ob2 = _mm_set1_ps(1 - k->b2), dec = _mm_set1_ps(k->decay);
    __m128 ss = _mm_set1_ps(k->step_size), rb = _mm_set1_ps(k->rbc2), ep = _mm_set1_ps(k->eps);
    for (; i + 4 <= n; i += 4) {
        __m128 gi = _mm_mul_ps(_mm_loadu_ps(g + i), cs);
        __m128 mi = _mm_add_ps(_mm_mul_ps(b1, _mm_loadu_ps(m1 + i)), _mm_mul_ps(ob1, gi));
        __m128 vi =
            _mm_add_ps(_mm_mul_ps(b2, _mm_loadu_ps(m2 + i)), _mm_mul_ps(_mm_mul_ps(ob2, gi), gi));
        _mm_storeu_ps(m1 + i, mi);
        _mm_storeu_ps(m2 + i, vi);
        __m128 den = _mm_add_ps(_mm_mul_ps(_mm_sqrt_ps(vi), rb), ep);
        __m128 upd = _mm_div_ps(_mm_mul_ps(ss, mi), den);
        _mm_storeu_ps(p + i, _mm_sub_ps(_mm_mul_ps(_mm_loadu_ps(p + i), dec), upd));
    }
#endif
    for (; i < n; i++) {
        float gi = g[i] * k->cs;
        float mi = k->b1 * m1[i] + (1 - k->b1) * gi;
        float vi = k->b2 * m2[i] + (1 - k->b2) * gi * gi;
        m1[i] = mi;
        m2[i] = vi;
        p[i] = p[i] * k->decay - k->step_size * mi / (sqrtf(vi) * k->rbc2 + k->eps);
    }
}

int bmx_trainer_apply(bmx_trainer *t, bmx_step_info *info, bmx_err *err)
{
    if (t->micro != t->cfg.accum)
        return bmx_err_set(err, BMX_ESTATE,
                           "optimizer step after %d of %d micro-batches: run all accum "
                           "micro-batches first",
                           t->micro, t->cfg.accum);
    const bmx_train_config *c = &t->cfg;
    bmx_model *m = t->model;
    float *p = bmx_model_params(m), *g = bmx_model_grads(m);
    size_t n = bmx_model_num_params(m);
    double norm = grad_norm(g, n);
    float cs = 1.0f;
    if (c->clip > 0) {
        double coef = c->clip / (norm + 1e-6);
        cs = coef < 1.0 ? (float)coef : 1.0f;
    }
    double lr = bmx_train_lr(c, t->step);
    double tt = (double)(t->step + 1);
    struct adamw_k k = {cs,
                        (float)c->beta1,
                        (float)c->beta2,
                        1.0f,
                        (float)(lr / (1.0 - pow(c->beta1, tt))),
                        (float)(1.0 / sqrt(1.0 - pow(c->beta2, tt))),
                        (float)c->eps};
    for (int id = 0; id < BMX_NTENSORS; id++) {
        bmx_tensor_info ti = bmx_model_tensor(m, id);
        struct adamw_k kt = k;
        kt.decay = (float)(1.0 - lr * (ti.matrix ? c->weight_decay : 0.0));
        const size_t blk = 4096;
        long nb = (long)((ti.count + blk - 1) / blk);
#pragma omp parallel for schedule(dynamic, 16)
        for (long b = 0; b < nb; b++) {
            size_t i = ti.offset + (size_t)b * blk;
            size_t len = ti.count - (size_t)b * blk < blk ? ti.count - (size_t)b * blk : blk;
            adamw_block(p + i, g + i, t->m1 + i, t->m2 + i, len, &kt);
        }
    }
    if (info) {
        info->step = t->step;
        info->lr = lr;
        info->grad_norm = norm;
        info->loss = t->loss_sum / c->accum;
    }
    t->step++;
    t->micro = 0;
    return BMX_OK;
}

int bmx_trainer_step(bmx_trainer *t, const int *inputs, const int *targets, int B, int T,
                     bmx_step_info *info, bmx_err *err)
{
    size_t per = (size_t)B * T;
    for (int k = 0; k < t->cfg.accum; k++) {
        int rc =
            bmx_trainer_micro(t, inputs + k * per, targets + k * per, B, T, NULL, NULL, NULL, err);
        if (rc)
            return rc;
    }
    return bmx_trainer_apply(t, info, err);
}
