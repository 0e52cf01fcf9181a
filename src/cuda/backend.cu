/* src/cuda/backend.cu - the CUDA trainer backend (bmx/backend.h): bmx_cuda_model for
 * forward/backward, and on the device the global gradient norm, clipping and AdamW on the
 * fp32 master weights, with the formulas of src/train/trainer.c (bmx/train.h):
 *   norm = sqrt(sum g^2)       (double partial sums in a fixed grid and a fixed tree: the
 *                               same bits every run);
 *   cs   = min(1, clip / (norm + 1e-6)) when clip > 0, computed on the device from norm;
 *   m = b1 m + (1 - b1) g cs; v = b2 v + (1 - b2) (g cs)^2;
 *   p = p (1 - lr wd [matrices only]) - lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
 * in float with round-to-nearest operations in the CPU trainer's order (no fused multiply-add),
 * so one step from the same gradients gives the CPU trainer's parameters.
 * Only the micro-batch losses and the gradient norm travel to the host in a step.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bmx/backend.h"
#include "bmx/cuda.h"
#include "common.cuh"
#include "cuda_int.h"

#define NORM_BLOCKS  1024
#define NORM_THREADS 256

struct cuda_be {
    bmx_trainer *host;
    bmx_cuda_model *m;
    bmx_train_config cfg;
    size_t n;
    float *m1, *m2;    /* device AdamW moments */
    double *part;      /* device [NORM_BLOCKS] partial sums of squares */
    double *norm;      /* device: the global norm */
    double *norm_host; /* pinned */
    long step;
    int micro;
    double loss_sum;
};

/* ---- kernels ---- */

static __global__ void norm_partial(double *part, const float *g, size_t n)
{
    __shared__ double sh[NORM_THREADS];
    double s = 0;
    size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        double x = (double)g[i];
        s += x * x;
    }
    sh[threadIdx.x] = s;
    __syncthreads();
    for (int w = NORM_THREADS / 2; w > 0; w /= 2) {
        if ((int)threadIdx.x < w)
            sh[threadIdx.x] += sh[threadIdx.x + w];
        __syncthreads();
    }
    if (threadIdx.x == 0)
        part[blockIdx.x] = sh[0];
}

static __global__ void norm_final(double *norm, const double *part)
{
    __shared__ double sh[NORM_THREADS];
    double s = 0;
    for (int i = threadIdx.x; i < NORM_BLOCKS; i += NORM_THREADS)
        s += part[i];
    sh[threadIdx.x] = s;
    __syncthreads();
    for (int w = NORM_THREADS / 2; w > 0; w /= 2) {
        if ((int)threadIdx.x < w)
            sh[threadIdx.x] += sh[threadIdx.x + w];
        __syncthreads();
    }
    if (threadIdx.x == 0)
        *norm = sqrt(sh[0]);
}

struct adamw_k {
    float b1, b2, decay, step_size, rbc2, eps;
    double clip;
};

static __global__ void adamw(float *p, const float *g, float *m1, float *m2, size_t n,
                             const double *norm, adamw_k k)
{
    float cs = 1.0f;
    if (k.clip > 0) {
        double coef = k.clip / (*norm + 1e-6);
        cs = coef < 1.0 ? (float)coef : 1.0f;
    }
    float ob1 = __fsub_rn(1.0f, k.b1), ob2 = __fsub_rn(1.0f, k.b2);
    size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        float gi = __fmul_rn(g[i], cs);
        float mi = __fadd_rn(__fmul_rn(k.b1, m1[i]), __fmul_rn(ob1, gi));
        float vi = __fadd_rn(__fmul_rn(k.b2, m2[i]), __fmul_rn(__fmul_rn(ob2, gi), gi));
        m1[i] = mi;
        m2[i] = vi;
        float den = __fadd_rn(__fmul_rn(__fsqrt_rn(vi), k.rbc2), k.eps);
        float upd = __fdiv_rn(__fmul_rn(k.step_size, mi), den);
        p[i] = __fsub_rn(__fmul_rn(p[i], k.decay), upd);
    }
}

/* ---- state ---- */

/* host <-> device copies on the model's stream, finished before returning */
static int copy_on(cuda_be *b, void *dst, const void *src, size_t bytes, cudaMemcpyKind kind,
                   const char *what, bmx_err *err)
{
    cudaStream_t st = (cudaStream_t)bmx_cuda_model_stream(b->m);
    int rc = cuda_status(cudaMemcpyAsync(dst, src, bytes, kind, st), what, err);
    return rc ? rc : cuda_status(cudaStreamSynchronize(st), what, err);
}

static int copy_moments(cuda_be *b, int to_host, bmx_err *err)
{
    float *h[2] = {bmx_trainer_moment1(b->host), bmx_trainer_moment2(b->host)};
    float *d[2] = {b->m1, b->m2};
    size_t bytes = b->n * sizeof(float);
    for (int i = 0; i < 2; i++) {
        int rc = to_host ? copy_on(b, h[i], d[i], bytes, cudaMemcpyDeviceToHost,
                                   "copying the AdamW moments to the host", err)
                         : copy_on(b, d[i], h[i], bytes, cudaMemcpyHostToDevice,
                                   "copying the AdamW moments to the GPU", err);
        if (rc)
            return rc;
    }
    return BMX_OK;
}

