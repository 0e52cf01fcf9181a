/* tests/test_runreport.c - the run log reader and the comparison report (bmx/report.h) on
 * committed logs: hand-made ones whose figures are computed by hand below, and logs recorded
 * from a real `bmx compare`.
 *
 * Hand-made (tests/fixtures/run/hand), two domains, evaluations at steps 0, 10, 20 (mean
 * perplexity = mean of the two domains' perplexities):
 *   uniform s1: (100,100) (40,60) (30,50)   -> 100, 50, 40
 *   natural s1: (100,100) (50,70) (40,50)   -> 100, 60, 45
 *   odm s1:     (100,100) (40,50) (28,32)   -> 100, 45, 30
 *   odm s2:     (100,100) (44,46) (30,34)   -> 100, 45, 32   seed mean 100, 45, 31
 * Best static baseline: uniform (40 < 45), target 40, its last step 20.
 * odm reaches 40 between step 10 (45) and 20 (31): 10 + (45 - 40) / (45 - 31) * 10
 * = 13.571428..., so 100 * (1 - 13.571428 / 20) = 32.142857% fewer steps. uniform itself:
 * between 50 and 40 -> step 20, 0%. natural never reaches 40. */
#include "check.h"

#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "bmx/report.h"

static bmx_runlog *load(const char *p)
{
    bmx_runlog *l = NULL;
    bmx_err err = {0};
    if (bmx_runlog_load(p, &l, &err))
        fprintf(stderr, "%s\n", err.msg);
    return l;
}

/* A run folder whose lock a process holds is a run still going: its log loads up to the line
 * being written (here: the first 700 bytes of a fixture, cut inside line 5); once the lock is
 * free the same cut line is a killed run's, refused. */
static void live_run(const char *cut)
{
    char dir[160], cmd[640], lock[200];
    bmx_err err = {0};
    bmx_runlog *l = NULL;
    snprintf(dir, sizeof dir, "%s/live", check_tmpdir("runreport"));
    snprintf(cmd, sizeof cmd, "mkdir -p %s && cp %s %s/log.jsonl", dir, cut, dir);
    CHECK(system(cmd) == 0);
    snprintf(lock, sizeof lock, "%s/lock", dir);
    int fd = open(lock, O_RDWR | O_CREAT, 0666);
    CHECK(fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0);
    CHECK(bmx_runlog_load(dir, &l, &err) == BMX_OK);
    if (l) {
        CHECK(l->live == 1);
        CHECK(l->nsteps + l->nevals == 3); /* line 1 the header, lines 2-4 records */
        bmx_sbuf o = {0};
        CHECK(bmx_report_html(&l, 1, "live", &o, &err) == BMX_OK);
        CHECK_CONTAINS(bmx_sbuf_str(&o), "1 of the runs were still going");
        CHECK_CONTAINS(bmx_sbuf_str(&o), " (running)</td>");
        bmx_sbuf_free(&o);
        bmx_runlog_free(l);
        l = NULL;
    }
    close(fd); /* the run ended (or was killed): the cut line is an error again */
    CHECK(bmx_runlog_load(dir, &l, &err) == BMX_ECORRUPT && l == NULL);
    CHECK_CONTAINS(err.msg, "cut short");
}

static void test_load(void)
{
    bmx_runlog *l = load("tests/fixtures/run/hand/odm-s1");
    CHECK(l);
    CHECK_EQ_STR(l->method, "odm");
    CHECK_EQ_STR(l->policy, "odm:alpha=0.9");
    CHECK_EQ_INT(l->K, 2);
    CHECK_EQ_STR(l->domains[1], "b");
    CHECK_EQ_INT(l->nsteps, 20);
    CHECK_EQ_INT(l->nevals, 3);
    CHECK_EQ_INT(l->eval_step[2], 20);
    CHECK_NEAR(l->eval_avg_ppl[2], 30, 1e-12);
    CHECK_NEAR(exp(l->eval_loss[2 * 2 + 1]), 32, 1e-12);
    CHECK_NEAR(l->probs[4 * 2 + 1], 0.55, 1e-12); /* step 5: 0.5 + 0.01 * 5 */
    CHECK(isnan(l->dloss[0 * 2 + 1]));            /* step 1 drew only a */
    CHECK_NEAR(l->dloss[0], 4.0, 0);
    CHECK_EQ_INT(l->dcount[1 * 2 + 1], 2);
    CHECK_EQ_INT(l->seed, 1);
    CHECK(!bmx_runlog_is_static(l));
    CHECK_EQ_INT(bmx_runlog_uniform_steps(l), 0); /* 0.5 + 0.01 s differs from 1/2 */
    bmx_runlog_free(l);
    l = load("tests/fixtures/run/hand/natural-s1/log.jsonl");
    CHECK(l && bmx_runlog_is_static(l));
    bmx_runlog_free(l);
}

