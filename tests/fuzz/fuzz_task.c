/* Fuzz target: a task file (bmx_task_load, src/tasks/task.c), as `bmx tasks show` and
 * `bmx flad` read it. A task that loads renders every example under every template and
 * gives its few-shot splits. */
#include "bmx/tasks.h"
#include "fuzz.h"

/* The payload's CRC at 32 (its u64 length at 24), the header's at 40. */
static void fix_crcs(unsigned char *data, size_t size)
{
    if (size < 48)
        return;
    uint64_t plen = 0;
    for (int i = 7; i >= 0; i--)
        plen = plen << 8 | data[24 + i];
    if (plen <= size - 48)
        fuzz_put32(data + 32, bmx_crc32(0, data + 48, (size_t)plen));
    fuzz_put32(data + 40, bmx_crc32(0, data, 40));
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size)
{
    const char *p = fuzz_input("x.task", in, size, fix_crcs);
    bmx_task *t = NULL;
    bmx_err err = {0};
    int rc = bmx_task_load(&t, p, &err);

    fuzz_check_err(rc, &err);
    if (rc)
        return 0;
    for (size_t i = 0; i < bmx_task_count(t) && i < 64; i++)
        for (int k = 0; k < BMX_TASK_TEMPLATES; k++) {
            char *s = NULL;
            rc = bmx_task_prompt(t, i, k, &s, &err);
            fuzz_check_err(rc, &err);
            free(s);
        }
    for (int sp = -1; sp <= 1; sp++) {
        size_t *idx = NULL, n = 0;
        rc = bmx_task_split_indices(t,
                                    sp < 0 ? -1
                                    : sp   ? BMX_SPLIT_TEST
                                           : BMX_SPLIT_TRAIN,
                                    &idx, &n, &err);
        fuzz_check_err(rc, &err);
        for (size_t i = 0; !rc && i < n; i++)
            if (idx[i] >= bmx_task_count(t))
                fuzz_fail("split index %zu >= %zu examples", idx[i], bmx_task_count(t));
        free(idx);
    }
    for (int s = 0; s < BMX_TASK_FEWSHOT_SPLITS; s++) {
        size_t *tr = NULL, *va = NULL, ntr = 0, nva = 0;
        rc = bmx_task_fewshot(t, s, &tr, &ntr, &va, &nva, &err);
        fuzz_check_err(rc, &err);
        free(tr);
        free(va);
    }
    bmx_task_free(t);
    return 0;
}
