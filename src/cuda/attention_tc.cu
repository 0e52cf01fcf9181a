/* src/cuda/attention_tc.cu - causal attention on the tensor cores (bf16, head size 64), flash
 * style as attention.cu (same formulas, same lse and dd, no T x T matrix in memory).
 *
 * Blocks of 4 warps; each warp owns 16 rows (queries in the forward and dq kernels, keys in
 * the dk/dv kernel), the other operand streams through shared memory in tiles. Products are
 * 16x16x16 WMMA bf16 products accumulated in fp32; a warp's scores go through shared memory
 * (fp32), where its lanes (two per row, half a tile each) apply the mask, the online softmax
 * and the backward's dS = P (dP - dd) scale, writing bf16 operands for the next product.
 * Each kernel owns what it writes: no atomics; the same inputs give the same bits.
 * Rows past T act as row T - 1 (finite, never stored); keys past T are masked.
 */
#include <mma.h>

#include "kernels.cuh"

using namespace nvcuda;

#define HS  64 /* head size of this path */
#define LDB 72 /* bf16 row stride of the shared 64-wide tiles (16-byte rows, banks shifted) */
#define BQ  64 /* rows per block: 4 warps x 16 */

typedef wmma::fragment<wmma::matrix_a, 16, 16, 16, bf16, wmma::row_major> frag_a;
typedef wmma::fragment<wmma::matrix_b, 16, 16, 16, bf16, wmma::row_major> frag_b;
typedef wmma::fragment<wmma::matrix_b, 16, 16, 16, bf16, wmma::col_major> frag_bt; /* rows^T */
typedef wmma::fragment<wmma::accumulator, 16, 16, 16, float> frag_c;

/* Rows r0 .. r0 + n - 1 (zeros past T) of a head's 64 channels, src the head's row 0 with row
 * stride ld elements, into dst[n][LDB]; 16-byte copies by the whole block. */
__device__ __forceinline__ void load_rows(bf16 *dst, const bf16 *src, size_t ld, int r0, int n,
                                          int Tn)
{
    for (int i = threadIdx.x; i < n * 8; i += blockDim.x) {
        int r = i / 8, c = i % 8 * 8, t = r0 + r;
        uint4 v = make_uint4(0, 0, 0, 0);
        if (t < Tn)
            v = *(const uint4 *)(src + (size_t)t * ld + c);
        *(uint4 *)(dst + r * LDB + c) = v;
    }
}

