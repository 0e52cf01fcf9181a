/* src/train/backend.c - the trainer backend seam (bmx/backend.h): dispatch, the CPU backend
 * (the trainer of bmx/train.h, unchanged), device and precision names. */
#include "bmx/backend.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct bmx_backend {
    const bmx_backend_ops *ops;
    void *impl;
    bmx_trainer *host;
};

int bmx_backend_create(const bmx_backend_ops *ops, void *impl, bmx_trainer *host, bmx_backend **out,
                       bmx_err *err)
{
    if (!ops || !host || !out)
        return bmx_err_set(err, BMX_EINVAL, "bmx_backend_create needs an ops table and a trainer");
    bmx_backend *be = calloc(1, sizeof *be);
    if (!be)
        return bmx_err_set(err, BMX_ENOMEM, "out of memory for a trainer backend");
    be->ops = ops;
    be->impl = impl;
    be->host = host;
    *out = be;
    return BMX_OK;
}

void bmx_backend_free(bmx_backend *be)
{
    if (!be)
        return;
    if (be->ops->free)
        be->ops->free(be->impl);
    free(be);
}

const char *bmx_backend_name(const bmx_backend *be)
{
    return be->ops->name;
}

bmx_trainer *bmx_backend_host(bmx_backend *be)
{
    return be->host;
}

size_t bmx_backend_num_params(const bmx_backend *be)
{
    return bmx_model_num_params(bmx_trainer_model(be->host));
}

int bmx_backend_micro(bmx_backend *be, const int *inputs, const int *targets, int B, int T,
                      double weight, double *loss, double *seq_loss, double *tok_loss, bmx_err *err)
{
    if (!(weight >= 0) || !isfinite(weight))
        return bmx_err_set(err, BMX_EINVAL, "micro-batch loss weight %g: give a finite weight >= 0",
                           weight);
    return be->ops->micro(be->impl, inputs, targets, B, T, weight, loss, seq_loss, tok_loss, err);
}

int bmx_backend_apply(bmx_backend *be, bmx_step_info *info, bmx_err *err)
{
    return be->ops->apply(be->impl, info, err);
}

int bmx_backend_grad(bmx_backend *be, const int *inputs, const int *targets, int B, int T,
                     double *loss, bmx_err *err)
{
    return be->ops->grad(be->impl, inputs, targets, B, T, loss, err);
}

int bmx_backend_eval(bmx_backend *be, const int *inputs, const int *targets, int B, int T,
                     double *loss, double *seq_loss, double *tok_loss, bmx_err *err)
{
    return be->ops->eval(be->impl, inputs, targets, B, T, loss, seq_loss, tok_loss, err);
}

int bmx_backend_get_params(bmx_backend *be, float *host, bmx_err *err)
{
    return be->ops->get_params(be->impl, host, err);
}

int bmx_backend_get_grads(bmx_backend *be, float *host, bmx_err *err)
{
    return be->ops->get_grads(be->impl, host, err);
}

int bmx_backend_set_grads(bmx_backend *be, const float *host, bmx_err *err)
{
    return be->ops->set_grads(be->impl, host, err);
}

float *bmx_backend_host_grads(bmx_backend *be)
{
    return be->ops->host_grads ? be->ops->host_grads(be->impl) : NULL;
}

int bmx_backend_sync_to_host(bmx_backend *be, bmx_err *err)
{
    return be->ops->to_host ? be->ops->to_host(be->impl, err) : BMX_OK;
}

int bmx_backend_sync_from_host(bmx_backend *be, bmx_err *err)
{
    return be->ops->from_host ? be->ops->from_host(be->impl, err) : BMX_OK;
}

/* ---- the CPU backend: the trainer itself ---- */

static int cpu_micro(void *impl, const int *inputs, const int *targets, int B, int T, double weight,
                     double *loss, double *seq_loss, double *tok_loss, bmx_err *err)
{
    return bmx_trainer_micro_weighted(impl, inputs, targets, B, T, weight, loss, seq_loss, tok_loss,
                                      err);
}

static int cpu_apply(void *impl, bmx_step_info *info, bmx_err *err)
{
    return bmx_trainer_apply(impl, info, err);
}

static int cpu_grad(void *impl, const int *inputs, const int *targets, int B, int T, double *loss,
                    bmx_err *err)
{
    bmx_model *m = bmx_trainer_model(impl);
    int rc = bmx_model_forward(m, inputs, targets, B, T, loss, NULL, NULL, err);
    return rc ? rc : bmx_model_backward(m, 1.0, 0, err);
}

static int cpu_eval(void *impl, const int *inputs, const int *targets, int B, int T, double *loss,
                    double *seq_loss, double *tok_loss, bmx_err *err)
{
    return bmx_model_forward(bmx_trainer_model(impl), inputs, targets, B, T, loss, seq_loss,
                             tok_loss, err);
}

static int cpu_copy(bmx_model *m, const void *src, float *host)
{
    memcpy(host, src, bmx_model_num_params(m) * sizeof(float));
    return BMX_OK;
}

static int cpu_get_params(void *impl, float *host, bmx_err *err)
{
    bmx_model *m = bmx_trainer_model(impl);
    return cpu_copy(m, bmx_model_params(m), host);
}

static int cpu_get_grads(void *impl, float *host, bmx_err *err)
{
    bmx_model *m = bmx_trainer_model(impl);
    return cpu_copy(m, bmx_model_grads(m), host);
}

static int cpu_set_grads(void *impl, const float *host, bmx_err *err)
{
    bmx_model *m = bmx_trainer_model(impl);
    memcpy(bmx_model_grads(m), host, bmx_model_num_params(m) * sizeof(float));
    return BMX_OK;
}

static float *cpu_host_grads(void *impl)
{
    return bmx_model_grads(bmx_trainer_model(impl));
}

static const bmx_backend_ops cpu_ops = {
    .name = "cpu",
    .micro = cpu_micro,
    .apply = cpu_apply,
    .grad = cpu_grad,
    .eval = cpu_eval,
    .get_params = cpu_get_params,
    .get_grads = cpu_get_grads,
    .set_grads = cpu_set_grads,
    .host_grads = cpu_host_grads,
};

int bmx_backend_cpu(bmx_trainer *t, bmx_backend **out, bmx_err *err)
{
    return bmx_backend_create(&cpu_ops, t, t, out, err);
}

/* ---- names ---- */

int bmx_device_parse(const char *s, int *device, bmx_err *err)
{
    if (!s || !*s || !strcmp(s, "cpu"))
        *device = BMX_DEVICE_CPU;
    else if (!strcmp(s, "cuda"))
        *device = BMX_DEVICE_CUDA;
    else
        return bmx_err_set(err, BMX_EINVAL, "device '%s': give cpu or cuda", s);
    return BMX_OK;
}

int bmx_precision_parse(const char *s, int device, int *precision, bmx_err *err)
{
    if (!s || !*s)
        *precision = device == BMX_DEVICE_CUDA ? BMX_PREC_BF16 : BMX_PREC_FP32;
    else if (!strcmp(s, "fp32"))
        *precision = BMX_PREC_FP32;
    else if (!strcmp(s, "bf16"))
        *precision = BMX_PREC_BF16;
    else
        return bmx_err_set(err, BMX_EINVAL, "precision '%s': give fp32 or bf16", s);
    if (device == BMX_DEVICE_CPU && *precision != BMX_PREC_FP32)
        return bmx_err_set(err, BMX_EINVAL,
                           "precision bf16 is for --device cuda; the CPU trainer runs fp32 "
                           "(give --precision fp32 or leave it out)");
    return BMX_OK;
}
