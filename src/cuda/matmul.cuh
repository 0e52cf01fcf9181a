/* src/cuda/matmul.cuh - matrix products through cuBLASLt, in row-major terms.
 *
 * Linear layers keep their weights [OC][C] (out = inp * W^T + bias), as bmx/kernels.h.
 * Products accumulate in fp32 (CUBLAS_COMPUTE_32F: no TF32) for both element types; fp32
 * products are therefore plain IEEE float GEMMs. The weight gradient may be fp32 while the
 * inputs are bf16 (mixed precision keeps fp32 gradients). A product cuBLASLt finds no
 * algorithm for goes to cublasGemmEx (same types, same compute type, default math: no TF32).
 */
#ifndef BMX_CUDA_MATMUL_CUH
#define BMX_CUDA_MATMUL_CUH

#include <cublasLt.h>
#include <cublas_v2.h>

#include "common.cuh"

struct bmx_lt {
    cublasLtHandle_t h;
    cublasHandle_t blas; /* cublasGemmEx, for products cuBLASLt has no algorithm for */
    cudaStream_t st;
    void *ws;
    size_t ws_size;
};

/* Element type of an activation: CUDA_R_32F or CUDA_R_16BF. */
typedef cudaDataType_t bmx_dt;

/* out[N][OC] = (resid ? resid : 0) + inp[N][C] * w[OC][C]^T + (bias ? bias : 0); out, resid,
 * inp, w and bias of type t. resid may be out itself. */
int lt_linear_forward(struct bmx_lt *lt, bmx_dt t, void *out, const void *inp, const void *w,
                      const void *bias, const void *resid, int N, int C, int OC, bmx_err *err);

/* dinp[N][C] = alpha * dout[N][OC] * w[OC][C] (type t; skipped when dinp is NULL);
 * dw[OC][C] (fp32) = alpha * dout^T inp (+ dw when acc). */
int lt_linear_backward(struct bmx_lt *lt, bmx_dt t, void *dinp, float *dw, const void *dout,
                       const void *inp, const void *w, int N, int C, int OC, float alpha, int acc,
                       bmx_err *err);

#endif
