/* The GPU model (bmx/cuda.h) against the CPU model (bmx/model.h), on random inputs.
 *
 * Without CUDA in the build, or without a usable GPU, only the error paths run and the GPU
 * cases report one skip saying why. With a GPU:
 *  - fp32: loss and per-sequence losses within 1e-5 relative of bmx_model_forward (per-token
 *    losses 2e-5), every gradient tensor within 1e-4 norm-wise (||g_gpu - g_cpu|| / ||g_cpu||)
 *    of bmx_model_backward, with a scale != 1, ignored targets, a whole ignored sequence, and
 *    B, T smaller than the sizes the model was created for;
 *  - acc = 1 adds a second micro-batch's gradient as the CPU model does;
 *  - two identical passes give identical bits (losses and gradients), fp32 and bf16;
 *  - bf16: loss within 2e-2 relative, every gradient tensor within 5e-2 norm-wise, with head
 *    size 16 (CUDA-core attention) and 64 (tensor-core attention);
 *  - a GPT-2-sized layer (C 768, H 12, T 1024, B 4) against the CPU model, fp32 then bf16:
 *    per-token losses and every gradient, which covers all heads of the attention forward
 *    and backward;
 *  - errors: sizes over the creation sizes, tokens outside the vocabulary, backward without
 *    forward, a head size over the limit, a model that does not fit in device memory.
 * Parameters are pushed away from GPT-2's initialisation so that attention is not uniform and
 * the logits are not all near zero (a wrong scale or mask then changes the results).
 */
#include <math.h>
#include <stdint.h>

#include "bmx/cuda.h"
#include "bmx/model.h"
#include "bmx/rng.h"
#include "check.h"

static int gpu_ok;
static char gpu_why[BMX_ERR_LEN + 64];

static bmx_gpt_config small_cfg(void)
{
    bmx_gpt_config c = {100, 32, 2, 4, 64}; /* V 100 (padded 128), ctx 32, L 2, H 4, C 64 */
    return c;
}

/* ---- helpers ---- */

static bmx_model *cpu_model(const bmx_gpt_config *cfg, double extra_sd, uint64_t seed)
{
    bmx_model *m = NULL;
    bmx_err err = {0};
    /* BLAS products when OpenBLAS (OpenMP) is there, plain C otherwise: either is exact. */
    if (bmx_model_create(cfg, BMX_F32, 1, &m, &err) != 0)
        CHECK_MSG(bmx_model_create(cfg, BMX_F32, 0, &m, &err) == 0, "%s", err.msg);
    bmx_rng rng;
    bmx_rng_seed(&rng, seed, 0);
    bmx_model_init(m, &rng);
    float *p = bmx_model_params(m);
    for (int id = 0; id < BMX_NTENSORS; id++) {
        bmx_tensor_info ti = bmx_model_tensor(m, id);
        size_t n = id == BMX_T_WTE ? (size_t)cfg->vocab * cfg->width : ti.count;
        for (size_t i = 0; i < n; i++)
            p[ti.offset + i] += (float)(extra_sd * bmx_rng_normal(&rng));
    }
    return m;
}

static bmx_cuda_model *gpu_model(bmx_model *cpu, int prec, int B, int T)
{
    bmx_cuda_model *g = NULL;
    bmx_err err = {0};
    CHECK_MSG(bmx_cuda_model_create(bmx_model_config(cpu), prec, 0, B, T, &g, &err) == 0, "%s",
              err.msg);
    CHECK_EQ_INT(bmx_cuda_model_num_params(g), bmx_model_num_params(cpu));
    CHECK_MSG(bmx_cuda_model_set_params(g, bmx_model_params(cpu), &err) == 0, "%s", err.msg);
    return g;
}

static void tokens(int *in, int *tg, int N, int V, uint64_t seed)
{
    bmx_rng rng;
    bmx_rng_seed(&rng, seed, 1);
    for (int i = 0; i < N; i++) {
        in[i] = (int)bmx_rng_below(&rng, (uint64_t)V);
        tg[i] = (int)bmx_rng_below(&rng, (uint64_t)V);
    }
    in[1] = in[2] = in[N - 1] = V - 1; /* repeated tokens, and the last vocabulary row */
}

