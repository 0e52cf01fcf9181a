/* Sections 5-7 (temperature, min-prob, max-epochs, ado, aioli) beyond the reference
 * fixtures of test_mix_ref: errors that name what is wrong, hand-computed values, a state
 * saved after ado's fits and in the middle of an aioli round continuing bit for bit, and
 * the caller's parallel hook giving the same fit as the serial loop. */
#include "bmx/mix.h"
#include "check.h"

static bmx_mix *make_data(const char *spec, int k, const double *w, const bmx_mix_data *d)
{
    bmx_mix *m = NULL;
    bmx_err e;
    CHECK_MSG(bmx_mix_create_data(&m, spec, k, w, d, 7, &e) == 0, "%s: %s", spec, e.msg);
    return m;
}

static void create_fails(const char *spec, int k, const double *w, const bmx_mix_data *d,
                         const char *n1)
{
    bmx_mix *m = NULL;
    bmx_err e;
    bmx_err_clear(&e);
    CHECK_MSG(bmx_mix_create_data(&m, spec, k, w, d, 1, &e) == BMX_EINVAL, "%s did not fail", spec);
    CHECK(m == NULL);
    CHECK_CONTAINS(e.msg, n1);
}

static void test_create_errors(void)
{
    const double w3[3] = {1, 2, 3}, bad[3] = {1, -1, 2};
    bmx_mix_data d = {w3, 1, 1}, dbad = {bad, 1, 1}, dneg = {w3, -1, 1};
    create_fails("odm:max-epochs=2", 3, NULL, NULL, "needs each arm's training tokens");
    create_fails("odm:min-prob=1.5", 3, NULL, NULL, "min-prob = 1.5");
    create_fails("odm:max-epochs=-1", 3, NULL, &d, "max-epochs = -1");
    create_fails("odm:max-epochs=1", 3, NULL, &dbad, "tokens[1] = -1");
    create_fails("odm", 3, NULL, &dneg, "draw_tokens = -1");
    create_fails("temperature:tau=0", 3, w3, NULL, "tau = 0");
    create_fails("temperature", 3, NULL, NULL, "needs weights");
    create_fails("ado", 3, NULL, NULL, "needs weights");
    create_fails("ado:interval=0", 3, w3, NULL, "interval = 0");
    create_fails("aioli", 1, NULL, NULL, "at least 2 groups");
    create_fails("aioli:interval=48", 3, NULL, NULL, "is not below interval = 48");
    create_fails("aioli:f=0", 3, NULL, NULL, "f = 0");
    create_fails("aioli:gamma=1", 3, NULL, NULL, "gamma = 1");
    create_fails("aioli:tau=2", 3, NULL, NULL, "unknown key");
    /* the canonical spec lists the constraints only when set */
    bmx_mix *m = make_data("odm:max-epochs=2,min-prob=0.05", 3, NULL, &d);
    CHECK_EQ_STR(bmx_mix_spec(m), "odm:alpha=0.9,tscale=1,min-prob=0.05,max-epochs=2");
    bmx_mix_free(m);
    m = make_data("aioli", 3, NULL, NULL);
    CHECK_EQ_STR(bmx_mix_spec(m),
                 "aioli:eta=0.2,warmup=0,interval=250,rounds=4,probe=4,f=0.625,gamma=0.1");
    bmx_mix_free(m);
}

/* temperature by hand: n = (1, 4, 0, 9), tau = 2: sqrt -> (1, 2, 0, 3) / 6 */
static void test_temperature_values(void)
{
    const double n[4] = {1, 4, 0, 9};
    bmx_mix *m = make_data("temperature:tau=2", 4, n, NULL);
    const double *p = bmx_mix_probs(m);
    CHECK_NEAR(p[0], 1.0 / 6, 1e-15);
    CHECK_NEAR(p[1], 2.0 / 6, 1e-15);
    CHECK_EQ_INT(p[2] == 0.0, 1);
    CHECK_NEAR(p[3], 3.0 / 6, 1e-15);
    for (int i = 0; i < 200; i++)
        CHECK(bmx_mix_draw(m) != 2);
    bmx_mix_free(m);
    m = make_data("temperature:tau=1e6", 4, n, NULL); /* -> uniform over n > 0 */
    CHECK_NEAR(bmx_mix_probs(m)[0], 1.0 / 3, 1e-5);
    bmx_mix_free(m);
}

/* min-prob by hand: pi = (0.7, 0.25, 0.05), D = 0.1: (0.7, 0.25, 0.1) / 1.05; the policy's pi
 * is unchanged. max-epochs: arm 0 of 10 tokens, 5 a draw, E = 1: capped after 2 draws. */
