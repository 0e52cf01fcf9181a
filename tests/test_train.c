/* Trainer and checkpoints: the schedule against hand-computed values, the step protocol,
 * an exact checkpoint round trip (training resumed from a checkpoint equals training
 * straight through, bit for bit), and refusal, by file name, of corrupt, truncated,
 * wrong-version and foreign files.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bmx/checkpoint.h"
#include "bmx/kernels.h"
#include "bmx/train.h"
#include "check.h"

static void test_schedule(void)
{
    bmx_train_config c = bmx_train_config_default();
    c.lr = 1.0, c.min_lr = 0.1, c.warmup = 4, c.total = 14;
    CHECK_NEAR(bmx_train_lr(&c, 0), 0.25, 1e-15);
    CHECK_NEAR(bmx_train_lr(&c, 3), 1.0, 1e-15);
    CHECK_NEAR(bmx_train_lr(&c, 4), 1.0, 1e-15);             /* cos(0) */
    CHECK_NEAR(bmx_train_lr(&c, 9), 0.1 + 0.9 * 0.5, 1e-15); /* half way: cos(pi/2) = 0 */
    CHECK_NEAR(bmx_train_lr(&c, 14), 0.1, 1e-15);
    CHECK_NEAR(bmx_train_lr(&c, 100), 0.1, 1e-15);
    bmx_err err = {0};
    c.accum = 0;
    CHECK(bmx_train_config_check(&c, &err) == BMX_EINVAL);
    CHECK_MSG(strstr(err.msg, "accum"), "%s", err.msg);
}

struct setup {
    bmx_model *m;
    bmx_trainer *t;
    int *tok; /* inputs [accum][B][T], targets after */
    int B, T;
};

static struct setup make(int accum)
{
    struct setup s;
    bmx_gpt_config cfg = {37, 8, 2, 2, 16};
    bmx_train_config tc = bmx_train_config_default();
    tc.lr = 3e-3, tc.warmup = 2, tc.total = 8, tc.accum = accum, tc.clip = 0.5;
    bmx_err err = {0};
    bmx_rng r;
    bmx_rng_seed(&r, 7, 0);
    CHECK_MSG(bmx_model_create(&cfg, BMX_F32, 1, &s.m, &err) == 0, "%s", err.msg);
    bmx_model_init(s.m, &r);
    CHECK_MSG(bmx_trainer_create(s.m, &tc, &s.t, &err) == 0, "%s", err.msg);
    s.B = 2, s.T = 6;
    size_t n = (size_t)accum * s.B * s.T;
    s.tok = malloc(2 * n * sizeof(int));
    for (size_t i = 0; i < 2 * n; i++)
        s.tok[i] = (int)bmx_rng_below(&r, 37);
    return s;
}

static void step(struct setup *s)
{
    bmx_err err = {0};
    size_t n = (size_t)bmx_trainer_config(s->t)->accum * s->B * s->T;
    CHECK_MSG(bmx_trainer_step(s->t, s->tok, s->tok + n, s->B, s->T, NULL, &err) == 0, "%s",
              err.msg);
}

static void drop(struct setup *s)
{
    bmx_trainer_free(s->t);
    bmx_model_free(s->m);
    free(s->tok);
}

static void test_step_protocol_and_learning(void)
{
    struct setup s = make(2);
    bmx_err err = {0};
    bmx_step_info info;
    CHECK(bmx_trainer_apply(s.t, &info, &err) == BMX_ESTATE);
    CHECK_MSG(strstr(err.msg, "micro-batches"), "%s", err.msg);
    size_t n = 2 * (size_t)s.B * s.T;
    double first = 0, last = 0;
    for (int k = 0; k < 8; k++) {
        CHECK(bmx_trainer_step(s.t, s.tok, s.tok + n, s.B, s.T, &info, &err) == 0);
        CHECK_EQ_INT(info.step, k);
        CHECK_NEAR(info.lr, bmx_train_lr(bmx_trainer_config(s.t), k), 1e-15);
        if (k == 0)
            first = info.loss;
        last = info.loss;
    }
    CHECK(last < first - 0.05); /* it learns the fixed batch */
    CHECK_EQ_INT(bmx_trainer_step_count(s.t), 8);
    drop(&s);
}

