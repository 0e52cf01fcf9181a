/* src/cuda/attention.cu - causal multi-head attention, flash style (see kernels.cuh).
 *
 * Forward: one thread per query row (a block of AQ rows of one (sequence, head)); keys and
 * values stream through shared memory in tiles of AK rows; an online softmax keeps the
 * running max, sum and output in registers; only the row's log-sum-exp is stored.
 * Backward recomputes the probabilities p = exp(s * scale - lse) and runs as two kernels
 * that each own what they write, so nothing is added by atomics: dq (one thread per query
 * row, looping over keys u <= t) and dk, dv (two threads per key row, looping over queries
 * t >= u). dd[t] = dO[t] . O[t] (the row sum of P * dP) is computed first.
 * Head vectors live in registers of D floats, D the head size rounded up to 16, 32, 64 or
 * 128; channels hs..D-1 are zero and add exact zeros to every dot product.
 * These run on the CUDA cores (fp32 arithmetic): the fp32 model and bf16 with head sizes other
 * than 64; bf16 with head size 64 takes the tensor-core kernels of attention_tc.cu.
 */
#include <math.h>

#include "kernels.cuh"

#define AQ 64 /* query rows per block (forward, dq) */
#define AK 32 /* keys per shared tile (forward, dq) */

template <typename T, int D>
__global__ void __launch_bounds__(AQ)
    attn_forward_k(T *out, float *lse, const T *qkv, int Tn, int C, int H, float scale)
{
    __shared__ float Ks[AK][D], Vs[AK][D];
    int hs = C / H, bh = blockIdx.y, b = bh / H, h = bh % H, C3 = 3 * C;
    int t0 = blockIdx.x * AQ, t = t0 + threadIdx.x;
    bool valid = t < Tn;
    const T *base = qkv + (size_t)b * Tn * C3 + (size_t)h * hs;
    float q[D], o[D];
#pragma unroll
    for (int d = 0; d < D; d++) {
        q[d] = valid && d < hs ? tof(base[(size_t)t * C3 + d]) : 0.0f;
        o[d] = 0;
    }
    float mx = -INFINITY, l = 0;
    int kend = min(Tn, t0 + AQ);
    for (int u0 = 0; u0 < kend; u0 += AK) {
        __syncthreads();
        for (int i = threadIdx.x; i < AK * D; i += AQ) {
            int r = i / D, d = i % D, u = u0 + r;
            bool in = u < Tn && d < hs;
            Ks[r][d] = in ? tof(base[(size_t)u * C3 + C + d]) : 0.0f;
            Vs[r][d] = in ? tof(base[(size_t)u * C3 + 2 * C + d]) : 0.0f;
        }
        __syncthreads();
        int n = valid ? min(AK, t - u0 + 1) : 0; /* keys u0 .. t of this tile */
        for (int j = 0; j < n; j++) {
            float dot = 0;
#pragma unroll
            for (int d = 0; d < D; d++)
                dot += q[d] * Ks[j][d];
            float s = dot * scale;
            if (s > mx) { /* a new maximum: rescale what was summed so far */
                float corr = expf(mx - s);
                l *= corr;
#pragma unroll
                for (int d = 0; d < D; d++)
                    o[d] *= corr;
                mx = s;
            }
            float p = expf(s - mx);
            l += p;
#pragma unroll
            for (int d = 0; d < D; d++)
                o[d] += p * Vs[j][d];
        }
    }
    if (!valid)
        return;
    T *ot = out + ((size_t)b * Tn + t) * C + (size_t)h * hs;
    float inv = 1.0f / l;
#pragma unroll
    for (int d = 0; d < D; d++)
        if (d < hs)
            ot[d] = fromf<T>(o[d] * inv);
    lse[(size_t)bh * Tn + t] = mx + logf(l);
}

/* dd[b][h][t] = dO[t] . O[t] over head h's channels. */
template <typename T>
__global__ void attn_dd_k(float *dd, const T *dout, const T *out, int B, int Tn, int C, int H)
{
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (size_t)B * H * Tn)
        return;
    int hs = C / H, t = (int)(i % Tn), bh = (int)(i / Tn), b = bh / H, h = bh % H;
    size_t off = ((size_t)b * Tn + t) * C + (size_t)h * hs;
    float s = 0;
    for (int d = 0; d < hs; d++)
        s += tof(dout[off + d]) * tof(out[off + d]);
    dd[i] = s;
}

