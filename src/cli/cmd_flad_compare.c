/* bmx flad-compare - every FLAD method on every target task and few-shot split, then a table
 * shaped like the FLAD paper's and an HTML report with plots (bmx_flad_compare, bmx/flad.h). */
#include "cmd_run.h"

#include <stdio.h>
#include <stdlib.h>

#include "bmx/backend.h"
#include "bmx/flad.h"

static void log_warn(void *ctx, int level, const char *msg)
{
    if (level >= BMX_LOG_WARN)
        fprintf(stderr, "bmx flad-compare: %s\n", msg);
}

static void progress(void *ctx, const char *target, int split, const char *method,
                     const bmx_flad_result *res)
{
    *(int *)ctx = !res; /* a line left open */
    if (!res && split < 0)
        fprintf(stderr, "%s %s (the base model, every split) ...", target, method);
    else if (!res)
        fprintf(stderr, "%s split %d %s ...", target, split, method);
    else if (split < 0)
        fprintf(stderr, " test %.3f\n", res->test_sum);
    else
        fprintf(stderr, " test %.3f (rounds %ld)\n", res->test_sum, res->rounds);
}

int cmd_flad_compare(int argc, char **argv)
{
    bmx_flad_compare_config c = {bmx_flad_run_config_default(), "spam,genre,sotu-party,language", 5,
                                 NULL, 1};
    bmx_flad_run_config *o = &c.run;
    struct cli_opt opts[] = {
        {"tasks", CLI_STR, &o->tasks, "task folder from 'bmx tasks build'"},
        {"targets", CLI_STR, &c.targets,
         "target tasks (at least 2; all are held out of every pool)"},
        {"splits", CLI_INT, &c.splits, "few-shot splits per target (1..5)"},
        {"methods", CLI_STR, &c.methods,
         "subset of target-only,explore-only,exploit-only,exp3,ucb1"},
        {"reward", CLI_STR, &o->reward, "ga, gms or agg (EXP3/UCB1/exploit-only)"},
        {"params", CLI_STR, &o->params, "reward parameter subset"},
        {"init", CLI_STR, &o->init, "pre-trained checkpoint"},
        {"init-random", CLI_STR, &o->init_random, "or a random model LAYERS,HEADS,WIDTH,CTX"},
        {"tok", CLI_STR, &o->tok, "the model's vocabulary file"},
        {"out", CLI_STR, &o->out, "output folder (one run folder per target/split/method)"},
        {"batch", CLI_INT, &o->batch, "examples per batch"},
        {"seq", CLI_INT, &o->seq, "tokens per row"},
        {"rounds", CLI_INT, &o->rounds, "maximum rounds per run"},
        {"eval-every", CLI_INT, &o->eval_every, "rounds between validation evaluations"},
        {"patience", CLI_INT, &o->patience,
         "evaluations without improvement before stopping (0, the default: never)"},
        {"min-rounds", CLI_LONG, &o->min_rounds,
         "no early stop before this round, in every run; -1: the first round EXP3-FLAD can "
         "leave uniform, floor(K ln K / S) + 1 (K = 45, S = 1: 172)"},
        {"tscale", CLI_DOUBLE, &c.tscale,
         "EXP3-FLAD's time scale S (exp3:tscale=S): eps at S t; the released FLAD code's is "
         "10 G"},
        {"aux-draws", CLI_INT, &o->aux_draws, "G: auxiliary draws per round (every method)"},
        {"lr", CLI_DOUBLE, &o->lr, "AdamW learning rate"},
        {"seed", CLI_U64, &o->seed, "seed of every run"},
        {"threads", CLI_INT, &o->threads, "OpenMP/BLAS threads (0: the default)"},
        {"blas", CLI_INT, &o->blas, "1: BLAS, 0: plain C"},
        {"device", CLI_STR, &o->device, BMX_DEVICE_HELP},
        {"precision", CLI_STR, &o->precision, BMX_PRECISION_HELP},
        {0},
    };
    const char *usage = "usage: bmx flad-compare --tasks DIR --tok VOCAB (--init CKPT | "
                        "--init-random L,H,C,CTX) --out DIR [options]\n\n"
                        "Run every method on every target and split (finished runs are kept; "
                        "an interrupted one resumes), then write OUT/table.md, "
                        "OUT/results.jsonl and OUT/report.html.";
    int r = cli_parse(argc, argv, usage, opts, 0);
    if (r < 0)
        return -1 - r;
    int line_open = 0;
    bmx_flad_compare_opts co = {progress, &line_open, run_stop_ptr(), {log_warn, NULL}};
    bmx_err err = {0};
    char *md = NULL;
    run_signals_install();
    int rc = bmx_flad_compare(&c, &co, &md, &err);
    if (rc == 0)
        printf("%s\nreport: %s/report.html\n", md, o->out);
    free(md);
    if (rc == 1) {
        fprintf(stderr,
                "%sbmx flad-compare: stopped by signal (between runs, or a run's checkpoint "
                "written at a round boundary). "
                "Run the same command again to continue\n",
                line_open ? "\n" : "");
        return run_stopped_status();
    }
    if (rc < 0)
        fprintf(stderr, "%sbmx flad-compare: %s\n", line_open ? "\n" : "", err.msg);
    return rc == 0 ? 0 : rc == BMX_EINVAL ? 2 : 1;
}