static void test_bad_logs(void)
{
    bmx_err err = {0};
    bmx_runlog *l = NULL;
    char p[128]; /* this process's own scratch file: suites running at once never share it */
    snprintf(p, sizeof p, "%s/bad.jsonl", check_tmpdir("runreport"));
    CHECK(bmx_runlog_load("/nonexistent/run", &l, &err) == BMX_EIO);
    CHECK_CONTAINS(err.msg, "/nonexistent/run/log.jsonl");
    FILE *f = fopen(p, "w");
    fputs("{\"type\":\"step\",\"step\":1}\n", f);
    fclose(f);
    CHECK(bmx_runlog_load(p, &l, &err) == BMX_ECORRUPT);
    CHECK_CONTAINS(err.msg, ":1: not a bmx run record");
    /* a line cut short by a kill */
    char cmd[300];
    snprintf(cmd, sizeof cmd, "head -c 700 tests/fixtures/run/hand/odm-s1/log.jsonl > %s", p);
    CHECK(system(cmd) == 0);
    CHECK(bmx_runlog_load(p, &l, &err) == BMX_ECORRUPT);
    CHECK_CONTAINS(err.msg, "cut short");
    live_run(p);
    f = fopen(p, "w");
    fputs("{\"type\":\"header\",\"method\":\"x\",\"policy\":\"uniform\",\"domains\":[\"a\"],"
          "\"train_tokens\":[1]}\n{\"type\":\"eval\",\"step\":0,\"loss\":[1,2],\"avg_ppl\":3}\n",
          f);
    fclose(f);
    CHECK(bmx_runlog_load(p, &l, &err) == BMX_ECORRUPT);
    CHECK_CONTAINS(err.msg, ":2:");
    f = fopen(p, "w");
    fputs("{\"type\":\"header\",\"method\":\"x\" \"policy\"}\n", f);
    fclose(f);
    CHECK(bmx_runlog_load(p, &l, &err) == BMX_ECORRUPT);
    CHECK_CONTAINS(err.msg, "not JSON");
    remove(p);
}

