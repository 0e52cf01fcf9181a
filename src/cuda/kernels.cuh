/* src/cuda/kernels.cuh - the GPT-2 layers on the GPU (all but the matrix products), each a
 * launcher that enqueues its kernels on a stream and returns at once.
 *
 * T is the activation type: float (BMX_CUDA_FP32) or bf16 (BMX_CUDA_BF16); arithmetic is in
 * float either way. Parameters read here (embeddings, LayerNorm gains and biases) are the fp32
 * master copies; parameter gradients are fp32 and written (acc = 0) or added to (acc = 1).
 * Every reduction runs in a fixed order (fixed per-thread ranges, fixed shuffle and shared
 * memory trees, no atomics): the same inputs give the same bits. The formulas are those of
 * src/kernels/kernels.inc (GELU tanh form, LayerNorm eps 1e-5, losses over the first V of Vp
 * logits).
 */
#ifndef BMX_CUDA_KERNELS_CUH
#define BMX_CUDA_KERNELS_CUH

#include "common.cuh"

/* out[N][C] = wte[inp[n]] + wpe[n % T]. */
template <typename T>
void k_encoder_forward(cudaStream_t st, T *out, const int *inp, const float *wte, const float *wpe,
                       int N, int Tn, int C);

/* dwpe[t] = (or += by acc) sum over b of dout[b*T + t], rows t >= T zeroed when !acc; then
 * dwte[tok] += sum of dout over the positions of tok. The positions come bucketed by token:
 * uniq[nu] distinct tokens, their positions pos[off[j] .. off[j+1]) in increasing order. */
template <typename T>
void k_encoder_backward(cudaStream_t st, float *dwte, float *dwpe, const T *dout, const int *uniq,
                        const int *off, const int *pos, int nu, int B, int Tn, int C, int ctx,
                        int acc);

/* out = (inp - mean) * rstd * w + b per row; mean, rstd [N] kept. */
template <typename T>
void k_layernorm_forward(cudaStream_t st, T *out, float *mean, float *rstd, const T *inp,
                         const float *w, const float *b, int N, int C);

/* dinp += LayerNorm input gradient; dw, db (= or += by acc) through part, a scratch of
 * 2 * k_colsum_splits(N) * C floats. */
template <typename T>
void k_layernorm_backward(cudaStream_t st, T *dinp, float *dw, float *db, float *part,
                          const T *dout, const T *inp, const float *w, const float *mean,
                          const float *rstd, int N, int C, int acc);

/* db (= or += by acc) = column sums of dout[N][OC], through part (k_colsum_splits(N) * OC). */
template <typename T>
void k_bias_backward(cudaStream_t st, float *db, float *part, const T *dout, int N, int OC,
                     int acc);

/* Row blocks the column sums are cut into (fixed by N alone). */
int k_colsum_splits(int N);

/* out[N][OC] = (resid ? resid : 0) + bias, the start of a product added with beta = 1. */
template <typename T>
void k_bias_fill(cudaStream_t st, T *out, const T *resid, const T *bias, int N, int OC);

/* GPT-2's GELU (tanh form): out = x * sigmoid(2u); backward recomputes from inp and may run
 * in place (dinp == dout). */
template <typename T> void k_gelu_forward(cudaStream_t st, T *out, const T *inp, size_t n);
template <typename T>
void k_gelu_backward(cudaStream_t st, T *dinp, const T *inp, const T *dout, size_t n);

/* Fused softmax cross-entropy over the first V of Vp logits per row: losses[n] = lse -
 * logit[target] (0 when target < 0); then, in place, logits become dlogits = (softmax -
 * onehot) * dscale, zero in padded columns and ignored rows. */
template <typename T>
void k_crossentropy(cudaStream_t st, T *logits, float *losses, const int *targets, int N, int V,
                    int Vp, float dscale);

/* seqsum[b] = sum over t of losses[b*T + t], in double, fixed order. */
void k_seq_sums(cudaStream_t st, double *seqsum, const float *losses, int B, int Tn);

/* dst[i] = bf16(src[i]). */
void k_to_bf16(cudaStream_t st, bf16 *dst, const float *src, size_t n);

/* Causal multi-head attention, flash style (no T x T matrix): out[N][C] from qkv[N][3C];
 * lse[B][H][T] keeps each query row's log-sum-exp for the backward pass, which recomputes
 * the probabilities. dqkv overwritten; dd is a scratch of B*H*T floats. Head sizes up to
 * BMX_ATT_MAX_HS. */
#define BMX_ATT_MAX_HS 128
template <typename T>
void k_attention_forward(cudaStream_t st, T *out, float *lse, const T *qkv, int B, int Tn, int C,
                         int H);
template <typename T>
void k_attention_backward(cudaStream_t st, T *dqkv, float *dd, const T *dout, const T *qkv,
                          const T *out, const float *lse, int B, int Tn, int C, int H);

/* The tensor-core path (attention_tc.cu): bf16, head size 64. k_attention_forward/backward
 * take it by themselves when k_attention_tc(C, H) says it applies. */
int k_attention_tc(int C, int H);
void k_attention_tc_forward(cudaStream_t st, bf16 *out, float *lse, const bf16 *qkv, int B, int Tn,
                            int C, int H, float scale);
void k_attention_tc_backward(cudaStream_t st, bf16 *dqkv, const float *dd, const bf16 *dout,
                             const bf16 *qkv, const float *lse, int B, int Tn, int C, int H,
                             float scale);

#endif
