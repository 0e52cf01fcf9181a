/* bmx/flad.h - FLAD: few-shot learning with auxiliary data (../shared/ALGORITHMS.md §2).
 *
 * A run fine-tunes a model (through a bmx_trainer with accum = 1) on the few-shot training
 * set of a target task (template 0) while a policy of bmx/mix.h picks auxiliary datasets,
 * each a (task, template) pair; an auxiliary batch trains on " " + the correct choice.
 *
 * One round (rounds count from 1):
 *   target-only:  a target batch -> gradient -> AdamW step (auxiliary data never touched).
 *   otherwise:    a target batch -> g_T (copied); then G = aux_draws times (the paper's
 *                 gradient accumulation; default 1): a_j ~ pi (the same pi for every draw),
 *                 an auxiliary batch of a_j -> g_j; exp3 / ucb1: r_j = reward(g_j, g_T) over
 *                 the parameter subset, observed for a_j (each draw is its own pull). The
 *                 step uses the mean of the G + 1 gradients, (g_T + g_1 + ... + g_G) / (G + 1)
 *                 (summed in that order in float; G = 1: (g_T + g_1) / 2); then the policy's
 *                 round ends (bmx_mix_step).
 *   exploit-only: before round 1, every arm is scored once at theta_0 against one target
 *                 gradient (in arm order), then pi is fixed (mix.h).
 * Batches: `batch` examples drawn uniformly with replacement (target: from the few-shot
 * train set; auxiliary: from the task's train split) from the run's generator; each example
 * is one row of T tokens packed as bmx/eval.h says, loss on the answer tokens only.
 * Rewards are computed in double over the subset (bmx_grad_stats_add per range):
 *   "final" (default): the last block's slice of every layer tensor, lnfw, lnfb and wte (the
 *   tied output layer); "all": every parameter; or a comma list of tensor names (all layers).
 * Early stopping: rank-classification accuracy on the few-shot validation set (template 0,
 * summed log-probability) at theta_0 and every eval_every rounds; the best parameters are
 * kept (ties keep the earlier); after `patience` evaluations without improvement the run
 * stops (0: never), but never before round `min_rounds` (an evaluation without improvement
 * before it still counts; the stop waits for the first evaluation at or after it).
 * bmx_flad_finish puts the best parameters into the model.
 * A round is "non-uniform" when the pi its draws come from has max_a |pi_a - 1/K| > 1e-12;
 * exp3 with tscale S is exactly uniform, so draw for draw explore-only with the same seed,
 * for its first bmx_mix_uniform_rounds(K, S) rounds (K ln K / S). bmx_flad_nonuniform_rounds
 * counts them, so that a report can say when EXP3-FLAD never left uniform.
 */
#ifndef BMX_FLAD_H
#define BMX_FLAD_H

#include <stddef.h>
#include <stdint.h>

#include "bmx/core.h"
#include "bmx/mix.h"
#include "bmx/rng.h"
#include "bmx/run.h"
#include "bmx/tasks.h"
#include "bmx/tok.h"
#include "bmx/train.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct bmx_flad_config {
    const char *policy; /* exp3 | ucb1 | explore-only | exploit-only | target-only (+ mix params) */
    bmx_reward reward;  /* BMX_REWARD_GA, _GMS or _AGG */
    const char *params; /* reward parameter subset (see above); NULL = "final" */
    int batch;          /* examples per batch (target and auxiliary) */
    int T;              /* tokens per row */
    int eval_every;     /* rounds between validation evaluations */
    int patience;       /* evaluations without improvement before stopping; 0 = never */
    int split;          /* few-shot split 0..4 */
    uint64_t seed;      /* batches (stream 1) and the policy (mix seed) */
    int aux_draws;      /* G: auxiliary draws per round, 1..BMX_FLAD_MAX_DRAWS (default 1) */
    long min_rounds;    /* early stopping never ends a run before this round (default 0) */
} bmx_flad_config;

