/* The trainer backend seam (bmx/backend.h) and the CUDA trainer behind it.
 *
 * CPU (always): the CPU backend is the trainer itself (a step through the seam gives the
 * trainer's bits); a micro-batch's loss weight scales its gradient; a batch's gradient outside
 * the step (bmx_backend_grad, FLAD's) is the model's and counts no micro-batch, in the host
 * gradient buffer; device and precision names and their errors; --device cuda without CUDA or
 * without a GPU fails saying why.
 * GPU (skipped, saying so, without a usable CUDA device):
 *   - one fp32 step against the CPU trainer: every micro-batch loss and per-sequence loss, and
 *     every tensor's gradient within 1e-4 relative (norm of the difference over the norm);
 *     AdamW from the same gradients gives the CPU trainer's parameters within 1e-5 relative
 *     (per element, against max(|p|, 1e-3));
 *   - 50 bf16 steps track the fp32 curve: every step's loss within 2% of the fp32 loss;
 *   - a GPU checkpoint resumes on the CPU and back, and GPU training is deterministic;
 *   - bmx_backend_grad (fp32) against the CPU's within 1e-4 relative, no host gradient buffer.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bmx/backend.h"
#include "bmx/cuda.h"
#include "bmx/run.h"
#include "bmx/train.h"
#include "check.h"
#include "helpers.h"

struct setup {
    bmx_model *m;
    bmx_trainer *t;
    int *tok; /* inputs [accum][B][T], then targets */
    int B, T, accum;
};

static const bmx_gpt_config tiny_cfg = {300, 64, 2, 4, 64};

static struct setup make(int accum, uint64_t seed)
{
    struct setup s;
    bmx_train_config tc = bmx_train_config_default();
    tc.lr = 3e-3, tc.warmup = 2, tc.total = 60, tc.accum = accum, tc.clip = 1.0;
    bmx_err err = {0};
    bmx_rng r;
    bmx_rng_seed(&r, seed, 0);
    CHECK_MSG(bmx_model_create(&tiny_cfg, BMX_F32, 1, &s.m, &err) == 0, "%s", err.msg);
    bmx_model_init(s.m, &r);
    CHECK_MSG(bmx_trainer_create(s.m, &tc, &s.t, &err) == 0, "%s", err.msg);
    s.B = 4, s.T = 32, s.accum = accum;
    size_t n = (size_t)accum * s.B * s.T;
    s.tok = malloc(2 * n * sizeof(int));
    /* a learnable stream: runs of an affine recurrence from random starts */
    for (size_t i = 0; i < n; i++) {
        int x = i % (size_t)s.T == 0 ? (int)bmx_rng_below(&r, 300) : s.tok[n + i - 1];
        s.tok[i] = x;
        s.tok[n + i] = (7 * x + 3) % 300;
    }
    return s;
}

static void drop(struct setup *s)
{
    bmx_trainer_free(s->t);
    bmx_model_free(s->m);
    free(s->tok);
}

/* ---- CPU ---- */