static int be_from_host(void *impl, bmx_err *err)
{
    cuda_be *b = (cuda_be *)impl;
    bmx_model *hm = bmx_trainer_model(b->host);
    int rc = bmx_cuda_model_set_params(b->m, (const float *)bmx_model_params(hm), err);
    if (!rc)
        rc = copy_moments(b, 0, err);
    if (!rc)
        rc = bmx_cuda_model_params_changed(b->m, err);
    if (rc)
        return rc;
    b->step = bmx_trainer_step_count(b->host);
    b->micro = 0;
    return BMX_OK;
}

static int be_to_host(void *impl, bmx_err *err)
{
    cuda_be *b = (cuda_be *)impl;
    bmx_model *hm = bmx_trainer_model(b->host);
    int rc = bmx_cuda_model_get_params(b->m, (float *)bmx_model_params(hm), err);
    if (!rc)
        rc = copy_moments(b, 1, err);
    if (rc)
        return rc;
    bmx_trainer_set_step(b->host, b->step);
    return BMX_OK;
}

static void be_free(void *impl)
{
    cuda_be *b = (cuda_be *)impl;
    if (!b)
        return;
    bmx_cuda_model_free(b->m);
    cudaFree(b->m1);
    cudaFree(b->m2);
    cudaFree(b->part);
    cudaFree(b->norm);
    cudaFreeHost(b->norm_host);
    free(b);
}

/* ---- operations ---- */

static int be_micro(void *impl, const int *inputs, const int *targets, int B, int T, double weight,
                    double *loss, double *seq_loss, double *tok_loss, bmx_err *err)
{
    cuda_be *b = (cuda_be *)impl;
    if (b->micro >= b->cfg.accum)
        return bmx_err_set(err, BMX_ESTATE,
                           "already %d micro-batches since the last step (accum=%d): call "
                           "bmx_backend_apply first",
                           b->micro, b->cfg.accum);
    if (!targets)
        return bmx_err_set(err, BMX_EINVAL, "a training micro-batch needs targets");
    double l = 0;
    int rc = bmx_cuda_model_forward(b->m, inputs, targets, B, T, &l, seq_loss, tok_loss, err);
    if (!rc)
        rc = bmx_cuda_model_backward(b->m, weight / b->cfg.accum, b->micro > 0, err);
    if (rc)
        return rc;
    b->loss_sum = (b->micro ? b->loss_sum : 0) + l;
    b->micro++;
    if (loss)
        *loss = l;
    return BMX_OK;
}

static int be_grad(void *impl, const int *inputs, const int *targets, int B, int T, double *loss,
                   bmx_err *err)
{
    cuda_be *b = (cuda_be *)impl;
    int rc = bmx_cuda_model_forward(b->m, inputs, targets, B, T, loss, NULL, NULL, err);
    return rc ? rc : bmx_cuda_model_backward(b->m, 1.0, 0, err);
}

static int be_eval(void *impl, const int *inputs, const int *targets, int B, int T, double *loss,
                   double *seq_loss, double *tok_loss, bmx_err *err)
{
    cuda_be *b = (cuda_be *)impl;
    return bmx_cuda_model_forward(b->m, inputs, targets, B, T, loss, seq_loss, tok_loss, err);
}

static int be_apply(void *impl, bmx_step_info *info, bmx_err *err)
{
    cuda_be *b = (cuda_be *)impl;
    const bmx_train_config *c = &b->cfg;
    if (b->micro != c->accum)
        return bmx_err_set(err, BMX_ESTATE,
                           "optimizer step after %d of %d micro-batches: run all accum "
                           "micro-batches first",
                           b->micro, c->accum);
    cudaStream_t st = (cudaStream_t)bmx_cuda_model_stream(b->m);
    float *p = bmx_cuda_model_params_dev(b->m), *g = bmx_cuda_model_grads_dev(b->m);
    norm_partial<<<NORM_BLOCKS, NORM_THREADS, 0, st>>>(b->part, g, b->n);
    norm_final<<<1, NORM_THREADS, 0, st>>>(b->norm, b->part);
    double lr = bmx_train_lr(c, b->step), tt = (double)(b->step + 1);
    adamw_k k = {(float)c->beta1,
                 (float)c->beta2,
                 1.0f,
                 (float)(lr / (1.0 - pow(c->beta1, tt))),
                 (float)(1.0 / sqrt(1.0 - pow(c->beta2, tt))),
                 (float)c->eps,
                 c->clip};
    const bmx_model *hm = bmx_trainer_model(b->host);
    for (int id = 0; id < BMX_NTENSORS; id++) {
        bmx_tensor_info ti = bmx_model_tensor(hm, id);
        adamw_k kt = k;
        kt.decay = (float)(1.0 - lr * (ti.matrix ? c->weight_decay : 0.0));
        unsigned blocks = cdiv(ti.count, 256);
        blocks = blocks > 4096 ? 4096 : blocks;
        adamw<<<blocks, 256, 0, st>>>(p + ti.offset, g + ti.offset, b->m1 + ti.offset,
                                      b->m2 + ti.offset, ti.count, b->norm, kt);
    }
    int rc = cuda_launched("the AdamW step", err);
    if (!rc)
        rc = cuda_status(
            cudaMemcpyAsync(b->norm_host, b->norm, sizeof(double), cudaMemcpyDeviceToHost, st),
            "reading the gradient norm", err);
    if (!rc)
        rc = cuda_status(cudaStreamSynchronize(st), "the AdamW step", err);
    if (!rc)
        rc = bmx_cuda_model_params_changed(b->m, err);
    if (rc)
        return rc;
    if (info) {
        info->step = b->step;
        info->lr = lr;
        info->grad_norm = *b->norm_host;
        info->loss = b->loss_sum / c->accum;
    }
    b->step++;
    b->micro = 0;
    return BMX_OK;
}