#define BMX_FLAD_MAX_DRAWS 64

typedef struct bmx_flad_aux {
    const bmx_task *task;
    int tmpl;
} bmx_flad_aux;

typedef struct bmx_flad_range {
    size_t offset, count;
} bmx_flad_range;

typedef struct bmx_flad_info {
    long round;            /* the round just done */
    int arm;               /* the first auxiliary dataset drawn, -1 for target-only */
    double reward;         /* its observed reward, NAN when none */
    int draws;             /* G auxiliary draws (0 for target-only) ... */
    const int *arms;       /* ... their arms and */
    const double *rewards; /* rewards (NAN when none); valid until the next round */
    int nonuniform;        /* the round's pi differed from uniform (max |pi_a - 1/K| > 1e-12) */
    double target_loss;    /* mean answer-token loss of the target batch */
    double aux_loss;       /* mean over the G auxiliary batches, NAN when none */
    int evaluated;         /* validation ran after this round */
    double val_acc;        /* when evaluated */
    double best_val;       /* best so far */
    long best_round;
    int stopped; /* early stopping triggered */
} bmx_flad_info;

typedef struct bmx_flad bmx_flad;

bmx_flad_config bmx_flad_config_default(void);

/* Create a run. tr: a trainer (accum 1) of a float model, trained through its CPU backend
 * (bmx/backend.h; made and freed by the run); tok, target and the aux tasks are not owned and
 * must outlive the run. naux may be 0 only for target-only. Evaluates the validation accuracy
 * at theta_0 (the first best). */
int bmx_flad_create(bmx_flad **out, const bmx_flad_config *cfg, bmx_trainer *tr, const bmx_tok *tok,
                    const bmx_task *target, const bmx_flad_aux *aux, int naux, bmx_err *err);
/* The same over a trainer backend (not owned; its host trainer has accum 1): every forward,
 * backward, optimizer step, gradient and parameter read goes through it (bmx_backend_grad for
 * a batch's gradient, bmx_backend_micro for the step's last batch, the host gradient buffer or
 * get_grads/set_grads for rewards and the step's gradient, bmx_backend_eval for scoring). The
 * CPU backend gives bmx_flad_create's bits. */
struct bmx_backend;
int bmx_flad_create_backend(bmx_flad **out, const bmx_flad_config *cfg, struct bmx_backend *be,
                            const bmx_tok *tok, const bmx_task *target, const bmx_flad_aux *aux,
                            int naux, bmx_err *err);
void bmx_flad_free(bmx_flad *f);

/* One round: bmx_flad_step, then bmx_flad_validate when bmx_flad_validation_due. */
int bmx_flad_round(bmx_flad *f, bmx_flad_info *info, bmx_err *err);
/* The round without its validation (info: evaluated 0, best_val, best_round and stopped as
 * they stand); BMX_ESTATE once early stopping fired. */
int bmx_flad_step(bmx_flad *f, bmx_flad_info *info, bmx_err *err);
/* Validation at the current parameters (the round just done): the accuracy; a better one keeps
 * the parameters as the best (ties keep the earlier), else it counts towards patience, and
 * early stopping fires as the header says. info (may be NULL): evaluated 1, val_acc, best_val,
 * best_round, stopped. */
int bmx_flad_validate(bmx_flad *f, bmx_flad_info *info, bmx_err *err);
/* 1 when the round just done is one to validate (rounds % eval_every == 0). */
int bmx_flad_validation_due(const bmx_flad *f);
/* Rounds done, whether early stopping fired, the policy (NULL for target-only). */
long bmx_flad_rounds(const bmx_flad *f);
int bmx_flad_stopped(const bmx_flad *f);
const bmx_mix *bmx_flad_mix(const bmx_flad *f);
/* Rounds so far whose pi differed from uniform (max |pi_a - 1/K| > 1e-12); 0 for
 * target-only and explore-only. */