/* ||a - b|| / ||b|| over n floats (0 when both are zero, 1e30 when only b is). */
static double rel_norm(const float *a, const float *b, size_t n)
{
    double d = 0, s = 0;
    for (size_t i = 0; i < n; i++) {
        double e = (double)a[i] - (double)b[i];
        d += e * e;
        s += (double)b[i] * b[i];
    }
    if (s == 0)
        return d == 0 ? 0 : 1e30;
    return sqrt(d / s);
}

/* Every gradient tensor of the GPU model within tol norm-wise of the CPU model's; padded
 * vocabulary rows exactly zero. */
static void compare_grads(bmx_model *cpu, bmx_cuda_model *gpu, double tol, const char *label)
{
    size_t np = bmx_model_num_params(cpu);
    float *gg = malloc(np * sizeof(float));
    bmx_err err = {0};
    CHECK(gg);
    CHECK_MSG(bmx_cuda_model_get_grads(gpu, gg, &err) == 0, "%s", err.msg);
    const float *gc = bmx_model_grads(cpu);
    const bmx_gpt_config *cfg = bmx_model_config(cpu);
    double worst = 0, errs[BMX_NTENSORS];
    int worst_id = 0, bad = -1;
    for (int id = 0; id < BMX_NTENSORS; id++) {
        bmx_tensor_info ti = bmx_model_tensor(cpu, id);
        errs[id] = rel_norm(gg + ti.offset, gc + ti.offset, ti.count);
        if (errs[id] > worst) {
            worst = errs[id];
            worst_id = id;
        }
        if (!(errs[id] <= tol) && bad < 0)
            bad = id;
    }
    if (bad >= 0) { /* every tensor's difference, to tell which kernel is wrong */
        printf("# %s: norm-wise gradient differences:", label);
        for (int id = 0; id < BMX_NTENSORS; id++)
            printf(" %s %.3g", bmx_model_tensor(cpu, id).name, errs[id]);
        printf("\n");
        free(gg);
        CHECK_FAILF("%s: gradient of %s differs from the CPU model's by %.3g norm-wise (bound %g)",
                    label, bmx_model_tensor(cpu, bad).name, errs[bad], tol);
    }
    bmx_tensor_info wte = bmx_model_tensor(cpu, BMX_T_WTE);
    for (size_t i = (size_t)cfg->vocab * cfg->width; i < wte.count; i++) {
        if (gg[wte.offset + i] != 0) {
            free(gg);
            CHECK_FAILF("%s: padded vocabulary row gradient %zu is not zero", label, i);
        }
    }
    printf("# %s: largest norm-wise gradient difference %.3g (%s)\n", label, worst,
           bmx_model_tensor(cpu, worst_id).name);
    free(gg);
}

struct fwd_out {
    double loss, seq[8], *tok;
};

static void run_forward(bmx_model *cpu, bmx_cuda_model *gpu, const int *in, const int *tg, int B,
                        int T, struct fwd_out *c, struct fwd_out *g)
{
    bmx_err err = {0};
    CHECK(B <= 8);
    CHECK_MSG(bmx_model_forward(cpu, in, tg, B, T, &c->loss, c->seq, c->tok, &err) == 0, "%s",
              err.msg);
    CHECK_MSG(bmx_cuda_model_forward(gpu, in, tg, B, T, &g->loss, g->seq, g->tok, &err) == 0, "%s",
              err.msg);
}

/* Loss and sequence losses within tol relative, token losses within 2 tol (relative to
 * max(1, |loss|)); the first wrong tokens are printed (which position goes wrong tells which
 * kernel is wrong). */
static void check_losses(const struct fwd_out *c, const struct fwd_out *g, int B, int N, double tol,
                         const char *label)
{
    double worst = 0;
    int nbad = 0, first_bad = -1;
    for (int i = 0; i < N && c->tok; i++) {
        double e = fabs(g->tok[i] - c->tok[i]) / (fabs(c->tok[i]) > 1 ? fabs(c->tok[i]) : 1);
        worst = e > worst ? e : worst;
        if (e > 2 * tol) {
            if (nbad < 8)
                printf("# %s: token %d (sequence %d, position %d) loss %.9g on the GPU, %.9g on "
                       "the CPU\n",
                       label, i, i / (N / B), i % (N / B), g->tok[i], c->tok[i]);
            nbad++;
            first_bad = first_bad < 0 ? i : first_bad;
        }
    }
    printf("# %s: loss %.9g (CPU %.9g), largest per-token difference %.3g\n", label, g->loss,
           c->loss, worst);
    CHECK_MSG(fabs(g->loss - c->loss) <= tol * fabs(c->loss),
              "%s: loss %.9g on the GPU, %.9g on the CPU (bound %g relative)", label, g->loss,
              c->loss, tol);
    for (int b = 0; b < B; b++)
        CHECK_MSG(fabs(g->seq[b] - c->seq[b]) <= tol * fabs(c->seq[b]),
                  "%s: sequence %d loss %.9g on the GPU, %.9g on the CPU", label, b, g->seq[b],
                  c->seq[b]);
    CHECK_MSG(nbad == 0, "%s: %d of %d token losses differ by more than %g (first: token %d)",
              label, nbad, N, 2 * tol, first_bad);
}