static void test_cpu_backend_is_the_trainer(void)
{
    struct setup a = make(3, 7), b = make(3, 7);
    bmx_backend *be = NULL;
    bmx_err err = {0};
    CHECK_MSG(bmx_backend_cpu(b.t, &be, &err) == 0, "%s", err.msg);
    CHECK_EQ_STR(bmx_backend_name(be), "cpu");
    CHECK(bmx_backend_host(be) == b.t);
    size_t per = (size_t)a.B * a.T, n = 3 * per, np = bmx_model_num_params(a.m);
    for (int s = 0; s < 4; s++) {
        bmx_step_info ia, ib;
        CHECK(bmx_trainer_step(a.t, a.tok, a.tok + n, a.B, a.T, &ia, &err) == 0);
        for (int g = 0; g < 3; g++)
            CHECK(bmx_backend_micro(be, b.tok + g * per, b.tok + n + g * per, b.B, b.T, 1.0, NULL,
                                    NULL, NULL, &err) == 0);
        CHECK_MSG(bmx_backend_apply(be, &ib, &err) == 0, "%s", err.msg);
        CHECK(ia.step == ib.step && ia.lr == ib.lr && ia.grad_norm == ib.grad_norm &&
              ia.loss == ib.loss);
    }
    CHECK(memcmp(bmx_model_params(a.m), bmx_model_params(b.m), np * 4) == 0);
    CHECK(memcmp(bmx_trainer_moment1(a.t), bmx_trainer_moment1(b.t), np * 4) == 0);
    CHECK(memcmp(bmx_trainer_moment2(a.t), bmx_trainer_moment2(b.t), np * 4) == 0);
    float *p = malloc(np * 4);
    CHECK(bmx_backend_get_params(be, p, &err) == 0);
    CHECK(memcmp(p, bmx_model_params(b.m), np * 4) == 0);
    CHECK(bmx_backend_sync_to_host(be, &err) == 0 && bmx_backend_sync_from_host(be, &err) == 0);
    /* evaluation is the model's forward */
    double l1 = 0, l2 = 0, s1[4], s2[4];
    CHECK(bmx_backend_eval(be, b.tok, b.tok + n, b.B, b.T, &l1, s1, NULL, &err) == 0);
    CHECK(bmx_model_forward(a.m, a.tok, a.tok + n, a.B, a.T, &l2, s2, NULL, &err) == 0);
    CHECK(l1 == l2 && memcmp(s1, s2, sizeof s1) == 0);
    free(p);
    bmx_backend_free(be);
    drop(&a);
    drop(&b);
}

/* bmx_backend_grad: the gradient of one batch's mean loss, overwriting, counted as no
 * micro-batch (apply after it alone is refused); the CPU backend's host gradient buffer is the
 * model's own. */
static void test_batch_grad(void)
{
    struct setup a = make(1, 5), b = make(1, 5);
    bmx_backend *be = NULL;
    bmx_err err = {0};
    CHECK(bmx_backend_cpu(a.t, &be, &err) == 0);
    CHECK(bmx_backend_host_grads(be) == bmx_model_grads(a.m));
    size_t n = (size_t)a.B * a.T, np = bmx_model_num_params(a.m);
    double l1 = 0, l2 = 0;
    /* a micro-batch first: grad overwrites its gradient */
    CHECK(bmx_backend_micro(be, a.tok, a.tok + n, a.B, a.T, 3.0, NULL, NULL, NULL, &err) == 0);
    bmx_trainer_set_step(a.t, 0);
    CHECK(bmx_backend_grad(be, a.tok, a.tok + n, a.B, a.T, &l1, &err) == 0);
    CHECK(bmx_model_forward(b.m, b.tok, b.tok + n, b.B, b.T, &l2, NULL, NULL, &err) == 0);
    CHECK(bmx_model_backward(b.m, 1.0, 0, &err) == 0);
    CHECK(l1 == l2 && l1 > 0);
    CHECK(memcmp(bmx_model_grads(a.m), bmx_model_grads(b.m), np * 4) == 0);
    /* no micro-batch counted: an optimizer step now is refused */
    CHECK(bmx_backend_apply(be, NULL, &err) == BMX_ESTATE);
    CHECK_CONTAINS(err.msg, "after 0 of 1 micro-batches");
    bmx_backend_free(be);
    drop(&a);
    drop(&b);
}