static void test_headline_hand(void)
{
    const char *dirs[] = {"uniform-s1", "natural-s1", "odm-s1", "odm-s2"};
    bmx_runlog *runs[4];
    char p[200];
    for (int i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "tests/fixtures/run/hand/%s", dirs[i]);
        runs[i] = load(p);
        CHECK(runs[i]);
    }
    bmx_headline *rows = NULL;
    size_t n = 0;
    const char *base = NULL;
    double target = 0;
    bmx_err err = {0};
    CHECK_MSG(bmx_report_headline(runs, 4, &rows, &n, &base, &target, &err) == 0, "%s", err.msg);
    CHECK_EQ_INT(n, 3);
    CHECK_EQ_STR(base, "uniform");
    CHECK_NEAR(target, 40, 1e-12);
    CHECK_EQ_STR(rows[0].method, "uniform");
    CHECK_NEAR(rows[0].reach_step, 20, 1e-12);
    CHECK_NEAR(rows[0].fewer_pct, 0, 1e-12);
    CHECK_EQ_STR(rows[1].method, "natural");
    CHECK_NEAR(rows[1].final_ppl, 45, 1e-12);
    CHECK(isnan(rows[1].reach_step) && isnan(rows[1].fewer_pct));
    CHECK_EQ_STR(rows[2].method, "odm");
    CHECK_NEAR(rows[2].final_ppl, 31, 1e-12);
    CHECK_NEAR(rows[2].reach_step, 10 + 5.0 / 14.0 * 10, 1e-12);
    CHECK_NEAR(rows[2].fewer_pct, 100 * (1 - (10 + 50.0 / 14.0) / 20), 1e-12);
    free(rows);

    bmx_sbuf b = {0};
    CHECK(bmx_report_html(runs, 4, "hand <test>", &b, &err) == 0);
    const char *h = bmx_sbuf_str(&b);
    CHECK_CONTAINS(h, "<title>hand &lt;test&gt;</title>");
    CHECK_CONTAINS(h, "<b>odm</b> reaches it in <b>32.1%</b> fewer steps");
    CHECK_CONTAINS(h, "not reached");
    CHECK_CONTAINS(h, "<td>13.6</td>");
    /* odm's final perplexity of domain a: mean(28, 30) = 29, half range 1 */
    CHECK_CONTAINS(h, "<td><b>29.000</b> <span class=\"note\">&plusmn;1.000</span></td>");
    /* domain b: uniform 50, natural 50, odm mean(32, 34) = 33 */
    CHECK_CONTAINS(h, "<td>50.000</td><td>50.000</td><td><b>33.000</b>");
    CHECK_CONTAINS(h, "odm min");
    CHECK_CONTAINS(h, "Distribution over time: odm");
    CHECK(!strstr(h, "Distribution over time: uniform"));
    int svgs = 0;
    for (const char *s = h; (s = strstr(s, "<svg")); s++)
        svgs++;
    CHECK_EQ_INT(svgs, 3); /* perplexity, relative to uniform, odm's distribution */
    /* the weights: uniform 1/2, natural the token shares 1000 : 3000, odm the mean of its pi
     * over steps 1..20 (a: 0.49 down to 0.30, mean 0.395; both seeds alike, no range) */
    CHECK_CONTAINS(h, "<h2>Sampling weights per domain</h2>\n<table><tr><th>domain</th><th>"
                      "uniform</th><th>natural</th><th>odm</th></tr>\n<tr><td>a</td><td>0.5000"
                      "</td><td>0.2500</td><td>0.3950</td></tr>\n<tr><td>b</td><td>0.5000</td>"
                      "<td>0.7500</td><td>0.6050</td></tr>");
    /* relative to uniform at step 10: natural 100 (60 / 50 - 1) = 20%, odm -10% */
    CHECK_CONTAINS(h, "relative to uniform at the same step");
    bmx_sbuf_free(&b);

    /* no static baseline: the report says so instead of a headline */
    CHECK(bmx_report_headline(runs + 2, 2, &rows, &n, &base, &target, &err) == BMX_EINVAL);
    CHECK_CONTAINS(err.msg, "no static baseline");
    CHECK(bmx_report_html(runs + 2, 2, "t", &b, &err) == 0);
    CHECK_CONTAINS(bmx_sbuf_str(&b), "no static baseline");
    bmx_sbuf_free(&b);
    for (int i = 0; i < 4; i++)
        bmx_runlog_free(runs[i]);
}

/* Static weights that differ by seed (DoReMi's final runs do): the mean over seeds with half
 * the range; a method whose seeds agree prints no range. */
