/* bmx/sim.h - synthetic environments for trying mixing policies without training a model.
 *
 * An environment has K arms. Pulling an arm gives one observation (bmx_sim_obs) with the
 * three views a policy may want: a reward (exp3, ucb1, exploit-only), a loss (odm,
 * odm-smoothed-mean) and an excess loss over a reference (doremi). Everything random comes
 * from explicit generators seeded from the config's seed: the arms' parameters from stream
 * 1 (so the same seed gives the same arms, whatever is pulled), observation noise from
 * stream 2 (bmx/mix.h policies use stream 0 of their own seed).
 *
 * Environments (t = the environment's round, 1 before the first bmx_sim_advance):
 *  - bernoulli: mu_a ~ U[0.1, 0.9]; reward ~ Bernoulli(mu_a) (1 if u < mu_a, u ~ U[0,1)).
 *  - gaussian:  mu_a ~ U[0.2, 0.8]; reward = mu_a + noise * N(0, 1) (noise default 0.1).
 *  - drifting:  mu_a(t) = 0.5 + 0.35 sin(2 pi t / P_a + phi_a), P_a = period * (0.5 + U),
 *               phi_a = 2 pi U (period default 1000 rounds); reward ~ Bernoulli(mu_a(t)).
 *    For these three bandits: loss = 1 - reward; the reference loss is 1 - max_b mu_b(t),
 *    so excess = max(loss - (1 - max_b mu_b(t)), 0); means() are the expected rewards and
 *    best() is max_b mu_b(t), so the pseudo-regret of a pull of a is best() - means()[a].
 *  - learnable: each arm is a domain a model learns by training on it. With n_a = the
 *    number of earlier pulls of a, the expected loss is
 *        l_a(n_a) = floor_a + (start_a - floor_a) exp(-n_a / tau_a)
 *    and a pull observes loss = max(l_a(n_a) + noise * N(0, 1), 0) (noise default 0.02),
 *    then n_a += 1. floor_a ~ U[1, 2], start_a = floor_a + U[2, 4], tau_a = tau_min *
 *    (tau_max / tau_min)^(u_a) with u_a spread evenly over [0, 1] and shuffled (tau_min 20,
 *    tau_max 2000 pulls by default: some domains are learnt in a few dozen batches, some
 *    never within a short run). reward = loss (the signal ODM rewards: what is left to
 *    learn); excess = max(loss - floor_a, 0) (the reference model is the floor).
 *    means() are the expected losses l_a(n_a); mean_loss() is their average over domains,
 *    the figure to minimise; best() is min_a l_a(n_a).
 * Every environment also has sizes(): a natural size per arm (tokens, for the `natural`
 * policy), max(1, round(1000 exp(N(0, 1)))), from the parameter stream.
 */
#ifndef BMX_SIM_H
#define BMX_SIM_H

#include <stddef.h>
#include <stdint.h>

#include "bmx/core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum bmx_sim_env {
    BMX_SIM_BERNOULLI,
    BMX_SIM_GAUSSIAN,
    BMX_SIM_DRIFTING,
    BMX_SIM_LEARNABLE,
} bmx_sim_env;

/* "bernoulli", "gaussian", "drifting", "learnable". */
int bmx_sim_env_parse(const char *name, bmx_sim_env *out, bmx_err *err);
const char *bmx_sim_env_name(bmx_sim_env env);

typedef struct bmx_sim_config {
    bmx_sim_env env;
    int arms;       /* K >= 1 */
    uint64_t seed;  /* parameters and noise */
    double noise;   /* gaussian reward sd; learnable loss sd (>= 0) */
    double period;  /* drifting: base period in rounds (> 0) */
    double tau_min; /* learnable: fastest domain's time constant in pulls (> 0) */
    double tau_max; /* learnable: slowest (>= tau_min) */
} bmx_sim_config;

/* The defaults above for env, arms and seed. */
void bmx_sim_config_init(bmx_sim_config *c, bmx_sim_env env, int arms, uint64_t seed);

typedef struct bmx_sim bmx_sim;

typedef struct bmx_sim_obs {
    double reward;
    double loss;
    double excess;
} bmx_sim_obs;

int bmx_sim_create(bmx_sim **out, const bmx_sim_config *c, bmx_err *err);
void bmx_sim_free(bmx_sim *s);

