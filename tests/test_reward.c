/* Rewards: GA, GMS, AGG on hand-made gradients; accumulation; names. */
#include "bmx/mix.h"
#include "bmx/rng.h"
#include "check.h"

static bmx_grad_stats stats(const float *a, const float *b, size_t n)
{
    bmx_grad_stats s = {0, 0, 0};

    bmx_grad_stats_add(&s, a, b, n);
    return s;
}

/* Orthogonal: GA = 0; |a| = |b| -> GMS = 1; AGG = 1/2 + 1. */
static void test_orthogonal(void)
{
    const float a[3] = {1, 0, 0}, b[3] = {0, 1, 0};
    bmx_grad_stats s = stats(a, b, 3);

    CHECK_NEAR(bmx_reward_ga(&s), 0.0, 0);
    CHECK_NEAR(bmx_reward_gms(&s), 1.0, 1e-15);
    CHECK_NEAR(bmx_reward_agg(&s), 1.5, 1e-15);
}

/* Parallel, b = 2a: GA = 1; GMS = 2 * 1 * 2 / (1 + 4) = 0.8; AGG = 1 + 0.8. */
static void test_parallel_scaled(void)
{
    const float a[4] = {0.6f, 0, -0.8f, 0}, b[4] = {1.2f, 0, -1.6f, 0};
    bmx_grad_stats s = stats(a, b, 4);

    CHECK_NEAR(bmx_reward_ga(&s), 1.0, 1e-7); /* float inputs: 0.6f is not 0.6 */
    CHECK(bmx_reward_ga(&s) <= 1.0);
    CHECK_NEAR(bmx_reward_gms(&s), 0.8, 1e-7);
    CHECK_NEAR(bmx_reward_agg(&s), 1.8, 1e-7);
    /* exactly representable: a = (3, 4), b = (6, 8): |a| = 5, |b| = 10 */
    const float c[2] = {3, 4}, d[2] = {6, 8};
    s = stats(c, d, 2);
    CHECK_NEAR(bmx_reward_ga(&s), 1.0, 0);
    CHECK_NEAR(bmx_reward_gms(&s), 100.0 / 125.0, 1e-16);
    CHECK_NEAR(bmx_reward_agg(&s), 1.0 + 0.8, 1e-15);
    /* equal vectors: GMS = 1, AGG = 2, the maximum */
    s = stats(c, c, 2);
    CHECK_NEAR(bmx_reward_agg(&s), 2.0, 0);
}

/* Anti-parallel, b = -3a: GA = -1; GMS = 2 * 3 / 10 = 0.6; AGG = 0 + 0.6. */
static void test_antiparallel(void)
{
    const float a[2] = {1, 2}, b[2] = {-3, -6};
    bmx_grad_stats s = stats(a, b, 2);

    CHECK_NEAR(bmx_reward_ga(&s), -1.0, 1e-15);
    CHECK_NEAR(bmx_reward_gms(&s), 0.6, 1e-15);
    CHECK_NEAR(bmx_reward_agg(&s), 0.6, 1e-15);
    /* 60 degrees: a = (1, 0), b = (1, sqrt 3) -> GA = 1/2; |b| = 2 -> GMS = 4 / 5 */
    const float c[2] = {1, 0}, d[2] = {1, 1.7320508f};
    s = stats(c, d, 2);
    CHECK_NEAR(bmx_reward_ga(&s), 0.5, 1e-7);
    CHECK_NEAR(bmx_reward_gms(&s), 0.8, 1e-7);
    CHECK_NEAR(bmx_reward_agg(&s), 0.75 + 0.8, 1e-7);
}

/* A zero-norm vector gives 0, never NaN, for every gradient reward. */
static void test_zero_norm(void)
{
    const float z[3] = {0, 0, 0}, a[3] = {1, 2, 3};
    bmx_grad_stats s = stats(z, a, 3), t = stats(a, z, 3), u = stats(z, z, 3);
    bmx_grad_stats empty = {0, 0, 0};

    for (int r = BMX_REWARD_GA; r <= BMX_REWARD_AGG; r++) {
        CHECK_EQ_INT(bmx_reward_value((bmx_reward)r, &s, 0) == 0.0, 1);
        CHECK_EQ_INT(bmx_reward_value((bmx_reward)r, &t, 0) == 0.0, 1);
        CHECK_EQ_INT(bmx_reward_value((bmx_reward)r, &u, 0) == 0.0, 1);
        CHECK_EQ_INT(bmx_reward_value((bmx_reward)r, &empty, 0) == 0.0, 1);
        CHECK_EQ_INT(bmx_reward_value((bmx_reward)r, NULL, 0) == 0.0, 1);
    }
}

