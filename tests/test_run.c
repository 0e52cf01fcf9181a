/* tests/test_run.c - the training loop with a mixing policy (bmx/run.h), on a tiny model and
 * three small domains the test tokenizes itself from tests/fixtures/tok texts:
 *  - a policy that always draws one domain trains only on it (same weights, bit for bit, as a
 *    run that has only that domain);
 *  - per-domain loss accounting: with lr = 0 the model never changes, so an independent
 *    replay (same generators, direct forward passes, a fresh policy fed the same
 *    observations) must give the logged per-domain losses, counts and distributions;
 *  - odm-smoothed-mean logs the mean of a domain's micro-batch losses, odm the sum;
 *  - bad configuration values and missing data give messages that name the problem. */
#include "check.h"
#include "helpers.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bmx/checkpoint.h"
#include "bmx/data.h"
#include "bmx/kernels.h"
#include "bmx/mix.h"
#include "bmx/model.h"
#include "bmx/run.h"
#include "bmx/report.h"
#include "bmx/tok.h"
#include "bmx/train.h"

static char dir[256];
static const char *names[3] = {"code", "legal", "man"};
static const char *files[3] = {"tests/fixtures/tok/c-stdio.h", "tests/fixtures/tok/legal-gpl3.txt",
                               "tests/fixtures/tok/man-grep.txt"};

/* dir/data/<name>/{train,val}.bin from the three fixture texts (made once). */
static int make_data(void)
{
    static int done;
    char p[400];

    if (done)
        return 0;
    snprintf(dir, sizeof dir, "/tmp/bmx_test_run_%d", (int)getpid());
    mkdir(dir, 0777);
    snprintf(p, sizeof p, "%s/data", dir);
    make_shards(p, names, files, 3);
    done = 1;
    return 0;
}

static bmx_run_config tiny(const char *out)
{
    static char data[400], outp[400];
    bmx_run_config c = bmx_run_config_default();
    snprintf(data, sizeof data, "%s/data", dir);
    snprintf(outp, sizeof outp, "%s/%s", dir, out);
    c.data = data;
    c.out = outp;
    c.steps = 6;
    c.batch = 2;
    c.seq = 16;
    c.accum = 4;
    c.layers = 1;
    c.heads = 2;
    c.width = 32;
    c.warmup = 2;
    c.eval_every = 3;
    c.eval_windows = 4;
    c.ckpt_every = 0;
    c.threads = 1;
    c.seed = 5;
    return c;
}

static void rmrun(const char *out)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s/%s'", dir, out);
    CHECK(system(cmd) == 0);
}

/* The data made (once), the run folder dir/out removed, and tiny(out). */
static bmx_run_config fresh(const char *out)
{
    CHECK(make_data() == 0);
    rmrun(out);
    return tiny(out);
}

static float *load_params(const char *out, size_t *n)
{
    char p[600];
    bmx_model *m = NULL;
    bmx_trainer *t = NULL;
    bmx_err err;
    snprintf(p, sizeof p, "%s/%s/checkpoint.bin", dir, out);
    if (bmx_checkpoint_load(p, 1, &m, &t, NULL, NULL, &err))
        return NULL;
    *n = bmx_model_num_params(m);
    float *c = malloc(*n * sizeof *c);
    memcpy(c, bmx_model_params(m), *n * sizeof *c);
    bmx_trainer_free(t);
    bmx_model_free(m);
    return c;
}