template <typename T, int D>
__global__ void __launch_bounds__(AQ)
    attn_backward_dq_k(T *dqkv, const T *qkv, const T *dout, const float *lse, const float *dd,
                       int Tn, int C, int H, float scale)
{
    __shared__ float Ks[AK][D], Vs[AK][D];
    int hs = C / H, bh = blockIdx.y, b = bh / H, h = bh % H, C3 = 3 * C;
    int t0 = blockIdx.x * AQ, t = t0 + threadIdx.x;
    bool valid = t < Tn;
    const T *base = qkv + (size_t)b * Tn * C3 + (size_t)h * hs;
    const T *gt = dout + ((size_t)b * Tn + t) * C + (size_t)h * hs;
    float q[D], g[D], dq[D];
#pragma unroll
    for (int d = 0; d < D; d++) {
        q[d] = valid && d < hs ? tof(base[(size_t)t * C3 + d]) : 0.0f;
        g[d] = valid && d < hs ? tof(gt[d]) : 0.0f;
        dq[d] = 0;
    }
    float L = valid ? lse[(size_t)bh * Tn + t] : 0.0f, Dt = valid ? dd[(size_t)bh * Tn + t] : 0.0f;
    int kend = min(Tn, t0 + AQ);
    for (int u0 = 0; u0 < kend; u0 += AK) {
        __syncthreads();
        for (int i = threadIdx.x; i < AK * D; i += AQ) {
            int r = i / D, d = i % D, u = u0 + r;
            bool in = u < Tn && d < hs;
            Ks[r][d] = in ? tof(base[(size_t)u * C3 + C + d]) : 0.0f;
            Vs[r][d] = in ? tof(base[(size_t)u * C3 + 2 * C + d]) : 0.0f;
        }
        __syncthreads();
        int n = valid ? min(AK, t - u0 + 1) : 0;
        for (int j = 0; j < n; j++) {
            float s = 0, dp = 0;
#pragma unroll
            for (int d = 0; d < D; d++) {
                s += q[d] * Ks[j][d];
                dp += g[d] * Vs[j][d];
            }
            float p = expf(s * scale - L);
            float ds = p * (dp - Dt) * scale;
#pragma unroll
            for (int d = 0; d < D; d++)
                dq[d] += ds * Ks[j][d];
        }
    }
    if (!valid)
        return;
    T *o = dqkv + ((size_t)b * Tn + t) * C3 + (size_t)h * hs;
#pragma unroll
    for (int d = 0; d < D; d++)
        if (d < hs)
            o[d] = fromf<T>(dq[d]);
}

/* KB keys per block, two threads per key (adjacent lanes), each holding half of the key's
 * channels (HD = D / 2) of k, v, dk and dv in registers; queries stream through shared memory
 * in tiles of QT rows, each half-row padded by 4 floats so that the two halves fall in
 * different banks. The two halves of each dot product are joined by one xor shuffle (the sum
 * is the same in both lanes). Masked pairs (t < u, or past T) get p = 0 without branching, so
 * every lane of a warp runs every shuffle. */
template <typename T, int D, int KB, int QT>
__global__ void __launch_bounds__(2 * KB)
    attn_backward_dkv_k(T *dqkv, const T *qkv, const T *dout, const float *lse, const float *dd,
                        int Tn, int C, int H, float scale)
{
    constexpr int HD = D / 2, RS = HD + 4;
    __shared__ __align__(16) float Qs[QT][2 * RS];
    __shared__ __align__(16) float Gs[QT][2 * RS];
    __shared__ float Ls[QT], Ds[QT];
    int hs = C / H, bh = blockIdx.y, b = bh / H, h = bh % H, C3 = 3 * C;
    int tid = threadIdx.x, hh = tid & 1, u0 = blockIdx.x * KB, u = u0 + (tid >> 1);
    bool valid = u < Tn;
    const T *base = qkv + (size_t)b * Tn * C3 + (size_t)h * hs;
    const T *gbase = dout + (size_t)b * Tn * C + (size_t)h * hs;
    float k[HD], v[HD], dk[HD], dv[HD];
#pragma unroll
    for (int d = 0; d < HD; d++) {
        int c = hh * HD + d;
        bool in = valid && c < hs;
        k[d] = in ? tof(base[(size_t)u * C3 + C + c]) : 0.0f;
        v[d] = in ? tof(base[(size_t)u * C3 + 2 * C + c]) : 0.0f;
        dk[d] = dv[d] = 0;
    }
    for (int t0 = u0; t0 < Tn; t0 += QT) {
        __syncthreads(); /* the previous tile is no longer read */
        for (int i = tid; i < QT * D; i += 2 * KB) {
            int r = i / D, c = i % D, tt = t0 + r, sc = (c / HD) * RS + c % HD;
            bool in = tt < Tn && c < hs;
            Qs[r][sc] = in ? tof(base[(size_t)tt * C3 + c]) : 0.0f;
            Gs[r][sc] = in ? tof(gbase[(size_t)tt * C + c]) : 0.0f;
        }
        for (int i = tid; i < QT; i += 2 * KB) {
            int tt = t0 + i;
            Ls[i] = tt < Tn ? lse[(size_t)bh * Tn + tt] : 0.0f;
            Ds[i] = tt < Tn ? dd[(size_t)bh * Tn + tt] : 0.0f;
        }
        __syncthreads();
        for (int i = 0; i < QT; i++) {
            const float *qr = &Qs[i][hh * RS], *gr = &Gs[i][hh * RS];
            float s = 0, dp = 0;
#pragma unroll
            for (int d = 0; d < HD; d++) {
                s += qr[d] * k[d];
                dp += gr[d] * v[d];
            }
            s += __shfl_xor_sync(0xffffffffu, s, 1);
            dp += __shfl_xor_sync(0xffffffffu, dp, 1);
            int tt = t0 + i;
            float p = tt >= u && tt < Tn ? expf(s * scale - Ls[i]) : 0.0f;
            float ds = p * (dp - Ds[i]) * scale;
#pragma unroll
            for (int d = 0; d < HD; d++) {
                dv[d] += p * gr[d];
                dk[d] += ds * qr[d];
            }
        }
    }
    if (!valid)
        return;
    T *o = dqkv + ((size_t)b * Tn + u) * C3 + (size_t)h * hs;
#pragma unroll
    for (int d = 0; d < HD; d++) {
        int c = hh * HD + d;
        if (c < hs) {
            o[C + c] = fromf<T>(dk[d]);
            o[2 * C + c] = fromf<T>(dv[d]);
        }
    }
}

