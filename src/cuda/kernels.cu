/* src/cuda/kernels.cu - the GPT-2 layers on the GPU other than attention and the matrix
 * products (see kernels.cuh). Fixed-order reductions throughout: no atomics. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "kernels.cuh"

/* 16 bytes of T (8 bf16 or 4 floats), moved by one 128-bit load or store. */
template <typename T> struct alignas(16) Pack {
    T v[16 / sizeof(T)];
};
template <typename T> __device__ __forceinline__ Pack<T> ld16(const T *p)
{
    Pack<T> r;
#ifdef __CUDA_ARCH__
    *reinterpret_cast<uint4 *>(&r) = *reinterpret_cast<const uint4 *>(p);
#else
    memcpy(&r, p, 16);
#endif
    return r;
}
template <typename T> __device__ __forceinline__ void st16(T *p, const Pack<T> &v)
{
#ifdef __CUDA_ARCH__
    *reinterpret_cast<uint4 *>(p) = *reinterpret_cast<const uint4 *>(&v);
#else
    memcpy(p, &v, 16);
#endif
}
/* Whether p may be moved in 16-byte packs. */
static inline bool al16(const void *p)
{
    return ((uintptr_t)p & 15) == 0;
}

/* Sum / max over a warp by xor shuffles: every lane ends with the same value, computed in the
 * same order every time. */
__device__ __forceinline__ float warp_sum(float v)
{
    for (int o = 16; o > 0; o >>= 1)
        v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}
__device__ __forceinline__ float warp_max(float v)
{
    for (int o = 16; o > 0; o >>= 1)
        v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

/* Sum or max over a block (blockDim.x a multiple of 32, at most 1024); every thread gets the
 * result. red is a shared scratch of 32 floats. */
__device__ float block_reduce(float v, float *red, bool is_max)
{
    int lane = threadIdx.x % 32, w = threadIdx.x / 32, nw = blockDim.x / 32;
    v = is_max ? warp_max(v) : warp_sum(v);
    __syncthreads(); /* red may still be read by a previous reduction */
    if (lane == 0)
        red[w] = v;
    __syncthreads();
    float r = lane < nw ? red[lane] : (is_max ? -INFINITY : 0.0f);
    return is_max ? warp_max(r) : warp_sum(r);
}

/* tof for a value held in registers across phases: on the GPU an opaque conversion, so that
 * the compiler keeps the packed 16-bit values rather than all their float copies (fewer
 * registers); the same value as tof. */
__device__ __forceinline__ float tof_fresh(float x)
{
    return x;
}
__device__ __forceinline__ float tof_fresh(bf16 x)
{
#ifdef __CUDA_ARCH__
    unsigned u = (unsigned)__bfloat16_as_ushort(x);
    asm volatile("shl.b32 %0, %0, 16;" : "+r"(u));
    return __uint_as_float(u);
#else
    return tof(x);
#endif
}

/* ---- encoder ---- */

template <typename T>
__global__ void encoder_forward_k(T *out, const int *inp, const float *wte, const float *wpe, int N,
                                  int Tn, int C)
{
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (size_t)N * C)
        return;
    int n = (int)(i / C), c = (int)(i % C);
    out[i] = fromf<T>(wte[(size_t)inp[n] * C + c] + wpe[(size_t)(n % Tn) * C + c]);
}

template <typename T>
void k_encoder_forward(cudaStream_t st, T *out, const int *inp, const float *wte, const float *wpe,
                       int N, int Tn, int C)
{
    size_t n = (size_t)N * C;
    encoder_forward_k<T><<<cdiv(n, 256), 256, 0, st>>>(out, inp, wte, wpe, N, Tn, C);
}

template <typename T>
__global__ void encoder_backward_wpe_k(float *dwpe, const T *dout, int B, int Tn, int C, int ctx,
                                       int acc)
{
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (size_t)ctx * C)
        return;
    int t = (int)(i / C), c = (int)(i % C);
    if (t >= Tn) {
        if (!acc)
            dwpe[i] = 0;
        return;
    }
    float s = 0;
    for (int b = 0; b < B; b++)
        s += tof(dout[((size_t)b * Tn + t) * C + c]);
    dwpe[i] = acc ? dwpe[i] + s : s;
}

