/* Mixing policies: hand-computed first rounds, invariants over random runs, save/load.
 *
 * The hand-computed cases follow ALGORITHMS.md line by line for K = 3, where
 * ln 3 / 3 = 0.366204, so eps_t = min(1/3, sqrt(0.366204 / t)) is 1/3 for t <= 3 (pi is
 * exactly uniform in odm and exp3 while 1 - K eps_t = 0) and eps_4 = 0.302574, eps_5 =
 * 0.270631. Decimal values in the comments were worked out separately with a calculator
 * (Python float arithmetic); the checks evaluate the spec's closed forms. */
#include "bmx/mix.h"
#include "bmx/rng.h"
#include "check.h"

#include <stdint.h>

static const char *const all_specs[] = {
    "uniform",
    "natural",
    "weights",
    "odm:alpha=0.9",
    "odm-smoothed-mean:alpha=0.5,warmup=3",
    "exp3",
    "exp3:beta=0.3",
    "exp3:tscale=10",
    "odm:tscale=0.5",
    "ucb1",
    "explore-only",
    "exploit-only",
    "doremi",
    "doremi:eta=0.5,c=0.01,vocab=50",
};
#define NSPECS ((int)(sizeof all_specs / sizeof all_specs[0]))

static double eps3(int t)
{
    double e = sqrt(log(3.0) / (3.0 * t));
    return e < 1.0 / 3 ? e : 1.0 / 3;
}

/* The mixture of the hand computations: (1 - 3 eps) v[i] / sum(v) + eps, three arms (ODM and
 * EXP3 with eps_t; DoReMi's smoothing with eps = c / 3). */
static double mix3(const double v[3], double eps, int i)
{
    return (1 - 3 * eps) * v[i] / (v[0] + v[1] + v[2]) + eps;
}

/* pi against the mixture of v with eps (to 1e-14, left in mixed when not NULL) and against
 * the values worked out by hand in the case's comment (to 1e-12). */
static void check_pi3(const double *pi, const double v[3], double eps, const double want[3],
                      double *mixed)
{
    for (int i = 0; i < 3; i++) {
        double p = mix3(v, eps, i);
        CHECK_NEAR(pi[i], p, 1e-14);
        CHECK_NEAR(pi[i], want[i], 1e-12);
        if (mixed)
            mixed[i] = p;
    }
}

static bmx_mix *make(const char *spec, int k, const double *w, uint64_t seed)
{
    bmx_mix *m = NULL;
    bmx_err e;

    bmx_err_clear(&e);
    if (bmx_mix_create(&m, spec, k, w, seed, &e) != 0)
        CHECK_FAILF("create %s k=%d: %s", spec, k, e.msg);
    return m;
}

static void obs(bmx_mix *m, int arm, double v)
{
    bmx_err e;

    if (bmx_mix_observe(m, arm, v, &e) != 0)
        CHECK_FAILF("observe(%d, %g): %s", arm, v, e.msg);
}

static void step(bmx_mix *m)
{
    bmx_err e;

    if (bmx_mix_step(m, &e) != 0)
        CHECK_FAILF("step: %s", e.msg);
}

static void check_uniform3(const bmx_mix *m)
{
    for (int i = 0; i < 3; i++)
        CHECK_NEAR(bmx_mix_probs(m)[i], 1.0 / 3, 1e-15);
}

/* odm, alpha = 0.9. Rounds 1-3 are uniform (eps = 1/3), so L_i / pi_i = 3 L_i:
 *   round 1: arm 0 losses 2 + 1, arm 2 loss 3 -> R0 = 0.1 * 3 * 3 = 0.9, R2 = 0.9
 *   round 2: arm 1 loss 6 -> R1 = 1.8; arm 2 losses 1 and -1 sum to 0 -> R2 stays 0.9
 *   round 3: arm 0 loss 1.5 -> R0 = 0.9 * 0.9 + 0.1 * 4.5 = 1.26
 *   pi_4 = (1 - 3 eps_4) exp(R / 3) / sum + eps_4 = (0.332494, 0.338395, 0.329111)
 *   round 4: arm 2 loss 2 -> R2 = 0.81 + 0.2 / pi_4[2] = 1.417698
 *   pi_5 = (1 - 3 eps_5) exp(eps_4 R) / sum + eps_5 = (0.328934, 0.339283, 0.331783) */
static void test_hand_odm(void)
{
    bmx_mix *m = make("odm", 3, NULL, 1);
    const double *R = bmx_mix_estimates(m), *pi = bmx_mix_probs(m);

    CHECK_EQ_STR(bmx_mix_spec(m), "odm:alpha=0.9,tscale=1");
    check_uniform3(m);
    obs(m, 0, 2.0);
    obs(m, 0, 1.0);
    obs(m, 2, 3.0);
    step(m);
    CHECK_NEAR(R[0], 0.9, 1e-15);
    CHECK_EQ_INT(R[1] == 0.0, 1);
    CHECK_NEAR(R[2], 0.9, 1e-15);
    check_uniform3(m);
    obs(m, 1, 6.0);
    obs(m, 2, 1.0);
    obs(m, 2, -1.0);
    step(m);
    CHECK_NEAR(R[1], 1.8, 1e-15);
    CHECK_NEAR(R[2], 0.9, 1e-15);
    obs(m, 0, 1.5);
    step(m);
    CHECK_NEAR(R[0], 1.26, 1e-15);
    CHECK_EQ_INT(bmx_mix_round(m), 4);

    double e3 = 1.0 / 3, e4 = eps3(4), e5 = eps3(5);
    CHECK_NEAR(e4, 0.30257399765293086, 1e-15);
    double w[3] = {exp(e3 * 1.26), exp(e3 * 1.8), exp(e3 * 0.9)}, p4[3];
    check_pi3(pi, w, e4,
              (const double[3]){0.3324941935164314, 0.33839497564871907, 0.32911083083484965}, p4);

    obs(m, 2, 2.0);
    step(m);
    double r2 = 0.9 * 0.9 + 0.1 * 2.0 / p4[2];
    CHECK_NEAR(R[2], 1.417698019213356, 1e-12);
    double v[3] = {exp(e4 * 1.26), exp(e4 * 1.8), exp(e4 * r2)};
    check_pi3(pi, v, e5,
              (const double[3]){0.3289339829753449, 0.3392826207015419, 0.3317833963231132}, NULL);
    bmx_mix_free(m);
}