/* ---- cases ---- */

static void test_no_gpu_errors(void)
{
    if (gpu_ok)
        SKIP("a GPU is present: its errors are checked by gpu_errors");
    bmx_gpt_config cfg = small_cfg();
    bmx_cuda_model *m = NULL;
    bmx_err err = {0};
    int rc = bmx_cuda_model_create(&cfg, BMX_CUDA_FP32, 0, 3, 17, &m, &err);
    CHECK_EQ_INT(rc, BMX_ESTATE);
    CHECK(m == NULL);
    CHECK_EQ_INT(err.code, BMX_ESTATE);
    if (!bmx_cuda_built()) {
        CHECK_CONTAINS(err.msg, "without CUDA");
        CHECK_CONTAINS(err.msg, "make CUDA=1");
        CHECK_EQ_INT(bmx_cuda_model_bytes(&cfg, BMX_CUDA_FP32, 3, 17), 0);
        CHECK_EQ_INT(bmx_cuda_model_backward(NULL, 1.0, 0, &err), BMX_ESTATE);
        return;
    }
    /* Built with CUDA, no usable device: the reason from bmx_cuda_available. */
    CHECK_CONTAINS(err.msg, "CUDA");
    bmx_err why = {0};
    CHECK(bmx_cuda_available(&why) != 0);
    CHECK_MSG(strcmp(err.msg, why.msg) == 0, "create said something else than bmx_cuda_available");
    /* Bad arguments are refused before the device is looked for. */
    CHECK_EQ_INT(bmx_cuda_model_create(&cfg, 7, 0, 3, 17, &m, &err), BMX_EINVAL);
    CHECK_CONTAINS(err.msg, "precision 7");
    CHECK_EQ_INT(bmx_cuda_model_create(&cfg, BMX_CUDA_FP32, 0, 3, 33, &m, &err), BMX_EINVAL);
    CHECK_CONTAINS(err.msg, "T=33");
    /* The estimate covers at least parameters and gradients (fp32) and the logits. */
    bmx_model *cpu = NULL;
    CHECK_MSG(bmx_model_create(&cfg, BMX_F32, 0, &cpu, &err) == 0, "%s", err.msg);
    size_t np = bmx_model_num_params(cpu), est = bmx_cuda_model_bytes(&cfg, BMX_CUDA_FP32, 3, 17);
    bmx_model_free(cpu);
    CHECK(est >= np * 8 + (size_t)3 * 17 * 128 * 4);
    CHECK(bmx_cuda_model_bytes(&cfg, BMX_CUDA_BF16, 3, 17) >= np * 10);
}

static void test_gpu_skipped(void)
{
    SKIP("CUDA tests skipped: %s", gpu_why);
}

