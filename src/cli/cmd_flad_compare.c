/* bmx flad-compare - every FLAD method on every target task and few-shot split, then a table
 * shaped like the FLAD paper's and an HTML report with plots (the table and report are the
 * library's: bmx_flad_cmp_*, bmx/runlog.h). */
#include "cli.h"
#include "flad_run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bmx/mix.h"
#include "bmx/runlog.h"
#include "bmx/tasks.h"

/* One run: method k on target t, split s (resumed when its checkpoint is there); its outcome
 * goes into c. Exit status. */
static int run_one(const struct flad_opts *o, bmx_flad_cmp *c, const char *target, int t, int s,
                   int k, const char *exp3spec)
{
    char dir[2048], ck[2300], lp[2300];
    struct flad_opts ro = *o;
    struct flad_result res;
    struct stat st;
    bmx_err err = {0};
    int rc;

    snprintf(dir, sizeof dir, "%s/%s", o->out, target);
    mkdir(dir, 0777);
    snprintf(dir, sizeof dir, "%s/%s/s%d", o->out, target, s);
    mkdir(dir, 0777);
    snprintf(dir, sizeof dir, "%s/%s/s%d/%s", o->out, target, s, bmx_flad_cmp_method(k));
    snprintf(ck, sizeof ck, "%s/ckpt.bin", dir);
    snprintf(lp, sizeof lp, "%s/log.jsonl", dir);
    ro.target = target;
    ro.split = s;
    ro.policy = k == 3 ? exp3spec : bmx_flad_cmp_method(k);
    ro.out = dir;
    ro.resume = stat(ck, &st) == 0;
    fprintf(stderr, "%s split %d %s ...", target, s, bmx_flad_cmp_method(k));
    if (!(rc = flad_run(&ro, &res))) {
        fprintf(stderr, " test %.3f (rounds %ld)\n", res.test_sum, res.rounds);
        bmx_flad_outcome oc = {ro.policy,
                               res.test_sum,
                               res.best_val,
                               res.rounds,
                               res.nonuniform,
                               res.min_rounds,
                               res.aux_batches,
                               res.naux,
                               (const char *const *)res.arm_names,
                               res.arm_counts,
                               lp};
        if (bmx_flad_cmp_add(c, t, s, k, &oc, &err) != BMX_OK) {
            fprintf(stderr, "bmx flad-compare: %s\n", err.msg);
            rc = 1;
        }
    }
    flad_result_free(&res);
    return rc;
}

/* Every target, split and method, then the files; exit status. */
static int compare(const struct flad_opts *o, const char *const *tn, int nt, int splits,
                   const int *use, const char *exp3spec)
{
    bmx_flad_cmp *c = NULL;
    bmx_err err = {0};
    const char *text = NULL;
    int rc = 0;

    if (bmx_flad_cmp_create(&c, tn, nt, splits, use, o->reward, exp3spec, o->aux_draws, &err))
        return cli_fail("flad-compare", "%s", err.msg);
    for (int t = 0; t < nt && !rc; t++) {
        for (int s = 0; s < splits && !rc; s++)
            for (int k = 0; k < BMX_FLAD_CMP_METHODS && !rc; k++)
                if (use[k])
                    rc = run_one(o, c, tn[t], t, s, k, exp3spec);
        bmx_flad_cmp_end_target(c, t);
    }
    if (!rc && bmx_flad_cmp_write(c, o->out, &text, &err) != BMX_OK) {
        fprintf(stderr, "bmx flad-compare: %s\n", err.msg);
        rc = 1;
    } else if (!rc) {
        printf("%s\nreport: %s/report.html\n", text, o->out);
    }
    bmx_flad_cmp_free(c);
    return rc;
}

static const char usage[] = "usage: bmx flad-compare --tasks DIR --tok VOCAB (--init CKPT | "
                            "--init-random L,H,C,CTX) --out DIR [options]\n\n"
                            "Run every method on every target and split (finished runs are kept; "
                            "an interrupted one resumes), then write OUT/table.md, "
                            "OUT/results.jsonl and OUT/report.html.";

