/* src/cli/flad_run.h - one FLAD run in a run folder (used by bmx flad and bmx flad-compare).
 *
 * Run folder OUT: config.json (the run's settings; a resume must match it), log.jsonl (one
 * object per round: round, arm, aux, reward (and arms, rewards when G > 1), losses,
 * pi_uniform (this round's pi exactly uniform), probs (pi after the round's update),
 * val_acc when evaluated),
 * ckpt.bin (bmx checkpoint; extra = settings + FLAD state), result.json (at the end).
 * A minimal run folder of this module's own: the `run` helper's `bmx train` run folder had
 * not landed on main when this was written.
 */
#ifndef BMX_CLI_FLAD_RUN_H
#define BMX_CLI_FLAD_RUN_H

#include <stdint.h>

struct flad_opts {
    const char *tasks, *target, *aux, *holdout, *policy, *reward, *params;
    const char *init, *init_random, *tok, *out;
    int batch, T, rounds, eval_every, patience, split, ckpt_every, resume, blas, quiet, threads;
    int aux_draws;   /* G auxiliary draws per round */
    long min_rounds; /* early stopping not before this round; -1: the default, the first round
                        EXP3 can leave uniform, bmx_mix_uniform_rounds(K, S) + 1 with K the
                        auxiliary pool's size (target-only too) */
    double tscale;   /* S for that default; 0: the policy's own (1 for all but exp3) */
    double lr, weight_decay;
    uint64_t seed;
};

#define FLAD_TOP 5

struct flad_result {
    double test_sum, test_mean, best_val;
    long best_round, rounds, aux_batches;
    long nonuniform; /* rounds whose pi differed from uniform */
    long min_rounds; /* as used (the default resolved) */
    int stopped;
    int ntop;
    char top[FLAD_TOP][96]; /* most-used auxiliary datasets */
    long top_count[FLAD_TOP];
    int naux;         /* every arm: */
    char **arm_names; /* "task/template", malloc'd (flad_result_free) */
    long *arm_counts; /* batches drawn from it */
};

void flad_result_free(struct flad_result *r);

void flad_opts_default(struct flad_opts *o);
/* Run (or resume) to the end; prints errors on stderr naming what was wrong. Returns the
 * exit status: 0 ok, 1 failure, 2 bad usage. */
int flad_run(const struct flad_opts *o, struct flad_result *res);

#endif