static void test_fp32_forward_backward(void)
{
    bmx_gpt_config cfg = small_cfg();
    int B = 3, T = 17, N = B * T;
    bmx_model *cpu = cpu_model(&cfg, 0.1, 11);
    bmx_cuda_model *gpu = gpu_model(cpu, BMX_CUDA_FP32, 4, 32); /* room for more than used */
    int in[3 * 17], tg[3 * 17];
    double tc[3 * 17], tgl[3 * 17];
    tokens(in, tg, N, cfg.vocab, 12);
    tg[0] = tg[5] = tg[T + 3] = tg[N - 1] = -1;
    struct fwd_out c = {.tok = tc}, g = {.tok = tgl};
    run_forward(cpu, gpu, in, tg, B, T, &c, &g);
    check_losses(&c, &g, B, N, 1e-5, "fp32 forward");
    bmx_err err = {0};
    CHECK_MSG(bmx_model_backward(cpu, 0.7, 0, &err) == 0, "%s", err.msg);
    CHECK_MSG(bmx_cuda_model_backward(gpu, 0.7, 0, &err) == 0, "%s", err.msg);
    compare_grads(cpu, gpu, 1e-4, "fp32 backward");
    /* A whole sequence ignored: its loss is 0 and it adds nothing. */
    for (int t = 0; t < T; t++)
        tg[T + t] = -1;
    run_forward(cpu, gpu, in, tg, B, T, &c, &g);
    CHECK(g.seq[1] == 0 && c.seq[1] == 0);
    check_losses(&c, &g, B, N, 1e-5, "fp32 forward, one sequence ignored");
    CHECK_MSG(bmx_model_backward(cpu, 1.0, 0, &err) == 0, "%s", err.msg);
    CHECK_MSG(bmx_cuda_model_backward(gpu, 1.0, 0, &err) == 0, "%s", err.msg);
    compare_grads(cpu, gpu, 1e-4, "fp32 backward, one sequence ignored");
    bmx_cuda_model_free(gpu);
    bmx_model_free(cpu);
}

/* Shapes that reach every attention path: no layers at all, head sizes 32, 48 (padded to 64)
 * and 128, T over one query block (64) and not a multiple of the key tile (32). */
static void test_fp32_shapes(void)
{
    static const struct {
        bmx_gpt_config cfg;
        int B, T;
    } sh[] = {{{77, 70, 0, 1, 32}, 2, 70},
              {{64, 130, 1, 1, 32}, 2, 130},
              {{64, 130, 1, 2, 96}, 2, 130},
              {{50, 40, 1, 1, 128}, 3, 40}};
    for (size_t k = 0; k < sizeof sh / sizeof sh[0]; k++) {
        int B = sh[k].B, T = sh[k].T, N = B * T;
        char label[96];
        snprintf(label, sizeof label, "fp32 L=%d H=%d C=%d B=%d T=%d", sh[k].cfg.layers,
                 sh[k].cfg.heads, sh[k].cfg.width, B, T);
        bmx_model *cpu = cpu_model(&sh[k].cfg, 0.1, 70 + k);
        bmx_cuda_model *gpu = gpu_model(cpu, BMX_CUDA_FP32, B, T);
        int *in = malloc(N * sizeof(int)), *tg = malloc(N * sizeof(int));
        double *tc = malloc(N * sizeof(double)), *tgl = malloc(N * sizeof(double));
        CHECK(in && tg && tc && tgl);
        tokens(in, tg, N, sh[k].cfg.vocab, 80 + k);
        tg[N / 2] = -1;
        struct fwd_out c = {.tok = tc}, g = {.tok = tgl};
        run_forward(cpu, gpu, in, tg, B, T, &c, &g);
        check_losses(&c, &g, B, N, 1e-5, label);
        bmx_err err = {0};
        CHECK_MSG(bmx_model_backward(cpu, 1.0, 0, &err) == 0, "%s", err.msg);
        CHECK_MSG(bmx_cuda_model_backward(gpu, 1.0, 0, &err) == 0, "%s", err.msg);
        compare_grads(cpu, gpu, 1e-4, label);
        free(in);
        free(tg);
        free(tc);
        free(tgl);
        bmx_cuda_model_free(gpu);
        bmx_model_free(cpu);
    }
}