int cmd_flad_compare(int argc, char **argv)
{
    struct flad_opts o;
    flad_opts_default(&o);
    const char *targets = "spam,genre,sotu-party,language", *mlist = NULL;
    int splits = 5;
    double tscale = 1;
    o.quiet = 1;
    bmx_err err = {0};
    struct cli_opt opts[] = {
        {"tasks", CLI_STR, &o.tasks, "task folder from 'bmx tasks build'"},
        {"targets", CLI_STR, &targets, "target tasks (at least 2; all are held out of every pool)"},
        {"splits", CLI_INT, &splits, "few-shot splits per target (1..5)"},
        {"methods", CLI_STR, &mlist, "subset of target-only,explore-only,exploit-only,exp3,ucb1"},
        {"reward", CLI_STR, &o.reward, "ga, gms or agg (EXP3/UCB1/exploit-only)"},
        {"params", CLI_STR, &o.params, "reward parameter subset"},
        {"init", CLI_STR, &o.init, "pre-trained checkpoint"},
        {"init-random", CLI_STR, &o.init_random, "or a random model LAYERS,HEADS,WIDTH,CTX"},
        {"tok", CLI_STR, &o.tok, "the model's vocabulary file"},
        {"out", CLI_STR, &o.out, "output folder (one run folder per target/split/method)"},
        {"batch", CLI_INT, &o.batch, "examples per batch"},
        {"seq", CLI_INT, &o.T, "tokens per row"},
        {"rounds", CLI_INT, &o.rounds, "maximum rounds per run"},
        {"eval-every", CLI_INT, &o.eval_every, "rounds between validation evaluations"},
        {"patience", CLI_INT, &o.patience, "evaluations without improvement before stopping"},
        {"min-rounds", CLI_LONG, &o.min_rounds,
         "no early stop before this round, in every run; -1: the first round EXP3-FLAD can "
         "leave uniform, floor(K ln K / S) + 1 (K = 45, S = 1: 172)"},
        {"tscale", CLI_DOUBLE, &tscale,
         "EXP3-FLAD's time scale S (exp3:tscale=S): eps at S t; the released FLAD code's is "
         "10 G"},
        {"aux-draws", CLI_INT, &o.aux_draws, "G: auxiliary draws per round (every method)"},
        {"lr", CLI_DOUBLE, &o.lr, "AdamW learning rate"},
        {"seed", CLI_U64, &o.seed, "seed of every run"},
        {"threads", CLI_INT, &o.threads, "OpenMP/BLAS threads (0: the default)"},
        {"blas", CLI_INT, &o.blas, "1: BLAS, 0: plain C"},
        {0},
    };
    int npos, r = cli_parse(argc, argv, usage, opts, NULL, 0, &npos);
    if (r)
        return r > 0 ? 0 : 2;
    if (!o.out)
        return cli_fail("flad-compare", "no output folder: give --out DIR");
    if (splits < 1 || splits > BMX_TASK_FEWSHOT_SPLITS)
        return cli_fail("flad-compare", "--splits %d: give 1..%d", splits, BMX_TASK_FEWSHOT_SPLITS);
    char tbuf[1024], *tn[BMX_FLAD_CMP_TARGETS];
    int nt = 0, use[BMX_FLAD_CMP_METHODS];
    snprintf(tbuf, sizeof tbuf, "%s", targets);
    for (char *s = strtok(tbuf, ","); s && nt < BMX_FLAD_CMP_TARGETS; s = strtok(NULL, ","))
        tn[nt++] = s;
    if (nt < 2)
        return cli_fail("flad-compare",
                        "--targets '%s': give at least 2 target tasks (all of them are held out "
                        "of every auxiliary pool)",
                        targets);
    bmx_flad_cmp_methods(mlist, use);
    char exp3spec[64] = "exp3";
    if (tscale != 1)
        snprintf(exp3spec, sizeof exp3spec, "exp3:tscale=%.15g", tscale);
    bmx_mix *m = NULL;
    if (bmx_mix_create(&m, exp3spec, 2, NULL, 1, &err))
        return cli_fail("flad-compare", "--tscale: %s", err.msg);
    bmx_mix_free(m);
    o.tscale = tscale;
    o.holdout = targets;
    mkdir(o.out, 0777);
    return compare(&o, (const char *const *)tn, nt, splits, use, exp3spec);
}