/* One block row per distinct token: that token's row of dwte is touched by this block only. */
template <typename T>
__global__ void encoder_backward_wte_k(float *dwte, const T *dout, const int *uniq, const int *off,
                                       const int *pos, int C)
{
    int j = blockIdx.x, c = blockIdx.y * blockDim.x + threadIdx.x;
    if (c >= C)
        return;
    float s = 0;
#pragma unroll 8 /* frequent tokens loop long: keep several loads in flight */
    for (int k = off[j]; k < off[j + 1]; k++)
        s += tof(dout[(size_t)pos[k] * C + c]);
    dwte[(size_t)uniq[j] * C + c] += s;
}

template <typename T>
void k_encoder_backward(cudaStream_t st, float *dwte, float *dwpe, const T *dout, const int *uniq,
                        const int *off, const int *pos, int nu, int B, int Tn, int C, int ctx,
                        int acc)
{
    size_t n = (size_t)ctx * C;
    encoder_backward_wpe_k<T><<<cdiv(n, 256), 256, 0, st>>>(dwpe, dout, B, Tn, C, ctx, acc);
    if (nu > 0) {
        dim3 grid((unsigned)nu, cdiv(C, 128));
        encoder_backward_wte_k<T><<<grid, 128, 0, st>>>(dwte, dout, uniq, off, pos, C);
    }
}

/* ---- LayerNorm: one warp per row ---- */

template <typename T>
__global__ void layernorm_forward_k(T *out, float *mean, float *rstd, const T *inp, const float *w,
                                    const float *b, int N, int C)
{
    int row = (int)(((size_t)blockIdx.x * blockDim.x + threadIdx.x) / 32), lane = threadIdx.x % 32;
    if (row >= N)
        return;
    const T *x = inp + (size_t)row * C;
    T *o = out + (size_t)row * C;
    float s = 0;
    for (int c = lane; c < C; c += 32)
        s += tof(x[c]);
    float m = warp_sum(s) / C;
    float v = 0;
    for (int c = lane; c < C; c += 32) {
        float d = tof(x[c]) - m;
        v += d * d;
    }
    float r = 1.0f / sqrtf(warp_sum(v) / C + 1e-5f);
    for (int c = lane; c < C; c += 32)
        o[c] = fromf<T>((tof(x[c]) - m) * r * w[c] + b[c]);
    if (lane == 0) {
        mean[row] = m;
        rstd[row] = r;
    }
}

/* The same in 16-byte packs (C a multiple of 16 / sizeof(T), rows 16-byte aligned), the row
 * in registers: lane owns packs lane, lane + 32, ... (K at most). */
template <typename T, int K>
__global__ void __launch_bounds__(256)
    layernorm_forward_vec_k(T *out, float *mean, float *rstd, const T *inp, const float *w,
                            const float *b, int N, int C)
{
    constexpr int VW = 16 / sizeof(T);
    int row = (int)(((size_t)blockIdx.x * blockDim.x + threadIdx.x) / 32), lane = threadIdx.x % 32;
    if (row >= N)
        return;
    int nch = C / VW;
    const T *x = inp + (size_t)row * C;
    T *o = out + (size_t)row * C;
    Pack<T> xv[K];
#pragma unroll
    for (int k = 0; k < K; k++) {
        int ch = lane + 32 * k;
        if (ch < nch)
            xv[k] = ld16(x + (size_t)ch * VW);
    }
    float s = 0;
#pragma unroll
    for (int k = 0; k < K; k++) {
        if (lane + 32 * k < nch) {
#pragma unroll
            for (int j = 0; j < VW; j++)
                s += tof(xv[k].v[j]);
        }
    }
    float m = warp_sum(s) / C;
    float v = 0;
#pragma unroll
    for (int k = 0; k < K; k++) {
        if (lane + 32 * k < nch) {
#pragma unroll
            for (int j = 0; j < VW; j++) {
                float d = tof_fresh(xv[k].v[j]) - m;
                v += d * d;
            }
        }
    }
    float r = 1.0f / sqrtf(warp_sum(v) / C + 1e-5f);
#pragma unroll
    for (int k = 0; k < K; k++) {
        int ch = lane + 32 * k;
        if (ch < nch) {
            Pack<T> ov;
#pragma unroll
            for (int j = 0; j < VW; j++) {
                int c = ch * VW + j;
                ov.v[j] = fromf<T>((tof_fresh(xv[k].v[j]) - m) * r * w[c] + b[c]);
            }
            st16(o + (size_t)ch * VW, ov);
        }
    }
    if (lane == 0) {
        mean[row] = m;
        rstd[row] = r;
    }
}

