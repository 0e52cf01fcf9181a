/* src/tasks/build.c - raw task files to task files and the suite's manifest. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bmx/core.h"
#include "bmx/tasks.h"

bmx_tasks_build_opts bmx_tasks_build_defaults(void)
{
    bmx_tasks_build_opts o = {0.2, 2000, 400, 1};
    return o;
}

static void manifest_task(bmx_json *j, const bmx_task *t, double secs)
{
    bmx_json_obj(j);
    bmx_json_kv_str(j, "name", bmx_task_name(t));
    bmx_json_key(j, "derived");
    bmx_json_bool(j, bmx_task_derived(t));
    bmx_json_kv_str(j, "question", bmx_task_question(t));
    bmx_json_kv_str(j, "source", bmx_task_source(t));
    bmx_json_kv_str(j, "how", bmx_task_how(t));
    int nl;
    const char *const *labels = bmx_task_labels(t, &nl);
    bmx_json_key(j, "labels");
    bmx_json_arr(j);
    for (int i = 0; i < nl; i++)
        bmx_json_str(j, labels[i]);
    bmx_json_end_arr(j);
    bmx_json_kv_int(j, "train", (long long)bmx_task_split_count(t, BMX_SPLIT_TRAIN));
    bmx_json_kv_int(j, "test", (long long)bmx_task_split_count(t, BMX_SPLIT_TEST));
    bmx_json_kv_int(j, "templates", BMX_TASK_TEMPLATES);
    bmx_json_key(j, "fewshot");
    bmx_json_arr(j);
    for (int s = 0; s < BMX_TASK_FEWSHOT_SPLITS; s++) {
        size_t *tr, *va, nt, nv;
        bmx_err e;
        if (bmx_task_fewshot(t, s, &tr, &nt, &va, &nv, &e))
            continue;
        bmx_json_obj(j);
        bmx_json_kv_int(j, "split", s);
        bmx_json_kv_int(j, "train", (long long)nt);
        bmx_json_kv_int(j, "val", (long long)nv);
        bmx_json_end_obj(j);
        free(tr);
        free(va);
    }
    bmx_json_end_arr(j);
    if (secs >= 0)
        bmx_json_kv_num(j, "extract_seconds", secs);
    bmx_json_end_obj(j);
}

int bmx_tasks_build(const char *raw_dir, const char *out_dir, const char *const *names, size_t n,
                    const double *secs, const bmx_tasks_build_opts *o, const bmx_logger *lg,
                    bmx_err *err)
{
    if (n == 0)
        return bmx_err_set(err, BMX_EINVAL, "no tasks to build");
    bmx_json j = {0};
    bmx_json_obj(&j);
    bmx_json_kv_str(&j, "format", "bmx-tasks");
    bmx_json_kv_int(&j, "version", 1);
    bmx_json_kv_num(&j, "test_frac", o->test_frac);
    bmx_json_kv_int(&j, "max_train", (long long)o->max_train);
    bmx_json_kv_int(&j, "max_test", (long long)o->max_test);
    bmx_json_kv_u64(&j, "seed", o->seed);
    bmx_json_key(&j, "template_texts");
    bmx_json_arr(&j);
    bmx_json_str(&j, "{text}\nQuestion: {question}\nAnswer:");
    bmx_json_str(&j, "{question}\n\n{text}\n\nThe answer is:");
    bmx_json_str(&j, "Input: {text}\nOptions: {c1} | {c2} | ...\n{question}\nOutput:");
    bmx_json_end_arr(&j);
    bmx_json_key(&j, "tasks");
    bmx_json_arr(&j);
    int rc = 0;
    size_t aux = 0, derived = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        char raw[4096], out[4096];
        snprintf(raw, sizeof raw, "%s/%s.raw", raw_dir, names[i]);
        snprintf(out, sizeof out, "%s/%s.task", out_dir, names[i]);
        bmx_task *t;
        rc = bmx_task_read_raw(&t, raw, err);
        if (rc)
            break;
        if (strcmp(bmx_task_name(t), names[i])) {
            rc = bmx_err_set(err, BMX_ECORRUPT, "%s: names task '%s', expected '%s'", raw,
                             bmx_task_name(t), names[i]);
        } else if (!(rc = bmx_task_split(t, o->test_frac, o->max_train, o->max_test, o->seed,
                                         err)) &&
                   !(rc = bmx_task_save(t, out, err))) {
            manifest_task(&j, t, secs ? secs[i] : -1);
            aux += BMX_TASK_TEMPLATES;
            derived += (size_t)bmx_task_derived(t);
            bmx_log(lg, BMX_LOG_INFO, "%s: %zu train, %zu test%s -> %s", names[i],
                    bmx_task_split_count(t, BMX_SPLIT_TRAIN),
                    bmx_task_split_count(t, BMX_SPLIT_TEST),
                    bmx_task_derived(t) ? " (derived)" : "", out);
        }
        bmx_task_free(t);
    }
    bmx_json_end_arr(&j);
    bmx_json_kv_int(&j, "tasks_count", (long long)n);
    bmx_json_kv_int(&j, "derived_count", (long long)derived);
    bmx_json_kv_int(&j, "aux_datasets", (long long)aux);
    bmx_json_end_obj(&j);
    if (!rc) {
        char path[4096];
        snprintf(path, sizeof path, "%s/manifest.json", out_dir);
        FILE *f = fopen(path, "w");
        if (!f)
            rc = bmx_err_set(err, BMX_EIO, "%s: cannot create: %s", path, strerror(errno));
        else {
            rc = bmx_json_line(&j, f, path, err);
            if (fclose(f) && !rc)
                rc = bmx_err_set(err, BMX_EIO, "%s: write failed", path);
        }
    }
    bmx_json_free(&j);
    return rc;
}
