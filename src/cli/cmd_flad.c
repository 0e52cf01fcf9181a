/* bmx flad - few-shot fine-tuning on a target task with auxiliary data (bmx/flad.h). */
#include "cli.h"
#include "flad_run.h"

#include <stdio.h>
#include <string.h>

int cmd_flad(int argc, char **argv)
{
    struct flad_opts o;
    flad_opts_default(&o);
    const char *device = "cpu";
    struct cli_opt opts[] = {
        {"tasks", CLI_STR, &o.tasks, "task folder from 'bmx tasks build'"},
        {"target", CLI_STR, &o.target, "target task name"},
        {"split", CLI_INT, &o.split, "few-shot split of the target (0..4)"},
        {"aux", CLI_STR, &o.aux,
         "auxiliary tasks: all, or a comma list (each with every template)"},
        {"holdout", CLI_STR, &o.holdout,
         "tasks kept out of the auxiliary pool (the target always is)"},
        {"policy", CLI_STR, &o.policy,
         "exp3[:beta=B,tscale=S], ucb1[:beta=B], explore-only, exploit-only or target-only "
         "(tscale: eps at S t; the released FLAD code's S is 10 G)"},
        {"reward", CLI_STR, &o.reward, "ga, gms or agg"},
        {"params", CLI_STR, &o.params, "reward parameter subset: final, all, or tensor names"},
        {"init", CLI_STR, &o.init, "pre-trained checkpoint (bmx train / bmx_checkpoint_save)"},
        {"init-random", CLI_STR, &o.init_random, "or a random model LAYERS,HEADS,WIDTH,CTX"},
        {"tok", CLI_STR, &o.tok, "the model's vocabulary file (bmx tok train)"},
        {"out", CLI_STR, &o.out, "run folder (config.json, log.jsonl, ckpt.bin, result.json)"},
        {"resume", CLI_FLAG, &o.resume, "continue the run in --out from its checkpoint"},
        {"batch", CLI_INT, &o.batch, "examples per target and per auxiliary batch"},
        {"seq", CLI_INT, &o.T, "tokens per example row"},
        {"rounds", CLI_INT, &o.rounds, "maximum rounds"},
        {"eval-every", CLI_INT, &o.eval_every, "rounds between validation evaluations"},
        {"patience", CLI_INT, &o.patience,
         "evaluations without improvement before stopping (0: never)"},
        {"min-rounds", CLI_LONG, &o.min_rounds,
         "no early stop before this round; -1: the first round EXP3 can leave uniform, "
         "floor(K ln K / S) + 1 (K = 45, S = 1: 172)"},
        {"aux-draws", CLI_INT, &o.aux_draws,
         "G: auxiliary draws per round, each its own pull; the step uses the mean of the target "
         "and the G auxiliary gradients"},
        {"ckpt-every", CLI_INT, &o.ckpt_every, "rounds between checkpoints"},
        {"lr", CLI_DOUBLE, &o.lr, "AdamW learning rate (constant)"},
        {"weight-decay", CLI_DOUBLE, &o.weight_decay, "AdamW weight decay"},
        {"seed", CLI_U64, &o.seed, "batches, policy and --init-random"},
        {"blas", CLI_INT, &o.blas, "1: BLAS matrix products, 0: plain C"},
        {"threads", CLI_INT, &o.threads, "OpenMP/BLAS threads (0: the default)"},
        {"quiet", CLI_FLAG, &o.quiet, "no progress lines"},
        {"device", CLI_STR, &device, "cpu (cuda: not yet for flad)"},
        {0},
    };
    const char *usage =
        "usage: bmx flad --tasks DIR --target TASK --tok VOCAB (--init CKPT | --init-random "
        "L,H,C,CTX) --out DIR [options]\n\n"
        "Fine-tune on a few-shot split of TASK while a bandit picks auxiliary datasets (task,\n"
        "template) by how their gradients align with the target's (FLAD).";
    int npos, r = cli_parse(argc, argv, usage, opts, NULL, 0, &npos);
    if (r)
        return r > 0 ? 0 : 2;
    if (strcmp(device, "cpu") != 0)
        return cli_fail("flad",
                        "--device %s: not yet for flad; FLAD still has its own run folder and "
                        "trainer (src/cli/flad_run.c) until it moves onto the run engine (issue "
                        "12); use --device cpu, or bmx train/compare/doremi for GPU runs",
                        device);
    struct flad_result res;
    int rc = flad_run(&o, &res);
    if (rc == 0) {
        printf("%s split %d %s/%s: test accuracy %.4f (mean log-p %.4f), best val %.4f at round "
               "%ld of %ld%s\n",
               o.target, o.split, o.policy, o.reward, res.test_sum, res.test_mean, res.best_val,
               res.best_round, res.rounds, res.stopped ? " (stopped early)" : "");
        int exp3 = !strncmp(o.policy, "exp3", 4);
        if (exp3 && res.nonuniform)
            printf("pi differed from uniform in %ld of %ld rounds\n", res.nonuniform, res.rounds);
        else if (exp3)
            printf("identical to explore-only: never left uniform in %ld rounds\n", res.rounds);
    }
    flad_result_free(&res);
    return rc;
}