__global__ void __launch_bounds__(128)
    attn_tc_forward_k(bf16 *out, float *lse, const bf16 *qkv, int Tn, int C, int H, float scale)
{
    __shared__ __align__(32) bf16 Ks[64][LDB];
    __shared__ __align__(32) bf16 Vs[64][LDB];
    __shared__ __align__(32) bf16 Ps[BQ][LDB];
    __shared__ __align__(32) float Ss[BQ][68];
    int bh = blockIdx.y, b = bh / H, h = bh % H, C3 = 3 * C;
    int w = threadIdx.x / 32, lane = threadIdx.x % 32, r = lane / 2, half = lane % 2;
    int t0 = blockIdx.x * BQ, tw = t0 + 16 * w, t = tw + r, tq = min(t, Tn - 1);
    const bf16 *base = qkv + (size_t)b * Tn * C3 + (size_t)h * HS;
    float *S = &Ss[16 * w][0], *srow = S + r * 68 + half * 32;
    bf16 *P = &Ps[16 * w][0];
    /* in the tile loop the two lanes of a row take alternate columns (fewer bank conflicts) */
    float *sx = S + r * 68 + half;
    bf16 *px = P + r * LDB + half;
    load_rows(&Ps[0][0], base, C3, t0, BQ, Tn); /* the block's queries, staged through Ps */
    __syncthreads();
    frag_a qf[4];
    frag_c of[4];
    for (int k = 0; k < 4; k++) {
        wmma::load_matrix_sync(qf[k], P + 16 * k, LDB);
        wmma::fill_fragment(of[k], 0.0f);
    }
    float m = -INFINITY, l = 0;
    int kend = min(Tn, t0 + BQ);
    for (int u0 = 0; u0 < kend; u0 += 64) {
        __syncthreads(); /* Ks, Vs (and the staged queries) no longer read */
        load_rows(&Ks[0][0], base + C, C3, u0, 64, Tn);
        load_rows(&Vs[0][0], base + 2 * C, C3, u0, 64, Tn);
        __syncthreads();
        if (u0 > tw + 15)
            continue;                 /* every key of the tile comes after the warp's rows */
        for (int n = 0; n < 4; n++) { /* S = Q K^T, 16 keys at a time */
            frag_c sf;
            wmma::fill_fragment(sf, 0.0f);
            for (int k = 0; k < 4; k++) {
                frag_bt kf;
                wmma::load_matrix_sync(kf, &Ks[16 * n][16 * k], LDB);
                wmma::mma_sync(sf, qf[k], kf, sf);
            }
            wmma::store_matrix_sync(S + 16 * n, sf, 68, wmma::mem_row_major);
        }
        __syncwarp();
        float mx = -INFINITY;
        for (int j = 0; j < 32; j++) {
            float s = u0 + 2 * j + half <= tq ? sx[2 * j] * scale : -INFINITY;
            sx[2 * j] = s;
            mx = fmaxf(mx, s);
        }
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
        float mn = fmaxf(m, mx); /* finite: key 0 is in the first tile */
        float corr = expf(m - mn), rs = 0;
        for (int j = 0; j < 32; j++) {
            float p = expf(sx[2 * j] - mn);
            rs += p;
            px[2 * j] = __float2bfloat16(p);
        }
        rs += __shfl_xor_sync(0xffffffffu, rs, 1);
        l = l * corr + rs;
        m = mn;
        __syncwarp(); /* S read: it now takes O, rescaled row by row */
        for (int n = 0; n < 4; n++)
            wmma::store_matrix_sync(S + 16 * n, of[n], 68, wmma::mem_row_major);
        __syncwarp();
        for (int j = 0; j < 32; j++)
            sx[2 * j] *= corr;
        __syncwarp();
        frag_a pf[4];
        for (int k = 0; k < 4; k++) {
            wmma::load_matrix_sync(of[k], S + 16 * k, 68, wmma::mem_row_major);
            wmma::load_matrix_sync(pf[k], P + 16 * k, LDB);
        }
        for (int n = 0; n < 4; n++) /* O += P V */
            for (int k = 0; k < 4; k++) {
                frag_b vf;
                wmma::load_matrix_sync(vf, &Vs[16 * k][16 * n], LDB);
                wmma::mma_sync(of[n], pf[k], vf, of[n]);
            }
        __syncwarp();
    }
    for (int n = 0; n < 4; n++)
        wmma::store_matrix_sync(S + 16 * n, of[n], 68, wmma::mem_row_major);
    __syncwarp();
    if (t >= Tn)
        return;
    float inv = 1.0f / l;
    bf16 *o = out + ((size_t)b * Tn + t) * C + (size_t)h * HS + half * 32;
    for (int j = 0; j < 32; j++)
        o[j] = __float2bfloat16(srow[j] * inv);
    if (half == 0)
        lse[(size_t)bh * Tn + t] = m + logf(l);
}

