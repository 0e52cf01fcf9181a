/* bmx/run.h - a training run with a mixing policy: configuration, run folder, the loop,
 * per-domain validation, JSONL log, checkpoints and exact resume.
 *
 * Data: a folder DATA holding one sub-folder per domain with token shards train.bin and
 * val.bin (bmx/data.h; `bmx corpus build` + `bmx data shard` make exactly this layout).
 * Domains are the sub-folders that hold a train.bin, sorted by name (or the `domains` list,
 * in its order). Every shard must share one vocabulary.
 *
 * One optimizer step = `accum` micro-batches. Before each micro-batch the policy draws a
 * domain i (bmx_mix_draw); the micro-batch is `batch` windows of seq+1 tokens of domain i's
 * train shard (bmx_shard_sample from domain i's own generator); its mean token loss is
 * observed by the policy for arm i (bmx_mix_observe; the policy sums (odm) or averages
 * (odm-smoothed-mean) a round's observations as ALGORITHMS.md says) and `bmx_mix_step` runs
 * after the optimizer step. exp3, ucb1 and exploit-only get the reward `reward` (loss or
 * exp-loss) of the micro-batch. doremi needs a reference checkpoint: the reference model runs
 * on the same batch, per-token excess losses max(l_proxy - l_ref, 0) are summed per domain
 * (bmx_mix_observe_excess) and the step's gradient is that of
 *     sum_g w_{d_g} loss_g / sum_g w_{d_g},  w_d = alpha_d / q_d,
 * (each micro-batch has the same number of tokens, so this is ALGORITHMS.md's token sum),
 * with alpha the policy's current weights (those of the round the batch was drawn in).
 *
 * Generators (all from `seed`): the policy bmx_mix_create(seed) (its stream 0); the model
 * initialisation bmx_rng_seed(seed, 2); domain d's windows bmx_rng_seed(seed ^ h(name_d), 1)
 * with h = 64-bit FNV-1a of the domain's name, so a domain gets the same windows whatever
 * other domains the run has. Validation uses bmx_shard_val_windows(val, seq, eval_windows,
 * seed 0): the same windows for every run with the same seq, whatever its seed or method.
 *
 * Run folder OUT:
 *   config.txt      the full configuration (`key = value` lines; readable by --config)
 *   lock            flock(2)ed by the process running the run, its pid inside (bmx_run_lock)
 *   log.jsonl       deterministic records, one per line (format below)
 *   timing.jsonl    {"step":s,"tok_s":..,"elapsed_s":..} per step (wall-clock, so kept out of
 *                   log.jsonl, which a resumed run reproduces byte for byte)
 *   checkpoint.bin  bmx/checkpoint.h sections: the trainer's (model, params, optim, adam.m,
 *                   adam.v), "run" (u32 version 1, u32 domains, u64 step, tokens and the byte
 *                   length of log.jsonl), "rng" (every domain generator, 4 x u64 each) and
 *                   "policy" (bmx_mix_save)
 * log.jsonl records:
 *   {"type":"header","version":1,"method":..,"policy":..,"seed":..,"domains":[..],
 *    "train_tokens":[..],"val_windows":[..],"params":N,"tokens_per_step":N,"steps":N}
 *   {"type":"step","step":s,"loss":..,"lr":..,"grad_norm":..,"tokens":N,
 *    "domain_loss":[..],"domain_count":[..],"probs":[..]}
 *       step s = 1.. (the number of optimizer steps taken); domain_loss[i] = the sum
 *       (odm-smoothed-mean: the mean) of domain i's micro-batch mean losses in this step, null
 *       when i was not drawn; domain_count[i] = its micro-batches; probs = pi of the round.
 *       A doremi proxy's step also has "alpha":[..], its domain weights after the step's
 *       update (probs is q, what it samples from; their mean alpha_bar goes to weights.txt).
 *   {"type":"eval","step":s,"loss":[..],"ppl":[..],"avg_loss":..,"avg_ppl":..}
 *       per domain: mean token loss over the fixed windows and exp of it; avg_* = the mean
 *       over domains. Written at step 0, every eval_every steps and at the last step.
 * Resume: the logs are cut back to their lengths at the checkpoint, the state restored, and
 * the run continues; the result is byte-identical to a run that never stopped (same
 * threads). Checkpoints are written every ckpt_every steps, at the end, and when *stop
 * becomes non-zero (a signal handler sets it), always atomically.
 *
 * Data-parallel runs (opts->dist with N > 1 ranks, bmx/dist.h): one model, N processes, each
 * with the same configuration; `accum` G is per rank, so a step has N*G micro-batches of
 * batch x seq tokens. The stream layout: the step's micro-batches are numbered globally
 * g = 0 .. N*G-1, and rank R computes g = R*G .. R*G+G-1. Every rank holds every generator
 * and replays the whole step's draws in the order of g: the policy draws the N*G domains
 * (as a 1-rank run with accum N*G does), and each micro-batch's windows are drawn from its
 * domain's generator (a rank only copies the tokens of its own micro-batches). So the ranks
 * draw exactly the arms and windows of a 1-rank run with accum N*G, in the same order, and
 * keep identical generators (one checkpoint serves every rank). The step: each rank's
 * micro-batches (gradient = the mean over its G), the per-micro-batch mean losses (doremi: also
 * excess-loss sums) summed over ranks into slot g (exact: one rank fills each slot), the
 * gradients summed over ranks and divided by N (bmx_dist_grads), one optimizer step on every
 * rank, then the policy observes the N*G values in the order of g, as the 1-rank run does.
 * The step's loss is their mean in that order; validation windows are split across ranks by
 * batch (batch k on rank k mod N) and their losses summed in window order: both bit for bit
 * those of the 1-rank run on the same parameters. The parameters differ from the 1-rank run's
 * only by the float rounding of the gradient sum (measured in tests/cli/test_dist_mpi.sh).
 * Rank 0 alone writes config.txt, the logs and the checkpoints and holds the folder's lock;
 * the log header gets "ranks":N, its tokens_per_step is batch*seq*accum*N, and a resume with
 * another number of ranks is refused, naming both. A digest of the run state (the policy's
 * saved state, every generator, step, tokens) and one of the parameters are compared across
 * ranks before every checkpoint (every step when bmx_dist_check_every_step) and a mismatch
 * stops the run. Errors any rank meets in setup, in a micro-batch or at a checkpoint are
 * agreed (bmx_dist_agree), so every rank stops with the same message; timing.jsonl gets
 * comm_s, rank 0's seconds in collectives in the step.
 */