static bmx_runlog *load_log(const char *out)
{
    char p[600];
    bmx_runlog *l = NULL;
    bmx_err err;
    snprintf(p, sizeof p, "%s/%s", dir, out);
    if (bmx_runlog_load(p, &l, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return NULL;
    }
    return l;
}

/* The number of step records in dir/out/log.jsonl, -1 when it does not load. */
static long steps_logged(const char *out)
{
    bmx_runlog *l = load_log(out);
    long n = l ? (long)l->nsteps : -1;
    bmx_runlog_free(l);
    return n;
}

/* dir/NAME in buf, a symbolic link to the data folder dir/data (made on first use). */
static const char *data_link(const char *name, char *buf, size_t cap)
{
    char target[400];
    snprintf(buf, cap, "%s/%s", dir, name);
    snprintf(target, sizeof target, "%s/data", dir);
    if (access(buf, F_OK) != 0)
        CHECK(symlink(target, buf) == 0);
    return buf;
}

static void test_one_domain(void)
{
    bmx_err err = {0};
    bmx_run_config a = fresh("one");
    rmrun("only");
    a.policy = "weights";
    a.weights = "0,1,0";
    bmx_run_opts o = {0};
    CHECK_MSG(bmx_run_train(&a, &o, &err) == 0, "%s", err.msg);
    bmx_run_config b = tiny("only");
    b.policy = "uniform";
    b.domains = "legal";
    CHECK_MSG(bmx_run_train(&b, &o, &err) == 0, "%s", err.msg);
    bmx_runlog *l = load_log("one");
    CHECK(l && l->K == 3 && l->nsteps == 6);
    for (size_t s = 0; s < l->nsteps; s++) {
        CHECK_EQ_INT(l->dcount[s * 3 + 0], 0);
        CHECK_EQ_INT(l->dcount[s * 3 + 1], 4);
        CHECK_EQ_INT(l->dcount[s * 3 + 2], 0);
        CHECK(isnan(l->dloss[s * 3 + 0]) && isnan(l->dloss[s * 3 + 2]));
        CHECK_NEAR(l->probs[s * 3 + 1], 1.0, 0);
    }
    bmx_runlog *lb = load_log("only");
    CHECK(lb && lb->K == 1);
    /* the same micro-batches: the same step losses and the same final weights */
    for (size_t s = 0; s < l->nsteps; s++)
        CHECK(l->loss[s] == lb->loss[s]);
    size_t na, nb;
    float *pa = load_params("one", &na), *pb = load_params("only", &nb);
    CHECK(pa && pb && na == nb);
    CHECK(memcmp(pa, pb, na * sizeof *pa) == 0);
    /* and the run moved away from the initial weights */
    bmx_model *m;
    bmx_rng ir;
    bmx_gpt_config mc = {300, 16, 1, 2, 32};
    CHECK(bmx_model_create(&mc, BMX_F32, 1, &m, &err) == 0);
    bmx_rng_seed(&ir, 5, 2);
    bmx_model_init(m, &ir);
    CHECK(memcmp(pa, bmx_model_params(m), na * sizeof *pa) != 0);
    bmx_model_free(m);
    free(pa);
    free(pb);
    bmx_runlog_free(l);
    bmx_runlog_free(lb);
}

/* The model and the domains' sample streams of a tiny run, set up as bmx_run_train does:
 * the model initialised from rng (seed 5, stream 2), domain d sampled with rng
 * (5 ^ FNV-1a(name), 1) from its training shard. */
struct replay {
    bmx_model *m;
    bmx_rng dr[3];
    bmx_shard *sh[3];
};

static void replay_open(struct replay *r)
{
    bmx_err err = {0};
    bmx_rng ir;
    char p[600];
    bmx_gpt_config mc = {300, 16, 1, 2, 32};
    CHECK(bmx_model_create(&mc, BMX_F32, 1, &r->m, &err) == 0);
    bmx_rng_seed(&ir, 5, 2);
    bmx_model_init(r->m, &ir);
    for (int d = 0; d < 3; d++) {
        uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a, computed here independently */
        for (const char *s = names[d]; *s; s++)
            h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
        CHECK(bmx_run_name_hash(names[d]) == h);
        bmx_rng_seed(&r->dr[d], 5 ^ h, 1);
        snprintf(p, sizeof p, "%s/data/%s/train.bin", dir, names[d]);
        CHECK(bmx_shard_open(&r->sh[d], p, &err) == 0);
    }
}

/* The next micro-batch of domain d: 2 windows of 16 tokens and their next tokens. */
static void replay_batch(struct replay *r, int d, int *inp, int *tgt)
{
    bmx_err err = {0};
    uint32_t win[17];
    for (int b = 0; b < 2; b++) {
        CHECK(bmx_shard_sample(r->sh[d], &r->dr[d], 16, win, NULL, &err) == 0);
        for (int k = 0; k < 16; k++) {
            inp[b * 16 + k] = (int)win[k];
            tgt[b * 16 + k] = (int)win[k + 1];
        }
    }
}

static void replay_close(struct replay *r)
{
    for (int d = 0; d < 3; d++)
        bmx_shard_free(r->sh[d]);
    bmx_model_free(r->m);
}

/* Replay a run with lr = 0 independently and compare with its log. */
static void replay(const char *policy, int mean)
{
    bmx_err err = {0};
    bmx_run_config c = fresh("acc");
    c.policy = policy;
    c.lr = 0;
    c.min_lr = 0;
    c.steps = 5;
    bmx_run_opts o = {0};
    CHECK_MSG(bmx_run_train(&c, &o, &err) == 0, "%s", err.msg);
    bmx_runlog *l = load_log("acc");
    CHECK(l && l->nsteps == 5 && l->K == 3);

    struct replay r;
    replay_open(&r);
    bmx_model *m = r.m;
    bmx_mix *mix;
    char p[600];
    CHECK(bmx_mix_create(&mix, policy, 3, NULL, 5, &err) == 0);
    int inp[32], tgt[32];
    uint32_t win[17];
    for (size_t s = 0; s < l->nsteps; s++) {
        double sum[3] = {0}, loss_sum = 0;
        int cnt[3] = {0};
        for (int d = 0; d < 3; d++)
            CHECK(bmx_mix_probs(mix)[d] == l->probs[s * 3 + (size_t)d]);
        for (int g = 0; g < 4; g++) {
            int d = bmx_mix_draw(mix);
            replay_batch(&r, d, inp, tgt);
            double loss;
            CHECK(bmx_model_forward(m, inp, tgt, 2, 16, &loss, NULL, NULL, &err) == 0);
            CHECK(bmx_mix_observe(mix, d, loss, &err) == 0);
            sum[d] += loss;
            cnt[d]++;
            loss_sum += loss;
        }
        CHECK(bmx_mix_step(mix, &err) == 0);
        for (int d = 0; d < 3; d++) {
            CHECK_EQ_INT(l->dcount[s * 3 + (size_t)d], cnt[d]);
            if (cnt[d])
                CHECK_NEAR(l->dloss[s * 3 + (size_t)d], mean ? sum[d] / cnt[d] : sum[d], 1e-12);
            else
                CHECK(isnan(l->dloss[s * 3 + (size_t)d]));
        }
        CHECK_NEAR(l->loss[s], loss_sum / 4, 1e-12);
    }
    /* the run's eval at the end equals a direct evaluation of the unchanged model on the
     * fixed windows */
    for (int d = 0; d < 3; d++) {
        bmx_shard *v;
        uint64_t *st;
        size_t nw;
        snprintf(p, sizeof p, "%s/data/%s/val.bin", dir, names[d]);
        CHECK(bmx_shard_open(&v, p, &err) == 0);
        CHECK(bmx_shard_val_windows(v, 16, 4, 0, &st, &nw, &err) == 0);
        CHECK_EQ_INT(nw, 4);
        double tot = 0;
        for (size_t w = 0; w < nw; w++) {
            bmx_shard_copy(v, st[w], 17, win);
            for (int k = 0; k < 16; k++) {
                inp[k] = (int)win[k];
                tgt[k] = (int)win[k + 1];
            }
            double loss;
            CHECK(bmx_model_forward(m, inp, tgt, 1, 16, &loss, NULL, NULL, &err) == 0);
            tot += loss;
        }
        CHECK_NEAR(l->eval_loss[(l->nevals - 1) * 3 + (size_t)d], tot / 4, 1e-6);
        free(st);
        bmx_shard_free(v);
    }
    replay_close(&r);
    bmx_mix_free(mix);
    bmx_runlog_free(l);
}

static void test_accounting_odm(void)
{
    replay("odm", 0);
}

static void test_accounting_smoothed_mean(void)
{
    replay("odm-smoothed-mean", 1);
}

/* DoReMi's proxy: with lr = 0 the proxy never changes, so each step's logged gradient norm
 * must equal that of sum_g w_g grad(loss_g) / sum_g w_g, w = alpha / q, with alpha the
 * policy's weights before the step, replayed here from per-token excess losses against the
 * reference model computed directly. (Unweighted, the norm differs by about 1%.) */
static void test_doremi_proxy(void)
{
    bmx_err err = {0};
    bmx_run_config r = fresh("ref");
    rmrun("prx");
    r.policy = "uniform";
    r.steps = 4;
    bmx_run_opts o = {0};
    CHECK_MSG(bmx_run_train(&r, &o, &err) == 0, "%s", err.msg);
    bmx_run_config c = tiny("prx");
    char refdir[600];
    snprintf(refdir, sizeof refdir, "%s/ref", dir);
    c.policy = "doremi";
    c.reference = refdir;
    c.lr = 0;
    c.min_lr = 0;
    c.steps = 4;
    CHECK_MSG(bmx_run_train(&c, &o, &err) == 0, "%s", err.msg);
    bmx_runlog *l = load_log("prx");
    CHECK(l && l->nsteps == 4);
    CHECK_EQ_STR(l->policy, "doremi:eta=1,c=0.001,vocab=300");

    struct replay rp;
    replay_open(&rp);
    bmx_model *m = rp.m, *ref;
    bmx_trainer *rt;
    bmx_mix *mix;
    char p[700];
    snprintf(p, sizeof p, "%s/checkpoint.bin", refdir);
    CHECK(bmx_checkpoint_load(p, 1, &ref, &rt, NULL, NULL, &err) == 0);
    CHECK(bmx_mix_create(&mix, "doremi:vocab=300", 3, NULL, 5, &err) == 0);
    size_t np = bmx_model_num_params(m);
    double *acc = calloc(np, sizeof *acc);
    int inp[32], tgt[32];
    double tl[32], rl[32];
    for (size_t s = 0; s < l->nsteps; s++) {
        double ex[3] = {0}, tk[3] = {0}, wsum = 0, alpha[3];
        memcpy(alpha, bmx_mix_estimates(mix), sizeof alpha);
        memset(acc, 0, np * sizeof *acc);
        for (int g = 0; g < 4; g++) {
            int d = bmx_mix_draw(mix);
            replay_batch(&rp, d, inp, tgt);
            CHECK(bmx_model_forward(m, inp, tgt, 2, 16, NULL, NULL, tl, &err) == 0);
            CHECK(bmx_model_backward(m, 1.0, 0, &err) == 0);
            double w = alpha[d] / bmx_mix_probs(mix)[d];
            const float *gr = bmx_model_grads(m);
            for (size_t i = 0; i < np; i++)
                acc[i] += w * gr[i];
            wsum += w;
            CHECK(bmx_model_forward(ref, inp, tgt, 2, 16, NULL, NULL, rl, &err) == 0);
            for (int i = 0; i < 32; i++)
                ex[d] += tl[i] > rl[i] ? tl[i] - rl[i] : 0;
            tk[d] += 32;
        }
        double norm = 0;
        for (size_t i = 0; i < np; i++)
            norm += (acc[i] / wsum) * (acc[i] / wsum);
        CHECK_NEAR(l->grad_norm[s], sqrt(norm), 1e-4);
        CHECK(bmx_mix_observe_excess(mix, ex, tk, &err) == 0);
        CHECK(bmx_mix_step(mix, &err) == 0);
    }
    /* the weights moved away from uniform, so the weighting was exercised */
    const double *a = bmx_mix_estimates(mix);
    CHECK(fabs(a[0] - 1.0 / 3) > 1e-3 || fabs(a[1] - 1.0 / 3) > 1e-3);
    /* and the run's own policy state ends where the replay does */
    bmx_mix *saved = NULL;
    snprintf(p, sizeof p, "%s/prx", dir);
    CHECK(bmx_run_policy_load(p, &saved, &err) == 0);
    for (int d = 0; d < 3; d++)
        CHECK_NEAR(bmx_mix_average(saved)[d], bmx_mix_average(mix)[d], 1e-9);
    bmx_mix_free(saved);
    free(acc);
    replay_close(&rp);
    bmx_mix_free(mix);
    bmx_trainer_free(rt);
    bmx_model_free(ref);
    bmx_runlog_free(l);
}

static void expect_err(const bmx_run_config *c, const char *what)
{
    bmx_err err = {0};
    bmx_run_opts o = {0};
    int rc = bmx_run_train(c, &o, &err);
    CHECK_MSG(rc < 0, "expected an error containing '%s'", what);
    CHECK_CONTAINS(err.msg, what);
}

static void test_bad_config(void)
{
    bmx_err err = {0};
    CHECK(make_data() == 0);
    bmx_run_config c = tiny("bad");
    c.steps = 0;
    CHECK(bmx_run_config_check(&c, &err) == BMX_EINVAL);
    CHECK_CONTAINS(err.msg, "steps = 0");
    c = tiny("bad");
    c.heads = 3;
    CHECK(bmx_run_config_check(&c, &err) == BMX_EINVAL);
    CHECK_CONTAINS(err.msg, "heads must divide width");
    c = tiny("bad");
    c.reward = "ga";
    CHECK(bmx_run_config_check(&c, &err) == BMX_EINVAL);
    CHECK_CONTAINS(err.msg, "reward = 'ga'");
    c = tiny("bad");
    c.data = "";
    CHECK(bmx_run_config_check(&c, &err) == BMX_EINVAL);
    CHECK_CONTAINS(err.msg, "--data DIR");
    CHECK(bmx_run_config_set(&c, "nope", "1", &err) == BMX_EINVAL);
    CHECK_CONTAINS(err.msg, "unknown configuration key 'nope'");
    CHECK(bmx_run_config_set(&c, "batch", "x", &err) == BMX_EINVAL);
    CHECK_CONTAINS(err.msg, "batch wants an integer");
    /* a config file: a good key with '-' and a bad line named by file:line */
    char p[600];
    snprintf(p, sizeof p, "%s/bad.cfg", dir);
    FILE *f = fopen(p, "w");
    fputs("# comment\neval-every = 7\nlr = 0.01  # peak\nbogus = 3\n", f);
    fclose(f);
    bmx_run_strings st = {0};
    c = tiny("bad");
    CHECK(bmx_run_config_load(&c, p, &st, &err) == BMX_EINVAL);
    CHECK_EQ_INT(c.eval_every, 7);
    CHECK_NEAR(c.lr, 0.01, 0);
    CHECK_CONTAINS(err.msg, "bad.cfg:4: unknown key 'bogus'");
    bmx_run_strings_free(&st);
    /* configuration text round trip */
    c = tiny("bad");
    c.lr = 0.1;
    c.policy = "odm:alpha=0.8";
    char *txt = bmx_run_config_text(&c);
    f = fopen(p, "w");
    fputs(txt, f);
    fclose(f);
    free(txt);
    bmx_run_config d = bmx_run_config_default();
    CHECK(bmx_run_config_load(&d, p, &st, &err) == 0);
    CHECK(d.lr == 0.1 && d.steps == 6 && d.seq == 16 && strcmp(d.policy, "odm:alpha=0.8") == 0);
    bmx_run_strings_free(&st);

    /* run-time errors */
    c = tiny("bad");
    c.data = "/nonexistent/corpus";
    expect_err(&c, "the data folder /nonexistent/corpus does not exist");
    c = tiny("bad");
    c.domains = "legal,nope";
    expect_err(&c, "domain 'nope' has no training shard");
    c = tiny("bad");
    c.policy = "weights";
    c.weights = "1,2";
    expect_err(&c, "has 2 values but the run has 3 domains");
    c = tiny("bad");
    c.policy = "odm:beta=2";
    expect_err(&c, "beta");
    c = tiny("bad");
    c.policy = "doremi";
    expect_err(&c, "needs --reference");
    c = tiny("bad");
    c.seq = 100000;
    CHECK(bmx_run_config_check(&c, &err) == BMX_EINVAL);
    /* an untokenized corpus folder */
    snprintf(p, sizeof p, "mkdir -p %s/raw/x && echo '#bmx-corpus 1' > %s/raw/x/train.txt", dir,
             dir);
    CHECK(system(p) == 0);
    c = tiny("bad");
    snprintf(p, sizeof p, "%s/raw", dir);
    c.data = p;
    expect_err(&c, "not tokenized yet");
    /* an existing run is not overwritten */
    rmrun("twice");
    c = tiny("twice");
    c.steps = 1;
    bmx_run_opts o = {0};
    CHECK(bmx_run_train(&c, &o, &err) == 0);
    expect_err(&c, "already holds a run");
}

/* ---- issue 11: config round trip, reward transforms, locks, resume checks, housekeeping,
 * memory ---- */

static long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

/* dir/out/name, in one of 4 rotating buffers: copy it to keep it longer */
static char *run_path(const char *out, const char *name)
{
    static char p[4][700];
    static int i;
    i = (i + 1) % 4;
    snprintf(p[i], sizeof p[i], "%s/%s/%s", dir, out, name);
    return p[i];
}

/* A command line's config files (bmx_config_load_args): --config files in order (the last
 * wins), --config=FILE, OUT/config.txt on --resume --out OUT only without --config and only
 * when asked for, an error naming the file. */
static void test_config_args(void)
{
    bmx_err err = {0};
    bmx_run_strings st = {0};
    char a[600], b[600], out[600], conf[700], bad[600];
    snprintf(a, sizeof a, "%s/args-a.cfg", dir);
    snprintf(b, sizeof b, "%s/args-b.cfg", dir);
    snprintf(out, sizeof out, "%s/args-out", dir);
    snprintf(conf, sizeof conf, "%s/config.txt", out);
    snprintf(bad, sizeof bad, "%s/args-bad.cfg", dir);
    write_file(a, "steps = 11\nlr = 0.5\n", 20);
    write_file(b, "steps = 22\n", 11);
    write_file(bad, "steps = x\n", 10);
    CHECK(mkdir(out, 0777) == 0 || errno == EEXIST);
    write_file(conf, "steps = 33\nbatch = 3\n", 21);
    const bmx_run_key *k = bmx_run_keys();

    bmx_run_config d = bmx_run_config_default();
    char eq[700];
    snprintf(eq, sizeof eq, "--config=%s", b);
    char *v1[] = {"train", "--config", a, "--steps", "5", eq, NULL};
    CHECK_MSG(bmx_config_load_args(k, &d, 6, v1, 1, &st, &err) == 0, "%s", err.msg);
    CHECK_EQ_INT(d.steps, 22); /* b after a; the flag --steps is not read here */
    CHECK_NEAR(d.lr, 0.5, 1e-15);
    bmx_run_strings_free(&st);

    d = bmx_run_config_default();
    long steps0 = d.steps;
    char *v2[] = {"train", "--resume", "--out", out, NULL};
    CHECK_EQ_INT(bmx_config_load_args(k, &d, 4, v2, 0, &st, &err), 0);
    CHECK_EQ_INT(d.steps, steps0); /* not asked for */
    CHECK_EQ_INT(bmx_config_load_args(k, &d, 4, v2, 1, &st, &err), 0);
    CHECK_EQ_INT(d.steps, 33);
    CHECK_EQ_INT(d.batch, 3);
    bmx_run_strings_free(&st);

    d = bmx_run_config_default();
    char *v3[] = {"train", "--resume", "--out", out, "--config", a, NULL};
    CHECK_EQ_INT(bmx_config_load_args(k, &d, 6, v3, 1, &st, &err), 0);
    CHECK_EQ_INT(d.steps, 11); /* --config wins over OUT/config.txt */
    char *v4[] = {"train", "--out", out, NULL};
    d = bmx_run_config_default();
    CHECK_EQ_INT(bmx_config_load_args(k, &d, 3, v4, 1, &st, &err), 0);
    CHECK_EQ_INT(d.steps, steps0); /* no --resume */
    char *v5[] = {"train", "--config", bad, NULL};
    CHECK_EQ_INT(bmx_config_load_args(k, &d, 3, v5, 1, &st, &err), BMX_EINVAL);
    CHECK_CONTAINS(err.msg, "args-bad.cfg:1");
    bmx_run_strings_free(&st);
}

/* Every string value comes back exactly from config text: '#', newlines (no key can be
 * injected), tabs, quotes, backslashes, control bytes, surrounding blanks. */
static void test_config_roundtrip(void)
{
    bmx_err err = {0};
    CHECK(make_data() == 0);
    bmx_run_config c = tiny("rt");
    c.data = "/data/run#1";
    c.method = "a\nsteps = 99";
    c.weights = " 1,2 \t";
    c.domains = "\"quoted\" # not a comment";
    c.reference = "back\\slash\x01\x7f\r";
    c.policy = "odm:alpha=0.5";
    char *txt = bmx_run_config_text(&c);
    CHECK(txt && !strstr(txt, "\nsteps = 99"));
    bmx_run_config d = bmx_run_config_default();
    bmx_run_strings st = {0};
    CHECK_MSG(bmx_run_config_parse(&d, txt, strlen(txt), "text", &st, &err) == 0, "%s", err.msg);
    CHECK_EQ_STR(d.data, "/data/run#1");
    CHECK_EQ_STR(d.method, "a\nsteps = 99");
    CHECK_EQ_STR(d.weights, " 1,2 \t");
    CHECK_EQ_STR(d.domains, "\"quoted\" # not a comment");
    CHECK_EQ_STR(d.reference, "back\\slash\x01\x7f\r");
    CHECK_EQ_STR(d.policy, "odm:alpha=0.5");
    CHECK_EQ_INT(d.steps, 6);
    free(txt);
    bmx_run_strings_free(&st);
    /* hand-written quoted values, comments after them, and what is wrong in them */
    static const struct {
        const char *text, *want;
    } ok[] = {{"data = \"x#y\"  # a comment\n", "x#y"},
              {"data=\"tab\\there\\x41\"", "tab\there\x41"},
              {"data = plain # comment\n", "plain"},
              {"data = \"\"\n", ""}};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        d = bmx_run_config_default();
        CHECK_MSG(bmx_run_config_parse(&d, ok[i].text, strlen(ok[i].text), "t", &st, &err) == 0,
                  "%s", err.msg);
        CHECK_EQ_STR(d.data, ok[i].want);
        bmx_run_strings_free(&st);
    }
    static const struct {
        const char *text, *msg;
    } bad[] = {{"steps = 3\ndata = \"open\n", "t:2: data: the quoted value has no closing"},
               {"data = \"a\\qb\"\n", "t:1: data: bad escape"},
               {"data = \"a\\x00\"\n", "t:1: data: bad escape"},
               {"data = \"a\" b\n", "t:1: data: text after the closing"},
               {"nokey # = 1\n", "t:1: expected 'key = value', got 'nokey'"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        d = bmx_run_config_default();
        CHECK(bmx_run_config_parse(&d, bad[i].text, strlen(bad[i].text), "t", &st, &err) ==
              BMX_EINVAL);
        CHECK_CONTAINS(err.msg, bad[i].msg);
        bmx_run_strings_free(&st);
    }
    /* a NUL byte is an error naming the file and line, not the end of the line */
    char p[600];
    snprintf(p, sizeof p, "%s/nul.cfg", dir);
    write_file(p, "steps = 5\nlr = 0.1\0 steps = 7\n", 29);
    d = bmx_run_config_default();
    CHECK(bmx_run_config_load(&d, p, &st, &err) == BMX_EINVAL);
    CHECK_CONTAINS(err.msg, "nul.cfg:2: a NUL byte at column 9");
    bmx_run_strings_free(&st);
    /* an endless or huge input ends with an error (a size cap), naming the file */
    snprintf(p, sizeof p, "%s/big.cfg", dir);
    size_t n = BMX_RUN_CONFIG_MAX + 1;
    char *big = malloc(n);
    memset(big, '\n', n);
    write_file(p, big, n);
    free(big);
    CHECK(bmx_run_config_load(&d, p, &st, &err) == BMX_EINVAL);
    CHECK_CONTAINS(err.msg, "big.cfg is larger than 1048576 bytes");
    bmx_run_strings_free(&st);
    if (access("/dev/zero", R_OK) == 0) {
        CHECK(bmx_run_config_load(&d, "/dev/zero", &st, &err) < 0);
        CHECK_CONTAINS(err.msg, "/dev/zero");
        bmx_run_strings_free(&st);
    }
    /* a run whose data folder has '#' in its name resumes from its config.txt */
    char hashed[600];
    c = fresh("hash");
    c.data = data_link("data#1", hashed, sizeof hashed);
    c.steps = 2;
    bmx_run_opts o = {0};
    CHECK_MSG(bmx_run_train(&c, &o, &err) == 0, "%s", err.msg);
    c.steps = 3;
    o.resume = 1;
    CHECK_MSG(bmx_run_train(&c, &o, &err) == 0, "%s", err.msg);
    CHECK_EQ_INT(steps_logged("hash"), 3);
}

/* ALGORITHMS.md section 1: no reward transform for odm, odm-smoothed-mean, doremi. */
static void test_reward_policy(void)
{
    bmx_err err = {0};
    static const char *const refused[] = {"odm", "odm-smoothed-mean:alpha=0.5", "doremi"};
    for (int i = 0; i < 3; i++) {
        bmx_run_config c = tiny("rw");
        c.policy = refused[i];
        c.reward = "exp-loss";
        CHECK(bmx_run_config_check(&c, &err) == BMX_EINVAL);
        CHECK_CONTAINS(err.msg, "reward = 'exp-loss' with policy ");
        CHECK_CONTAINS(err.msg, "no reward transform");
        c.reward = "loss";
        CHECK_MSG(bmx_run_config_check(&c, &err) == 0, "%s", err.msg);
    }
    bmx_run_config c = tiny("rw");
    c.policy = "exp3";
    c.reward = "exp-loss";
    CHECK_MSG(bmx_run_config_check(&c, &err) == 0, "%s", err.msg);
    c.policy = "odmx"; /* another name that starts like one: the policy's own check decides */
    CHECK(bmx_run_config_check(&c, &err) == 0);
}

static int count_removed;
static void count_log(void *ctx, int level, const char *msg)
{
    (void)ctx;
    if (level == BMX_LOG_INFO && strstr(msg, "removed ") && strstr(msg, "temporary file"))
        count_removed++;
}

/* A second process (here: a second open of the lock) is refused, naming the holder's pid;
 * nothing in the folder changes. */
static void test_lock(void)
{
    bmx_err err = {0};
    CHECK(make_data() == 0);
    rmrun("locked");
    char p[600], pid[32];
    snprintf(p, sizeof p, "%s/locked", dir);
    CHECK(mkdir(p, 0777) == 0);
    int fd = -1;
    CHECK_MSG(bmx_run_lock(p, &fd, &err) == 0, "%s", err.msg);
    FILE *f = fopen(run_path("locked", "lock"), "r");
    CHECK(f && fgets(pid, sizeof pid, f));
    fclose(f);
    CHECK_EQ_INT(atol(pid), getpid());
    bmx_run_config c = tiny("locked");
    c.steps = 2;
    bmx_run_opts o = {0};
    char want[200];
    snprintf(want, sizeof want, "locked is in use by another bmx run, process %ld", (long)getpid());
    CHECK(bmx_run_train(&c, &o, &err) == BMX_ESTATE);
    CHECK_CONTAINS(err.msg, want);
    CHECK(access(run_path("locked", "log.jsonl"), F_OK) != 0);
    int fd2 = -1;
    CHECK(bmx_run_lock(p, &fd2, &err) == BMX_ESTATE && fd2 == -1);
    bmx_run_unlock(fd);
    CHECK_MSG(bmx_run_train(&c, &o, &err) == 0, "%s", err.msg);
    /* released at the end of the run; a resume is refused the same way while held */
    CHECK_MSG(bmx_run_lock(p, &fd, &err) == 0, "%s", err.msg);
    long len = file_size(run_path("locked", "log.jsonl"));
    o.resume = 1;
    c.steps = 4;
    CHECK(bmx_run_train(&c, &o, &err) == BMX_ESTATE);
    CHECK_CONTAINS(err.msg, want);
    CHECK_EQ_INT(file_size(run_path("locked", "log.jsonl")), len);
    /* stale temporaries stay while another holds the lock, go on resume, nothing else does */
    static const char *const stale[] = {"checkpoint.bin.tmp.Ab3xY9", "config.txt.tmp"};
    static const char *const kept[] = {"checkpoint.bin.tmp.short",
                                       "checkpoint.bin.tmp.Ab3xY9z",
                                       "checkpoint.bin.tmp.Ab3-Y9",
                                       "config.txt.tmp.1",
                                       "x.tmp",
                                       "checkpoint.bin.tmp"};
    for (int i = 0; i < 2; i++)
        write_file(run_path("locked", stale[i]), "x", 1);
    for (int i = 0; i < 6; i++)
        write_file(run_path("locked", kept[i]), "x", 1);
    CHECK(mkdir(run_path("locked", "checkpoint.bin.tmp.DIR123"), 0777) == 0);
    CHECK(bmx_run_train(&c, &o, &err) == BMX_ESTATE);
    for (int i = 0; i < 2; i++)
        CHECK(access(run_path("locked", stale[i]), F_OK) == 0);
    bmx_run_unlock(fd);
    o.log.fn = count_log;
    count_removed = 0;
    CHECK_MSG(bmx_run_train(&c, &o, &err) == 0, "%s", err.msg);
    CHECK_EQ_INT(count_removed, 2);
    for (int i = 0; i < 2; i++)
        CHECK(access(run_path("locked", stale[i]), F_OK) != 0);
    for (int i = 0; i < 6; i++)
        CHECK(access(run_path("locked", kept[i]), F_OK) == 0);
    CHECK(access(run_path("locked", "checkpoint.bin.tmp.DIR123"), F_OK) == 0);
    CHECK_EQ_INT(steps_logged("locked"), 4);
}

/* Rewrite the "run" section of out's checkpoint (bmx/checkpoint.h: u32 version, u32 domains,
 * u64 step, tokens, log length) with field (byte offset) set to v, every other section as it
 * was; the checksums are recomputed, as anyone can. */
static void craft_state(const char *out, int off, uint64_t v)
{
    bmx_err err = {0};
    bmx_ckpt_reader *rd = NULL;
    bmx_ckpt_writer *w = NULL;
    char *ck = run_path(out, "checkpoint.bin");
    const char *tag;
    CHECK_MSG(bmx_ckpt_open(ck, &rd, &err) == 0, "%s", err.msg);
    CHECK(bmx_ckpt_writer_create(&w, &err) == 0);
    for (int i = 0; (tag = bmx_ckpt_tag(rd, i)); i++) {
        unsigned char *b = NULL;
        size_t n = 0;
        CHECK_MSG(bmx_ckpt_read_alloc(rd, tag, (void **)&b, &n, &err) == 0, "%s", err.msg);
        if (strcmp(tag, "run") == 0) {
            CHECK(n == 32 && bmx_le_get32(b) == 1);
            bmx_le_put64(b + off, v);
        }
        CHECK(bmx_ckpt_add(w, tag, b, n, &err) == 0);
        free(b);
    }
    bmx_ckpt_close(rd);
    CHECK_MSG(bmx_ckpt_save(w, ck, &err) == 0, "%s", err.msg);
    bmx_ckpt_writer_free(w);
}

static uint64_t state_field(const char *out, int off)
{
    bmx_err err = {0};
    bmx_ckpt_reader *rd = NULL;
    unsigned char b[32];
    CHECK(bmx_ckpt_open(run_path(out, "checkpoint.bin"), &rd, &err) == 0);
    CHECK(bmx_ckpt_read(rd, "run", b, sizeof b, &err) == 0);
    bmx_ckpt_close(rd);
    return bmx_le_get64(b + off);
}

static void append_line(const char *path, const char *line)
{
    FILE *f = fopen(path, "a");
    CHECK(f && fputs(line, f) >= 0);
    fclose(f);
}

/* Resume refuses a run state that disagrees with the checkpoint's header, its token count
 * or log.jsonl (with recomputed checksums), and hand edits of config.txt, naming the file or
 * the keys; the run folder is left as it was. */
static void test_resume_checks(void)
{
    bmx_err err = {0};
    bmx_run_config c = fresh("rs");
    bmx_run_opts o = {0};
    CHECK_MSG(bmx_run_train(&c, &o, &err) == 0, "%s", err.msg); /* 6 steps, checkpoint at 6 */
    char logp[700], cfgp[700];
    snprintf(logp, sizeof logp, "%s", run_path("rs", "log.jsonl"));
    snprintf(cfgp, sizeof cfgp, "%s", run_path("rs", "config.txt"));
    char cmd[3000];
    snprintf(cmd, sizeof cmd, "cp '%s' '%s.orig' && cp '%s' '%s.orig'", logp, logp, cfgp, cfgp);
    CHECK(system(cmd) == 0);
    long len = file_size(logp);
    CHECK(len > 0 && (uint64_t)len == state_field("rs", 24));
    /* the byte offset of the end of step 5's record */
    FILE *f = fopen(logp, "r");
    char line[8192];
    long end5 = -1;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "{\"type\":\"step\",\"step\":5,", 24) == 0)
            end5 = ftell(f);
    fclose(f);
    CHECK(end5 > 0);
    const uint64_t tps = 2 * 16 * 4;
    static const struct {
        int off;
        uint64_t v;
        const char *msg;
    } cases[] = {
        {24, 0, "says log.jsonl held 0 bytes at step 6"},
        {24, 1u << 30, "says log.jsonl held 1073741824 bytes at step 6"},
        {8, (uint64_t)-1, "its run state says step -1, its header step 6"},
        {8, (uint64_t)INT64_MIN, "its run state says step -9223372036854775808, its header"},
        {8, 5, "its run state says step 5, its header step 6"},
        {16, 5 * tps, "its run state says 640 tokens after 6 steps of 128 tokens"},
        {24, 0 /* end5 */, "holds 5 step records up to the checkpoint's length"},
        {24, 1 /* len - 1 */, "which is not the end of a line"},
    };
    o.resume = 1;
    c.steps = 8;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint64_t v = cases[i].v;
        if (i == 6)
            v = (uint64_t)end5;
        if (i == 7)
            v = (uint64_t)len - 1;
        craft_state("rs", cases[i].off, v);
        int rc = bmx_run_train(&c, &o, &err);
        CHECK_MSG(rc < 0, "case %zu: resumed", i);
        CHECK_CONTAINS(err.msg, cases[i].msg);
        CHECK_CONTAINS(err.msg, "checkpoint.bin");
        CHECK_MSG(file_size(logp) == len, "case %zu: log.jsonl changed", i); /* not cut */
        craft_state("rs", cases[i].off,
                    cases[i].off == 8    ? 6
                    : cases[i].off == 16 ? 6 * tps
                                         : (uint64_t)len);
    }
    /* hand edits of config.txt (a later line wins): optimizer values against the checkpoint,
     * the rest against the configuration in the log's header */
    append_line(cfgp, "lr = 0.01\nclip = 0.5\n");
    CHECK(bmx_run_train(&c, &o, &err) == BMX_EINVAL);
    CHECK_CONTAINS(err.msg, "optimizer values differ");
    CHECK_CONTAINS(err.msg, "lr 0.01 (checkpoint 0.003), clip 0.5 (checkpoint 1)");
    snprintf(cmd, sizeof cmd, "cp '%s.orig' '%s'", cfgp, cfgp);
    CHECK(system(cmd) == 0);
    append_line(cfgp, "seed = 9\neval_windows = 3\npolicy = odm:alpha=0.9\n");
    CHECK(bmx_run_train(&c, &o, &err) == BMX_EINVAL);
    CHECK_CONTAINS(err.msg, "config.txt differs from the configuration the run started with");
    CHECK_CONTAINS(err.msg, "in: policy, seed, eval_windows.");
    CHECK_EQ_INT(file_size(logp), len);
    snprintf(cmd, sizeof cmd, "cp '%s.orig' '%s'", cfgp, cfgp);
    CHECK(system(cmd) == 0);
    append_line(cfgp, "batch = 3\npolicy = odm:alpha=0.5\n");
    CHECK(bmx_run_train(&c, &o, &err) == BMX_EINVAL);
    CHECK_CONTAINS(err.msg, "in: policy, batch.");
    CHECK_EQ_INT(file_size(logp), len);
    /* the corpus may move (data), steps and threads may change: the resume goes on */
    snprintf(cmd, sizeof cmd, "cp '%s.orig' '%s'", cfgp, cfgp);
    CHECK(system(cmd) == 0);
    char moved[600], line2[700];
    snprintf(line2, sizeof line2, "data = %s\n", data_link("data-moved", moved, sizeof moved));
    append_line(cfgp, line2);
    CHECK_MSG(bmx_run_train(&c, &o, &err) == 0, "%s", err.msg);
    CHECK_EQ_INT(steps_logged("rs"), 8);
}

