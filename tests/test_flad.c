/* tests/test_flad.c - rank classification (against log-softmax of the model's logits) and the
 * FLAD loop: rewards on hand-made gradients through the loop's reward function, the target
 * gradient against a direct computation, an auxiliary set identical to the target, target-only
 * never touching auxiliary data, the exploit-only scoring pass, resume exactness, errors; the
 * loop over a trainer backend without a host gradient buffer (the CUDA backend's path: copies)
 * against the CPU backend, bit for bit, with the backend calls counted; on a GPU (skipped
 * without one) the loop on the CUDA backend (fp32) against the CPU's.
 * Tiny models (2 layers, width 16) and the fixture tasks of tests/fixtures/tasks. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bmx/backend.h"
#include "bmx/cuda.h"
#include "bmx/eval.h"
#include "bmx/checkpoint.h"
#include "bmx/flad.h"
#include "bmx/kernels.h"
#include "bmx/tasks.h"
#include "check.h"

#define FX "tests/fixtures/tasks"

static bmx_tok *tok;
static bmx_task *tcolor, *tsound, *tcount;

static bmx_task *load(const char *name)
{
    char path[256];
    bmx_task *t;
    bmx_err err = {0};
    snprintf(path, sizeof path, FX "/%s.raw", name);
    if (bmx_task_read_raw(&t, path, &err) || bmx_task_split(t, 0.2, 0, 0, 1, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        abort();
    }
    return t;
}

static void setup(void)
{
    if (tok)
        return;
    tcolor = load("fx-color");
    tsound = load("fx-sound");
    tcount = load("fx-count");
    /* a tokenizer trained on every prompt and answer of the fixtures */
    size_t cap = 1 << 16, len = 0;
    char *text = malloc(cap);
    bmx_task *all[3] = {tcolor, tsound, tcount};
    for (int k = 0; k < 3; k++)
        for (size_t i = 0; i < bmx_task_count(all[k]); i++) {
            char *p;
            bmx_err err;
            const bmx_task_example *e = bmx_task_example_at(all[k], i);
            if (bmx_task_prompt(all[k], i, 2, &p, &err))
                abort();
            len += (size_t)snprintf(text + len, cap - len, "%s %s\n", p, e->choices[e->correct]);
            free(p);
        }
    bmx_err err = {0};
    if (bmx_tok_train(&tok, text, len, 320, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        abort();
    }
    free(text);
}

static bmx_model *tiny_model(uint64_t seed)
{
    bmx_gpt_config c = {(int)bmx_tok_vocab_size(tok), 48, 2, 2, 16};
    bmx_model *m;
    bmx_err err = {0};
    CHECK_MSG(bmx_model_create(&c, BMX_F32, 0, &m, &err) == 0, "%s", err.msg);
    bmx_rng r;
    bmx_rng_seed(&r, seed, 0);
    bmx_model_init(m, &r);
    return m;
}

static bmx_trainer *tiny_trainer(bmx_model *m)
{
    bmx_train_config tc = bmx_train_config_default();
    tc.lr = tc.min_lr = 3e-3;
    tc.warmup = 0;
    tc.total = 1000000;
    tc.accum = 1;
    bmx_trainer *t;
    bmx_err err = {0};
    CHECK_MSG(bmx_trainer_create(m, &tc, &t, &err) == 0, "%s", err.msg);
    return t;
}

static bmx_flad_config tiny_cfg(const char *policy)
{
    bmx_flad_config c = bmx_flad_config_default();
    c.policy = policy;
    c.batch = 3;
    c.T = 40;
    c.eval_every = 2;
    c.patience = 0;
    c.seed = 11;
    return c;
}

/* ---- scoring ---- */

static void test_pack(void)
{
    uint32_t p[5] = {10, 11, 12, 13, 14}, a[2] = {20, 21};
    int in[6], tg[6];
    /* fits: seq 10 11 12 13 14 20 21 (7 tokens) in T = 6: inputs seq[0..5], targets seq[1..6] */
    CHECK_EQ_INT(bmx_eval_pack(p, 5, a, 2, 6, 99, in, tg), 2);
    int ein[6] = {10, 11, 12, 13, 14, 20}, etg[6] = {-1, -1, -1, -1, 20, 21};
    CHECK(!memcmp(in, ein, sizeof in) && !memcmp(tg, etg, sizeof tg));
    /* too long for T = 4: the prompt loses its first tokens -> 12 13 14 20 21 */
    CHECK_EQ_INT(bmx_eval_pack(p, 5, a, 2, 4, 99, in, tg), 2);
    int fin[4] = {12, 13, 14, 20}, ftg[4] = {-1, -1, 20, 21};
    CHECK(!memcmp(in, fin, sizeof fin) && !memcmp(tg, ftg, sizeof ftg));
    /* short: padded */
    CHECK_EQ_INT(bmx_eval_pack(p, 1, a, 1, 4, 99, in, tg), 1);
    int gin[4] = {10, 99, 99, 99}, gtg[4] = {20, -1, -1, -1};
    CHECK(!memcmp(in, gin, sizeof gin) && !memcmp(tg, gtg, sizeof gtg));
    CHECK_EQ_INT(bmx_eval_pack(p, 1, a, 0, 4, 99, in, tg), -1);
}

