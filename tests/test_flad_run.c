/* tests/test_flad_run.c - a FLAD run in its run folder (bmx_flad_run, src/flad/run.c): the
 * folder's files, a run stopped and resumed equals one that never stopped byte for byte (also
 * from an older checkpoint with log records past it, as a SIGKILL leaves it), and a resume
 * refuses other settings, a corrupt or foreign checkpoint and a log changed by hand, naming
 * the file. Also the FLAD state's sections, their little-endian layout and the version checks
 * (an older bmx flad's checkpoint, an older FLAD state), a FLAD run stepped through the run
 * handle (bmx_flad_open / bmx_run_step / bmx_run_checkpoint) against bmx_flad_run, and the
 * table-generic config text (bmx_config_text / parse / diff) on FLAD's keys, and
 * bmx_flad_compare's stop flag between runs (a finished comparison stopped before re-scoring).
 * The fixture tasks of tests/fixtures/tasks and a tiny random model (1 layer, width 16). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bmx/checkpoint.h"
#include "bmx/flad.h"
#include "bmx/core.h"
#include "check.h"

#define FX "tests/fixtures/tasks"

static char root[64];
static char tasks[128], tokp[128];

static void run_cmd(const char *fmt, const char *arg)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, fmt, arg);
    if (system(cmd) != 0)
        abort();
}

static void cleanup(void)
{
    if (root[0])
        run_cmd("rm -rf '%s'", root);
}

/* The task folder and a tokenizer trained on the fixtures' prompts, once. */
static void setup(void)
{
    if (root[0])
        return;
    snprintf(root, sizeof root, "/tmp/bmx_test_flad_run_XXXXXX");
    if (!mkdtemp(root))
        abort();
    atexit(cleanup);
    snprintf(tasks, sizeof tasks, "%s/tasks", root);
    snprintf(tokp, sizeof tokp, "%s/tok", root);
    static const char *const names[] = {"fx-color", "fx-sound", "fx-count"};
    bmx_tasks_build_opts o = bmx_tasks_build_defaults();
    bmx_err err = {0};
    if (bmx_file_mkdir_p(tasks, &err) ||
        bmx_tasks_build(FX, tasks, names, 3, NULL, &o, NULL, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        abort();
    }
    bmx_sbuf text = {0};
    for (int k = 0; k < 3; k++) {
        bmx_task *t;
        if (bmx_task_open(&t, tasks, names[k], &err))
            abort();
        for (size_t i = 0; i < bmx_task_count(t); i++) {
            char *p;
            const bmx_task_example *e = bmx_task_example_at(t, i);
            if (bmx_task_prompt(t, i, 2, &p, &err))
                abort();
            bmx_sbuf_printf(&text, "%s %s\n", p, e->choices[e->correct]);
            free(p);
        }
        bmx_task_free(t);
    }
    bmx_tok *tok;
    if (bmx_tok_train(&tok, text.p, text.len, 300, &err) || bmx_tok_save(tok, tokp, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        abort();
    }
    bmx_tok_free(tok);
    bmx_sbuf_free(&text);
}

static bmx_flad_run_config config(const char *out)
{
    bmx_flad_run_config c = bmx_flad_run_config_default();
    c.tasks = tasks;
    c.tok = tokp;
    c.target = "fx-color";
    c.holdout = "fx-count";
    c.init_random = "1,2,16,48";
    c.batch = 2;
    c.seq = 40;
    c.rounds = 12;
    c.eval_every = 3;
    c.patience = 0;
    c.ckpt_every = 5;
    c.aux_draws = 2;
    c.lr = 3e-3;
    c.threads = 1;
    c.blas = 0;
    c.seed = 5;
    c.out = out;
    return c;
}

static char *slurp(const char *dir, const char *name, size_t *n)
{
    char path[256], *data;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    bmx_err err = {0};
    CHECK_MSG(bmx_file_read_all(path, 1 << 26, &data, n, &err) == 0, "%s", err.msg);
    return data;
}

static int same_file(const char *a, const char *b, const char *name)
{
    size_t na, nb;
    char *x = slurp(a, name, &na), *y = slurp(b, name, &nb);
    int same = na == nb && !memcmp(x, y, na);
    free(x);
    free(y);
    return same;
}

static void copy_file(const char *from, const char *to)
{
    size_t n;
    char *d = slurp(from, "checkpoint.bin", &n);
    bmx_err err = {0};
    CHECK_MSG(bmx_file_write_atomic(to, d, n, &err) == 0, "%s", err.msg);
    free(d);
}

/* The progress callback: at round stop_at, ask the run to stop; at round save_at, keep a copy
 * of checkpoint.bin as it is then (the checkpoint of an earlier round). */
struct ctl {
    long stop_at, save_at;
    volatile int stop;
    const char *dir;
    char saved[256];
};

static void on_round(void *ctx, const bmx_flad_info *in)
{
    struct ctl *c = ctx;
    if (in->round == c->save_at) {
        snprintf(c->saved, sizeof c->saved, "%s.older", c->dir);
        copy_file(c->dir, c->saved);
    }
    if (in->round == c->stop_at)
        c->stop = 1;
}

/* Checkpoint ck written again with section tag's bytes replaced by data[0..len) (the other
 * sections copied as they are); 0 or a BMX_E*. */
static int rewrite_section(const char *ck, const char *tag, const void *data, size_t len)
{
    bmx_err err = {0};
    bmx_ckpt_reader *rd = NULL;
    bmx_ckpt_writer *w = NULL;
    int rc = bmx_ckpt_open(ck, &rd, &err);
    if (!rc)
        rc = bmx_ckpt_writer_create(&w, &err);
    for (int i = 0; !rc && bmx_ckpt_tag(rd, i); i++) {
        const char *tg = bmx_ckpt_tag(rd, i);
        void *p = NULL;
        size_t n = 0;
        if (!strcmp(tg, tag))
            rc = bmx_ckpt_add(w, tg, data, len, &err);
        else if (!(rc = bmx_ckpt_read_alloc(rd, tg, &p, &n, &err)))
            rc = bmx_ckpt_add(w, tg, p, n, &err);
        free(p);
    }
    bmx_ckpt_close(rd);
    if (!rc)
        rc = bmx_ckpt_save(w, ck, &err);
    bmx_ckpt_writer_free(w);
    return rc;
}

static void straight_run(const char *dir, bmx_flad_result *res)
{
    bmx_flad_run_config c = config(dir);
    bmx_err err = {0};
    CHECK_MSG(bmx_flad_run(&c, NULL, res, &err) == 0, "%s", err.msg);
}

static void test_folder(void)
{
    setup();
    char a[128];
    snprintf(a, sizeof a, "%s/folder", root);
    bmx_flad_result res;
    straight_run(a, &res);
    static const char *const files[] = {"config.txt", "lock", "log.jsonl", "checkpoint.bin",
                                        "result.json"};
    for (int i = 0; i < 5; i++) {
        char p[256];
        struct stat st;
        snprintf(p, sizeof p, "%s/%s", a, files[i]);
        CHECK_MSG(stat(p, &st) == 0 && st.st_size > 0, "%s missing", p);
    }
    /* K = 3 (fx-sound's templates): the default min_rounds is floor(3 ln 3) + 1 = 4 */
    CHECK_EQ_INT((int)res.min_rounds, 4);
    CHECK_EQ_INT((int)res.rounds, 12);
    CHECK_EQ_INT(res.naux, 3);
    CHECK_EQ_INT((int)res.aux_batches, 24); /* G = 2 a round */
    CHECK_EQ_INT((int)(res.arm_counts[0] + res.arm_counts[1] + res.arm_counts[2]), 24);
    CHECK(!strcmp(res.arm_names[2], "fx-sound/2"));
    size_t n;
    char *log = slurp(a, "log.jsonl", &n);
    int lines = 0;
    for (size_t i = 0; i < n; i++)
        lines += log[i] == '\n';
    CHECK_EQ_INT(lines, 13); /* the header and 12 rounds */
    CHECK(!strncmp(
        log, "{\"type\":\"header\",\"version\":1,\"method\":\"flad\",\"target\":\"fx-color\"", 62));
    CHECK(strstr(log, "\"aux\":[\"fx-sound/0\",\"fx-sound/1\",\"fx-sound/2\"]") != NULL);
    CHECK(strstr(log, "\n{\"type\":\"round\",\"round\":12,") != NULL);
    free(log);
    char *cfg = slurp(a, "config.txt", &n);
    CHECK(strstr(cfg, "\nmin_rounds   = 4\n") && strstr(cfg, "\nout          = \n"));
    free(cfg);
    /* the checkpoint's step is the round count */
    bmx_model *m;
    bmx_trainer *t;
    bmx_ckpt_reader *rd = NULL;
    unsigned char run[24];
    bmx_err err = {0};
    char ck[256];
    snprintf(ck, sizeof ck, "%s/checkpoint.bin", a);
    CHECK_MSG(bmx_checkpoint_load(ck, 0, &m, &t, NULL, NULL, &err) == 0, "%s", err.msg);
    CHECK_EQ_INT((int)bmx_trainer_step_count(t), 12);
    /* the run state: version 2, 3 arms, round 12 */
    CHECK(bmx_ckpt_open(ck, &rd, &err) == 0 && bmx_ckpt_read(rd, "flad.run", run, 24, &err) == 0 &&
          !memcmp(run, "\2\0\0\0\3\0\0\0\14\0\0\0\0\0\0\0", 16));
    bmx_ckpt_close(rd);
    bmx_trainer_free(t);
    bmx_model_free(m);
    bmx_flad_result_free(&res);
}

static void test_resume_exact(void)
{
    setup();
    char a[128], b[128];
    snprintf(a, sizeof a, "%s/straight", root);
    snprintf(b, sizeof b, "%s/stopped", root);
    bmx_flad_result ra, rb;
    straight_run(a, &ra);
    /* stopped at round 7 (a checkpoint there), then the checkpoint of round 5 put back: a
     * log with two records past the checkpoint, as a SIGKILL after round 7 leaves it */
    struct ctl ctl = {7, 6, 0, b, ""};
    bmx_flad_run_config c = config(b);
    bmx_flad_run_opts o = {0};
    bmx_err err = {0};
    o.stop = &ctl.stop;
    o.progress = on_round;
    o.progress_ctx = &ctl;
    CHECK_MSG(bmx_flad_run(&c, &o, &rb, &err) == 1, "%s", err.msg);
    size_t n;
    char *log = slurp(b, "log.jsonl", &n);
    CHECK(strstr(log, "{\"type\":\"round\",\"round\":7,") && !strstr(log, "\"round\":8,"));
    free(log);
    char ck[256];
    snprintf(ck, sizeof ck, "%s/checkpoint.bin", b);
    CHECK(rename(ctl.saved, ck) == 0);
    o = (bmx_flad_run_opts){0};
    o.resume = 1;
    CHECK_MSG(bmx_flad_run(&c, &o, &rb, &err) == 0, "%s", err.msg);
    CHECK(same_file(a, b, "log.jsonl"));
    CHECK(same_file(a, b, "checkpoint.bin"));
    CHECK(same_file(a, b, "result.json"));
    CHECK(ra.test_sum == rb.test_sum && ra.best_val == rb.best_val);
    CHECK(ra.best_round == rb.best_round && ra.nonuniform == rb.nonuniform);
    CHECK(!memcmp(ra.arm_counts, rb.arm_counts, 3 * sizeof *ra.arm_counts));
    bmx_flad_result_free(&ra);
    bmx_flad_result_free(&rb);
}

/* A FLAD run stepped through the run handle by hand (bmx_flad_open, bmx_run_step, an explicit
 * bmx_run_evaluate and bmx_run_log_eval when bmx_run_eval_due, a checkpoint when due,
 * bmx_flad_run_finish) writes what bmx_flad_run writes, byte for byte; with early stopping
 * (patience 1) too, where the validation ends the handle before --rounds. Validation is due
 * after every eval_every-th round (3 here), once; its score is the log's val_acc, the best the
 * result's. A driver that never validates gets round records without val_acc and keeps
 * theta_0. */
static void test_stepwise(void)
{
    setup();
    for (int early = 0; early < 2; early++) {
        char a[128], b[128];
        snprintf(a, sizeof a, "%s/bytheloop%d", root, early);
        snprintf(b, sizeof b, "%s/byhand%d", root, early);
        bmx_flad_run_config ca = config(a), cb = config(b);
        ca.patience = cb.patience = early;
        ca.min_rounds = cb.min_rounds = 0;
        bmx_flad_result ra, rb;
        bmx_err err = {0};
        CHECK_MSG(bmx_flad_run(&ca, NULL, &ra, &err) == 0, "%s", err.msg);
        CHECK(ra.stopped == early && (early ? ra.rounds < 12 : ra.rounds == 12));
        bmx_run *run = NULL;
        bmx_run_eval ev;
        CHECK_MSG(bmx_flad_open(&run, &cb, NULL, &err) == 0, "%s", err.msg);
        if (!run)
            continue;
        CHECK(bmx_run_step_count(run) == 0 && bmx_run_steps(run) == 12 && !bmx_run_resumed(run));
        CHECK(!bmx_run_eval_due(run) && !bmx_run_exhausted(run) && !bmx_run_ckpt_due(run));
        CHECK(bmx_run_evaluate(run, &ev, &err) == BMX_EINVAL && strstr(err.msg, "round"));
        int nd = -1; /* the training run's accessors: nothing of a training run's */
        CHECK(!bmx_run_domain_names(run, &nd) && nd == 0 && !bmx_run_probs(run));
        CHECK(!bmx_run_policy(run) && !bmx_run_backend(run));
        int evals = 0;
        double last_acc = -1, best = -1;
        while (!bmx_run_done(run) && bmx_run_step(run, &err) == 0) {
            long s = bmx_run_step_count(run);
            CHECK_EQ_INT(bmx_run_eval_due(run), s % 3 == 0);
            if (bmx_run_eval_due(run)) {
                CHECK_MSG(bmx_run_evaluate(run, &ev, &err) == 0, "%s", err.msg);
                CHECK(ev.step == s && ev.ndomains == 0 && !ev.loss && ev.acc >= 0 && ev.acc <= 1);
                CHECK(ev.best >= ev.acc && ev.best_step >= 0 && ev.best_step <= s);
                CHECK(!bmx_run_eval_due(run)); /* once */
                CHECK(bmx_run_evaluate(run, &ev, &err) == BMX_EINVAL && strstr(err.msg, "round"));
                CHECK_MSG(bmx_run_log_eval(run, &ev, &err) == 0, "%s", err.msg);
                evals++;
                last_acc = ev.acc;
                best = ev.best;
            }
            if (bmx_run_ckpt_due(run))
                CHECK_MSG(bmx_run_checkpoint(run, &err) == 0, "%s", err.msg);
        }
        CHECK_MSG(bmx_run_done(run) && bmx_run_ckpt_current(run), "%s", err.msg);
        CHECK_EQ_INT(evals, (int)ra.rounds / 3);
        CHECK(best == ra.best_val && last_acc >= 0);
        CHECK_EQ_INT((int)bmx_run_step_count(run), (int)ra.rounds);
        CHECK_MSG(bmx_flad_run_finish(run, &rb, &err) == 0, "%s", err.msg);
        bmx_run_close(run);
        bmx_flad_result rn;
        CHECK(bmx_flad_run_finish(NULL, &rn, &err) == BMX_EINVAL && strstr(err.msg, "not a FLAD"));
        CHECK(same_file(a, b, "log.jsonl"));
        CHECK(same_file(a, b, "checkpoint.bin"));
        CHECK(same_file(a, b, "result.json"));
        CHECK(ra.test_sum == rb.test_sum && ra.rounds == rb.rounds && rb.stopped == early);
        bmx_flad_result_free(&ra);
        bmx_flad_result_free(&rb);
    }
    /* never validated: every round recorded, none with val_acc; theta_0 stays the best */
    char d[128];
    snprintf(d, sizeof d, "%s/noval", root);
    bmx_flad_run_config c = config(d);
    bmx_run *run = NULL;
    bmx_flad_result rr;
    bmx_err err = {0};
    CHECK_MSG(bmx_flad_open(&run, &c, NULL, &err) == 0, "%s", err.msg);
    if (!run)
        return;
    while (!bmx_run_done(run) && bmx_run_step(run, &err) == 0)
        ;
    CHECK_MSG(bmx_run_done(run) && bmx_run_checkpoint(run, &err) == 0, "%s", err.msg);
    CHECK_MSG(bmx_flad_run_finish(run, &rr, &err) == 0, "%s", err.msg);
    bmx_run_close(run);
    size_t n;
    char *log = slurp(d, "log.jsonl", &n);
    CHECK(strstr(log, "{\"type\":\"round\",\"round\":12,") && !strstr(log, "val_acc"));
    CHECK(rr.best_round == 0 && rr.rounds == 12);
    free(log);
    bmx_flad_result_free(&rr);
}

/* A resume of dir with c that must fail with code, its message holding want (and the path). */
static void refused(const bmx_flad_run_config *c, int code, const char *want, const char *path)
{
    bmx_flad_run_opts o = {0};
    bmx_flad_result r;
    bmx_err err = {0};
    o.resume = 1;
    int rc = bmx_flad_run(c, &o, &r, &err);
    CHECK_MSG(rc == code, "rc %d, want %d: %s", rc, code, err.msg);
    CHECK_MSG(strstr(err.msg, want) != NULL, "'%s' not in: %s", want, err.msg);
    CHECK_MSG(!path || strstr(err.msg, path) != NULL, "'%s' not named in: %s", path, err.msg);
}

static void test_refused(void)
{
    setup();
    char d[128], ck[256], lp[256];
    snprintf(d, sizeof d, "%s/refuse", root);
    snprintf(ck, sizeof ck, "%s/checkpoint.bin", d);
    snprintf(lp, sizeof lp, "%s/log.jsonl", d);
    bmx_flad_result r;
    straight_run(d, &r);
    bmx_flad_result_free(&r);
    bmx_flad_run_config c = config(d);
    size_t n, ln;
    char *good = slurp(d, "checkpoint.bin", &n), *log = slurp(d, "log.jsonl", &ln);
    bmx_err err = {0};

    /* other settings: named */
    c.seed = 6;
    refused(&c, BMX_EINVAL, "other settings", NULL);
    refused(&c, BMX_EINVAL, "in: seed", NULL);
    c = config(d);
    c.policy = "ucb1";
    refused(&c, BMX_EINVAL, "in: policy", NULL);
    c = config(d);
    c.rounds = 10; /* past it */
    refused(&c, BMX_EINVAL, "past --rounds 10", d);
    c = config(d);

    /* a flipped byte in the parameters: the checkpoint's checksum */
    char *bad = malloc(n);
    memcpy(bad, good, n);
    bad[1000] ^= 1;
    CHECK(bmx_file_write_atomic(ck, bad, n, &err) == 0);
    refused(&c, BMX_ECORRUPT, "corrupt", ck);

    /* a foreign checkpoint: same model and optimizer, another run's state (no flad.run) */
    bmx_model *m;
    bmx_trainer *t;
    bmx_ckpt_reader *rd = NULL;
    unsigned char run[24];
    CHECK(bmx_file_write_atomic(ck, good, n, &err) == 0);
    CHECK_MSG(bmx_checkpoint_load(ck, 0, &m, &t, NULL, NULL, &err) == 0, "%s", err.msg);
    CHECK(bmx_checkpoint_save(ck, t, "BMXRUN01", 8, &err) == 0);
    refused(&c, BMX_ECORRUPT, "no bmx flad run state", ck);
    /* the run state altered under valid checksums (its round 12 made 13): named as altered */
    CHECK(bmx_file_write_atomic(ck, good, n, &err) == 0);
    CHECK(bmx_ckpt_open(ck, &rd, &err) == 0 && bmx_ckpt_read(rd, "flad.run", run, 24, &err) == 0);
    bmx_ckpt_close(rd);
    run[8] ^= 1;
    CHECK(rewrite_section(ck, "flad.run", run, sizeof run) == 0);
    refused(&c, BMX_ECORRUPT, "the file was altered", ck);
    /* a section's bytes changed under a valid table: the section's CRC-32 */
    run[8] ^= 1;
    CHECK(rewrite_section(ck, "flad.run", run, sizeof run) == 0);
    size_t cn;
    char *cur = slurp(d, "checkpoint.bin", &cn);
    CHECK(cn == n && !memcmp(cur, good, n)); /* put back exactly */
    cur[n - 5] ^= 1;                         /* in the last section, flad.bst */
    CHECK(bmx_file_write_atomic(ck, cur, n, &err) == 0);
    refused(&c, BMX_ECORRUPT, "flad.bst", ck);
    free(cur);
    bmx_trainer_free(t);
    bmx_model_free(m);

    /* the log cut short by hand, then one with a record changed */
    CHECK(bmx_file_write_atomic(ck, good, n, &err) == 0);
    CHECK(bmx_file_write_atomic(lp, log, ln / 2, &err) == 0);
    refused(&c, BMX_ECORRUPT, "changed by hand", lp);
    char *log2 = malloc(ln);
    memcpy(log2, log, ln);
    char *r5 = strstr(log2, "\"round\":5,");
    CHECK(r5 != NULL);
    r5[8] = '6';
    CHECK(bmx_file_write_atomic(lp, log2, ln, &err) == 0);
    refused(&c, BMX_ECORRUPT, "is not the record of round 5", lp);
    /* a header of another pool */
    memcpy(log2, log, ln);
    char *h = strstr(log2, "fx-sound/2");
    CHECK(h != NULL);
    h[9] = '1';
    CHECK(bmx_file_write_atomic(lp, log2, ln, &err) == 0);
    refused(&c, BMX_EINVAL, "is not this run's", lp);
    free(log2);

    /* everything put back: the resume goes through to the same result */
    CHECK(bmx_file_write_atomic(lp, log, ln, &err) == 0);
    bmx_flad_run_opts o = {0};
    o.resume = 1;
    CHECK_MSG(bmx_flad_run(&c, &o, &r, &err) == 0, "%s", err.msg);
    bmx_flad_result_free(&r);
    /* no config.txt: not a run folder */
    char cp[256];
    snprintf(cp, sizeof cp, "%s/config.txt", d);
    CHECK(unlink(cp) == 0);
    refused(&c, BMX_EINVAL, "holds no config.txt", d);
    /* a new run into a folder that holds one */
    CHECK(bmx_file_write_atomic(cp, "# x\n", 4, &err) == 0);
    CHECK(bmx_flad_run(&c, NULL, &r, &err) == BMX_EINVAL && strstr(err.msg, "already holds a run"));
    free(good);
    free(bad);
    free(log);
}

static uint64_t le64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* The run state's sections are little-endian with fixed widths whatever the host's long; an
 * older FLAD state and an older bmx flad's checkpoint are refused by their version numbers. */
static void test_state_layout(void)
{
    setup();
    char d[128];
    snprintf(d, sizeof d, "%s/layout", root);
    bmx_flad_result r;
    straight_run(d, &r);
    bmx_flad_result_free(&r);
    bmx_model *m;
    bmx_trainer *t;
    bmx_ckpt_reader *rd = NULL;
    bmx_err err = {0};
    char ck[256];
    snprintf(ck, sizeof ck, "%s/checkpoint.bin", d);
    CHECK_MSG(bmx_checkpoint_load(ck, 0, &m, &t, NULL, NULL, &err) == 0, "%s", err.msg);
    CHECK_MSG(bmx_ckpt_open(ck, &rd, &err) == 0, "%s", err.msg);
    /* flad.run: version 2, 3 arms, round 12, the log's length; flad.cfg: the config text */
    size_t ln;
    char *log = slurp(d, "log.jsonl", &ln);
    free(log);
    unsigned char run[24];
    CHECK(bmx_ckpt_read(rd, "flad.run", run, 24, &err) == 0);
    CHECK(!memcmp(run, "\2\0\0\0\3\0\0\0\14\0\0\0\0\0\0\0", 16));
    CHECK(le64(run + 16) == ln);
    char *cfg = NULL;
    size_t cl = 0;
    CHECK(bmx_ckpt_read_alloc(rd, "flad.cfg", (void **)&cfg, &cl, &err) == 0);
    CHECK(cl > 15 && !memcmp(cfg, "tasks        = ", 15));
    free(cfg);
    /* flad.st: version 4, 3 arms, the parameter count, round 12, 24 auxiliary batches */
    unsigned char *s = NULL;
    size_t sl = 0, ml = 0, bl = 0, gl = 0;
    CHECK(bmx_ckpt_read_alloc(rd, "flad.st", (void **)&s, &sl, &err) == 0);
    CHECK(!memcmp(s, "\4\0\0\0\3\0\0\0", 8));
    size_t np = bmx_model_num_params(m);
    for (int i = 0; i < 8; i++)
        CHECK(s[8 + i] == (unsigned char)(np >> (8 * i)));
    CHECK(!memcmp(s + 16, "\14\0\0\0\0\0\0\0", 8)); /* round 12 */
    CHECK(!memcmp(s + 24, "\30\0\0\0\0\0\0\0", 8)); /* 24 auxiliary batches */
    CHECK(sl == 4 + 4 + 8 + 4 * 8 + 8 + 4 * 4 + 3 * 8);
    /* the generator, the policy's bytes, the best parameters */
    CHECK(bmx_ckpt_has(rd, "flad.rng", &gl) && gl == 32);
    CHECK(bmx_ckpt_has(rd, "flad.pol", &ml) && ml > 0);
    CHECK(bmx_ckpt_has(rd, "flad.bst", &bl) && bl == np * 4);
    bmx_ckpt_close(rd);
    /* an older version of the FLAD state (3) is refused by its number, naming the file */
    bmx_flad_run_config c = config(d);
    s[0] = 3;
    CHECK(rewrite_section(ck, "flad.st", s, sl) == 0);
    refused(&c, BMX_EINVAL, "FLAD state version 3", ck);
    refused(&c, BMX_EINVAL, "reads version 4", ck);
    free(s);
    /* an older bmx flad's checkpoint: its run state (version 1) in one "extra" section */
    CHECK(bmx_checkpoint_save(ck, t, "BMXFRUN1\1\0\0\0\0\0\0\0", 12, &err) == 0);
    refused(&c, BMX_EINVAL, "run state of version 1", ck);
    refused(&c, BMX_EINVAL, "reads version 2", ck);
    bmx_trainer_free(t);
    bmx_model_free(m);
}

/* FLAD's keys through the generic config text: written, read back, no difference; a value
 * that needs quoting survives; a changed key is named. */
static void test_config_text(void)
{
    bmx_flad_run_config a = bmx_flad_run_config_default(), b = bmx_flad_run_config_default();
    a.target = "fx-color";
    a.holdout = " a#b, c ";
    a.lr = 0.1;
    a.seed = 18446744073709551615ull;
    a.min_rounds = 172;
    char *text = bmx_config_text(bmx_flad_run_keys(), &a);
    CHECK(text && strstr(text, "holdout      = \" a#b, c \"\n"));
    bmx_run_strings st = {0};
    bmx_err err = {0};
    CHECK_MSG(bmx_config_parse(bmx_flad_run_keys(), &b, text, strlen(text), "t", &st, &err) == 0,
              "%s", err.msg);
    char diff[200];
    CHECK_EQ_INT(bmx_config_diff(bmx_flad_run_keys(), &a, &b, NULL, diff, sizeof diff), 0);
    b.seed = 1;
    b.aux_draws = 3;
    CHECK_EQ_INT(bmx_config_diff(bmx_flad_run_keys(), &a, &b, NULL, diff, sizeof diff), 2);
    CHECK(!strcmp(diff, "aux_draws, seed"));
    static const char *const skip[] = {"seed", NULL};
    CHECK_EQ_INT(bmx_config_diff(bmx_flad_run_keys(), &a, &b, skip, diff, sizeof diff), 1);
    CHECK(bmx_config_parse(bmx_flad_run_keys(), &b, "steps = 3\n", 10, "f.txt", &st, &err) ==
              BMX_EINVAL &&
          strstr(err.msg, "f.txt:1: unknown key 'steps'"));
    bmx_run_strings_free(&st);
    free(text);
}

/* theta_0's scores (bmx_flad_zero_shot) are what a run that keeps theta_0 reports: a run of
 * one round with no evaluation keeps it (best round 0), so its test accuracy and best
 * validation accuracy must equal the zero-shot ones exactly, split by split. The label prior
 * from the fixture's test labels, counted by hand: fx-color's 9 test examples are 6 green
 * (choice 1) and 3 red (choice 2), none blue. */
static void test_zero_shot(void)
{
    setup();
    bmx_err err = {0};
    bmx_flad_run_config c = config("");
    bmx_flad_zero_shot_scores zs;
    CHECK_MSG(bmx_flad_zero_shot(&c, 2, &zs, &err) == 0, "%s", err.msg);
    CHECK_EQ_INT(zs.splits, 2);
    CHECK(zs.test_sum >= 0 && zs.test_sum <= 1 && zs.test_mean >= 0 && zs.test_mean <= 1);
    bmx_task *t;
    CHECK_MSG(bmx_task_open(&t, tasks, "fx-color", &err) == 0, "%s", err.msg);
    for (int s = 0; s < 2; s++) {
        char dir[128];
        snprintf(dir, sizeof dir, "%s/zs%d", root, s);
        bmx_flad_run_config rc = config(dir);
        bmx_flad_result res;
        rc.split = s;
        rc.rounds = 1;
        rc.eval_every = 100;
        CHECK_MSG(bmx_flad_run(&rc, NULL, &res, &err) == 0, "%s", err.msg);
        CHECK_EQ_INT((int)res.best_round, 0);
        CHECK(res.test_sum == zs.test_sum && res.test_mean == zs.test_mean);
        CHECK(res.best_val == zs.val[s]);
        bmx_flad_result_free(&res);
        size_t *tr, *va, ntr, nva, cnt[3] = {0};
        CHECK_MSG(bmx_task_fewshot(t, s, &tr, &ntr, &va, &nva, &err) == 0, "%s", err.msg);
        for (size_t i = 0; i < ntr; i++)
            cnt[bmx_task_example_at(t, tr[i])->correct]++;
        int top = cnt[1] > cnt[0] ? 1 : 0;
        top = cnt[2] > cnt[top] ? 2 : top;
        static const double share[3] = {0, 6.0 / 9, 3.0 / 9};
        CHECK_NEAR(zs.prior[s], share[top], 1e-15);
        free(tr);
        free(va);
    }
    bmx_task_free(t);
    /* a checkpoint and a random model both given, a --seq past the context, 6 splits */
    c.init = "x.bin";
    CHECK(bmx_flad_zero_shot(&c, 1, &zs, &err) == BMX_EINVAL && strstr(err.msg, "exactly one"));
    c.init = "";
    c.seq = 49;
    CHECK(bmx_flad_zero_shot(&c, 1, &zs, &err) == BMX_EINVAL && strstr(err.msg, "--seq of 2..48"));
    c.seq = 40;
    CHECK(bmx_flad_zero_shot(&c, 6, &zs, &err) == BMX_EINVAL && strstr(err.msg, "give 0..5"));
}

/* By default (patience 0) a run trains every round and keeps its best validation accuracy;
 * the same run with patience 1 stops at its first evaluation without a new best, so the
 * default is what lets a run whose accuracy is flat at first go on. */
static void test_default_patience(void)
{
    setup();
    long rounds[2] = {0, 0};
    for (int v = 0; v < 2; v++) {
        char dir[128];
        snprintf(dir, sizeof dir, "%s/patience%d", root, v);
        bmx_flad_run_config c = config(dir);
        bmx_flad_result res;
        bmx_err err = {0};
        c.patience = v ? 1 : bmx_flad_run_config_default().patience;
        c.eval_every = 1;
        c.rounds = 30;
        c.aux_draws = 1;
        CHECK_MSG(bmx_flad_run(&c, NULL, &res, &err) == 0, "%s", err.msg);
        CHECK_EQ_INT(res.stopped, v);
        rounds[v] = res.rounds;
        bmx_flad_result_free(&res);
    }
    CHECK_EQ_INT((int)rounds[0], 30);
    CHECK_MSG(rounds[1] < 30, "patience 1 ran %ld rounds", rounds[1]);
}

/* Progress callback of the comparison: counts the runs begun (res NULL, split >= 0). */
static void count_begun(void *ctx, const char *target, int split, const char *method,
                        const bmx_flad_result *res)
{
    (void)target;
    (void)method;
    if (!res && split >= 0)
        ++*(int *)ctx;
}

/* bmx_flad_compare with the stop flag up: a finished comparison, which only re-scores its
 * runs, returns 1 before the first of them and writes no table; with the flag down it re-scores
 * all of them and returns the same table as the first pass. */
static void test_compare_stop(void)
{
    setup();
    char dir[128];
    snprintf(dir, sizeof dir, "%s/compare", root);
    bmx_flad_compare_config c = {config(dir), "fx-color,fx-count", 1, "target-only,exp3", 1};
    c.run.rounds = 3;
    volatile int stop = 0;
    int begun = 0;
    bmx_flad_compare_opts o = {count_begun, &begun, &stop, {0}};
    bmx_err err = {0};
    char *md = NULL, *md2 = NULL;
    CHECK_MSG(bmx_flad_compare(&c, &o, &md, &err) == 0, "%s", err.msg);
    CHECK_EQ_INT(begun, 4);
    CHECK(md && strstr(md, "| target-only |"));
    stop = 1;
    begun = 0;
    CHECK_EQ_INT(bmx_flad_compare(&c, &o, &md2, &err), 1);
    CHECK_EQ_INT(begun, 0);
    CHECK(md2 == NULL);
    stop = 0;
    CHECK_MSG(bmx_flad_compare(&c, &o, &md2, &err) == 0, "%s", err.msg);
    CHECK_EQ_INT(begun, 4);
    CHECK(md2 && md && strcmp(md, md2) == 0);
    free(md);
    free(md2);
}

int main(int argc, char **argv)
{
    static const struct check_case cases[] = {
        {"config_text", test_config_text},   {"folder", test_folder},
        {"resume_exact", test_resume_exact}, {"refused", test_refused},
        {"state_layout", test_state_layout}, {"stepwise", test_stepwise},
        {"zero_shot", test_zero_shot},       {"default_patience", test_default_patience},
        {"compare_stop", test_compare_stop}, {0},
    };
    return check_main(argc, argv, cases);
}
