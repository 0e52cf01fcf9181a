/* bmx/mix.h - data-mixing policies and rewards, exactly as ../shared/ALGORITHMS.md says.
 *
 * This module, with bmx/rng.h and bmx/core.h (its whole header set), also builds alone as
 * libbmx_mix.{a,so}: libc and libm only, no BLAS, no OpenMP, no other bmx module (the
 * Python package python/bmx loads it). A caller asks a policy what it consumes with
 * bmx_mix_observes instead of comparing names.
 *
 * A policy chooses among K arms (domains, or auxiliary datasets). One handle type serves
 * every policy. The life of a round t (t = 1, 2, ...):
 *
 *     p = bmx_mix_probs(m);              distribution pi_t for this round
 *     for g in 1..G:
 *         i = bmx_mix_draw(m);           an arm ~ pi_t (from the policy's own generator)
 *         ... train on a batch of arm i ...
 *         bmx_mix_observe(m, i, value);  its loss (odm*) or reward (exp3, ucb1, exploit-only)
 *     bmx_mix_step(m);                   end of round: update, compute pi_{t+1}
 *
 * DoReMi takes per-domain excess losses instead (bmx_mix_observe_excess). Static policies
 * (uniform, natural, weights) and explore-only accept and check observations but never
 * change. Every call that can fail checks all of its input before changing anything, so a
 * failed call leaves the policy exactly as it was.
 *
 * Policies and parameters (spec "name" or "name:key=value,key=value"):
 *   uniform                    pi = 1/K
 *   natural                    pi proportional to weights (per-domain training tokens)
 *   weights                    pi proportional to weights (user-given; zeros allowed)
 *   odm                        1a; alpha (0.9), tscale (1)
 *   odm-smoothed-mean          1b; alpha (0.5), warmup (0); warm-up and fallback
 *                              distribution = weights, or uniform when weights is NULL
 *   exp3                       2a; beta (1.0, reward smoothing; 1 = none), tscale (1)
 *   ucb1                       2b; beta (0.1)
 *   explore-only               uniform, no updates
 *   exploit-only               2c; scores each arm once, then pi ~ max(score, 0)
 *   doremi                     3; eta (1.0), c (1e-3), vocab (8192: lambda starts at
 *                              ln vocab); alpha_0 = weights or uniform; pi = q = uniform
 *   temperature                5; tau (1): pi ~ n^(1/tau), n = weights (training tokens)
 *   ado                        6; warmup W (500), interval U (1000); mu = weights (training
 *                              tokens, required)
 *   aioli                      7; eta (0.2), interval U (250), rounds R (4), probe S (4),
 *                              f (0.625), gamma (0.1), warmup P (0: static prior steps);
 *                              prior = weights or uniform; needs k >= 2 and R K S < U
 * Every policy also takes min-prob=D (0) and max-epochs=E (0 = no cap), section 5; the
 * canonical spec lists them only when they are set.
 * A key a policy does not take, an unknown name, or a value out of range is an error.
 * Ranges: alpha in [0, 1); beta in (0, 1]; eta > 0; c in [0, 1]; warmup >= 0; vocab >= 2;
 * tscale in [1e-3, 1e6]; tau > 0; interval, rounds, probe >= 1; f in (0, 1]; gamma in [0, 1);
 * min-prob in [0, 1]; max-epochs >= 0.
 * tscale = S (ALGORITHMS.md 2a): eps_t = min(1/K, sqrt(ln K / (K S t))) and the softmax uses
 * eps at S (t - 1); S = 1 is the papers' form, the released FLAD code's is S = 10 G. pi is
 * exactly uniform while S t <= K ln K (bmx_mix_uniform_rounds).
 *
 * Exact conventions where ALGORITHMS.md leaves a choice:
 *  - odm: L_i sums every observation of arm i in the round; R_i is updated iff L_i != 0,
 *    with pi_i of the round. eps_0 = 1/K; for K = 1 pi = (1).
 *  - odm-smoothed-mean: at the end of round t, if t <= warmup nothing changes (observations
 *    are dropped); otherwise L_i is the mean of arm i's observations in the round, and eps
 *    uses this t. A loss above 690 is an error (exp(loss) summed over the arms must stay
 *    finite).
 *  - exp3: an observation r of arm a first smooths s_a = (1 - beta) s_a + beta r (s_a = 0
 *    initially), then R_a += s_a / pi_a with pi_a of the current round (applied at once;
 *    pi changes only at step).
 *  - ucb1: while some arm has n_a = 0, pi is one-hot on the lowest such arm and its first
 *    observation sets R_a = r, n_a = 1 (a scoring pass may observe every arm before the
 *    first step). Afterwards pi is one-hot on argmax_a R_a + sqrt(2 ln n / n_a), n = the
 *    number of observations so far (Auer et al.'s "plays done so far"), ties to the lowest
 *    index; an observation does R_a = (1 - beta) R_a + beta r, n_a += 1 (at once). pi, and
 *    so the arm draw() returns, is chosen at create and at each step and is fixed within a
 *    round.
 *  - exploit-only: while some arm is unscored, pi is uniform and draw() returns the lowest
 *    unscored arm; an arm's first observation is its score, later ones are checked and
 *    ignored. Once every arm has a score, pi ~ max(score, 0), or one-hot on the lowest
 *    index of the highest score when no score is > 0; it never changes again. The
 *    observation that scores the last arm switches pi (same buffer) and draw() to that
 *    distribution at once, without waiting for the step.
 *  - doremi: excess losses are summed over every observe_excess call of the round and
 *    divided by the token counts at the end of the round; an excess sum > 0 over 0 tokens
 *    is an error. alpha_bar after step t is the mean of alpha_0..alpha_t, kept as
 *    alpha_bar += (alpha_t - alpha_bar) / (t + 1).
 *  - odm, exp3, odm-smoothed-mean: 1 - K eps_t is clamped at 0 against the rounding of
 *    K * (1/K).
 *  - a step whose update would make an estimate non-finite (absurdly large losses) fails
 *    and changes nothing; so does an observation whose round sum would overflow.
 *  - weights given to a policy that does not use them are still checked, then ignored.
 *  - draw: categorical over the cumulative sum of pi in arm order (bmx/rng.h), so one
 *    uniform double per draw; ucb1 and exploit-only's scoring pass draw deterministically
 *    and consume no randomness.
 *  - the generator is bmx_rng_seed(seed, 0).
 *  - temperature: w_i = exp((ln n_i - ln max n) / tau) (0 for n_i = 0), pi = w / sum w.
 *  - min-prob D, max-epochs E (section 5): draws use pi', where pi'_i = max(pi_i, D) for an
 *    arm not capped, 0 for a capped one, divided by their sum (one division); with neither
 *    set pi' is pi itself. Every draw adds draw_tokens to the arm's drawn tokens (saved
 *    with the state); an arm is capped once drawn >= E * tokens_i, from the next draw on
 *    (mid-round too). When every arm is capped, draw returns -1 and bmx_mix_exhausted is
 *    1. With min-prob or max-epochs every draw is random from pi' (ucb1's argmax and
 *    exploit-only's scoring order included). The policy's own update keeps using pi.
 *  - ado (section 6, the released code's form): one observation per draw (the mean token
 *    loss of its draw_seqs sequences); round t = step t - 1 of the spec. B = draw_seqs times
 *    the round's observations, c_k = draw_seqs times arm k's. A round without
 *    observations is an error. A refit runs at the end of round t when step t - 1 >= W,
 *    (t - 1) % U == 0 and t - 1 >= W + U, literally: with W not a multiple of U the first
 *    is at the first multiple of U after W + U. estimates = h (realised fractions), average =
 * pibar, bmx_mix_fit = theta. Savitzky-Golay weights are v(j0)' G^-1 v(j) (v(j) = (1, j, j^2, j^3),
 * G = sum over the window of v v', offsets j from the window's centre); a history shorter than 5
 * steps skips the fit. The starts run in the order a (outer), e, alpha (alpha_j = j / 10); L-BFGS
 * as src/mix/lbfgs.c says. The objective adds its terms point by point, in point order, from one
 * exp and one log1p per point (src/mix/ado_obj.c): the fit's winner among the starts moves
 * with any single rounding, so this order is part of the result. rho: g_k mu_k h_k^0.5 (pow),
 * divided by its sum, floored at 0.01 and divided again; a sum that is not > 0 and finite leaves pi
 * unchanged that round.
 *  - aioli (section 7): pi is the distribution of the current step: the prior for the P
 *    first steps, q_j during probe j, p afterwards. bmx_mix_needs_validation says when
 *    the caller must pass per-arm validation losses (bmx_mix_observe_validation) before
 *    the next draw: at the start of each round and after each probe's S steps. A round
 *    starts by drawing its R permutations (Fisher-Yates: for i = K-1..1, j = below(i+1),
 *    swap). qhat counts the probe's draws. W x = M[i, :] is solved by Gaussian elimination
 *    with partial pivoting (first of equal pivots); a pivot <= 1e-12 max|W|, or
 *    sum A = 0, gives p = uniform for that round and leaves Abar as it was. A is always
 *    divided by its sum. estimates = p.
 */
