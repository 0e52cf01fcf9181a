/* tests/test_tasks.c - raw task files, splits, task files (and their corruption), prompts,
 * few-shot splits, the build's manifest. Fixtures: tests/fixtures/tasks/fx-*.raw. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bmx/rng.h"
#include "bmx/tasks.h"
#include "check.h"
#include "helpers.h"

#define FX "tests/fixtures/tasks"

static const char *tmp(const char *name)
{
    static char p[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof p[k], "%s/%s", check_tmpdir("tasks"), name);
    return p[k];
}

static void write_text(const char *path, const char *text)
{
    write_file(path, text, strlen(text));
}

static bmx_task *load_split(const char *name)
{
    char path[256];
    bmx_task *t;
    bmx_err err = {0};
    snprintf(path, sizeof path, FX "/%s.raw", name);
    CHECK_MSG(bmx_task_read_raw(&t, path, &err) == 0, "%s", err.msg);
    CHECK_MSG(bmx_task_split(t, 0.2, 0, 0, 1, &err) == 0, "%s", err.msg);
    return t;
}

static void test_raw_read(void)
{
    bmx_task *t;
    bmx_err err = {0};
    CHECK_MSG(bmx_task_read_raw(&t, FX "/fx-color.raw", &err) == 0, "%s", err.msg);
    CHECK_EQ_STR(bmx_task_name(t), "fx-color");
    CHECK_EQ_STR(bmx_task_question(t), "What colour is it?");
    CHECK_EQ_INT(bmx_task_derived(t), 0);
    CHECK_EQ_INT((int)bmx_task_count(t), 60);
    int nl;
    const char *const *labels = bmx_task_labels(t, &nl);
    CHECK_EQ_INT(nl, 3);
    CHECK_EQ_STR(labels[2], "red");
    const bmx_task_example *e = bmx_task_example_at(t, 0);
    CHECK_EQ_INT(e->nchoices, 3);
    CHECK(!strncmp(e->text, "The ", 4));
    bmx_task_free(t);
    CHECK_MSG(bmx_task_read_raw(&t, FX "/fx-sound.raw", &err) == 0, "%s", err.msg);
    CHECK_EQ_INT(bmx_task_derived(t), 1);
    CHECK(bmx_task_labels(t, &nl) == NULL);
    e = bmx_task_example_at(t, 0);
    /* first fixture line: mc h0 2 "What does the dog say?" meow quack woof */
    CHECK_EQ_STR(e->text, "What does the dog say?");
    CHECK_EQ_INT(e->correct, 2);
    CHECK_EQ_STR(e->choices[e->correct], "woof");
    bmx_task_free(t);
}

/* text as the raw task file p is refused as corrupt, the message holding want1 and want2
 * (when given). */
static void raw_refused(const char *p, const char *text, const char *want1, const char *want2)
{
    bmx_task *t = NULL;
    bmx_err err = {0};

    write_text(p, text);
    CHECK_EQ_INT(bmx_task_read_raw(&t, p, &err), BMX_ECORRUPT);
    if (want1)
        CHECK_CONTAINS(err.msg, want1);
    if (want2)
        CHECK_CONTAINS(err.msg, want2);
}

