/* bench/bench_cuda.c - the CUDA trainer against PyTorch on the same GPU, in one run.
 *
 * For each model (GPT-2 124M: V 50257, L 12, H 12, C 768, T 1024, 524,288 tokens per step;
 * small: V 8192, L 6, H 8, C 512, T 512, 131,072 tokens per step) it times whole optimizer
 * steps of bmx's CUDA backend (bf16, `accum` micro-batches of B x T random tokens, clipping,
 * AdamW; wall clock per step, which ends with the step's synchronisation), then runs
 * bench/torch_gpt_step.py on the same model, tokens per step and micro-batch, eager and
 * torch.compile. Reports tokens/s (median step) and MFU = tokens/s * flops per token / peak,
 * flops per token = 6 N + 12 L T C (N: parameters without the position embedding; the
 * nanoGPT / llm.c estimate), peak = --peak-tflops (default 989: the H100/H200 SXM datasheet's
 * dense bf16). The micro-batch B starts at --batch and halves until the model fits.
 * Without CUDA in the build or without a GPU it prints why and exits 0 (skipped).
 *
 *   build/bench/bench_cuda [--steps 10] [--warmup 2] [--only gpt2|small] [--no-torch]
 *                          [--no-compile] [--batch 64] [--python python3]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "bmx/backend.h"
#include "bmx/cuda.h"
#include "bmx/train.h"

struct bcfg {
    const char *name;
    bmx_gpt_config g;
    long tokens_per_step;
};

struct opts {
    int steps, warmup, batch, no_torch, no_compile;
    const char *only, *python;
    double peak;
};

static double flops_per_token(const bmx_gpt_config *g, size_t nparams)
{
    double n = (double)nparams - (double)g->ctx * g->width; /* without wpe */
    return 6.0 * n + 12.0 * g->layers * (double)g->ctx * g->width;
}

/* bmx: median seconds per step; *Bout the micro-batch used, *loss the last step's. */
static int bench_bmx(const struct bcfg *c, const struct opts *o, int *Bout, double *med,
                     double *loss, size_t *np)
{
    bmx_err err = {0};
    bmx_model *m = NULL;
    bmx_trainer *t = NULL;
    bmx_backend *be = NULL;
    bmx_rng r;
    bmx_train_config tc = bmx_train_config_default();
    int T = c->g.ctx, B = o->batch;
    if (bmx_model_create(&c->g, BMX_F32, 0, &m, &err)) {
        fprintf(stderr, "bench_cuda: %s\n", err.msg);
        return -1;
    }
    bmx_rng_seed(&r, 1, 2);
    bmx_model_init(m, &r);
    *np = bmx_model_num_params(m);
    for (; B >= 1; B /= 2) {
        if ((long)B * T > c->tokens_per_step)
            continue;
        tc.accum = (int)(c->tokens_per_step / ((long)B * T));
        bmx_trainer_free(t);
        t = NULL;
        if (bmx_trainer_create(m, &tc, &t, &err) == 0 &&
            bmx_backend_cuda(t, BMX_CUDA_BF16, 0, B, T, &be, &err) == 0)
            break;
        fprintf(stderr, "bench_cuda: %s B=%d: %s\n", c->name, B, err.msg);
    }
    if (!be) {
        bmx_trainer_free(t);
        bmx_model_free(m);
        return -1;
    }
    size_t per = (size_t)B * T, n = per * (size_t)tc.accum;
    int *tok = malloc(2 * n * sizeof *tok);
    double *times = malloc((size_t)o->steps * sizeof *times);
    for (size_t i = 0; i < 2 * n; i++)
        tok[i] = (int)bmx_rng_below(&r, (uint64_t)c->g.vocab);
    int rc = 0;
    for (int s = 0; s < o->warmup + o->steps && !rc; s++) {
        double t0 = bench_now();
        bmx_step_info info;
        for (int k = 0; k < tc.accum && !rc; k++)
            rc = bmx_backend_micro(be, tok + k * per, tok + n + k * per, B, T, 1.0, NULL, NULL,
                                   NULL, &err);
        if (!rc)
            rc = bmx_backend_apply(be, &info, &err);
        if (s >= o->warmup)
            times[s - o->warmup] = bench_now() - t0;
        if (!rc)
            *loss = info.loss;
    }
    if (rc)
        fprintf(stderr, "bench_cuda: %s: %s\n", c->name, err.msg);
    else
        *med = bench_median(times, o->steps);
    *Bout = B;
    free(tok);
    free(times);
    bmx_backend_free(be);
    bmx_trainer_free(t);
    bmx_model_free(m);
    return rc ? -1 : 0;
}