static void test_constraints_values(void)
{
    const double w[3] = {0.7, 0.25, 0.05}, tok[3] = {10, 1e9, 1e9};
    bmx_mix_data d = {tok, 5, 1};
    bmx_mix *m = make_data("weights:min-prob=0.1,max-epochs=1", 3, w, &d);
    const double *dp = bmx_mix_draw_probs(m);
    CHECK_NEAR(dp[0], 0.7 / 1.05, 1e-15);
    CHECK_NEAR(dp[2], 0.1 / 1.05, 1e-15);
    CHECK_NEAR(bmx_mix_probs(m)[2], 0.05, 0);
    int n0 = 0;
    for (int i = 0; i < 100; i++) {
        int a = bmx_mix_draw(m);
        CHECK(a >= 0);
        n0 += a == 0;
        CHECK_MSG(n0 <= 2, "arm 0 drawn %d times after its cap", n0);
    }
    CHECK_EQ_INT(n0, 2);
    CHECK_NEAR(bmx_mix_drawn(m)[0], 10, 0);
    CHECK_EQ_INT(bmx_mix_draw_probs(m)[0] == 0.0, 1);
    CHECK_NEAR(bmx_mix_draw_probs(m)[1], 0.25 / 0.35, 1e-15);
    CHECK_EQ_INT(bmx_mix_exhausted(m), 0);
    bmx_mix_free(m);
    /* every arm capped: draw -1, exhausted */
    const double t2[2] = {10, 10};
    bmx_mix_data d2 = {t2, 10, 1};
    m = make_data("uniform:max-epochs=1", 2, NULL, &d2);
    int a = bmx_mix_draw(m), b = bmx_mix_draw(m);
    CHECK(a != b);
    CHECK_EQ_INT(bmx_mix_draw(m), -1);
    CHECK_EQ_INT(bmx_mix_exhausted(m), 1);
    bmx_mix_free(m);
}

static void drive_ado(bmx_mix *m, int steps, int g)
{
    bmx_err e;
    for (int s = 0; s < steps; s++) {
        for (int j = 0; j < g; j++) {
            int a = bmx_mix_draw(m);
            double n = (double)bmx_mix_round(m) * 4.0 + a;
            CHECK_EQ_INT(bmx_mix_observe(m, a, 1.5 + a * 0.2 + 3.0 * pow(n + 50.0, -0.4), &e), 0);
        }
        CHECK_MSG(bmx_mix_step(m, &e) == 0, "%s", e.msg);
    }
}

static void serial(void *ctx, int n, bmx_mix_task task, void *arg)
{
    int *calls = ctx;
    (*calls)++;
    for (int i = n - 1; i >= 0; i--) /* any order gives the same result */
        task(arg, i);
}

/* ado: no fit before the first t >= W + U with t % U == 0; a state saved after the fit continues
 * bit for bit; the parallel hook gives the same fit; a step without observations fails. */
static void test_ado_state_and_hook(void)
{
    const double w[3] = {3, 1, 2};
    bmx_mix *m = make_data("ado:warmup=5,interval=10", 3, w, NULL), *r = NULL, *h;
    bmx_err e;
    int calls = 0;

    CHECK_NEAR(bmx_mix_probs(m)[0], 0.5, 1e-15);
    /* fits at t >= W + U with t % U == 0 (the spec's condition): t = 20, 30, 40 */
    drive_ado(m, 20, 3);
    CHECK(bmx_mix_fit(m) == NULL);
    drive_ado(m, 1, 3);
    CHECK(bmx_mix_fit(m) != NULL);
    size_t len;
    CHECK_EQ_INT(bmx_mix_save(m, NULL, 0, &len, &e), 0);
    unsigned char *buf = malloc(len);
    CHECK_EQ_INT(bmx_mix_save(m, buf, len, &len, &e), 0);
    CHECK_MSG(bmx_mix_restore(&r, buf, len, &e) == 0, "%s", e.msg);
    h = make_data("ado:warmup=5,interval=10", 3, w, NULL);
    CHECK_MSG(bmx_mix_load(h, buf, len, &e) == 0, "%s", e.msg);
    bmx_mix_set_parallel(h, serial, &calls);
    drive_ado(m, 20, 3); /* t = 21..40: fits at 30 and 40 */
    drive_ado(r, 20, 3);
    drive_ado(h, 20, 3);
    CHECK_EQ_INT(calls, 2);
    CHECK(memcmp(bmx_mix_fit(m), bmx_mix_fit(r), 9 * sizeof(double)) == 0);
    CHECK(memcmp(bmx_mix_fit(m), bmx_mix_fit(h), 9 * sizeof(double)) == 0);
    CHECK(memcmp(bmx_mix_probs(m), bmx_mix_probs(r), 3 * sizeof(double)) == 0);
    /* the fitted exponents are those of a decreasing law */
    for (int i = 0; i < 3; i++)
        CHECK_MSG(bmx_mix_fit(m)[3 * i + 2] > 0.0, "alpha_%d = %g", i, bmx_mix_fit(m)[3 * i + 2]);
    CHECK_EQ_INT(bmx_mix_step(m, &e), BMX_ESTATE);
    CHECK_CONTAINS(e.msg, "without observations");
    free(buf);
    bmx_mix_free(m);
    bmx_mix_free(r);
    bmx_mix_free(h);
}

