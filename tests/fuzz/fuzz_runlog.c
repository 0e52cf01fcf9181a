/* Fuzz target: a run's log.jsonl (bmx_runlog_load, src/report/runlog.c), as `bmx report`
 * reads it; a log that loads is made into the HTML report (headline, plots, tables) and the
 * summary over seeds (JSON, Markdown), so that the report code sees what the loader lets
 * through. */
#include "bmx/report.h"
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
        /* the summary over seeds, as JSON and Markdown (bmx report's X.json and X.md) */
        bmx_summary *s = NULL;
        rc = bmx_report_summary(runs, 1, &s, &err);
        fuzz_check_err(rc, &err);
        if (!rc) {
            bmx_sbuf j = {0}, m = {0};
            fuzz_check_err(bmx_summary_json(s, &j, &err), &err);
            fuzz_check_err(bmx_summary_markdown(s, &m, &err), &err);
            bmx_sbuf_free(&j);
            bmx_sbuf_free(&m);
            bmx_summary_free(s);
        }
    }
    bmx_runlog_free(l);
    return 0;
}
