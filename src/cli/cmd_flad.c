/* bmx flad - few-shot fine-tuning on a target task with auxiliary data (bmx/flad.h). */
#include "cmd_run.h"

#include <stdio.h>
#include <string.h>

#include "bmx/flad.h"

static const char usage[] =
    "usage: bmx flad --tasks DIR --target TASK --tok VOCAB (--init CKPT | --init-random "
    "L,H,C,CTX) --out DIR [options]\n"
    "       bmx flad --resume --out DIR [--rounds N]\n\n"
    "Fine-tune on a few-shot split of TASK while a bandit picks auxiliary datasets (task,\n"
    "template) by how their gradients align with the target's (FLAD). Ctrl-C (SIGINT) or\n"
    "SIGTERM writes a checkpoint and stops; --resume continues exactly.";

static void log_fn(void *ctx, int level, const char *msg)
{
    int quiet = *(const int *)ctx;
    if (level >= BMX_LOG_WARN || (level >= BMX_LOG_INFO && !quiet))
        fprintf(stderr, "bmx flad: %s\n", msg);
}

static void progress(void *ctx, const bmx_flad_info *in)
{
    (void)ctx;
    if (in->evaluated)
        fprintf(stderr, "round %ld: val %.3f (best %.3f at %ld)%s\n", in->round, in->val_acc,
                in->best_val, in->best_round, in->stopped ? ", stopping early" : "");
}

static void print_result(const bmx_flad_run_config *c, const bmx_flad_result *res)
{
    printf("%s split %d %s/%s: test accuracy %.4f (mean log-p %.4f), best val %.4f at round "
           "%ld of %ld%s\n",
           c->target, c->split, c->policy, c->reward, res->test_sum, res->test_mean, res->best_val,
           res->best_round, res->rounds, res->stopped ? " (stopped early)" : "");
    if (strncmp(c->policy, "exp3", 4) != 0)
        return;
    if (res->nonuniform)
        printf("pi differed from uniform in %ld of %ld rounds\n", res->nonuniform, res->rounds);
    else
        printf("identical to explore-only: never left uniform in %ld rounds\n", res->rounds);
}

/* Run and print the outcome; exit status. */
static int flad(const bmx_flad_run_config *c, int resume, int quiet)
{
    bmx_flad_run_opts o = {0};
    bmx_flad_result res;
    bmx_err err = {0};
    int rc;

    if (!quiet)
        run_config_print("flad", resume ? "resuming with" : "configuration", bmx_flad_run_keys(),
                         c);
    o.resume = resume;
    o.stop = run_stop_ptr();
    o.progress = quiet ? NULL : progress;
    o.log = (bmx_logger){log_fn, &quiet};
    run_signals_install();
    rc = bmx_flad_run(c, &o, &res, &err);
    if (rc == 0) {
        print_result(c, &res);
        bmx_flad_result_free(&res);
        return 0;
    }
    if (rc == 1) {
        fprintf(stderr,
                "bmx flad: stopped by signal at a round boundary; checkpoint written. Continue "
                "with: bmx flad --resume --out %s\n",
                c->out);
        return run_stopped_status();
    }
    fprintf(stderr, "bmx flad: %s\n", err.msg);
    return rc == BMX_EINVAL ? 2 : 1;
}

int cmd_flad(int argc, char **argv)
{
    bmx_flad_run_config c = bmx_flad_run_config_default();
    bmx_run_strings st = {0};
    int resume = 0, quiet = 0;
    const char *config = NULL;
    const struct cli_opt extra[] = {
        {"config", CLI_STR, &config, "configuration file of 'key = value' lines (flags win)"},
        {"resume", CLI_FLAG, &resume,
         "continue the run in --out from its checkpoint (its config.txt holds; --rounds, "
         "--ckpt-every and --threads may change)"},
        {"quiet", CLI_FLAG, &quiet, "no configuration or progress lines"},
        {0}};
    const struct run_cmd cmd = {"flad", usage, bmx_flad_run_keys(), NULL, extra, 0, 1};
    int rc = run_cli_parse(&cmd, &c, &st, argc, argv);

    rc = rc < 0 ? -1 - rc : flad(&c, resume, quiet);
    bmx_run_strings_free(&st);
    return rc;
}