/* aioli: validation is due at the start and after each probe; a step while it is due fails;
 * a state saved mid-round continues bit for bit. f = 1, R = 1, S = 1, K = 2, U = 5: probes
 * one-hot; A = M from the drops of the losses, by hand below. */
static void test_aioli_flow(void)
{
    bmx_mix *m = make_data("aioli:f=1,rounds=1,probe=1,interval=5,eta=1,gamma=0", 2, NULL, NULL);
    bmx_err e;
    double L0[2] = {3.0, 3.0};

    CHECK_EQ_INT(bmx_mix_needs_validation(m), 1);
    CHECK_EQ_INT(bmx_mix_step(m, &e), BMX_ESTATE);
    CHECK_CONTAINS(e.msg, "validation losses are due");
    CHECK_EQ_INT(bmx_mix_observe_validation(m, L0, &e), 0);
    CHECK_EQ_INT(bmx_mix_probing(m), 1);
    int j0 = bmx_mix_draw(m);
    CHECK(bmx_mix_probs(m)[j0] == 1.0); /* f = 1: only the probed group */
    CHECK_EQ_INT(bmx_mix_step(m, &e), 0);
    CHECK_EQ_INT(bmx_mix_needs_validation(m), 1);
    /* probe j0 lowered group j0's loss by 0.4 and the other's by 0.1 */
    double L1[2];
    L1[j0] = 2.6;
    L1[1 - j0] = 2.9;
    CHECK_EQ_INT(bmx_mix_observe_validation(m, L1, &e), 0);
    int j1 = bmx_mix_draw(m);
    CHECK_EQ_INT(j1, 1 - j0);
    CHECK_EQ_INT(bmx_mix_step(m, &e), 0);
    size_t len;
    CHECK_EQ_INT(bmx_mix_save(m, NULL, 0, &len, &e), 0);
    unsigned char *buf = malloc(len);
    CHECK_EQ_INT(bmx_mix_save(m, buf, len, &len, &e), 0);
    bmx_mix *r = NULL;
    CHECK_MSG(bmx_mix_restore(&r, buf, len, &e) == 0, "%s", e.msg);
    /* probe j1 lowered group j1's loss by 0.2, the other's by 0 */
    double L2[2];
    L2[j0] = 2.6;
    L2[j1] = 2.7;
    CHECK_EQ_INT(bmx_mix_observe_validation(m, L2, &e), 0);
    CHECK_EQ_INT(bmx_mix_observe_validation(r, L2, &e), 0);
    CHECK_EQ_INT(bmx_mix_probing(m), 0);
    /* M[i][j]: column j0 = (0.4 at j0, 0.1 at j1), column j1 = (0 at j0, 0.2 at j1); sum 0.7;
     * column sums 0.5 / 0.7 and 0.2 / 0.7; p = softmax(eta * colsum) */
    double c0 = 0.5 / 0.7, c1 = 0.2 / 0.7, pj0 = exp(c0) / (exp(c0) + exp(c1));
    CHECK_NEAR(bmx_mix_probs(m)[j0], pj0, 1e-12);
    CHECK(memcmp(bmx_mix_probs(m), bmx_mix_probs(r), 2 * sizeof(double)) == 0);
    CHECK_EQ_INT(bmx_mix_observe_validation(m, L2, &e), BMX_ESTATE);
    for (int s = 0; s < 3; s++) {
        CHECK_EQ_INT(bmx_mix_draw(m), bmx_mix_draw(r));
        CHECK_EQ_INT(bmx_mix_step(m, &e), 0);
        CHECK_EQ_INT(bmx_mix_step(r, &e), 0);
    }
    CHECK_EQ_INT(bmx_mix_needs_validation(m), 1); /* the next round */
    double bad[2] = {1.0, NAN};
    CHECK_EQ_INT(bmx_mix_observe_validation(m, bad, &e), BMX_EINVAL);
    CHECK_CONTAINS(e.msg, "group 1 is not finite");
    CHECK_EQ_INT(bmx_mix_needs_validation(r), 1);
    free(buf);
    bmx_mix_free(m);
    bmx_mix_free(r);
    /* other policies take no validation losses */
    m = make_data("odm", 2, NULL, NULL);
    CHECK_EQ_INT(bmx_mix_needs_validation(m), 0);
    CHECK_EQ_INT(bmx_mix_observe_validation(m, L0, &e), BMX_ESTATE);
    CHECK_CONTAINS(e.msg, "only aioli");
    bmx_mix_free(m);
}

int main(int argc, char **argv)
{
    static const struct check_case cases[] = {
        {"create_errors", test_create_errors},
        {"temperature_values", test_temperature_values},
        {"constraints_values", test_constraints_values},
        {"ado_state_and_hook", test_ado_state_and_hook},
        {"aioli_flow", test_aioli_flow},
        {0},
    };
    return check_main(argc, argv, cases);
}
