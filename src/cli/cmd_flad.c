/* bmx flad - few-shot fine-tuning on a target task with auxiliary data (bmx/flad.h). */
#include "cli.h"
#include "cmd_run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bmx/flad.h"

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

/* --config FILE, or OUT/config.txt with --resume --out OUT: loaded before the flags (which
 * win; a resume refuses any that differ from the run's). 0 or an exit status. */
static int prescan(int argc, char **argv, bmx_flad_run_config *c, bmx_run_strings *st)
{
    const char *file = NULL, *out = NULL;
    char path[4200];
    int resume = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--config") || !strcmp(a, "--out"))
            *(a[2] == 'c' ? &file : &out) = v;
        else if (!strncmp(a, "--config=", 9) || !strncmp(a, "--out=", 6))
            *(a[2] == 'c' ? &file : &out) = strchr(a, '=') + 1;
        resume |= !strcmp(a, "--resume");
    }
    if (!file && resume && out) {
        snprintf(path, sizeof path, "%s/config.txt", out);
        file = path; /* a folder without one: bmx_flad_run says so */
        if (access(path, F_OK) != 0)
            return 0;
    }
    bmx_err err = {0};
    if (file && bmx_config_load(bmx_flad_run_keys(), c, file, st, &err) < 0)
        return cli_fail("flad", "%s", err.msg);
    return 0;
}

/* Options from the configuration table (flags: keys with '-' for '_'), then the others. */
static int flad_opts(struct run_cli *rc, bmx_flad_run_config *c)
{
    static const enum cli_type map[] = {CLI_STR, CLI_INT, CLI_LONG, CLI_U64, CLI_DOUBLE};
    const bmx_run_key *k = bmx_flad_run_keys();
    int n = 0;
    for (; k[n].name && n < RUN_CLI_MAX - 8; n++) {
        snprintf(rc->names[n], sizeof rc->names[n], "%s", k[n].name);
        for (char *p = rc->names[n]; *p; p++)
            *p = *p == '_' ? '-' : *p;
        rc->opts[n] =
            (struct cli_opt){rc->names[n], map[k[n].type], (char *)c + k[n].offset, k[n].help};
    }
    return n;
}

int cmd_flad(int argc, char **argv)
{
    bmx_flad_run_config c = bmx_flad_run_config_default();
    bmx_run_strings st = {0};
    struct run_cli rcli;
    int resume = 0, quiet = 0;
    const char *device = "cpu", *config = NULL;
    int r = prescan(argc, argv, &c, &st), n = flad_opts(&rcli, &c);
    rcli.opts[n++] = (struct cli_opt){"config", CLI_STR, &config,
                                      "configuration file of 'key = value' lines (flags win)"};
    rcli.opts[n++] = (struct cli_opt){"resume", CLI_FLAG, &resume,
                                      "continue the run in --out from its checkpoint (its "
                                      "config.txt holds; --rounds, --ckpt-every and --threads "
                                      "may change)"};
    rcli.opts[n++] =
        (struct cli_opt){"quiet", CLI_FLAG, &quiet, "no configuration or progress lines"};
    rcli.opts[n++] = (struct cli_opt){"device", CLI_STR, &device, "cpu (cuda: not yet for flad)"};
    rcli.opts[n] = (struct cli_opt){0};
    const char *usage =
        "usage: bmx flad --tasks DIR --target TASK --tok VOCAB (--init CKPT | --init-random "
        "L,H,C,CTX) --out DIR [options]\n"
        "       bmx flad --resume --out DIR [--rounds N]\n\n"
        "Fine-tune on a few-shot split of TASK while a bandit picks auxiliary datasets (task,\n"
        "template) by how their gradients align with the target's (FLAD). Ctrl-C (SIGINT) or\n"
        "SIGTERM writes a checkpoint and stops; --resume continues exactly.";
    int npos;
    if (!r)
        r = cli_parse(argc, argv, usage, rcli.opts, NULL, 0, &npos);
    if (r) {
        bmx_run_strings_free(&st);
        return r > 0 ? 0 : 2;
    }
    if (strcmp(device, "cpu") != 0) {
        bmx_run_strings_free(&st);
        return cli_fail("flad",
                        "--device %s: not yet for flad; FLAD runs on the CPU trainer until the "
                        "run engine's trainer backend serves it (issue 12); use --device cpu, or "
                        "bmx train/compare/doremi for GPU runs",
                        device);
    }
    if (!quiet) {
        char *text = bmx_config_text(bmx_flad_run_keys(), &c);
        fprintf(stderr, "bmx flad: %s\n%s", resume ? "resuming with" : "configuration",
                text ? text : "");
        free(text);
    }
    bmx_flad_run_opts o = {0};
    bmx_flad_result res;
    bmx_err err = {0};
    o.resume = resume;
    o.stop = run_stop_ptr();
    o.progress = quiet ? NULL : progress;
    o.log = (bmx_logger){log_fn, &quiet};
    run_signals_install();
    int rc = bmx_flad_run(&c, &o, &res, &err);
    if (rc == 0) {
        printf("%s split %d %s/%s: test accuracy %.4f (mean log-p %.4f), best val %.4f at round "
               "%ld of %ld%s\n",
               c.target, c.split, c.policy, c.reward, res.test_sum, res.test_mean, res.best_val,
               res.best_round, res.rounds, res.stopped ? " (stopped early)" : "");
        int exp3 = !strncmp(c.policy, "exp3", 4);
        if (exp3 && res.nonuniform)
            printf("pi differed from uniform in %ld of %ld rounds\n", res.nonuniform, res.rounds);
        else if (exp3)
            printf("identical to explore-only: never left uniform in %ld rounds\n", res.rounds);
        bmx_flad_result_free(&res);
    } else if (rc == 1) {
        fprintf(stderr,
                "bmx flad: stopped by signal at a round boundary; checkpoint written. Continue "
                "with: bmx flad --resume --out %s\n",
                c.out);
        rc = 128 + (run_stop_flag ? (int)run_stop_flag : 2);
    } else {
        fprintf(stderr, "bmx flad: %s\n", err.msg);
        rc = rc == BMX_EINVAL ? 2 : 1;
    }
    bmx_run_strings_free(&st);
    return rc;
}