long bmx_flad_nonuniform_rounds(const bmx_flad *f);
/* Auxiliary batches drawn so far (scoring pass included); per-arm draw counts (naux). */
long bmx_flad_aux_batches(const bmx_flad *f);
const long *bmx_flad_arm_counts(const bmx_flad *f);
double bmx_flad_best_val(const bmx_flad *f, long *best_round);

/* The reward parameter subset and the reward over it, as the loop computes it. */
const bmx_flad_range *bmx_flad_ranges(const bmx_flad *f, size_t *n);
int bmx_flad_parse_params(const bmx_model *m, const char *spec, bmx_flad_range **out, size_t *n,
                          bmx_err *err);
double bmx_flad_reward(bmx_reward kind, const bmx_flad_range *r, size_t nr, const float *ga,
                       const float *gt);

/* The last round's target gradient (whole flat buffer) and target batch (example indices,
 * batch of them; rows [batch][T] of inputs and targets). */
const float *bmx_flad_target_grad(const bmx_flad *f);
const size_t *bmx_flad_last_target(const bmx_flad *f, const int **inputs, const int **targets);

/* Put the best parameters into the model and score the full test split (template 0). */
int bmx_flad_finish(bmx_flad *f, double *test_acc_sum, double *test_acc_mean, bmx_err *err);

/* The loop's state as checkpoint sections (bmx/checkpoint.h; each CRC-checked there),
 * little-endian: "flad.st" (u32 version 4, u32 naux, u64 nparams, i64 round, aux_batches,
 * best_round, nonuniform, f64 best_val, i32 bad_evals, stopped, scored, i32 0, i64
 * arm_counts[naux]), "flad.rng" (the generator, u64 s[4]), "flad.pol" (bmx_mix_save; none for
 * target-only) and "flad.bst" (the best parameters, f32). The best parameters are not copied:
 * save the writer before the next round. Loading checks the version (another is BMX_EINVAL
 * naming the file and both versions), the pool, the model's size, the policy and the
 * counters; errors name the file. */
struct bmx_ckpt_writer;
struct bmx_ckpt_reader;
int bmx_flad_save_sections(const bmx_flad *f, struct bmx_ckpt_writer *w, bmx_err *err);
int bmx_flad_load_sections(bmx_flad *f, struct bmx_ckpt_reader *r, bmx_err *err);

/* ---- a FLAD run in a run folder (src/flad/run.c) ----
 *
 * The run folder is laid out and kept as bmx train's (bmx/run.h):
 *   config.txt      the configuration, `key = value` lines (bmx_flad_run_keys; written
 *                   atomically; bmx flad --config reads it back). min_rounds is stored resolved.
 *   lock            flock(2)ed by the process running the run (bmx_run_lock)
 *   log.jsonl       deterministic records, one a line, through the JSON writer of bmx/report.h:
 *     {"type":"header","version":1,"method":"flad","target":..,"split":..,"policy":..,
 *      "reward":..,"seed":..,"aux":["task/template",..],"params":N}
 *     {"type":"round","round":r,"arm":a,"aux":"task/template","reward":x,
 *      ["arms":[..],"rewards":[..] when G > 1,] "target_loss":..,"aux_loss":..,
 *      ["pi_uniform":b,"probs":[..] with a policy,] ["val_acc":.. when evaluated,] "best_val":..}
 *       (target-only: "arm":-1, no "aux"; pi_uniform: this round's pi was exactly uniform;
 *       probs: pi after the round's update)
 *   checkpoint.bin  bmx/checkpoint.h sections, written by the run handle: the trainer's
 *                   (model, AdamW moments, step = rounds), "flad.run" (u32 version 2, u32
 *                   naux, u64 round, u64 bytes of log.jsonl), "flad.cfg" (the configuration
 *                   text), then bmx_flad_save_sections' (flad.st, flad.rng, flad.pol,
 *                   flad.bst). An older bmx flad's checkpoint (its run state, version 1, in
 *                   one "extra" section) is refused naming the file and both versions.
 *   result.json     at the end (atomically): test accuracy, best validation, rounds, arm counts.
 * Checkpoints every ckpt_every rounds, at an early stop, at the last round and when *stop
 * becomes non-zero. Resume (opts->resume): the folder is locked, stale temporaries removed, the
 * configuration compared with config.txt and with the checkpoint's (every key but out,
 * rounds, ckpt_every, threads, device and precision must agree, else BMX_EINVAL naming the
 * keys), the checkpoint's
 * step, round and optimizer checked against its run state and the configuration, log.jsonl
 * checked (the header this run would write, then round records 1..round ending exactly at the
 * checkpoint's length) and cut back to that length; the run then continues byte for byte as one
 * that never stopped (same threads, same device). A resume with no checkpoint yet starts over.
 * Device: the model trains through the trainer backend of `device` (bmx/backend.h): cpu, or
 * cuda with `precision` (fp32, or bf16 by default; a CUDA backend with room for the batch and
 * for every choice set of the target); without CUDA or a usable GPU the open fails with the
 * backend's BMX_ESTATE message. config.txt stores the device resolved (cpu when none is given)
 * and the precision as given ("" = the device's default). The checkpoint holds the host
 * trainer's state and FLAD's host-side state whatever the device, so a resume may change the
 * device (and precision): the run continues from the same state, its later records within
 * that device's arithmetic (not byte for byte the run that never moved). */