/* odm-smoothed-mean, alpha = 0.5, warmup = 1, weights (1, 1, 2) -> base (1/4, 1/4, 1/2):
 *   round 1 (t = 1 <= warmup): arm 0 loss 9 is dropped; pi stays base, R = 0
 *   round 2: no observation -> sum R = 0 -> pi stays base
 *   round 3: arm 0 losses 1, 2 (mean 1.5), arm 2 loss 0.5 -> R = (0.5 e^1.5, 0, 0.5 e^0.5)
 *            = (2.240845, 0, 0.824361); eps_3 = 1/3 -> pi uniform
 *   round 4: arm 0 loss 2.5, arm 1 loss 0 -> R = (0.5 R0 + 0.5 e^2.5, 0.5, R2)
 *            = (7.211669, 0.5, 0.824361); pi = (1 - 3 eps_4) R / sum R + eps_4
 *            = (0.380535, 0.307979, 0.311486) */
static void test_hand_odm_smoothed_mean(void)
{
    const double w[3] = {1, 1, 2};
    bmx_mix *m = make("odm-smoothed-mean:warmup=1", 3, w, 1);
    const double *R = bmx_mix_estimates(m), *pi = bmx_mix_probs(m);

    CHECK_EQ_STR(bmx_mix_spec(m), "odm-smoothed-mean:alpha=0.5,warmup=1");
    CHECK_NEAR(pi[0], 0.25, 1e-15);
    CHECK_NEAR(pi[2], 0.5, 1e-15);
    obs(m, 0, 9.0);
    step(m);
    CHECK_EQ_INT(R[0] == 0.0, 1);
    CHECK_NEAR(pi[0], 0.25, 1e-15);
    CHECK_NEAR(pi[2], 0.5, 1e-15);
    step(m);
    CHECK_NEAR(pi[1], 0.25, 1e-15);
    CHECK_NEAR(pi[2], 0.5, 1e-15);
    obs(m, 0, 1.0);
    obs(m, 0, 2.0);
    obs(m, 2, 0.5);
    step(m);
    CHECK_NEAR(R[0], 0.5 * exp(1.5), 1e-15);
    CHECK_NEAR(R[0], 2.2408445351690323, 1e-12);
    CHECK_EQ_INT(R[1] == 0.0, 1);
    CHECK_NEAR(R[2], 0.8243606353500641, 1e-12);
    check_uniform3(m);
    obs(m, 0, 2.5);
    obs(m, 1, 0.0);
    step(m);
    double r[3] = {0.25 * exp(1.5) + 0.5 * exp(2.5), 0.5, 0.5 * exp(0.5)};
    double e4 = eps3(4);
    for (int i = 0; i < 3; i++)
        CHECK_NEAR(R[i], r[i], 1e-14);
    check_pi3(pi, r, e4,
              (const double[3]){0.3805351194787739, 0.3079792040722458, 0.31148567644898034}, NULL);
    bmx_mix_free(m);
}

/* exp3, beta = 1 (no smoothing). Rounds 1-3 uniform, so R_a += 3 r:
 *   round 1: arm 1 reward 0.6 -> R1 = 1.8;  round 2: arm 2 reward 0.3 -> R2 = 0.9
 *   round 3: arm 1 reward 0.9 -> R1 = 4.5
 *   pi_4 = (1 - 3 eps_4) exp(R / 3) / sum + eps_4 = (0.316082, 0.363111, 0.320807)
 *   round 4: arm 0 reward 1 -> R0 = 1 / pi_4[0] = 3.163740
 *   pi_5 = (1 - 3 eps_5) exp(eps_4 R) / sum + eps_5 = (0.333283, 0.364502, 0.302215) */
static void test_hand_exp3(void)
{
    bmx_mix *m = make("exp3", 3, NULL, 1);
    const double *R = bmx_mix_estimates(m), *pi = bmx_mix_probs(m);

    CHECK_EQ_STR(bmx_mix_spec(m), "exp3:beta=1,tscale=1");
    obs(m, 1, 0.6);
    CHECK_NEAR(R[1], 1.8, 1e-15); /* applied at once */
    step(m);
    check_uniform3(m);
    obs(m, 2, 0.3);
    step(m);
    obs(m, 1, 0.9);
    step(m);
    CHECK_NEAR(R[1], 4.5, 1e-15);
    CHECK_NEAR(R[2], 0.9, 1e-15);
    double e4 = eps3(4), e5 = eps3(5);
    double w[3] = {1.0, exp(1.5), exp(0.3)}, p4[3];
    check_pi3(pi, w, e4,
              (const double[3]){0.3160816256005496, 0.3631109861919667, 0.3208073882074838}, p4);
    obs(m, 0, 1.0);
    CHECK_NEAR(R[0], 1.0 / p4[0], 1e-14);
    CHECK_NEAR(R[0], 3.163739740011832, 1e-12);
    step(m);
    double v[3] = {exp(e4 / p4[0]), exp(e4 * 4.5), exp(e4 * 0.9)};
    check_pi3(pi, v, e5,
              (const double[3]){0.3332832990184023, 0.36450196376092237, 0.30221473722067543},
              NULL);
    bmx_mix_free(m);
}