#ifndef BMX_RUN_H
#define BMX_RUN_H

#include <stddef.h>
#include <stdint.h>

#include "bmx/core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct bmx_run_config {
    const char *data;      /* folder of <domain>/{train,val}.bin */
    const char *out;       /* run folder */
    const char *policy;    /* bmx/mix.h spec */
    const char *method;    /* label in logs and reports ("" = the policy's name) */
    const char *weights;   /* comma-separated weights for `weights`/doremi alpha_0, or "" */
    const char *domains;   /* comma-separated domain names to use, or "" for all */
    const char *reward;    /* exp3/ucb1/exploit-only: loss | exp-loss */
    const char *reference; /* doremi: the reference run folder (its checkpoint.bin) */
    long steps;            /* optimizer steps */
    int batch;             /* sequences per micro-batch */
    int seq;               /* tokens per sequence (the model's context) */
    int accum;             /* micro-batches per step (G) */
    int layers, heads, width;
    double lr, min_lr;
    long warmup;
    long schedule; /* steps of the cosine schedule (0 = steps) */
    double beta1, beta2, weight_decay, clip;
    uint64_t seed;
    long eval_every;       /* 0 = only at step 0 and the end */
    long eval_windows;     /* per domain (at most) */
    long ckpt_every;       /* 0 = only at the end and on a stop */
    int threads;           /* 0 = leave OpenMP's default */
    const char *device;    /* cpu | cuda (bmx/backend.h); "" = cpu */
    const char *precision; /* fp32 | bf16 | "" (the device's default: bf16 on cuda) */
} bmx_run_config;

/* Defaults: device "" (cpu), precision "" (fp32 on cpu, bf16 on cuda), policy odm, steps 200, batch
 * 8, seq 64, accum 4, L 2, H 4, C 128, lr 3e-3, min_lr 3e-4, warmup 20, schedule 0, betas 0.9/0.95,
 * weight_decay 0.1, clip 1, seed 1, eval_every 25, eval_windows 32, ckpt_every 50, reward loss,
 * every string "" but policy, reward. */
bmx_run_config bmx_run_config_default(void);