static void test_scores_direct(void)
{
    setup();
    bmx_model *m = tiny_model(5);
    bmx_err err = {0};
    const char *prompt = "What does the cow say?\nQuestion: Which sound fits?\nAnswer:";
    const char *choices[3] = {"moo", "quack", "hoot"};
    double sum[3], mean[3];
    CHECK_MSG(bmx_eval_choices(m, tok, prompt, choices, 3, 40, sum, mean, &err) == 0, "%s",
              err.msg);
    int V = bmx_model_vocab_padded(m), Vr = bmx_model_config(m)->vocab;
    for (int c = 0; c < 3; c++) {
        /* direct: tokenize, forward without targets, log-softmax over the real vocabulary */
        uint32_t *pi = NULL, *ai = NULL;
        size_t np = 0, na = 0, cp = 0, ca = 0;
        char ans[32];
        snprintf(ans, sizeof ans, " %s", choices[c]);
        CHECK(bmx_tok_encode(tok, prompt, strlen(prompt), &pi, &np, &cp, &err) == 0);
        CHECK(bmx_tok_encode(tok, ans, strlen(ans), &ai, &na, &ca, &err) == 0);
        int n = (int)(np + na);
        CHECK(n - 1 <= 48);
        int *in = malloc(sizeof(int) * (size_t)n);
        for (size_t i = 0; i < np; i++)
            in[i] = (int)pi[i];
        for (size_t i = 0; i < na; i++)
            in[np + i] = (int)ai[i];
        CHECK(bmx_model_forward(m, in, NULL, 1, n - 1, NULL, NULL, NULL, &err) == 0);
        const float *lg = bmx_model_logits(m);
        double s = 0;
        for (size_t k = 0; k < na; k++) {
            int pos = (int)(np + k) - 1;
            const float *row = lg + (size_t)pos * V;
            double mx = -INFINITY, z = 0;
            for (int v = 0; v < Vr; v++)
                mx = row[v] > mx ? row[v] : mx;
            for (int v = 0; v < Vr; v++)
                z += exp(row[v] - mx);
            s += row[ai[k]] - mx - log(z);
        }
        CHECK_NEAR(sum[c], s, 1e-4);
        CHECK_NEAR(mean[c], s / (double)na, 1e-4);
        free(in);
        free(pi);
        free(ai);
    }
    /* accuracy = the share of examples whose correct choice has the top summed score */
    size_t idx[12];
    for (int i = 0; i < 12; i++)
        idx[i] = (size_t)i;
    double acc_s, acc_m;
    CHECK(bmx_eval_task(m, tok, tsound, idx, 12, 0, 40, &acc_s, &acc_m, &err) == 0);
    int hits = 0, hitm = 0;
    for (int i = 0; i < 12; i++) {
        const bmx_task_example *e = bmx_task_example_at(tsound, idx[i]);
        char *p;
        CHECK(bmx_task_prompt(tsound, idx[i], 0, &p, &err) == 0);
        double s3[3], m3[3];
        CHECK(bmx_eval_choices(m, tok, p, e->choices, 3, 40, s3, m3, &err) == 0);
        free(p);
        int bs = 0, bm = 0;
        for (int c = 1; c < 3; c++) {
            bs = s3[c] > s3[bs] ? c : bs;
            bm = m3[c] > m3[bm] ? c : bm;
        }
        hits += bs == e->correct;
        hitm += bm == e->correct;
    }
    CHECK_NEAR(acc_s, hits / 12.0, 1e-12);
    CHECK_NEAR(acc_m, hitm / 12.0, 1e-12);
    bmx_model_free(m);
}

/* ---- rewards ---- */

static void test_reward_values(void)
{
    /* subset = elements [1,3) and [5,6) of 7; the others must not count */
    bmx_flad_range r[2] = {{1, 2}, {5, 1}};
    float ga[7] = {100, 1, 0, 50, 50, 2, -9}, gt[7] = {-100, 1, 1, 7, 7, 0, 9};
    /* a = (1, 0, 2), b = (1, 1, 0): <a,b> = 1, |a|^2 = 5, |b|^2 = 2 */
    double ga_r = 1 / sqrt(10.0), gms = 2 * sqrt(5.0) * sqrt(2.0) / 7.0;
    CHECK_NEAR(bmx_flad_reward(BMX_REWARD_GA, r, 2, ga, gt), ga_r, 1e-12);
    CHECK_NEAR(bmx_flad_reward(BMX_REWARD_GMS, r, 2, ga, gt), gms, 1e-12);
    CHECK_NEAR(bmx_flad_reward(BMX_REWARD_AGG, r, 2, ga, gt), (1 + ga_r) / 2 + gms, 1e-12);
    /* opposite vectors: GA = -1, GMS = 1, AGG = 1 */
    float na[7] = {0, -1, 0, 0, 0, -2, 0};
    float pa[7] = {0, 1, 0, 0, 0, 2, 0};
    CHECK_NEAR(bmx_flad_reward(BMX_REWARD_GA, r, 2, na, pa), -1, 1e-12);
    CHECK_NEAR(bmx_flad_reward(BMX_REWARD_AGG, r, 2, na, pa), 1, 1e-12);
    float z[7] = {5, 0, 0, 5, 5, 0, 5};
    /* zero norm inside the subset, either side: GA = GMS = AGG = 0 (not AGG = 1/2) */
    const bmx_reward kinds[3] = {BMX_REWARD_GA, BMX_REWARD_GMS, BMX_REWARD_AGG};
    for (int k = 0; k < 3; k++) {
        CHECK_EQ_INT(bmx_flad_reward(kinds[k], r, 2, z, gt) == 0, 1);
        CHECK_EQ_INT(bmx_flad_reward(kinds[k], r, 2, gt, z) == 0, 1);
        CHECK_EQ_INT(bmx_flad_reward(kinds[k], r, 2, z, z) == 0, 1);
    }
}

static void test_param_subset(void)
{
    setup();
    bmx_model *m = tiny_model(1);
    bmx_err err = {0};
    bmx_flad_range *r;
    size_t n;
    CHECK(bmx_flad_parse_params(m, "final", &r, &n, &err) == 0);
    CHECK_EQ_INT((int)n, BMX_NTENSORS - 1); /* every tensor but wpe */
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += r[i].count;
    bmx_tensor_info wte = bmx_model_tensor(m, BMX_T_WTE), fc = bmx_model_tensor(m, BMX_T_FCW);
    CHECK(r[0].offset == wte.offset && r[0].count == wte.count);
    /* fcw of layer 1 of 2: the second half */
    int found = 0;
    for (size_t i = 0; i < n; i++)
        found |= r[i].offset == fc.offset + fc.count / 2 && r[i].count == fc.count / 2;
    CHECK(found);
    /* per layer C: every layer tensor halved (2 layers) + wte + lnf */
    size_t want = wte.count + 2 * 16;
    for (int id = BMX_T_LN1W; id <= BMX_T_FCPROJB; id++)
        want += bmx_model_tensor(m, id).count / 2;
    CHECK_EQ_INT((int)total, (int)want);
    free(r);
    CHECK(bmx_flad_parse_params(m, "all", &r, &n, &err) == 0);
    CHECK(n == 1 && r[0].count == bmx_model_num_params(m));
    free(r);
    CHECK(bmx_flad_parse_params(m, "lnfw,wte", &r, &n, &err) == 0);
    CHECK_EQ_INT((int)n, 2);
    free(r);
    CHECK(bmx_flad_parse_params(m, "lnfw,bogus", &r, &n, &err) == BMX_EINVAL);
    CHECK_CONTAINS(err.msg, "bogus");
    bmx_model_free(m);
}

/* ---- the loop ---- */