static float att_scale(int hs)
{
    return (float)(1.0 / sqrt((double)hs));
}

template <typename T, int D>
static void attention_forward_d(cudaStream_t st, T *out, float *lse, const T *qkv, int B, int Tn,
                                int C, int H)
{
    dim3 grid(cdiv(Tn, AQ), (unsigned)(B * H));
    attn_forward_k<T, D><<<grid, AQ, 0, st>>>(out, lse, qkv, Tn, C, H, att_scale(C / H));
}

template <typename T, int D>
static void attention_backward_d(cudaStream_t st, T *dqkv, const float *dd, const T *dout,
                                 const T *qkv, const float *lse, int B, int Tn, int C, int H)
{
    const int KB = 64, QT = 32;
    float sc = att_scale(C / H);
    attn_backward_dq_k<T, D><<<dim3(cdiv(Tn, AQ), (unsigned)(B * H)), AQ, 0, st>>>(
        dqkv, qkv, dout, lse, dd, Tn, C, H, sc);
    attn_backward_dkv_k<T, D, KB, QT><<<dim3(cdiv(Tn, KB), (unsigned)(B * H)), 2 * KB, 0, st>>>(
        dqkv, qkv, dout, lse, dd, Tn, C, H, sc);
}

template <typename T>
void k_attention_forward(cudaStream_t st, T *out, float *lse, const T *qkv, int B, int Tn, int C,
                         int H)
{
    int hs = C / H;
    if (sizeof(T) == sizeof(bf16) && k_attention_tc(C, H))
        k_attention_tc_forward(st, (bf16 *)out, lse, (const bf16 *)qkv, B, Tn, C, H, att_scale(hs));
    else if (hs <= 16)
        attention_forward_d<T, 16>(st, out, lse, qkv, B, Tn, C, H);
    else if (hs <= 32)
        attention_forward_d<T, 32>(st, out, lse, qkv, B, Tn, C, H);
    else if (hs <= 64)
        attention_forward_d<T, 64>(st, out, lse, qkv, B, Tn, C, H);
    else
        attention_forward_d<T, 128>(st, out, lse, qkv, B, Tn, C, H);
}

template <typename T>
void k_attention_backward(cudaStream_t st, T *dqkv, float *dd, const T *dout, const T *qkv,
                          const T *out, const float *lse, int B, int Tn, int C, int H)
{
    int hs = C / H;
    size_t n = (size_t)B * H * Tn;
    attn_dd_k<T><<<cdiv(n, 256), 256, 0, st>>>(dd, dout, out, B, Tn, C, H);
    if (sizeof(T) == sizeof(bf16) && k_attention_tc(C, H))
        k_attention_tc_backward(st, (bf16 *)dqkv, dd, (const bf16 *)dout, (const bf16 *)qkv, lse, B,
                                Tn, C, H, att_scale(hs));
    else if (hs <= 16)
        attention_backward_d<T, 16>(st, dqkv, dd, dout, qkv, lse, B, Tn, C, H);
    else if (hs <= 32)
        attention_backward_d<T, 32>(st, dqkv, dd, dout, qkv, lse, B, Tn, C, H);
    else if (hs <= 64)
        attention_backward_d<T, 64>(st, dqkv, dd, dout, qkv, lse, B, Tn, C, H);
    else
        attention_backward_d<T, 128>(st, dqkv, dd, dout, qkv, lse, B, Tn, C, H);
}

template void k_attention_forward<float>(cudaStream_t, float *, float *, const float *, int, int,
                                         int, int);
template void k_attention_forward<bf16>(cudaStream_t, bf16 *, float *, const bf16 *, int, int, int,
                                        int);
template void k_attention_backward<float>(cudaStream_t, float *, float *, const float *,
                                          const float *, const float *, const float *, int, int,
                                          int, int);
template void k_attention_backward<bf16>(cudaStream_t, bf16 *, float *, const bf16 *, const bf16 *,
                                         const bf16 *, const float *, int, int, int, int);
