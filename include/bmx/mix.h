/* bmx/mix.h - data-mixing policies and rewards, exactly as ../shared/ALGORITHMS.md says.
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
 *   odm                        1a; alpha (0.9)
 *   odm-smoothed-mean          1b; alpha (0.5), warmup (0); warm-up and fallback
 *                              distribution = weights, or uniform when weights is NULL
 *   exp3                       2a; beta (1.0, reward smoothing; 1 = none)
 *   ucb1                       2b; beta (0.1)
 *   explore-only               uniform, no updates
 *   exploit-only               2c; scores each arm once, then pi ~ max(score, 0)
 *   doremi                     3; eta (1.0), c (1e-3), vocab (8192: lambda starts at
 *                              ln vocab); alpha_0 = weights or uniform; pi = q = uniform
 * A key a policy does not take, an unknown name, or a value out of range is an error.
 * Ranges: alpha in [0, 1); beta in (0, 1]; eta > 0; c in [0, 1]; warmup >= 0; vocab >= 2.
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
 */
#ifndef BMX_MIX_H
#define BMX_MIX_H

#include <stddef.h>
#include <stdint.h>

#include "bmx/core.h"

#ifdef __cplusplus
extern "C" {
#endif

#define BMX_MIX_MAX_ARMS (1 << 24)
/* Rounds, warm-up and vocab are at most these (2^50 and 2^31 - 1): far past any run, and
 * small enough that no counter or its use as a double can overflow or lose precision. A
 * step at round BMX_MIX_MAX_ROUND fails with BMX_ESTATE and changes nothing. */
#define BMX_MIX_MAX_ROUND ((long)1 << 50)
#define BMX_MIX_MAX_VOCAB 2147483647L

typedef struct bmx_mix bmx_mix;

/* Create a policy over k arms from a spec (see above). weights: k values or NULL (see each
 * policy; `natural` and `weights` require them); they must be finite, >= 0, not all 0.
 * The handle copies what it needs. */
int bmx_mix_create(bmx_mix **out, const char *spec, int k, const double *weights, uint64_t seed,
                   bmx_err *err);
void bmx_mix_free(bmx_mix *m);

/* The canonical spec with every parameter, e.g. "odm:alpha=0.9" (owned by the handle). */
const char *bmx_mix_spec(const bmx_mix *m);
/* The policy's name alone, e.g. "odm". */
const char *bmx_mix_name(const bmx_mix *m);
int bmx_mix_arms(const bmx_mix *m);
/* The current round t (1 before the first step). */
long bmx_mix_round(const bmx_mix *m);

/* pi_t: k probabilities, finite, summing to 1; valid until the next step/load. */
const double *bmx_mix_probs(const bmx_mix *m);
/* Draw one arm ~ pi_t. */
int bmx_mix_draw(bmx_mix *m);

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
/* doremi: alpha_bar, the running mean of all alphas (alpha_0 included); NULL otherwise. */
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