static void test_raw_errors(void)
{
    bmx_task *t;
    bmx_err err = {0};
    const char *p = tmp("bad.raw");
    write_text(p, "BMXRAW 1\nname\tempty\nquestion\tq?\nlabels\ta\tb\n");
    CHECK(bmx_task_read_raw(&t, p, &err) != 0);
    CHECK_CONTAINS(err.msg, "no examples");
    CHECK_CONTAINS(err.msg, p);
    raw_refused(p, "BMXRAW 1\nname\tx\nquestion\tq?\nlabels\ta\tb\nex\tg\t2\thello\n",
                ":5:", "0..1");
    raw_refused(p, "BMXRAW 2\n", "BMXRAW 1", NULL);
    raw_refused(p, "BMXRAW 1\nname\tx\nquestion\tq?\nbogus\t1\n", "unknown record", NULL);
    raw_refused(p, "BMXRAW 1\nname\tx\nquestion\tq?\nex\tg\t0\thello\n", "labels", NULL);
    raw_refused(p, "BMXRAW 1\nname\tx\nquestion\tq?\nmc\tg\t0\thello\tonly\n", NULL, NULL);
    raw_refused(p, "BMXRAW 1\nname\tx\nname\ty\n", ":3:", "'name' must appear once");
    raw_refused(p, "BMXRAW 1\nname\tx\nderived\t2\n", ":3:", "derived must be 0 or 1");
    raw_refused(p, "BMXRAW 1\nname\tx\nlabels\ta\t\n", ":3:", "empty label");
    raw_refused(p, "BMXRAW 1\nname\tx\nlabels\ta\tb\nex\tg\t0\thi\nlabels\tc\td\n",
                ":5:", "before the examples");
    raw_refused(p, "BMXRAW 1\nname\tx\nmc\tg\t0\thi\tyes\t\tno\n", ":3:", "empty answer choice");
    /* 65 labels, or an mc example of 65 choices: one more than a task file holds (fuzz) */
    char big[1024] = "BMXRAW 1\nname\tx\nlabels", mcl[1024] = "BMXRAW 1\nname\tx\nmc\tg\t0\thi";
    for (int i = 0; i < BMX_TASK_MAX_CHOICES + 1; i++) {
        snprintf(big + strlen(big), sizeof big - strlen(big), "\tl%d", i);
        snprintf(mcl + strlen(mcl), sizeof mcl - strlen(mcl), "\tc%d", i);
    }
    strcat(big, "\n");
    strcat(mcl, "\n");
    raw_refused(p, big, ":3:", "2 to 64 labels");
    raw_refused(p, mcl, ":3:", "more than 64 answer choices");
    /* escapes */
    write_text(p, "BMXRAW 1\nname\tx\nquestion\tq?\nmc\tg\t1\ta\\tb\\nc\\\\d\tyes\tno\n");
    CHECK_MSG(bmx_task_read_raw(&t, p, &err) == 0, "%s", err.msg);
    CHECK_EQ_STR(bmx_task_example_at(t, 0)->text, "a\tb\nc\\d");
    bmx_task_free(t);
}

static void test_split_groups(void)
{
    bmx_task *t = load_split("fx-color");
    size_t ntr = bmx_task_split_count(t, BMX_SPLIT_TRAIN),
           nte = bmx_task_split_count(t, BMX_SPLIT_TEST);
    CHECK_EQ_INT((int)(ntr + nte), 60);
    CHECK(nte > 0 && ntr > nte);
    /* the rule: crc32("fx-color/" + group) % 1000 < 200 */
    for (size_t i = 0; i < bmx_task_count(t); i++) {
        const bmx_task_example *e = bmx_task_example_at(t, i);
        char key[128];
        int n = snprintf(key, sizeof key, "fx-color/%s", e->group);
        int want = bmx_crc32(0, key, (size_t)n) % 1000u < 200 ? BMX_SPLIT_TEST : BMX_SPLIT_TRAIN;
        CHECK_EQ_INT(e->split, want);
    }
    bmx_task_free(t);
    /* caps: a uniform subset of exactly max, order kept */
    bmx_task *c;
    bmx_err err = {0};
    CHECK(bmx_task_read_raw(&c, FX "/fx-color.raw", &err) == 0);
    CHECK(bmx_task_split(c, 0.2, 10, 3, 5, &err) == 0);
    CHECK_EQ_INT((int)bmx_task_split_count(c, BMX_SPLIT_TRAIN), 10);
    CHECK_EQ_INT((int)bmx_task_split_count(c, BMX_SPLIT_TEST), 3);
    bmx_task_free(c);
}