/* The configuration keys, in print order, for config files and flags. */
enum bmx_run_key_type { BMX_RK_STR, BMX_RK_INT, BMX_RK_LONG, BMX_RK_U64, BMX_RK_DOUBLE };
typedef struct bmx_run_key {
    const char *name;
    enum bmx_run_key_type type;
    size_t offset; /* in bmx_run_config */
    const char *help;
} bmx_run_key;
/* The table, ended by a {NULL} entry. */
const bmx_run_key *bmx_run_keys(void);

/* Set one key from text (the value of a flag or a config line). Strings are stored as the
 * given pointer (keep it alive). */
int bmx_run_config_set(bmx_run_config *c, const char *key, const char *value, bmx_err *err);
/* Read `key = value` lines (# comments, blank lines) from path into c; unknown keys, bad
 * values and NUL bytes fail naming the file and line, a file over BMX_RUN_CONFIG_MAX bytes
 * fails naming the file. A value in double quotes is read with the escapes \\ \" \n \r \t
 * \xHH (and may be followed by a # comment); a bare value ends at the first '#' and loses
 * its surrounding blanks. The strings are malloc'd and owned by *store (free with
 * bmx_run_strings_free). */
#define BMX_RUN_CONFIG_MAX (1 << 20)
typedef struct bmx_run_strings {
    char **p;
    size_t n;
} bmx_run_strings;
int bmx_run_config_load(bmx_run_config *c, const char *path, bmx_run_strings *store, bmx_err *err);
/* The same from text[0..len); name is the file named in messages. */
int bmx_run_config_parse(bmx_run_config *c, const char *text, size_t len, const char *name,
                         bmx_run_strings *store, bmx_err *err);
void bmx_run_strings_free(bmx_run_strings *s);
/* The whole configuration as config-file text (malloc'd); bmx_run_config_parse reads it
 * back exactly: a string value with '#', a control byte, a leading '"' or surrounding blanks
 * is written quoted with escapes. */
char *bmx_run_config_text(const bmx_run_config *c);
/* Check values (ranges and combinations), naming the key and the fix. A reward other than
 * `loss` is an error for odm, odm-smoothed-mean and doremi (ALGORITHMS.md section 1). */
int bmx_run_config_check(const bmx_run_config *c, bmx_err *err);

/* The same config-file machinery over any key table (ended by a {NULL} entry) and the struct
 * it describes at base (bmx flad's configuration uses it too, bmx/flad.h). */
int bmx_config_set(const bmx_run_key *keys, void *base, const char *key, const char *value,
                   bmx_err *err);
int bmx_config_parse(const bmx_run_key *keys, void *base, const char *text, size_t len,
                     const char *name, bmx_run_strings *store, bmx_err *err);
int bmx_config_load(const bmx_run_key *keys, void *base, const char *path, bmx_run_strings *store,
                    bmx_err *err);
char *bmx_config_text(const bmx_run_key *keys, const void *base);
/* A command line's configuration files, before its flags are parsed (flags win): every
 * --config FILE (or --config=FILE) in argv[1..argc) loaded in order; with none and
 * resume_config, --resume --out OUT loads OUT/config.txt when it exists. Errors as
 * bmx_config_load's (naming the file). */
int bmx_config_load_args(const bmx_run_key *keys, void *base, int argc, char **argv,
                         int resume_config, bmx_run_strings *store, bmx_err *err);
/* Set the value of the given type at p from text: what a key or a flag does. name is what the
 * messages call it ("steps", "--steps", "run.cfg:2: steps"); a string is stored as the given
 * pointer (keep it alive). */
int bmx_config_value_set(enum bmx_run_key_type type, void *p, const char *name, const char *v,
                         bmx_err *err);
/* The number of keys whose values differ between the structs a and b, the keys named in
 * skip (a NULL-ended list, may be NULL) left out; their names, comma-separated, in buf. */
int bmx_config_diff(const bmx_run_key *keys, const void *a, const void *b, const char *const *skip,
                    char *buf, size_t cap);

/* ---- the run ---- */

typedef struct bmx_run_progress {
    long step, steps;
    double loss;
    double tok_s;     /* this step */
    double elapsed_s; /* since this process started the run */
    int ndomains;
    const char *const *domains;
    const double *probs; /* pi of the last round */
    int eval;            /* 1 when this call reports an evaluation */
    double avg_ppl;      /* the evaluation's mean perplexity (eval only) */
} bmx_run_progress;