/* dq: a warp's 16 queries against key tiles of 32. */
__global__ void __launch_bounds__(128)
    attn_tc_dq_k(bf16 *dqkv, const bf16 *qkv, const bf16 *dout, const float *lse, const float *dd,
                 int Tn, int C, int H, float scale)
{
    __shared__ __align__(32) bf16 KV[2][32][LDB]; /* K, V tiles; first the staged Q and dO */
    __shared__ __align__(32) float SD[2][BQ][36]; /* S and dP; at the end the staged dq */
    __shared__ __align__(32) bf16 Ps[BQ][40];     /* dS */
    int bh = blockIdx.y, b = bh / H, h = bh % H, C3 = 3 * C;
    int w = threadIdx.x / 32, lane = threadIdx.x % 32, r = lane / 2, half = lane % 2;
    int t0 = blockIdx.x * BQ, tw = t0 + 16 * w, t = tw + r, tq = min(t, Tn - 1);
    const bf16 *base = qkv + (size_t)b * Tn * C3 + (size_t)h * HS;
    const bf16 *gbase = dout + (size_t)b * Tn * C + (size_t)h * HS;
    float L = lse[(size_t)bh * Tn + tq], Dt = dd[(size_t)bh * Tn + tq];
    float *S = &SD[0][16 * w][0], *Dp = &SD[1][16 * w][0];
    bf16 *P = &Ps[16 * w][0], *stage = &KV[0][0][0];
    frag_a qf[4], gf[4];
    load_rows(stage, base, C3, t0, BQ, Tn);
    __syncthreads();
    for (int k = 0; k < 4; k++)
        wmma::load_matrix_sync(qf[k], stage + 16 * w * LDB + 16 * k, LDB);
    __syncthreads();
    load_rows(stage, gbase, C, t0, BQ, Tn);
    __syncthreads();
    frag_c dqf[4];
    for (int k = 0; k < 4; k++) {
        wmma::load_matrix_sync(gf[k], stage + 16 * w * LDB + 16 * k, LDB);
        wmma::fill_fragment(dqf[k], 0.0f);
    }
    int kend = min(Tn, t0 + BQ);
    for (int u0 = 0; u0 < kend; u0 += 32) {
        __syncthreads();
        load_rows(&KV[0][0][0], base + C, C3, u0, 32, Tn);
        load_rows(&KV[1][0][0], base + 2 * C, C3, u0, 32, Tn);
        __syncthreads();
        if (u0 > tw + 15)
            continue;
        for (int n = 0; n < 2; n++) { /* S = Q K^T, dP = dO V^T, 16 keys at a time */
            frag_c sf, pf;
            wmma::fill_fragment(sf, 0.0f);
            wmma::fill_fragment(pf, 0.0f);
            for (int k = 0; k < 4; k++) {
                frag_bt kf, vf;
                wmma::load_matrix_sync(kf, &KV[0][16 * n][16 * k], LDB);
                wmma::mma_sync(sf, qf[k], kf, sf);
                wmma::load_matrix_sync(vf, &KV[1][16 * n][16 * k], LDB);
                wmma::mma_sync(pf, gf[k], vf, pf);
            }
            wmma::store_matrix_sync(S + 16 * n, sf, 36, wmma::mem_row_major);
            wmma::store_matrix_sync(Dp + 16 * n, pf, 36, wmma::mem_row_major);
        }
        __syncwarp();
        for (int j = 0; j < 16; j++) {
            int c = 2 * j + half;
            float p = u0 + c <= tq ? expf(S[r * 36 + c] * scale - L) : 0.0f;
            P[r * 40 + c] = __float2bfloat16(p * (Dp[r * 36 + c] - Dt) * scale);
        }
        __syncwarp();
        frag_a af[2];
        for (int k = 0; k < 2; k++)
            wmma::load_matrix_sync(af[k], P + 16 * k, 40);
        for (int n = 0; n < 4; n++) /* dQ += dS K */
            for (int k = 0; k < 2; k++) {
                frag_b kf;
                wmma::load_matrix_sync(kf, &KV[0][16 * k][16 * n], LDB);
                wmma::mma_sync(dqf[n], af[k], kf, dqf[n]);
            }
        __syncwarp();
    }
    __syncthreads(); /* every warp is done with SD: it now stages dq as [64][68] */
    float *F = &SD[0][0][0] + 16 * w * 68, *frow = F + r * 68 + half * 32;
    for (int n = 0; n < 4; n++)
        wmma::store_matrix_sync(F + 16 * n, dqf[n], 68, wmma::mem_row_major);
    __syncwarp();
    if (t >= Tn)
        return;
    bf16 *o = dqkv + ((size_t)b * Tn + t) * C3 + (size_t)h * HS + half * 32;
    for (int j = 0; j < 32; j++)
        o[j] = __float2bfloat16(frow[j]);
}