/* weight w: the gradient of w * loss / accum */
static void test_loss_weight(void)
{
    struct setup a = make(2, 3);
    bmx_backend *be = NULL;
    bmx_err err = {0};
    CHECK(bmx_backend_cpu(a.t, &be, &err) == 0);
    size_t per = (size_t)a.B * a.T, n = 2 * per, np = bmx_model_num_params(a.m);
    float *g1 = malloc(np * 4), *g2 = malloc(np * 4), *scaled = malloc(np * 4);
    /* one micro-batch of weight 1, then (a new step) the same one with weight 2.5 */
    CHECK(bmx_backend_micro(be, a.tok, a.tok + n, a.B, a.T, 1.0, NULL, NULL, NULL, &err) == 0);
    CHECK(bmx_backend_get_grads(be, g1, &err) == 0);
    CHECK(bmx_backend_micro(be, a.tok, a.tok + n, a.B, a.T, 0.0, NULL, NULL, NULL, &err) == 0);
    CHECK(bmx_backend_get_grads(be, g2, &err) == 0);
    CHECK(memcmp(g1, g2, np * 4) == 0); /* weight 0 adds nothing */
    bmx_trainer_set_step(a.t, 0);       /* drop the step's micro-batches */
    CHECK(bmx_backend_micro(be, a.tok, a.tok + n, a.B, a.T, 2.5, NULL, NULL, NULL, &err) == 0);
    CHECK(bmx_backend_get_grads(be, g2, &err) == 0);
    double gn = 0;
    for (size_t i = 0; i < np; i++) {
        scaled[i] = 2.5f * g1[i];
        gn += (double)g1[i] * g1[i];
    }
    CHECK(gn > 0);
    CHECK_MSG(rel_err_ff(g2, scaled, np) < 1e-6, "weight 2.5: relative difference %g",
              rel_err_ff(g2, scaled, np));
    /* bad weights are refused */
    CHECK(bmx_backend_micro(be, a.tok, a.tok + n, a.B, a.T, -1, NULL, NULL, NULL, &err) ==
          BMX_EINVAL);
    CHECK_CONTAINS(err.msg, "weight -1");
    CHECK(bmx_backend_micro(be, a.tok, a.tok + n, a.B, a.T, NAN, NULL, NULL, NULL, &err) ==
          BMX_EINVAL);
    free(g1);
    free(g2);
    free(scaled);
    bmx_backend_free(be);
    drop(&a);
}

static void test_names(void)
{
    bmx_err err = {0};
    int d = -1, p = -1;
    CHECK(bmx_device_parse("cpu", &d, &err) == 0 && d == BMX_DEVICE_CPU);
    CHECK(bmx_device_parse("cuda", &d, &err) == 0 && d == BMX_DEVICE_CUDA);
    CHECK(bmx_device_parse("tpu", &d, &err) == BMX_EINVAL);
    CHECK_CONTAINS(err.msg, "device 'tpu': give cpu or cuda");
    CHECK(bmx_precision_parse("", BMX_DEVICE_CUDA, &p, &err) == 0 && p == BMX_CUDA_BF16);
    CHECK(bmx_precision_parse("", BMX_DEVICE_CPU, &p, &err) == 0 && p == BMX_CUDA_FP32);
    CHECK(bmx_precision_parse("fp32", BMX_DEVICE_CUDA, &p, &err) == 0 && p == BMX_CUDA_FP32);
    CHECK(bmx_precision_parse("bf16", BMX_DEVICE_CPU, &p, &err) == BMX_EINVAL);
    CHECK_CONTAINS(err.msg, "bf16 is for --device cuda");
    CHECK(bmx_precision_parse("fp16", BMX_DEVICE_CUDA, &p, &err) == BMX_EINVAL);
    CHECK_CONTAINS(err.msg, "precision 'fp16': give fp32 or bf16");
}

