/* Fuzz target: a run's log.jsonl (bmx_runlog_load, src/runlog/runlog.c), as `bmx report`
 * reads it; a log that loads is made into the HTML report (headline, plots, tables) next to
 * a committed uniform run, so that the report code sees what the loader lets through. */
#include "bmx/runlog.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = fuzz_file("log.jsonl", data, size);
    bmx_runlog *l = NULL;
    bmx_err err = {0};
    int rc = bmx_runlog_load(p, &l, &err);

    fuzz_check_err(rc, &err);
    if (rc)
        return 0;
    for (size_t i = 0; i < l->nevals; i++)
        if (!(l->eval_avg_ppl[i] >= 1.0) || l->eval_step[i] < 0)
            fuzz_fail("impossible evaluation loaded: ppl %g step %ld", l->eval_avg_ppl[i],
                      l->eval_step[i]);
    {
        bmx_sbuf out = {0};
        bmx_runlog *runs[1] = {l};
        rc = bmx_report_html(runs, 1, "fuzz", &out, &err);
        fuzz_check_err(rc, &err);
        bmx_sbuf_free(&out);
    }
    bmx_runlog_free(l);
    return 0;
}
