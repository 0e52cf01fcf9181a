/* tests/cuda_emu: WMMA on the host: every lane holds the whole 16x16 tile (results are the
 * same in all lanes); loads and stores wait for the whole warp first, each lane stores its
 * share; the pointer and ldm rules of the real API are checked. */
#pragma once
#include <cassert>
#include <cstdio>
#include <cstdlib>
#include "cuda_bf16.h"
#include "cuda_runtime.h"
namespace nvcuda
{
namespace wmma
{
struct matrix_a {
};
struct matrix_b {
};
struct accumulator {
};
struct row_major {
};
struct col_major {
};
enum layout_t { mem_row_major, mem_col_major };
template <typename Use, int M, int N, int K, typename T, typename L = void> struct fragment {
    float v[16][16];
};
inline float wv(float x)
{
    return x;
}
inline float wv(__nv_bfloat16 x)
{
    return __bfloat162float(x);
}
inline void chk(const void *p, unsigned ldm, size_t esz)
{
    if ((uintptr_t)p % 32 || (ldm * esz) % 16) {
        fprintf(stderr, "wmma: misaligned pointer %p or ldm %u\n", p, ldm);
        abort();
    }
}
template <typename Use, typename T, typename L, typename S>
void load_matrix_sync(fragment<Use, 16, 16, 16, T, L> &f, const S *p, unsigned ldm)
{
    chk(p, ldm, sizeof(S));
    __syncwarp(); /* all lanes arrive first */
    bool rm = std::is_same<L, row_major>::value;
    for (int i = 0; i < 16; i++)
        for (int j = 0; j < 16; j++)
            f.v[i][j] = wv(rm ? p[i * ldm + j] : p[i + j * ldm]);
}
inline void load_matrix_sync(fragment<accumulator, 16, 16, 16, float> &f, const float *p,
                             unsigned ldm, layout_t l)
{
    chk(p, ldm, 4);
    __syncwarp();
    for (int i = 0; i < 16; i++)
        for (int j = 0; j < 16; j++)
            f.v[i][j] = l == mem_row_major ? p[i * ldm + j] : p[i + j * ldm];
}
inline void store_matrix_sync(float *p, const fragment<accumulator, 16, 16, 16, float> &f,
                              unsigned ldm, layout_t l)
{
    chk(p, ldm, 4);
    __syncwarp(); /* all lanes arrive first; then each stores its share, no barrier after */
    int lane = threadIdx.x % 32;
    for (int i = 0; i < 16; i++)
        for (int j = 0; j < 16; j++)
            if ((i * 16 + j) % 32 == lane)
                (l == mem_row_major ? p[i * ldm + j] : p[i + j * ldm]) = f.v[i][j];
}
template <typename F> void fill_fragment(F &f, float x)
{
    for (auto &r : f.v)
        for (auto &e : r)
            e = x;
}
template <typename A, typename B>
void mma_sync(fragment<accumulator, 16, 16, 16, float> &d, const A &a, const B &b,
              const fragment<accumulator, 16, 16, 16, float> &c)
{
    float out[16][16];
    for (int i = 0; i < 16; i++)
        for (int j = 0; j < 16; j++) {
            float s = c.v[i][j];
            for (int k = 0; k < 16; k++)
                s += a.v[i][k] * b.v[k][j];
            out[i][j] = s;
        }
    memcpy(d.v, out, sizeof out);
}
} // namespace wmma
} // namespace nvcuda