/* exp3, beta = 0.5: s_1 = 0.5 * 0 + 0.5 * 0.6 = 0.3 -> R1 = 0.3 * 3 = 0.9; then reward 0.9:
 * s_1 = 0.15 + 0.45 = 0.6 -> R1 = 0.9 + 1.8 = 2.7 (uniform rounds, pi = 1/3). */
static void test_hand_exp3_smoothing(void)
{
    bmx_mix *m = make("exp3:beta=0.5", 3, NULL, 1);
    const double *R = bmx_mix_estimates(m);

    obs(m, 1, 0.6);
    CHECK_NEAR(R[1], 0.9, 1e-15);
    step(m);
    obs(m, 1, 0.9);
    CHECK_NEAR(R[1], 2.7, 1e-15);
    bmx_mix_free(m);
}

/* exp3, tscale S = 2 (ALGORITHMS.md 2a: eps_t at S t, the softmax at S (t - 1)), K = 3:
 * eps(2) = min(1/3, sqrt(ln 3 / 6) = 0.427904) = 1/3, eps(4) = 0.302574, eps(6) = 0.247051.
 * S t <= K ln K = 3.2958 only for t = 1, so round 2 already mixes (S = 1: rounds 1-3 uniform).
 *   round 1 (uniform): arm 1 reward 0.6 -> R1 = 1.8
 *   pi_2 = (1 - 3 eps(4)) softmax(eps(2) R) + eps(4) = (0.326717, 0.346566, 0.326717)
 *   round 2: arm 0 reward 1 -> R0 = 1 / pi_2[0] = 3.060751
 *   pi_3 = (1 - 3 eps(6)) softmax(eps(4) R) + eps(6) = (0.371560, 0.332072, 0.296368) */
static void test_hand_exp3_tscale(void)
{
    bmx_mix *m = make("exp3:tscale=2", 3, NULL, 1), *one = make("exp3", 3, NULL, 1);
    const double *R = bmx_mix_estimates(m), *pi = bmx_mix_probs(m);
    double e2 = eps3(2), e4 = eps3(4), e6 = eps3(6);

    CHECK_EQ_STR(bmx_mix_spec(m), "exp3:beta=1,tscale=2");
    CHECK_NEAR(bmx_mix_tscale(m), 2, 0);
    CHECK_NEAR(bmx_mix_tscale(one), 1, 0);
    CHECK_EQ_INT(bmx_mix_uniform_rounds(3, 2), 1);
    CHECK_EQ_INT(bmx_mix_uniform_rounds(3, 1), 3);
    CHECK_NEAR(e2, 1.0 / 3, 0);
    check_uniform3(m);
    obs(m, 1, 0.6);
    obs(one, 1, 0.6);
    step(m);
    step(one);
    check_uniform3(one); /* S = 1: eps_2 = 1/3 */
    double w[3] = {1.0, exp(e2 * 1.8), 1.0};
    check_pi3(pi, w, e4,
              (const double[3]){0.3267171527615003, 0.3465656944769994, 0.3267171527615003}, NULL);
    obs(m, 0, 1.0);
    CHECK_NEAR(R[0], 3.060751452893532, 1e-12);
    step(m);
    double v[3] = {exp(e4 * R[0]), exp(e4 * 1.8), 1.0};
    check_pi3(pi, v, e6,
              (const double[3]){0.37155966239548943, 0.33207242815539617, 0.29636790944911445},
              NULL);
    bmx_mix_free(m);
    bmx_mix_free(one);
}

static double max_dev_uniform(const bmx_mix *m)
{
    int k = bmx_mix_arms(m);
    double d = 0.0;

    for (int i = 0; i < k; i++)
        d = fmax(d, fabs(bmx_mix_probs(m)[i] - 1.0 / k));
    return d;
}

/* K = 45 auxiliary datasets (the FLAD suite's pool). The first round t whose K eps(S t) < 1,
 * worked out from eps alone: K ln K = 45 ln 45 = 171.30, so t = 172 for S = 1 and t = 18 for
 * S = 10. With S = 1, 150 rounds of exp3 are draw for draw explore-only (same seed: pi is
 * exactly uniform, so the same uniform double gives the same arm); with S = 10 pi is
 * uniform up to round 17 and differs from it in round 18. */
