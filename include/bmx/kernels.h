/* bmx/kernels.h - the layers of a GPT-2 model as plain forward/backward pairs, on the CPU.
 *
 * Every kernel exists twice: for float (suffix _f, the training path) and for double (suffix
 * _d, used by the finite-difference gradient check). Both come from one source text
 * (src/kernels/kernels.inc), so the double path checks the very code that trains.
 *
 * Matrix products go through CBLAS (OpenBLAS, its OpenMP build) when `blas` is non-zero and
 * through plain C loops otherwise; every other kernel is plain C parallelised with OpenMP.
 * When called inside an OpenMP parallel region, OpenBLAS runs single-threaded, so the two
 * never oversubscribe the cores.
 *
 * Layouts (row-major, N = B*T rows):
 *  - linear layer weights are [OC][C] (out = inp * W^T + bias), as in GPT-2 checkpoints;
 *  - qkv is [N][3C] (query, key, value, each split into H heads of C/H channels);
 *  - att (attention probabilities) is [B][H][T][T], only u <= t used (causal).
 * Backward kernels overwrite parameter gradients when `acc` is 0 and add to them when 1;
 * what they do to input gradients is said per kernel.
 */
#ifndef BMX_KERNELS_H
#define BMX_KERNELS_H

#include <stddef.h>

#include "bmx/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Refuse a BLAS that would be slow or would fight OpenMP: BMX_EINVAL with a message naming
 * the Debian package to install unless OpenBLAS's OpenMP build is the one loaded. */
int bmx_kernels_check_blas(bmx_err *err);

/* Set the threads used by OpenMP loops and OpenBLAS together (n >= 1). */
void bmx_kernels_set_threads(int n);

#define BMX_KERNELS_DECLARE(R, S)                                                                  \
    /* out[N][C] = wte[inp[n]] + wpe[n % T]. */                                                    \
    void bmx_encoder_forward##S(R *out, const int *inp, const R *wte, const R *wpe, int B, int T,  \
                                int C);                                                            \
    /* dwte[inp[n]] += dout[n]; dwpe[t] (= or +=, by acc; rows >= T zeroed when !acc). */          \
    void bmx_encoder_backward##S(R *dwte, R *dwpe, const R *dout, const int *inp, int B, int T,    \
                                 int C, int ctx, int acc);                                         \
    /* out = (inp - mean) * rstd * w + b per row; mean, rstd [N] kept for backward. */             \
    void bmx_layernorm_forward##S(R *out, R *mean, R *rstd, const R *inp, const R *w, const R *b,  \
                                  int N, int C);                                                   \
    /* dinp += ..., dw/db = or += by acc. */                                                       \
    void bmx_layernorm_backward##S(R *dinp, R *dw, R *db, const R *dout, const R *inp, const R *w, \
                                   const R *mean, const R *rstd, int N, int C, int acc);           \
    /* out[N][OC] = resid + inp[N][C] * w[OC][C]^T + bias (resid, bias may be NULL; resid may      \
     * be out itself). */                                                                          \
    void bmx_matmul_forward##S(R *out, const R *inp, const R *w, const R *bias, const R *resid,    \
                               int N, int C, int OC, int blas);                                    \
    /* dinp = dout * w (overwritten; skipped if NULL); dw, db (= or += by acc; db may be NULL). */ \
    void bmx_matmul_backward##S(R *dinp, R *dw, R *db, const R *dout, const R *inp, const R *w,    \
                                int N, int C, int OC, int acc, int blas);                          \
    /* GPT-2's GELU, tanh approximation; sig[n] keeps sigmoid(2u) for the backward pass, which     \
     * may run in place (dinp == dout). */                                                         \
    void bmx_gelu_forward##S(R *out, R *sig, const R *inp, size_t n);                              \
    void bmx_gelu_backward##S(R *dinp, const R *inp, const R *sig, const R *dout, size_t n);       \
    /* Causal multi-head attention: out[N][C] from qkv[N][3C]; att keeps probabilities. */         \
    void bmx_attention_forward##S(R *out, R *att, const R *qkv, int B, int T, int C, int H,        \
                                  int blas);                                                       \
    /* dqkv overwritten; scratch is [B][H][T][T]. O(T^2 * C/H) per head. */                        \
    void bmx_attention_backward##S(R *dqkv, R *scratch, const R *dout, const R *qkv, const R *att, \
                                   int B, int T, int C, int H, int blas);                          \
    /* Softmax cross-entropy over the first V of Vp logits per row: lse[n] = log-sum-exp,          \
     * losses[n] = lse - logit[target] (0 where target < 0, "ignored"). */                         \
    void bmx_crossentropy_forward##S(R *losses, R *lse, const R *logits, const int *targets,       \
                                     int N, int V, int Vp);                                        \
    /* In place: logits become dlogits = (softmax - onehot) * dloss; padded columns and            \
     * ignored rows become 0. */                                                                   \
    void bmx_crossentropy_backward##S(R *logits, const R *lse, const int *targets, R dloss, int N, \
                                      int V, int Vp);                                              \
    /* out = a + b, n elements. */                                                                 \
    void bmx_residual_forward##S(R *out, const R *a, const R *b, size_t n);

BMX_KERNELS_DECLARE(float, _f)
BMX_KERNELS_DECLARE(double, _d)

#ifdef __cplusplus
}
#endif

#endif