template <typename T>
void k_layernorm_forward(cudaStream_t st, T *out, float *mean, float *rstd, const T *inp,
                         const float *w, const float *b, int N, int C)
{
    const int VW = 16 / sizeof(T);
    int K = (int)cdiv((size_t)(C / VW), 32);
    bool vec = C % VW == 0 && al16(out) && al16(inp);
    unsigned g = cdiv((size_t)N * 32, 256);
    if (vec && K <= 1)
        layernorm_forward_vec_k<T, 1><<<g, 256, 0, st>>>(out, mean, rstd, inp, w, b, N, C);
    else if (vec && K <= 2)
        layernorm_forward_vec_k<T, 2><<<g, 256, 0, st>>>(out, mean, rstd, inp, w, b, N, C);
    else if (vec && K <= 3)
        layernorm_forward_vec_k<T, 3><<<g, 256, 0, st>>>(out, mean, rstd, inp, w, b, N, C);
    else if (vec && K <= 4)
        layernorm_forward_vec_k<T, 4><<<g, 256, 0, st>>>(out, mean, rstd, inp, w, b, N, C);
    else if (vec && K <= 6)
        layernorm_forward_vec_k<T, 6><<<g, 256, 0, st>>>(out, mean, rstd, inp, w, b, N, C);
    else if (vec && K <= 8)
        layernorm_forward_vec_k<T, 8><<<g, 256, 0, st>>>(out, mean, rstd, inp, w, b, N, C);
    else
        layernorm_forward_k<T><<<g, 256, 0, st>>>(out, mean, rstd, inp, w, b, N, C);
}

template <typename T>
__global__ void layernorm_backward_k(T *dinp, const T *dout, const T *inp, const float *w,
                                     const float *mean, const float *rstd, int N, int C)
{
    int row = (int)(((size_t)blockIdx.x * blockDim.x + threadIdx.x) / 32), lane = threadIdx.x % 32;
    if (row >= N)
        return;
    const T *x = inp + (size_t)row * C, *d = dout + (size_t)row * C;
    T *di = dinp + (size_t)row * C;
    float m = mean[row], r = rstd[row], sd = 0, sdn = 0;
    for (int c = lane; c < C; c += 32) {
        float dn = tof(d[c]) * w[c];
        sd += dn;
        sdn += dn * ((tof(x[c]) - m) * r);
    }
    float md = warp_sum(sd) / C, mdn = warp_sum(sdn) / C;
    for (int c = lane; c < C; c += 32) {
        float xn = (tof(x[c]) - m) * r;
        di[c] = fromf<T>(tof(di[c]) + (tof(d[c]) * w[c] - md - xn * mdn) * r);
    }
}

/* The same, in 16-byte packs (C a multiple of 16 / sizeof(T), every row 16-byte aligned): lane
 * owns packs lane, lane + 32, ... (K at most) of its row, kept in registers between the two
 * passes. */
template <typename T, int K>
__global__ void __launch_bounds__(256)
    layernorm_backward_vec_k(T *dinp, const T *dout, const T *inp, const float *w,
                             const float *mean, const float *rstd, int N, int C)
{
    constexpr int VW = 16 / sizeof(T);
    int row = (int)(((size_t)blockIdx.x * blockDim.x + threadIdx.x) / 32), lane = threadIdx.x % 32;
    if (row >= N)
        return;
    int nch = C / VW;
    const T *x = inp + (size_t)row * C, *d = dout + (size_t)row * C;
    T *di = dinp + (size_t)row * C;
    Pack<T> xv[K], dv[K];
#pragma unroll
    for (int k = 0; k < K; k++) {
        int ch = lane + 32 * k;
        if (ch < nch) {
            xv[k] = ld16(x + (size_t)ch * VW);
            dv[k] = ld16(d + (size_t)ch * VW);
        }
    }
    float m = mean[row], r = rstd[row], sd = 0, sdn = 0;
#pragma unroll
    for (int k = 0; k < K; k++) {
        int ch = lane + 32 * k;
        if (ch < nch) {
#pragma unroll
            for (int j = 0; j < VW; j++) {
                float dn = tof(dv[k].v[j]) * w[ch * VW + j];
                sd += dn;
                sdn += dn * ((tof(xv[k].v[j]) - m) * r);
            }
        }
    }
    float md = warp_sum(sd) / C, mdn = warp_sum(sdn) / C;
#pragma unroll
    for (int k = 0; k < K; k++) {
        int ch = lane + 32 * k;
        if (ch < nch) {
            Pack<T> o = ld16(di + (size_t)ch * VW);
#pragma unroll
            for (int j = 0; j < VW; j++) {
                float xn = (tof_fresh(xv[k].v[j]) - m) * r;
                o.v[j] = fromf<T>(tof(o.v[j]) +
                                  (tof_fresh(dv[k].v[j]) * w[ch * VW + j] - md - xn * mdn) * r);
            }
            st16(di + (size_t)ch * VW, o);
        }
    }
}