const bmx_sim_config *bmx_sim_config_of(const bmx_sim *s);
int bmx_sim_arms(const bmx_sim *s);
/* 1 for the bandit environments (metric: regret), 0 for learnable (metric: mean loss). */
int bmx_sim_is_bandit(const bmx_sim *s);
long bmx_sim_round(const bmx_sim *s);

/* Pull arm (0 <= arm < K): the observation, and for learnable n_arm += 1. Errors: arm out of
 * range. */
int bmx_sim_pull(bmx_sim *s, int arm, bmx_sim_obs *obs, bmx_err *err);
/* End of a round: t += 1 (drifting means move). */
void bmx_sim_advance(bmx_sim *s);

/* Current expected reward (bandits) or expected loss (learnable) per arm, k values. */
const double *bmx_sim_means(const bmx_sim *s);
/* Bandits: max_a means; learnable: min_a means. */
double bmx_sim_best(const bmx_sim *s);
/* Learnable: the average of means() over domains; bandits: the average expected loss
 * 1 - mean(means()). */
double bmx_sim_mean_loss(const bmx_sim *s);
/* Natural sizes (tokens) per arm. */
const double *bmx_sim_sizes(const bmx_sim *s);
/* Learnable parameters (NULL for bandits) and pull counts (all environments). */
const double *bmx_sim_floors(const bmx_sim *s);
const double *bmx_sim_starts(const bmx_sim *s);
const double *bmx_sim_taus(const bmx_sim *s);
const double *bmx_sim_counts(const bmx_sim *s);
/* Drifting parameters (NULL otherwise). */
const double *bmx_sim_periods(const bmx_sim *s);
const double *bmx_sim_phases(const bmx_sim *s);

/* ---- the runner: several policies side by side (what `bmx simulate` runs) ----
 *
 * For every policy and seed (seed, seed+1, ...): a fresh environment (same seed = same arms)
 * and a fresh policy (bmx/mix.h, same seed); each round t the policy's pi_t is logged, G
 * arms are drawn, each pull's observation is routed to the policy by what it observes
 * (bmx_mix_observes): BMX_MIX_OBS_LOSS the loss, BMX_MIX_OBS_REWARD the reward (learnable:
 * the loss, as ODM's reward), BMX_MIX_OBS_EXCESS per domain the sum of the round's excesses
 * with token count 1 a pull (bmx_mix_observe_excess), BMX_MIX_OBS_NONE the loss (checked by
 * the policy and ignored). aioli, when it asks, gets the expected losses now as its
 * validation losses (learnable: l_a(n_a); bandits: 1 - mu_a(t)). natural, temperature and
 * ado get the environment's sizes as weights, `weights` and aioli the config's weights;
 * every other policy starts from uniform. The sizes are each arm's training tokens (one
 * token a pull) for max-epochs. Metric: bandits, the cumulative pseudo-regret; learnable,
 * the mean expected loss over domains after the round.
 * Files under out (bmx_sim_run_exec): one JSONL log per policy (LABEL.jsonl; with several
 * seeds LABEL.seedS.jsonl): a header (the policy, the environment's parameters), one
 * record per round (probs, draws, obs, the metric; doremi: alpha, alpha_bar) and a final
 * record; bmx_report_sim (bmx/report.h) adds summary.json, metric.svg, probs-LABEL.svg per adaptive
 * policy and index.html. */

#define BMX_SIM_MAX_POLICIES 32
#define BMX_SIM_ALL_POLICIES                                                                       \
    "uniform,natural,odm,odm-smoothed-mean,exp3,ucb1,explore-only,exploit-only,doremi"

typedef struct bmx_sim_run_config {
    bmx_sim_config env;    /* env.seed is the first seed */
    const char *policies;  /* "odm:alpha=0.8,exp3,doremi:eta=0.5,c=0.01"; "all" = the list above;
                              a piece with '=' but no ':' continues the previous spec */
    const double *weights; /* env.arms weights for `weights` (aioli: its prior), or NULL */
    long rounds;           /* >= 1 */
    int batches;           /* draws per round G, 1..1000000 */
    int seeds;             /* 1..10000 */
    int top;               /* arms with a band of their own in the distribution plots */
    const char *out;       /* the folder written (created) */
    const char *command;   /* recorded in the logs and summary.json ("" allowed) */
} bmx_sim_run_config;

