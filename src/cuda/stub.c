/* src/cuda/stub.c - bmx/cuda.h in a build without CUDA: every call says so and how to fix it.
 *
 * Compiled always; a CUDA build defines BMX_WITH_CUDA and takes the functions from
 * the .cu files of src/cuda instead.
 */
#ifndef BMX_WITH_CUDA

#include "bmx/backend.h"
#include "bmx/cuda.h"

#include "cuda_int.h"

static int no_cuda(bmx_err *err)
{
    return bmx_err_set(err, BMX_ESTATE,
                       "bmx was built without CUDA, so it cannot use a GPU: rebuild it with "
                       "`make CUDA=1` on a machine with the CUDA toolkit (nvcc, cuBLASLt)");
}

int bmx_cuda_built(void)
{
    return 0;
}

int bmx_cuda_available(bmx_err *err)
{
    return no_cuda(err);
}

size_t bmx_cuda_model_bytes(const bmx_gpt_config *cfg, int prec, int B, int T)
{
    (void)cfg, (void)prec, (void)B, (void)T;
    return 0;
}

int bmx_cuda_model_create(const bmx_gpt_config *cfg, int prec, int device, int B, int T,
                          bmx_cuda_model **out, bmx_err *err)
{
    (void)cfg, (void)prec, (void)device, (void)B, (void)T;
    if (out)
        *out = NULL;
    return no_cuda(err);
}

void bmx_cuda_model_free(bmx_cuda_model *m)
{
    (void)m;
}

const bmx_gpt_config *bmx_cuda_model_config(const bmx_cuda_model *m)
{
    (void)m;
    return NULL;
}

size_t bmx_cuda_model_num_params(const bmx_cuda_model *m)
{
    (void)m;
    return 0;
}

int bmx_cuda_model_set_params(bmx_cuda_model *m, const float *host, bmx_err *err)
{
    (void)m, (void)host;
    return no_cuda(err);
}

int bmx_cuda_model_get_params(bmx_cuda_model *m, float *host, bmx_err *err)
{
    (void)m, (void)host;
    return no_cuda(err);
}

int bmx_cuda_model_get_grads(bmx_cuda_model *m, float *host, bmx_err *err)
{
    (void)m, (void)host;
    return no_cuda(err);
}

float *bmx_cuda_model_params_dev(bmx_cuda_model *m)
{
    (void)m;
    return NULL;
}

float *bmx_cuda_model_grads_dev(bmx_cuda_model *m)
{
    (void)m;
    return NULL;
}

int bmx_cuda_model_forward(bmx_cuda_model *m, const int *inputs, const int *targets, int B, int T,
                           double *loss, double *seq_loss, double *tok_loss, bmx_err *err)
{
    (void)m, (void)inputs, (void)targets, (void)B, (void)T, (void)loss, (void)seq_loss,
        (void)tok_loss;
    return no_cuda(err);
}

int bmx_cuda_model_backward(bmx_cuda_model *m, double scale, int acc, bmx_err *err)
{
    (void)m, (void)scale, (void)acc;
    return no_cuda(err);
}

int bmx_cuda_model_params_changed(bmx_cuda_model *m, bmx_err *err)
{
    (void)m;
    return no_cuda(err);
}

void *bmx_cuda_model_stream(bmx_cuda_model *m)
{
    (void)m;
    return NULL;
}

int bmx_cuda_model_device(const bmx_cuda_model *m)
{
    (void)m;
    return -1;
}

/* the CUDA backend of bmx/backend.h */
int bmx_backend_cuda(bmx_trainer *t, int precision, int device, int B, int T, bmx_backend **out,
                     bmx_err *err)
{
    return bmx_err_set(err, BMX_ESTATE,
                       "--device cuda: this bmx was built without CUDA; rebuild it with "
                       "'make CUDA=1' on a machine with the CUDA toolkit (nvcc), or use "
                       "--device cpu");
}

#else

typedef int bmx_cuda_stub_unused; /* ISO C wants something in a translation unit */

#endif
