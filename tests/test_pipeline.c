/* tests/test_pipeline.c - work made of several runs (bmx/pipeline.h), called from C on a tiny
 * model and two small domains: the compare grid's folders, its resume (a finished run is
 * resumed to its end, leaving its files as they were; a missing one is trained), a stop that
 * ends the grid, DoReMi's stages reusing the grid's uniform run as their reference, and the
 * grid's parsing and checks. */
#include "check.h"
#include "helpers.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bmx/data.h"
#include "bmx/pipeline.h"
#include "bmx/report.h"
#include "bmx/run.h"
#include "bmx/tok.h"

static char dir[256];

/* dir/data/<name>/{train,val}.bin from two fixture texts (80% train, 20% val). */
static void make_data(void)
{
    static const char *const names[2] = {"code", "man"};
    static const char *const files[2] = {"tests/fixtures/tok/c-stdio.h",
                                         "tests/fixtures/tok/man-grep.txt"};
    char p[400];

    if (dir[0])
        return;
    snprintf(dir, sizeof dir, "%s", check_tmpdir("pipeline"));
    snprintf(p, sizeof p, "%s/data", dir);
    make_shards(p, names, files, 2);
}

static bmx_run_config tiny(void)
{
    static char data[400];
    bmx_run_config c = bmx_run_config_default();

    make_data();
    snprintf(data, sizeof data, "%s/data", dir);
    c.data = data;
    c.steps = 3;
    c.batch = 2;
    c.seq = 16;
    c.accum = 2;
    c.layers = 1;
    c.heads = 2;
    c.width = 16;
    c.warmup = 1;
    c.eval_every = 0;
    c.eval_windows = 2;
    c.ckpt_every = 0;
    c.threads = 1;
    return c;
}

/* Each run the pipeline starts: its label and resume flag, then bmx_run_train (or a stop
 * when the count reaches stop_at). */
struct calls {
    int n, stop_at;
    char label[8][64];
    int resume[8];
};

static int record(void *ctx, const bmx_run_config *c, int resume, const char *label, bmx_err *err)
{
    struct calls *k = ctx;
    bmx_run_opts o = {0};

    if (k->n < 8) {
        snprintf(k->label[k->n], sizeof k->label[k->n], "%s", label);
        k->resume[k->n] = resume;
    }
    if (++k->n == k->stop_at)
        return 1;
    o.resume = resume;
    return bmx_run_train(c, &o, err);
}

static char *run_file(const char *run, const char *name, size_t *n)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", run, name);
    return slurp(p, n);
}