/* the run configuration's device and precision keys */
static void test_run_config_keys(void)
{
    bmx_err err = {0};
    bmx_run_config c = bmx_run_config_default();
    c.data = "d", c.out = "o";
    CHECK_EQ_STR(c.device, "");
    CHECK(bmx_run_config_check(&c, &err) == 0);
    CHECK(bmx_run_config_set(&c, "device", "gpu", &err) == 0);
    CHECK(bmx_run_config_check(&c, &err) == BMX_EINVAL);
    CHECK_CONTAINS(err.msg, "device 'gpu': give cpu or cuda");
    CHECK(bmx_run_config_set(&c, "device", "cuda", &err) == 0);
    CHECK(bmx_run_config_set(&c, "precision", "bf16", &err) == 0);
    CHECK(bmx_run_config_check(&c, &err) == 0);
    c.device = "cpu";
    CHECK(bmx_run_config_check(&c, &err) == BMX_EINVAL);
    CHECK_CONTAINS(err.msg, "bf16 is for --device cuda");
    char *text = bmx_run_config_text(&c);
    CHECK_CONTAINS(text, "\ndevice       = cpu\n");
    CHECK_CONTAINS(text, "\nprecision    = bf16\n");
    free(text);
}

static void test_cuda_refused_without_gpu(void)
{
    bmx_err err = {0};
    if (bmx_cuda_built() && bmx_cuda_available(&err) == BMX_OK)
        SKIP("a usable GPU is present: the no-GPU error is not exercised here");
    struct setup a = make(1, 1);
    bmx_backend *be = NULL;
    int rc = bmx_backend_cuda(a.t, BMX_CUDA_BF16, 0, a.B, a.T, &be, &err);
    CHECK(rc != BMX_OK && be == NULL);
    if (!bmx_cuda_built())
        CHECK_CONTAINS(err.msg, "built without CUDA");
    else
        CHECK_MSG(strlen(err.msg) > 20, "a GPU-less machine gets a reason: '%s'", err.msg);
    printf("  (the error reads: %s)\n", err.msg);
    drop(&a);
}

/* ---- GPU ---- */

static void need_gpu(void)
{
    bmx_err err = {0};
    if (!bmx_cuda_built())
        SKIP("bmx was built without CUDA (make CUDA=1 on a machine with nvcc)");
    if (bmx_cuda_available(&err) != BMX_OK)
        SKIP("no usable CUDA device: %s", err.msg);
}

/* A host trainer with a's parameters and configuration, and the CUDA backend over it. */
static bmx_backend *gpu_twin(struct setup *a, int prec, struct setup *twin)
{
    bmx_err err = {0};
    bmx_backend *be = NULL;
    *twin = make(a->accum, 999);
    size_t np = bmx_model_num_params(a->m);
    memcpy(bmx_model_params(twin->m), bmx_model_params(a->m), np * 4);
    memcpy(twin->tok, a->tok, 2 * (size_t)a->accum * a->B * a->T * sizeof(int));
    CHECK_MSG(bmx_backend_cuda(twin->t, prec, 0, a->B, a->T, &be, &err) == 0, "%s", err.msg);
    CHECK_EQ_STR(bmx_backend_name(be), "cuda");
    return be;
}