/* ---- column sums (bias and LayerNorm parameter gradients), in two fixed-order stages ---- */

#define COLSUM_ROWS 256

int k_colsum_splits(int N)
{
    return (int)cdiv((size_t)N, COLSUM_ROWS);
}

/* Block (32, 8) sums rows [n0, n0 + COLSUM_ROWS) of 32 columns: part[split][c] = sum of dout,
 * and with LN, part[nsplit + split][c] = sum of dout * normalised input. */
template <typename T, bool LN>
__global__ void colsum_part_k(float *part, const T *dout, const T *inp, const float *mean,
                              const float *rstd, int N, int C)
{
    __shared__ float sb[8][32], sw[8][32];
    int tx = threadIdx.x, ty = threadIdx.y, c = blockIdx.x * 32 + tx;
    int n0 = blockIdx.y * COLSUM_ROWS, n1 = min(N, n0 + COLSUM_ROWS);
    float b = 0, w = 0;
    if (c < C) {
        for (int n = n0 + ty; n < n1; n += 8) {
            float d = tof(dout[(size_t)n * C + c]);
            b += d;
            if (LN)
                w += d * ((tof(inp[(size_t)n * C + c]) - mean[n]) * rstd[n]);
        }
    }
    sb[ty][tx] = b;
    sw[ty][tx] = w;
    __syncthreads();
    if (ty != 0 || c >= C)
        return;
    for (int y = 1; y < 8; y++) {
        b += sb[y][tx];
        w += sw[y][tx];
    }
    part[(size_t)blockIdx.y * C + c] = b;
    if (LN)
        part[((size_t)gridDim.y + blockIdx.y) * C + c] = w;
}

/* The same with 16 / sizeof(T) columns a thread in 16-byte packs (C a multiple of that, rows
 * 16-byte aligned): each column summed in exactly the same order as colsum_part_k. */
template <typename T, bool LN>
__global__ void __launch_bounds__(256)
    colsum_part_vec_k(float *part, const T *dout, const T *inp, const float *mean,
                      const float *rstd, int N, int C)
{
    constexpr int VW = 16 / sizeof(T);
    __shared__ float sb[8][32 * VW], sw[LN ? 8 : 1][LN ? 32 * VW : 1];
    int tx = threadIdx.x, ty = threadIdx.y, c0 = (blockIdx.x * 32 + tx) * VW;
    int n0 = blockIdx.y * COLSUM_ROWS, n1 = min(N, n0 + COLSUM_ROWS);
    float b[VW], w[VW];
#pragma unroll
    for (int j = 0; j < VW; j++)
        b[j] = w[j] = 0;
    if (c0 < C) {
        for (int n = n0 + ty; n < n1; n += 8) {
            Pack<T> d = ld16(dout + (size_t)n * C + c0);
            if (LN) {
                Pack<T> x = ld16(inp + (size_t)n * C + c0);
                float m = mean[n], r = rstd[n];
#pragma unroll
                for (int j = 0; j < VW; j++) {
                    float dj = tof(d.v[j]);
                    b[j] += dj;
                    w[j] += dj * ((tof(x.v[j]) - m) * r);
                }
            } else {
#pragma unroll
                for (int j = 0; j < VW; j++)
                    b[j] += tof(d.v[j]);
            }
        }
    }
#pragma unroll
    for (int j = 0; j < VW; j++) {
        sb[ty][tx * VW + j] = b[j];
        if (LN)
            sw[ty][tx * VW + j] = w[j];
    }
    __syncthreads();
    if (ty != 0 || c0 >= C)
        return;
    for (int y = 1; y < 8; y++) {
#pragma unroll
        for (int j = 0; j < VW; j++) {
            b[j] += sb[y][tx * VW + j];
            if (LN)
                w[j] += sw[y][tx * VW + j];
        }
    }
#pragma unroll
    for (int j = 0; j < VW; j++) {
        part[(size_t)blockIdx.y * C + c0 + j] = b[j];
        if (LN)
            part[((size_t)gridDim.y + blockIdx.y) * C + c0 + j] = w[j];
    }
}