static void test_exp3_k45_uniform_rounds(void)
{
    const double scales[2] = {1.0, 10.0};
    const long want[2] = {172, 18};

    for (int si = 0; si < 2; si++) {
        double S = scales[si];
        long first = 1;
        while (45.0 * sqrt(log(45.0) / (45.0 * S * (double)first)) >= 1.0)
            first++;
        CHECK_EQ_INT(first, want[si]);
        CHECK_EQ_INT(bmx_mix_uniform_rounds(45, S), first - 1);
    }
    CHECK_EQ_INT(bmx_mix_uniform_rounds(45, 10 * 4), 4); /* the released code's S = 10 G, G = 4 */
    CHECK_EQ_INT(bmx_mix_uniform_rounds(1, 1), 0);

    bmx_mix *e = make("exp3", 45, NULL, 7), *x = make("explore-only", 45, NULL, 7);
    bmx_rng drv;
    bmx_rng_seed(&drv, 45, 1);
    for (long t = 1; t <= 150; t++) {
        CHECK_MSG(max_dev_uniform(e) <= 1e-12, "exp3 left uniform in round %ld", t);
        int a = bmx_mix_draw(e);
        CHECK_EQ_INT(bmx_mix_draw(x), a);
        double r = bmx_rng_double(&drv) * (1.0 + (double)(a % 5));
        obs(e, a, r);
        obs(x, a, r);
        step(e);
        step(x);
    }
    CHECK(bmx_mix_estimates(e)[0] != 0.0 || bmx_mix_estimates(e)[1] != 0.0); /* it learnt */
    bmx_mix_free(e);
    bmx_mix_free(x);

    e = make("exp3:tscale=10", 45, NULL, 7);
    for (long t = 1; t <= 18; t++) {
        if (t < 18)
            CHECK_MSG(max_dev_uniform(e) <= 1e-12, "tscale 10 left uniform in round %ld", t);
        else
            CHECK_MSG(max_dev_uniform(e) > 1e-12, "tscale 10 still uniform in round 18");
        int a = bmx_mix_draw(e);
        obs(e, a, bmx_rng_double(&drv) * (1.0 + (double)(a % 5)));
        step(e);
    }
    bmx_mix_free(e);
}

/* ucb1, beta = 0.1: one pull of each arm in turn, then UCB with n = 3 plays:
 *   R = (0.5, 0.8, 0.2), n = (1, 1, 1): UCB = R + sqrt(2 ln 3) -> arm 1
 *   arm 1 reward 0 -> R1 = 0.9 * 0.8 = 0.72, n1 = 2; n = 4:
 *   UCB = (0.5 + sqrt(2 ln 4), 0.72 + sqrt(ln 4), 0.2 + sqrt(2 ln 4))
 *       = (2.165109, 1.897410, 1.865109) -> arm 0 */
static void test_hand_ucb1(void)
{
    bmx_mix *m = make("ucb1", 3, NULL, 1);
    const double *R = bmx_mix_estimates(m), *n = bmx_mix_counts(m), *pi = bmx_mix_probs(m);
    const double r[3] = {0.5, 0.8, 0.2};

    CHECK(bmx_mix_average(m) == NULL);
    for (int a = 0; a < 3; a++) {
        CHECK_EQ_INT(bmx_mix_draw(m), a);
        CHECK_EQ_INT(bmx_mix_draw(m), a);
        CHECK_EQ_INT(pi[a] == 1.0, 1);
        obs(m, a, r[a]);
        CHECK_EQ_INT(n[a], 1);
        CHECK_NEAR(R[a], r[a], 0);
        step(m);
    }
    CHECK_EQ_INT(bmx_mix_draw(m), 1);
    obs(m, 1, 0.0);
    CHECK_NEAR(R[1], 0.72, 1e-15);
    CHECK_EQ_INT(n[1], 2);
    step(m);
    CHECK(0.5 + sqrt(2 * log(4.0)) > 0.72 + sqrt(log(4.0)));
    CHECK_NEAR(0.5 + sqrt(2 * log(4.0)), 2.1651092223153956, 1e-12);
    CHECK_EQ_INT(bmx_mix_draw(m), 0);
    CHECK_EQ_INT(pi[0] == 1.0 && pi[1] == 0.0 && pi[2] == 0.0, 1);
    bmx_mix_free(m);
}

/* ucb1's t is the number of pulls done so far, the K initial ones included and the pull
 * being chosen not (ALGORITHMS.md 2b, Auer et al. 2002). K = 2, beta = 0.1, all observed in
 * round 1 (so the round counter says 1, the pulls 3): arm 0 twice at r0, arm 1 once at r1;
 * n = (2, 1), t = 3, UCB_0 - UCB_1 = (r0 - r1) - (sqrt(2 ln 3) - sqrt(ln 3)) = (r0 - r1) -
 * 0.434154. With t = 4 (the chosen pull counted) the bonus gap is sqrt(2 ln 4) - sqrt(ln 4) =
 * 0.487703; with t = 2 (the round after the step) 1.177410 - 0.832555 = 0.344855.
 *   r0 - r1 = 0.46: t = 3 -> arm 0 (t = 4 would pick arm 1)
 *   r0 - r1 = 0.40: t = 3 -> arm 1 (t = 2 would pick arm 0) */
static void test_hand_ucb1_auer_t(void)
{
    const double gap[2] = {0.46, 0.40};
    const int want[2] = {0, 1};

    CHECK_NEAR(sqrt(2 * log(3.0)) - sqrt(log(3.0)), 0.43415, 1e-5);
    CHECK_NEAR(sqrt(2 * log(4.0)) - sqrt(log(4.0)), 0.48770, 1e-5);
    CHECK_NEAR(sqrt(2 * log(2.0)) - sqrt(log(2.0)), 0.34486, 1e-5);
    for (int c = 0; c < 2; c++) {
        bmx_mix *m = make("ucb1", 2, NULL, 1);
        obs(m, 0, 0.2 + gap[c]);
        obs(m, 1, 0.2);
        obs(m, 0, 0.2 + gap[c]); /* R0 = 0.9 r0 + 0.1 r0 */
        CHECK_NEAR(bmx_mix_estimates(m)[0], 0.2 + gap[c], 1e-15);
        step(m);
        CHECK_EQ_INT(bmx_mix_round(m), 2);
        CHECK_EQ_INT(bmx_mix_draw(m), want[c]);
        bmx_mix_free(m);
    }
}

