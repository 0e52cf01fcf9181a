/* tests/cuda_emu: cublasGemmEx on the host (through the emulated cublasLtMatmul). */
#pragma once
#include "cublasLt.h"
typedef void *cublasHandle_t;
typedef int cublasGemmAlgo_t;
enum { CUBLAS_GEMM_DEFAULT = -1 };
inline int emu_gemmex_calls = 0;
inline cublasStatus_t cublasCreate(cublasHandle_t *h)
{
    *h = (void *)1;
    return 0;
}
inline cublasStatus_t cublasDestroy(cublasHandle_t)
{
    return 0;
}
inline cublasStatus_t cublasSetStream(cublasHandle_t, cudaStream_t)
{
    return 0;
}
inline cublasStatus_t cublasGemmEx(cublasHandle_t, cublasOperation_t ta, cublasOperation_t tb,
                                   int M, int N, int K, const void *alpha, const void *A, int at,
                                   int lda, const void *B, int bt, int ldb, const void *beta,
                                   void *C, int ct, int ldc, int comp, cublasGemmAlgo_t)
{
    emu_gemmex_calls++;
    if (comp != CUBLAS_COMPUTE_32F || at != bt)
        return 7;
    emu_desc d{ta, tb, CUBLASLT_EPILOGUE_DEFAULT, nullptr};
    emu_layout la{at, (uint64_t)(ta ? K : M), (uint64_t)(ta ? M : K), lda},
        lb{bt, (uint64_t)(tb ? N : K), (uint64_t)(tb ? K : N), ldb},
        lc{ct, (uint64_t)M, (uint64_t)N, ldc};
    return cublasLtMatmul(nullptr, &d, alpha, A, &la, B, &lb, beta, C, &lc, C, &lc, nullptr,
                          nullptr, 0, nullptr);
}