/* The optimizer step of G = 3 micro-batches uses the mean of their gradients (ALGORITHMS.md:
 * "one optimizer step on the mean of the G micro-batch gradients"): after the three
 * bmx_trainer_micro calls the gradient buffer holds (g_1 + g_2 + g_3) / 3, each g_k the
 * gradient of micro-batch k's mean token loss computed alone on a twin model. */
static void test_accum_mean(void)
{
    struct setup s = make(3), twin = make(3);
    bmx_err err = {0};
    size_t N = bmx_model_num_params(s.m), n1 = (size_t)s.B * s.T, n = 3 * n1;
    double *want = calloc(N, sizeof *want), scale = 0;
    for (int k = 0; k < 3; k++) {
        double loss;
        CHECK(bmx_model_forward(twin.m, twin.tok + k * n1, twin.tok + n + k * n1, s.B, s.T, &loss,
                                NULL, NULL, &err) == 0);
        CHECK(bmx_model_backward(twin.m, 1.0, 0, &err) == 0);
        const float *g = bmx_model_grads(twin.m);
        for (size_t i = 0; i < N; i++)
            want[i] += g[i] / 3.0;
    }
    for (int k = 0; k < 3; k++)
        CHECK(bmx_trainer_micro(s.t, s.tok + k * n1, s.tok + n + k * n1, s.B, s.T, NULL, NULL, NULL,
                                &err) == 0);
    const float *g = bmx_model_grads(s.m);
    double maxdiff = 0;
    for (size_t i = 0; i < N; i++) {
        scale = fmax(scale, fabs(want[i]));
        maxdiff = fmax(maxdiff, fabs(g[i] - want[i]));
    }
    CHECK(scale > 1e-3);
    CHECK_MSG(maxdiff <= 1e-5 * scale, "gradient buffer differs from the mean by %g (scale %g)",
              maxdiff, scale);
    /* (a sum instead of the mean would be 3 times as large and fail above) */
    CHECK(bmx_trainer_apply(s.t, NULL, &err) == 0);
    free(want);
    drop(&s);
    drop(&twin);
}

static const char *ckpt_path(void)
{
    static char p[64];
    snprintf(p, sizeof p, "/tmp/bmx_test_ckpt_%d.bin", (int)getpid());
    return p;
}

/* The gradient norm has one summation order whatever the threads: three twin trainers with
 * the same gradient (one micro-batch computed with one thread) report the same bits of
 * grad_norm when applied with 1, 2 and 2 threads, and that norm is sqrt(sum g^2) within 1e-6
 * (gradients set by hand after the micro-batch: each 4096-float chunk at its own scale,
 * 2^-30..2^30, so the double sums of the chunks round).
 * The model (466,688 parameters) spans many 4096-float chunks, so a thread-dependent
 * reduction would show. */
static void test_grad_norm_threads(void)
{
    bmx_gpt_config cfg = {500, 8, 2, 4, 128};
    bmx_train_config tc = bmx_train_config_default();
    bmx_model *m[3];
    bmx_trainer *t[3];
    bmx_err err = {0};
    int tok[2 * 2 * 8];
    bmx_rng r;
    bmx_rng_seed(&r, 11, 0);
    for (int i = 0; i < 32; i++)
        tok[i] = (int)bmx_rng_below(&r, 500);
    double norm[3];
    bmx_kernels_set_threads(1);
    for (int k = 0; k < 3; k++) {
        bmx_rng_seed(&r, 5, 0);
        CHECK_MSG(bmx_model_create(&cfg, BMX_F32, 1, &m[k], &err) == 0, "%s", err.msg);
        bmx_model_init(m[k], &r);
        CHECK_MSG(bmx_trainer_create(m[k], &tc, &t[k], &err) == 0, "%s", err.msg);
        CHECK(bmx_trainer_micro(t[k], tok, tok + 16, 2, 8, NULL, NULL, NULL, &err) == 0);
    }
    /* a gradient whose chunk sums span many binary orders, so that double sums round and
     * their order shows in the last bits */
    float *g = bmx_model_grads(m[0]);
    size_t np = bmx_model_num_params(m[0]);
    for (size_t i = 0; i < np; i++)
        g[i] = (float)ldexp(bmx_rng_double(&r) + 0.5, (int)((i / 4096 * 7919) % 61) - 30);
    for (int k = 1; k < 3; k++)
        memcpy(bmx_model_grads(m[k]), g, np * sizeof(float));
    long double want = 0;
    for (size_t i = 0; i < np; i++)
        want += (long double)g[i] * g[i];
    for (int k = 0; k < 3; k++) {
        bmx_step_info info;
        bmx_kernels_set_threads(k == 0 ? 1 : 2);
        CHECK_MSG(bmx_trainer_apply(t[k], &info, &err) == 0, "%s", err.msg);
        norm[k] = info.grad_norm;
    }
    bmx_kernels_set_threads(1);
    CHECK_NEAR(norm[0], sqrtl(want), 1e-6 * sqrtl(want));
    CHECK_MSG(memcmp(&norm[0], &norm[1], sizeof(double)) == 0, "%.17g vs %.17g", norm[0], norm[1]);
    CHECK_MSG(memcmp(&norm[1], &norm[2], sizeof(double)) == 0, "%.17g vs %.17g", norm[1], norm[2]);
    for (int k = 0; k < 3; k++) {
        bmx_trainer_free(t[k]);
        bmx_model_free(m[k]);
    }
}