__global__ void colsum_final_k(float *db, float *dw, const float *part, int nsplit, int C, int acc)
{
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C)
        return;
    float b = 0;
    for (int k = 0; k < nsplit; k++)
        b += part[(size_t)k * C + c];
    db[c] = acc ? db[c] + b : b;
    if (dw) {
        float w = 0;
        for (int k = 0; k < nsplit; k++)
            w += part[((size_t)nsplit + k) * C + c];
        dw[c] = acc ? dw[c] + w : w;
    }
}

template <typename T>
void k_layernorm_backward(cudaStream_t st, T *dinp, float *dw, float *db, float *part,
                          const T *dout, const T *inp, const float *w, const float *mean,
                          const float *rstd, int N, int C, int acc)
{
    const int VW = 16 / sizeof(T);
    int K = (int)cdiv((size_t)(C / VW), 32);
    bool vec = C % VW == 0 && al16(dinp) && al16(dout) && al16(inp);
    unsigned g = cdiv((size_t)N * 32, 256);
    if (vec && K <= 1)
        layernorm_backward_vec_k<T, 1><<<g, 256, 0, st>>>(dinp, dout, inp, w, mean, rstd, N, C);
    else if (vec && K <= 2)
        layernorm_backward_vec_k<T, 2><<<g, 256, 0, st>>>(dinp, dout, inp, w, mean, rstd, N, C);
    else if (vec && K <= 3)
        layernorm_backward_vec_k<T, 3><<<g, 256, 0, st>>>(dinp, dout, inp, w, mean, rstd, N, C);
    else if (vec && K <= 4)
        layernorm_backward_vec_k<T, 4><<<g, 256, 0, st>>>(dinp, dout, inp, w, mean, rstd, N, C);
    else if (vec && K <= 6)
        layernorm_backward_vec_k<T, 6><<<g, 256, 0, st>>>(dinp, dout, inp, w, mean, rstd, N, C);
    else if (vec && K <= 8)
        layernorm_backward_vec_k<T, 8><<<g, 256, 0, st>>>(dinp, dout, inp, w, mean, rstd, N, C);
    else
        layernorm_backward_k<T><<<g, 256, 0, st>>>(dinp, dout, inp, w, mean, rstd, N, C);
    int ns = k_colsum_splits(N);
    if (C % VW == 0 && al16(dout) && al16(inp))
        colsum_part_vec_k<T, true><<<dim3(cdiv(C, 32 * VW), (unsigned)ns), dim3(32, 8), 0, st>>>(
            part, dout, inp, mean, rstd, N, C);
    else
        colsum_part_k<T, true><<<dim3(cdiv(C, 32), (unsigned)ns), dim3(32, 8), 0, st>>>(
            part, dout, inp, mean, rstd, N, C);
    colsum_final_k<<<cdiv(C, 256), 256, 0, st>>>(db, dw, part, ns, C, acc);
}

template <typename T>
void k_bias_backward(cudaStream_t st, float *db, float *part, const T *dout, int N, int OC, int acc)
{
    int ns = k_colsum_splits(N);
    const int VW = 16 / sizeof(T);
    if (OC % VW == 0 && al16(dout))
        colsum_part_vec_k<T, false><<<dim3(cdiv(OC, 32 * VW), (unsigned)ns), dim3(32, 8), 0, st>>>(
            part, dout, NULL, NULL, NULL, N, OC);
    else
        colsum_part_k<T, false><<<dim3(cdiv(OC, 32), (unsigned)ns), dim3(32, 8), 0, st>>>(
            part, dout, NULL, NULL, NULL, N, OC);
    colsum_final_k<<<cdiv(OC, 256), 256, 0, st>>>(db, NULL, part, ns, OC, acc);
}