/* The PyTorch peer: tokens/s of its median step, or -1 (and why on stderr). */
static double bench_torch(const struct bcfg *c, const struct opts *o, int B, const char *mode,
                          char *line, size_t cap)
{
    char cmd[1024];
    int accum = (int)(c->tokens_per_step / ((long)B * c->g.ctx));
    snprintf(cmd, sizeof cmd,
             "%s bench/torch_gpt_step.py --mode %s --layers %d --heads %d --width %d --vocab %d "
             "--seq %d --batch %d --accum %d --steps %d --warmup %d",
             o->python, mode, c->g.layers, c->g.heads, c->g.width, c->g.vocab, c->g.ctx, B, accum,
             o->steps, o->warmup + 1);
    FILE *p = popen(cmd, "r");
    line[0] = 0;
    if (!p)
        return -1;
    char buf[8192];
    while (fgets(buf, sizeof buf, p))
        if (buf[0] == '{')
            snprintf(line, cap, "%s", buf);
    int st = pclose(p);
    const char *k = strstr(line, "\"tok_s\": ");
    if (st != 0 || !k) {
        fprintf(stderr, "bench_cuda: the PyTorch peer (%s) gave no figure (status %d): %s\n", mode,
                st, line);
        return -1;
    }
    return strtod(k + 9, NULL);
}

int main(int argc, char **argv)
{
    struct opts o = {10, 2, 64, 0, 0, "", "python3", 989.0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--steps") && v)
            o.steps = atoi(v), i++;
        else if (!strcmp(a, "--warmup") && v)
            o.warmup = atoi(v), i++;
        else if (!strcmp(a, "--batch") && v)
            o.batch = atoi(v), i++;
        else if (!strcmp(a, "--only") && v)
            o.only = v, i++;
        else if (!strcmp(a, "--python") && v)
            o.python = v, i++;
        else if (!strcmp(a, "--peak-tflops") && v)
            o.peak = atof(v), i++;
        else if (!strcmp(a, "--no-torch"))
            o.no_torch = 1;
        else if (!strcmp(a, "--no-compile"))
            o.no_compile = 1;
        else {
            fprintf(stderr,
                    "usage: bench_cuda [--steps N] [--warmup N] [--batch B] [--only gpt2|small] "
                    "[--no-torch] [--no-compile] [--python PY] [--peak-tflops F]\n");
            return 2;
        }
    }
    if (o.steps < 1 || o.warmup < 0 || o.batch < 1) {
        fprintf(stderr, "bench_cuda: --steps and --batch want >= 1, --warmup >= 0\n");
        return 2;
    }
    bmx_err err = {0};
    if (!bmx_cuda_built() || bmx_cuda_available(&err) != BMX_OK) {
        printf("bench_cuda: skipped: %s\n",
               bmx_cuda_built() ? err.msg : "bmx was built without CUDA (make CUDA=1)");
        printf("{\"bench\":\"cuda\",\"skipped\":true}\n");
        return 0;
    }
    const struct bcfg cfgs[] = {
        {"gpt2-124M", {50257, 1024, 12, 12, 768}, 524288},
        {"small", {8192, 512, 6, 8, 512}, 131072},
    };
    printf("%-10s %5s %5s %12s %12s %12s %8s %8s %8s\n", "model", "B", "accum", "bmx tok/s",
           "eager tok/s", "compile tok/s", "bmx MFU", "eager", "compile");
    printf("{\"bench\":\"cuda\",\"runs\":[\n");
    int first = 1;
    for (size_t i = 0; i < sizeof cfgs / sizeof cfgs[0]; i++) {
        const struct bcfg *c = &cfgs[i];
        if (*o.only && strncmp(c->name, o.only, strlen(o.only)) != 0)
            continue;
        int B = 0;
        double med = 0, loss = 0, te = -1, tcmp = -1;
        size_t np = 0;
        if (bench_bmx(c, &o, &B, &med, &loss, &np))
            return 1;
        double tok_s = (double)c->tokens_per_step / med, fpt = flops_per_token(&c->g, np);
        char le[8192], lc[8192];
        le[0] = lc[0] = 0;
        if (!o.no_torch) {
            te = bench_torch(c, &o, B, "eager", le, sizeof le);
            if (!o.no_compile)
                tcmp = bench_torch(c, &o, B, "compile", lc, sizeof lc);
        }
        double mfu = 100 * tok_s * fpt / (o.peak * 1e12);
        fprintf(stderr, "%-10s %5d %5ld %12.0f %12.0f %12.0f %7.1f%% %7.1f%% %7.1f%%\n", c->name, B,
                c->tokens_per_step / ((long)B * c->g.ctx), tok_s, te, tcmp, mfu,
                te > 0 ? 100 * te * fpt / (o.peak * 1e12) : 0,
                tcmp > 0 ? 100 * tcmp * fpt / (o.peak * 1e12) : 0);
        printf("%s{\"model\":\"%s\",\"params\":%zu,\"B\":%d,\"T\":%d,\"tokens_per_step\":%ld,"
               "\"flops_per_token\":%.6g,\"peak_tflops\":%g,\"bmx_tok_s\":%.1f,\"bmx_mfu\":%.4f,"
               "\"bmx_loss\":%.4f,\"torch_eager_tok_s\":%.1f,\"torch_compile_tok_s\":%.1f,"
               "\"torch_eager\":%s,\"torch_compile\":%s}\n",
               first ? "" : ",", c->name, np, B, c->g.ctx, c->tokens_per_step, fpt, o.peak, tok_s,
               mfu / 100, loss, te, tcmp, *le ? le : "null\n", *lc ? lc : "null\n");
        first = 0;
    }
    printf("]}\n");
    return 0;
}