static int be_get_params(void *impl, float *host, bmx_err *err)
{
    return bmx_cuda_model_get_params(((cuda_be *)impl)->m, host, err);
}

static int be_get_grads(void *impl, float *host, bmx_err *err)
{
    return bmx_cuda_model_get_grads(((cuda_be *)impl)->m, host, err);
}

static int be_set_grads(void *impl, const float *host, bmx_err *err)
{
    cuda_be *b = (cuda_be *)impl;
    return copy_on(b, bmx_cuda_model_grads_dev(b->m), host, b->n * sizeof(float),
                   cudaMemcpyHostToDevice, "copying gradients to the GPU", err);
}

/* positional (C++ has no designated initializers before C++20): the order of bmx_backend_ops */
static const bmx_backend_ops cuda_ops = {
    "cuda",       be_micro,     be_apply, be_grad,    be_eval,      be_get_params,
    be_get_grads, be_set_grads, NULL,     be_to_host, be_from_host, be_free,
};

extern "C" int bmx_backend_cuda(bmx_trainer *t, int precision, int device, int B, int T,
                                bmx_backend **out, bmx_err *err)
{
    int rc = bmx_cuda_available(err);
    if (rc)
        return rc;
    bmx_model *hm = bmx_trainer_model(t);
    /* estimate first: the model (parameters, gradients, activations) and the AdamW moments */
    size_t n = bmx_model_num_params(hm), fr = 0, tot = 0;
    size_t mom = 2 * n * sizeof(float) + (NORM_BLOCKS + 1) * sizeof(double);
    size_t need = bmx_cuda_model_bytes(bmx_model_config(hm), precision, B, T) + mom;
    if (cudaSetDevice(device) == cudaSuccess && cudaMemGetInfo(&fr, &tot) == cudaSuccess &&
        need > fr)
        return bmx_err_set(err, BMX_ENOMEM,
                           "not enough GPU memory: the CUDA trainer needs %.0f MiB (model and "
                           "activations for micro-batches of %d x %d tokens, %s, plus %.0f MiB "
                           "of AdamW moments) but device %d has %.0f MiB free of %.0f MiB: "
                           "lower --batch or --seq%s",
                           need / 1048576.0, B, T, precision == BMX_CUDA_BF16 ? "bf16" : "fp32",
                           mom / 1048576.0, device, fr / 1048576.0, tot / 1048576.0,
                           precision == BMX_CUDA_BF16 ? "" : ", or use --precision bf16");
    cuda_be *b = (cuda_be *)calloc(1, sizeof *b);
    if (!b)
        return bmx_err_set(err, BMX_ENOMEM, "out of memory for the CUDA trainer");
    b->host = t;
    b->cfg = *bmx_trainer_config(t);
    b->n = n;
    rc = bmx_cuda_model_create(bmx_model_config(hm), precision, device, B, T, &b->m, err);
    if (rc) {
        free(b);
        return rc;
    }
    if ((rc = cuda_status(cudaMalloc((void **)&b->m1, b->n * sizeof(float)),
                          "allocating AdamW moments", err)) ||
        (rc = cuda_status(cudaMalloc((void **)&b->m2, b->n * sizeof(float)),
                          "allocating AdamW moments", err)) ||
        (rc = cuda_status(cudaMalloc((void **)&b->part, NORM_BLOCKS * sizeof(double)),
                          "allocating the norm buffer", err)) ||
        (rc = cuda_status(cudaMalloc((void **)&b->norm, sizeof(double)),
                          "allocating the norm buffer", err)) ||
        (rc = cuda_status(cudaMallocHost((void **)&b->norm_host, sizeof(double)),
                          "allocating pinned memory", err)) ||
        (rc = be_from_host(b, err)) || (rc = bmx_backend_create(&cuda_ops, b, t, out, err))) {
        be_free(b);
        return rc;
    }
    return BMX_OK;
}
