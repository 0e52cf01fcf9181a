/* bmx report - rebuild the comparison report from run logs alone (bmx/runlog.h). */
#include "bmx/report.h"
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Load the runs and write the report; prints errors; exit status. */
int report_write(const char *cmd, char **dirs, int n, const char *out, const char *title)
{
    bmx_report_files f;
    bmx_err err = {0};
    int rc = bmx_report_write(dirs, (size_t)n, out, title, &f, &err);

    if (f.html_written) {
        if (f.headline.len)
            fprintf(stderr, "bmx %s: %s", cmd, bmx_sbuf_str(&f.headline));
        fprintf(stderr, "bmx %s: report written to %s\n", cmd, out);
    }
    if (rc == 0)
        fprintf(stderr, "%sbmx %s: summary over seeds (95%% t-intervals) written to %s and %s\n",
                bmx_sbuf_str(&f.summary), cmd, f.json, f.md);
    bmx_report_files_free(&f);
    return rc ? cli_error(cmd, &err) : 0;
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
        "'bmx train' or 'bmx compare'; a DoReMi folder stands for its final run):\n"
        "mean validation perplexity against steps per method (mean and spread over seeds),\n"
        "steps each method needs to reach the best static baseline's final perplexity, final\n"
        "perplexity per domain, the distribution over time of each adaptive method (a DoReMi\n"
        "proxy: also its weights alpha) and every method's sampling weight per domain. Runs of\n"
        "one method (the log's \"method\") are seeds.\n\n"
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