static void test_weights_by_seed(void)
{
    bmx_runlog *runs[3] = {load("tests/fixtures/run/hand/uniform-s1"),
                           load("tests/fixtures/run/hand/natural-s1"),
                           load("tests/fixtures/run/hand/natural-s1")};
    CHECK(runs[0] && runs[1] && runs[2]);
    runs[2]->seed = 2;
    for (size_t st = 0; st < runs[2]->nsteps; st++) {
        runs[2]->probs[2 * st] = 0.35;
        runs[2]->probs[2 * st + 1] = 0.65;
    }
    bmx_sbuf b = {0};
    bmx_err err = {0};
    CHECK_MSG(bmx_report_html(runs, 3, "w", &b, &err) == 0, "%s", err.msg);
    /* a: mean(0.25, 0.35) = 0.30, half range 0.05; b: mean(0.75, 0.65) = 0.70 */
    CHECK_CONTAINS(bmx_sbuf_str(&b), "<tr><td>a</td><td>0.5000</td><td>0.3000 <span "
                                     "class=\"note\">&plusmn;0.0500</span></td></tr>");
    CHECK_CONTAINS(bmx_sbuf_str(&b), "<tr><td>b</td><td>0.5000</td><td>0.7000 <span "
                                     "class=\"note\">&plusmn;0.0500</span></td></tr>");
    bmx_sbuf_free(&b);
    /* the same in report.md and report.json (each seed's value) */
    bmx_summary *s = NULL;
    CHECK_MSG(bmx_report_summary(runs, 3, &s, &err) == 0, "%s", err.msg);
    CHECK(s && bmx_summary_markdown(s, &b, &err) == 0);
    CHECK_CONTAINS(bmx_sbuf_str(&b), "| domain | uniform | natural |\n|---|---:|---:|\n"
                                     "| a | 0.5000 | 0.3000 ± 0.0500 |\n"
                                     "| b | 0.5000 | 0.7000 ± 0.0500 |\n");
    bmx_sbuf_free(&b);
    CHECK(s && s->nmethods == 2 && s->methods[1].nseeds == 2);
    CHECK_NEAR(s->methods[1].mean_pi[0], 0.25, 1e-15); /* seed 1, a */
    CHECK_NEAR(s->methods[1].mean_pi[3], 0.65, 1e-15); /* seed 2, b: a mean of 0.65s */
    CHECK(s && bmx_summary_json(s, &b, &err) == 0);
    CHECK_CONTAINS(bmx_sbuf_str(&b), "\"mean_pi\":{\"a\":[0.5],\"b\":[0.5]}");
    CHECK_CONTAINS(bmx_sbuf_str(&b), "\"mean_pi\":{\"a\":[0.25,0.3");
    bmx_sbuf_free(&b);
    bmx_summary_free(s);
    for (int i = 0; i < 3; i++)
        bmx_runlog_free(runs[i]);
}

/* A doremi proxy's log: "alpha" from the first step record that has one (steps 1-2 written
 * by an older bmx, 3-4 after a resume by this one); the report plots it from there. A later
 * record without it, or a weight outside [0, 1], is refused, naming the line. */
static void test_alpha(void)
{
    static const char *const head =
        "{\"type\":\"header\",\"version\":1,\"method\":\"doremi-proxy\",\"policy\":"
        "\"doremi:eta=1,c=0.001,vocab=8192\",\"seed\":1,\"domains\":[\"a\",\"b\"],"
        "\"train_tokens\":[1000,3000],\"val_windows\":[4,4],\"params\":100,"
        "\"tokens_per_step\":64,\"steps\":4,\"config\":\"hand-made\"}\n"
        "{\"type\":\"eval\",\"step\":0,\"loss\":[4.6,4.6],\"ppl\":[99.48,99.48],"
        "\"avg_loss\":4.6,\"avg_ppl\":99.48431564193386}\n";
    static const char *const step =
        "{\"type\":\"step\",\"step\":%d,\"loss\":4,\"lr\":0.001,\"grad_norm\":1,"
        "\"tokens\":%d,\"domain_loss\":[4,null],\"domain_count\":[1,0],\"probs\":[0.5,0.5]"
        "%s}\n";
    static const char *const tails[] = {
        "", "", ",\"alpha\":[0.6,0.4]", ",\"alpha\":[0.7,0.3]", "", ",\"alpha\":[1.5,-0.5]"};
    char p[128];
    snprintf(p, sizeof p, "%s/alpha.jsonl", check_tmpdir("runreport"));
    bmx_err err = {0};
    for (int variant = 0; variant < 3; variant++) {
        FILE *f = fopen(p, "w");
        fputs(head, f);
        for (int st = 1; st <= 4; st++)
            fprintf(f, step, st, 64 * st, tails[st - 1]);
        if (variant)
            fprintf(f, step, 5, 320, tails[variant == 1 ? 4 : 5]);
        fclose(f);
        bmx_runlog *l = NULL;
        int rc = bmx_runlog_load(p, &l, &err);
        if (variant == 0) {
            CHECK_MSG(rc == 0, "%s", err.msg);
            CHECK(l && l->alpha && l->alpha_from == 2 && l->nsteps == 4);
            CHECK(l && l->alpha[4] == 0.6 && l->alpha[7] == 0.3);
            bmx_sbuf b = {0};
            CHECK(l && bmx_report_html(&l, 1, "a", &b, &err) == 0);
            CHECK_CONTAINS(bmx_sbuf_str(&b), "doremi-proxy: the proxy&apos;s domain weights alpha");
            CHECK_CONTAINS(bmx_sbuf_str(&b), "moves alpha once a step");
            bmx_sbuf_free(&b);
        } else {
            CHECK_EQ_INT(rc, BMX_ECORRUPT);
            CHECK_CONTAINS(err.msg, ":7:");
            CHECK_CONTAINS(err.msg, variant == 1 ? "no \"alpha\" after step 3 had one"
                                                 : "weights in [0, 1]");
        }
        bmx_runlog_free(l);
    }
    remove(p);
}