static void test_loss_rewards(void)
{
    const float a[1] = {1}, b[1] = {-1};
    bmx_grad_stats s = stats(a, b, 1);

    CHECK_NEAR(bmx_reward_value(BMX_REWARD_LOSS, NULL, 2.5), 2.5, 0);
    CHECK_NEAR(bmx_reward_value(BMX_REWARD_EXP_LOSS, NULL, 1.0), 2.718281828459045, 1e-15);
    CHECK_NEAR(bmx_reward_value(BMX_REWARD_EXP_LOSS, &s, 0.0), 1.0, 0);
    CHECK_NEAR(bmx_reward_value(BMX_REWARD_GA, &s, 7.0), -1.0, 0);
}

/* Feeding sub-ranges in order gives exactly the sums of the whole. */
static void test_subranges(void)
{
    enum { N = 10007 };
    static float a[N], b[N];
    bmx_rng r;
    bmx_grad_stats whole, parts = {0, 0, 0};

    bmx_rng_seed(&r, 17, 0);
    for (int i = 0; i < N; i++) {
        a[i] = (float)bmx_rng_normal(&r);
        b[i] = (float)(0.3 * a[i] + bmx_rng_normal(&r));
    }
    whole = stats(a, b, N);
    bmx_grad_stats_add(&parts, a, b, 1);
    bmx_grad_stats_add(&parts, a + 1, b + 1, 0);
    bmx_grad_stats_add(&parts, a + 1, b + 1, 4999);
    bmx_grad_stats_add(&parts, a + 5000, b + 5000, N - 5000);
    CHECK_EQ_INT(memcmp(&whole, &parts, sizeof whole), 0);
    /* correlation 0.3 / sqrt(1.09) = 0.287; sd of the estimate ~ 0.01 */
    CHECK_NEAR(bmx_reward_ga(&whole), 0.3 / sqrt(1.09), 0.05);
}

/* Double accumulation: a float sum of 2^24 + n ones would stall at 2^24; ours matches a long
 * double reference to double precision. */
static void test_double_accumulation(void)
{
    enum { N = 3000000 };
    float *a = malloc(N * sizeof(float)), *b = malloc(N * sizeof(float));
    long double ab = 0, aa = 0, bb = 0;
    bmx_rng r;

    CHECK(a && b);
    bmx_rng_seed(&r, 23, 0);
    for (int i = 0; i < N; i++) {
        a[i] = 1.0f + (float)bmx_rng_double(&r) * 1e-3f;
        b[i] = (float)bmx_rng_double(&r) - 0.25f;
        ab += (long double)a[i] * b[i];
        aa += (long double)a[i] * a[i];
        bb += (long double)b[i] * b[i];
    }
    bmx_grad_stats s = stats(a, b, N);
    CHECK_NEAR(s.aa, (double)aa, 1e-12);
    CHECK_NEAR(s.bb, (double)bb, 1e-12);
    CHECK_NEAR(s.ab, (double)ab, 1e-11);
    /* a float accumulator is far off here, so double accumulation is what the check sees */
    float fa = 0;
    for (int i = 0; i < N; i++)
        fa += a[i] * a[i];
    CHECK(fabs(fa - (double)aa) > 1e-4 * (double)aa);
    free(a);
    free(b);
}

static void test_names(void)
{
    bmx_reward r;
    bmx_err e;

    for (int i = BMX_REWARD_LOSS; i <= BMX_REWARD_AGG; i++) {
        CHECK_EQ_INT(bmx_reward_parse(bmx_reward_name((bmx_reward)i), &r, &e), 0);
        CHECK_EQ_INT(r, i);
    }
    CHECK_EQ_STR(bmx_reward_name(BMX_REWARD_EXP_LOSS), "exp-loss");
    CHECK_EQ_STR(bmx_reward_name(BMX_REWARD_AGG), "agg");
    r = BMX_REWARD_GMS;
    CHECK_EQ_INT(bmx_reward_parse("cosine", &r, &e), BMX_EINVAL);
    CHECK_EQ_INT(r, BMX_REWARD_GMS);
    CHECK_CONTAINS(e.msg, "cosine");
    CHECK_CONTAINS(e.msg, "ga, gms, agg");
    CHECK_EQ_INT(bmx_reward_parse("AGG", &r, &e), BMX_EINVAL);
    CHECK_EQ_INT(bmx_reward_parse(NULL, &r, &e), BMX_EINVAL);
}

int main(int argc, char **argv)
{
    static const struct check_case cases[] = {
        {"orthogonal", test_orthogonal},
        {"parallel_scaled", test_parallel_scaled},
        {"antiparallel", test_antiparallel},
        {"zero_norm", test_zero_norm},
        {"loss_rewards", test_loss_rewards},
        {"subranges", test_subranges},
        {"double_accumulation", test_double_accumulation},
        {"names", test_names},
        {0},
    };
    return check_main(argc, argv, cases);
}
