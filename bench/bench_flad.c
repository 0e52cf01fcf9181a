/* bench_flad - what FLAD's gradient rewards cost on top of training.
 *
 * A GPT (4 layers, width 128, 4 heads, vocabulary 4096, rows of 64 tokens, batch 4) on the
 * fixture tasks (tests/fixtures/tasks; run from the repository root), one thread.
 *   flad_round_ms     one EXP3-FLAD round (reward AGG over the default "final" subset):
 *                     target batch fwd/bwd + copy of g_T, auxiliary batch fwd/bwd, reward,
 *                     combine, AdamW, policy update;
 *   explore_round_ms  one explore-only round with the same batch sizes (the same work minus
 *                     the reward and the policy update) - the peer;
 *   target_round_ms   one target-only round (one batch), for scale;
 *   reward_final_us / reward_all_us   bmx_flad_reward alone over the subset / every parameter.
 * Rounds are timed one at a time, FLAD, explore-only and target-only interleaved (so load
 * from other processes hits all alike); each figure is the median of 15 rounds. The last line
 * is one JSON object.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bmx/flad.h"
#include "bmx/kernels.h"

#include "bench.h"

#define BLOCK 1
#define REPS  15

static void die(const char *what, const bmx_err *e)
{
    fprintf(stderr, "bench_flad: %s: %s\n", what, e->msg);
    exit(1);
}

static bmx_task *load(const char *name)
{
    char path[256];
    bmx_task *t;
    bmx_err err = {0};
    snprintf(path, sizeof path, "tests/fixtures/tasks/%s.raw", name);
    if (bmx_task_read_raw(&t, path, &err) || bmx_task_split(t, 0.2, 0, 0, 1, &err))
        die(path, &err);
    return t;
}

static bmx_flad *make(const char *policy, const bmx_tok *tok, bmx_task *target,
                      const bmx_flad_aux *aux, int naux, bmx_model **m, bmx_trainer **tr)
{
    bmx_err err = {0};
    bmx_gpt_config c = {4096, 64, 4, 4, 128};
    if (bmx_model_create(&c, BMX_F32, 1, m, &err))
        die("model", &err);
    bmx_rng r;
    bmx_rng_seed(&r, 1, 0);
    bmx_model_init(*m, &r);
    bmx_train_config tc = bmx_train_config_default();
    tc.lr = tc.min_lr = 1e-4;
    tc.warmup = 0;
    tc.accum = 1;
    if (bmx_trainer_create(*m, &tc, tr, &err))
        die("trainer", &err);
    bmx_flad_config fc = bmx_flad_config_default();
    fc.policy = policy;
    fc.batch = 4;
    fc.T = 64;
    fc.eval_every = 1000000;
    fc.patience = 0;
    bmx_flad *f;
    if (bmx_flad_create(&f, &fc, *tr, tok, target, aux, naux, &err))
        die(policy, &err);
    return f;
}

static double block(bmx_flad *f)
{
    bmx_err err = {0};
    double t0 = bench_now();
    for (int i = 0; i < BLOCK; i++)
        if (bmx_flad_round(f, NULL, &err))
            die("round", &err);
    return (bench_now() - t0) / BLOCK;
}

int main(void)
{
    bmx_kernels_set_threads(1);
    bmx_task *color = load("fx-color"), *sound = load("fx-sound"), *count = load("fx-count");
    /* a small tokenizer on the fixture texts; the model's vocabulary is larger */
    char text[1 << 15];
    size_t len = 0;
    for (size_t i = 0; i < bmx_task_count(sound); i++) {
        char *p;
        bmx_err e;
        if (bmx_task_prompt(sound, i, 2, &p, &e) == 0) {
            len += (size_t)snprintf(text + len, sizeof text - len, "%s\n", p);
            free(p);
        }
    }
    bmx_tok *tok;
    bmx_err err = {0};
    if (bmx_tok_train(&tok, text, len, 300, &err))
        die("tok", &err);
    bmx_flad_aux aux[6] = {{sound, 0}, {sound, 1}, {sound, 2}, {count, 0}, {count, 1}, {count, 2}};
    bmx_model *m1, *m2, *m3;
    bmx_trainer *t1, *t2, *t3;
    bmx_flad *fl = make("exp3", tok, color, aux, 6, &m1, &t1);
    bmx_flad *ex = make("explore-only", tok, color, aux, 6, &m2, &t2);
    bmx_flad *to = make("target-only", tok, color, NULL, 0, &m3, &t3);
    double a[REPS], b[REPS], c[REPS], rf[REPS], ra[REPS];
    block(fl);
    block(ex);
    for (int k = 0; k < REPS; k++) {
        a[k] = block(fl);
        b[k] = block(ex);
        c[k] = block(to);
    }
    size_t nr, N = bmx_model_num_params(m1), sub = 0;
    const bmx_flad_range *rg = bmx_flad_ranges(fl, &nr);
    for (size_t i = 0; i < nr; i++)
        sub += rg[i].count;
    bmx_flad_range all = {0, N};
    const float *g = bmx_model_grads(m1), *gt = bmx_flad_target_grad(fl);
    volatile double sink = 0;
    for (int k = 0; k < REPS; k++) {
        double t0 = bench_now();
        for (int i = 0; i < 20; i++)
            sink += bmx_flad_reward(BMX_REWARD_AGG, rg, nr, g, gt);
        rf[k] = (bench_now() - t0) / 20;
        t0 = bench_now();
        for (int i = 0; i < 20; i++)
            sink += bmx_flad_reward(BMX_REWARD_AGG, &all, 1, g, gt);
        ra[k] = (bench_now() - t0) / 20;
    }
    (void)sink;
    double fm = bench_median(a, REPS), em = bench_median(b, REPS), tm = bench_median(c, REPS);
    double rfm = bench_median(rf, REPS), ram = bench_median(ra, REPS);
    printf("params %zu, reward subset %zu (%.1f%%)\n", N, sub, 100.0 * sub / N);
    printf("FLAD round %.2f ms, explore-only round %.2f ms (FLAD overhead %+.2f%%), target-only "
           "round %.2f ms\n",
           1e3 * fm, 1e3 * em, 100 * (fm / em - 1), 1e3 * tm);
    printf("reward alone: %.1f us over the subset (%.3f%% of a FLAD round), %.1f us over all "
           "parameters\n",
           1e6 * rfm, 100 * rfm / fm, 1e6 * ram);
    printf("{\"bench\":\"flad\",\"params\":%zu,\"subset\":%zu,\"flad_round_ms\":%.4f,"
           "\"explore_round_ms\":%.4f,\"target_round_ms\":%.4f,\"flad_overhead_pct\":%.3f,"
           "\"reward_final_us\":%.3f,\"reward_all_us\":%.3f,\"reward_vs_round_pct\":%.4f}\n",
           N, sub, 1e3 * fm, 1e3 * em, 1e3 * tm, 100 * (fm / em - 1), 1e6 * rfm, 1e6 * ram,
           100 * rfm / fm);
    bmx_flad_free(fl);
    bmx_flad_free(ex);
    bmx_flad_free(to);
    bmx_trainer_free(t1);
    bmx_trainer_free(t2);
    bmx_trainer_free(t3);
    bmx_model_free(m1);
    bmx_model_free(m2);
    bmx_model_free(m3);
    bmx_task_free(color);
    bmx_task_free(sound);
    bmx_task_free(count);
    bmx_tok_free(tok);
    return 0;
}