static void test_roundtrip_exact(void)
{
    struct setup a = make(2), b = make(2);
    bmx_err err = {0};
    const char *path = ckpt_path();
    for (int k = 0; k < 3; k++) {
        step(&a);
        step(&b);
    }
    const char extra[] = "policy-state";
    CHECK_MSG(bmx_checkpoint_save(path, a.t, extra, sizeof extra, &err) == 0, "%s", err.msg);
    bmx_model *m2 = NULL;
    bmx_trainer *t2 = NULL;
    void *ex = NULL;
    size_t exl = 0;
    CHECK_MSG(bmx_checkpoint_load(path, 1, &m2, &t2, &ex, &exl, &err) == 0, "%s", err.msg);
    CHECK_EQ_INT(exl, sizeof extra);
    CHECK(memcmp(ex, extra, exl) == 0);
    free(ex);
    CHECK_EQ_INT(bmx_trainer_step_count(t2), 3);
    const bmx_train_config *c1 = bmx_trainer_config(t2), *c0 = bmx_trainer_config(a.t);
    CHECK(c1->lr == c0->lr && c1->min_lr == c0->min_lr && c1->warmup == c0->warmup &&
          c1->total == c0->total && c1->beta1 == c0->beta1 && c1->beta2 == c0->beta2 &&
          c1->eps == c0->eps && c1->weight_decay == c0->weight_decay && c1->clip == c0->clip &&
          c1->accum == c0->accum);
    CHECK(memcmp(bmx_model_config(m2), bmx_model_config(a.m), sizeof(bmx_gpt_config)) == 0);
    size_t np = bmx_model_num_params(a.m);
    CHECK(memcmp(bmx_model_params(m2), bmx_model_params(a.m), np * 4) == 0);
    CHECK(memcmp(bmx_trainer_moment1(t2), bmx_trainer_moment1(a.t), np * 4) == 0);
    CHECK(memcmp(bmx_trainer_moment2(t2), bmx_trainer_moment2(a.t), np * 4) == 0);
    /* Resume: two more steps from the checkpoint equal two more steps of b. */
    bmx_trainer_free(a.t);
    bmx_model_free(a.m);
    a.m = m2, a.t = t2;
    for (int k = 0; k < 2; k++) {
        step(&a);
        step(&b);
    }
    CHECK(memcmp(bmx_model_params(a.m), bmx_model_params(b.m), np * 4) == 0);
    unlink(path);
    drop(&a);
    drop(&b);
}

/* Write a valid checkpoint, damage it with fn, expect a refusal naming the file. */
static void expect_refusal(void (*damage)(const char *), const char *why)
{
    struct setup a = make(1);
    bmx_err err = {0};
    const char *path = ckpt_path();
    step(&a);
    CHECK(bmx_checkpoint_save(path, a.t, NULL, 0, &err) == 0);
    damage(path);
    bmx_model *m = NULL;
    bmx_trainer *t = NULL;
    int rc = bmx_checkpoint_load(path, 1, &m, &t, NULL, NULL, &err);
    unlink(path);
    drop(&a);
    CHECK_MSG(rc == BMX_ECORRUPT, "rc %d (%s)", rc, err.msg);
    CHECK(m == NULL && t == NULL);
    CHECK_MSG(strstr(err.msg, path), "message does not name the file: %s", err.msg);
    CHECK_MSG(strstr(err.msg, why), "message '%s' does not say '%s'", err.msg, why);
}