static void test_recorded(void)
{
    bmx_runlog *runs[2] = {load("tests/fixtures/run/recorded/uniform-s1"),
                           load("tests/fixtures/run/recorded/odm-s1")};
    CHECK(runs[0] && runs[1]);
    CHECK_EQ_INT(runs[1]->K, 3);
    CHECK_EQ_STR(runs[1]->domains[0], "code");
    CHECK_EQ_INT(runs[1]->nsteps, 40);
    CHECK_EQ_INT(runs[1]->nevals, 5);
    /* every step's distribution sums to 1 and its counts to accum = 4 */
    for (size_t s = 0; s < runs[1]->nsteps; s++) {
        double sum = 0;
        int c = 0;
        for (int d = 0; d < 3; d++) {
            sum += runs[1]->probs[s * 3 + (size_t)d];
            c += runs[1]->dcount[s * 3 + (size_t)d];
        }
        CHECK_NEAR(sum, 1, 1e-12);
        CHECK_EQ_INT(c, 4);
    }
    /* avg_ppl is the mean of exp(loss) over domains */
    for (size_t e = 0; e < runs[0]->nevals; e++) {
        double m = 0;
        for (int d = 0; d < 3; d++)
            m += exp(runs[0]->eval_loss[e * 3 + (size_t)d]) / 3;
        CHECK_NEAR(runs[0]->eval_avg_ppl[e], m, 1e-12);
    }
    bmx_headline *rows = NULL;
    size_t n = 0;
    const char *base = NULL;
    double target = 0;
    bmx_err err = {0};
    CHECK(bmx_report_headline(runs, 2, &rows, &n, &base, &target, &err) == 0);
    CHECK_EQ_STR(base, "uniform");
    CHECK_NEAR(target, runs[0]->eval_avg_ppl[4], 0);
    free(rows);
    bmx_sbuf b = {0};
    CHECK(bmx_report_html(runs, 2, "recorded", &b, &err) == 0);
    CHECK_CONTAINS(bmx_sbuf_str(&b), "<td>legal</td>");
    /* ODM over K = 3 domains is exactly uniform while t <= K ln K = 3.30: steps 1, 2, 3 of its
     * 40; uniform in all of its 40 */
    CHECK_EQ_INT(bmx_runlog_uniform_steps(runs[1]), 3);
    CHECK_EQ_INT(bmx_runlog_uniform_steps(runs[0]), 40);
    CHECK_CONTAINS(bmx_sbuf_str(&b), "odm's distribution was exactly uniform (max |pi - 1/K| "
                                     "&le; 1e-12) in 3 of its 40 steps.");
    CHECK_CONTAINS(bmx_sbuf_str(&b), "<td>40</td><td>256</td><td>3</td></tr>");
    bmx_sbuf_free(&b);
    bmx_runlog_free(runs[0]);
    bmx_runlog_free(runs[1]);
}

/* Issue 11 item 8: impossible values in a log are refused with the file, the line and the
 * field (a final mean perplexity of -5 made a "21.7% fewer steps" headline; infinity, step
 * 1e19 or -5 and seed -1e300 were accepted, and their double -> integer casts were undefined
 * behaviour). Each case edits one field of a hand-made log. */