static void test_save_load_roundtrip(void)
{
    bmx_task *t = load_split("fx-sound"), *u;
    bmx_err err = {0};
    const char *p = tmp("fx-sound.task");
    CHECK_MSG(bmx_task_save(t, p, &err) == 0, "%s", err.msg);
    CHECK_MSG(bmx_task_load(&u, p, &err) == 0, "%s", err.msg);
    CHECK_EQ_INT((int)bmx_task_count(u), (int)bmx_task_count(t));
    CHECK_EQ_STR(bmx_task_how(u), bmx_task_how(t));
    CHECK_EQ_INT(bmx_task_derived(u), 1);
    for (size_t i = 0; i < bmx_task_count(t); i++) {
        const bmx_task_example *a = bmx_task_example_at(t, i), *b = bmx_task_example_at(u, i);
        CHECK_EQ_STR(a->text, b->text);
        CHECK_EQ_STR(a->group, b->group);
        CHECK_EQ_INT(a->correct, b->correct);
        CHECK_EQ_INT(a->split, b->split);
        CHECK_EQ_INT(a->nchoices, b->nchoices);
        for (int c = 0; c < a->nchoices; c++)
            CHECK_EQ_STR(a->choices[c], b->choices[c]);
    }
    bmx_task_free(u);
    bmx_task_free(t);
    /* labelled task too */
    t = load_split("fx-color");
    CHECK(bmx_task_save(t, p, &err) == 0);
    CHECK(bmx_task_load(&u, p, &err) == 0);
    int nl;
    CHECK(bmx_task_labels(u, &nl) != NULL && nl == 3);
    CHECK(bmx_task_example_at(u, 5)->choices == bmx_task_labels(u, &nl));
    bmx_task_free(u);
    bmx_task_free(t);
}

static void test_corruption(void)
{
    bmx_task *t = load_split("fx-count"), *u;
    bmx_err err = {0};
    const char *p = tmp("fx-count.task"), *q = tmp("bad.task");
    CHECK(bmx_task_save(t, p, &err) == 0);
    bmx_task_free(t);
    size_t n;
    unsigned char *b = slurp(p, &n);
    CHECK_MSG(b, "cannot read %s", p);
    /* a flipped payload byte */
    b[n / 2] ^= 0x40;
    write_file(q, b, n);
    CHECK(bmx_task_load(&u, q, &err) == BMX_ECORRUPT);
    CHECK_CONTAINS(err.msg, q);
    CHECK_CONTAINS(err.msg, "checksum");
    b[n / 2] ^= 0x40;
    /* truncated */
    write_file(q, b, n - 3);
    CHECK(bmx_task_load(&u, q, &err) == BMX_ECORRUPT);
    CHECK_CONTAINS(err.msg, "shorter");
    write_file(q, b, 20);
    CHECK(bmx_task_load(&u, q, &err) == BMX_ECORRUPT);
    CHECK_CONTAINS(err.msg, "truncated");
    /* bad magic */
    b[0] = 'X';
    write_file(q, b, n);
    CHECK(bmx_task_load(&u, q, &err) == BMX_ECORRUPT);
    CHECK_CONTAINS(err.msg, "magic");
    b[0] = 'B';
    /* header byte flipped */
    b[17] ^= 1;
    write_file(q, b, n);
    CHECK(bmx_task_load(&u, q, &err) == BMX_ECORRUPT);
    CHECK_CONTAINS(err.msg, "header checksum");
    b[17] ^= 1;
    /* another version with a valid header checksum */
    b[8] = 2;
    uint32_t crc = bmx_crc32(0, b, 40);
    memcpy(b + 40, &crc, 4);
    write_file(q, b, n);
    CHECK(bmx_task_load(&u, q, &err) == BMX_ECORRUPT);
    CHECK_CONTAINS(err.msg, "version 2");
    free(b);
    /* the intact file still loads */
    CHECK(bmx_task_load(&u, p, &err) == 0);
    bmx_task_free(u);
}

static void test_open_unknown(void)
{
    bmx_task *t = load_split("fx-count"), *u;
    bmx_err err = {0};
    CHECK(bmx_task_save(t, tmp("fx-count.task"), &err) == 0);
    bmx_task_free(t);
    CHECK(bmx_task_open(&u, check_tmpdir("tasks"), "nope", &err) == BMX_EINVAL);
    CHECK_CONTAINS(err.msg, "unknown task 'nope'");
    CHECK_CONTAINS(err.msg, "fx-count");
    CHECK(bmx_task_open(&u, check_tmpdir("tasks"), "../etc", &err) == BMX_EINVAL);
    CHECK(bmx_task_open(&u, check_tmpdir("tasks"), "fx-count", &err) == 0);
    bmx_task_free(u);
}