/* One policy of a run and its results (filled by bmx_sim_run_exec). */
typedef struct bmx_sim_policy {
    char spec[256];  /* as given */
    char label[96];  /* file-name-safe, unique: "odm:alpha=0.8" -> "odm-alpha0.8", then -2, -3 */
    char canon[256]; /* the library's canonical spec */
    char name[48];   /* the policy's name */
    int observes;    /* bmx_mix_obs */
    int adaptive;    /* observes something: gets a distribution plot */
    double *curve;   /* rounds values: the metric after each round, mean over seeds */
    double *final;   /* seeds values: the final metric */
    double *cols;    /* ncols x arms: the first seed's distribution, averaged per column */
    double *colx;    /* ncols: each column's mean round */
    int ncols;
} bmx_sim_policy;

typedef struct bmx_sim_run bmx_sim_run;

/* Check the configuration and every policy spec (nothing is written). Errors name the bad
 * value: an empty or too long policy list, a parameter without a policy, `weights` without
 * weights, a spec bmx_mix_create refuses, an environment bmx_sim_create refuses. */
int bmx_sim_run_create(bmx_sim_run **out, const bmx_sim_run_config *c, bmx_err *err);
void bmx_sim_run_free(bmx_sim_run *r);
int bmx_sim_run_npolicies(const bmx_sim_run *r);
const bmx_sim_policy *bmx_sim_run_policy(const bmx_sim_run *r, int i);
/* About the bytes the JSONL logs will take (within a factor 2; checked by a test). */
double bmx_sim_run_log_bytes(const bmx_sim_run *r);
/* `bmx simulate`'s environment options into c: the environment named env (bmx_sim_env_parse)
 * and its noise ("auto": the environment's default, else a finite number >= 0), with
 * c->env.arms, .seed, .period, .tau_min, .tau_max as given, checked by creating the
 * environment once; max_mb (--max-output-mb) must be >= 0. BMX_EINVAL naming the option
 * (as --NAME) and what it accepts. */
int bmx_sim_run_setup(bmx_sim_run_config *c, const char *env, const char *noise, long max_mb,
                      bmx_err *err);
/* BMX_OK when the logs fit in max_mb MB (0: no bound), else BMX_EINVAL with a message that
 * gives the estimate, its factors, the bound (as --max-output-mb) and how to get under it. */
int bmx_sim_run_check_size(const bmx_sim_run *r, long max_mb, bmx_err *err);
/* The log's file name of policy i and seed index si (0 .. seeds-1) into buf. */
void bmx_sim_run_log_name(const bmx_sim_run *r, int i, int si, char *buf, size_t cap);

/* Called every 64 rounds of each policy and seed (may be NULL). */
typedef void (*bmx_sim_progress_fn)(void *ctx, const char *label, uint64_t seed, long t,
                                    long rounds);
/* Create out (mkdir -p) and run every policy and seed, writing the logs and filling each
 * policy's results. */
int bmx_sim_run_exec(bmx_sim_run *r, bmx_sim_progress_fn progress, void *ctx, bmx_err *err);
/* After exec, what the runner holds (its report is the report module's: bmx_report_sim in
 * bmx/report.h): the configuration, the np policies with their results, and whether the
 * metric is regret (bandit environments) or the mean loss (learnable). */
const bmx_sim_run_config *bmx_sim_run_cfg(const bmx_sim_run *r);
const bmx_sim_policy *bmx_sim_run_policies(const bmx_sim_run *r, int *np);
int bmx_sim_run_is_bandit(const bmx_sim_run *r);

/* k comma-separated finite weights >= 0 from s into *out (malloc'd). Errors (BMX_EINVAL) name
 * the bad value or the count. */
int bmx_sim_parse_weights(const char *s, int k, double **out, bmx_err *err);

/* What a policy observes as the logs and tables say it: bmx_mix_obs_name, or
 * "loss (checked, ignored)" for BMX_MIX_OBS_NONE. */
const char *bmx_sim_observes_name(int observes);
/* Mean and sample standard deviation (0 for n = 1) of n values. */
void bmx_sim_mean_sd(const double *v, int n, double *mean, double *sd);

#ifdef __cplusplus
}
#endif

#endif
