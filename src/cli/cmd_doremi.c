/* bmx doremi - DoReMi as a baseline: reference run on the baseline weights, proxy run with the
 * DoReMi updater, averaged weights, final run on them (ALGORITHMS.md section 3). The stages
 * are the library's (bmx_pipeline_doremi, bmx/pipeline.h); this parses, calls and prints. */
#include "bmx/pipeline.h"
#include "cmd_run.h"
#include "dist_cli.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: bmx doremi --data DIR --out DIR [OPTIONS]\n\n"
    "DoReMi (ALGORITHMS.md section 3): train a reference model on the baseline weights\n"
    "(--weights, default uniform) in OUT/reference, a proxy model with the DoReMi\n"
    "updater against it in OUT/proxy (per-token excess loss on the same batch), write\n"
    "the averaged weights alpha_bar to OUT/weights.txt, then train the final model on\n"
    "them in OUT/final. Every stage uses the same model and budget; run again to resume.";

/* Check the configuration (out is checked per stage) and print it; 0 or an exit status. */
static int check(bmx_run_config *cfg, const char *outdir)
{
    bmx_err err = {0};
    char *text;

    cfg->out = "x";
    if (bmx_run_config_check(cfg, &err) < 0 || !*outdir)
        return cli_fail("doremi", "%s", *outdir ? err.msg : "--out DIR is required");
    text = bmx_run_config_text(cfg);
    if (cli_rank() == 0)
        fprintf(stderr, "bmx doremi: configuration of every stage\n%s", text ? text : "");
    free(text);
    return 0;
}

static int doremi(int argc, char **argv, bmx_run_config *cfg)
{
    static const char *const per_stage[] = {"policy", "method", "reference", NULL};
    static const char *cmd = "doremi";
    struct run_cli rcli;
    const char *config = NULL, *reference = NULL;
    char outdir[PATH_MAX];
    bmx_pipeline_opts po;
    bmx_err err = {0};
    int npos = 0, rc, n = run_opts_drop(&rcli, run_opts_build(&rcli, cfg), per_stage);

    rcli.opts[n++] = (struct cli_opt){"config", CLI_STR, &config, "configuration file"};
    rcli.opts[n++] = (struct cli_opt){"use-reference", CLI_STR, &reference,
                                      "an existing reference run folder (skip training one)"};
    n += cli_dist_opts(&rcli.opts[n]);
    rcli.opts[n] = (struct cli_opt){0};
    if ((rc = cli_parse(argc, argv, usage, rcli.opts, NULL, 0, &npos)))
        return rc > 0 ? 0 : 2;
    if ((rc = cli_dist_apply("doremi", run_stop_ptr())))
        return rc;
    snprintf(outdir, sizeof outdir, "%s", cfg->out);
    if ((rc = check(cfg, outdir)))
        return rc;
    run_signals_install();
    run_pipeline_opts(&cmd, &po);
    rc = bmx_pipeline_doremi(cfg, outdir, reference, "doremi", &po, &err);
    if (!rc && cli_rank() == 0)
        fprintf(stderr, "bmx doremi: done; final model in %s/final\n", outdir);
    return run_pipeline_status("doremi", rc, &err);
}

int cmd_doremi(int argc, char **argv)
{
    bmx_run_config cfg = bmx_run_config_default();
    bmx_run_strings store = {0};
    int rc;

    cfg.policy = "doremi";
    if (!(rc = run_config_prescan("doremi", argc, argv, &cfg, &store)))
        rc = doremi(argc, argv, &cfg);
    bmx_run_strings_free(&store);
    return rc;
}
