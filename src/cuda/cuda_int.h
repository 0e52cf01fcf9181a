/* src/cuda/cuda_int.h - what the CUDA trainer (src/train) needs of the GPU model beyond
 * bmx/cuda.h. Plain C: no CUDA header needed to include it. Every function exists in the
 * build without CUDA too (src/cuda/stub.c), where it fails with BMX_ESTATE / returns NULL.
 */
#ifndef BMX_CUDA_INT_H
#define BMX_CUDA_INT_H

#include "bmx/cuda.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The parameters changed on the device (the optimizer wrote bmx_cuda_model_params_dev):
 * refresh what is derived from them (the bf16 copy of BMX_CUDA_BF16; nothing in fp32).
 * Enqueued on the model's stream; call it after every optimizer step, before the next
 * forward. */
int bmx_cuda_model_params_changed(bmx_cuda_model *m, bmx_err *err);

/* The cudaStream_t every kernel and copy of the model runs on (a stream created with
 * cudaStreamCreate, so it also orders itself with the legacy default stream). Kernels the
 * trainer enqueues on it run in order with the model's. NULL without CUDA. */
void *bmx_cuda_model_stream(bmx_cuda_model *m);

/* The device the model lives on (-1 without CUDA). */
int bmx_cuda_model_device(const bmx_cuda_model *m);

#ifdef __cplusplus
}
#endif

#endif
