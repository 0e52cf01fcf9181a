/* The synthetic environments of bmx/sim.h against their formulas and statistics (fixed
 * seeds; bounds are several standard errors wide, so they hold for any seed in practice). */
#include "bmx/rng.h"
#include "bmx/sim.h"
#include "check.h"

static bmx_sim *make(bmx_sim_env env, int k, uint64_t seed, double noise)
{
    bmx_sim_config c;
    bmx_sim *s = NULL;
    bmx_err err = {0};

    bmx_sim_config_init(&c, env, k, seed);
    if (noise >= 0)
        c.noise = noise;
    CHECK_MSG(bmx_sim_create(&s, &c, &err) == BMX_OK, "create: %s", err.msg);
    return s;
}

static void test_parse(void)
{
    bmx_sim_env e;
    bmx_err err = {0};

    CHECK_EQ_INT(bmx_sim_env_parse("drifting", &e, &err), BMX_OK);
    CHECK_EQ_INT(e, BMX_SIM_DRIFTING);
    CHECK_EQ_STR(bmx_sim_env_name(BMX_SIM_LEARNABLE), "learnable");
    CHECK_EQ_INT(bmx_sim_env_parse("bandit", &e, &err), BMX_EINVAL);
    CHECK_CONTAINS(err.msg, "'bandit'");
    CHECK_CONTAINS(err.msg, "bernoulli, gaussian, drifting, learnable");
}

static void test_bad_config(void)
{
    bmx_sim_config c;
    bmx_sim *s = (bmx_sim *)1;
    bmx_err err = {0};

    bmx_sim_config_init(&c, BMX_SIM_BERNOULLI, 0, 1);
    CHECK_EQ_INT(bmx_sim_create(&s, &c, &err), BMX_EINVAL);
    CHECK(s == NULL);
    CHECK_CONTAINS(err.msg, "0 arms");
    bmx_sim_config_init(&c, BMX_SIM_LEARNABLE, 3, 1);
    c.tau_min = 50;
    c.tau_max = 10;
    CHECK_EQ_INT(bmx_sim_create(&s, &c, &err), BMX_EINVAL);
    CHECK_CONTAINS(err.msg, "tau_min <= tau_max");
    bmx_sim_config_init(&c, BMX_SIM_GAUSSIAN, 3, 1);
    c.noise = -1;
    CHECK_EQ_INT(bmx_sim_create(&s, &c, &err), BMX_EINVAL);
    CHECK_CONTAINS(err.msg, "noise");
}

/* Bernoulli: means in [0.1, 0.9]; 20000 pulls of each arm average to its mean within 5 standard
 * errors (sd <= 0.5/sqrt(20000) = 0.0035); loss = 1 - reward; excess against the best mean. */
static void test_bernoulli(void)
{
    bmx_sim *s = make(BMX_SIM_BERNOULLI, 5, 7, -1);
    const double *mu = bmx_sim_means(s);
    double best = 0;
    bmx_err err = {0};

    for (int a = 0; a < 5; a++) {
        CHECK(mu[a] >= 0.1 && mu[a] <= 0.9);
        best = fmax(best, mu[a]);
    }
    CHECK(bmx_sim_best(s) == best);
    CHECK(bmx_sim_is_bandit(s));
    for (int a = 0; a < 5; a++) {
        double sum = 0;
        for (int i = 0; i < 20000; i++) {
            bmx_sim_obs o;
            CHECK_EQ_INT(bmx_sim_pull(s, a, &o, &err), BMX_OK);
            CHECK(o.reward == 0.0 || o.reward == 1.0);
            CHECK(o.loss == 1.0 - o.reward);
            CHECK(o.excess == fmax(o.loss - (1.0 - best), 0.0));
            sum += o.reward;
        }
        CHECK_NEAR(sum / 20000, mu[a], 5 * 0.5 / sqrt(20000.0));
        CHECK(bmx_sim_counts(s)[a] == 20000);
    }
    CHECK_NEAR(bmx_sim_mean_loss(s), 1.0 - (mu[0] + mu[1] + mu[2] + mu[3] + mu[4]) / 5, 1e-15);
    bmx_sim_free(s);
}