/* ucb1 with a scoring pass before the first step, and ties going to the lowest index:
 * scores (0.3, 0.3, 0.3) -> equal UCB -> arm 0; then arm 0 reward 0.3 keeps R0 = 0.3 with
 * n0 = 2, so arm 1 (smaller n, larger bonus) leads: 0.3 + sqrt(2 ln 4) vs 0.3 + sqrt(ln 4). */
static void test_hand_ucb1_scoring_and_ties(void)
{
    bmx_mix *m = make("ucb1:beta=0.5", 3, NULL, 1);

    for (int a = 0; a < 3; a++)
        obs(m, a, 0.3);
    CHECK_EQ_INT(bmx_mix_draw(m), 0);
    step(m);
    CHECK_EQ_INT(bmx_mix_draw(m), 0);
    obs(m, 0, 0.3);
    step(m);
    CHECK_EQ_INT(bmx_mix_draw(m), 1);
    bmx_mix_free(m);
}

/* doremi, eta = 1, c = 1e-3, vocab 8192 (lambda_0 = ln 8192), alpha_0 uniform:
 *   step 1: excess (2, 0, 3) over tokens (4, 0, 2) -> lambda = (0.5, ln 8192, 1.5)
 *           alpha_1 = 0.999 softmax(lambda) + 0.001 / 3 = (0.000534, 0.998586, 0.000879)
 *           alpha_bar = (alpha_0 + alpha_1) / 2 = (0.166934, 0.665960, 0.167106)
 *   step 2: two calls, (1,1,1)/(1,1,1) and (3,0,1)/(1,0,1) -> lambda = (4/2, 1/1, 2/2)
 *           alpha_2 = 0.999 softmax(log alpha_1 + lambda) + 0.001 / 3
 *                   = (0.001783, 0.997006, 0.001211)
 *           alpha_bar = (alpha_0 + alpha_1 + alpha_2) / 3 = (0.111883, 0.776309, 0.111808)
 *   pi stays uniform (the proxy samples uniformly). */
static void test_hand_doremi(void)
{
    bmx_mix *m = make("doremi", 3, NULL, 1);
    const double *a = bmx_mix_estimates(m), *bar = bmx_mix_average(m);
    bmx_err e;
    const double e1[3] = {2, 0, 3}, t1[3] = {4, 0, 2};
    const double e2[3] = {1, 1, 1}, t2[3] = {1, 1, 1}, e3[3] = {3, 0, 1}, t3[3] = {1, 0, 1};
    double c = 1e-3, a1[3], a2[3], s;

    CHECK_EQ_STR(bmx_mix_spec(m), "doremi:eta=1,c=0.001,vocab=8192");
    CHECK(bmx_mix_counts(m) == NULL);
    CHECK_EQ_INT(bmx_mix_observe_excess(m, e1, t1, &e), 0);
    step(m);
    s = exp(0.5) + 8192.0 + exp(1.5);
    a1[0] = (1 - c) * exp(0.5) / s + c / 3;
    a1[1] = (1 - c) * 8192.0 / s + c / 3;
    a1[2] = (1 - c) * exp(1.5) / s + c / 3;
    for (int i = 0; i < 3; i++) {
        CHECK_NEAR(a[i], a1[i], 1e-13);
        CHECK_NEAR(bar[i], (1.0 / 3 + a1[i]) / 2, 1e-13);
    }
    CHECK_NEAR(a[0], 0.0005342416462032809, 1e-12);
    CHECK_NEAR(a[1], 0.9985862996044026, 1e-12);
    CHECK_NEAR(bar[2], 0.1671063960413637, 1e-12);
    check_uniform3(m);
    CHECK_EQ_INT(bmx_mix_observe_excess(m, e2, t2, &e), 0);
    CHECK_EQ_INT(bmx_mix_observe_excess(m, e3, t3, &e), 0);
    step(m);
    double v[3] = {a1[0] * exp(2.0), a1[1] * exp(1.0), a1[2] * exp(1.0)};
    for (int i = 0; i < 3; i++) {
        a2[i] = mix3(v, c / 3, i);
        CHECK_NEAR(a[i], a2[i], 1e-13);
        CHECK_NEAR(bar[i], (1.0 / 3 + a1[i] + a2[i]) / 3, 1e-13);
    }
    CHECK_NEAR(a[0], 0.0017827699223702028, 1e-12);
    CHECK_NEAR(bar[0], 0.11188344830063561, 1e-12);
    CHECK_NEAR(bar[1], 0.7763085853893035, 1e-12);
    /* a round with no tokens keeps lambda: alpha_3 = 0.999 softmax(log alpha_2 + lambda) */
    step(m);
    v[0] = a2[0] * exp(2.0);
    v[1] = a2[1] * exp(1.0);
    v[2] = a2[2] * exp(1.0);
    for (int i = 0; i < 3; i++)
        CHECK_NEAR(a[i], mix3(v, c / 3, i), 1e-13);
    bmx_mix_free(m);
}