static void test_prompts(void)
{
    bmx_task *t = load_split("fx-sound");
    bmx_err err = {0};
    char *p;
    CHECK(bmx_task_prompt(t, 0, 0, &p, &err) == 0);
    CHECK_EQ_STR(p, "What does the dog say?\nQuestion: Which sound fits?\nAnswer:");
    free(p);
    CHECK(bmx_task_prompt(t, 0, 1, &p, &err) == 0);
    CHECK_EQ_STR(p, "Which sound fits?\n\nWhat does the dog say?\n\nThe answer is:");
    free(p);
    CHECK(bmx_task_prompt(t, 0, 2, &p, &err) == 0);
    CHECK_EQ_STR(p, "Input: What does the dog say?\nOptions: meow | quack | woof\nWhich sound "
                    "fits?\nOutput:");
    free(p);
    CHECK(bmx_task_prompt(t, 0, 3, &p, &err) == BMX_EINVAL);
    bmx_task_free(t);
}

static void test_fewshot(void)
{
    bmx_task *t = load_split("fx-color");
    bmx_err err = {0};
    size_t ntrain = bmx_task_split_count(t, BMX_SPLIT_TRAIN);
    size_t *tr[BMX_TASK_FEWSHOT_SPLITS], *va[BMX_TASK_FEWSHOT_SPLITS], nt[5], nv[5];
    int differ = 0;
    for (int s = 0; s < BMX_TASK_FEWSHOT_SPLITS; s++) {
        CHECK_MSG(bmx_task_fewshot(t, s, &tr[s], &nt[s], &va[s], &nv[s], &err) == 0, "%s", err.msg);
        size_t k = nt[s] + nv[s];
        CHECK(k >= 20 && k <= 70 && k <= ntrain);
        CHECK_EQ_INT((int)nt[s], (int)(k / 2));
        /* the draw: n = 20 + below(51) from bmx_rng_seed(1000 + s, crc32(name)) */
        bmx_rng r;
        bmx_rng_seed(&r, 1000 + (uint64_t)s, bmx_crc32(0, "fx-color", 8));
        size_t want = 20 + (size_t)bmx_rng_below(&r, 51);
        CHECK_EQ_INT((int)k, (int)(want < ntrain ? want : ntrain));
        char *seen = calloc(bmx_task_count(t), 1);
        for (size_t i = 0; i < k; i++) {
            size_t x = i < nt[s] ? tr[s][i] : va[s][i - nt[s]];
            CHECK(x < bmx_task_count(t));
            CHECK_EQ_INT(bmx_task_example_at(t, x)->split, BMX_SPLIT_TRAIN);
            CHECK(!seen[x]); /* train and validation disjoint, no repeats */
            seen[x] = 1;
        }
        free(seen);
        if (s && (nt[s] != nt[0] || memcmp(tr[s], tr[0], nt[s] * sizeof(size_t))))
            differ = 1;
    }
    CHECK(differ);
    /* deterministic */
    size_t *a, *b, na, nb;
    CHECK(bmx_task_fewshot(t, 2, &a, &na, &b, &nb, &err) == 0);
    CHECK(na == nt[2] && !memcmp(a, tr[2], na * sizeof *a));
    CHECK(nb == nv[2] && !memcmp(b, va[2], nb * sizeof *b));
    free(a);
    free(b);
    for (int s = 0; s < 5; s++) {
        free(tr[s]);
        free(va[s]);
    }
    CHECK(bmx_task_fewshot(t, 5, &a, &na, &b, &nb, &err) == BMX_EINVAL);
    bmx_task_free(t);
    /* too small a task */
    bmx_task *c;
    CHECK(bmx_task_read_raw(&c, FX "/fx-color.raw", &err) == 0);
    CHECK(bmx_task_split(c, 0.2, 10, 0, 1, &err) == 0);
    CHECK(bmx_task_fewshot(c, 0, &a, &na, &b, &nb, &err) == BMX_EINVAL);
    CHECK_CONTAINS(err.msg, "at least 20");
    bmx_task_free(c);
}