/* Gaussian: sample mean within 5 standard errors, sample sd within 3% of noise. */
static void test_gaussian(void)
{
    bmx_sim *s = make(BMX_SIM_GAUSSIAN, 3, 11, 0.25);
    const double *mu = bmx_sim_means(s);
    bmx_err err = {0};

    for (int a = 0; a < 3; a++) {
        double sum = 0, sq = 0, n = 20000;
        CHECK(mu[a] >= 0.2 && mu[a] <= 0.8);
        for (int i = 0; i < (int)n; i++) {
            bmx_sim_obs o;
            CHECK_EQ_INT(bmx_sim_pull(s, a, &o, &err), BMX_OK);
            sum += o.reward;
            sq += (o.reward - mu[a]) * (o.reward - mu[a]);
        }
        CHECK_NEAR(sum / n, mu[a], 5 * 0.25 / sqrt(n));
        CHECK_NEAR(sqrt(sq / n), 0.25, 0.03 * 0.25);
    }
    bmx_sim_free(s);
}

/* Learnable without noise: every observed loss is the formula at the pull count exactly. */
static void test_learnable_formula(void)
{
    bmx_sim *s = make(BMX_SIM_LEARNABLE, 6, 3, 0.0);
    const double *fl = bmx_sim_floors(s), *st = bmx_sim_starts(s), *tau = bmx_sim_taus(s);
    bmx_rng r;
    bmx_err err = {0};
    int n[6] = {0};

    CHECK(!bmx_sim_is_bandit(s));
    bmx_rng_seed(&r, 99, 0);
    for (int i = 0; i < 3000; i++) {
        int a = (int)bmx_rng_below(&r, 6);
        bmx_sim_obs o;
        double want = fl[a] + (st[a] - fl[a]) * exp(-n[a] / tau[a]);
        CHECK(bmx_sim_means(s)[a] == want);
        CHECK_EQ_INT(bmx_sim_pull(s, a, &o, &err), BMX_OK);
        CHECK(o.loss == want);
        CHECK(o.reward == want);
        CHECK(o.excess == want - fl[a]);
        n[a]++;
    }
    {
        double mean = 0, best = INFINITY;
        for (int a = 0; a < 6; a++) {
            double l = fl[a] + (st[a] - fl[a]) * exp(-n[a] / tau[a]);
            CHECK(bmx_sim_counts(s)[a] == n[a]);
            mean += l / 6;
            best = fmin(best, l);
        }
        CHECK_NEAR(bmx_sim_mean_loss(s), mean, 1e-15);
        CHECK(bmx_sim_best(s) == best);
    }
    bmx_sim_free(s);
}

/* Learnable parameters: floors in [1, 2], starts - floors in [2, 4], taus log-spread from tau_min
 * to tau_max (each of the 9 evenly spaced exponents used once, in shuffled order). */
static void test_learnable_params(void)
{
    bmx_sim *s = make(BMX_SIM_LEARNABLE, 9, 5, -1);
    const double *fl = bmx_sim_floors(s), *st = bmx_sim_starts(s), *tau = bmx_sim_taus(s);
    int seen[9] = {0}, moved = 0;

    for (int a = 0; a < 9; a++) {
        double u = log(tau[a] / 20.0) / log(100.0) * 8;
        int j = (int)lround(u);
        CHECK(fl[a] >= 1 && fl[a] <= 2);
        CHECK(st[a] - fl[a] >= 2 && st[a] - fl[a] <= 4);
        CHECK_NEAR(u, j, 1e-9);
        CHECK(j >= 0 && j < 9);
        seen[j]++;
        moved += j != a;
    }
    for (int j = 0; j < 9; j++)
        CHECK_EQ_INT(seen[j], 1);
    CHECK(moved > 0);
    bmx_sim_free(s);
}

/* Learnable noise: loss - expected loss has mean ~0 and sd ~noise (before clipping, which
 * cannot happen with floors >= 1 and noise 0.05). */
static void test_learnable_noise(void)
{
    bmx_sim *s = make(BMX_SIM_LEARNABLE, 2, 8, 0.05);
    double sum = 0, sq = 0, n = 20000;
    bmx_err err = {0};

    for (int i = 0; i < (int)n; i++) {
        bmx_sim_obs o;
        double want = bmx_sim_means(s)[i & 1];
        CHECK_EQ_INT(bmx_sim_pull(s, i & 1, &o, &err), BMX_OK);
        sum += o.loss - want;
        sq += (o.loss - want) * (o.loss - want);
    }
    CHECK_NEAR(sum / n, 0.0, 5 * 0.05 / sqrt(n));
    CHECK_NEAR(sqrt(sq / n), 0.05, 0.03 * 0.05);
    bmx_sim_free(s);
}

/* Drifting: means follow 0.5 + 0.35 sin(2 pi t / P + phi) round by round; same seed, same run;
 * another seed, another run. */
