/* bmx_report_write: the comparison report's files from run folders (bmx/report.h). */
#include "bmx/report.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* X.html -> X.json and X.md beside it (ext: ".json" or ".md"). */
static void sibling(char *buf, size_t cap, const char *html, const char *ext)
{
    size_t n = strlen(html);
    if (n > 5 && strcmp(html + n - 5, ".html") == 0)
        n -= 5;
    snprintf(buf, cap, "%.*s%s", (int)n, html, ext);
}

/* The headline as text: the target, then one line per method. */
static void headline_text(bmx_runlog *const *runs, size_t n, bmx_sbuf *out)
{
    bmx_headline *rows = NULL;
    size_t nr = 0;
    const char *base = NULL;
    double target = 0;
    bmx_err err = {0};

    if (bmx_report_headline(runs, n, &rows, &nr, &base, &target, &err) != 0)
        return;
    bmx_sbuf_printf(out, "target = %s's final mean validation perplexity %.3f\n", base, target);
    for (size_t i = 0; i < nr; i++) {
        if (rows[i].reach_step == rows[i].reach_step)
            bmx_sbuf_printf(out,
                            "  %-24s final %.3f, reaches the target at step %.1f (%.1f%% fewer "
                            "steps)\n",
                            rows[i].method, rows[i].final_ppl, rows[i].reach_step,
                            rows[i].fewer_pct);
        else
            bmx_sbuf_printf(out, "  %-24s final %.3f, does not reach the target\n", rows[i].method,
                            rows[i].final_ppl);
    }
    free(rows);
}

/* The summary's files and its lines per method. */
/* a relative difference in percent with its interval: "-1.20% +- 0.80%" */
static const char *pct_text(char *buf, size_t cap, const bmx_ci *c)
{
    if (c->n == 0 || !isfinite(c->mean))
        snprintf(buf, cap, "-");
    else if (c->n == 1)
        snprintf(buf, cap, "%.2f%% (1 seed, no interval)", c->mean);
    else
        snprintf(buf, cap, "%.2f%% +- %.2f%%", c->mean, c->half);
    return buf;
}

static int summary_files(bmx_runlog *const *runs, size_t n, bmx_report_files *f, bmx_err *err)
{
    bmx_summary *s = NULL;
    bmx_sbuf j = {0}, m = {0};
    char b[160];
    int rc = bmx_report_summary(runs, n, &s, err);
    if (rc == 0)
        rc = bmx_summary_json(s, &j, err);
    if (rc == 0)
        rc = bmx_sbuf_save(&j, f->json, err);
    if (rc == 0)
        rc = bmx_summary_markdown(s, &m, err);
    if (rc == 0)
        rc = bmx_sbuf_save(&m, f->md, err);
    for (size_t i = 0; rc == 0 && i < s->nmethods; i++) {
        const bmx_method_summary *x = &s->methods[i];
        bmx_sbuf_printf(&f->summary, "  %-24s %zu seeds, final %s", x->method, x->nseeds,
                        bmx_ci_text(b, sizeof b, &x->final_ci, 3));
        if (s->reference && !x->is_reference && x->npaired)
            bmx_sbuf_printf(&f->summary, ", vs %s %s (wins %zu of %zu)", s->reference,
                            pct_text(b, sizeof b, &x->rel_ci), x->wins, x->npaired);
        bmx_sbuf_puts(&f->summary, "\n");
    }
    bmx_summary_free(s);
    bmx_sbuf_free(&j);
    bmx_sbuf_free(&m);
    return rc;
}

int bmx_report_write(char *const *dirs, size_t n, const char *html, const char *title,
                     bmx_report_files *f, bmx_err *err)
{
    bmx_runlog **runs = calloc(n + 1, sizeof *runs);
    bmx_sbuf b = {0};
    size_t k = 0;
    int rc;

    memset(f, 0, sizeof *f);
    sibling(f->json, sizeof f->json, html, ".json");
    sibling(f->md, sizeof f->md, html, ".md");
    if (!runs)
        return bmx_err_set(err, BMX_ENOMEM, "out of memory");
    while (k < n && (rc = bmx_runlog_load(dirs[k], &runs[k], err)) == 0)
        k++;
    if (k == n && (rc = bmx_report_html(runs, n, title, &b, err)) == 0 &&
        (rc = bmx_sbuf_save(&b, html, err)) == 0) {
        f->html_written = 1;
        headline_text(runs, n, &f->headline);
        rc = summary_files(runs, n, f, err);
    }
    for (size_t i = 0; i < k; i++)
        bmx_runlog_free(runs[i]);
    free(runs);
    bmx_sbuf_free(&b);
    return rc;
}

void bmx_report_files_free(bmx_report_files *f)
{
    bmx_sbuf_free(&f->headline);
    bmx_sbuf_free(&f->summary);
}