static void test_grid_resume(void)
{
    bmx_pipeline_grid g;
    bmx_run_config c = tiny();
    bmx_pipeline_opts o = {0};
    struct calls k = {0};
    bmx_err err = {0};
    char out[400], dirs[2][512], *log1, *log2, *ck1, *ck2;
    size_t n1, n2, m1, m2;

    snprintf(out, sizeof out, "%s/grid", dir);
    o.train = record;
    o.ctx = &k;
    CHECK_MSG(bmx_pipeline_grid_parse(&g, "uniform,odm:alpha=0.8", "4", &err) == 0, "%s", err.msg);
    c.out = "per run"; /* checked as set; the grid sets each run's */
    CHECK_MSG(bmx_pipeline_grid_check(&g, &c, &err) == 0, "%s", err.msg);
    CHECK_MSG(bmx_pipeline_compare(&g, &c, out, dirs[0], sizeof dirs[0], &o, &err) == 0, "%s",
              err.msg);
    CHECK_EQ_INT(k.n, 2);
    CHECK_EQ_STR(k.label[0], "uniform s4");
    CHECK_EQ_STR(k.label[1], "odm:alpha=0.8 s4");
    CHECK(k.resume[0] == 0 && k.resume[1] == 0);
    CHECK(strstr(dirs[0], "/grid/uniform-s4") && strstr(dirs[1], "/grid/odm_alpha_0.8-s4"));
    log1 = run_file(dirs[1], "log.jsonl", &n1);
    ck1 = run_file(dirs[1], "checkpoint.bin", &m1);
    CHECK(log1 && ck1 && strstr(log1, "\"method\":\"odm:alpha=0.8\""));
    /* again: every run is resumed to its end, and nothing changes */
    k.n = 0;
    CHECK_MSG(bmx_pipeline_compare(&g, &c, out, dirs[0], sizeof dirs[0], &o, &err) == 0, "%s",
              err.msg);
    CHECK_EQ_INT(k.n, 2);
    CHECK(k.resume[0] == 1 && k.resume[1] == 1);
    log2 = run_file(dirs[1], "log.jsonl", &n2);
    ck2 = run_file(dirs[1], "checkpoint.bin", &m2);
    CHECK(log2 && n1 == n2 && memcmp(log1, log2, n1) == 0);
    CHECK(ck2 && m1 == m2 && memcmp(ck1, ck2, m1) == 0);
    free(log2);
    free(ck2);
    /* a lost run is trained again, from the start, and gives the same log */
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dirs[1]);
    CHECK(system(cmd) == 0);
    k.n = 0;
    CHECK_MSG(bmx_pipeline_compare(&g, &c, out, dirs[0], sizeof dirs[0], &o, &err) == 0, "%s",
              err.msg);
    CHECK(k.n == 2 && k.resume[0] == 1 && k.resume[1] == 0);
    log2 = run_file(dirs[1], "log.jsonl", &n2);
    CHECK(log2 && n1 == n2 && memcmp(log1, log2, n1) == 0);
    free(log2);
    /* a run that stops ends the grid with its value; the next runs are not started */
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", out);
    CHECK(system(cmd) == 0);
    k.n = 0;
    k.stop_at = 1;
    CHECK_EQ_INT(bmx_pipeline_compare(&g, &c, out, dirs[0], sizeof dirs[0], &o, &err), 1);
    CHECK_EQ_INT(k.n, 1);
    free(log1);
    free(ck1);
    bmx_pipeline_grid_free(&g);
}