static void test_drifting(void)
{
    bmx_sim *a = make(BMX_SIM_DRIFTING, 4, 21, -1), *b = make(BMX_SIM_DRIFTING, 4, 21, -1);
    bmx_sim *c = make(BMX_SIM_DRIFTING, 4, 22, -1);
    const double *P = bmx_sim_periods(a), *phi = bmx_sim_phases(a);
    bmx_err err = {0};
    int differ = 0;
    double lo[4], hi[4];

    for (int i = 0; i < 4; i++)
        lo[i] = 1, hi[i] = 0;
    for (int i = 0; i < 4; i++)
        CHECK(P[i] >= 500 && P[i] <= 1500 && phi[i] >= 0 && phi[i] < 2 * M_PI);
    for (int t = 1; t <= 600; t++) {
        CHECK_EQ_INT(bmx_sim_round(a), t);
        for (int i = 0; i < 4; i++) {
            double want = 0.5 + 0.35 * sin(2 * M_PI * t / P[i] + phi[i]);
            CHECK_NEAR(bmx_sim_means(a)[i], want, 1e-15);
            CHECK(bmx_sim_means(a)[i] == bmx_sim_means(b)[i]);
            differ += bmx_sim_means(a)[i] != bmx_sim_means(c)[i];
            lo[i] = fmin(lo[i], bmx_sim_means(a)[i]);
            hi[i] = fmax(hi[i], bmx_sim_means(a)[i]);
        }
        for (int g = 0; g < 3; g++) {
            bmx_sim_obs oa, ob, oc;
            CHECK_EQ_INT(bmx_sim_pull(a, (t + g) % 4, &oa, &err), BMX_OK);
            CHECK_EQ_INT(bmx_sim_pull(b, (t + g) % 4, &ob, &err), BMX_OK);
            CHECK_EQ_INT(bmx_sim_pull(c, (t + g) % 4, &oc, &err), BMX_OK);
            CHECK(oa.reward == ob.reward && oa.loss == ob.loss && oa.excess == ob.excess);
        }
        bmx_sim_advance(a);
        bmx_sim_advance(b);
        bmx_sim_advance(c);
    }
    CHECK(differ > 2000);
    /* The means really move: 600 rounds are >= 0.4 of a period, a window over which a sine of
     * amplitude 0.35 spans at least 0.35 (1 - cos(72 deg)) = 0.24. */
    for (int i = 0; i < 4; i++)
        CHECK(hi[i] - lo[i] > 0.2 && lo[i] >= 0.15 && hi[i] <= 0.85);
    bmx_sim_free(a);
    bmx_sim_free(b);
    bmx_sim_free(c);
}

static void test_pull_range(void)
{
    bmx_sim *s = make(BMX_SIM_LEARNABLE, 3, 1, -1);
    bmx_sim_obs o;
    bmx_err err = {0};
    double before = bmx_sim_means(s)[2];

    CHECK_EQ_INT(bmx_sim_pull(s, 3, &o, &err), BMX_EINVAL);
    CHECK_CONTAINS(err.msg, "arm 3 out of range [0, 3)");
    CHECK_EQ_INT(bmx_sim_pull(s, -1, &o, &err), BMX_EINVAL);
    CHECK(bmx_sim_means(s)[2] == before);
    CHECK(bmx_sim_counts(s)[2] == 0);
    bmx_sim_free(s);
}

/* The same seed gives the same arms whatever the noise: parameters and noise are separate
 * streams. */
static void test_streams(void)
{
    bmx_sim *a = make(BMX_SIM_LEARNABLE, 5, 4, 0.0), *b = make(BMX_SIM_LEARNABLE, 5, 4, 0.3);

    for (int i = 0; i < 5; i++) {
        CHECK(bmx_sim_floors(a)[i] == bmx_sim_floors(b)[i]);
        CHECK(bmx_sim_taus(a)[i] == bmx_sim_taus(b)[i]);
        CHECK(bmx_sim_sizes(a)[i] == bmx_sim_sizes(b)[i]);
        CHECK(bmx_sim_sizes(a)[i] >= 1);
    }
    bmx_sim_free(a);
    bmx_sim_free(b);
}

int main(int argc, char **argv)
{
    static const struct check_case cases[] = {
        {"parse", test_parse},
        {"bad_config", test_bad_config},
        {"bernoulli", test_bernoulli},
        {"gaussian", test_gaussian},
        {"learnable_formula", test_learnable_formula},
        {"learnable_params", test_learnable_params},
        {"learnable_noise", test_learnable_noise},
        {"drifting", test_drifting},
        {"pull_range", test_pull_range},
        {"streams", test_streams},
        {0},
    };
    return check_main(argc, argv, cases);
}