template <typename T>
__global__ void bias_fill_k(T *out, const T *resid, const T *bias, int N, int OC)
{
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (size_t)N * OC)
        return;
    float v = bias ? tof(bias[i % OC]) : 0.0f;
    out[i] = fromf<T>(resid ? tof(resid[i]) + v : v);
}

template <typename T>
void k_bias_fill(cudaStream_t st, T *out, const T *resid, const T *bias, int N, int OC)
{
    size_t n = (size_t)N * OC;
    bias_fill_k<T><<<cdiv(n, 256), 256, 0, st>>>(out, resid, bias, N, OC);
}

/* ---- GELU (tanh form, as kernels.inc: x * sigmoid(2u), 2u clamped to +-80) ---- */

#define GELU_K2 1.5957691216057308f /* 2 sqrt(2 / pi) */

__device__ __forceinline__ float gelu_f(float x)
{
    float u2 = GELU_K2 * (x + 0.044715f * x * x * x);
    u2 = fminf(fmaxf(u2, -80.0f), 80.0f);
    float s = 1.0f / (1.0f + expf(-u2));
    return x * s;
}
__device__ __forceinline__ float gelu_b(float x, float d)
{
    float u2 = GELU_K2 * (x + 0.044715f * x * x * x);
    u2 = fminf(fmaxf(u2, -80.0f), 80.0f);
    float s = 1.0f / (1.0f + expf(-u2));
    float du2 = GELU_K2 * (1.0f + (float)(3 * 0.044715) * x * x);
    return (s + x * s * (1.0f - s) * du2) * d;
}

template <typename T> __global__ void gelu_forward_k(T *out, const T *inp, size_t n)
{
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n)
        return;
    out[i] = fromf<T>(gelu_f(tof(inp[i])));
}

template <typename T>
__global__ void gelu_backward_k(T *dinp, const T *inp, const T *dout, size_t n)
{
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n)
        return;
    dinp[i] = fromf<T>(gelu_b(tof(inp[i]), tof(dout[i])));
}

/* The same over np 16-byte packs, grid-stride. */
template <typename T> __global__ void gelu_forward_vec_k(T *out, const T *inp, size_t np)
{
    constexpr int VW = 16 / sizeof(T);
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < np;
         i += (size_t)gridDim.x * blockDim.x) {
        Pack<T> p = ld16(inp + i * VW);
#pragma unroll
        for (int j = 0; j < VW; j++)
            p.v[j] = fromf<T>(gelu_f(tof(p.v[j])));
        st16(out + i * VW, p);
    }
}

template <typename T>
__global__ void gelu_backward_vec_k(T *dinp, const T *inp, const T *dout, size_t np)
{
    constexpr int VW = 16 / sizeof(T);
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < np;
         i += (size_t)gridDim.x * blockDim.x) {
        Pack<T> x = ld16(inp + i * VW), d = ld16(dout + i * VW);
#pragma unroll
        for (int j = 0; j < VW; j++)
            d.v[j] = fromf<T>(gelu_b(tof(x.v[j]), tof(d.v[j])));
        st16(dinp + i * VW, d);
    }
}

static unsigned vec_blocks(size_t np)
{
    unsigned b = cdiv(np, 256);
    return b < 65536 ? b : 65536;
}

template <typename T> void k_gelu_forward(cudaStream_t st, T *out, const T *inp, size_t n)
{
    const size_t VW = 16 / sizeof(T);
    if (n % VW == 0 && al16(out) && al16(inp)) {
        size_t np = n / VW;
        gelu_forward_vec_k<T><<<vec_blocks(np), 256, 0, st>>>(out, inp, np);
    } else {
        gelu_forward_k<T><<<cdiv(n, 256), 256, 0, st>>>(out, inp, n);
    }
}

template <typename T>
void k_gelu_backward(cudaStream_t st, T *dinp, const T *inp, const T *dout, size_t n)
{
    const size_t VW = 16 / sizeof(T);
    if (n % VW == 0 && al16(dinp) && al16(inp) && al16(dout)) {
        size_t np = n / VW;
        gelu_backward_vec_k<T><<<vec_blocks(np), 256, 0, st>>>(dinp, inp, dout, np);
    } else {
        gelu_backward_k<T><<<cdiv(n, 256), 256, 0, st>>>(dinp, inp, dout, n);
    }
}