static void test_target_grad_direct(void)
{
    setup();
    bmx_model *m = tiny_model(2), *m2 = tiny_model(2);
    bmx_trainer *tr = tiny_trainer(m);
    bmx_flad_aux aux[2] = {{tsound, 0}, {tcount, 1}};
    bmx_flad_config c = tiny_cfg("explore-only");
    bmx_flad *f;
    bmx_err err = {0};
    CHECK_MSG(bmx_flad_create(&f, &c, tr, tok, tcolor, aux, 2, &err) == 0, "%s", err.msg);
    size_t N = bmx_model_num_params(m);
    for (int round = 0; round < 3; round++) {
        memcpy(bmx_model_params(m2), bmx_model_params(m), N * sizeof(float));
        bmx_flad_info in;
        CHECK_MSG(bmx_flad_round(f, &in, &err) == 0, "%s", err.msg);
        const int *ti, *tt;
        const size_t *idx = bmx_flad_last_target(f, &ti, &tt);
        /* the rows are the packed prompts (template 0) + correct answers of few-shot train examples
         */
        size_t *ftr, *fva, nt, nv;
        CHECK(bmx_task_fewshot(tcolor, 0, &ftr, &nt, &fva, &nv, &err) == 0);
        for (int b = 0; b < 3; b++) {
            int inside = 0;
            for (size_t k = 0; k < nt; k++)
                inside |= ftr[k] == idx[b];
            CHECK(inside);
            const bmx_task_example *e = bmx_task_example_at(tcolor, idx[b]);
            char *p;
            int rin[40], rtg[40];
            CHECK(bmx_task_prompt(tcolor, idx[b], 0, &p, &err) == 0);
            CHECK(bmx_eval_pack_text(tok, p, e->choices[e->correct], 40, rin, rtg, NULL, &err) ==
                  0);
            free(p);
            CHECK(!memcmp(rin, ti + b * 40, sizeof rin) && !memcmp(rtg, tt + b * 40, sizeof rtg));
        }
        free(ftr);
        free(fva);
        /* the gradient of the mean answer-token loss at the pre-round parameters */
        double loss;
        CHECK(bmx_model_forward(m2, ti, tt, 3, 40, &loss, NULL, NULL, &err) == 0);
        CHECK(bmx_model_backward(m2, 1.0, 0, &err) == 0);
        CHECK_NEAR(loss, in.target_loss, 0);
        const float *g = bmx_model_grads(m2), *gt = bmx_flad_target_grad(f);
        size_t diff = 0;
        double nz = 0;
        for (size_t i = 0; i < N; i++) {
            diff += g[i] != gt[i];
            nz += fabs(g[i]);
        }
        CHECK_EQ_INT((int)diff, 0);
        CHECK(nz > 0);
    }
    bmx_flad_free(f);
    bmx_trainer_free(tr);
    bmx_model_free(m);
    bmx_model_free(m2);
}

/* A task of one example repeated (distinct groups): every batch of it is the same rows. */
static bmx_task *same_task(const char *name)
{
    char path[] = "/tmp/bmx_test_flad_same_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fprintf(f, "BMXRAW 1\nname\t%s\nquestion\tWhich sound?\nlabels\tmoo\toink\n", name);
    for (int i = 0; i < 80; i++)
        fprintf(f, "ex\tg%d\t0\tThe cow says\n", i);
    fclose(f);
    bmx_task *t;
    bmx_err err = {0};
    CHECK_MSG(bmx_task_read_raw(&t, path, &err) == 0, "%s", err.msg);
    CHECK(bmx_task_split(t, 0.2, 0, 0, 1, &err) == 0);
    remove(path);
    return t;
}

static void test_identical_aux_max_reward(void)
{
    setup();
    bmx_task *target = same_task("same"), *copy = same_task("same");
    const bmx_reward kinds[3] = {BMX_REWARD_GA, BMX_REWARD_GMS, BMX_REWARD_AGG};
    const double want[3] = {1, 1, 2};
    for (int k = 0; k < 3; k++) {
        bmx_model *m = tiny_model(3);
        bmx_trainer *tr = tiny_trainer(m);
        bmx_flad_aux aux[1] = {{copy, 0}};
        bmx_flad_config c = tiny_cfg("exp3");
        c.reward = kinds[k];
        bmx_flad *f;
        bmx_err err = {0};
        CHECK_MSG(bmx_flad_create(&f, &c, tr, tok, target, aux, 1, &err) == 0, "%s", err.msg);
        for (int r = 0; r < 2; r++) {
            bmx_flad_info in;
            CHECK(bmx_flad_round(f, &in, &err) == 0);
            CHECK_EQ_INT(in.arm, 0);
            CHECK_NEAR(in.reward, want[k], 1e-9);
        }
        bmx_flad_free(f);
        bmx_trainer_free(tr);
        bmx_model_free(m);
    }
    bmx_task_free(target);
    bmx_task_free(copy);
}

static void test_target_only_no_aux(void)
{
    setup();
    bmx_model *m1 = tiny_model(4), *m2 = tiny_model(4);
    bmx_trainer *t1 = tiny_trainer(m1), *t2 = tiny_trainer(m2);
    bmx_flad_aux aux[2] = {{tsound, 0}, {tcount, 2}};
    bmx_flad_config c = tiny_cfg("target-only");
    bmx_flad *f1, *f2;
    bmx_err err = {0};
    CHECK(bmx_flad_create(&f1, &c, t1, tok, tcolor, aux, 2, &err) == 0);
    CHECK(bmx_flad_create(&f2, &c, t2, tok, tcolor, NULL, 0, &err) == 0);
    CHECK(bmx_flad_mix(f1) == NULL);
    for (int r = 0; r < 4; r++) {
        bmx_flad_info a, b;
        CHECK(bmx_flad_round(f1, &a, &err) == 0);
        CHECK(bmx_flad_round(f2, &b, &err) == 0);
        CHECK_EQ_INT(a.arm, -1);
        CHECK(isnan(a.aux_loss) && isnan(a.reward));
    }
    CHECK_EQ_INT((int)bmx_flad_aux_batches(f1), 0);
    CHECK(bmx_flad_arm_counts(f1)[0] == 0 && bmx_flad_arm_counts(f1)[1] == 0);
    /* with or without an auxiliary pool: the same parameters, bit for bit */
    CHECK(!memcmp(bmx_model_params(m1), bmx_model_params(m2), bmx_model_num_params(m1) * 4));
    /* and training moved them */
    bmx_model *m0 = tiny_model(4);
    CHECK(memcmp(bmx_model_params(m1), bmx_model_params(m0), bmx_model_num_params(m1) * 4));
    bmx_model_free(m0);
    bmx_flad_free(f1);
    bmx_flad_free(f2);
    bmx_trainer_free(t1);
    bmx_trainer_free(t2);
    bmx_model_free(m1);
    bmx_model_free(m2);
}

