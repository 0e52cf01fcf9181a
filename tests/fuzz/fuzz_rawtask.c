/* Fuzz target: a raw task file (bmx_task_read_raw, src/tasks/task.c), as `bmx tasks build`
 * reads the extractors' output. A raw task that reads is split, saved and loaded back: the
 * saved file must load (the writer and the reader agree). */
#include "bmx/tasks.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = fuzz_file("x.raw", data, size);
    bmx_task *t = NULL, *back = NULL;
    bmx_err err = {0};
    int rc = bmx_task_read_raw(&t, p, &err);

    fuzz_check_err(rc, &err);
    if (rc)
        return 0;
    rc = bmx_task_split(t, 0.2, 2000, 400, 1, &err);
    fuzz_check_err(rc, &err);
    if (!rc) {
        char path[160];
        snprintf(path, sizeof path, "%s/x.task", fuzz_dir());
        rc = bmx_task_save(t, path, &err);
        fuzz_check_err(rc, &err);
        if (!rc) {
            rc = bmx_task_load(&back, path, &err);
            if (rc)
                fuzz_fail("a saved task does not load: %s", err.msg);
            if (bmx_task_count(back) != bmx_task_count(t))
                fuzz_fail("saved %zu examples, loaded %zu", bmx_task_count(t),
                          bmx_task_count(back));
            bmx_task_free(back);
        }
    }
    bmx_task_free(t);
    return 0;
}
