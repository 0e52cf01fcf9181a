/* The task suite's names, their selection and the raw extraction (bmx/tasks.h). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "bmx/tasks.h"

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
#define NALL (sizeof all_tasks / sizeof *all_tasks)

const char *const *bmx_tasks_all(size_t *n)
{
    *n = NALL;
    return all_tasks;
}

static int known(const char *name)
{
    for (size_t i = 0; i < NALL; i++)
        if (!strcmp(all_tasks[i], name))
            return 1;
    return 0;
}

static int unknown(const char *name, bmx_err *err)
{
    char list[1024];
    size_t u = 0;

    for (size_t k = 0; k < NALL && u < sizeof list; k++)
        u += (size_t)snprintf(list + u, sizeof list - u, " %s", all_tasks[k]);
    return bmx_err_set(err, BMX_EINVAL, "unknown task '%s'; known:%s", name, list);
}

int bmx_tasks_select(const char *list, int any_name, const char **names, int max, char **copy,
                     int *n, bmx_err *err)
{
    char *save = NULL;

    *n = 0;
    *copy = NULL;
    if (!list) {
        for (size_t i = 0; i < NALL && *n < max; i++)
            names[(*n)++] = all_tasks[i];
        return BMX_OK;
    }
    if (!(*copy = strdup(list)))
        return bmx_err_set(err, BMX_ENOMEM, "out of memory");
    for (char *tok = strtok_r(*copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (*n == max) {
            *n = 0;
            break;
        }
        names[(*n)++] = tok;
    }
    if (*n == 0)
        return bmx_err_set(err, BMX_EINVAL, "--tasks '%s' names no tasks (comma-separated names)",
                           list);
    for (int i = 0; i < *n; i++)
        if (!any_name && !known(names[i]))
            return unknown(names[i], err);
    return BMX_OK;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int bmx_tasks_extract(const char *scripts, const char *cache, const char *raw,
                      const char *const *names, int n, double *secs, const bmx_logger *lg,
                      bmx_err *err)
{
    int rc;

    if ((rc = bmx_file_mkdir_p(raw, err)) != BMX_OK)
        return rc;
    for (int i = 0; i < n; i++) {
        char cmd[3 * PATH_MAX];
        double s = now();
        snprintf(cmd, sizeof cmd, "bash '%s/extract.sh' '%s' '%s' '%s' >/dev/null", scripts, cache,
                 raw, names[i]);
        if (system(cmd) != 0)
            return bmx_err_set(err, BMX_EIO,
                               "extracting %s failed (see the message above; command: %s)",
                               names[i], cmd);
        secs[i] = now() - s;
        bmx_log(lg, BMX_LOG_INFO, "extracted %s in %.1f s", names[i], secs[i]);
    }
    return BMX_OK;
}

int bmx_tasks_make(const char *scripts, const char *cache, const char *raw, const char *out,
                   const char *const *names, int n, int skip, const bmx_tasks_build_opts *o,
                   const bmx_logger *lg, double took[2], bmx_err *err)
{
    double *secs = malloc((size_t)(n > 0 ? n : 1) * sizeof *secs), t0 = bmx_now_s(), t1;
    int rc = 0;

    if (!secs)
        return bmx_err_set(err, BMX_ENOMEM, "out of memory");
    for (int i = 0; i < n; i++)
        secs[i] = -1;
    mkdir(out, 0777);
    if (!skip)
        rc = bmx_tasks_extract(scripts, cache, raw, names, n, secs, lg, err);
    t1 = bmx_now_s();
    if (rc == 0)
        rc = bmx_tasks_build(raw, out, names, (size_t)n, secs, o, lg, err);
    took[0] = t1 - t0;
    took[1] = bmx_now_s() - t1;
    free(secs);
    return rc;
}