/* ---- fused softmax cross-entropy: one block per row ---- */

template <typename T>
__global__ void crossentropy_k(T *logits, float *losses, const int *targets, int V, int Vp,
                               float dscale)
{
    __shared__ float red[32];
    __shared__ float tlogit;
    int n = blockIdx.x, tg = targets[n];
    T *l = logits + (size_t)n * Vp;
    if (threadIdx.x == 0)
        tlogit = tg >= 0 ? tof(l[tg]) : 0.0f; /* read before the row is overwritten below */
    float mx = -INFINITY;
    for (int v = threadIdx.x; v < V; v += blockDim.x)
        mx = fmaxf(mx, tof(l[v]));
    mx = block_reduce(mx, red, true);
    float s = 0;
    for (int v = threadIdx.x; v < V; v += blockDim.x)
        s += expf(tof(l[v]) - mx);
    float lse = mx + logf(block_reduce(s, red, false)); /* its barriers order tlogit too */
    if (threadIdx.x == 0)
        losses[n] = tg >= 0 ? lse - tlogit : 0.0f;
    for (int v = threadIdx.x; v < Vp; v += blockDim.x) {
        float g = 0;
        if (tg >= 0 && v < V) {
            g = expf(tof(l[v]) - lse);
            if (v == tg)
                g -= 1.0f;
            g *= dscale;
        }
        l[v] = fromf<T>(g);
    }
}

#define XENT_MAXT 704 /* threads a block at most (88 registers each) */

/* The same with the row in registers: read once in 16-byte packs (Vp a multiple of
 * 16 / sizeof(T), rows 16-byte aligned), thread t holding packs t, t + blockDim.x, ... (K at
 * most), then written once. Same arithmetic as crossentropy_k (max, then sum of exp). */
template <typename T, int K>
__global__ void __launch_bounds__(XENT_MAXT)
    crossentropy_vec_k(T *logits, float *losses, const int *targets, int V, int Vp, float dscale)
{
    constexpr int VW = 16 / sizeof(T);
    __shared__ float red[32];
    __shared__ float tlogit;
    int n = blockIdx.x, tg = targets[n], nch = Vp / VW;
    T *l = logits + (size_t)n * Vp;
    if (threadIdx.x == 0)
        tlogit = tg >= 0 ? tof(l[tg]) : 0.0f; /* read before the row is overwritten below */
    Pack<T> p[K];
    float mx = -INFINITY;
#pragma unroll
    for (int k = 0; k < K; k++) {
        int ch = threadIdx.x + k * blockDim.x;
        if (ch < nch)
            p[k] = ld16(l + (size_t)ch * VW);
    }
#pragma unroll
    for (int k = 0; k < K; k++) {
        int ch = threadIdx.x + k * blockDim.x;
        if (ch < nch) {
#pragma unroll
            for (int j = 0; j < VW; j++)
                if (ch * VW + j < V)
                    mx = fmaxf(mx, tof_fresh(p[k].v[j]));
        }
    }
    mx = block_reduce(mx, red, true);
    float s = 0;
#pragma unroll
    for (int k = 0; k < K; k++) {
        int ch = threadIdx.x + k * blockDim.x;
        if (ch < nch) {
#pragma unroll
            for (int j = 0; j < VW; j++)
                if (ch * VW + j < V)
                    s += expf(tof_fresh(p[k].v[j]) - mx);
        }
    }
    float lse = mx + logf(block_reduce(s, red, false)); /* its barriers order tlogit too */
    if (threadIdx.x == 0)
        losses[n] = tg >= 0 ? lse - tlogit : 0.0f;
#pragma unroll
    for (int k = 0; k < K; k++) {
        int ch = threadIdx.x + k * blockDim.x;
        if (ch < nch) {
#pragma unroll
            for (int j = 0; j < VW; j++) {
                int v = ch * VW + j;
                float g = 0;
                if (tg >= 0 && v < V) {
                    g = expf(tof_fresh(p[k].v[j]) - lse);
                    if (v == tg)
                        g -= 1.0f;
                    g *= dscale;
                }
                p[k].v[j] = fromf<T>(g);
            }
            st16(l + (size_t)ch * VW, p[k]);
        }
    }
}

