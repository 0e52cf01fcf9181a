/* src/cuda/common.cuh - what every CUDA source of bmx shares: the element types, float
 * conversions, and the error check that turns a CUDA status into a bmx_err. */
#ifndef BMX_CUDA_COMMON_CUH
#define BMX_CUDA_COMMON_CUH

#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <stddef.h>

#include "bmx/core.h"

typedef __nv_bfloat16 bf16;

__device__ __forceinline__ float tof(float x)
{
    return x;
}
__device__ __forceinline__ float tof(bf16 x)
{
    return __bfloat162float(x);
}
template <typename T> __device__ __forceinline__ T fromf(float x);
template <> __device__ __forceinline__ float fromf<float>(float x)
{
    return x;
}
template <> __device__ __forceinline__ bf16 fromf<bf16>(float x)
{
    return __float2bfloat16(x); /* round to nearest even */
}

static inline unsigned cdiv(size_t a, size_t b)
{
    return (unsigned)((a + b - 1) / b);
}

/* BMX_ESTATE with "what: CUDA's message" unless st is cudaSuccess. */
static inline int cuda_status(cudaError_t st, const char *what, bmx_err *err)
{
    if (st == cudaSuccess)
        return BMX_OK;
    return bmx_err_set(err, st == cudaErrorMemoryAllocation ? BMX_ENOMEM : BMX_ESTATE,
                       "CUDA error in %s: %s (%s)", what, cudaGetErrorString(st),
                       cudaGetErrorName(st));
}

/* The status of the kernel launches since the last check (launch errors only: no sync). */
static inline int cuda_launched(const char *what, bmx_err *err)
{
    return cuda_status(cudaGetLastError(), what, err);
}

#endif