/* A stop on a non-finite loss says what exists: no checkpoint yet, or the last good one. */
static void test_nan_message(void)
{
    bmx_err err = {0};
    bmx_run_config c = fresh("nan");
    c.lr = 1e30;
    c.clip = 0;
    c.warmup = 0;
    c.ckpt_every = 0;
    c.steps = 20;
    bmx_run_opts o = {0};
    CHECK(bmx_run_train(&c, &o, &err) == BMX_ESTATE);
    CHECK_CONTAINS(err.msg, "no checkpoint was written yet, the first was due at step 20");
    CHECK(!strstr(err.msg, "is intact"));
    CHECK(access(run_path("nan", "checkpoint.bin"), F_OK) != 0);
    rmrun("nan");
    c.ckpt_every = 1;
    CHECK(bmx_run_train(&c, &o, &err) == BMX_ESTATE);
    CHECK_CONTAINS(err.msg, "the last good checkpoint, step ");
    CHECK_CONTAINS(err.msg, "is intact in");
    CHECK(access(run_path("nan", "checkpoint.bin"), F_OK) == 0);
}

/* The memory estimate against a hand count of bmx/model.h's layout for the tiny run
 * (V 300 -> 320 padded, C 32, L 1, H 2, T 16, B 2), and the refusal before any allocation. */