template <typename T>
void k_crossentropy(cudaStream_t st, T *logits, float *losses, const int *targets, int N, int V,
                    int Vp, float dscale)
{
    const int VW = 16 / sizeof(T);
    int nch = Vp / VW, K = nch > 0 ? (int)cdiv((size_t)nch, XENT_MAXT) : 1;
    /* the fewest threads (a multiple of 32) that hold the row in K packs each */
    unsigned bs = 32 * cdiv(cdiv((size_t)nch, (size_t)K), 32), g = (unsigned)N;
#define XENT_VEC(KK)                                                                               \
    case KK:                                                                                       \
        crossentropy_vec_k<T, KK><<<g, bs, 0, st>>>(logits, losses, targets, V, Vp, dscale);       \
        return;
    if (nch > 0 && Vp % VW == 0 && al16(logits) && K <= 16) {
        switch (K) {
            XENT_VEC(1)
            XENT_VEC(2)
            XENT_VEC(3)
            XENT_VEC(4)
            XENT_VEC(5)
            XENT_VEC(6)
            XENT_VEC(7)
            XENT_VEC(8)
            XENT_VEC(9)
            XENT_VEC(10)
            XENT_VEC(11)
            XENT_VEC(12)
            XENT_VEC(13)
            XENT_VEC(14)
            XENT_VEC(15)
            XENT_VEC(16)
        }
    }
#undef XENT_VEC
    bs = V >= 4096 ? 512 : 128;
    crossentropy_k<T><<<g, bs, 0, st>>>(logits, losses, targets, V, Vp, dscale);
}

__global__ void seq_sums_k(double *seqsum, const float *losses, int Tn)
{
    __shared__ double sh[256];
    int b = blockIdx.x;
    double s = 0;
    for (int t = threadIdx.x; t < Tn; t += 256)
        s += losses[(size_t)b * Tn + t];
    sh[threadIdx.x] = s;
    __syncthreads();
    for (int w = 128; w > 0; w >>= 1) {
        if (threadIdx.x < w)
            sh[threadIdx.x] += sh[threadIdx.x + w];
        __syncthreads();
    }
    if (threadIdx.x == 0)
        seqsum[b] = sh[0];
}

void k_seq_sums(cudaStream_t st, double *seqsum, const float *losses, int B, int Tn)
{
    seq_sums_k<<<(unsigned)B, 256, 0, st>>>(seqsum, losses, Tn);
}

__global__ void to_bf16_k(bf16 *dst, const float *src, size_t n)
{
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x)
        dst[i] = __float2bfloat16(src[i]);
}

void k_to_bf16(cudaStream_t st, bf16 *dst, const float *src, size_t n)
{
    unsigned blocks = cdiv(n, 256);
    blocks = blocks < 65536 ? blocks : 65536;
    to_bf16_k<<<blocks, 256, 0, st>>>(dst, src, n);
}

#define INSTANTIATE(T)                                                                             \
    template void k_encoder_forward<T>(cudaStream_t, T *, const int *, const float *,              \
                                       const float *, int, int, int);                              \
    template void k_encoder_backward<T>(cudaStream_t, float *, float *, const T *, const int *,    \
                                        const int *, const int *, int, int, int, int, int, int);   \
    template void k_layernorm_forward<T>(cudaStream_t, T *, float *, float *, const T *,           \
                                         const float *, const float *, int, int);                  \
    template void k_layernorm_backward<T>(cudaStream_t, T *, float *, float *, float *, const T *, \
                                          const T *, const float *, const float *, const float *,  \
                                          int, int, int);                                          \
    template void k_bias_backward<T>(cudaStream_t, float *, float *, const T *, int, int, int);    \
    template void k_bias_fill<T>(cudaStream_t, T *, const T *, const T *, int, int);               \
    template void k_gelu_forward<T>(cudaStream_t, T *, const T *, size_t);                         \
    template void k_gelu_backward<T>(cudaStream_t, T *, const T *, const T *, size_t);             \
    template void k_crossentropy<T>(cudaStream_t, T *, float *, const int *, int, int, int, float);

INSTANTIATE(float)
INSTANTIATE(bf16)
