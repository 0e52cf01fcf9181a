/* bmx/tasks.h - the few-shot task suite (FLAD): tasks of (prompt, answer choices, correct
 * choice) examples, their prompt templates, train/test and few-shot splits, and task files.
 *
 * A task is read once from a raw file written by scripts/tasks/extract.py (text format
 * "BMXRAW 1", see there), split and saved as a task file; everything else reads task files.
 *
 * Task file (little-endian, version 1): a 48-byte header
 *     magic "BMXTASK1", u32 version, u32 flags (bit 0: derived), u32 examples, u32 labels,
 *     u64 payload bytes, u32 CRC-32 of the payload, u32 0, u32 CRC-32 of the 40 bytes before
 *     it, u32 0
 * then the payload: strings (u32 length + bytes) name, question, source, how; the labels;
 * then per example u32 correct, u32 split (0 train, 1 test), u32 choices (0: the labels),
 * string text, string group, and its own choices. Loading checks magic, version, sizes,
 * both checksums and every index, and names the file in each error.
 *
 * Splits: an example is in the test split when crc32(task name + "/" + group) mod 1000 <
 * test_frac * 1000, so a group (a document, a chapter) never straddles the two; then each
 * split is capped by a seeded random subset (order kept).
 *
 * Few-shot target splits (as the FLAD paper): split s = 0..4 draws n = 20 + below(51)
 * (20..70) training-split examples without replacement from bmx_rng_seed(1000 + s,
 * crc32(name)); the first n / 2 drawn are the few-shot train set, the rest validation.
 *
 * Templates (BMX_TASK_TEMPLATES of them; an auxiliary dataset is a (task, template) pair):
 *   0: "{text}\nQuestion: {question}\nAnswer:"
 *   1: "{question}\n\n{text}\n\nThe answer is:"
 *   2: "Input: {text}\nOptions: {c1} | {c2} | ...\n{question}\nOutput:"
 * and the answer to score or train on is " " + choice.
 */
#ifndef BMX_TASKS_H
#define BMX_TASKS_H

#include <stddef.h>
#include <stdint.h>

#include "bmx/core.h"

#ifdef __cplusplus
extern "C" {
#endif

#define BMX_TASK_TEMPLATES      3
#define BMX_TASK_FEWSHOT_SPLITS 5
#define BMX_TASK_MAX_CHOICES    64

enum { BMX_SPLIT_TRAIN = 0, BMX_SPLIT_TEST = 1 };

typedef struct bmx_task_example {
    const char *text;
    const char *group;
    const char *const *choices; /* nchoices strings */
    int nchoices;
    int correct;
    int split;
} bmx_task_example;

typedef struct bmx_task bmx_task;

/* Read a raw file (scripts/tasks/extract.py); every example starts in the train split. */
int bmx_task_read_raw(bmx_task **out, const char *path, bmx_err *err);
/* Assign the test split by group (see above) and cap each split at max_train / max_test
 * examples (0: no cap) with a generator seeded by seed. Errors when either split is empty. */
int bmx_task_split(bmx_task *t, double test_frac, size_t max_train, size_t max_test, uint64_t seed,
                   bmx_err *err);
int bmx_task_save(const bmx_task *t, const char *path, bmx_err *err);
int bmx_task_load(bmx_task **out, const char *path, bmx_err *err);
/* Load DIR/NAME.task; an unknown name is an error that lists the tasks found in dir. */
int bmx_task_open(bmx_task **out, const char *dir, const char *name, bmx_err *err);
void bmx_task_free(bmx_task *t);

const char *bmx_task_name(const bmx_task *t);
const char *bmx_task_question(const bmx_task *t);
const char *bmx_task_source(const bmx_task *t);
const char *bmx_task_how(const bmx_task *t);
int bmx_task_derived(const bmx_task *t);
size_t bmx_task_count(const bmx_task *t); /* examples, both splits */
/* Examples of one split (BMX_SPLIT_TRAIN / TEST), or of both for split < 0. */
size_t bmx_task_split_count(const bmx_task *t, int split);
const bmx_task_example *bmx_task_example_at(const bmx_task *t, size_t i);
/* Indices (into bmx_task_example_at) of a split, in order; malloc'd, *n set. */
int bmx_task_split_indices(const bmx_task *t, int split, size_t **idx, size_t *n, bmx_err *err);
/* The label set of a labelled task (NULL, 0 for a task whose examples have own choices). */
const char *const *bmx_task_labels(const bmx_task *t, int *n);

/* The prompt of example i under template tmpl (0..BMX_TASK_TEMPLATES-1), malloc'd. */
int bmx_task_prompt(const bmx_task *t, size_t i, int tmpl, char **out, bmx_err *err);

/* Few-shot split s (0..BMX_TASK_FEWSHOT_SPLITS-1): malloc'd index arrays (see above).
 * Errors when the train split has fewer than 20 examples. */
int bmx_task_fewshot(const bmx_task *t, int s, size_t **train, size_t *ntrain, size_t **val,
                     size_t *nval, bmx_err *err);

/* The tasks of the suite, in their fixed order (*n of them). */
const char *const *bmx_tasks_all(size_t *n);

/* The task names of list ("spam,genre"; NULL = every task) into names (room for max; they
 * point into *copy, malloc'd, free it, or at the suite's names); *n gets the count. Errors
 * (BMX_EINVAL): a list naming no task or more than max, and, unless any_name, a name that
 * is not a task of the suite (the message lists them). */
int bmx_tasks_select(const char *list, int any_name, const char **names, int max, char **copy,
                     int *n, bmx_err *err);

/* Extract the raw tasks: `bash SCRIPTS/extract.sh CACHE RAW NAME` per name (standard output
 * discarded), RAW created; secs[i] gets each one's seconds, logged at BMX_LOG_INFO. A
 * failing extractor stops with BMX_EIO naming the task and the command. */
int bmx_tasks_extract(const char *scripts, const char *cache, const char *raw,
                      const char *const *names, int n, double *secs, const bmx_logger *lg,
                      bmx_err *err);

/* Build: convert every RAW_DIR/NAME.raw of names (n names) into OUT_DIR/NAME.task and write
 * OUT_DIR/manifest.json (tasks, sources, how derived tasks were made, counts, templates,
 * few-shot split sizes, the auxiliary datasets, extraction seconds from secs or -1). */
typedef struct bmx_tasks_build_opts {
    double test_frac; /* 0.2 */
    size_t max_train; /* 2000 */
    size_t max_test;  /* 400 */
    uint64_t seed;    /* 1 */
} bmx_tasks_build_opts;

bmx_tasks_build_opts bmx_tasks_build_defaults(void);
int bmx_tasks_build(const char *raw_dir, const char *out_dir, const char *const *names, size_t n,
                    const double *secs, const bmx_tasks_build_opts *o, const bmx_logger *lg,
                    bmx_err *err);

/* `bmx tasks build`: out created (one level), the raw tasks extracted into raw unless skip
 * (bmx_tasks_extract), then the task files and manifest built (bmx_tasks_build). took[0]
 * gets the seconds of the extraction, took[1] those of the build. Errors as theirs. */
int bmx_tasks_make(const char *scripts, const char *cache, const char *raw, const char *out,
                   const char *const *names, int n, int skip, const bmx_tasks_build_opts *o,
                   const bmx_logger *lg, double took[2], bmx_err *err);

#ifdef __cplusplus
}
#endif

#endif