static void test_fp32_accumulate(void)
{
    bmx_gpt_config cfg = small_cfg();
    int B = 2, T = 32, N = B * T;
    bmx_model *cpu = cpu_model(&cfg, 0.1, 21);
    bmx_cuda_model *gpu = gpu_model(cpu, BMX_CUDA_FP32, B, T);
    int in1[64], tg1[64], in2[64], tg2[64];
    tokens(in1, tg1, N, cfg.vocab, 22);
    tokens(in2, tg2, N, cfg.vocab, 23);
    tg2[7] = -1;
    struct fwd_out c = {0}, g = {0};
    bmx_err err = {0};
    run_forward(cpu, gpu, in1, tg1, B, T, &c, &g);
    CHECK_MSG(bmx_model_backward(cpu, 0.5, 0, &err) == 0, "%s", err.msg);
    CHECK_MSG(bmx_cuda_model_backward(gpu, 0.5, 0, &err) == 0, "%s", err.msg);
    /* Gradients after the first micro-batch alone, to see that the second one adds. */
    size_t np = bmx_model_num_params(cpu);
    float *first = malloc(np * sizeof(float)), *after = malloc(np * sizeof(float));
    CHECK(first && after);
    CHECK_MSG(bmx_cuda_model_get_grads(gpu, first, &err) == 0, "%s", err.msg);
    run_forward(cpu, gpu, in2, tg2, B, T, &c, &g);
    check_losses(&c, &g, B, N, 1e-5, "fp32 second micro-batch");
    CHECK_MSG(bmx_model_backward(cpu, 0.5, 1, &err) == 0, "%s", err.msg);
    CHECK_MSG(bmx_cuda_model_backward(gpu, 0.5, 1, &err) == 0, "%s", err.msg);
    compare_grads(cpu, gpu, 1e-4, "fp32 two micro-batches (acc = 1)");
    CHECK_MSG(bmx_cuda_model_get_grads(gpu, after, &err) == 0, "%s", err.msg);
    double moved = rel_norm(after, first, np);
    free(first);
    free(after);
    CHECK_MSG(moved > 0.1, "the second micro-batch changed the gradient by only %.3g", moved);
    bmx_cuda_model_free(gpu);
    bmx_model_free(cpu);
}

static void deterministic(bmx_gpt_config cfg, int B, int T, int prec, const char *label)
{
    int N = B * T;
    bmx_model *cpu = cpu_model(&cfg, 0.1, 31);
    bmx_cuda_model *gpu = gpu_model(cpu, prec, B, T);
    int *in = malloc(N * sizeof(int)), *tg = malloc(N * sizeof(int));
    CHECK(in && tg && B <= 8);
    tokens(in, tg, N, cfg.vocab, 32);
    size_t np = bmx_model_num_params(cpu);
    float *g1 = malloc(np * sizeof(float)), *g2 = malloc(np * sizeof(float));
    CHECK(g1 && g2);
    double l1 = 0, l2 = 0, s1[8], s2[8];
    bmx_err err = {0};
    CHECK_MSG(bmx_cuda_model_forward(gpu, in, tg, B, T, &l1, s1, NULL, &err) == 0, "%s", err.msg);
    CHECK_MSG(bmx_cuda_model_backward(gpu, 1.0, 0, &err) == 0, "%s", err.msg);
    CHECK_MSG(bmx_cuda_model_get_grads(gpu, g1, &err) == 0, "%s", err.msg);
    CHECK_MSG(bmx_cuda_model_forward(gpu, in, tg, B, T, &l2, s2, NULL, &err) == 0, "%s", err.msg);
    CHECK_MSG(bmx_cuda_model_backward(gpu, 1.0, 0, &err) == 0, "%s", err.msg);
    CHECK_MSG(bmx_cuda_model_get_grads(gpu, g2, &err) == 0, "%s", err.msg);
    int same = memcmp(g1, g2, np * sizeof(float)) == 0;
    free(g1);
    free(g2);
    free(in);
    free(tg);
    CHECK_MSG(l1 == l2 && memcmp(s1, s2, (size_t)B * sizeof(double)) == 0,
              "%s: losses %.17g and %.17g differ", label, l1, l2);
    CHECK_MSG(same, "%s: two identical backward passes gave different gradient bits", label);
    bmx_cuda_model_free(gpu);
    bmx_model_free(cpu);
}

static void test_fp32_deterministic(void)
{
    deterministic(small_cfg(), 3, 32, BMX_CUDA_FP32, "fp32");
}

static void test_bf16_deterministic(void)
{
    deterministic(small_cfg(), 3, 32, BMX_CUDA_BF16, "bf16");
}

/* Head size 64: the tensor-core attention of the bf16 path (T over two query blocks, not a
 * multiple of the key tiles). */
static bmx_gpt_config tc_cfg(void)
{
    bmx_gpt_config c = {100, 130, 2, 2, 128};
    return c;
}

