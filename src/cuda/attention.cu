/* src/cuda/attention.cu - causal multi-head attention, flash style (see kernels.cuh).
 *
 * Forward: one thread per query row (a block of AQ rows of one (sequence, head)); keys and
 * values stream through shared memory in tiles of AK rows; an online softmax keeps the
 * running max, sum and output in registers; only the row's log-sum-exp is stored.
 * Backward recomputes the probabilities p = exp(s * scale - lse) and runs as two kernels
 * that each own what they write, so nothing is added by atomics: dq (one thread per query
 * row, looping over keys u <= t) and dk, dv (one thread per key row, looping over queries
 * t >= u). dd[t] = dO[t] . O[t] (the row sum of P * dP) is computed first.
 * Head vectors live in registers of D floats, D the head size rounded up to 16, 32, 64 or
 * 128; channels hs..D-1 are zero and add exact zeros to every dot product.
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

/* KB keys per block (one thread each, their rows in shared memory, padded against bank
 * conflicts), queries streamed in tiles of QT rows. */
template <typename T, int D, int KB, int QT>
__global__ void __launch_bounds__(KB)
    attn_backward_dkv_k(T *dqkv, const T *qkv, const T *dout, const float *lse, const float *dd,
                        int Tn, int C, int H, float scale)
{
    __shared__ float Ks[KB][D + 1], Vs[KB][D + 1], Qs[QT][D], Gs[QT][D], Ls[QT], Ds[QT];
    int hs = C / H, bh = blockIdx.y, b = bh / H, h = bh % H, C3 = 3 * C;
    int u0 = blockIdx.x * KB, tid = threadIdx.x, u = u0 + tid;
    bool valid = u < Tn;
    const T *base = qkv + (size_t)b * Tn * C3 + (size_t)h * hs;
    const T *gbase = dout + (size_t)b * Tn * C + (size_t)h * hs;
    for (int i = tid; i < KB * D; i += KB) {
        int r = i / D, d = i % D, uu = u0 + r;
        bool in = uu < Tn && d < hs;
        Ks[r][d] = in ? tof(base[(size_t)uu * C3 + C + d]) : 0.0f;
        Vs[r][d] = in ? tof(base[(size_t)uu * C3 + 2 * C + d]) : 0.0f;
    }
    float dk[D], dv[D];
#pragma unroll
    for (int d = 0; d < D; d++)
        dk[d] = dv[d] = 0;
    for (int t0 = u0; t0 < Tn; t0 += QT) {
        __syncthreads();
        for (int i = tid; i < QT * D; i += KB) {
            int r = i / D, d = i % D, tt = t0 + r;
            bool in = tt < Tn && d < hs;
            Qs[r][d] = in ? tof(base[(size_t)tt * C3 + d]) : 0.0f;
            Gs[r][d] = in ? tof(gbase[(size_t)tt * C + d]) : 0.0f;
        }
        for (int i = tid; i < QT; i += KB) {
            int tt = t0 + i;
            Ls[i] = tt < Tn ? lse[(size_t)bh * Tn + tt] : 0.0f;
            Ds[i] = tt < Tn ? dd[(size_t)bh * Tn + tt] : 0.0f;
        }
        __syncthreads();
        if (!valid)
            continue;
        for (int i = 0; i < QT; i++) {
            int tt = t0 + i;
            if (tt < u || tt >= Tn)
                continue;
            float s = 0, dp = 0;
#pragma unroll
            for (int d = 0; d < D; d++) {
                s += Qs[i][d] * Ks[tid][d];
                dp += Gs[i][d] * Vs[tid][d];
            }
            float p = expf(s * scale - Ls[i]);
            float ds = p * (dp - Ds[i]) * scale;
#pragma unroll
            for (int d = 0; d < D; d++) {
                dv[d] += p * Gs[i][d];
                dk[d] += ds * Qs[i][d];
            }
        }
    }
    if (!valid)
        return;
    T *o = dqkv + ((size_t)b * Tn + u) * C3 + (size_t)h * hs;
#pragma unroll
    for (int d = 0; d < D; d++) {
        if (d < hs) {
            o[C + d] = fromf<T>(dk[d]);
            o[2 * C + d] = fromf<T>(dv[d]);
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
    const int KB = D <= 64 ? 64 : 32, QT = D <= 64 ? 16 : 8;
    float sc = att_scale(C / H);
    attn_backward_dq_k<T, D><<<dim3(cdiv(Tn, AQ), (unsigned)(B * H)), AQ, 0, st>>>(
        dqkv, qkv, dout, lse, dd, Tn, C, H, sc);
    attn_backward_dkv_k<T, D, KB, QT><<<dim3(cdiv(Tn, KB), (unsigned)(B * H)), KB, 0, st>>>(
        dqkv, qkv, dout, lse, dd, Tn, C, H, sc);
}

template <typename T>
void k_attention_forward(cudaStream_t st, T *out, float *lse, const T *qkv, int B, int Tn, int C,
                         int H)
{
    int hs = C / H;
    if (hs <= 16)
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
    if (hs <= 16)
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