/* Static policies and exploit-only. */
static void test_hand_static_and_exploit(void)
{
    const double w[4] = {1, 0, 3, 4};
    bmx_mix *m = make("weights", 4, w, 1);
    const double *pi = bmx_mix_probs(m);

    CHECK_NEAR(pi[0], 0.125, 0);
    CHECK_EQ_INT(pi[1] == 0.0, 1);
    CHECK_NEAR(pi[3], 0.5, 0);
    for (int i = 0; i < 2000; i++)
        CHECK(bmx_mix_draw(m) != 1);
    obs(m, 2, 5.0);
    step(m);
    CHECK_NEAR(pi[3], 0.5, 0);
    CHECK(bmx_mix_estimates(m) == NULL);
    bmx_mix_free(m);

    /* exploit-only: scores (0.2, -1, 0.6, 0.2) -> pi = (0.2, 0, 0.6, 0.2); the scoring pass
     * draws the lowest unscored arm; later observations are ignored */
    m = make("exploit-only", 4, NULL, 1);
    pi = bmx_mix_probs(m);
    const double sc[4] = {0.2, -1, 0.6, 0.2};
    for (int i = 0; i < 4; i++) {
        CHECK_NEAR(pi[i], 0.25, 0);
        int a = bmx_mix_draw(m);
        CHECK_EQ_INT(a, i);
        obs(m, a, sc[a]);
    }
    CHECK_NEAR(pi[0], 0.2, 1e-15);
    CHECK_EQ_INT(pi[1] == 0.0, 1);
    CHECK_NEAR(pi[2], 0.6, 1e-15);
    CHECK_NEAR(pi[3], 0.2, 1e-15);
    obs(m, 1, 100.0);
    step(m);
    CHECK_NEAR(pi[2], 0.6, 1e-15);
    CHECK_NEAR(bmx_mix_estimates(m)[1], -1.0, 0);
    bmx_mix_free(m);

    /* no positive score: one-hot on the lowest index of the highest score; out-of-order
     * scoring still draws the lowest unscored arm */
    m = make("exploit-only", 3, NULL, 1);
    pi = bmx_mix_probs(m);
    obs(m, 1, -0.5);
    CHECK_EQ_INT(bmx_mix_draw(m), 0);
    obs(m, 0, -2.0);
    CHECK_EQ_INT(bmx_mix_draw(m), 2);
    obs(m, 2, -0.5);
    CHECK_EQ_INT(pi[1] == 1.0, 1);
    for (int i = 0; i < 20; i++)
        CHECK_EQ_INT(bmx_mix_draw(m), 1);
    bmx_mix_free(m);
}

/* ---- random runs ---- */

static int is_loss_policy(const bmx_mix *m)
{
    return strncmp(bmx_mix_name(m), "odm", 3) == 0;
}

/* Part of a round: g draws, each observed with a value from the driver. */
static void drive_obs(bmx_mix *m, bmx_rng *drv, int g, int *draws)
{
    int k = bmx_mix_arms(m);
    bmx_err e;

    if (strcmp(bmx_mix_name(m), "doremi") == 0) {
        double ex[300], tok[300];
        for (int j = 0; j < g; j++) {
            for (int i = 0; i < k; i++) {
                tok[i] = bmx_rng_double(drv) < 0.3 ? 0.0 : (double)(1 + bmx_rng_below(drv, 50));
                ex[i] = tok[i] > 0 ? tok[i] * 2.0 * bmx_rng_double(drv) : 0.0;
            }
            CHECK_EQ_INT(bmx_mix_observe_excess(m, ex, tok, &e), 0);
            draws[j] = bmx_mix_draw(m);
        }
        return;
    }
    for (int j = 0; j < g; j++) {
        int a = bmx_mix_draw(m);
        double v = bmx_rng_double(drv);
        CHECK(a >= 0 && a < k);
        CHECK_MSG(bmx_mix_probs(m)[a] > 0.0, "drew arm %d of probability 0", a);
        draws[j] = a;
        /* losses ~ [1, 4], with a per-arm offset; rewards in [0, 1] */
        if (is_loss_policy(m))
            v = 1.0 + 3.0 * v * (1.0 + a % 3) / 3.0;
        else
            v = v * (0.5 + 0.5 * (double)(a % 2));
        obs(m, a, v);
    }
}

/* eps at time s = S t (ALGORITHMS.md 2a's time scale S) */
static double eps_k(int k, double s)
{
    double e = sqrt(log((double)k) / ((double)k * s));
    return e < 1.0 / k ? e : 1.0 / k;
}

static void check_probs(const bmx_mix *m)
{
    const double *pi = bmx_mix_probs(m);
    int k = bmx_mix_arms(m);
    double s = 0.0;
    const char *n = bmx_mix_name(m);
    int floor = strcmp(n, "odm") == 0 || strcmp(n, "exp3") == 0;
    double eps = eps_k(k, bmx_mix_tscale(m) * (double)bmx_mix_round(m));

    for (int i = 0; i < k; i++) {
        CHECK_MSG(isfinite(pi[i]) && pi[i] >= 0.0, "%s: pi[%d] = %g", n, i, pi[i]);
        if (floor)
            CHECK_MSG(pi[i] >= eps * (1 - 1e-12), "%s t=%ld: pi[%d] = %.17g < eps %.17g", n,
                      bmx_mix_round(m), i, pi[i], eps);
        s += pi[i];
    }
    CHECK_MSG(fabs(s - 1.0) <= 1e-9, "%s k=%d: sum pi = %.17g", n, k, s);
}