static void test_bf16_tensor_cores(void)
{
    bmx_gpt_config cfg = tc_cfg();
    int B = 2, T = 130, N = B * T;
    bmx_model *cpu = cpu_model(&cfg, 0.1, 91);
    bmx_cuda_model *gpu = gpu_model(cpu, BMX_CUDA_BF16, B, T);
    int in[2 * 130], tg[2 * 130];
    tokens(in, tg, N, cfg.vocab, 92);
    tg[70] = -1;
    struct fwd_out c = {0}, g = {0};
    run_forward(cpu, gpu, in, tg, B, T, &c, &g);
    check_losses(&c, &g, B, N, 2e-2, "bf16 forward, head size 64");
    bmx_err err = {0};
    CHECK_MSG(bmx_model_backward(cpu, 1.0, 0, &err) == 0, "%s", err.msg);
    CHECK_MSG(bmx_cuda_model_backward(gpu, 1.0, 0, &err) == 0, "%s", err.msg);
    compare_grads(cpu, gpu, 5e-2, "bf16 backward, head size 64");
    bmx_cuda_model_free(gpu);
    bmx_model_free(cpu);
    deterministic(cfg, B, T, BMX_CUDA_BF16, "bf16, head size 64");
}

static void test_bf16_forward_backward(void)
{
    bmx_gpt_config cfg = small_cfg();
    int B = 3, T = 17, N = B * T;
    bmx_model *cpu = cpu_model(&cfg, 0.1, 41);
    bmx_cuda_model *gpu = gpu_model(cpu, BMX_CUDA_BF16, B, T);
    int in[3 * 17], tg[3 * 17];
    tokens(in, tg, N, cfg.vocab, 42);
    tg[3] = tg[2 * T] = -1;
    struct fwd_out c = {0}, g = {0};
    run_forward(cpu, gpu, in, tg, B, T, &c, &g);
    check_losses(&c, &g, B, N, 2e-2, "bf16 forward");
    bmx_err err = {0};
    CHECK_MSG(bmx_model_backward(cpu, 1.0, 0, &err) == 0, "%s", err.msg);
    CHECK_MSG(bmx_cuda_model_backward(gpu, 1.0, 0, &err) == 0, "%s", err.msg);
    compare_grads(cpu, gpu, 5e-2, "bf16 backward");
    /* The master parameters stay fp32: they come back bit for bit. */
    size_t np = bmx_model_num_params(cpu);
    float *p = malloc(np * sizeof(float));
    CHECK(p);
    CHECK_MSG(bmx_cuda_model_get_params(gpu, p, &err) == 0, "%s", err.msg);
    int same = memcmp(p, bmx_model_params(cpu), np * sizeof(float)) == 0;
    free(p);
    CHECK(same);
    bmx_cuda_model_free(gpu);
    bmx_model_free(cpu);
}

static void test_gpt2_size_layer(void)
{
    bmx_gpt_config cfg = {512, 1024, 1, 12, 768};
    int B = 4, T = 1024, N = B * T;
    bmx_model *cpu = cpu_model(&cfg, 0.05, 51);
    bmx_cuda_model *gpu = gpu_model(cpu, BMX_CUDA_FP32, B, T);
    int *in = malloc(N * sizeof(int)), *tg = malloc(N * sizeof(int));
    double *tc = malloc(N * sizeof(double)), *tgl = malloc(N * sizeof(double));
    CHECK(in && tg && tc && tgl);
    tokens(in, tg, N, cfg.vocab, 52);
    struct fwd_out c = {.tok = tc}, g = {.tok = tgl};
    run_forward(cpu, gpu, in, tg, B, T, &c, &g);
    check_losses(&c, &g, B, N, 1e-5, "GPT-2-sized layer, fp32 forward");
    bmx_err err = {0};
    CHECK_MSG(bmx_model_backward(cpu, 1.0, 0, &err) == 0, "%s", err.msg);
    CHECK_MSG(bmx_cuda_model_backward(gpu, 1.0, 0, &err) == 0, "%s", err.msg);
    compare_grads(cpu, gpu, 1e-4, "GPT-2-sized layer, fp32 backward");
    bmx_cuda_model_free(gpu);
    /* bf16 (the tensor-core attention at its real size) against the same CPU results. */
    gpu = gpu_model(cpu, BMX_CUDA_BF16, B, T);
    CHECK_MSG(bmx_cuda_model_forward(gpu, in, tg, B, T, &g.loss, g.seq, g.tok, &err) == 0, "%s",
              err.msg);
    check_losses(&c, &g, B, N, 2e-2, "GPT-2-sized layer, bf16 forward");
    CHECK_MSG(bmx_cuda_model_backward(gpu, 1.0, 0, &err) == 0, "%s", err.msg);
    compare_grads(cpu, gpu, 5e-2, "GPT-2-sized layer, bf16 backward");
    free(in);
    free(tg);
    free(tc);
    free(tgl);
    bmx_cuda_model_free(gpu);
    bmx_model_free(cpu);
}

