/* tests/cuda_emu: cuBLASLt on the host: column-major D = alpha op(A) op(B) + beta C (+ bias
 * per row of D), shapes checked against the layouts; the heuristic always finds one (unless
 * emu_lt_refuse_mixed and the A and C types differ). */
#pragma once
#include "cuda_runtime.h"
#include "cuda_bf16.h"
typedef int cublasStatus_t;
enum { CUBLAS_STATUS_SUCCESS = 0, CUBLAS_STATUS_EXECUTION_FAILED = 13 };
typedef int cudaDataType_t;
enum { CUDA_R_32F = 0, CUDA_R_16BF = 14 };
typedef int cublasOperation_t;
enum { CUBLAS_OP_N = 0, CUBLAS_OP_T = 1 };
typedef int cublasComputeType_t;
enum { CUBLAS_COMPUTE_32F = 68 };
typedef unsigned cublasLtEpilogue_t;
enum { CUBLASLT_EPILOGUE_DEFAULT = 1, CUBLASLT_EPILOGUE_BIAS = 4 };
enum {
    CUBLASLT_MATMUL_DESC_TRANSA,
    CUBLASLT_MATMUL_DESC_TRANSB,
    CUBLASLT_MATMUL_DESC_EPILOGUE,
    CUBLASLT_MATMUL_DESC_BIAS_POINTER
};
enum {
    CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
    CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES,
    CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES,
    CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES,
    CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES
};
struct emu_desc {
    int ta, tb;
    unsigned epi;
    const void *bias;
};
struct emu_layout {
    int type;
    uint64_t rows, cols;
    int64_t ld;
};
typedef emu_desc *cublasLtMatmulDesc_t;
typedef emu_layout *cublasLtMatrixLayout_t;
typedef void *cublasLtMatmulPreference_t;
typedef void *cublasLtHandle_t;
struct cublasLtMatmulAlgo_t {
    int x;
};
struct cublasLtMatmulHeuristicResult_t {
    cublasLtMatmulAlgo_t algo;
};
inline const char *cublasGetStatusString(cublasStatus_t)
{
    return "emu";
}
inline cublasStatus_t cublasLtCreate(cublasLtHandle_t *h)
{
    *h = (void *)1;
    return 0;
}
inline cublasStatus_t cublasLtDestroy(cublasLtHandle_t)
{
    return 0;
}
inline cublasStatus_t cublasLtMatmulDescCreate(cublasLtMatmulDesc_t *d, int ct, int st)
{
    if (ct != CUBLAS_COMPUTE_32F || st != CUDA_R_32F)
        return 7;
    *d = new emu_desc{0, 0, CUBLASLT_EPILOGUE_DEFAULT, nullptr};
    return 0;
}
inline cublasStatus_t cublasLtMatmulDescDestroy(cublasLtMatmulDesc_t d)
{
    delete d;
    return 0;
}
inline cublasStatus_t cublasLtMatmulDescSetAttribute(cublasLtMatmulDesc_t d, int a, const void *v,
                                                     size_t n)
{
    if (a == CUBLASLT_MATMUL_DESC_TRANSA) {
        if (n != 4)
            return 7;
        d->ta = *(const int *)v;
    } else if (a == CUBLASLT_MATMUL_DESC_TRANSB) {
        if (n != 4)
            return 7;
        d->tb = *(const int *)v;
    } else if (a == CUBLASLT_MATMUL_DESC_EPILOGUE) {
        if (n != 4)
            return 7;
        d->epi = *(const unsigned *)v;
    } else if (a == CUBLASLT_MATMUL_DESC_BIAS_POINTER) {
        if (n != 8)
            return 7;
        d->bias = *(const void *const *)v;
    }
    return 0;
}
inline cublasStatus_t cublasLtMatrixLayoutCreate(cublasLtMatrixLayout_t *l, int t, uint64_t r,
                                                 uint64_t c, int64_t ld)
{
    if (ld < (int64_t)r)
        return 7;
    *l = new emu_layout{t, r, c, ld};
    return 0;
}
inline cublasStatus_t cublasLtMatrixLayoutDestroy(cublasLtMatrixLayout_t l)
{
    delete l;
    return 0;
}
inline cublasStatus_t cublasLtMatmulPreferenceCreate(cublasLtMatmulPreference_t *p)
{
    *p = (void *)1;
    return 0;
}
inline cublasStatus_t cublasLtMatmulPreferenceDestroy(cublasLtMatmulPreference_t)
{
    return 0;
}
inline cublasStatus_t cublasLtMatmulPreferenceSetAttribute(cublasLtMatmulPreference_t, int a,
                                                           const void *, size_t n)
{
    if (a == CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES ? n != 8 : n != 4)
        return 7;
    return 0;
}
inline int emu_lt_refuse_mixed = 0;
inline cublasStatus_t
cublasLtMatmulAlgoGetHeuristic(cublasLtHandle_t, cublasLtMatmulDesc_t, cublasLtMatrixLayout_t la,
                               cublasLtMatrixLayout_t, cublasLtMatrixLayout_t lc,
                               cublasLtMatrixLayout_t, cublasLtMatmulPreference_t, int,
                               cublasLtMatmulHeuristicResult_t *r, int *found)
{
    r->algo.x = 0;
    *found = !(emu_lt_refuse_mixed && la->type != lc->type);
    return 0;
}
inline float emu_get(const void *p, int t, size_t i)
{
    return t == CUDA_R_32F ? ((const float *)p)[i]
                           : __bfloat162float(((const __nv_bfloat16 *)p)[i]);
}
inline void emu_put(void *p, int t, size_t i, float v)
{
    if (t == CUDA_R_32F)
        ((float *)p)[i] = v;
    else
        ((__nv_bfloat16 *)p)[i] = __float2bfloat16(v);
}
inline cublasStatus_t cublasLtMatmul(cublasLtHandle_t, cublasLtMatmulDesc_t d, const void *alpha,
                                     const void *A, cublasLtMatrixLayout_t la, const void *B,
                                     cublasLtMatrixLayout_t lb, const void *beta, const void *C,
                                     cublasLtMatrixLayout_t lc, void *D, cublasLtMatrixLayout_t ld,
                                     const cublasLtMatmulAlgo_t *, void *, size_t, cudaStream_t)
{
    uint64_t M = ld->rows, N = ld->cols, K = d->ta ? la->rows : la->cols;
    if ((d->ta ? la->cols : la->rows) != M || (d->tb ? lb->rows : lb->cols) != N ||
        (d->tb ? lb->cols : lb->rows) != K)
        return 7;
    if (lc->rows != M || lc->cols != N || la->type != lb->type || lc->type != ld->type)
        return 7;
    float al = *(const float *)alpha, be = *(const float *)beta;
    std::vector<float> out(M * N);
    for (uint64_t j = 0; j < N; j++)
        for (uint64_t i = 0; i < M; i++) {
            double s = 0;
            for (uint64_t k = 0; k < K; k++) {
                float a = d->ta ? emu_get(A, la->type, k + i * la->ld)
                                : emu_get(A, la->type, i + k * la->ld);
                float b = d->tb ? emu_get(B, lb->type, j + k * lb->ld)
                                : emu_get(B, lb->type, k + j * lb->ld);
                s += (double)a * b;
            }
            float v = al * (float)s;
            if (be != 0)
                v += be * emu_get(C, lc->type, i + j * lc->ld);
            if (d->epi == CUBLASLT_EPILOGUE_BIAS)
                v += emu_get(d->bias, ld->type, i);
            out[i + j * M] = v;
        }
    for (uint64_t j = 0; j < N; j++)
        for (uint64_t i = 0; i < M; i++)
            emu_put(D, ld->type, i + j * ld->ld, out[i + j * M]);
    return 0;
}