static void test_random_invariants(void)
{
    bmx_rng drv;
    double w[300];
    int draws[8];

    bmx_rng_seed(&drv, 1234, 7);
    for (int rep = 0; rep < 3; rep++) {
        for (int si = 0; si < NSPECS; si++) {
            int k = 1 + (int)bmx_rng_below(&drv, 300);
            if (rep == 0)
                k = si % 3 == 0 ? 1 : k; /* K = 1 for some policies every run */
            for (int i = 0; i < k; i++)
                w[i] = bmx_rng_double(&drv) < 0.2 ? 0.0 : bmx_rng_double(&drv) * 10;
            w[0] = 1.0;
            bmx_mix *m = make(all_specs[si], k, w, 99 + (uint64_t)rep);
            check_probs(m);
            for (int t = 0; t < 150; t++) {
                drive_obs(m, &drv, 1 + (int)bmx_rng_below(&drv, 4), draws);
                step(m);
                check_probs(m);
                if (k == 1)
                    CHECK_EQ_INT(bmx_mix_probs(m)[0] == 1.0, 1);
            }
            CHECK_EQ_INT(bmx_mix_round(m), 151);
            bmx_mix_free(m);
        }
    }
}

static size_t save(const bmx_mix *m, unsigned char **buf)
{
    size_t len = 0, len2 = 0;
    bmx_err e;

    CHECK_EQ_INT(bmx_mix_save(m, NULL, 0, &len, &e), 0);
    *buf = malloc(len);
    CHECK(*buf != NULL);
    if (bmx_mix_save(m, *buf, len, &len2, &e) != 0)
        CHECK_FAILF("save: %s", e.msg);
    CHECK_EQ_INT(len2, len);
    return len;
}

/* Two handles given the same calls stay bit-identical: probs, draws, estimates. */
static void run_twins(bmx_mix *a, bmx_mix *b, bmx_rng *drv, int rounds)
{
    int k = bmx_mix_arms(a);
    int da[8], db[8];

    for (int t = 0; t < rounds; t++) {
        bmx_rng d2 = *drv;
        int g = 1 + (int)bmx_rng_below(drv, 3);
        bmx_rng_below(&d2, 3);
        drive_obs(a, drv, g, da);
        drive_obs(b, &d2, g, db);
        for (int j = 0; j < g; j++)
            CHECK_EQ_INT(da[j], db[j]);
        step(a);
        step(b);
        CHECK_MSG(memcmp(bmx_mix_probs(a), bmx_mix_probs(b), (size_t)k * sizeof(double)) == 0,
                  "%s: probs differ at round %d", bmx_mix_name(a), t);
        if (bmx_mix_estimates(a))
            CHECK(memcmp(bmx_mix_estimates(a), bmx_mix_estimates(b), (size_t)k * sizeof(double)) ==
                  0);
    }
    CHECK_EQ_INT(bmx_mix_round(a), bmx_mix_round(b));
}

static void test_save_load_continuation(void)
{
    bmx_rng drv;
    double w[300];
    int draws[8];
    bmx_err e;

    bmx_rng_seed(&drv, 555, 1);
    for (int si = 0; si < NSPECS; si++) {
        for (int rep = 0; rep < 2; rep++) {
            int k = 1 + (int)bmx_rng_below(&drv, 300);
            for (int i = 0; i < k; i++)
                w[i] = 0.1 + bmx_rng_double(&drv);
            bmx_mix *a = make(all_specs[si], k, w, 7);
            int pre = (int)bmx_rng_below(&drv, 40);
            for (int t = 0; t < pre; t++) {
                drive_obs(a, &drv, 1 + (int)bmx_rng_below(&drv, 3), draws);
                step(a);
            }
            /* mid-round (1-3 observations pending) on the first repetition, at a round
             * boundary or mid-round on the second */
            drive_obs(a, &drv, (int)bmx_rng_below(&drv, 3) + (rep == 0), draws);
            unsigned char *buf;
            size_t len = save(a, &buf);

            bmx_mix *b = NULL;
            if (bmx_mix_restore(&b, buf, len, &e) != 0)
                CHECK_FAILF("restore %s: %s", all_specs[si], e.msg);
            CHECK_EQ_STR(bmx_mix_spec(b), bmx_mix_spec(a));
            CHECK_EQ_INT(bmx_mix_round(b), bmx_mix_round(a));
            /* load into a fresh handle of the same policy (different seed and weights) */
            bmx_mix *c = make(all_specs[si], k, w + 0, 12345);
            if (bmx_mix_load(c, buf, len, &e) != 0)
                CHECK_FAILF("load %s: %s", all_specs[si], e.msg);
            unsigned char *buf2;
            size_t len2 = save(c, &buf2);
            CHECK_EQ_INT(len2, len);
            CHECK(memcmp(buf, buf2, len) == 0);
            free(buf2);

            bmx_rng d1 = drv, d2 = drv;
            run_twins(a, b, &d1, 200);
            bmx_mix_free(c);
            c = NULL;
            if (bmx_mix_restore(&c, buf, len, &e) != 0)
                CHECK_FAILF("restore %s: %s", all_specs[si], e.msg);
            bmx_mix *a2 = NULL;
            CHECK_EQ_INT(bmx_mix_restore(&a2, buf, len, &e), 0);
            run_twins(c, a2, &d2, 200);
            CHECK(memcmp(bmx_mix_probs(a), bmx_mix_probs(c), (size_t)k * sizeof(double)) == 0);
            free(buf);
            bmx_mix_free(a);
            bmx_mix_free(a2);
            bmx_mix_free(b);
            bmx_mix_free(c);
        }
    }
}