static void patch(const char *path, long off, const void *bytes, size_t n)
{
    FILE *f = fopen(path, "r+b");
    CHECK(f && fseek(f, off, SEEK_SET) == 0 && fwrite(bytes, 1, n, f) == n);
    fclose(f);
}

static void flip_payload(const char *path)
{
    patch(path, 176 + 1000, "\x55", 1);
}

static void truncate_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fclose(f);
    CHECK(truncate(path, n - 3) == 0);
}

static void cut_header(const char *path)
{
    CHECK(truncate(path, 100) == 0);
}

static void version_9(const char *path)
{
    unsigned char v[4] = {9, 0, 0, 0};
    patch(path, 8, v, 4);
}

static void bad_magic(const char *path)
{
    patch(path, 0, "GGUF", 4);
}

static void flip_header(const char *path)
{
    patch(path, 20, "\x7f", 1); /* ctx field */
}

static void trailing(const char *path)
{
    FILE *f = fopen(path, "ab");
    fputc(0, f);
    fclose(f);
}

/* Issue 11 item 3: a crafted configuration (its CRCs recomputed) with a huge but valid model,
 * 4096 layers of width 65536: the loader allocated the model before looking at the file's
 * size (ENOMEM, or a use-after-free in its message). The "model" section (bmx/checkpoint.h)
 * is the first: its table entry at 16, its 24 bytes right after the table's CRC. */
static void huge_config(const char *path)
{
    unsigned char h[16 + 5 * 32 + 4 + 24];
    int32_t ints[6];
    FILE *f = fopen(path, "rb");
    CHECK(f && fread(h, 1, sizeof h, f) == sizeof h);
    fclose(f);
    CHECK(bmx_le_get32(h + 12) == 5 && memcmp(h + 16, "model", 6) == 0);
    CHECK(bmx_le_get64(h + 16 + 8) == 180 && bmx_le_get64(h + 16 + 16) == 24);
    for (int i = 0; i < 6; i++)
        ints[i] = (int32_t)bmx_le_get32(h + 180 + 4 * i);
    ints[2] = 4096;  /* layers */
    ints[3] = 1;     /* heads */
    ints[4] = 65536; /* width */
    bmx_gpt_config c = {ints[0], ints[1], ints[2], ints[3], ints[4]};
    CHECK(bmx_gpt_config_check(&c, NULL) == 0);
    CHECK(bmx_gpt_num_params(&c) > ((uint64_t)1 << 45));
    for (int i = 0; i < 6; i++)
        bmx_le_put32(h + 180 + 4 * i, (uint32_t)ints[i]);
    bmx_le_put32(h + 16 + 24, bmx_crc32(0, h + 180, 24));
    bmx_le_put32(h + 176, bmx_crc32(0, h, 176));
    patch(path, 0, h, sizeof h);
}

static void test_corrupt_refused(void)
{
    expect_refusal(flip_payload, "checksum");
    expect_refusal(truncate_file, "truncated");
    expect_refusal(cut_header, "truncated");
    expect_refusal(version_9, "version 9");
    expect_refusal(bad_magic, "not a bmx checkpoint");
    expect_refusal(flip_header, "header");
    expect_refusal(trailing, "trailing");
    expect_refusal(huge_config, "truncated");
}

static void test_missing_file(void)
{
    bmx_model *m = NULL;
    bmx_trainer *t = NULL;
    bmx_err err = {0};
    CHECK(bmx_checkpoint_load("/nonexistent/dir/x.ckpt", 1, &m, &t, NULL, NULL, &err) == BMX_EIO);
    CHECK_MSG(strstr(err.msg, "/nonexistent/dir/x.ckpt"), "%s", err.msg);
    struct setup a = make(1);
    CHECK(bmx_checkpoint_save("/nonexistent/dir/x.ckpt", a.t, NULL, 0, &err) == BMX_EIO);
    CHECK_MSG(strstr(err.msg, "/nonexistent/dir/x.ckpt"), "%s", err.msg);
    drop(&a);
}

int main(int argc, char **argv)
{
    static const struct check_case cases[] = {
        {"schedule", test_schedule},
        {"step_protocol_and_learning", test_step_protocol_and_learning},
        {"accum_mean", test_accum_mean},
        {"grad_norm_threads", test_grad_norm_threads},
        {"roundtrip_exact", test_roundtrip_exact},
        {"corrupt_refused", test_corrupt_refused},
        {"missing_file", test_missing_file},
        {0}};
    return check_main(argc, argv, cases);
}
