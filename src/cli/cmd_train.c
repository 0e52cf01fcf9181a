/* bmx train - train a model with a mixing policy (bmx/run.h). */
#include "cmd_run.h"
#include "dist_cli.h"

#include <stdio.h>
#include <string.h>

static const char usage[] =
    "usage: bmx train --data DIR --out RUN [--policy SPEC] [--config FILE] [OPTIONS]\n"
    "       bmx train --resume --out RUN [--steps N]\n\n"
    "Train a GPT-2 style model on a sharded multi-domain corpus, each micro-batch from\n"
    "the domain the mixing policy draws; validate every domain on fixed windows; write\n"
    "RUN/config.txt, RUN/log.jsonl, RUN/timing.jsonl and RUN/checkpoint.bin. Ctrl-C\n"
    "(SIGINT) or SIGTERM writes a checkpoint and stops; --resume continues exactly.\n"
    "Configuration keys are the options below without '--' ('-' or '_' alike).";

/* --resume: print the run's stored configuration; only steps (when given) and threads may
 * change. 0 or an exit status. */
static int resume_prepare(int argc, char **argv, bmx_run_config *cfg)
{
    char path[4200];
    FILE *f = NULL; /* not a regular file: the run's own load says so */
    int steps_given = 0;

    if (!*cfg->out)
        return cli_fail("train", "--resume needs --out RUN, the run folder to continue");
    snprintf(path, sizeof path, "%s/config.txt", cfg->out);
    if (cli_rank() == 0 && bmx_file_fopen_regular(path, &f, NULL) == 0) {
        char line[1024];
        fprintf(stderr, "bmx train: resuming %s with its configuration\n", cfg->out);
        while (fgets(line, sizeof line, f))
            fputs(line, stderr);
        fclose(f);
    }
    for (int i = 1; i < argc; i++)
        steps_given |= strncmp(argv[i], "--steps", 7) == 0;
    if (!steps_given)
        cfg->steps = 0;
    return 0;
}

static int train(int argc, char **argv, bmx_run_config *cfg, int resume)
{
    bmx_err err = {0};
    int rc;

    if (resume && (rc = resume_prepare(argc, argv, cfg)))
        return rc;
    if (!resume && bmx_run_config_check(cfg, &err) < 0)
        return cli_fail("train", "%s", err.msg);
    if (!resume)
        run_config_print("train", "configuration", bmx_run_keys(), cfg);
    run_signals_install();
    rc = run_one("train", cfg, resume, "");
    if (rc == 0 && cli_rank() == 0)
        fprintf(stderr, "bmx train: done; log %s/log.jsonl, model %s/checkpoint.bin\n", cfg->out,
                cfg->out);
    return rc;
}

int cmd_train(int argc, char **argv)
{
    bmx_run_config cfg = bmx_run_config_default();
    bmx_run_strings store = {0};
    const char *config = NULL;
    int resume = 0;
    const struct cli_opt extra[] = {
        {"config", CLI_STR, &config, "configuration file of 'key = value' lines (flags win)"},
        {"resume", CLI_FLAG, &resume,
         "continue the run in --out from its checkpoint (its config.txt holds; --steps and "
         "--threads may change)"},
        {0}};
    const struct run_cmd c = {"train", usage, bmx_run_keys(), NULL, extra, 1, 0};
    int rc = run_cli_parse(&c, &cfg, &store, argc, argv);

    rc = rc < 0 ? -1 - rc : train(argc, argv, &cfg, resume);
    bmx_run_strings_free(&store);
    return rc;
}