static void test_exploit_scoring_pass(void)
{
    setup();
    bmx_model *m = tiny_model(6);
    bmx_trainer *tr = tiny_trainer(m);
    bmx_flad_aux aux[3] = {{tsound, 0}, {tcount, 0}, {tcount, 1}};
    bmx_flad_config c = tiny_cfg("exploit-only");
    bmx_flad *f;
    bmx_err err = {0};
    CHECK(bmx_flad_create(&f, &c, tr, tok, tcolor, aux, 3, &err) == 0);
    bmx_flad_info in;
    CHECK(bmx_flad_round(f, &in, &err) == 0);
    /* every arm scored once, then one training draw */
    CHECK_EQ_INT((int)bmx_flad_aux_batches(f), 4);
    const double *scores = bmx_mix_estimates(bmx_flad_mix(f)), *p = bmx_mix_probs(bmx_flad_mix(f));
    double pos = 0;
    for (int a = 0; a < 3; a++)
        pos += scores[a] > 0 ? scores[a] : 0;
    for (int a = 0; a < 3; a++)
        CHECK_NEAR(p[a], (scores[a] > 0 ? scores[a] : 0) / pos, 1e-12); /* AGG > 0 always */
    CHECK(bmx_flad_round(f, &in, &err) == 0);
    CHECK_EQ_INT((int)bmx_flad_aux_batches(f), 5);
    bmx_flad_free(f);
    bmx_trainer_free(tr);
    bmx_model_free(m);
}

static void test_resume_exact(void)
{
    setup();
    const char *policies[2] = {"exp3", "ucb1"};
    for (int pi = 0; pi < 2; pi++) {
        bmx_flad_aux aux[3] = {{tsound, 0}, {tcount, 0}, {tsound, 2}};
        bmx_flad_config c = tiny_cfg(policies[pi]);
        bmx_err err = {0};
        /* straight: 6 rounds */
        bmx_model *ma = tiny_model(8);
        bmx_trainer *ta = tiny_trainer(ma);
        bmx_flad *fa;
        CHECK(bmx_flad_create(&fa, &c, ta, tok, tcolor, aux, 3, &err) == 0);
        for (int r = 0; r < 6; r++)
            CHECK(bmx_flad_round(fa, NULL, &err) == 0);
        /* 3 rounds, checkpoint, a fresh process's worth of objects, 3 more */
        bmx_model *mb = tiny_model(8);
        bmx_trainer *tb = tiny_trainer(mb);
        bmx_flad *fb;
        CHECK(bmx_flad_create(&fb, &c, tb, tok, tcolor, aux, 3, &err) == 0);
        for (int r = 0; r < 3; r++)
            CHECK(bmx_flad_round(fb, NULL, &err) == 0);
        bmx_ckpt_writer *w = NULL;
        CHECK(bmx_ckpt_writer_create(&w, &err) == 0 && bmx_ckpt_add_trainer(w, tb, &err) == 0);
        CHECK_MSG(bmx_flad_save_sections(fb, w, &err) == 0, "%s", err.msg);
        char path[] = "/tmp/bmx_test_flad_ckpt_XXXXXX";
        int fd = mkstemp(path);
        CHECK(fd >= 0);
        CHECK_MSG(bmx_ckpt_save(w, path, &err) == 0, "%s", err.msg);
        bmx_ckpt_writer_free(w);
        bmx_flad_free(fb);
        bmx_trainer_free(tb);
        bmx_model_free(mb);
        bmx_model *mc;
        bmx_trainer *tc;
        bmx_ckpt_reader *rd = NULL;
        CHECK_MSG(bmx_checkpoint_load(path, 0, &mc, &tc, NULL, NULL, &err) == 0, "%s", err.msg);
        bmx_flad *fc;
        CHECK(bmx_flad_create(&fc, &c, tc, tok, tcolor, aux, 3, &err) == 0);
        CHECK(bmx_ckpt_open(path, &rd, &err) == 0);
        CHECK_MSG(bmx_flad_load_sections(fc, rd, &err) == 0, "%s", err.msg);
        bmx_ckpt_close(rd);
        /* a corrupted state is refused: a flipped byte in the last section (flad.bst) */
        FILE *fp = fopen(path, "r+b");
        CHECK(fp && fseek(fp, -5, SEEK_END) == 0);
        int byte = fgetc(fp);
        CHECK(fseek(fp, -5, SEEK_END) == 0 && fputc(byte ^ 1, fp) != EOF && fclose(fp) == 0);
        CHECK(bmx_ckpt_open(path, &rd, &err) == 0);
        CHECK(bmx_flad_load_sections(fc, rd, &err) == BMX_ECORRUPT && strstr(err.msg, path));
        bmx_ckpt_close(rd);
        remove(path);
        close(fd);
        CHECK_EQ_INT((int)bmx_flad_rounds(fc), 3);
        for (int r = 0; r < 3; r++)
            CHECK(bmx_flad_round(fc, NULL, &err) == 0);
        size_t N = bmx_model_num_params(ma);
        CHECK(!memcmp(bmx_model_params(ma), bmx_model_params(mc), N * 4));
        CHECK(!memcmp(bmx_mix_probs(bmx_flad_mix(fa)), bmx_mix_probs(bmx_flad_mix(fc)), 3 * 8));
        CHECK(!memcmp(bmx_flad_arm_counts(fa), bmx_flad_arm_counts(fc), 3 * sizeof(long)));
        /* K = 3: exp3 mixes from round 4 (3 ln 3 = 3.3), ucb1 is one-hot in every round */
        CHECK_EQ_INT((int)bmx_flad_nonuniform_rounds(fa), pi == 0 ? 3 : 6);
        CHECK_EQ_INT((int)bmx_flad_nonuniform_rounds(fc), pi == 0 ? 3 : 6);
        long ra, rc;
        CHECK(bmx_flad_best_val(fa, &ra) == bmx_flad_best_val(fc, &rc) && ra == rc);
        double sa, sc;
        CHECK(bmx_flad_finish(fa, &sa, NULL, &err) == 0);
        CHECK(bmx_flad_finish(fc, &sc, NULL, &err) == 0);
        CHECK(sa == sc);
        bmx_flad_free(fa);
        bmx_flad_free(fc);
        bmx_trainer_free(ta);
        bmx_trainer_free(tc);
        bmx_model_free(ma);
        bmx_model_free(mc);
    }
}

