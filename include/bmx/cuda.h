/* bmx/cuda.h - the GPT model of bmx/model.h on an NVIDIA GPU (CUDA), for training.
 *
 * The same architecture, parameter layout (enum bmx_tensor_id, the flat buffer of
 * bmx/model.h, vocab_padded rows) and loss definitions as the CPU model, so parameters,
 * gradients and checkpoints move between the two unchanged.
 *
 * Precision: BMX_CUDA_FP32 runs everything in float (for exactness against the CPU trainer);
 * BMX_CUDA_BF16 keeps fp32 master parameters and gradients but runs the matrix products and
 * stores activations in bf16 (the default on GPU).
 *
 * Every function exists in every build: in a build without CUDA (no nvcc) they return
 * BMX_ESTATE with a message saying that bmx was built without CUDA and how to build it
 * (`make CUDA=1` on a machine with nvcc). bmx_cuda_available() says whether a usable device
 * is present (driver new enough for the runtime, at least one device).
 */
#ifndef BMX_CUDA_H
#define BMX_CUDA_H

#include <stddef.h>

#include "bmx/backend.h"
#include "bmx/core.h"
#include "bmx/model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* the precisions of bmx/backend.h under the names the CUDA module uses */
enum bmx_cuda_precision { BMX_CUDA_FP32 = BMX_PREC_FP32, BMX_CUDA_BF16 = BMX_PREC_BF16 };

/* 1 when bmx was built with CUDA. */
int bmx_cuda_built(void);

/* BMX_OK when a CUDA device can be used; otherwise an error whose message says why (built
 * without CUDA, no device, driver older than the runtime, ...) and what to do. */
int bmx_cuda_available(bmx_err *err);

typedef struct bmx_cuda_model bmx_cuda_model;

/* Device bytes a model of cfg needs for micro-batches of B x T tokens in precision prec
 * (parameters, gradients, activations, workspaces; AdamW moments are the trainer's). */
size_t bmx_cuda_model_bytes(const bmx_gpt_config *cfg, int prec, int B, int T);

/* A model on device `device` with room for micro-batches of at most B x T tokens, zero
 * parameters. Checks the free device memory against bmx_cuda_model_bytes first and refuses
 * with the figures (needed, free) when it does not fit. */
int bmx_cuda_model_create(const bmx_gpt_config *cfg, int prec, int device, int B, int T,
                          bmx_cuda_model **out, bmx_err *err);
void bmx_cuda_model_free(bmx_cuda_model *m);
const bmx_gpt_config *bmx_cuda_model_config(const bmx_cuda_model *m);
size_t bmx_cuda_model_num_params(const bmx_cuda_model *m);

/* Host <-> device copies of the fp32 flat parameter and gradient buffers (the layout of
 * bmx/model.h, bmx_model_num_params floats). */
int bmx_cuda_model_set_params(bmx_cuda_model *m, const float *host, bmx_err *err);
int bmx_cuda_model_get_params(bmx_cuda_model *m, float *host, bmx_err *err);
int bmx_cuda_model_get_grads(bmx_cuda_model *m, float *host, bmx_err *err);

/* Device pointers to the fp32 flat parameter and gradient buffers (for the optimizer). */
float *bmx_cuda_model_params_dev(bmx_cuda_model *m);
float *bmx_cuda_model_grads_dev(bmx_cuda_model *m);

/* Forward over B x T tokens (host arrays [B][T]; B, T within the sizes given at creation);
 * targets < 0 are ignored. As bmx_model_forward: loss = mean over counted tokens,
 * seq_loss[B] = each sequence's mean (0 if none), tok_loss[B*T] every token's loss (0 where
 * ignored; DoReMi's excess losses need it); each output optional (NULL). Only what is asked
 * for travels to the host. */
int bmx_cuda_model_forward(bmx_cuda_model *m, const int *inputs, const int *targets, int B, int T,
                           double *loss, double *seq_loss, double *tok_loss, bmx_err *err);

/* Backward of the last forward: the gradient of scale * mean loss; acc = 0 overwrites the
 * gradient buffer, acc = 1 adds to it. Deterministic: the same inputs give the same bits. */
int bmx_cuda_model_backward(bmx_cuda_model *m, double scale, int acc, bmx_err *err);

#ifdef __cplusplus
}
#endif

#endif