static void test_gpu_fp32_step_vs_cpu(void)
{
    need_gpu();
    struct setup a = make(2, 11), h;
    bmx_backend *gb = gpu_twin(&a, BMX_CUDA_FP32, &h), *cb = NULL;
    bmx_err err = {0};
    CHECK(bmx_backend_cpu(a.t, &cb, &err) == 0);
    size_t per = (size_t)a.B * a.T, n = 2 * per, np = bmx_model_num_params(a.m);
    const double w[2] = {0.5, 1.5}; /* DoReMi-style loss weights */
    double worst_loss = 0;
    for (int g = 0; g < 2; g++) {
        double lc = 0, lg = 0, sc[4], sg[4];
        CHECK(bmx_backend_micro(cb, a.tok + g * per, a.tok + n + g * per, a.B, a.T, w[g], &lc, sc,
                                NULL, &err) == 0);
        CHECK_MSG(bmx_backend_micro(gb, a.tok + g * per, a.tok + n + g * per, a.B, a.T, w[g], &lg,
                                    sg, NULL, &err) == 0,
                  "%s", err.msg);
        CHECK_MSG(fabs(lg - lc) <= 1e-4 * fabs(lc), "loss cpu %.9g gpu %.9g", lc, lg);
        for (int b = 0; b < 4; b++)
            CHECK_MSG(fabs(sg[b] - sc[b]) <= 1e-4 * fabs(sc[b]), "seq %d: cpu %.9g gpu %.9g", b,
                      sc[b], sg[b]);
        worst_loss = fmax(worst_loss, fabs(lg - lc) / fabs(lc));
    }
    float *gg = malloc(np * 4), *pg = malloc(np * 4);
    CHECK(bmx_backend_get_grads(gb, gg, &err) == 0);
    const float *gc = bmx_model_grads(a.m);
    double worst = 0;
    for (int id = 0; id < BMX_NTENSORS; id++) {
        bmx_tensor_info ti = bmx_model_tensor(a.m, id);
        double r = rel_err_ff(gg + ti.offset, gc + ti.offset, ti.count);
        CHECK_MSG(r <= 1e-4, "gradient of %s: relative difference %g", ti.name, r);
        worst = fmax(worst, r);
    }
    /* AdamW alone: the same parameters (twins) and the CPU's gradients in the GPU's buffer */
    CHECK(bmx_backend_set_grads(gb, gc, &err) == 0);
    bmx_step_info ic, ig;
    CHECK(bmx_backend_apply(cb, &ic, &err) == 0);
    CHECK_MSG(bmx_backend_apply(gb, &ig, &err) == 0, "%s", err.msg);
    CHECK_MSG(fabs(ig.grad_norm - ic.grad_norm) <= 1e-6 * ic.grad_norm, "norm cpu %.9g gpu %.9g",
              ic.grad_norm, ig.grad_norm);
    CHECK(ig.lr == ic.lr && ig.step == ic.step);
    CHECK(bmx_backend_get_params(gb, pg, &err) == 0);
    const float *pc = bmx_model_params(a.m);
    double worst_p = 0;
    size_t bad = 0;
    for (size_t i = 0; i < np; i++) {
        double r = fabs((double)pg[i] - pc[i]) / fmax(fabs(pc[i]), 1e-3);
        worst_p = fmax(worst_p, r);
        bad += r > 1e-5;
    }
    CHECK_MSG(bad == 0, "%zu parameters differ by more than 1e-5 relative (worst %g)", bad,
              worst_p);
    printf("  fp32 vs CPU: worst loss %.2e, worst tensor gradient %.2e, worst parameter after "
           "AdamW %.2e (relative)\n",
           worst_loss, worst, worst_p);
    free(gg);
    free(pg);
    bmx_backend_free(gb);
    bmx_backend_free(cb);
    drop(&h);
    drop(&a);
}

static void test_gpu_bf16_tracks_fp32(void)
{
    need_gpu();
    struct setup a = make(2, 5), h1, h2;
    bmx_backend *f = gpu_twin(&a, BMX_CUDA_FP32, &h1), *b = gpu_twin(&a, BMX_CUDA_BF16, &h2);
    bmx_err err = {0};
    size_t per = (size_t)a.B * a.T, n = 2 * per;
    double worst = 0, first = 0, last = 0;
    bmx_rng r;
    bmx_rng_seed(&r, 77, 0);
    for (int s = 0; s < 50; s++) {
        bmx_step_info i32, i16;
        for (int g = 0; g < 2; g++) {
            size_t o = (size_t)bmx_rng_below(&r, 2) * per; /* either of the two batches */
            CHECK(bmx_backend_micro(f, a.tok + o, a.tok + n + o, a.B, a.T, 1.0, NULL, NULL, NULL,
                                    &err) == 0);
            CHECK_MSG(bmx_backend_micro(b, a.tok + o, a.tok + n + o, a.B, a.T, 1.0, NULL, NULL,
                                        NULL, &err) == 0,
                      "%s", err.msg);
        }
        CHECK(bmx_backend_apply(f, &i32, &err) == 0 && bmx_backend_apply(b, &i16, &err) == 0);
        double d = fabs(i16.loss - i32.loss) / i32.loss;
        CHECK_MSG(d <= 0.02, "step %d: bf16 loss %.5f, fp32 %.5f", s, i16.loss, i32.loss);
        worst = fmax(worst, d);
        if (s == 0)
            first = i32.loss;
        last = i32.loss;
    }
    printf("  50 steps: fp32 loss %.4f -> %.4f; bf16 within %.2e relative of it at every step\n",
           first, last, worst);
    CHECK(last < first - 1.0); /* it learned: the comparison is not between two flat curves */
    bmx_backend_free(f);
    bmx_backend_free(b);
    drop(&h1);
    drop(&h2);
    drop(&a);
}