/* Pack the rows of examples idx[0..B) of task t, template tmpl (correct answers). */
static void pack_rows(const bmx_task *t, int tmpl, const size_t *idx, int B, int *in, int *tg)
{
    bmx_err err = {0};
    for (int b = 0; b < B; b++) {
        const bmx_task_example *e = bmx_task_example_at(t, idx[b]);
        char *p;
        CHECK(bmx_task_prompt(t, idx[b], tmpl, &p, &err) == 0);
        CHECK(bmx_eval_pack_text(tok, p, e->choices[e->correct], 40, in + b * 40, tg + b * 40, NULL,
                                 &err) == 0);
        free(p);
    }
}

/* G = 3 auxiliary draws per round (ALGORITHMS.md 2): each drawn from the round's pi, rewarded
 * with its own gradient against g_T, and the step is AdamW on (g_T + g_1 + g_2 + g_3) / 4.
 * Replayed by hand on a twin model: the same batches (the run's generator, stream 1: the
 * target batch, then each draw's batch), the gradients one by one, their mean, one step. */
static void test_aux_draws(void)
{
    setup();
    enum { G = 3, B = 3, T = 40 };
    bmx_flad_aux aux[3] = {{tsound, 0}, {tcount, 0}, {tcount, 1}};
    bmx_model *m = tiny_model(12), *m2 = tiny_model(12);
    bmx_trainer *tr = tiny_trainer(m), *t2 = tiny_trainer(m2);
    bmx_flad_config c = tiny_cfg("exp3");
    c.aux_draws = G;
    c.eval_every = 100;
    bmx_flad *f;
    bmx_err err = {0};
    CHECK_MSG(bmx_flad_create(&f, &c, tr, tok, tcolor, aux, 3, &err) == 0, "%s", err.msg);
    size_t N = bmx_model_num_params(m), *ftr, *fva, nt, nv, *aidx[3], an[3];
    CHECK(bmx_task_fewshot(tcolor, 0, &ftr, &nt, &fva, &nv, &err) == 0);
    for (int a = 0; a < 3; a++)
        CHECK(bmx_task_split_indices(aux[a].task, BMX_SPLIT_TRAIN, &aidx[a], &an[a], &err) == 0);
    bmx_rng r;
    bmx_rng_seed(&r, c.seed, 1);
    float *gt = malloc(N * 4), *sum = malloc(N * 4);
    int tin[B * T], ttg[B * T], ain[B * T], atg[B * T];
    double R[3] = {0, 0, 0};
    for (int round = 1; round <= 2; round++) {
        const double *pi = bmx_mix_probs(bmx_flad_mix(f));
        double p0[3] = {pi[0], pi[1], pi[2]};
        bmx_flad_info in;
        CHECK_MSG(bmx_flad_round(f, &in, &err) == 0, "%s", err.msg);
        CHECK_EQ_INT(in.draws, G);
        CHECK_EQ_INT(in.arm, in.arms[0]);
        CHECK(!in.nonuniform); /* K = 3: K ln K = 3.3 rounds uniform */
        size_t idx[B];
        for (int b = 0; b < B; b++)
            idx[b] = ftr[bmx_rng_below(&r, nt)];
        CHECK(!memcmp(idx, bmx_flad_last_target(f, NULL, NULL), sizeof idx));
        pack_rows(tcolor, 0, idx, B, tin, ttg);
        CHECK(bmx_model_forward(m2, tin, ttg, B, T, NULL, NULL, NULL, &err) == 0);
        CHECK(bmx_model_backward(m2, 1.0, 0, &err) == 0);
        memcpy(gt, bmx_model_grads(m2), N * 4);
        memcpy(sum, gt, N * 4);
        for (int j = 0; j < G; j++) {
            int a = in.arms[j];
            for (int b = 0; b < B; b++)
                idx[b] = aidx[a][bmx_rng_below(&r, an[a])];
            pack_rows(aux[a].task, aux[a].tmpl, idx, B, ain, atg);
            if (j + 1 < G) {
                CHECK(bmx_model_forward(m2, ain, atg, B, T, NULL, NULL, NULL, &err) == 0);
                CHECK(bmx_model_backward(m2, 1.0, 0, &err) == 0);
            } else {
                CHECK(bmx_trainer_micro(t2, ain, atg, B, T, NULL, NULL, NULL, &err) == 0);
            }
            const float *g = bmx_model_grads(m2);
            size_t nr;
            const bmx_flad_range *rg = bmx_flad_ranges(f, &nr);
            double want = bmx_flad_reward(c.reward, rg, nr, g, gt);
            CHECK_NEAR(in.rewards[j], want, 0);
            R[a] += want / p0[a];
            if (j + 1 < G)
                for (size_t i = 0; i < N; i++)
                    sum[i] += g[i];
        }
        float *g = bmx_model_grads(m2);
        for (size_t i = 0; i < N; i++)
            g[i] = (sum[i] + g[i]) / 4.0f;
        CHECK(bmx_trainer_apply(t2, NULL, &err) == 0);
        CHECK_EQ_INT((int)bmx_flad_aux_batches(f), G * round);
        for (int a = 0; a < 3; a++)
            CHECK_NEAR(bmx_mix_estimates(bmx_flad_mix(f))[a], R[a], 1e-12 * (1 + fabs(R[a])));
        CHECK(!memcmp(bmx_model_params(m), bmx_model_params(m2), N * 4));
    }
    free(ftr);
    free(fva);
    for (int a = 0; a < 3; a++)
        free(aidx[a]);
    free(gt);
    free(sum);
    bmx_flad_free(f);
    bmx_trainer_free(tr);
    bmx_trainer_free(t2);
    bmx_model_free(m);
    bmx_model_free(m2);
}

/* 45 auxiliary datasets (the suite's pool size; here the 6 of the fixtures repeated). The
 * first round whose pi can differ from uniform is the first t with K eps(S t) < 1, worked out
 * here from eps alone: K ln K = 45 ln 45 = 171.30, so t = 172 for S = 1 and t = 18 for S = 10.
 * S = 1, 150 rounds: EXP3-FLAD is draw for draw explore-only with the same seed (the same arms,
 * the same parameters bit for bit) and reports 0 non-uniform rounds; S = 10 leaves uniform in
 * round 18, as the formula says. */