static void test_impossible_values(void)
{
    static const struct {
        const char *from, *to, *what;
    } cases[] = {
        {"\"avg_ppl\":100.0", "\"avg_ppl\":-5",
         ":2: impossible eval record: \"avg_ppl\" = -5 is out of range"},
        {"\"avg_ppl\":100.0", "\"avg_ppl\":1e999",
         ":2: impossible eval record: \"avg_ppl\" = 1e999"},
        {"\"avg_ppl\":100.0", "\"avg_ppl\":0.5", "\"avg_ppl\" = 0.5 is out of range (a perplexity"},
        {"\"step\":1,", "\"step\":1e19,",
         ":3: impossible step record: \"step\" = 1e19 is out of range"},
        {"\"step\":1,", "\"step\":-5,", ":3: impossible step record: \"step\" = -5"},
        {"\"step\":1,", "\"step\":1.5,", "\"step\" = 1.5 is out of range"},
        {"\"step\":2,", "\"step\":1,", ":4: impossible step record: step 1 after step 1"},
        {"\"seed\":1", "\"seed\":-1e300", ":1: impossible header record: \"seed\" = -1e300"},
        {"\"seed\":1", "\"seed\":18446744073709551616", "\"seed\" = 18446744073709551616"},
        {"\"steps\":20", "\"steps\":-1", "\"steps\" = -1 is out of range"},
        {"\"loss\":4.9", "\"loss\":-0.1", ":3: impossible step record: \"loss\" = -0.1"},
        {"\"domain_count\":[1,0]", "\"domain_count\":[1e10,0]", "\"domain_count\"[0] = 1e10"},
        {"\"probs\":[0.5,0.5]", "\"probs\":[1.5,-0.5]", "\"probs\"[0] = 1.5"},
        {"\"domain_loss\":[4.0,null]", "\"domain_loss\":[-4.0,null]", "\"domain_loss\"[0] = -4.0"},
    };
    const char *src = "tests/fixtures/run/hand/uniform-s1/log.jsonl";
    const char *p = "/tmp/bmx_test_runreport_bad.jsonl";
    FILE *f = fopen(src, "rb");
    char *text = calloc(1, 1 << 16), *out = calloc(1, 1 << 16);
    size_t n;
    bmx_runlog *l = NULL;
    bmx_err err = {0};

    CHECK(f && text && out);
    n = fread(text, 1, (1 << 16) - 1, f);
    fclose(f);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const char *at = strstr(text, cases[i].from);
        CHECK_MSG(at, "case %zu: %s not in %s", i, cases[i].from, src);
        snprintf(out, 1 << 16, "%.*s%s%s", (int)(at - text), text, cases[i].to,
                 at + strlen(cases[i].from));
        f = fopen(p, "wb");
        fputs(out, f);
        fclose(f);
        l = (bmx_runlog *)&l;
        CHECK_EQ_INT(bmx_runlog_load(p, &l, &err), BMX_ECORRUPT);
        CHECK(l == NULL);
        CHECK_CONTAINS(err.msg, p);
        CHECK_CONTAINS(err.msg, cases[i].what);
    }
    /* the largest seed as written now (unsigned), and as older logs wrote it (the signed
     * reading of the same 64 bits), is the same seed */
    for (int form = 0; form < 2; form++) {
        const char *at = strstr(text, "\"seed\":1");
        snprintf(out, 1 << 16, "%.*s\"seed\":%s%s", (int)(at - text), text,
                 form ? "-1" : "18446744073709551615", at + 8);
        f = fopen(p, "wb");
        fputs(out, f);
        fclose(f);
        CHECK_MSG(bmx_runlog_load(p, &l, &err) == 0, "%s", err.msg);
        CHECK(l->seed == UINT64_MAX);
        CHECK_EQ_INT(l->nevals, 3);
        bmx_runlog_free(l);
    }
    CHECK(n > 0);
    remove(p);
    free(text);
    free(out);

    /* runs filled by other code: the headline refuses an impossible perplexity */
    {
        bmx_runlog *runs[2] = {load("tests/fixtures/run/hand/uniform-s1"),
                               load("tests/fixtures/run/hand/odm-s1")};
        bmx_headline *rows = NULL;
        size_t nr = 0;
        const char *base = NULL;
        double target = 0;
        CHECK(runs[0] && runs[1]);
        runs[0]->eval_avg_ppl[runs[0]->nevals - 1] = -5;
        CHECK_EQ_INT(bmx_report_headline(runs, 2, &rows, &nr, &base, &target, &err), BMX_EINVAL);
        CHECK_CONTAINS(err.msg, "impossible evaluation (mean perplexity -5 at step 20)");
        CHECK(rows == NULL);
        bmx_runlog_free(runs[0]);
        bmx_runlog_free(runs[1]);
    }
}