typedef struct bmx_flad_run_config {
    const char *tasks;   /* task folder (bmx tasks build) */
    const char *target;  /* target task name */
    int split;           /* few-shot split 0..4 */
    const char *aux;     /* auxiliary tasks: "all" (every DIR/NAME.task) or a comma list */
    const char *holdout; /* comma list kept out of the pool (the target always is) */
    const char *policy;  /* exp3 | ucb1 | explore-only | exploit-only | target-only (+ params) */
    const char *reward;  /* ga | gms | agg */
    const char *params;  /* reward parameter subset: final | all | tensor names */
    const char *init;    /* a pre-trained checkpoint, or "" */
    const char *init_random;  /* or "LAYERS,HEADS,WIDTH,CTX" (a model from seed) */
    const char *tok;          /* the model's vocabulary file */
    const char *out;          /* run folder */
    int batch, seq;           /* examples per batch, tokens per row */
    int rounds;               /* maximum rounds */
    int eval_every, patience; /* patience 0 (the default): no early stop. Few-shot validation
                               * accuracy can stay flat (ties) for the first 50 rounds at lr
                               * 1e-4 and then rise (sotu-party, language from a pre-trained
                               * base), so a patience of 5 evaluations of 10 rounds ended
                               * such runs at round 50 with theta_0. */
    long min_rounds; /* no early stop before; -1: bmx_mix_uniform_rounds(K, S) + 1 (resolved) */
    double tscale;   /* S of that default; 0: the policy's own (exp3's, else 1) */
    int aux_draws;   /* G auxiliary draws per round */
    int ckpt_every;  /* rounds between checkpoints */
    double lr, weight_decay; /* AdamW, constant learning rate */
    uint64_t seed;           /* batches, policy and the random model */
    int blas;                /* 1: BLAS matrix products, 0: plain C */
    int threads;             /* 0: OpenMP's default */
    const char *device;      /* cpu | cuda ("" = cpu); resolved in config.txt */
    const char *precision;   /* fp32 | bf16 | "" (the device's default: bf16 on cuda) */
} bmx_flad_run_config;

/* tasks "tasks", aux "all", holdout "spam,genre,sotu-party,language", policy exp3, reward agg,
 * params final, batch 4, seq 64, rounds 200, eval_every 10, patience 0, min_rounds -1,
 * aux_draws 1, ckpt_every 50, lr 1e-4, seed 1, blas 1, device cpu; every other string "",
 * number 0. */
