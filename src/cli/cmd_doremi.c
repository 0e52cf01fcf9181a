/* bmx doremi - DoReMi as a baseline: reference run on the baseline weights, proxy run with the
 * DoReMi updater, averaged weights, final run on them (ALGORITHMS.md section 3). The stages
 * are the library's (bmx_pipeline_doremi, bmx/pipeline.h); this parses, calls and prints. */
#include "bmx/pipeline.h"
#include "cmd_run.h"
#include "dist_cli.h"

#include <limits.h>
#include <stdio.h>

static const char usage[] =
    "usage: bmx doremi --data DIR --out DIR [OPTIONS]\n\n"
    "DoReMi (ALGORITHMS.md section 3): train a reference model on the baseline weights\n"
    "(--weights, default uniform) in OUT/reference, a proxy model with the DoReMi\n"
    "updater against it in OUT/proxy (per-token excess loss on the same batch), write\n"
    "the averaged weights alpha_bar to OUT/weights.txt, then train the final model on\n"
    "them in OUT/final. Every stage uses the same model and budget; run again to resume.";

/* Check the configuration (out is checked per stage), print it and run the stages. */
static int doremi(bmx_run_config *cfg, const char *reference)
{
    static const char *cmd = "doremi";
    char outdir[PATH_MAX];
    bmx_pipeline_opts po;
    bmx_err err = {0};
    int rc;

    snprintf(outdir, sizeof outdir, "%s", cfg->out);
    cfg->out = "x";
    if (bmx_run_config_check(cfg, &err) < 0 || !*outdir)
        return cli_fail("doremi", "%s", *outdir ? err.msg : "--out DIR is required");
    run_config_print("doremi", "configuration of every stage", bmx_run_keys(), cfg);
    run_pipeline_opts(&cmd, &po);
    rc = bmx_pipeline_doremi(cfg, outdir, reference, "doremi", &po, &err);
    if (!rc && cli_rank() == 0)
        fprintf(stderr, "bmx doremi: done; final model in %s/final\n", outdir);
    return run_pipeline_status("doremi", rc, &err);
}

int cmd_doremi(int argc, char **argv)
{
    static const char *const per_stage[] = {"policy", "method", "reference", NULL};
    bmx_run_config cfg = bmx_run_config_default();
    bmx_run_strings store = {0};
    const char *config = NULL, *reference = NULL;
    const struct cli_opt extra[] = {{"config", CLI_STR, &config, "configuration file"},
                                    {"use-reference", CLI_STR, &reference,
                                     "an existing reference run folder (skip training one)"},
                                    {0}};
    const struct run_cmd c = {"doremi", usage, bmx_run_keys(), per_stage, extra, 1, 0};
    int rc;

    cfg.policy = "doremi";
    rc = run_cli_parse(&c, &cfg, &store, argc, argv);
    rc = rc < 0 ? -1 - rc : doremi(&cfg, reference);
    bmx_run_strings_free(&store);
    return rc;
}
