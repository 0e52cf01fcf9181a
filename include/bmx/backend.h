/* bmx/backend.h - the trainer backend: the operations a training run needs from a trainer,
 * whatever runs it (the CPU trainer of bmx/train.h, the CUDA trainer, later others).
 *
 * A backend trains one model of bmx/model.h with the AdamW, schedule and clipping of
 * bmx/train.h, and mirrors its state in a host bmx_trainer (model parameters, AdamW moments,
 * step count), so checkpoints keep one format (bmx_checkpoint_save / _load):
 *   bmx_backend_sync_to_host    device -> host (before bmx_checkpoint_save, before reading
 *                               bmx_trainer_model's parameters);
 *   bmx_backend_sync_from_host  host -> device (after the host state changed, e.g. loaded).
 * For the CPU backend the host trainer is the trainer itself and both syncs do nothing.
 *
 * One optimizer step = `accum` calls of bmx_backend_micro, then bmx_backend_apply. A
 * micro-batch's loss weight w scales its gradient: the step's gradient is
 *     sum_g w_g grad(loss_g) / accum
 * (w = 1 everywhere gives the plain mean; DoReMi gives each micro-batch its domain weight).
 * FLAD (bmx/flad.h) needs each batch's gradient on its own: bmx_backend_grad computes one
 * outside the step's count, and the rewards read it in the host gradient buffer
 * (bmx_backend_host_grads; the CPU backend's, no copy) or a get_grads copy (CUDA); the step's
 * last batch is its one micro-batch and set_grads puts the round's mean gradient back.
 */
#ifndef BMX_BACKEND_H
#define BMX_BACKEND_H

#include <stddef.h>

#include "bmx/core.h"
#include "bmx/model.h"
#include "bmx/train.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The operations of a backend; impl is the backend's own state. */
typedef struct bmx_backend_ops {
    const char *name; /* "cpu", "cuda" */
    /* forward + backward of weight * loss / accum; the first micro-batch of a step overwrites
     * the gradient. loss = mean token loss; seq_loss[B], tok_loss[B*T] optional (NULL). */
    int (*micro)(void *impl, const int *inputs, const int *targets, int B, int T, double weight,
                 double *loss, double *seq_loss, double *tok_loss, bmx_err *err);
    /* clip, schedule, AdamW; step count + 1 */
    int (*apply)(void *impl, bmx_step_info *info, bmx_err *err);
    /* forward + backward of the plain mean loss (scale 1) into the gradient buffer, which it
     * overwrites, outside the step: no micro-batch counted (FLAD's per-batch gradients; the
     * step's gradient so far is lost, so call it before a step's micro-batches or between
     * steps). loss optional. */
    int (*grad)(void *impl, const int *inputs, const int *targets, int B, int T, double *loss,
                bmx_err *err);
    /* forward only (no gradient): outputs as micro, each optional */
    int (*eval)(void *impl, const int *inputs, const int *targets, int B, int T, double *loss,
                double *seq_loss, double *tok_loss, bmx_err *err);
    /* copies of the flat fp32 parameters / gradients into host (num_params floats) */
    int (*get_params)(void *impl, float *host, bmx_err *err);
    int (*get_grads)(void *impl, float *host, bmx_err *err);
    /* replace the gradient of the step in progress (a wrapper that reduces gradients across
     * processes puts the result back; tests) */
    int (*set_grads)(void *impl, const float *host, bmx_err *err);
    /* the gradient buffer itself when it is host memory (the CPU backend: the model's), to read
     * and write in place without a copy; NULL when it is not (use get_grads / set_grads) */
    float *(*host_grads)(void *impl);
    int (*to_host)(void *impl, bmx_err *err);   /* state -> the host trainer */
    int (*from_host)(void *impl, bmx_err *err); /* the host trainer -> state */
    void (*free)(void *impl);
} bmx_backend_ops;

typedef struct bmx_backend bmx_backend;

/* A backend from an ops table (for new backends); host is not owned. */
int bmx_backend_create(const bmx_backend_ops *ops, void *impl, bmx_trainer *host, bmx_backend **out,
                       bmx_err *err);
/* The CPU backend: the trainer t itself (not owned; must outlive the backend). */
int bmx_backend_cpu(bmx_trainer *t, bmx_backend **out, bmx_err *err);
/* The CUDA backend: host t's model and moments copied to device `device`, precision
 * bmx/cuda.h's BMX_CUDA_FP32 or BMX_CUDA_BF16, micro-batches of at most B x T tokens.
 * Without CUDA (or without a usable GPU, or too little device memory) a BMX_ESTATE error that
 * says why and what to do. */
int bmx_backend_cuda(bmx_trainer *t, int precision, int device, int B, int T, bmx_backend **out,
                     bmx_err *err);
void bmx_backend_free(bmx_backend *be);

const char *bmx_backend_name(const bmx_backend *be);
bmx_trainer *bmx_backend_host(bmx_backend *be);
size_t bmx_backend_num_params(const bmx_backend *be);

int bmx_backend_micro(bmx_backend *be, const int *inputs, const int *targets, int B, int T,
                      double weight, double *loss, double *seq_loss, double *tok_loss,
                      bmx_err *err);
int bmx_backend_apply(bmx_backend *be, bmx_step_info *info, bmx_err *err);
int bmx_backend_grad(bmx_backend *be, const int *inputs, const int *targets, int B, int T,
                     double *loss, bmx_err *err);
int bmx_backend_eval(bmx_backend *be, const int *inputs, const int *targets, int B, int T,
                     double *loss, double *seq_loss, double *tok_loss, bmx_err *err);
int bmx_backend_get_params(bmx_backend *be, float *host, bmx_err *err);
int bmx_backend_get_grads(bmx_backend *be, float *host, bmx_err *err);
int bmx_backend_set_grads(bmx_backend *be, const float *host, bmx_err *err);
/* the host gradient buffer (see host_grads above), or NULL: read with get_grads then */
float *bmx_backend_host_grads(bmx_backend *be);
int bmx_backend_sync_to_host(bmx_backend *be, bmx_err *err);
int bmx_backend_sync_from_host(bmx_backend *be, bmx_err *err);

/* "cpu" / "cuda" and "fp32" / "bf16" as text: parse (naming the bad value) and name. */
enum bmx_device { BMX_DEVICE_CPU = 0, BMX_DEVICE_CUDA = 1 };
/* fp32 everywhere, or bf16 matrix products with fp32 master weights (bmx/cuda.h) */
enum bmx_precision { BMX_PREC_FP32 = 0, BMX_PREC_BF16 = 1 };
int bmx_device_parse(const char *s, int *device, bmx_err *err);
/* the help of the device and precision keys (bmx train's and bmx flad's alike) */
#define BMX_DEVICE_HELP    "trainer: cpu or cuda (an NVIDIA GPU; bmx built with CUDA)"
#define BMX_PRECISION_HELP "fp32 or bf16 (cuda only; default bf16 on cuda)"
/* precision "" means the device's default: fp32 on cpu, bf16 on cuda; bf16 on cpu is refused */
int bmx_precision_parse(const char *s, int device, int *precision, bmx_err *err);

#ifdef __cplusplus
}
#endif

#endif