static long first_mixing_round(int K, double S)
{
    long t = 1;
    while ((double)K * sqrt(log((double)K) / ((double)K * S * (double)t)) >= 1.0)
        t++;
    return t;
}

static void test_k45_exp3_is_explore_only(void)
{
    setup();
    enum { K = 45 };
    bmx_flad_aux aux[K];
    for (int a = 0; a < K; a++)
        aux[a] = (bmx_flad_aux){(a / 3) % 2 ? tcount : tsound, a % 3};
    CHECK_EQ_INT(first_mixing_round(K, 1), 172);
    CHECK_EQ_INT(first_mixing_round(K, 10), 18);
    const char *pol[3] = {"exp3", "explore-only", "exp3:tscale=10"};
    const long rounds[3] = {150, 150, 20};
    bmx_model *m[3];
    bmx_trainer *tr[3];
    bmx_flad *f[3];
    bmx_err err = {0};
    for (int p = 0; p < 3; p++) {
        m[p] = tiny_model(13);
        tr[p] = tiny_trainer(m[p]);
        bmx_flad_config c = tiny_cfg(pol[p]);
        c.eval_every = 50;
        CHECK_MSG(bmx_flad_create(&f[p], &c, tr[p], tok, tcolor, aux, K, &err) == 0, "%s", err.msg);
    }
    long first = first_mixing_round(K, 10);
    for (long t = 1; t <= 150; t++) {
        bmx_flad_info in[3];
        for (int p = 0; p < 3; p++)
            if (t <= rounds[p])
                CHECK_MSG(bmx_flad_round(f[p], &in[p], &err) == 0, "%s", err.msg);
        CHECK_EQ_INT(in[0].arm, in[1].arm);
        CHECK_EQ_INT(in[0].nonuniform, 0);
        if (t <= rounds[2])
            CHECK_MSG(in[2].nonuniform == (t >= first), "tscale 10, round %ld: nonuniform %d", t,
                      in[2].nonuniform);
    }
    CHECK_EQ_INT((int)bmx_flad_nonuniform_rounds(f[0]), 0);
    CHECK_EQ_INT((int)bmx_flad_nonuniform_rounds(f[1]), 0);
    CHECK_EQ_INT((int)bmx_flad_nonuniform_rounds(f[2]), (int)(20 - first + 1));
    size_t N = bmx_model_num_params(m[0]);
    CHECK(!memcmp(bmx_model_params(m[0]), bmx_model_params(m[1]), N * 4));
    CHECK(!memcmp(bmx_flad_arm_counts(f[0]), bmx_flad_arm_counts(f[1]), K * sizeof(long)));
    for (int p = 0; p < 3; p++) {
        bmx_flad_free(f[p]);
        bmx_trainer_free(tr[p]);
        bmx_model_free(m[p]);
    }
}

static void test_errors(void)
{
    setup();
    bmx_model *m = tiny_model(9);
    bmx_trainer *tr = tiny_trainer(m);
    bmx_flad *f;
    bmx_err err = {0};
    bmx_flad_aux aux[1] = {{tsound, 0}};
    bmx_flad_config c = tiny_cfg("exp4");
    CHECK(bmx_flad_create(&f, &c, tr, tok, tcolor, aux, 1, &err) == BMX_EINVAL);
    CHECK_CONTAINS(err.msg, "exp4");
    c = tiny_cfg("exp3");
    CHECK(bmx_flad_create(&f, &c, tr, tok, tcolor, NULL, 0, &err) == BMX_EINVAL);
    CHECK_CONTAINS(err.msg, "at least one auxiliary");
    bmx_flad_aux self[1] = {{tcolor, 1}};
    CHECK(bmx_flad_create(&f, &c, tr, tok, tcolor, self, 1, &err) == BMX_EINVAL);
    CHECK_CONTAINS(err.msg, "hold the target out");
    c.params = "nope";
    CHECK(bmx_flad_create(&f, &c, tr, tok, tcolor, aux, 1, &err) == BMX_EINVAL);
    CHECK_CONTAINS(err.msg, "nope");
    c = tiny_cfg("exp3");
    c.reward = BMX_REWARD_LOSS;
    CHECK(bmx_flad_create(&f, &c, tr, tok, tcolor, aux, 1, &err) == BMX_EINVAL);
    c = tiny_cfg("exp3");
    c.aux_draws = 0;
    CHECK(bmx_flad_create(&f, &c, tr, tok, tcolor, aux, 1, &err) == BMX_EINVAL);
    CHECK_CONTAINS(err.msg, "aux_draws 0");
    c = tiny_cfg("exp3");
    c.min_rounds = -1;
    CHECK(bmx_flad_create(&f, &c, tr, tok, tcolor, aux, 1, &err) == BMX_EINVAL);
    CHECK_CONTAINS(err.msg, "min_rounds -1");
    c = tiny_cfg("exp3");
    c.split = 7;
    CHECK(bmx_flad_create(&f, &c, tr, tok, tcolor, aux, 1, &err) == BMX_EINVAL);
    bmx_trainer_free(tr);
    bmx_model_free(m);
}

/* Early stopping, replayed on the logged accuracies: patience 2, and with min_rounds 15 no
 * stop before round 15 (the same run: the rule changes nothing else). */
static void test_early_stop(void)
{
    setup();
    long stop_at[2] = {0, 0};
    for (int v = 0; v < 2; v++) {
        bmx_model *m = tiny_model(10);
        bmx_trainer *tr = tiny_trainer(m);
        bmx_flad_aux aux[1] = {{tsound, 0}};
        bmx_flad_config c = tiny_cfg("explore-only");
        c.eval_every = 1;
        c.patience = 2;
        c.min_rounds = v ? 15 : 0;
        bmx_flad *f;
        bmx_err err = {0};
        CHECK(bmx_flad_create(&f, &c, tr, tok, tcolor, aux, 1, &err) == 0);
        double best = bmx_flad_best_val(f, NULL);
        int bad = 0, r;
        for (r = 1; r <= 40; r++) {
            bmx_flad_info in;
            CHECK(bmx_flad_round(f, &in, &err) == 0);
            CHECK(in.evaluated);
            if (in.val_acc > best) {
                best = in.val_acc;
                bad = 0;
            } else {
                bad++;
            }
            CHECK_EQ_INT(in.stopped, bad >= 2 && r >= c.min_rounds);
            CHECK(in.best_val == best);
            if (in.stopped)
                break;
        }
        stop_at[v] = r;
        if (r <= 40)
            CHECK(bmx_flad_round(f, NULL, &err) == BMX_ESTATE);
        bmx_flad_free(f);
        bmx_trainer_free(tr);
        bmx_model_free(m);
    }
    CHECK_MSG(stop_at[0] < 15, "without a minimum the run stops at round %ld", stop_at[0]);
    CHECK(stop_at[1] >= 15);
}

