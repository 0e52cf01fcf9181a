/* bmx compare - several mixing methods with the same model, token budget and seeds, then one
 * report. The grid is the library's (bmx_pipeline_compare, bmx/pipeline.h); the report is
 * bmx report's (report_write); this parses, calls and prints. */
#include "bmx/pipeline.h"
#include "cmd_run.h"
#include "dist_cli.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

static const char usage[] =
    "usage: bmx compare --data DIR --out DIR [--methods LIST] [--seeds LIST] [OPTIONS]\n\n"
    "Train one run per method and seed with the same model, token budget and seeds\n"
    "(OUT/<method>-s<seed>; doremi runs its reference, proxy and final stages in\n"
    "OUT/doremi-s<seed>/, reusing uniform's run of the seed as its reference), then write\n"
    "OUT/report.html. Runs already there are resumed or skipped, so an interrupted\n"
    "compare continues where it stopped.";

struct compare_opts {
    const char *config, *methods, *seeds, *title;
};

/* The grid and the configuration checked before anything runs; 0 or an exit status. */
static int plan(bmx_run_config *cfg, const struct compare_opts *co, const char *outdir,
                bmx_pipeline_grid *g)
{
    bmx_err err = {0};
    char head[8192];

    if (bmx_pipeline_grid_parse(g, co->methods, co->seeds, &err) < 0)
        return cli_fail("compare", "%s", err.msg);
    cfg->out = "x";
    cfg->policy = "uniform"; /* checked with each method below */
    if (!*outdir || bmx_run_config_check(cfg, &err) < 0)
        return cli_fail("compare", "%s", *outdir ? err.msg : "--out DIR is required");
    if (bmx_pipeline_grid_check(g, cfg, &err) < 0)
        return cli_fail("compare", "%s", err.msg);
    snprintf(head, sizeof head, "methods %s, seeds %s, configuration of every run", co->methods,
             co->seeds);
    run_config_print("compare", head, bmx_run_keys(), cfg);
    return 0;
}

/* Run the grid, then the report; exit status. */
static int run(const bmx_pipeline_grid *g, const bmx_run_config *cfg, const char *outdir,
               const char *title)
{
    static const char *cmd = "compare";
    size_t nd = (size_t)g->nmethods * (size_t)g->nseeds;
    char *dirs = calloc(nd, PATH_MAX), **dp = calloc(nd, sizeof *dp), rep[PATH_MAX + 16];
    bmx_pipeline_opts po;
    bmx_err err = {0};
    int rc = 1;

    if (!dirs || !dp) {
        fprintf(stderr, "bmx compare: out of memory\n");
    } else {
        run_pipeline_opts(&cmd, &po);
        rc = bmx_pipeline_compare(g, cfg, outdir, dirs, PATH_MAX, &po, &err);
        rc = run_pipeline_status("compare", rc, &err);
    }
    if (!rc && cli_rank() == 0) {
        for (size_t i = 0; i < nd; i++)
            dp[i] = dirs + i * PATH_MAX;
        snprintf(rep, sizeof rep, "%s/report.html", outdir);
        rc = report_write("compare", dp, (int)nd, rep, title);
    }
    free(dirs);
    free(dp);
    return rc;
}

int cmd_compare(int argc, char **argv)
{
    static const char *const per_run[] = {"policy", "method", "seed", "reference", NULL};
    struct compare_opts co = {NULL, "uniform,natural,odm,doremi", "1",
                              "bmx: data mixing comparison"};
    const struct cli_opt extra[] = {
        {"config", CLI_STR, &co.config, "configuration file"},
        {"methods", CLI_STR, &co.methods, "comma-separated policy specs, and/or doremi"},
        {"seeds", CLI_STR, &co.seeds, "comma-separated seeds"},
        {"title", CLI_STR, &co.title, "the report's title"},
        {0}};
    const struct run_cmd c = {"compare", usage, bmx_run_keys(), per_run, extra, 1, 0};
    bmx_run_config cfg = bmx_run_config_default();
    bmx_run_strings store = {0};
    bmx_pipeline_grid g = {0};
    char outdir[PATH_MAX / 2];
    int rc = run_cli_parse(&c, &cfg, &store, argc, argv);

    snprintf(outdir, sizeof outdir, "%s", cfg.out);
    if (rc < 0)
        rc = -1 - rc;
    else if (!(rc = plan(&cfg, &co, outdir, &g)))
        rc = run(&g, &cfg, outdir, co.title);
    bmx_pipeline_grid_free(&g);
    bmx_run_strings_free(&store);
    return rc;
}