static void test_grid_doremi(void)
{
    bmx_pipeline_grid g;
    bmx_run_config c = tiny();
    bmx_pipeline_opts o = {0}; /* train == NULL: bmx_run_train */
    bmx_err err = {0};
    char out[400], dirs[2][512], p[700];
    struct stat st;
    size_t n;

    snprintf(out, sizeof out, "%s/dor", dir);
    CHECK(bmx_pipeline_grid_parse(&g, "uniform,doremi", "2", &err) == 0);
    CHECK_MSG(bmx_pipeline_compare(&g, &c, out, dirs[0], sizeof dirs[0], &o, &err) == 0, "%s",
              err.msg);
    CHECK(strstr(dirs[1], "/dor/doremi-s2/final") != NULL);
    snprintf(p, sizeof p, "%s/doremi-s2/reference", out);
    CHECK_MSG(stat(p, &st) != 0, "%s: a reference was trained despite uniform's run", p);
    snprintf(p, sizeof p, "%s/doremi-s2/proxy", out);
    char *conf = run_file(p, "config.txt", &n);
    CHECK(conf && strstr(conf, "/dor/uniform-s2"));
    free(conf);
    snprintf(p, sizeof p, "%s/doremi-s2", out);
    char *w = run_file(p, "weights.txt", &n), *end;
    CHECK(w != NULL);
    double a = strtod(w, &end), b = strtod(end + 1, &end);
    CHECK(*end == '\n' && a > 0 && b > 0);
    CHECK_NEAR(a + b, 1.0, 1e-12);
    free(w);
    /* the proxy's log: alpha after every step, each summing to 1; weights.txt is their mean
     * with alpha_0 = (1/2, 1/2): alpha_bar = (alpha_0 + alpha_1 + ... + alpha_T) / (T + 1) */
    snprintf(p, sizeof p, "%s/doremi-s2/proxy", out);
    bmx_runlog *pl = NULL;
    CHECK_MSG(bmx_runlog_load(p, &pl, &err) == 0, "%s", err.msg);
    CHECK(pl && pl->alpha && pl->alpha_from == 0 && pl->nsteps == (size_t)c.steps);
    double sa = 0.5, sb = 0.5;
    int moved = 0;
    for (size_t i = 0; pl && pl->alpha && i < pl->nsteps; i++) {
        CHECK_NEAR(pl->alpha[2 * i] + pl->alpha[2 * i + 1], 1.0, 1e-12);
        sa += pl->alpha[2 * i];
        sb += pl->alpha[2 * i + 1];
        moved |= fabs(pl->alpha[2 * i] - 0.5) > 1e-6;
    }
    CHECK_MSG(moved, "alpha never left uniform: the check would not see a wrong alpha");
    CHECK_NEAR(sa / (double)(c.steps + 1), a, 1e-12);
    CHECK_NEAR(sb / (double)(c.steps + 1), b, 1e-12);
    bmx_runlog_free(pl);
    /* the DoReMi folder itself loads as its final run */
    snprintf(p, sizeof p, "%s/doremi-s2", out);
    CHECK_MSG(bmx_runlog_load(p, &pl, &err) == 0, "%s", err.msg);
    CHECK(pl && strstr(pl->path, "/dor/doremi-s2/final") && !strcmp(pl->method, "doremi"));
    bmx_runlog_free(pl);
    char *log = run_file(dirs[1], "log.jsonl", &n);
    CHECK(log && strstr(log, "\"method\":\"doremi\",\"policy\":\"weights\""));
    free(log);
    bmx_pipeline_grid_free(&g);
}

static void test_grid_parse(void)
{
    bmx_pipeline_grid g;
    bmx_run_config c = bmx_run_config_default();
    bmx_err err = {0};
    char many[400] = "";

    CHECK(bmx_pipeline_grid_parse(&g, "uniform,ado:warmup=5,interval=10,doremi", "3,1", &err) == 0);
    CHECK_EQ_INT(g.nmethods, 3);
    CHECK_EQ_STR(g.methods[1], "ado:warmup=5,interval=10");
    CHECK(g.nseeds == 2 && g.seeds[0] == 3 && g.seeds[1] == 1);
    c.data = "d";
    c.out = "x";
    CHECK_MSG(bmx_pipeline_grid_check(&g, &c, &err) == 0, "%s", err.msg);
    bmx_pipeline_grid_free(&g);
    CHECK(bmx_pipeline_grid_parse(&g, "odmx,uniform", "1", &err) == 0);
    CHECK(bmx_pipeline_grid_check(&g, &c, &err) < 0);
    CHECK_CONTAINS(err.msg, "method 'odmx': ");
    bmx_pipeline_grid_free(&g);
    CHECK_EQ_INT(bmx_pipeline_grid_parse(&g, "odm", "1,-2", &err), BMX_EINVAL);
    CHECK_CONTAINS(err.msg, "--seeds: '-2' is not a non-negative integer");
    bmx_pipeline_grid_free(&g);
    for (int i = 0; i < 33; i++)
        strcat(many, i ? ",odm" : "odm");
    CHECK_EQ_INT(bmx_pipeline_grid_parse(&g, many, "1", &err), BMX_EINVAL);
    CHECK_CONTAINS(err.msg, "1..32 comma-separated items");
    bmx_pipeline_grid_free(&g);
}

int main(int argc, char **argv)
{
    static const struct check_case cases[] = {
        {"grid_resume", test_grid_resume},
        {"grid_doremi", test_grid_doremi},
        {"grid_parse", test_grid_parse},
        {0},
    };
    return check_main(argc, argv, cases);
}
