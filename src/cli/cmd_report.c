/* bmx report - rebuild the comparison report from run logs alone (bmx/runlog.h). */
#include "bmx/report.h"
#include "cli.h"

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

/* The summary over seeds: X.json, X.md, and a few lines on stderr. */
static int write_summary(const char *cmd, bmx_runlog **runs, int n, const char *out)
{
    bmx_summary *s = NULL;
    bmx_err err = {0};
    bmx_sbuf j = {0}, m = {0};
    char pj[4096], pm[4096], b[160];
    int rc = 0;
    sibling(pj, sizeof pj, out, ".json");
    sibling(pm, sizeof pm, out, ".md");
    if (bmx_report_summary(runs, (size_t)n, &s, &err) < 0 || bmx_summary_json(s, &j, &err) < 0 ||
        bmx_sbuf_save(&j, pj, &err) < 0 || bmx_summary_markdown(s, &m, &err) < 0 ||
        bmx_sbuf_save(&m, pm, &err) < 0)
        rc = cli_error(cmd, &err);
    for (size_t i = 0; !rc && i < s->nmethods; i++) {
        const bmx_method_summary *x = &s->methods[i];
        fprintf(stderr, "  %-24s %zu seeds, final %s", x->method, x->nseeds,
                bmx_ci_text(b, sizeof b, &x->final_ci, 3));
        if (s->reference && !x->is_reference && x->npaired)
            fprintf(stderr, ", vs %s %s%% (wins %zu of %zu)", s->reference,
                    bmx_ci_text(b, sizeof b, &x->rel_ci, 2), x->wins, x->npaired);
        fputc('\n', stderr);
    }
    if (!rc)
        fprintf(stderr, "bmx %s: summary over seeds (95%% t-intervals) written to %s and %s\n", cmd,
                pj, pm);
    bmx_summary_free(s);
    bmx_sbuf_free(&j);
    bmx_sbuf_free(&m);
    return rc;
}

/* The steps each method needs to reach the best static baseline's final perplexity. */
static void print_headline(const char *cmd, bmx_runlog **runs, int n)
{
    bmx_headline *rows = NULL;
    size_t nr = 0;
    const char *base = NULL;
    double target = 0;
    bmx_err err = {0};

    if (bmx_report_headline(runs, (size_t)n, &rows, &nr, &base, &target, &err) != 0)
        return;
    fprintf(stderr, "bmx %s: target = %s's final mean validation perplexity %.3f\n", cmd, base,
            target);
    for (size_t i = 0; i < nr; i++) {
        if (rows[i].reach_step == rows[i].reach_step)
            fprintf(stderr,
                    "  %-24s final %.3f, reaches the target at step %.1f (%.1f%% fewer steps)\n",
                    rows[i].method, rows[i].final_ppl, rows[i].reach_step, rows[i].fewer_pct);
        else
            fprintf(stderr, "  %-24s final %.3f, does not reach the target\n", rows[i].method,
                    rows[i].final_ppl);
    }
    free(rows);
}

/* Load the runs and write the report; prints errors; exit status. */
int report_write(const char *cmd, char **dirs, int n, const char *out, const char *title)
{
    bmx_runlog **runs = calloc((size_t)n + 1, sizeof *runs);
    bmx_err err = {0};
    bmx_sbuf b = {0};
    int rc, k = 0;

    if (!runs)
        return fprintf(stderr, "bmx %s: out of memory\n", cmd), 1;
    while (k < n && bmx_runlog_load(dirs[k], &runs[k], &err) == 0)
        k++;
    if (k < n || bmx_report_html(runs, (size_t)n, title, &b, &err) < 0 ||
        bmx_sbuf_save(&b, out, &err) < 0) {
        rc = cli_error(cmd, &err);
    } else {
        print_headline(cmd, runs, n);
        fprintf(stderr, "bmx %s: report written to %s\n", cmd, out);
        rc = write_summary(cmd, runs, n, out);
    }
    for (int i = 0; i < k; i++)
        bmx_runlog_free(runs[i]);
    free(runs);
    bmx_sbuf_free(&b);
    return rc;
}

int cmd_report(int argc, char **argv)
{
    const char *out = "report.html", *title = "bmx: data mixing comparison";
    const struct cli_opt opts[] = {
        {"out", CLI_STR, &out, "the HTML file X.html to write (X.json, X.md beside it)"},
        {"title", CLI_STR, &title, "the report's title"},
        {0}};
    const char *usage =
        "usage: bmx report RUN [RUN...] [--out FILE]\n\n"
        "Build one HTML report (inline SVG) from the logs of training runs (folders of\n"
        "'bmx train' or 'bmx compare'): mean validation perplexity against steps per method\n"
        "(mean and spread over seeds), steps each method needs to reach the best static\n"
        "baseline's final perplexity, final perplexity per domain, and the distribution over\n"
        "time of each adaptive method. Runs of one method (the log's \"method\") are seeds.\n\n"
        "Over seeds, per method: final mean validation perplexity, each domain's final\n"
        "perplexity and the steps to reach the target, as mean and 95% Student t-interval\n"
        "(mean +- t_{0.975,n-1} s/sqrt(n); 1 seed: no interval); a paired comparison with\n"
        "uniform on the seeds both have (difference, in %, wins; per domain); the perplexity\n"
        "curves with t-bands and the paired difference to uniform over steps with its band.\n"
        "Beside FILE (X.html) it writes X.json (every figure, per-seed values and curves) and\n"
        "X.md (the tables in Markdown, for docs/EXPERIMENTS.md); bmx compare does the same\n"
        "with OUT/report.html, OUT/report.json and OUT/report.md.";
    int n = cli_parse(argc, argv, usage, opts, 256);
    if (n < 0)
        return -1 - n;
    if (n == 0)
        return cli_fail("report", "give at least one RUN folder (of 'bmx train')");
    return report_write("report", argv + 1, n, out, title);
}