/* bmx_report_write (bmx report, bmx compare): the HTML, X.json and X.md beside it, and the
 * headline and summary lines, on the hand-made runs (figures in the comment at the top). */
static void test_write_files(void)
{
    char *dirs[] = {"tests/fixtures/run/hand/uniform-s1", "tests/fixtures/run/hand/natural-s1",
                    "tests/fixtures/run/hand/odm-s1", "tests/fixtures/run/hand/odm-s2"};
    char html[300], want[300];
    bmx_report_files f;
    bmx_err err = {0};
    snprintf(html, sizeof html, "%s/rep.html", check_tmpdir("runreport"));
    CHECK_MSG(bmx_report_write(dirs, 4, html, "hand", &f, &err) == 0, "%s", err.msg);
    CHECK(f.html_written);
    snprintf(want, sizeof want, "%s/rep.json", check_tmpdir("runreport"));
    CHECK_MSG(strcmp(f.json, want) == 0, "json %.200s", f.json);
    snprintf(want, sizeof want, "%s/rep.md", check_tmpdir("runreport"));
    CHECK_MSG(strcmp(f.md, want) == 0, "md %.200s", f.md);
    CHECK_EQ_STR(bmx_sbuf_str(&f.headline),
                 "target = uniform's final mean validation perplexity 40.000\n"
                 "  uniform                  final 40.000, reaches the target at step 20.0 (0.0% "
                 "fewer steps)\n"
                 "  natural                  final 45.000, does not reach the target\n"
                 "  odm                      final 31.000, reaches the target at step 13.6 (32.1% "
                 "fewer steps)\n");
    /* odm's seeds 30 and 32: mean 31, s = sqrt(2), half = t_{0.975,1} s / sqrt(2) = 12.706;
     * paired with uniform on seed 1: 100 (30 / 40 - 1) = -25% */
    CHECK_CONTAINS(bmx_sbuf_str(&f.summary),
                   "  uniform                  1 seeds, final 40.000 (1 seed, no interval)\n");
    CHECK_CONTAINS(bmx_sbuf_str(&f.summary),
                   "  odm                      2 seeds, final 31.000 +- 12.706, vs uniform -25.00% "
                   "(1 seed, no interval) (wins 1 of 1)\n");
    FILE *fp = fopen(f.md, "r");
    CHECK(fp != NULL);
    if (fp)
        fclose(fp);
    fp = fopen(f.json, "r");
    CHECK(fp != NULL);
    if (fp)
        fclose(fp);
    bmx_report_files_free(&f);
    /* a folder without a log: nothing written, the error names it */
    dirs[1] = "tests/fixtures/run/hand/none";
    CHECK(bmx_report_write(dirs, 2, html, "hand", &f, &err) < 0);
    CHECK(!f.html_written);
    CHECK_CONTAINS(err.msg, "tests/fixtures/run/hand/none");
    bmx_report_files_free(&f);
}

int main(int argc, char **argv)
{
    static const struct check_case cases[] = {{"load", test_load},
                                              {"bad_logs", test_bad_logs},
                                              {"headline_hand", test_headline_hand},
                                              {"recorded", test_recorded},
                                              {"weights_by_seed", test_weights_by_seed},
                                              {"alpha", test_alpha},
                                              {"impossible_values", test_impossible_values},
                                              {"write_files", test_write_files},
                                              {0}};
    return check_main(argc, argv, cases);
}