static void test_memory(void)
{
    bmx_err err = {0};
    bmx_run_config c = tiny("mem");
    bmx_run_memory m = bmx_run_memory_estimate(&c, 300);
    /* wte 320*32 + wpe 16*32 + block 12*32*32 + 13*32 + ln_f 2*32 */
    const uint64_t P = 10240 + 512 + 12704 + 64;
    CHECK_EQ_INT(m.params, P * 4);
    CHECK_EQ_INT(m.grads, P * 4);
    CHECK_EQ_INT(m.moments, P * 8);
    /* N = 32, NC = 1024, attention B H T T = 1024; forward: block 20 NC + 1024 + 4 N =
     * 21632, then 2 NC + N Vp + 4 N = 2048 + 10240 + 128; backward 10 NC + 1024 = 11264;
     * token buffers 32 N bytes */
    const uint64_t acts = 21632 + 2048 + 10240 + 128, dacts = 11264;
    CHECK_EQ_INT(m.activations, (acts + dacts) * 4 + 32 * 32);
    CHECK_EQ_INT(m.reference, 0);
    CHECK_EQ_INT(m.total, P * 16 + (acts + dacts) * 4 + 1024);
    CHECK_EQ_INT(m.total, 558592);
    c.policy = "doremi:eta=0.5";
    m = bmx_run_memory_estimate(&c, 300);
    CHECK_EQ_INT(m.reference, P * 8 + (acts + dacts) * 4);
    CHECK_EQ_INT(m.total, 928000);
    /* the parameter count is the model's own */
    bmx_gpt_config mc = {300, 16, 1, 2, 32};
    bmx_model *mod;
    CHECK(bmx_model_create(&mc, BMX_F32, 1, &mod, &err) == 0);
    CHECK_EQ_INT(bmx_model_num_params(mod), P);
    bmx_model_free(mod);
    /* absurd sizes saturate instead of wrapping */
    c = tiny("mem");
    c.layers = 4096;
    c.width = 65536;
    c.heads = 65536;
    c.batch = 65536;
    c.seq = 65536;
    CHECK(bmx_run_memory_estimate(&c, 2000000000).total == UINT64_MAX);
    char b[32];
    CHECK_EQ_STR(bmx_run_fmt_bytes(b, 558592), "545.5 KiB");
    CHECK_EQ_STR(bmx_run_fmt_bytes(b, 1000), "1000 bytes");
    /* a run over its limit is refused before anything is allocated or created */
    c = fresh("mem");
    bmx_run_opts o = {0};
    o.mem_limit = 558591;
    CHECK(bmx_run_train(&c, &o, &err) == BMX_ENOMEM);
    CHECK_CONTAINS(err.msg, "the run needs about 545.5 KiB of memory (parameters 91.9 KiB");
    CHECK_CONTAINS(err.msg, "but 545.5 KiB is the limit given: lower --layers");
    CHECK(access(run_path("mem", ""), F_OK) != 0);
    o.mem_limit = 558592;
    CHECK_MSG(bmx_run_train(&c, &o, &err) == 0, "%s", err.msg);
    /* and a model no machine holds (3.4 PB), against the machine's available memory */
    rmrun("mem");
    c.layers = 4096;
    c.width = 65536;
    o.mem_limit = 0;
    CHECK(bmx_run_train(&c, &o, &err) == BMX_ENOMEM);
    CHECK_CONTAINS(err.msg, "PiB of memory");
    CHECK_CONTAINS(err.msg, "available now");
}