/* OUT/manifest.json, NUL-terminated (free it); the case fails when it cannot be read. */
static char *read_manifest(const char *out)
{
    char mp[400];
    size_t n;
    snprintf(mp, sizeof mp, "%s/manifest.json", out);
    char *s = slurp(mp, &n);
    CHECK_MSG(s, "cannot read %s", mp);
    return s;
}

static void test_build_manifest(void)
{
    const char *names[] = {"fx-color", "fx-sound", "fx-count"};
    bmx_tasks_build_opts o = bmx_tasks_build_defaults();
    bmx_err err = {0};
    char out[300];
    snprintf(out, sizeof out, "%s", tmp("built"));
    CHECK(mkdir(out, 0777) == 0);
    CHECK_MSG(bmx_tasks_build(FX, out, names, 3, NULL, &o, NULL, &err) == 0, "%s", err.msg);
    char *s = read_manifest(out);
    CHECK_CONTAINS(s, "\"name\":\"fx-sound\",\"derived\":true");
    CHECK_CONTAINS(s, "\"how\":\"derived: hand-made animal sounds\"");
    CHECK_CONTAINS(s, "\"aux_datasets\":9");
    CHECK_CONTAINS(s, "\"fewshot\":[{\"split\":0");
    free(s);
    bmx_task *t;
    CHECK(bmx_task_open(&t, out, "fx-count", &err) == 0);
    bmx_task_free(t);
    /* a name that does not match its file */
    const char *bad[] = {"fx-color"};
    char raw2[400];
    snprintf(raw2, sizeof raw2, "%s", tmp("raw2"));
    CHECK(mkdir(raw2, 0777) == 0);
    char rp[500];
    snprintf(rp, sizeof rp, "%s/fx-color.raw", raw2);
    write_text(rp, "BMXRAW 1\nname\tother\nquestion\tq?\nlabels\ta\tb\nex\tg\t0\thi\n");
    CHECK(bmx_tasks_build(raw2, out, bad, 1, NULL, &o, NULL, &err) == BMX_ECORRUPT);
    CHECK_CONTAINS(err.msg, "expected 'fx-color'");
}

/* bmx_tasks_make (bmx tasks build) with the extraction skipped: the output folder created,
 * the task files and manifest built from the raw files, the extraction's time 0-ish; an
 * unknown raw task is refused by name. */
static void test_make(void)
{
    const char *names[] = {"fx-color", "fx-count"};
    bmx_tasks_build_opts o = bmx_tasks_build_defaults();
    bmx_err err = {0};
    double took[2] = {-1, -1};
    char out[300];
    snprintf(out, sizeof out, "%s", tmp("made"));
    CHECK_MSG(bmx_tasks_make("nowhere", "nowhere", FX, out, names, 2, 1, &o, NULL, took, &err) == 0,
              "%s", err.msg);
    CHECK(took[0] >= 0 && took[0] < 1 && took[1] >= 0);
    bmx_task *t;
    CHECK(bmx_task_open(&t, out, "fx-count", &err) == 0);
    bmx_task_free(t);
    char *s = read_manifest(out);
    CHECK_CONTAINS(s, "\"name\":\"fx-color\"");
    CHECK(!strstr(s, "\"name\":\"fx-sound\""));
    free(s);
    const char *missing[] = {"fx-none"};
    CHECK(bmx_tasks_make("nowhere", "nowhere", FX, out, missing, 1, 1, &o, NULL, took, &err) != 0);
    CHECK_CONTAINS(err.msg, "fx-none");
}

/* Issue 11 item 10: a task file or raw file that is a FIFO (it blocked forever) or a
 * directory is refused at once by name; bmx_task_open (tasks show, flad) too. */