/* The same seed and calls give the same draws; another seed gives other draws. */
static void test_determinism(void)
{
    for (int si = 0; si < NSPECS; si++) {
        double w[20];
        for (int i = 0; i < 20; i++)
            w[i] = 1 + i;
        bmx_mix *a = make(all_specs[si], 20, w, 42), *b = make(all_specs[si], 20, w, 42);
        bmx_rng drv;
        bmx_rng_seed(&drv, 3, 0);
        run_twins(a, b, &drv, 100);
        bmx_mix_free(a);
        bmx_mix_free(b);
    }
    bmx_mix *a = make("uniform", 20, NULL, 1), *b = make("uniform", 20, NULL, 2);
    int same = 0;
    for (int i = 0; i < 100; i++)
        same += bmx_mix_draw(a) == bmx_mix_draw(b);
    CHECK(same < 30); /* P(same) = 1/20 per draw */
    bmx_mix_free(a);
    bmx_mix_free(b);
}

/* K = 100,000: every learning policy runs, sums to 1, saves and restores. */
static void test_large_k(void)
{
    const char *specs[] = {"odm", "odm-smoothed-mean", "exp3", "ucb1", "doremi"};
    const int k = 100000;
    double *ex = calloc(k, sizeof(double)), *tok = calloc(k, sizeof(double));
    bmx_err e;

    for (int si = 0; si < 5; si++) {
        bmx_mix *m = make(specs[si], k, NULL, 5);
        for (int t = 0; t < 5; t++) {
            if (si == 4) {
                for (int i = 0; i < k; i += 7) {
                    tok[i] = 10;
                    ex[i] = (double)(i % 13);
                }
                CHECK_EQ_INT(bmx_mix_observe_excess(m, ex, tok, &e), 0);
            } else {
                for (int j = 0; j < 50; j++) {
                    int a = bmx_mix_draw(m);
                    obs(m, a, 0.5 + 0.001 * (a % 100));
                }
            }
            step(m);
        }
        check_probs(m);
        unsigned char *buf;
        size_t len = save(m, &buf);
        bmx_mix *r = NULL;
        CHECK_EQ_INT(bmx_mix_restore(&r, buf, len, &e), 0);
        CHECK(memcmp(bmx_mix_probs(m), bmx_mix_probs(r), (size_t)k * sizeof(double)) == 0);
        free(buf);
        bmx_mix_free(r);
        bmx_mix_free(m);
    }
    free(ex);
    free(tok);
}

/* Every canonical spec parses back to itself. */
static void test_spec_round_trip(void)
{
    const double w[5] = {1, 2, 3, 4, 5};
    const char *odd[] = {"odm:alpha=0.123456789", "exp3:tscale=20,beta=1e-05",
                         "doremi:c=0,vocab=50257", "odm-smoothed-mean:warmup=100"};

    for (int si = 0; si < NSPECS; si++) {
        bmx_mix *m = make(all_specs[si], 5, w, 1);
        bmx_mix *n = make(bmx_mix_spec(m), 5, w, 1);
        CHECK_EQ_STR(bmx_mix_spec(n), bmx_mix_spec(m));
        CHECK_EQ_INT(strncmp(bmx_mix_spec(m), bmx_mix_name(m), strlen(bmx_mix_name(m))), 0);
        bmx_mix_free(m);
        bmx_mix_free(n);
    }
    bmx_mix *m = make(odd[0], 5, w, 1);
    CHECK_EQ_STR(bmx_mix_spec(m), "odm:alpha=0.123456789,tscale=1");
    bmx_mix_free(m);
    m = make(odd[1], 5, w, 1);
    CHECK_EQ_STR(bmx_mix_spec(m), "exp3:beta=1e-05,tscale=20");
    CHECK_NEAR(bmx_mix_tscale(m), 20, 0);
    bmx_mix_free(m);
    m = make(odd[2], 5, w, 1);
    CHECK_EQ_STR(bmx_mix_spec(m), "doremi:eta=1,c=0,vocab=50257");
    CHECK_NEAR(bmx_mix_estimates(m)[0], 1.0 / 15, 1e-15); /* alpha_0 = weights */
    bmx_mix_free(m);
    m = make(odd[3], 5, w, 1);
    CHECK_EQ_STR(bmx_mix_spec(m), "odm-smoothed-mean:alpha=0.5,warmup=100");
    CHECK_NEAR(bmx_mix_probs(m)[4], 5.0 / 15, 1e-15);
    bmx_mix_free(m);
}

int main(int argc, char **argv)
{
    static const struct check_case cases[] = {
        {"hand_odm", test_hand_odm},
        {"hand_odm_smoothed_mean", test_hand_odm_smoothed_mean},
        {"hand_exp3", test_hand_exp3},
        {"hand_exp3_smoothing", test_hand_exp3_smoothing},
        {"hand_exp3_tscale", test_hand_exp3_tscale},
        {"exp3_k45_uniform_rounds", test_exp3_k45_uniform_rounds},
        {"hand_ucb1", test_hand_ucb1},
        {"hand_ucb1_auer_t", test_hand_ucb1_auer_t},
        {"hand_ucb1_scoring_and_ties", test_hand_ucb1_scoring_and_ties},
        {"hand_doremi", test_hand_doremi},
        {"hand_static_and_exploit", test_hand_static_and_exploit},
        {"random_invariants", test_random_invariants},
        {"save_load_continuation", test_save_load_continuation},
        {"determinism", test_determinism},
        {"large_k", test_large_k},
        {"spec_round_trip", test_spec_round_trip},
        {0},
    };
    return check_main(argc, argv, cases);
}