typedef void (*bmx_run_progress_fn)(void *ctx, const bmx_run_progress *p);

typedef struct bmx_run_opts {
    int resume;                   /* continue the run in cfg->out from its checkpoint */
    uint64_t mem_limit;           /* bytes the run may need; 0 = bmx_run_memory_available() */
    volatile const int *stop;     /* when non-zero: checkpoint and return BMX_ESTATE-free 1 */
    bmx_run_progress_fn progress; /* after every step and evaluation (may be NULL) */
    void *progress_ctx;
    bmx_logger log;
    struct bmx_dist *dist; /* the ranks of a data-parallel run (bmx/dist.h); NULL = one */
} bmx_run_opts;

/* Run (or resume) the training run of cfg in cfg->out. Returns 0 when all steps are done,
 * 1 when stopped by *stop (checkpoint written), or a negative BMX_E* (a non-finite loss
 * is BMX_ESTATE; the checkpoint on disk is then the last good one, if any was written).
 * On resume the stored config.txt is authoritative except `steps` and `threads`, taken from
 * cfg when > 0 (the same threads are needed for a byte-identical result), and `device` with
 * `precision`, taken from cfg when its device is not "" (a checkpoint resumes on another
 * device; the log then continues within that device's precision, not byte for byte).
 * Before anything is allocated the run's memory (bmx_run_memory_estimate) is reported at
 * BMX_LOG_INFO and checked against opts->mem_limit (BMX_ENOMEM when over). The run folder is
 * locked for the run's life (bmx_run_lock); then stale temporaries of a killed run
 * (checkpoint.bin.tmp.XXXXXX, config.txt.tmp) are removed. Resume refuses (naming the file)
 * a checkpoint whose run state disagrees with its header (step), with its token count, or
 * with log.jsonl (its length must end the line of step record `step`, the records 1..step
 * all there, the header first), and a config.txt whose values differ from the checkpoint's
 * optimizer and model or from the configuration in the log's header: every key but steps,
 * threads, device, precision and data (the corpus may move; its domains and token counts
 * must not change). */
int bmx_run_train(const bmx_run_config *cfg, const bmx_run_opts *opts, bmx_err *err);

/* ---- the stepwise run: what bmx_run_train does, one call at a time ----
 * bmx_run_train(cfg, opts) is exactly
 *     bmx_run_open(&r, cfg, opts)                  new (config.txt, log header) or resumed
 *     if bmx_run_eval_due(r): evaluate and log      step 0 of a new run
 *     until bmx_run_done(r):
 *         stop requested (bmx_run_stop_requested): bmx_run_checkpoint, return 1
 *         bmx_run_exhausted(r): warn, leave the loop
 *         bmx_run_step(r)                           one optimizer step, its log records
 *         if bmx_run_eval_due(r): bmx_run_evaluate, bmx_run_log_eval
 *         if bmx_run_ckpt_due(r): bmx_run_checkpoint
 *     unless bmx_run_ckpt_current(r): bmx_run_checkpoint
 *     bmx_run_close(r)
 * (the loop is bmx_run_drive, which drives every kind of run: see bmx_run_open_kind below)
 * with opts->progress called after every step and evaluation. A driver that keeps this
 * schedule writes the same files byte for byte. Data-parallel runs: every rank makes the same
 * calls (each is collective where bmx_run_train's steps are). */
typedef struct bmx_run bmx_run;
struct bmx_backend;
struct bmx_mix;

/* Everything bmx_run_train does before its first step: the folder and its lock, the
 * configuration (config.txt on resume) and its checks, data, policy, model or checkpoint,
 * backend, doremi's reference, config.txt written, the logs opened (a new run: its header).
 * Resume checks as bmx_run_train says. */
int bmx_run_open(bmx_run **out, const bmx_run_config *cfg, const bmx_run_opts *opts, bmx_err *err);
/* One optimizer step: draw -> batch -> forward/backward -> observe -> optimizer step ->
 * policy step -> its records in log.jsonl and timing.jsonl. A non-finite micro-batch loss
 * is BMX_ESTATE. */
int bmx_run_step(bmx_run *r, bmx_err *err);