#ifndef BMX_MIX_H
#define BMX_MIX_H

#include <stddef.h>
#include <stdint.h>

#include "bmx/core.h"
#include "bmx/rng.h"

#ifdef __cplusplus
extern "C" {
#endif

#define BMX_MIX_MAX_ARMS   (1 << 24)
#define BMX_MIX_MIN_TSCALE 1e-3
#define BMX_MIX_MAX_TSCALE 1e6
/* Rounds, warm-up and vocab are at most these (2^50 and 2^31 - 1): far past any run, and
 * small enough that no counter or its use as a double can overflow or lose precision. A
 * step at round BMX_MIX_MAX_ROUND fails with BMX_ESTATE and changes nothing. */
#define BMX_MIX_MAX_ROUND ((long)1 << 50)
#define BMX_MIX_MAX_VOCAB 2147483647L

typedef struct bmx_mix bmx_mix;

/* What the arms hold and what one draw takes (section 5 and ado): tokens = k training-token
 * counts (finite, >= 0) or NULL; a draw takes draw_tokens tokens in draw_seqs sequences
 * (> 0; 0 means 1). max-epochs needs tokens. */
typedef struct bmx_mix_data {
    const double *tokens;
    double draw_tokens, draw_seqs;
} bmx_mix_data;

/* A caller-given way to run n independent tasks, task(arg, 0..n-1), in any order or in
 * parallel, returning when all are done (ado's refits). Without one they run in order. */
typedef void (*bmx_mix_task)(void *arg, int i);
typedef void (*bmx_mix_parallel_fn)(void *ctx, int n, bmx_mix_task task, void *arg);

/* Create a policy over k arms from a spec (see above). weights: k values or NULL (see each
 * policy; `natural` and `weights` require them); they must be finite, >= 0, not all 0.
 * The handle copies what it needs. */
int bmx_mix_create(bmx_mix **out, const char *spec, int k, const double *weights, uint64_t seed,
                   bmx_err *err);
/* The same with data (NULL: none, draws of 1 token in 1 sequence). */
int bmx_mix_create_data(bmx_mix **out, const char *spec, int k, const double *weights,
                        const bmx_mix_data *data, uint64_t seed, bmx_err *err);
void bmx_mix_free(bmx_mix *m);
/* Read a weights list "w1,w2,...": comma-separated finite numbers >= 0 (spaces after a value
 * are allowed). Returns how many values the text holds (the first cap land in w), or -1 with
 * *bad at the first piece that is not such a number (it ends at the next ',' or the end); the
 * caller words the message (what the weights are for, how many it needs). */
int bmx_mix_parse_weights(const char *s, double *w, int cap, const char **bad);
/* Let the policy run independent work through fn (not saved with the state). */
void bmx_mix_set_parallel(bmx_mix *m, bmx_mix_parallel_fn fn, void *ctx);

/* The canonical spec with every parameter, e.g. "odm:alpha=0.9" (owned by the handle). */
const char *bmx_mix_spec(const bmx_mix *m);
/* The policy's name alone, e.g. "odm". */
const char *bmx_mix_name(const bmx_mix *m);
int bmx_mix_arms(const bmx_mix *m);
/* The current round t (1 before the first step). */
long bmx_mix_round(const bmx_mix *m);
/* The time scale S of odm and exp3; 1 for every other policy. */
double bmx_mix_tscale(const bmx_mix *m);
/* How many rounds t = 1, 2, ... odm and exp3 over k arms with time scale tscale are exactly
 * uniform: those with eps_{S t} = 1/K (so 1 - K eps_t = 0), i.e. S t <= K ln K; the
 * distribution can first differ from uniform in the round after. 0 for k < 2 or a tscale
 * out of range. K = 45, S = 1: 171; S = 10: 17. */
long bmx_mix_uniform_rounds(int k, double tscale);

/* What a policy consumes, so that callers route observations without knowing policy names. */
typedef enum bmx_mix_obs {
    BMX_MIX_OBS_NONE,   /* uniform, natural, weights, temperature, explore-only: ignored */
    BMX_MIX_OBS_LOSS,   /* odm, odm-smoothed-mean, ado, aioli: bmx_mix_observe(arm, loss) */
    BMX_MIX_OBS_REWARD, /* exp3, ucb1, exploit-only: bmx_mix_observe(arm, reward) */
    BMX_MIX_OBS_EXCESS, /* doremi: bmx_mix_observe_excess(excess sums, token counts) */
} bmx_mix_obs;

bmx_mix_obs bmx_mix_observes(const bmx_mix *m);
/* The same for the policy a spec names (its part before ':'), before any handle exists;
 * -1 when that is no policy's name. */
int bmx_mix_spec_observes(const char *spec);
/* "none", "loss", "reward" or "excess". */
const char *bmx_mix_obs_name(bmx_mix_obs o);
/* 1 when the round's value of an arm is the mean of its observations (odm-smoothed-mean),
 * 0 when it is their sum (every other policy). */
int bmx_mix_round_mean(const bmx_mix *m);
/* The policy names, i = 0, 1, ... in the order of the list above; NULL past the last. */
const char *bmx_mix_policy_name(int i);

/* pi_t: k probabilities, finite, summing to 1; valid until the next step/load. */
const double *bmx_mix_probs(const bmx_mix *m);
/* Draw one arm ~ pi'_t (pi_t without min-prob and max-epochs); -1 when every arm is
 * capped by max-epochs. */
int bmx_mix_draw(bmx_mix *m);
/* bmx_mix_draw from the caller's generator (one uniform double, or none for a deterministic
 * arm), with the same counts (max-epochs, Aioli's probes): the policy's own generator is
 * untouched, so a data loader can draw with its own stream. */
int bmx_mix_draw_rng(bmx_mix *m, bmx_rng *rng);
/* pi': the distribution draws use now (k values). */
const double *bmx_mix_draw_probs(const bmx_mix *m);
/* Tokens drawn per arm so far (k values). */
const double *bmx_mix_drawn(const bmx_mix *m);
/* 1 when max-epochs has capped every arm (the run must stop), else 0. */
int bmx_mix_exhausted(const bmx_mix *m);
/* ado: the fitted (a_k, e_k, alpha_k), 3k values in arm order; NULL before the first fit
 * and for other policies. */
const double *bmx_mix_fit(const bmx_mix *m);
/* aioli: 1 when per-arm validation losses are due before the next draw; 0 otherwise and for
 * every other policy. */
int bmx_mix_needs_validation(const bmx_mix *m);
/* aioli: the k per-arm validation losses (finite) that are due. */
int bmx_mix_observe_validation(bmx_mix *m, const double *loss, bmx_err *err);
/* aioli: 1 while the current round t is a probe step; 0 otherwise. */
int bmx_mix_probing(const bmx_mix *m);

/* One observation for arm: a loss (odm, odm-smoothed-mean) or a reward (exp3, ucb1,
 * exploit-only); static policies and explore-only check it and ignore it. Errors: arm out
 * of range, value not finite, and for doremi (use bmx_mix_observe_excess). */
int bmx_mix_observe(bmx_mix *m, int arm, double value, bmx_err *err);

/* DoReMi: per-domain sums of the token excess losses max(l_proxy - l_ref, 0) and the token
 * counts they were summed over (k values each; sums finite and >= 0, counts finite >= 0).
 * An error for every other policy. */
int bmx_mix_observe_excess(bmx_mix *m, const double *excess_sum, const double *tokens,
                           bmx_err *err);

/* End the round: apply the round's observations as the policy says, advance t, compute
 * pi_{t+1}. */
int bmx_mix_step(bmx_mix *m, bmx_err *err);

/* The policy's per-arm state, k values, or NULL where it has none:
 * R (odm, odm-smoothed-mean, exp3, ucb1), scores (exploit-only), alpha (doremi). */
const double *bmx_mix_estimates(const bmx_mix *m);
/* ucb1: pull counts n_a as doubles; NULL for other policies. */
const double *bmx_mix_counts(const bmx_mix *m);
/* doremi: alpha_bar, the running mean of all alphas (alpha_0 included); ado: pibar; NULL
 * otherwise. */
const double *bmx_mix_average(const bmx_mix *m);

/* Save the whole state (policy, parameters, round, arrays, generator, the round's pending
 * observations) to buf. With buf == NULL, only *len is set to the size needed. The format
 * (src/mix/state.c) is versioned, little-endian, and ends with a CRC-32 of everything before
 * it. A state saved mid-round continues bit for bit like the policy never stopped. */
int bmx_mix_save(const bmx_mix *m, void *buf, size_t cap, size_t *len, bmx_err *err);
/* Restore a saved state into m (same policy name and k, or an error); m is unchanged on
 * any error: bad magic, version, size, checksum, or values no policy could hold. The
 * parameters (and so bmx_mix_spec) come from the saved state. Errors: BMX_ECORRUPT for bad
 * bytes, BMX_EINVAL for a valid state of another policy or k. */
int bmx_mix_load(bmx_mix *m, const void *buf, size_t len, bmx_err *err);
/* Create a new handle from a saved state. */
int bmx_mix_restore(bmx_mix **out, const void *buf, size_t len, bmx_err *err);

/* ---- rewards ---- */

typedef enum bmx_reward {
    BMX_REWARD_LOSS,     /* "loss":     the loss itself */
    BMX_REWARD_EXP_LOSS, /* "exp-loss": exp(loss) */
    BMX_REWARD_GA,       /* "ga":       <a,b> / (|a| |b|) */
    BMX_REWARD_GMS,      /* "gms":      2 |a| |b| / (|a|^2 + |b|^2) */
    BMX_REWARD_AGG,      /* "agg":      (1 + GA) / 2 + GMS */
} bmx_reward;

int bmx_reward_parse(const char *name, bmx_reward *out, bmx_err *err);
const char *bmx_reward_name(bmx_reward r);

/* Inner products of two gradient vectors, accumulated in double. Feed as many sub-ranges
 * of flat float buffers as the parameter subset has (the same ranges of both). */
typedef struct bmx_grad_stats {
    double ab, aa, bb;
} bmx_grad_stats;

void bmx_grad_stats_add(bmx_grad_stats *s, const float *a, const float *b, size_t n);

/* Gradient rewards from the stats. When either vector has zero norm every one of them is 0
 * (ALGORITHMS.md: "a zero-norm vector gives reward 0, never NaN"). */
double bmx_reward_ga(const bmx_grad_stats *s);
double bmx_reward_gms(const bmx_grad_stats *s);
double bmx_reward_agg(const bmx_grad_stats *s);
/* Any reward: loss-based kinds use loss, gradient kinds use s (either may be NULL/unused). */
double bmx_reward_value(bmx_reward r, const bmx_grad_stats *s, double loss);

#ifdef __cplusplus
}
#endif

#endif
