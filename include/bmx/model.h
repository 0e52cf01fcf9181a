/* bmx/model.h - a GPT-2 style model over one flat parameter buffer.
 *
 * Architecture: token + learned position embeddings, L pre-LayerNorm blocks (causal multi-head
 * attention, GELU MLP of width 4C), final LayerNorm, output layer tied to the token embedding.
 * The token embedding has vocab_padded >= vocab rows (rounded up to 64 for speed); padded rows
 * stay zero and never enter a softmax or a loss.
 *
 * Parameters live in ONE buffer, gradients in another of the same layout, tensor after
 * tensor in the order of enum bmx_tensor_id (each layer tensor holds all L layers):
 *   wte[Vp][C] wpe[ctx][C] ln1w[L][C] ln1b[L][C] qkvw[L][3C][C] qkvb[L][3C]
 *   attprojw[L][C][C] attprojb[L][C] ln2w[L][C] ln2b[L][C] fcw[L][4C][C] fcb[L][4C]
 *   fcprojw[L][C][4C] fcprojb[L][C] lnfw[C] lnfb[C]
 *
 * A model runs in float (BMX_F32, for training) or double (BMX_F64, for the gradient check);
 * both run the same kernels (bmx/kernels.h). `blas` picks BLAS matrix products or plain C.
 */
#ifndef BMX_MODEL_H
#define BMX_MODEL_H

#include <stddef.h>

#include "bmx/core.h"
#include "bmx/rng.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct bmx_gpt_config {
    int vocab;  /* V: token ids are 0..V-1 */
    int ctx;    /* maximum sequence length (rows of wpe) */
    int layers; /* L */
    int heads;  /* H, divides width */
    int width;  /* C */
} bmx_gpt_config;

enum bmx_dtype { BMX_F32 = 0, BMX_F64 = 1 };

enum bmx_tensor_id {
    BMX_T_WTE,
    BMX_T_WPE,
    BMX_T_LN1W,
    BMX_T_LN1B,
    BMX_T_QKVW,
    BMX_T_QKVB,
    BMX_T_ATTPROJW,
    BMX_T_ATTPROJB,
    BMX_T_LN2W,
    BMX_T_LN2B,
    BMX_T_FCW,
    BMX_T_FCB,
    BMX_T_FCPROJW,
    BMX_T_FCPROJB,
    BMX_T_LNFW,
    BMX_T_LNFB,
    BMX_NTENSORS
};

typedef struct bmx_tensor_info {
    const char *name; /* "wte", "qkvw", ... */
    size_t offset;    /* first element in the flat buffer */
    size_t count;     /* elements */
    int matrix;       /* 1 for weight matrices and embeddings (weight decay applies) */
} bmx_tensor_info;

typedef struct bmx_model bmx_model;

/* Check a configuration (all positive, heads divide width, sizes that fit). */
int bmx_gpt_config_check(const bmx_gpt_config *cfg, bmx_err *err);
/* The GPT-2 small (124M) configuration: V 50257, ctx 1024, L 12, H 12, C 768. */
bmx_gpt_config bmx_gpt_config_gpt2(void);
/* Vocabulary rounded up to a multiple of 64. */
int bmx_gpt_vocab_padded(int vocab);
/* Parameters of a model of a checked configuration (what bmx_model_num_params will say),
 * without allocating it. */
size_t bmx_gpt_num_params(const bmx_gpt_config *cfg);
/* Elements of each parameter tensor (enum bmx_tensor_id order) of a checked configuration:
 * the flat layout every trainer (CPU, CUDA) shares. */
void bmx_gpt_param_counts(const bmx_gpt_config *cfg, size_t counts[BMX_NTENSORS]);

/* Create a model with zeroed parameters and gradients. With blas != 0, the BLAS in use is
 * checked (bmx_kernels_check_blas) and a slow or mismatched one is refused. */
int bmx_model_create(const bmx_gpt_config *cfg, int dtype, int blas, bmx_model **out, bmx_err *err);
void bmx_model_free(bmx_model *m);

/* GPT-2 initialisation: weights N(0, 0.02), residual projections N(0, 0.02 / sqrt(2L)),
 * biases 0, LayerNorm gains 1; padded vocabulary rows 0. Deterministic in rng. */
void bmx_model_init(bmx_model *m, bmx_rng *rng);

const bmx_gpt_config *bmx_model_config(const bmx_model *m);
int bmx_model_vocab_padded(const bmx_model *m);
int bmx_model_dtype(const bmx_model *m);
size_t bmx_model_num_params(const bmx_model *m);
/* The flat buffers: float * for BMX_F32, double * for BMX_F64. */
void *bmx_model_params(bmx_model *m);
void *bmx_model_grads(bmx_model *m);
bmx_tensor_info bmx_model_tensor(const bmx_model *m, int id);

/* Forward pass over B sequences of T tokens (T <= ctx). inputs and targets are [B][T];
 * a target < 0 is ignored (no loss, no gradient). Fills (each optional, may be NULL):
 * loss = mean over the counted tokens; seq_loss[B] = mean over each sequence's counted
 * tokens (0 if none); tok_loss[B*T] (0 where ignored). With targets NULL only the logits
 * are computed. Losses are returned as double for either dtype. */
int bmx_model_forward(bmx_model *m, const int *inputs, const int *targets, int B, int T,
                      double *loss, double *seq_loss, double *tok_loss, bmx_err *err);
/* Logits of the last forward, [B*T][vocab_padded] (only the first vocab columns are
 * meaningful); valid until the next forward or backward. */
const void *bmx_model_logits(const bmx_model *m);

/* Backward pass of the last forward (which needs targets): the gradient of
 * scale * mean loss. acc = 0 overwrites the gradient buffer, acc = 1 adds to it (gradient
 * accumulation over micro-batches: scale = 1 / micro-batches). */
int bmx_model_backward(bmx_model *m, double scale, int acc, bmx_err *err);

#ifdef __cplusplus
}
#endif

#endif
