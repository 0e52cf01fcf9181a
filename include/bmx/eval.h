/* bmx/eval.h - rank classification of multiple-choice examples with a bmx model.
 *
 * An example's prompt and each answer " " + choice are tokenized separately and joined:
 * seq = prompt ids + answer ids. When seq is longer than T + 1 tokens the prompt loses tokens
 * from its start (the answer is kept whole; an answer of T tokens or more keeps its first T
 * tokens after one prompt token). inputs = seq[0..L-2], targets = seq[1..L-1] with every
 * target that is a prompt token set to -1, then both padded to T (inputs with the pad id,
 * targets with -1). The answer's score is sum over its tokens of log p(token | before), and
 * its mean; the prediction is the choice with the highest score (ties: lowest index).
 */
#ifndef BMX_EVAL_H
#define BMX_EVAL_H

#include <stddef.h>
#include <stdint.h>

#include "bmx/core.h"
#include "bmx/model.h"
#include "bmx/tasks.h"
#include "bmx/tok.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Pack one row (see above); returns the answer tokens counted (>= 1), or -1 when na == 0
 * or T < 1. */
int bmx_eval_pack(const uint32_t *prompt, size_t np, const uint32_t *ans, size_t na, int T, int pad,
                  int *inputs, int *targets);

/* Pack prompt + " " + answer text (tokenized with tok) into one row; *counted gets the
 * answer tokens. */
int bmx_eval_pack_text(const bmx_tok *tok, const char *prompt, const char *answer, int T,
                       int *inputs, int *targets, int *counted, bmx_err *err);

/* The forward that scores rows: fn fills tok_loss[B*T], every token's loss over rows [B][T] of
 * inputs and targets (0 where the target is < 0), as bmx_model_forward does; vocab is the
 * model's vocabulary. A model (bmx_eval_choices, bmx_eval_task) or a trainer backend's
 * evaluation forward (bmx/backend.h; FLAD's validation) serve. */
typedef struct bmx_eval_forward {
    int (*fn)(void *ctx, const int *inputs, const int *targets, int B, int T, double *tok_loss,
              bmx_err *err);
    void *ctx;
    int vocab;
} bmx_eval_forward;

/* Score n answer choices after one prompt: sum[c] and mean[c] log-probabilities (either may
 * be NULL), one forward of n rows of T tokens. The model's vocabulary must cover tok's. */
int bmx_eval_choices(bmx_model *m, const bmx_tok *tok, const char *prompt,
                     const char *const *choices, int n, int T, double *sum, double *mean,
                     bmx_err *err);

/* Accuracy of rank classification on examples idx[0..n) of task t under template tmpl:
 * *acc_sum by summed, *acc_mean by mean log-probability (either may be NULL). */
int bmx_eval_task(bmx_model *m, const bmx_tok *tok, const bmx_task *t, const size_t *idx, size_t n,
                  int tmpl, int T, double *acc_sum, double *acc_mean, bmx_err *err);

/* The same two through another forward (each choice set is one call of fw->fn with n rows). */
int bmx_eval_choices_fw(const bmx_eval_forward *fw, const bmx_tok *tok, const char *prompt,
                        const char *const *choices, int n, int T, double *sum, double *mean,
                        bmx_err *err);
int bmx_eval_task_fw(const bmx_eval_forward *fw, const bmx_tok *tok, const bmx_task *t,
                     const size_t *idx, size_t n, int tmpl, int T, double *acc_sum,
                     double *acc_mean, bmx_err *err);

#ifdef __cplusplus
}
#endif

#endif
