/* bmx/train.h - AdamW, the learning-rate schedule, gradient accumulation and clipping, and
 * checkpoints, for a float (BMX_F32) model of bmx/model.h.
 *
 * One optimizer step = `accum` micro-batches (bmx_trainer_micro: forward + backward of
 * loss / accum, added into the gradient buffer) then bmx_trainer_apply:
 *   norm  = sqrt(sum of squared gradients) (global, all tensors);
 *   g    *= min(1, clip / (norm + 1e-6))             (when clip > 0; as torch's clip_grad_norm_)
 *   lr    = bmx_train_lr(cfg, step)
 *   AdamW (torch.optim.AdamW): p *= 1 - lr * wd (matrices only: embeddings and weights),
 *   m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2;
 *   p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps), t = step + 1.
 *
 * Schedule: lr * (s + 1) / warmup for s < warmup; then cosine from lr down to min_lr over
 * [warmup, total): min_lr + (lr - min_lr) * (1 + cos(pi * (s - warmup) / (total - warmup))) / 2;
 * min_lr from s >= total on.
 *
 * Checkpoint file: bmx/checkpoint.h (version 2: tagged sections with their CRC-32 behind a
 * table of contents, little-endian): the trainer's sections (model configuration, parameters,
 * optimizer configuration and step, first and second moments) and, from
 * bmx_checkpoint_save, the caller's `extra` bytes as section "extra" (policy state, generator
 * states, data cursors). Written to PATH.tmp.XXXXXX, synced, renamed over PATH, directory
 * synced. Loading checks magic, version, the table, sizes and every checksum, and refuses a
 * bad file naming it.
 */
#ifndef BMX_TRAIN_H
#define BMX_TRAIN_H

#include <stddef.h>

#include "bmx/core.h"
#include "bmx/model.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct bmx_train_config {
    double lr;           /* peak learning rate */
    double min_lr;       /* end of the cosine decay */
    long warmup;         /* linear warm-up steps */
    long total;          /* steps of the schedule (cosine ends here) */
    double beta1, beta2; /* AdamW moment decays */
    double eps;          /* AdamW epsilon */
    double weight_decay; /* decoupled, matrices only */
    double clip;         /* maximum global gradient norm; <= 0: no clipping */
    int accum;           /* micro-batches per optimizer step */
} bmx_train_config;

typedef struct bmx_step_info {
    long step;        /* the step just taken (0 for the first) */
    double lr;        /* learning rate used */
    double grad_norm; /* global gradient norm before clipping */
    double loss;      /* mean of the micro-batch mean losses */
} bmx_step_info;

typedef struct bmx_trainer bmx_trainer;

/* lr 6e-4, min_lr 6e-5, warmup 100, total 10000, betas 0.9/0.95, eps 1e-8, wd 0.1, clip 1,
 * accum 1. */
bmx_train_config bmx_train_config_default(void);
int bmx_train_config_check(const bmx_train_config *cfg, bmx_err *err);
double bmx_train_lr(const bmx_train_config *cfg, long step);

/* A trainer for model m (BMX_F32; not owned, must outlive the trainer); moments zero. */
int bmx_trainer_create(bmx_model *m, const bmx_train_config *cfg, bmx_trainer **out, bmx_err *err);
void bmx_trainer_free(bmx_trainer *t);
bmx_model *bmx_trainer_model(bmx_trainer *t);
const bmx_train_config *bmx_trainer_config(const bmx_trainer *t);
long bmx_trainer_step_count(const bmx_trainer *t);
/* Set the step count (a backend that trains elsewhere mirrors its state here). */
void bmx_trainer_set_step(bmx_trainer *t, long step);
float *bmx_trainer_moment1(bmx_trainer *t);
float *bmx_trainer_moment2(bmx_trainer *t);

/* One micro-batch: forward (losses as bmx_model_forward) and backward of loss / accum; the
 * first micro-batch of a step overwrites the gradient, the others add to it. */
int bmx_trainer_micro(bmx_trainer *t, const int *inputs, const int *targets, int B, int T,
                      double *loss, double *seq_loss, double *tok_loss, bmx_err *err);
/* The same with a loss weight: backward of weight * loss / accum (weight 1: as above). */
int bmx_trainer_micro_weighted(bmx_trainer *t, const int *inputs, const int *targets, int B, int T,
                               double weight, double *loss, double *seq_loss, double *tok_loss,
                               bmx_err *err);
/* Clip, schedule and AdamW once `accum` micro-batches are in; step count + 1. */
int bmx_trainer_apply(bmx_trainer *t, bmx_step_info *info, bmx_err *err);
/* accum micro-batches of [B][T] tokens laid out one after the other, then apply. */
int bmx_trainer_step(bmx_trainer *t, const int *inputs, const int *targets, int B, int T,
                     bmx_step_info *info, bmx_err *err);

/* Save model, moments, step and configurations (and extra, may be NULL/0) to path. */
int bmx_checkpoint_save(const char *path, const bmx_trainer *t, const void *extra, size_t extra_len,
                        bmx_err *err);
/* Load a checkpoint into a new model (blas as bmx_model_create) and trainer; *extra gets a
 * malloc'd copy of the extra bytes (free it; NULL if none) when extra is not NULL. Other
 * sections (a training run's) are left alone: bmx/checkpoint.h reads them. With extra NULL, a
 * version-1 checkpoint (an older bmx's) loads too: its model and AdamW state, checked against
 * its header CRC and payload CRC; with extra, it is refused naming both versions. */
int bmx_checkpoint_load(const char *path, int blas, bmx_model **model, bmx_trainer **trainer,
                        void **extra, size_t *extra_len, bmx_err *err);

#ifdef __cplusplus
}
#endif

#endif