/* A validation: per-domain mean losses over the fixed windows (loss points into the run,
 * valid until its next call), their mean and the mean perplexity. Computes only.
 * A run of another kind (below; FLAD's): its own validation, due every eval_every of its steps
 * (bmx_run_eval_due) and refused (BMX_EINVAL) when not due or already done for this step; it
 * acts on what it finds (FLAD: the best parameters kept, early stopping decided: the run then
 * ends, bmx_run_done). ndomains 0, loss NULL, avg_loss and avg_ppl NAN; acc, best and
 * best_step the kind's score (FLAD: the few-shot validation accuracy), NAN / -1 for a
 * training run. */
typedef struct bmx_run_eval {
    long step;
    int ndomains;
    const double *loss;
    double avg_loss, avg_ppl;
    double acc, best; /* a kind's validation score and the best so far */
    long best_step;   /* the step of the best (0: the start) */
} bmx_run_eval;
int bmx_run_evaluate(bmx_run *r, bmx_run_eval *ev, bmx_err *err);
/* Its record in log.jsonl; a non-finite avg_loss stops the run instead (BMX_ESTATE, nothing
 * written; the message says which checkpoint is intact). A kind's: its step's record with
 * the validation (FLAD: the round record with val_acc and best_val). */
int bmx_run_log_eval(bmx_run *r, const bmx_run_eval *ev, bmx_err *err);
/* checkpoint.bin now (logs flushed and synced first; data-parallel: the lockstep check). */
int bmx_run_checkpoint(bmx_run *r, bmx_err *err);
void bmx_run_close(bmx_run *r);

long bmx_run_step_count(const bmx_run *r);  /* optimizer steps taken */
long bmx_run_steps(const bmx_run *r);       /* the run's --steps */
int bmx_run_done(const bmx_run *r);         /* every step taken */
int bmx_run_resumed(const bmx_run *r);      /* opened from a checkpoint */
int bmx_run_exhausted(const bmx_run *r);    /* every domain drawn max-epochs times */
int bmx_run_eval_due(const bmx_run *r);     /* step 0 (new run), every eval_every, the last */
int bmx_run_ckpt_due(const bmx_run *r);     /* every ckpt_every steps and the last */
int bmx_run_ckpt_current(const bmx_run *r); /* the last checkpoint is of this step */
double bmx_run_loss(const bmx_run *r);      /* the last step's loss */
double bmx_run_tok_s(const bmx_run *r);     /* the last step's tokens per second */
const bmx_run_config *bmx_run_cfg(const bmx_run *r); /* as resolved (resume: config.txt) */
const char *const *bmx_run_domain_names(const bmx_run *r, int *n);
const double *bmx_run_probs(const bmx_run *r); /* the policy's pi for the next step */
const struct bmx_mix *bmx_run_policy(const bmx_run *r);
struct bmx_backend *bmx_run_backend(bmx_run *r);
/* *stop = *opts->stop (data-parallel: the maximum over the ranks, a collective). */
int bmx_run_stop_requested(bmx_run *r, int *stop, bmx_err *err);

/* The run's schedule over the handle (what bmx_run_train does between open and close, above):
 * 0 when every step is done (or the run ended early), 1 when stopped by *opts->stop
 * (checkpoint written), or a negative BMX_E*. Every kind of run is driven by it. */
int bmx_run_drive(bmx_run *r, bmx_err *err);

/* ---- kinds of run: the same handle over another loop (bmx flad's: bmx_flad_open) ----
 * A kind brings its step, its validation and its state; the handle keeps the schedule (steps
 * taken, the last one, when a validation is due: every eval_every steps, when a checkpoint is
 * due: every ckpt_every steps, the last step and an early end), the stop, the checkpoint file
 * (PATH dir/checkpoint.bin through the shared section writer of bmx/checkpoint.h, atomically)
 * and the driver loop (bmx_run_drive: step, then bmx_run_evaluate and bmx_run_log_eval when
 * due, as for a training run). A validation may end the run (FLAD's early stopping). The state
 * at open counts as validated (FLAD scores theta_0 when it is created; a resumed checkpoint's
 * step was). The accessors of the training run's model, policy, domains and backend give
 * NULL / 0. */