static void cleanup(void)
{
    char cmd[400];
    if (dir[0]) {
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0)
            fprintf(stderr, "cannot remove %s\n", dir);
    }
}

/* The stepwise API driven by hand with bmx_run_train's schedule, closed and reopened (resume)
 * after step `cut`, writes the log and checkpoint of bmx_run_train byte for byte. */
static void stepwise(const char *policy, const char *reference, long cut)
{
    bmx_err err = {0};
    char a_out[600], b_out[600], pa[700], pb[700];
    bmx_run_config c = tiny("sw-a");
    snprintf(a_out, sizeof a_out, "%s", c.out);
    snprintf(b_out, sizeof b_out, "%s/sw-b", dir);
    rmrun("sw-a");
    rmrun("sw-b");
    c.policy = policy;
    c.reference = reference;
    c.ckpt_every = 4;
    bmx_run_opts o = {0};
    CHECK_MSG(bmx_run_train(&c, &o, &err) == 0, "%s", err.msg);

    c.out = b_out;
    bmx_run *r = NULL;
    bmx_run_eval ev = {0};
    CHECK_MSG(bmx_run_open(&r, &c, &o, &err) == 0, "%s", err.msg);
    CHECK(!bmx_run_resumed(r) && bmx_run_step_count(r) == 0 && bmx_run_steps(r) == 6);
    CHECK(bmx_run_eval_due(r) && !bmx_run_ckpt_due(r) && !bmx_run_done(r));
    int nd = 0;
    CHECK_EQ_STR(bmx_run_domain_names(r, &nd)[1], "legal");
    CHECK_EQ_INT(nd, 3);
    for (int pass = 0; pass < 2; pass++) {
        while (!bmx_run_done(r) && (pass || bmx_run_step_count(r) < cut)) {
            if (bmx_run_eval_due(r)) {
                CHECK_MSG(bmx_run_evaluate(r, &ev, &err) == 0, "%s", err.msg);
                CHECK(ev.step == bmx_run_step_count(r) && ev.ndomains == 3);
                CHECK_NEAR(ev.avg_loss, (ev.loss[0] + ev.loss[1] + ev.loss[2]) / 3, 1e-12);
                CHECK_MSG(bmx_run_log_eval(r, &ev, &err) == 0, "%s", err.msg);
                CHECK(!bmx_run_eval_due(r));
            }
            if (bmx_run_ckpt_due(r))
                CHECK_MSG(bmx_run_checkpoint(r, &err) == 0, "%s", err.msg);
            if (!bmx_run_done(r) && (pass || bmx_run_step_count(r) < cut))
                CHECK_MSG(bmx_run_step(r, &err) == 0, "%s", err.msg);
            CHECK(isfinite(bmx_run_loss(r)));
        }
        if (!pass) { /* stop here: a checkpoint, then resume in a new handle */
            CHECK_EQ_INT(bmx_run_step_count(r), cut);
            if (bmx_run_eval_due(r)) {
                CHECK(bmx_run_evaluate(r, &ev, &err) == 0 && bmx_run_log_eval(r, &ev, &err) == 0);
            }
            CHECK_MSG(bmx_run_checkpoint(r, &err) == 0, "%s", err.msg);
            CHECK(bmx_run_ckpt_current(r));
            bmx_run_close(r);
            bmx_run_opts ro = o;
            ro.resume = 1;
            CHECK_MSG(bmx_run_open(&r, &c, &ro, &err) == 0, "%s", err.msg);
            CHECK(bmx_run_resumed(r) && bmx_run_step_count(r) == cut && !bmx_run_eval_due(r));
        }
    }
    if (bmx_run_eval_due(r)) {
        CHECK(bmx_run_evaluate(r, &ev, &err) == 0 && bmx_run_log_eval(r, &ev, &err) == 0);
    }
    if (bmx_run_ckpt_due(r) || !bmx_run_ckpt_current(r))
        CHECK_MSG(bmx_run_checkpoint(r, &err) == 0, "%s", err.msg);
    CHECK(bmx_run_done(r) && bmx_run_step_count(r) == 6);
    /* the last evaluation's losses are those of the log's last eval record */
    bmx_runlog *l = load_log("sw-b");
    CHECK(l && l->nevals == 3 && l->nsteps == 6);
    for (int d = 0; d < 3; d++)
        CHECK(l->eval_loss[2 * 3 + (size_t)d] == ev.loss[d]);
    bmx_runlog_free(l);
    bmx_run_close(r);
    snprintf(pa, sizeof pa, "%s/log.jsonl", a_out);
    snprintf(pb, sizeof pb, "%s/log.jsonl", b_out);
    CHECK_MSG(same_file(pa, pb), "%s: log.jsonl differs from bmx_run_train's", policy);
    snprintf(pa, sizeof pa, "%s/checkpoint.bin", a_out);
    snprintf(pb, sizeof pb, "%s/checkpoint.bin", b_out);
    CHECK_MSG(same_file(pa, pb), "%s: checkpoint.bin differs from bmx_run_train's", policy);
}