static void test_gpu_errors(void)
{
    bmx_gpt_config cfg = small_cfg();
    bmx_model *cpu = cpu_model(&cfg, 0.0, 61);
    bmx_cuda_model *gpu = gpu_model(cpu, BMX_CUDA_FP32, 2, 16);
    int in[3 * 17], tg[3 * 17];
    tokens(in, tg, 3 * 17, cfg.vocab, 62);
    bmx_err err = {0};
    double loss = 0;
    CHECK_EQ_INT(bmx_cuda_model_backward(gpu, 1.0, 0, &err), BMX_ESTATE);
    CHECK_CONTAINS(err.msg, "forward");
    CHECK_EQ_INT(bmx_cuda_model_forward(gpu, in, tg, 3, 16, &loss, NULL, NULL, &err), BMX_EINVAL);
    CHECK_CONTAINS(err.msg, "at most B=2 T=16");
    CHECK_EQ_INT(bmx_cuda_model_forward(gpu, in, tg, 2, 17, &loss, NULL, NULL, &err), BMX_EINVAL);
    in[5] = cfg.vocab;
    CHECK_EQ_INT(bmx_cuda_model_forward(gpu, in, tg, 2, 16, &loss, NULL, NULL, &err), BMX_EINVAL);
    CHECK_CONTAINS(err.msg, "outside the vocabulary");
    in[5] = 1;
    CHECK_MSG(bmx_cuda_model_forward(gpu, in, tg, 2, 16, &loss, NULL, NULL, &err) == 0, "%s",
              err.msg);
    /* Fresh GPT-2-style init, random tokens: every logit near 0, the loss near log(V). */
    CHECK_NEAR(loss, log(100.0), 0.05);
    CHECK_MSG(bmx_cuda_model_backward(gpu, 1.0, 0, &err) == 0, "%s", err.msg);
    CHECK_EQ_INT(bmx_cuda_model_backward(gpu, 1.0, 0, &err), BMX_ESTATE);
    bmx_cuda_model_free(gpu);
    bmx_model_free(cpu);

    bmx_cuda_model *m = NULL;
    bmx_gpt_config wide = {100, 32, 1, 2, 512}; /* head size 256 */
    CHECK_EQ_INT(bmx_cuda_model_create(&wide, BMX_CUDA_FP32, 0, 1, 8, &m, &err), BMX_EINVAL);
    CHECK_CONTAINS(err.msg, "head size 256");
    bmx_gpt_config big = bmx_gpt_config_gpt2();
    CHECK_EQ_INT(bmx_cuda_model_create(&big, BMX_CUDA_FP32, 0, 4096, 1024, &m, &err), BMX_ENOMEM);
    CHECK_CONTAINS(err.msg, "MiB");
    CHECK(m == NULL);
}

int main(int argc, char **argv)
{
    bmx_err err = {0};
    if (!bmx_cuda_built())
        snprintf(gpu_why, sizeof gpu_why, "bmx was built without CUDA");
    else if (bmx_cuda_available(&err) != 0)
        snprintf(gpu_why, sizeof gpu_why, "no usable GPU: %s", err.msg);
    else
        gpu_ok = 1;
    static const struct check_case no_gpu[] = {
        {"no_gpu_errors", test_no_gpu_errors}, {"gpu_cases", test_gpu_skipped}, {0}};
    static const struct check_case cases[] = {{"fp32_forward_backward", test_fp32_forward_backward},
                                              {"fp32_shapes", test_fp32_shapes},
                                              {"fp32_accumulate", test_fp32_accumulate},
                                              {"fp32_deterministic", test_fp32_deterministic},
                                              {"bf16_forward_backward", test_bf16_forward_backward},
                                              {"bf16_deterministic", test_bf16_deterministic},
                                              {"bf16_tensor_cores", test_bf16_tensor_cores},
                                              {"gpu_errors", test_gpu_errors},
                                              {"gpt2_size_layer", test_gpt2_size_layer},
                                              {0}};
    return check_main(argc, argv, gpu_ok ? cases : no_gpu);
}