struct bmx_ckpt_writer;
typedef struct bmx_run_kind {
    const char *unit; /* a step's name in messages ("round") */
    const char *arms; /* what a step draws from ("auxiliary datasets") */
    /* one step (a step whose validation is due keeps its record for log_eval) */
    int (*step)(void *impl, int *ended, bmx_err *err);
    /* the kind's sections of checkpoint.bin, its logs flushed and synced first */
    int (*save)(void *impl, struct bmx_ckpt_writer *w, bmx_err *err);
    void (*close)(void *impl);
    /* the validation of the step just taken into ev (step and the NAN fields set by the
     * handle); *ended = 1 when it ends the run (early stopping). NULL: the kind has none. */
    int (*evaluate)(void *impl, bmx_run_eval *ev, int *ended, bmx_err *err);
    /* the step's record with its validation (may be NULL) */
    int (*log_eval)(void *impl, const bmx_run_eval *ev, bmx_err *err);
} bmx_run_kind;

typedef struct bmx_run_sched {
    const char *dir;  /* the run folder */
    long step, steps; /* steps taken (resumed: the checkpoint's), the run's last */
    long ckpt_every;  /* >= 1 */
    int resumed;      /* opened from dir/checkpoint.bin */
    int ended;        /* the checkpoint's run had already ended early */
    int narms;        /* for messages */
    long eval_every;  /* the kind's validation every eval_every steps (0: none) */
} bmx_run_sched;

/* A handle over impl; it owns impl from the call on (kind->close frees it, also when this
 * fails). opts: stop and log (its progress is the kind's business and left out here). */
int bmx_run_open_kind(bmx_run **out, const bmx_run_kind *kind, void *impl, const bmx_run_sched *s,
                      const bmx_run_opts *opts, bmx_err *err);
/* impl when r is a run of kind, else NULL. */
void *bmx_run_impl(bmx_run *r, const bmx_run_kind *kind);

/* The bytes a run of c needs with a vocabulary of `vocab` tokens, counted as bmx/model.h and
 * bmx/train.h lay them out (float32): parameters, their gradients, the two AdamW moments,
 * the activations of one micro-batch of batch x seq tokens (forward values kept for
 * backward, backward scratch, the token buffers), and for policy doremi a reference model
 * of the same shape. Counts saturate at UINT64_MAX. */
typedef struct bmx_run_memory {
    uint64_t params, grads, moments, activations, reference, total;
} bmx_run_memory;
bmx_run_memory bmx_run_memory_estimate(const bmx_run_config *c, int vocab);
/* MemAvailable of /proc/meminfo, else sysconf's available pages; 0 when unknown. */
uint64_t bmx_run_memory_available(void);
/* bytes as "512 bytes", "1.5 KiB", "12.3 MiB", ... "16.0 EiB" in buf (32 bytes); returns buf. */
char *bmx_run_fmt_bytes(char *buf, uint64_t bytes);

/* Lock a run folder (any folder) for one process: DIR/lock is created if needed, an
 * exclusive flock(2) taken without waiting and this process's pid written in it; *fd gets
 * the descriptor (close-on-exec), which holds the lock until bmx_run_unlock (or exit). When
 * another open of the lock holds it: BMX_ESTATE, naming DIR and the holder's pid. */
int bmx_run_lock(const char *dir, int *fd, bmx_err *err);
void bmx_run_unlock(int fd);
/* Remove what a killed run or a full disk left in dir: files named exactly
 * checkpoint.bin.tmp.XXXXXX (six letters or digits), config.txt.tmp or result.json.tmp
 * (bmx flad's), nothing else; each
 * removal is logged at BMX_LOG_INFO. Call it only while holding dir's lock. Returns the
 * number removed. */
int bmx_run_clean_temporaries(const char *dir, const bmx_logger *log);

/* The policy of a run folder as its checkpoint holds it (e.g. doremi's alpha_bar through
 * bmx_mix_average); free with bmx_mix_free. */
int bmx_run_policy_load(const char *run_dir, struct bmx_mix **out, bmx_err *err);

/* Domain names and token counts of a data folder (as a run would use them); *names is a
 * malloc'd array of malloc'd strings, free with bmx_run_names_free. */
int bmx_run_domains(const char *data, const char *only, char ***names, uint64_t **train_tokens,
                    int *n, bmx_err *err);
void bmx_run_names_free(char **names, int n);

/* FNV-1a 64 of a NUL-terminated name (the per-domain generator key). */
uint64_t bmx_run_name_hash(const char *s);

#ifdef __cplusplus
}
#endif

#endif