bmx_flad_run_config bmx_flad_run_config_default(void);
/* The keys of config.txt, in print order, ended by {NULL} (bmx/run.h's bmx_config_* read and
 * write them). */
const bmx_run_key *bmx_flad_run_keys(void);

typedef void (*bmx_flad_progress_fn)(void *ctx, const bmx_flad_info *round);

typedef struct bmx_flad_run_opts {
    int resume;                    /* continue the run in cfg->out */
    volatile const int *stop;      /* when non-zero at a round's end: checkpoint and return 1 */
    bmx_flad_progress_fn progress; /* after every round (may be NULL) */
    void *progress_ctx;
    bmx_logger log; /* notes (INFO) and warnings (WARN) */
} bmx_flad_run_opts;

#define BMX_FLAD_TOP 5

typedef struct bmx_flad_result {
    double test_sum, test_mean, best_val;
    long best_round, rounds, aux_batches;
    long nonuniform; /* rounds whose pi differed from uniform */
    long min_rounds; /* as used (the default resolved) */
    int stopped;
    int ntop;
    char top[BMX_FLAD_TOP][96]; /* most-used auxiliary datasets */
    long top_count[BMX_FLAD_TOP];
    int naux;         /* every arm: */
    char **arm_names; /* "task/template" (bmx_flad_result_free) */
    long *arm_counts; /* batches drawn from it */
} bmx_flad_result;

/* A FLAD run as a run handle (bmx/run.h, a kind of run: bmx_run_open_kind): the folder,
 * the configuration, the tasks, the model (new or from the checkpoint, checked as above) and
 * the log opened, the trainer backend made (--device). bmx_run_step is one round
 * (bmx_flad_step) and its log record with opts->progress; after every eval_every-th round
 * bmx_run_eval_due says so and bmx_run_evaluate validates (bmx_flad_validate: accuracy on
 * the few-shot validation set in bmx_run_eval's acc, the best kept in best / best_step, early
 * stopping decided: the handle then ends), and bmx_run_log_eval writes that round's record
 * with its val_acc (the record waits for it; a round whose validation is not asked for is
 * recorded without one at the next step or checkpoint, and nothing is learnt from it).
 * bmx_run_checkpoint writes checkpoint.bin; bmx_run_drive drives it all to its end (its last
 * round, an early stop, or *opts->stop: a checkpoint and 1); bmx_run_close frees it. cfg's
 * strings, opts->stop and opts->progress_ctx must outlive the handle (cfg and opts are
 * copied). */
int bmx_flad_open(bmx_run **out, const bmx_flad_run_config *cfg, const bmx_flad_run_opts *opts,
                  bmx_err *err);
/* The end of a FLAD run opened by bmx_flad_open: bmx_flad_finish (the best parameters on
 * the test split), *res and result.json (atomically). */
int bmx_flad_run_finish(bmx_run *r, bmx_flad_result *res, bmx_err *err);
/* bmx_flad_open, bmx_run_drive, bmx_flad_run_finish, bmx_run_close: run (or resume) cfg to
 * its end (rounds done or stopped early). Returns 0 done, 1 stopped by *stop (checkpoint
 * written), or a negative BMX_E* (BMX_EINVAL: the configuration, naming the key and the fix).
 * *res is filled when 0. */
int bmx_flad_run(const bmx_flad_run_config *cfg, const bmx_flad_run_opts *opts,
                 bmx_flad_result *res, bmx_err *err);
void bmx_flad_result_free(bmx_flad_result *r);

/* ---- the initial model's scores (src/flad/init.c) ----
 * theta_0 of cfg (the --init checkpoint's parameters, or the --init-random model of cfg's
 * seed: every run of cfg starts from it) scored as a run scores its best parameters:
 * rank classification, template 0, rows of cfg->seq tokens. test_sum / test_mean: accuracy
 * on cfg->target's test split by summed / mean log-probability (what a run that keeps
 * theta_0 reports); val[s]: by summed log-probability on the few-shot validation set of
 * split s (the run's best at round 0); prior[s]: the test accuracy of always answering the
 * choice most often correct in split s's few-shot train set (ties: the lowest index) - the
 * score of a model that learned only the label prior. */
