/* tests/fuzz/make_seeds.c - write the binary seeds of the fuzz corpora with the library's own
 * writers (make fuzz-seeds; the text seeds and the hostile regression inputs are committed as
 * they are). Usage: make_seeds CORPUS_DIR (tests/fuzz/corpus).
 *
 *   mixstate/   every policy's state mid-round
 *   shard/      small shards (16-bit and 32-bit token widths)
 *   vocab/      a trained vocabulary of 300 ids
 *   checkpoint/ a tiny model's checkpoint, with and without extra bytes
 *   task/       the task files of the three raw fixtures (tests/fixtures/tasks)
 *   config/     the default configuration as config.txt holds it
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bmx/data.h"
#include "bmx/mix.h"
#include "bmx/model.h"
#include "bmx/run.h"
#include "bmx/tasks.h"
#include "bmx/tok.h"
#include "bmx/train.h"

static const char *dir;

static void die(const char *what, const bmx_err *err)
{
    fprintf(stderr, "make_seeds: %s: %s\n", what, err ? err->msg : "failed");
    exit(1);
}

static const char *at(const char *sub, const char *name)
{
    static char p[512];
    snprintf(p, sizeof p, "%s/%s/%s", dir, sub, name);
    return p;
}

static void put(const char *sub, const char *name, const void *d, size_t n)
{
    FILE *f = fopen(at(sub, name), "wb");
    if (!f || fwrite(d, 1, n, f) != n || fclose(f) != 0)
        die(at(sub, name), NULL);
}

static void mixstates(void)
{
    static const char *specs[] = {"uniform",
                                  "natural",
                                  "weights",
                                  "odm",
                                  "odm-smoothed-mean",
                                  "exp3",
                                  "ucb1",
                                  "explore-only",
                                  "exploit-only",
                                  "doremi",
                                  "temperature:tau=2",
                                  "ado:warmup=1,interval=2",
                                  "aioli:interval=20,rounds=1,probe=2",
                                  "exp3:min-prob=0.1,tscale=10"};
    const double w[3] = {1, 2, 3};
    for (size_t i = 0; i < sizeof specs / sizeof *specs; i++) {
        const char *spec = specs[i];
        bmx_mix *m;
        bmx_err err;
        unsigned char buf[4096];
        size_t len;
        char name[64];
        if (bmx_mix_create(&m, spec, 3, w, 1, &err))
            die(spec, &err);
        for (int r = 0; r < 3; r++) {
            if (bmx_mix_needs_validation(m)) {
                const double vl[3] = {2.0, 2.5, 3.0};
                if (bmx_mix_observe_validation(m, vl, &err))
                    die("observe_validation", &err);
            }
            if (!strcmp(spec, "doremi")) {
                double ex[3] = {0.5, 0.1, 0}, tok[3] = {10, 10, 0};
                if (bmx_mix_observe_excess(m, ex, tok, &err))
                    die("observe_excess", &err);
            } else if (bmx_mix_observe(m, bmx_mix_draw(m), 1.5 + r, &err))
                die("observe", &err);
            if (r < 2 && bmx_mix_step(m, &err))
                die("step", &err);
        }
        if (bmx_mix_save(m, buf, sizeof buf, &len, &err))
            die("save", &err);
        snprintf(name, sizeof name, "%s.state", spec);
        for (char *c = name; *c; c++)
            if (*c == ':' || *c == ',' || *c == '=')
                *c = '_';
        put("mixstate", name, buf, len);
        bmx_mix_free(m);
    }
}

static void shards(void)
{
    for (int wide = 0; wide < 2; wide++) {
        uint32_t vocab = wide ? 70000 : 300, eot = vocab - 1;
        uint32_t doc[3][6] = {{1, 2, 3, 4, 5, 6}, {7, 8, 9, 10, 11, 12}, {13, 14, 15, 16, 17, 18}};
        bmx_shard_writer *w;
        bmx_err err;
        const char *p = at("shard", wide ? "wide.bin" : "narrow.bin");
        if (wide)
            doc[1][2] = 69000;
        if (bmx_shard_writer_open(&w, p, vocab, eot, &err))
            die(p, &err);
        for (int d = 0; d < 3; d++)
            if (bmx_shard_writer_add(w, doc[d], 6 - (size_t)d, &err))
                die(p, &err);
        if (bmx_shard_writer_close(w, &err))
            die(p, &err);
    }
}

static void vocab(void)
{
    static const char text[] = "the cat sat on the mat; the cat ate the rat. aaaa bbbb abab "
                               "hello hello world, world of words. 1234 5678\n\tend";
    bmx_tok *t;
    bmx_err err;
    if (bmx_tok_train(&t, text, sizeof text - 1, 300, &err))
        die("tok train", &err);
    if (bmx_tok_save(t, at("vocab", "trained-300.vocab"), &err))
        die("tok save", &err);
    bmx_tok_free(t);
}

static void checkpoints(void)
{
    bmx_gpt_config c = {16, 4, 1, 2, 4};
    bmx_train_config tc = bmx_train_config_default();
    bmx_model *m;
    bmx_trainer *t;
    bmx_err err;
    if (bmx_model_create(&c, BMX_F32, 0, &m, &err) || bmx_trainer_create(m, &tc, &t, &err))
        die("model", &err);
    for (size_t i = 0; i < bmx_model_num_params(m); i++)
        ((float *)bmx_model_params(m))[i] = (float)i * 0.01f;
    if (bmx_checkpoint_save(at("checkpoint", "tiny.bin"), t, NULL, 0, &err) ||
        bmx_checkpoint_save(at("checkpoint", "tiny-extra.bin"), t, "mixstate", 8, &err))
        die("checkpoint", &err);
    bmx_trainer_free(t);
    bmx_model_free(m);
}

static void tasks(void)
{
    static const char *names[] = {"fx-color", "fx-count", "fx-sound"};
    for (int i = 0; i < 3; i++) {
        char raw[256], out[64];
        bmx_task *t;
        bmx_err err;
        snprintf(raw, sizeof raw, "tests/fixtures/tasks/%s.raw", names[i]);
        snprintf(out, sizeof out, "%s.task", names[i]);
        if (bmx_task_read_raw(&t, raw, &err) || bmx_task_split(t, 0.2, 2000, 400, 1, &err) ||
            bmx_task_save(t, at("task", out), &err))
            die(raw, &err);
        bmx_task_free(t);
    }
}

static void config(void)
{
    bmx_run_config c = bmx_run_config_default();
    char *text = bmx_run_config_text(&c);
    if (!text)
        die("config text", NULL);
    put("config", "default.txt", text, strlen(text));
    free(text);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: make_seeds CORPUS_DIR\n");
        return 2;
    }
    dir = argv[1];
    mixstates();
    shards();
    vocab();
    checkpoints();
    tasks();
    config();
    return 0;
}