/* ---- the loop over a trainer backend without a host gradient buffer ----
 * A backend whose operations go to a CPU backend through bmx/backend.h, counted, and with no
 * host gradient buffer (host_grads NULL), as the CUDA backend: FLAD copies each gradient to the
 * host (get_grads) and puts the step's back (set_grads). */
struct copy_be {
    bmx_backend *in;
    int grad, micro, apply, eval, getp, getg, setg, to, from;
};

static int cb_micro(void *p, const int *in, const int *tg, int B, int T, double w, double *loss,
                    double *sl, double *tl, bmx_err *err)
{
    struct copy_be *c = p;
    c->micro++;
    return bmx_backend_micro(c->in, in, tg, B, T, w, loss, sl, tl, err);
}
static int cb_apply(void *p, bmx_step_info *info, bmx_err *err)
{
    ((struct copy_be *)p)->apply++;
    return bmx_backend_apply(((struct copy_be *)p)->in, info, err);
}
static int cb_grad(void *p, const int *in, const int *tg, int B, int T, double *loss, bmx_err *err)
{
    ((struct copy_be *)p)->grad++;
    return bmx_backend_grad(((struct copy_be *)p)->in, in, tg, B, T, loss, err);
}
static int cb_eval(void *p, const int *in, const int *tg, int B, int T, double *loss, double *sl,
                   double *tl, bmx_err *err)
{
    ((struct copy_be *)p)->eval++;
    return bmx_backend_eval(((struct copy_be *)p)->in, in, tg, B, T, loss, sl, tl, err);
}
static int cb_getp(void *p, float *h, bmx_err *err)
{
    ((struct copy_be *)p)->getp++;
    return bmx_backend_get_params(((struct copy_be *)p)->in, h, err);
}
static int cb_getg(void *p, float *h, bmx_err *err)
{
    ((struct copy_be *)p)->getg++;
    return bmx_backend_get_grads(((struct copy_be *)p)->in, h, err);
}
static int cb_setg(void *p, const float *h, bmx_err *err)
{
    ((struct copy_be *)p)->setg++;
    return bmx_backend_set_grads(((struct copy_be *)p)->in, h, err);
}
static int cb_to(void *p, bmx_err *err)
{
    ((struct copy_be *)p)->to++;
    return BMX_OK;
}
static int cb_from(void *p, bmx_err *err)
{
    ((struct copy_be *)p)->from++;
    return BMX_OK;
}

static const bmx_backend_ops copy_ops = {
    .name = "copy",
    .micro = cb_micro,
    .apply = cb_apply,
    .grad = cb_grad,
    .eval = cb_eval,
    .get_params = cb_getp,
    .get_grads = cb_getg,
    .set_grads = cb_setg,
    .to_host = cb_to,
    .from_host = cb_from,
};

/* exp3 with G = 2 (eval every 2) and exploit-only (its scoring pass), 6 rounds each: the copy
 * path gives the CPU backend's rewards, losses, validation, parameters and test accuracy bit for
 * bit, and makes exactly the calls the loop plans: a round = 1 target gradient (grad, get_grads)
 * + G - 1 auxiliary gradients (grad) + the last as the step's micro-batch, G copies to the host
 * (get_grads), the step's gradient put back (set_grads), apply; exploit-only's scoring pass
 * adds 1 + K gradients and K copies; validation: one eval per example of the few-shot
 * validation set at theta_0 and every 2 rounds; finish: sync to and from the host, one eval per
 * test example. */
static void test_backend_copy_path(void)
{
    setup();
    bmx_flad_aux aux[3] = {{tsound, 0}, {tcount, 0}, {tcount, 1}};
    size_t *ftr, *fva, nt, nv, *tidx, ntest;
    bmx_err err = {0};
    CHECK(bmx_task_fewshot(tcolor, 0, &ftr, &nt, &fva, &nv, &err) == 0);
    CHECK(bmx_task_split_indices(tcolor, BMX_SPLIT_TEST, &tidx, &ntest, &err) == 0);
    int improvements = 0;
    for (int k = 0; k < 2; k++) {
        const char *pol = k ? "exploit-only" : "exp3";
        int G = k ? 1 : 2, R = 6, K = 3;
        bmx_model *m1 = tiny_model(21), *m2 = tiny_model(21);
        bmx_trainer *t1 = tiny_trainer(m1), *t2 = tiny_trainer(m2);
        bmx_backend *cpu = NULL, *be = NULL;
        struct copy_be cb = {0};
        CHECK(bmx_backend_cpu(t2, &cpu, &err) == 0);
        cb.in = cpu;
        CHECK(bmx_backend_create(&copy_ops, &cb, t2, &be, &err) == 0);
        CHECK(bmx_backend_host_grads(be) == NULL &&
              bmx_backend_host_grads(cpu) == bmx_model_grads(m2));
        bmx_flad_config c = tiny_cfg(pol);
        c.aux_draws = G;
        bmx_flad *f1 = NULL, *f2 = NULL;
        CHECK_MSG(bmx_flad_create(&f1, &c, t1, tok, tcolor, aux, K, &err) == 0, "%s", err.msg);
        CHECK_MSG(bmx_flad_create_backend(&f2, &c, be, tok, tcolor, aux, K, &err) == 0, "%s",
                  err.msg);
        if (!f1 || !f2)
            return;
        CHECK_EQ_INT(cb.eval, (int)nv);
        CHECK_EQ_INT(cb.getp, 1); /* theta_0, the first best */
        int improved = 0;
        for (int r = 0; r < R; r++) {
            bmx_flad_info a, b;
            CHECK_MSG(bmx_flad_round(f1, &a, &err) == 0, "%s", err.msg);
            CHECK_MSG(bmx_flad_round(f2, &b, &err) == 0, "%s", err.msg);
            CHECK(a.target_loss == b.target_loss && a.aux_loss == b.aux_loss);
            CHECK(!memcmp(a.arms, b.arms, (size_t)G * sizeof *a.arms));
            CHECK(!memcmp(a.rewards, b.rewards, (size_t)G * sizeof *a.rewards));
            CHECK(a.evaluated == b.evaluated && a.evaluated == ((r + 1) % 2 == 0));
            CHECK(!a.evaluated || (a.val_acc == b.val_acc && a.best_round == b.best_round));
            improved += a.evaluated && a.best_round == r + 1;
        }
        size_t N = bmx_model_num_params(m1);
        CHECK(!memcmp(bmx_model_params(m1), bmx_model_params(m2), N * sizeof(float)));
        int scoring = k ? 1 + K : 0;
        CHECK_EQ_INT(cb.grad, R * G + scoring);
        CHECK_EQ_INT(cb.micro, R);
        CHECK_EQ_INT(cb.apply, R);
        CHECK_EQ_INT(cb.getg, R * (1 + G) + scoring);
        CHECK_EQ_INT(cb.setg, R);
        CHECK_EQ_INT(cb.eval, (int)nv * (1 + R / 2));
        CHECK_EQ_INT(cb.getp, 1 + improved);
        improvements += improved;
        double s1, u1, s2, u2;
        CHECK(bmx_flad_finish(f1, &s1, &u1, &err) == 0 && bmx_flad_finish(f2, &s2, &u2, &err) == 0);
        CHECK(s1 == s2 && u1 == u2);
        CHECK_EQ_INT(cb.to, 1);
        CHECK_EQ_INT(cb.from, 1);
        CHECK_EQ_INT(cb.eval, (int)nv * (1 + R / 2) + (int)ntest);
        CHECK(!memcmp(bmx_model_params(m1), bmx_model_params(m2), N * sizeof(float)));
        bmx_flad_free(f1);
        bmx_flad_free(f2);
        bmx_backend_free(be);
        bmx_backend_free(cpu);
        bmx_trainer_free(t1);
        bmx_trainer_free(t2);
        bmx_model_free(m1);
        bmx_model_free(m2);
    }
    /* the best parameters were copied at least once (exploit-only improves here) */
    CHECK(improvements >= 1);
    free(ftr);
    free(fva);
    free(tidx);
}