/* dk, dv: a warp's 16 keys against query tiles of 32 (queries t >= the block's first key). */
__global__ void __launch_bounds__(128)
    attn_tc_dkv_k(bf16 *dqkv, const bf16 *qkv, const bf16 *dout, const float *lse, const float *dd,
                  int Tn, int C, int H, float scale)
{
    __shared__ __align__(32) bf16 QG[2][32][LDB]; /* Q, dO tiles */
    __shared__ __align__(32) float SD[2][BQ][36]; /* S^T, dP^T; staging at start and end */
    __shared__ __align__(32) bf16 Ps[BQ][40];     /* P^T, then dS^T */
    __shared__ float Lq[32], Dq[32];
    int bh = blockIdx.y, b = bh / H, h = bh % H, C3 = 3 * C;
    int w = threadIdx.x / 32, lane = threadIdx.x % 32, r = lane / 2, half = lane % 2;
    int ub = blockIdx.x * BQ, uw = ub + 16 * w, u = uw + r;
    const bf16 *base = qkv + (size_t)b * Tn * C3 + (size_t)h * HS;
    const bf16 *gbase = dout + (size_t)b * Tn * C + (size_t)h * HS;
    float *S = &SD[0][16 * w][0], *Dp = &SD[1][16 * w][0];
    bf16 *P = &Ps[16 * w][0], *stage = (bf16 *)&SD[0][0][0];
    frag_a kf[4], vf[4];
    load_rows(stage, base + C, C3, ub, BQ, Tn);
    __syncthreads();
    for (int k = 0; k < 4; k++)
        wmma::load_matrix_sync(kf[k], stage + 16 * w * LDB + 16 * k, LDB);
    __syncthreads();
    load_rows(stage, base + 2 * C, C3, ub, BQ, Tn);
    __syncthreads();
    frag_c dkf[4], dvf[4];
    for (int k = 0; k < 4; k++) {
        wmma::load_matrix_sync(vf[k], stage + 16 * w * LDB + 16 * k, LDB);
        wmma::fill_fragment(dkf[k], 0.0f);
        wmma::fill_fragment(dvf[k], 0.0f);
    }
    for (int t0 = ub; t0 < Tn; t0 += 32) {
        __syncthreads(); /* QG, Lq, Dq (and the staged keys) no longer read */
        load_rows(&QG[0][0][0], base, C3, t0, 32, Tn);
        load_rows(&QG[1][0][0], gbase, C, t0, 32, Tn);
        for (int i = threadIdx.x; i < 32; i += blockDim.x) {
            int tt = t0 + i;
            Lq[i] = tt < Tn ? lse[(size_t)bh * Tn + tt] : 0.0f;
            Dq[i] = tt < Tn ? dd[(size_t)bh * Tn + tt] : 0.0f;
        }
        __syncthreads();
        if (t0 + 31 < uw)
            continue;                 /* every query of the tile comes before the warp's keys */
        for (int n = 0; n < 2; n++) { /* S^T = K Q^T, dP^T = V dO^T, 16 queries at a time */
            frag_c sf, pf;
            wmma::fill_fragment(sf, 0.0f);
            wmma::fill_fragment(pf, 0.0f);
            for (int k = 0; k < 4; k++) {
                frag_bt qb, gb;
                wmma::load_matrix_sync(qb, &QG[0][16 * n][16 * k], LDB);
                wmma::mma_sync(sf, kf[k], qb, sf);
                wmma::load_matrix_sync(gb, &QG[1][16 * n][16 * k], LDB);
                wmma::mma_sync(pf, vf[k], gb, pf);
            }
            wmma::store_matrix_sync(S + 16 * n, sf, 36, wmma::mem_row_major);
            wmma::store_matrix_sync(Dp + 16 * n, pf, 36, wmma::mem_row_major);
        }
        __syncwarp();
        for (int j = 0; j < 16; j++) {
            int c = 2 * j + half, tt = t0 + c;
            float p = tt >= u && tt < Tn ? expf(S[r * 36 + c] * scale - Lq[c]) : 0.0f;
            P[r * 40 + c] = __float2bfloat16(p);
            Dp[r * 36 + c] = p * (Dp[r * 36 + c] - Dq[c]) * scale;
        }
        __syncwarp();
        frag_a af[2];
        for (int k = 0; k < 2; k++)
            wmma::load_matrix_sync(af[k], P + 16 * k, 40);
        for (int n = 0; n < 4; n++) /* dV += P^T dO */
            for (int k = 0; k < 2; k++) {
                frag_b gm;
                wmma::load_matrix_sync(gm, &QG[1][16 * k][16 * n], LDB);
                wmma::mma_sync(dvf[n], af[k], gm, dvf[n]);
            }
        __syncwarp(); /* P^T read: it now takes dS^T */
        for (int j = 0; j < 16; j++) {
            int c = 2 * j + half;
            P[r * 40 + c] = __float2bfloat16(Dp[r * 36 + c]);
        }
        __syncwarp();
        for (int k = 0; k < 2; k++)
            wmma::load_matrix_sync(af[k], P + 16 * k, 40);
        for (int n = 0; n < 4; n++) /* dK += dS^T Q */
            for (int k = 0; k < 2; k++) {
                frag_b qm;
                wmma::load_matrix_sync(qm, &QG[0][16 * k][16 * n], LDB);
                wmma::mma_sync(dkf[n], af[k], qm, dkf[n]);
            }
        __syncwarp();
    }
    __syncthreads(); /* every warp is done with SD: it now stages dk, dv as [64][68] */
    float *F = &SD[0][0][0] + 16 * w * 68, *frow = F + r * 68 + half * 32;
    bf16 *o = dqkv + ((size_t)b * Tn + u) * C3 + (size_t)h * HS + half * 32;
    for (int n = 0; n < 4; n++)
        wmma::store_matrix_sync(F + 16 * n, dkf[n], 68, wmma::mem_row_major);
    __syncwarp();
    if (u < Tn)
        for (int j = 0; j < 32; j++)
            o[C + j] = __float2bfloat16(frow[j]);
    __syncwarp();
    for (int n = 0; n < 4; n++)
        wmma::store_matrix_sync(F + 16 * n, dvf[n], 68, wmma::mem_row_major);
    __syncwarp();
    if (u < Tn)
        for (int j = 0; j < 32; j++)
            o[2 * C + j] = __float2bfloat16(frow[j]);
}

int k_attention_tc(int C, int H)
{
    return C / H == HS && C % 8 == 0;
}

void k_attention_tc_forward(cudaStream_t st, bf16 *out, float *lse, const bf16 *qkv, int B, int Tn,
                            int C, int H, float scale)
{
    dim3 grid(cdiv(Tn, BQ), (unsigned)(B * H));
    attn_tc_forward_k<<<grid, 128, 0, st>>>(out, lse, qkv, Tn, C, H, scale);
}

void k_attention_tc_backward(cudaStream_t st, bf16 *dqkv, const float *dd, const bf16 *dout,
                             const bf16 *qkv, const float *lse, int B, int Tn, int C, int H,
                             float scale)
{
    dim3 grid(cdiv(Tn, BQ), (unsigned)(B * H));
    attn_tc_dq_k<<<grid, 128, 0, st>>>(dqkv, qkv, dout, lse, dd, Tn, C, H, scale);
    attn_tc_dkv_k<<<grid, 128, 0, st>>>(dqkv, qkv, dout, lse, dd, Tn, C, H, scale);
}