typedef struct bmx_flad_zero_shot_scores {
    double test_sum, test_mean;
    int splits; /* the first `splits` few-shot splits scored */
    double val[BMX_TASK_FEWSHOT_SPLITS], prior[BMX_TASK_FEWSHOT_SPLITS];
} bmx_flad_zero_shot_scores;

/* Score theta_0 of cfg (tasks, target, tok, init or init_random, seed, seq, blas, threads)
 * on the test split and the first `splits` (0..5) few-shot splits. */
int bmx_flad_zero_shot(const bmx_flad_run_config *cfg, int splits, bmx_flad_zero_shot_scores *zs,
                       bmx_err *err);

/* ---- every method on every target and split (src/flad/compare.c) ----
 * Run folders OUT/TARGET/sSPLIT/METHOD (bmx_flad_run; one with a config.txt is resumed, so a
 * finished one is only scored again and an interrupted one continues), every target held out
 * of every pool, EXP3-FLAD as exp3:tscale=S; each target's theta_0 scored first
 * (bmx_flad_zero_shot) and handed to the report module (bmx_flad_cmp_set_reference, which
 * writes the files, bmx/report.h); then OUT/table.md (rows zero-shot (base model) and label
 * prior, then target-only, explore-only, exploit-only, EXP3-FLAD, UCB1-FLAD; a column per
 * target and the mean; test accuracy mean ± sample std over the splits, in %; an EXP3-FLAD cell
 * whose runs never left uniform says so instead of a figure; then per method the runs that kept
 * theta_0, and every method against target-only and explore-only paired by split: the
 * difference of the mean over targets with its 95% t-interval and wins), OUT/results.jsonl (one
 * line a run, with its best_round and the target's zero_shot_test_acc, the split's
 * zero_shot_val_acc and prior_test_acc) and OUT/report.html (the table, the auxiliary datasets EXP3
 * + UCB1 drew most, EXP3-FLAD's arm probabilities over split 0's rounds), each written atomically.
 */

#define BMX_FLAD_COMPARE_MAX_TARGETS 16

typedef struct bmx_flad_compare_config {
    bmx_flad_run_config run; /* every run's settings; target, split, policy, holdout, tscale
                                and out are set per run (out: the comparison's folder) */
    const char *targets;     /* comma list, 2..BMX_FLAD_COMPARE_MAX_TARGETS */
    int splits;              /* the first 1..5 few-shot splits */
    const char *methods;     /* a comma subset of target-only,explore-only,exploit-only,exp3,
                                ucb1; NULL or "": all */
    double tscale;           /* EXP3-FLAD's S (1: plain exp3) */
} bmx_flad_compare_config;

/* Before a run (res NULL) and after it; also around a target's zero-shot scoring (split -1,
 * method "zero-shot", res->test_sum and test_mean theta_0's test accuracy). */
typedef void (*bmx_flad_compare_progress_fn)(void *ctx, const char *target, int split,
                                             const char *method, const bmx_flad_result *res);

typedef struct bmx_flad_compare_opts {
    bmx_flad_compare_progress_fn progress; /* may be NULL */
    void *ctx;
    volatile const int *stop; /* as bmx_flad_run's: the run in progress checkpoints, returns 1;
                                 between runs (finished ones re-scored too): returns 1 */
    bmx_logger log;           /* every run's notes and warnings */
} bmx_flad_compare_opts;

/* Returns 0 with *table_md the table's markdown (malloc'd), 1 when stopped, or a negative
 * BMX_E* (BMX_EINVAL: the settings, naming the option and the fix). */
int bmx_flad_compare(const bmx_flad_compare_config *c, const bmx_flad_compare_opts *o,
                     char **table_md, bmx_err *err);

#ifdef __cplusplus
}
#endif

#endif