static void test_gpu_checkpoint_both_ways(void)
{
    need_gpu();
    struct setup a = make(1, 21), h;
    bmx_backend *g = gpu_twin(&a, BMX_CUDA_FP32, &h);
    bmx_err err = {0};
    size_t per = (size_t)a.B * a.T, np = bmx_model_num_params(a.m);
    for (int s = 0; s < 3; s++) {
        CHECK(bmx_backend_micro(g, h.tok, h.tok + per, h.B, h.T, 1.0, NULL, NULL, NULL, &err) == 0);
        CHECK(bmx_backend_apply(g, NULL, &err) == 0);
    }
    char path[160];
    snprintf(path, sizeof path, "%s/gpu.ckpt", check_tmpdir("backend"));
    CHECK(bmx_backend_sync_to_host(g, &err) == 0);
    CHECK_EQ_INT(bmx_trainer_step_count(h.t), 3);
    CHECK_MSG(bmx_checkpoint_save(path, h.t, NULL, 0, &err) == 0, "%s", err.msg);
    /* GPU -> CPU: the loaded model holds the GPU's parameters */
    bmx_model *m2 = NULL;
    bmx_trainer *t2 = NULL;
    CHECK_MSG(bmx_checkpoint_load(path, 1, &m2, &t2, NULL, NULL, &err) == 0, "%s", err.msg);
    float *pg = malloc(np * 4), *pg2 = malloc(np * 4);
    CHECK(bmx_backend_get_params(g, pg, &err) == 0);
    CHECK(memcmp(pg, bmx_model_params(m2), np * 4) == 0);
    CHECK_EQ_INT(bmx_trainer_step_count(t2), 3);
    /* CPU -> GPU: a second GPU backend from the loaded checkpoint continues bit for bit */
    bmx_backend *g2 = NULL;
    CHECK_MSG(bmx_backend_cuda(t2, BMX_CUDA_FP32, 0, h.B, h.T, &g2, &err) == 0, "%s", err.msg);
    for (int s = 0; s < 2; s++) {
        bmx_step_info i1, i2;
        CHECK(bmx_backend_micro(g, h.tok, h.tok + per, h.B, h.T, 1.0, NULL, NULL, NULL, &err) == 0);
        CHECK(bmx_backend_micro(g2, h.tok, h.tok + per, h.B, h.T, 1.0, NULL, NULL, NULL, &err) ==
              0);
        CHECK(bmx_backend_apply(g, &i1, &err) == 0 && bmx_backend_apply(g2, &i2, &err) == 0);
        CHECK(i1.loss == i2.loss && i1.grad_norm == i2.grad_norm && i1.step == i2.step);
    }
    CHECK(bmx_backend_get_params(g, pg, &err) == 0 && bmx_backend_get_params(g2, pg2, &err) == 0);
    CHECK(memcmp(pg, pg2, np * 4) == 0); /* deterministic, and the moments came along */
    free(pg);
    free(pg2);
    bmx_backend_free(g);
    bmx_backend_free(g2);
    bmx_trainer_free(t2);
    bmx_model_free(m2);
    drop(&h);
    drop(&a);
}

