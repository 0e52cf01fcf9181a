/* src/flad/run_config.c - the configuration of a FLAD run (bmx/flad.h): defaults, the keys
 * of config.txt, the checks. */
#include <stddef.h>
#include <string.h>

#include "bmx/backend.h"
#include "bmx/flad.h"
#include "flad_int.h"

bmx_flad_run_config bmx_flad_run_config_default(void)
{
    bmx_flad_run_config c;
    memset(&c, 0, sizeof c);
    c.tasks = "tasks";
    c.target = "";
    c.aux = "all";
    c.holdout = "spam,genre,sotu-party,language";
    c.policy = "exp3";
    c.reward = "agg";
    c.params = "final";
    c.init = "";
    c.init_random = "";
    c.tok = "";
    c.out = "";
    c.batch = 4;
    c.seq = 64;
    c.rounds = 200;
    c.eval_every = 10;
    c.patience = 0; /* train every round, keep the best (see bmx/flad.h) */
    c.min_rounds = -1;
    c.aux_draws = 1;
    c.ckpt_every = 50;
    c.lr = 1e-4;
    c.seed = 1;
    c.blas = 1;
    c.device = "cpu";
    c.precision = "";
    return c;
}

#define K(name, type, field, help)                                                                 \
    {                                                                                              \
        name, type, offsetof(bmx_flad_run_config, field), help                                     \
    }
static const bmx_run_key keys[] = {
    K("tasks", BMX_RK_STR, tasks, "task folder from 'bmx tasks build'"),
    K("target", BMX_RK_STR, target, "target task name"),
    K("split", BMX_RK_INT, split, "few-shot split of the target (0..4)"),
    K("aux", BMX_RK_STR, aux, "auxiliary tasks: all, or a comma list (each with every template)"),
    K("holdout", BMX_RK_STR, holdout,
      "tasks kept out of the auxiliary pool (the target always is)"),
    K("policy", BMX_RK_STR, policy,
      "exp3[:beta=B,tscale=S], ucb1[:beta=B], explore-only, exploit-only or target-only "
      "(tscale: eps at S t; the released FLAD code's S is 10 G)"),
    K("reward", BMX_RK_STR, reward, "ga, gms or agg"),
    K("params", BMX_RK_STR, params, "reward parameter subset: final, all, or tensor names"),
    K("init", BMX_RK_STR, init, "pre-trained checkpoint (bmx train / bmx_checkpoint_save)"),
    K("init_random", BMX_RK_STR, init_random, "or a random model LAYERS,HEADS,WIDTH,CTX"),
    K("tok", BMX_RK_STR, tok, "the model's vocabulary file (bmx tok train)"),
    K("out", BMX_RK_STR, out, "run folder (config.txt, log.jsonl, checkpoint.bin, result.json)"),
    K("batch", BMX_RK_INT, batch, "examples per target and per auxiliary batch"),
    K("seq", BMX_RK_INT, seq, "tokens per example row"),
    K("rounds", BMX_RK_INT, rounds, "maximum rounds"),
    K("eval_every", BMX_RK_INT, eval_every, "rounds between validation evaluations"),
    K("patience", BMX_RK_INT, patience,
      "evaluations without improvement before stopping (0, the default: never; every run "
      "trains all --rounds and keeps its best validation accuracy)"),
    K("min_rounds", BMX_RK_LONG, min_rounds,
      "no early stop before this round; -1: the first round EXP3 can leave uniform, "
      "floor(K ln K / S) + 1 (K = 45, S = 1: 172)"),
    K("tscale", BMX_RK_DOUBLE, tscale,
      "S of the default --min-rounds (0: the policy's own; exp3's tscale, else 1)"),
    K("aux_draws", BMX_RK_INT, aux_draws,
      "G: auxiliary draws per round, each its own pull; the step uses the mean of the target "
      "and the G auxiliary gradients"),
    K("ckpt_every", BMX_RK_INT, ckpt_every, "rounds between checkpoints"),
    K("lr", BMX_RK_DOUBLE, lr, "AdamW learning rate (constant)"),
    K("weight_decay", BMX_RK_DOUBLE, weight_decay, "AdamW weight decay"),
    K("seed", BMX_RK_U64, seed, "batches, policy and --init-random"),
    K("blas", BMX_RK_INT, blas, "1: BLAS matrix products, 0: plain C"),
    K("threads", BMX_RK_INT, threads, "OpenMP/BLAS threads (0: the default)"),
    K("device", BMX_RK_STR, device, BMX_DEVICE_HELP),
    K("precision", BMX_RK_STR, precision, BMX_PRECISION_HELP),
    {NULL, BMX_RK_STR, 0, NULL},
};
#undef K

const bmx_run_key *bmx_flad_run_keys(void)
{
    return keys;
}

void flad_run_config_fill(bmx_flad_run_config *c)
{
    for (const bmx_run_key *k = keys; k->name; k++)
        if (k->type == BMX_RK_STR && !*(const char **)((char *)c + k->offset))
            *(const char **)((char *)c + k->offset) = "";
}

int flad_run_config_check(const bmx_flad_run_config *c, int resume, bmx_err *err)
{
#define BAD(...) return bmx_err_set(err, BMX_EINVAL, __VA_ARGS__)
    bmx_reward rw;
    int dev, prec;
    if (!c->target || !*c->target)
        BAD("no target: give --target TASK");
    if (!c->out || !*c->out)
        BAD("no run folder: give --out DIR");
    if (bmx_device_parse(c->device, &dev, err) ||
        bmx_precision_parse(c->precision, dev, &prec, err))
        return BMX_EINVAL;
    if (!c->tok || !*c->tok)
        BAD("no tokenizer: give --tok VOCAB (bmx tok train)");
    if (!resume && !*c->init == !*c->init_random)
        BAD("give exactly one of --init CKPT (a pre-trained checkpoint) or --init-random "
            "L,H,C,CTX");
    if (bmx_reward_parse(c->reward, &rw, err))
        return BMX_EINVAL;
    if (c->rounds < 1 || c->ckpt_every < 1 || !(c->lr > 0) || !(c->weight_decay >= 0))
        BAD("--rounds and --ckpt-every must be >= 1, --lr > 0, --weight-decay >= 0");
    if (c->aux_draws < 1 || c->aux_draws > BMX_FLAD_MAX_DRAWS)
        BAD("--aux-draws %d: give 1..%d auxiliary draws per round", c->aux_draws,
            BMX_FLAD_MAX_DRAWS);
    if (c->min_rounds < -1)
        BAD("--min-rounds %ld: give a round >= 0, or -1 for the default (the first round "
            "EXP3-FLAD can leave uniform)",
            c->min_rounds);
    if (c->threads < 0 || !(c->tscale >= 0))
        BAD("threads = %d, tscale = %g: give 0 (the default) or more", c->threads, c->tscale);
    return 0;
#undef BAD
}