static void test_stepwise_equals_train(void)
{
    char refdir[600];
    CHECK(make_data() == 0);
    stepwise("odm", "", 2);
    stepwise("exp3", "", 5);
    stepwise("aioli:interval=4,rounds=1,probe=1", "", 3);
    /* doremi: the per-micro-batch loss weights and the reference forward */
    bmx_err err = {0};
    rmrun("swref");
    bmx_run_config r = tiny("swref");
    r.policy = "uniform";
    r.steps = 2;
    bmx_run_opts o = {0};
    CHECK_MSG(bmx_run_train(&r, &o, &err) == 0, "%s", err.msg);
    snprintf(refdir, sizeof refdir, "%s/swref", dir);
    stepwise("doremi", refdir, 3);
}

/* A run's checkpoint holds the sections of bmx/run.h, the policy restored by
 * bmx_run_policy_load from "policy"; a checkpoint without it is refused naming the file. */
static void test_checkpoint_sections(void)
{
    bmx_err err = {0};
    bmx_run_config c = fresh("sec");
    bmx_run_opts o = {0};
    CHECK_MSG(bmx_run_train(&c, &o, &err) == 0, "%s", err.msg);
    bmx_ckpt_reader *rd = NULL;
    static const char *const tags[] = {"model",  "params", "optim", "adam.m",
                                       "adam.v", "run",    "rng",   "policy"};
    CHECK_MSG(bmx_ckpt_open(run_path("sec", "checkpoint.bin"), &rd, &err) == 0, "%s", err.msg);
    for (int i = 0; i < 8; i++)
        CHECK_EQ_STR(bmx_ckpt_tag(rd, i), tags[i]);
    CHECK(bmx_ckpt_tag(rd, 8) == NULL);
    size_t n = 0;
    CHECK(bmx_ckpt_has(rd, "rng", &n) && n == 3 * 32);
    unsigned char run[32];
    CHECK(bmx_ckpt_read(rd, "run", run, 32, &err) == 0);
    CHECK(bmx_le_get32(run) == 1 && bmx_le_get32(run + 4) == 3);
    CHECK_EQ_INT(bmx_le_get64(run + 8), 6);
    CHECK_EQ_INT(bmx_le_get64(run + 16), 6 * 2 * 16 * 4);
    bmx_ckpt_close(rd);
    char rundir[600];
    snprintf(rundir, sizeof rundir, "%s/sec", dir);
    bmx_mix *m = NULL;
    CHECK_MSG(bmx_run_policy_load(rundir, &m, &err) == 0, "%s", err.msg);
    CHECK_EQ_INT(bmx_mix_arms(m), 3);
    CHECK_EQ_STR(bmx_mix_name(m), "odm");
    bmx_mix_free(m);
    /* a plain trainer checkpoint has no policy */
    bmx_model *mo = NULL;
    bmx_trainer *t = NULL;
    CHECK(bmx_checkpoint_load(run_path("sec", "checkpoint.bin"), 1, &mo, &t, NULL, NULL, &err) ==
          0);
    CHECK(bmx_checkpoint_save(run_path("sec", "checkpoint.bin"), t, NULL, 0, &err) == 0);
    bmx_trainer_free(t);
    bmx_model_free(mo);
    CHECK(bmx_run_policy_load(rundir, &m, &err) == BMX_ECORRUPT);
    CHECK_CONTAINS(err.msg, "checkpoint.bin has no section 'policy'");
}

int main(int argc, char **argv)
{
    static const struct check_case cases[] = {
        {"one_domain", test_one_domain},
        {"accounting_odm", test_accounting_odm},
        {"accounting_smoothed_mean", test_accounting_smoothed_mean},
        {"doremi_proxy", test_doremi_proxy},
        {"bad_config", test_bad_config},
        {"config_roundtrip", test_config_roundtrip},
        {"config_args", test_config_args},
        {"reward_policy", test_reward_policy},
        {"lock", test_lock},
        {"resume_checks", test_resume_checks},
        {"nan_message", test_nan_message},
        {"memory", test_memory},
        {"stepwise_equals_train", test_stepwise_equals_train},
        {"checkpoint_sections", test_checkpoint_sections},
        {0}};
    bmx_kernels_set_threads(1);
    int rc = check_main(argc, argv, cases);
    cleanup();
    return rc;
}