/* On the CUDA backend (fp32; skipped without CUDA or a GPU): theta_0 is scored as on the CPU,
 * and 3 exp3 rounds (G = 2; K = 3 arms: pi is exactly uniform for rounds 1..3, so the draws
 * cannot depend on the rewards' last bits) draw the same arms with target and auxiliary losses
 * within 1e-4 relative of the CPU backend's; the test accuracy of the best parameters is a
 * fraction. */
static void test_gpu_flad_fp32(void)
{
    bmx_err err = {0};
    if (!bmx_cuda_built())
        SKIP("bmx was built without CUDA (make CUDA=1 on a machine with nvcc)");
    if (bmx_cuda_available(&err) != BMX_OK)
        SKIP("no usable CUDA device: %s", err.msg);
    setup();
    bmx_flad_aux aux[3] = {{tsound, 0}, {tcount, 0}, {tcount, 1}};
    bmx_model *m1 = tiny_model(31), *m2 = tiny_model(31);
    bmx_trainer *t1 = tiny_trainer(m1), *t2 = tiny_trainer(m2);
    bmx_flad_config c = tiny_cfg("exp3");
    c.aux_draws = 2;
    int rows = c.batch;
    for (size_t i = 0; i < bmx_task_count(tcolor); i++)
        if (bmx_task_example_at(tcolor, i)->nchoices > rows)
            rows = bmx_task_example_at(tcolor, i)->nchoices;
    bmx_backend *gb = NULL;
    CHECK_MSG(bmx_backend_cuda(t2, BMX_CUDA_FP32, 0, rows, c.T, &gb, &err) == 0, "%s", err.msg);
    bmx_flad *f1 = NULL, *f2 = NULL;
    CHECK(bmx_flad_create(&f1, &c, t1, tok, tcolor, aux, 3, &err) == 0);
    CHECK_MSG(gb && bmx_flad_create_backend(&f2, &c, gb, tok, tcolor, aux, 3, &err) == 0, "%s",
              err.msg);
    if (!f1 || !f2)
        return;
    CHECK(bmx_flad_best_val(f1, NULL) == bmx_flad_best_val(f2, NULL));
    for (int r = 0; r < 3; r++) {
        bmx_flad_info a, b;
        CHECK(bmx_flad_round(f1, &a, &err) == 0);
        CHECK_MSG(bmx_flad_round(f2, &b, &err) == 0, "%s", err.msg);
        CHECK(!memcmp(a.arms, b.arms, 2 * sizeof *a.arms));
        CHECK_MSG(fabs(a.target_loss - b.target_loss) <= 1e-4 * a.target_loss &&
                      fabs(a.aux_loss - b.aux_loss) <= 1e-4 * a.aux_loss,
                  "round %d: cpu %.9g %.9g, cuda %.9g %.9g", r + 1, a.target_loss, a.aux_loss,
                  b.target_loss, b.aux_loss);
    }
    double s2 = -1, u2 = -1;
    CHECK_MSG(bmx_flad_finish(f2, &s2, &u2, &err) == 0, "%s", err.msg);
    CHECK(s2 >= 0 && s2 <= 1 && u2 >= 0 && u2 <= 1);
    bmx_flad_free(f1);
    bmx_flad_free(f2);
    bmx_backend_free(gb);
    bmx_trainer_free(t1);
    bmx_trainer_free(t2);
    bmx_model_free(m1);
    bmx_model_free(m2);
}

int main(int argc, char **argv)
{
    static const struct check_case cases[] = {
        {"pack", test_pack},
        {"scores_direct", test_scores_direct},
        {"reward_values", test_reward_values},
        {"param_subset", test_param_subset},
        {"target_grad_direct", test_target_grad_direct},
        {"identical_aux_max_reward", test_identical_aux_max_reward},
        {"target_only_no_aux", test_target_only_no_aux},
        {"exploit_scoring_pass", test_exploit_scoring_pass},
        {"resume_exact", test_resume_exact},
        {"aux_draws", test_aux_draws},
        {"k45_exp3_is_explore_only", test_k45_exp3_is_explore_only},
        {"errors", test_errors},
        {"early_stop", test_early_stop},
        {"backend_copy_path", test_backend_copy_path},
        {"gpu_flad_fp32", test_gpu_flad_fp32},
        {0},
    };
    /* tiny models: one thread is faster than OpenMP's start-up on a shared machine */
    bmx_kernels_set_threads(1);
    int rc = check_main(argc, argv, cases);
    bmx_task_free(tcolor);
    bmx_task_free(tsound);
    bmx_task_free(tcount);
    bmx_tok_free(tok);
    return rc;
}