static void hang(int sig)
{
    (void)sig;
    _exit(2); /* a reader blocked on the FIFO */
}

static void test_not_regular(void)
{
    char dir[200], fifo[300], sub[300];
    bmx_task *t = NULL;
    bmx_err err = {0};
    const char *paths[2] = {fifo, sub}, *kinds[2] = {"is a FIFO (named pipe)", "is a directory"};

    snprintf(dir, sizeof dir, "/tmp/bmx_test_tasks_nr_%ld", (long)getpid());
    snprintf(fifo, sizeof fifo, "%s/f.task", dir);
    snprintf(sub, sizeof sub, "%s/d.task", dir);
    CHECK(mkdir(dir, 0700) == 0);
    CHECK(mkfifo(fifo, 0600) == 0);
    CHECK(mkdir(sub, 0700) == 0);
    signal(SIGALRM, hang);
    alarm(20);
    for (int i = 0; i < 2; i++) {
        CHECK(bmx_task_load(&t, paths[i], &err) < 0 && t == NULL);
        CHECK_CONTAINS(err.msg, paths[i]);
        CHECK_CONTAINS(err.msg, kinds[i]);
        CHECK(bmx_task_read_raw(&t, paths[i], &err) < 0 && t == NULL);
        CHECK_CONTAINS(err.msg, paths[i]);
        CHECK_CONTAINS(err.msg, kinds[i]);
        CHECK(bmx_task_open(&t, dir, i ? "d" : "f", &err) < 0 && t == NULL);
        CHECK_CONTAINS(err.msg, paths[i]);
        CHECK_CONTAINS(err.msg, kinds[i]);
    }
    alarm(0);
    unlink(fifo);
    rmdir(sub);
    rmdir(dir);
}

/* bmx_tasks_select: every task by default, a list as given, unknown names refused unless any
 * name is allowed (prebuilt raw files), an empty list refused. */
static void test_select(void)
{
    const char *names[64];
    char *copy = NULL;
    bmx_err err = {0};
    size_t nall;
    int n = -1;

    const char *const *all = bmx_tasks_all(&nall);
    CHECK_EQ_INT(nall, 19);
    CHECK(bmx_tasks_select(NULL, 0, names, 64, &copy, &n, &err) == 0);
    CHECK(n == 19 && copy == NULL && names[0] == all[0] && !strcmp(names[18], "review-sentiment"));
    CHECK(bmx_tasks_select("genre,,spam", 0, names, 64, &copy, &n, &err) == 0);
    CHECK(n == 2 && !strcmp(names[0], "genre") && !strcmp(names[1], "spam"));
    free(copy);
    CHECK_EQ_INT(bmx_tasks_select("spam,nosuch", 0, names, 64, &copy, &n, &err), BMX_EINVAL);
    CHECK_CONTAINS(err.msg, "unknown task 'nosuch'; known: spam genre sotu-party");
    free(copy);
    CHECK(bmx_tasks_select("spam,nosuch", 1, names, 64, &copy, &n, &err) == 0 && n == 2);
    free(copy);
    CHECK_EQ_INT(bmx_tasks_select(",", 0, names, 64, &copy, &n, &err), BMX_EINVAL);
    CHECK_CONTAINS(err.msg, "names no tasks");
    free(copy);
    CHECK_EQ_INT(bmx_tasks_select("a,b,c", 1, names, 2, &copy, &n, &err), BMX_EINVAL);
    free(copy);
}

int main(int argc, char **argv)
{
    static const struct check_case cases[] = {
        {"raw_read", test_raw_read},
        {"not_regular", test_not_regular},
        {"raw_errors", test_raw_errors},
        {"split_groups", test_split_groups},
        {"save_load_roundtrip", test_save_load_roundtrip},
        {"corruption", test_corruption},
        {"open_unknown", test_open_unknown},
        {"prompts", test_prompts},
        {"fewshot", test_fewshot},
        {"build_manifest", test_build_manifest},
        {"make", test_make},
        {"select", test_select},
        {0},
    };
    return check_main(argc, argv, cases);
}
