/* What each policy consumes (bmx_mix_observes, bmx_mix_spec_observes, bmx_mix_round_mean),
 * the policy name list, and drawing with the caller's generator (bmx_mix_draw_rng). */
#include "bmx/mix.h"
#include "check.h"

static const struct {
    const char *name;
    bmx_mix_obs obs;
    int mean;
} want[] = {
    {"uniform", BMX_MIX_OBS_NONE, 0},
    {"natural", BMX_MIX_OBS_NONE, 0},
    {"weights", BMX_MIX_OBS_NONE, 0},
    {"odm", BMX_MIX_OBS_LOSS, 0},
    {"odm-smoothed-mean", BMX_MIX_OBS_LOSS, 1},
    {"exp3", BMX_MIX_OBS_REWARD, 0},
    {"ucb1", BMX_MIX_OBS_REWARD, 0},
    {"explore-only", BMX_MIX_OBS_NONE, 0},
    {"exploit-only", BMX_MIX_OBS_REWARD, 0},
    {"doremi", BMX_MIX_OBS_EXCESS, 0},
    {"temperature", BMX_MIX_OBS_NONE, 0},
    {"ado", BMX_MIX_OBS_LOSS, 0},
    {"aioli", BMX_MIX_OBS_LOSS, 0},
};
#define NWANT ((int)(sizeof want / sizeof want[0]))

static void test_observes(void)
{
    const double w[3] = {1, 2, 3};
    for (int i = 0; i < NWANT; i++) {
        bmx_mix *m = NULL;
        bmx_err e;
        CHECK_EQ_INT(bmx_mix_create(&m, want[i].name, 3, w, 1, &e), 0);
        CHECK_EQ_INT((int)bmx_mix_observes(m), (int)want[i].obs);
        CHECK_EQ_INT(bmx_mix_round_mean(m), want[i].mean);
        CHECK_EQ_INT(bmx_mix_spec_observes(want[i].name), (int)want[i].obs);
        bmx_mix_free(m);
    }
    CHECK_EQ_INT(bmx_mix_spec_observes("odm:alpha=0.5"), BMX_MIX_OBS_LOSS);
    CHECK_EQ_INT(bmx_mix_spec_observes("doremi:eta=2"), BMX_MIX_OBS_EXCESS);
    CHECK_EQ_INT(bmx_mix_spec_observes("odmx"), -1);
    CHECK_EQ_INT(bmx_mix_spec_observes("od"), -1);
    CHECK_EQ_INT(bmx_mix_spec_observes(""), -1);
    CHECK_EQ_STR(bmx_mix_obs_name(BMX_MIX_OBS_NONE), "none");
    CHECK_EQ_STR(bmx_mix_obs_name(BMX_MIX_OBS_LOSS), "loss");
    CHECK_EQ_STR(bmx_mix_obs_name(BMX_MIX_OBS_REWARD), "reward");
    CHECK_EQ_STR(bmx_mix_obs_name(BMX_MIX_OBS_EXCESS), "excess");
}

static void test_names(void)
{
    int n = 0;
    while (bmx_mix_policy_name(n))
        n++;
    CHECK_EQ_INT(n, NWANT);
    for (int i = 0; i < NWANT && i < n; i++)
        CHECK_EQ_STR(bmx_mix_policy_name(i), want[i].name);
    CHECK(bmx_mix_policy_name(-1) == NULL);
}

/* draw_rng follows draw's rule on the caller's generator and leaves the policy's alone. */
static void test_draw_rng(void)
{
    bmx_mix *m = NULL, *twin = NULL;
    bmx_err e;
    bmx_rng a, b;
    int counts[4] = {0};

    CHECK_EQ_INT(bmx_mix_create(&m, "weights", 4, (const double[]){1, 0, 3, 4}, 7, &e), 0);
    CHECK_EQ_INT(bmx_mix_create(&twin, "weights", 4, (const double[]){1, 0, 3, 4}, 7, &e), 0);
    bmx_rng_seed(&a, 99, 3);
    bmx_rng_seed(&b, 99, 3);
    for (int i = 0; i < 4000; i++) {
        int x = bmx_mix_draw_rng(m, &a);
        /* the same categorical over pi's cumulative sum, one double per draw */
        double cdf[4] = {0.125, 0.125, 0.5, 1.0};
        CHECK_EQ_INT(x, (int)bmx_rng_categorical_cdf(&b, cdf, 4));
        counts[x]++;
    }
    CHECK_EQ_INT(counts[1], 0);
    /* 4000 draws at p = 1/8: sd ~ 21, so 500 +- 105 is five sd */
    CHECK(counts[0] > 395 && counts[0] < 605);
    /* the policy's own generator did not move: its draws equal an untouched twin's */
    for (int i = 0; i < 50; i++)
        CHECK_EQ_INT(bmx_mix_draw(m), bmx_mix_draw(twin));
    bmx_mix_free(m);
    bmx_mix_free(twin);

    /* ucb1 draws its one-hot arm without consuming the caller's randomness */
    CHECK_EQ_INT(bmx_mix_create(&m, "ucb1", 3, NULL, 1, &e), 0);
    bmx_rng_seed(&a, 5, 0);
    bmx_rng_seed(&b, 5, 0);
    CHECK_EQ_INT(bmx_mix_draw_rng(m, &a), 0);
    CHECK(bmx_rng_u64(&a) == bmx_rng_u64(&b));
    bmx_mix_free(m);
}

int main(int argc, char **argv)
{
    static const struct check_case cases[] = {
        {"observes", test_observes}, {"names", test_names}, {"draw_rng", test_draw_rng}, {0}};
    return check_main(argc, argv, cases);
}