/* too large for the device: refused before allocating, with the figures */
static void test_gpu_out_of_memory_says_how_much(void)
{
    need_gpu();
    bmx_gpt_config g = bmx_gpt_config_gpt2();
    bmx_train_config tc = bmx_train_config_default();
    bmx_model *m = NULL;
    bmx_trainer *t = NULL;
    bmx_backend *be = NULL;
    bmx_err err = {0};
    CHECK_MSG(bmx_model_create(&g, BMX_F32, 0, &m, &err) == 0, "%s", err.msg);
    CHECK(bmx_trainer_create(m, &tc, &t, &err) == 0);
    /* 4096 x 1024 tokens: the logits alone are over 400 GB in bf16 */
    int rc = bmx_backend_cuda(t, BMX_CUDA_BF16, 0, 4096, 1024, &be, &err);
    CHECK(rc == BMX_ENOMEM && be == NULL);
    CHECK_CONTAINS(err.msg, "MiB free");
    CHECK_CONTAINS(err.msg, "needs");
    printf("  (%s)\n", err.msg);
    bmx_trainer_free(t);
    bmx_model_free(m);
}

/* bmx_backend_grad on the GPU (fp32) against the CPU backend's, one batch; no host buffer. */
static void test_gpu_batch_grad(void)
{
    need_gpu();
    struct setup a = make(1, 13), h;
    bmx_backend *gb = gpu_twin(&a, BMX_CUDA_FP32, &h), *cb = NULL;
    bmx_err err = {0};
    CHECK(bmx_backend_cpu(a.t, &cb, &err) == 0);
    CHECK(bmx_backend_host_grads(gb) == NULL);
    size_t n = (size_t)a.B * a.T, np = bmx_model_num_params(a.m);
    double lc = 0, lg = 0;
    float *gg = malloc(np * 4);
    CHECK(bmx_backend_grad(cb, a.tok, a.tok + n, a.B, a.T, &lc, &err) == 0);
    CHECK_MSG(bmx_backend_grad(gb, a.tok, a.tok + n, a.B, a.T, &lg, &err) == 0, "%s", err.msg);
    CHECK(bmx_backend_get_grads(gb, gg, &err) == 0);
    CHECK_MSG(fabs(lg - lc) <= 1e-4 * fabs(lc), "loss cpu %.9g gpu %.9g", lc, lg);
    double d = rel_err_ff(gg, bmx_model_grads(a.m), np);
    CHECK_MSG(d < 1e-4, "gradient: relative difference %g", d);
    printf("  (bmx_backend_grad fp32: gradient relative difference %.3g)\n", d);
    CHECK(bmx_backend_apply(gb, NULL, &err) == BMX_ESTATE); /* no micro-batch counted */
    free(gg);
    bmx_backend_free(gb);
    bmx_backend_free(cb);
    drop(&h);
    drop(&a);
}

int main(int argc, char **argv)
{
    static const struct check_case cases[] = {
        {"cpu_backend_is_the_trainer", test_cpu_backend_is_the_trainer},
        {"loss_weight", test_loss_weight},
        {"batch_grad", test_batch_grad},
        {"names", test_names},
        {"run_config_keys", test_run_config_keys},
        {"cuda_refused_without_gpu", test_cuda_refused_without_gpu},
        {"gpu_fp32_step_vs_cpu", test_gpu_fp32_step_vs_cpu},
        {"gpu_bf16_tracks_fp32", test_gpu_bf16_tracks_fp32},
        {"gpu_checkpoint_both_ways", test_gpu_checkpoint_both_ways},
        {"gpu_out_of_memory_says_how_much", test_gpu_out_of_memory_says_how_much},
        {"gpu_batch_grad", test_gpu_batch_grad},
        {0},
    };
    return check_main(argc, argv, cases);
}
