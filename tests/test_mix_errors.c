/* Mixing policies: every bad input is an error with a useful message, and a failed call
 * leaves the policy exactly as it was (same saved bytes, same probabilities). */
#include "bmx/mix.h"
#include "check.h"
#include "helpers.h"

#include <stdint.h>

struct snap {
    unsigned char *buf;
    size_t len;
    double probs[64];
    int k;
};

static struct snap snap_take(const bmx_mix *m)
{
    struct snap s;
    bmx_err e;

    CHECK_EQ_INT(bmx_mix_save(m, NULL, 0, &s.len, &e), 0);
    s.buf = malloc(s.len);
    CHECK(s.buf);
    CHECK_EQ_INT(bmx_mix_save(m, s.buf, s.len, &s.len, &e), 0);
    s.k = bmx_mix_arms(m);
    CHECK(s.k <= 64);
    memcpy(s.probs, bmx_mix_probs(m), (size_t)s.k * sizeof(double));
    return s;
}

/* The policy still saves to the same bytes and has the same probabilities; frees s. */
static void snap_same(const bmx_mix *m, struct snap *s)
{
    struct snap now = snap_take(m);

    CHECK_EQ_INT(now.len, s->len);
    CHECK_MSG(memcmp(now.buf, s->buf, s->len) == 0, "%s: state changed by a failed call",
              bmx_mix_name(m));
    CHECK(memcmp(now.probs, s->probs, (size_t)s->k * sizeof(double)) == 0);
    free(now.buf);
    free(s->buf);
}

static bmx_mix *make(const char *spec, int k, const double *w)
{
    bmx_mix *m = NULL;
    bmx_err e;

    if (bmx_mix_create(&m, spec, k, w, 3, &e) != 0)
        CHECK_FAILF("create %s: %s", spec, e.msg);
    return m;
}

/* create must fail with code and a message containing every needle. */
static void create_fails(const char *spec, int k, const double *w, int code, const char *n1,
                         const char *n2)
{
    bmx_mix *m = (bmx_mix *)&m; /* poisoned: must come back NULL */
    bmx_err e;

    bmx_err_clear(&e);
    CHECK_MSG(bmx_mix_create(&m, spec, k, w, 1, &e) == code, "create(\"%s\", %d) did not fail",
              spec ? spec : "(null)", k);
    CHECK(m == NULL);
    CHECK_EQ_INT(e.code, code);
    CHECK_CONTAINS(e.msg, n1);
    if (n2)
        CHECK_CONTAINS(e.msg, n2);
}

static void test_create_spec_errors(void)
{
    create_fails("odn", 3, NULL, BMX_EINVAL, "unknown policy", "odm-smoothed-mean, exp3, ucb1");
    create_fails("", 3, NULL, BMX_EINVAL, "empty", "uniform");
    create_fails(NULL, 3, NULL, BMX_EINVAL, "empty", "doremi");
    create_fails("odm:beta=0.5", 3, NULL, BMX_EINVAL, "unknown key \"beta\"",
                 "its keys: alpha, tscale");
    create_fails("exp3:tscale=0", 3, NULL, BMX_EINVAL, "tscale = 0", "0.001 <= tscale <= 1e+06");
    create_fails("odm:tscale=-10", 3, NULL, BMX_EINVAL, "tscale = -10", "10 G");
    create_fails("exp3:tscale=2e6", 3, NULL, BMX_EINVAL, "tscale = 2e+06", "out of range");
    create_fails("exp3:tscale=ten", 3, NULL, BMX_EINVAL, "tscale=ten", "not a finite number");
    create_fails("ucb1:tscale=10", 3, NULL, BMX_EINVAL, "unknown key \"tscale\"", "beta");
    create_fails("odm-smoothed-mean:tscale=10", 3, NULL, BMX_EINVAL, "unknown key", "warmup");
    create_fails("doremi:alpha=0.5", 3, NULL, BMX_EINVAL, "unknown key", "eta, c, vocab");
    create_fails("uniform:alpha=0.5", 3, NULL, BMX_EINVAL, "unknown key",
                 "its keys: min-prob, max-epochs");
    create_fails("odm-smoothed-mean:warm=3", 3, NULL, BMX_EINVAL, "\"warm\"", "alpha, warmup");
    create_fails("odm:alpha", 3, NULL, BMX_EINVAL, "not key=value", "alpha");
    create_fails("odm:alpha=", 3, NULL, BMX_EINVAL, "missing value", "alpha=");
    create_fails("odm:alpha=abc", 3, NULL, BMX_EINVAL, "alpha=abc", "not a finite number");
    create_fails("odm:alpha=0.5x", 3, NULL, BMX_EINVAL, "alpha=0.5x", "number");
    create_fails("odm:alpha=nan", 3, NULL, BMX_EINVAL, "alpha=nan", "finite");
    create_fails("odm:alpha=1", 3, NULL, BMX_EINVAL, "alpha = 1", "0 <= alpha < 1");
    create_fails("odm:alpha=-0.1", 3, NULL, BMX_EINVAL, "alpha", "out of range");
    create_fails("exp3:beta=0", 3, NULL, BMX_EINVAL, "beta = 0", "0 < beta <= 1");
    create_fails("ucb1:beta=1.5", 3, NULL, BMX_EINVAL, "beta", "out of range");
    create_fails("doremi:eta=0", 3, NULL, BMX_EINVAL, "eta", "eta > 0");
    create_fails("doremi:c=1.5", 3, NULL, BMX_EINVAL, "c = 1.5", "0 <= c <= 1");
    create_fails("doremi:vocab=1", 3, NULL, BMX_EINVAL, "vocab = 1", "2 <= vocab");
    create_fails("doremi:vocab=2.5", 3, NULL, BMX_EINVAL, "vocab=2.5", "integer");
    create_fails("odm-smoothed-mean:warmup=-1", 3, NULL, BMX_EINVAL, "warmup", "0 <= warmup");
    create_fails("odm:alpha=0.1,alpha=0.2", 3, NULL, BMX_EINVAL, "alpha", "twice");
    create_fails("odm:alpha=0.1,", 3, NULL, BMX_EINVAL, "trailing", NULL);
    create_fails("odm:", 3, NULL, BMX_EINVAL, "nothing after", "odm:key=value");
}

static void test_create_arm_and_weight_errors(void)
{
    const double neg[3] = {1, -1, 2}, nan3[3] = {1, NAN, 1}, inf3[3] = {INFINITY, 1, 1};
    const double zero[3] = {0, 0, 0}, huge[3] = {1e308, 1e308, 1e308};

    create_fails("uniform", 0, NULL, BMX_EINVAL, "k = 0", "1 <= k <=");
    create_fails("odm", -4, NULL, BMX_EINVAL, "k = -4", "arms");
    create_fails("odm", BMX_MIX_MAX_ARMS + 1, NULL, BMX_EINVAL, "out of range", "16777216");
    create_fails("natural", 3, NULL, BMX_EINVAL, "needs weights", "non-negative");
    create_fails("weights", 3, NULL, BMX_EINVAL, "needs weights", NULL);
    create_fails("weights", 3, neg, BMX_EINVAL, "weight[1] = -1", ">= 0");
    create_fails("natural", 3, nan3, BMX_EINVAL, "weight[1] = nan", "finite");
    create_fails("doremi", 3, inf3, BMX_EINVAL, "weight[0] = inf", "finite");
    create_fails("odm-smoothed-mean", 3, zero, BMX_EINVAL, "all 3 weights are zero", "positive");
    create_fails("weights", 3, huge, BMX_EINVAL, "infinity", NULL);
    /* checked even where the policy ignores them */
    create_fails("odm", 3, neg, BMX_EINVAL, "weight[1]", NULL);
}

/* A policy in the middle of a round, with observations pending. */
static bmx_mix *mid_round(const char *spec)
{
    const double w[4] = {1, 2, 3, 4};
    bmx_mix *m = make(spec, 4, w);
    bmx_err e;

    for (int t = 0; t < 6; t++) {
        if (strcmp(bmx_mix_name(m), "doremi") == 0) {
            const double ex[4] = {1, 2, 0, 3}, tok[4] = {2, 2, 0, 5};
            CHECK_EQ_INT(bmx_mix_observe_excess(m, ex, tok, &e), 0);
        } else {
            int a = bmx_mix_draw(m);
            CHECK_EQ_INT(bmx_mix_observe(m, a, 0.25 + 0.5 * a, &e), 0);
        }
        if (t < 5)
            CHECK_EQ_INT(bmx_mix_step(m, &e), 0);
    }
    return m;
}

static const char *const specs[] = {"uniform",           "natural", "weights", "odm",
                                    "odm-smoothed-mean", "exp3",    "ucb1",    "explore-only",
                                    "exploit-only",      "doremi"};
#define NSPECS ((int)(sizeof specs / sizeof specs[0]))

static void observe_fails(bmx_mix *m, int arm, double v, int code, const char *n1, const char *n2)
{
    struct snap s = snap_take(m);
    bmx_err e;

    bmx_err_clear(&e);
    CHECK_MSG(bmx_mix_observe(m, arm, v, &e) == code, "%s: observe(%d, %g) did not fail",
              bmx_mix_name(m), arm, v);
    CHECK_EQ_INT(e.code, code);
    CHECK_CONTAINS(e.msg, n1);
    if (n2)
        CHECK_CONTAINS(e.msg, n2);
    snap_same(m, &s);
}

static void test_observe_errors(void)
{
    for (int si = 0; si < NSPECS; si++) {
        bmx_mix *m = mid_round(specs[si]);
        if (strcmp(specs[si], "doremi") == 0) {
            observe_fails(m, 0, 1.0, BMX_ESTATE, "bmx_mix_observe_excess", NULL);
        } else {
            observe_fails(m, -1, 1.0, BMX_EINVAL, "arm -1", "0..3");
            observe_fails(m, 4, 1.0, BMX_EINVAL, "arm 4 is out of range", specs[si]);
            observe_fails(m, 1, NAN, BMX_EINVAL, "not finite", "arm 1");
            observe_fails(m, 1, INFINITY, BMX_EINVAL, "not finite", NULL);
            observe_fails(m, 2, -INFINITY, BMX_EINVAL, "not finite", NULL);
            const double ex[4] = {0}, tok[4] = {0};
            struct snap s = snap_take(m);
            bmx_err e;
            CHECK_EQ_INT(bmx_mix_observe_excess(m, ex, tok, &e), BMX_ESTATE);
            CHECK_CONTAINS(e.msg, "only doremi");
            snap_same(m, &s);
        }
        bmx_mix_free(m);
    }
}

static void excess_fails(bmx_mix *m, const double *ex, const double *tok, const char *n1)
{
    struct snap s = snap_take(m);
    bmx_err e;

    bmx_err_clear(&e);
    CHECK_EQ_INT(bmx_mix_observe_excess(m, ex, tok, &e), BMX_EINVAL);
    CHECK_CONTAINS(e.msg, n1);
    snap_same(m, &s);
}

static void test_observe_excess_errors(void)
{
    bmx_mix *m = mid_round("doremi");
    const double ok[4] = {1, 1, 1, 1};
    const double neg[4] = {1, 1, -1, 1}, nan4[4] = {1, NAN, 1, 1}, inf4[4] = {1, 1, 1, INFINITY};
    const double zt[4] = {1, 0, 1, 1}, huge[4] = {1, 1, 1, 1e308};

    /* the last domain is checked as well as the first: the error comes before any change */
    excess_fails(m, neg, ok, "excess_sum[2] = -1");
    excess_fails(m, nan4, ok, "excess_sum[1] = nan");
    excess_fails(m, inf4, ok, "excess_sum[3] = inf");
    excess_fails(m, ok, neg, "tokens[2] = -1");
    excess_fails(m, ok, nan4, "tokens[1]");
    excess_fails(m, ok, zt, "over 0 tokens");
    excess_fails(m, NULL, ok, "k = 4");
    excess_fails(m, ok, NULL, "k = 4");
    bmx_err e;
    CHECK_EQ_INT(bmx_mix_observe_excess(m, huge, ok, &e), 0);
    excess_fails(m, huge, ok, "overflow");
    /* eta * lambda = 10 * 1e308 overflows: the step fails and changes nothing */
    bmx_mix_free(m);
    m = make("doremi:eta=10", 2, NULL);
    const double ex[2] = {1e308, 1}, tok[2] = {1, 1};
    CHECK_EQ_INT(bmx_mix_observe_excess(m, ex, tok, &e), 0);
    struct snap s = snap_take(m);
    CHECK_EQ_INT(bmx_mix_step(m, &e), BMX_EINVAL);
    CHECK_CONTAINS(e.msg, "overflows");
    CHECK_EQ_INT(bmx_mix_round(m), 1);
    snap_same(m, &s);
    bmx_mix_free(m);
}

static void test_overflow_errors(void)
{
    bmx_err e;
    struct snap s;

    /* odm: a round sum that overflows, and a step whose (1 - alpha) L / pi = 1e308 * 3
     * overflows */
    bmx_mix *m = make("odm:alpha=0", 3, NULL);
    CHECK_EQ_INT(bmx_mix_observe(m, 0, 1e308, &e), 0);
    observe_fails(m, 0, 1e308, BMX_EINVAL, "sum of losses", "overflows");
    s = snap_take(m);
    CHECK_EQ_INT(bmx_mix_step(m, &e), BMX_EINVAL);
    CHECK_CONTAINS(e.msg, "overflows");
    snap_same(m, &s);
    CHECK_EQ_INT(bmx_mix_round(m), 1);
    bmx_mix_free(m);

    /* odm-smoothed-mean: exp(loss) must stay finite */
    m = make("odm-smoothed-mean", 3, NULL);
    observe_fails(m, 1, 691.0, BMX_EINVAL, "too large for exp", "690");
    CHECK_EQ_INT(bmx_mix_observe(m, 1, 690.0, &e), 0);
    CHECK_EQ_INT(bmx_mix_step(m, &e), 0);
    bmx_mix_free(m);

    /* exp3: R += s / pi overflows */
    m = make("exp3", 3, NULL);
    observe_fails(m, 2, 1e308, BMX_EINVAL, "overflow", "arm 2");
    bmx_mix_free(m);
}

static void save_buf(const bmx_mix *m, unsigned char **buf, size_t *len)
{
    bmx_err e;

    CHECK_EQ_INT(bmx_mix_save(m, NULL, 0, len, &e), 0);
    *buf = malloc(*len);
    CHECK(*buf);
    CHECK_EQ_INT(bmx_mix_save(m, *buf, *len, len, &e), 0);
}

static void load_fails(bmx_mix *m, const unsigned char *buf, size_t len, int code, const char *n1)
{
    struct snap s = snap_take(m);
    bmx_mix *r = (bmx_mix *)&r;
    bmx_err e;

    bmx_err_clear(&e);
    CHECK_MSG(bmx_mix_load(m, buf, len, &e) == code, "%s: load of %zu bytes did not fail (%s)",
              bmx_mix_name(m), len, n1);
    CHECK_CONTAINS(e.msg, n1);
    snap_same(m, &s);
    if (code == BMX_ECORRUPT) {
        CHECK_EQ_INT(bmx_mix_restore(&r, buf, len, &e), code);
        CHECK(r == NULL);
        CHECK_CONTAINS(e.msg, n1);
    }
}

/* Recompute the trailing CRC-32 after an edit. */
static void recrc(unsigned char *buf, size_t len)
{
    bmx_le_put32(buf + len - 4, bmx_crc32(0, buf, len - 4));
}

static void test_save_errors(void)
{
    bmx_mix *m = mid_round("odm");
    unsigned char small[16];
    size_t len = 0;
    bmx_err e;

    CHECK_EQ_INT(bmx_mix_save(m, small, sizeof small, &len, &e), BMX_EINVAL);
    CHECK_CONTAINS(e.msg, "too small");
    CHECK(len > sizeof small); /* the size needed */
    bmx_mix_free(m);
}

static void test_load_corrupt(void)
{
    for (int si = 0; si < NSPECS; si++) {
        bmx_mix *m = mid_round(specs[si]), *other = mid_round(specs[si]);
        unsigned char *buf, *b2;
        size_t len;
        bmx_err e;

        CHECK_EQ_INT(bmx_mix_step(other, &e), 0); /* a different state to load into */
        save_buf(m, &buf, &len);
        b2 = malloc(len + 8);
        /* every truncation */
        for (size_t n = 0; n < len; n++)
            load_fails(other, buf, n, BMX_ECORRUPT, "mix state");
        /* trailing bytes */
        memcpy(b2, buf, len);
        b2[len] = 0;
        load_fails(other, b2, len + 1, BMX_ECORRUPT, "trailing");
        /* every single-byte corruption is caught (magic, version, sizes or the CRC) */
        for (size_t i = 0; i < len; i++) {
            memcpy(b2, buf, len);
            b2[i] ^= (unsigned char)(1u << (i % 8));
            load_fails(other, b2, len, BMX_ECORRUPT, "mix state");
        }
        memcpy(b2, buf, len);
        b2[0] = 'X';
        load_fails(other, b2, len, BMX_ECORRUPT, "bad magic");
        memcpy(b2, buf, len);
        bmx_le_put32(b2 + 4, 4);
        load_fails(other, b2, len, BMX_ECORRUPT, "version 4");
        memcpy(b2, buf, len);
        b2[len - 1] ^= 0x40;
        load_fails(other, b2, len, BMX_ECORRUPT, "checksum");
        /* and the good bytes still load */
        CHECK_EQ_INT(bmx_mix_load(other, buf, len, &e), 0);
        free(b2);
        free(buf);
        bmx_mix_free(m);
        bmx_mix_free(other);
    }
}

/* Offsets in format version 3: magic 0, version 4, name length 8, name 12; then k, mask,
 * 10 f64 parameters, 6 i64 (warmup, vocab, interval, rounds, probe, t), rng[4], draw_tokens,
 * draw_seqs, u32 has_tokens, the arrays. */
static size_t body(const bmx_mix *m)
{
    return 12 + strlen(bmx_mix_name(m));
}

static size_t arrays_at(const bmx_mix *m)
{
    return body(m) + 8 + 80 + 48 + 32 + 16 + 4;
}

/* The version-1 or -2 bytes of a version-3 state of a policy with narr arrays of k values,
 * nothing drawn and no variable state (what those versions could hold); malloc'ed. */
static unsigned char *old_version(const bmx_mix *m, const unsigned char *v3, int narr, int k,
                                  uint32_t version, size_t *out_len)
{
    size_t o = body(m), n = o + 8 + (version >= 2 ? 40 : 32) + 24 + 32 + (size_t)narr * k * 8 + 4;
    unsigned char *b = malloc(n), *p = b;
    CHECK(b);
    memcpy(p, v3, o + 8);
    bmx_le_put32(p + 4, version);
    p += o + 8;
    memcpy(p, v3 + o + 8, version >= 2 ? 40 : 32); /* alpha, beta, eta, c (, tscale) */
    p += version >= 2 ? 40 : 32;
    memcpy(p, v3 + o + 88, 16);           /* warmup, vocab */
    memcpy(p + 16, v3 + o + 128, 8 + 32); /* t, rng */
    p += 56;
    memcpy(p, v3 + arrays_at(m), (size_t)narr * k * 8);
    p += (size_t)narr * k * 8;
    bmx_le_put32(p, bmx_crc32(0, b, (size_t)(p - b)));
    *out_len = n;
    return b;
}

static void test_load_bad_values(void)
{
    bmx_mix *m = mid_round("odm"), *into = mid_round("odm");
    unsigned char *buf, *b2;
    size_t len, o = body(m);
    double nan = NAN, half = 0.5;
    bmx_err e;

    save_buf(m, &buf, &len);
    b2 = malloc(len);
    /* k and the array mask come after the name, then alpha, beta, eta, c, tscale, warmup,
     * vocab, t, rng[4], then pi[k] */
    size_t o_k = o, o_alpha = o + 8, o_tscale = o + 8 + 32, o_t = o + 8 + 80 + 40, o_rng = o_t + 8,
           o_pi = arrays_at(m);

    memcpy(b2, buf, len);
    memcpy(b2 + o_alpha, &half, 8); /* a valid alpha: loads, and the spec follows it */
    recrc(b2, len);
    CHECK_EQ_INT(bmx_mix_load(into, b2, len, &e), 0);
    CHECK_EQ_STR(bmx_mix_spec(into), "odm:alpha=0.5,tscale=1");

    memcpy(b2, buf, len);
    memcpy(b2 + o_tscale, (double[]){0.0}, 8);
    recrc(b2, len);
    load_fails(into, b2, len, BMX_ECORRUPT, "tscale = 0");
    memcpy(b2 + o_tscale, &nan, 8);
    recrc(b2, len);
    load_fails(into, b2, len, BMX_ECORRUPT, "tscale = nan");

    memcpy(b2, buf, len);
    double one = 1.0;
    memcpy(b2 + o_alpha, &one, 8);
    recrc(b2, len);
    load_fails(into, b2, len, BMX_ECORRUPT, "alpha = 1");

    memcpy(b2, buf, len);
    memset(b2 + o_t, 0, 8);
    recrc(b2, len);
    load_fails(into, b2, len, BMX_ECORRUPT, "round 0");

    memcpy(b2, buf, len);
    memset(b2 + o_rng, 0, 32);
    recrc(b2, len);
    load_fails(into, b2, len, BMX_ECORRUPT, "generator");

    memcpy(b2, buf, len);
    memcpy(b2 + o_pi + 8, &nan, 8);
    recrc(b2, len);
    load_fails(into, b2, len, BMX_ECORRUPT, "pi[1]");

    memcpy(b2, buf, len);
    memcpy(b2 + o_pi + 16, &half, 8); /* pi no longer sums to 1 */
    recrc(b2, len);
    load_fails(into, b2, len, BMX_ECORRUPT, "sums to");

    memcpy(b2, buf, len);
    bmx_le_put32(b2 + o_k, 5); /* k = 5 with the bytes of 4 arms */
    recrc(b2, len);
    load_fails(into, b2, len, BMX_ECORRUPT, "needs");

    memcpy(b2, buf, len);
    bmx_le_put32(b2 + o_k, 0);
    recrc(b2, len);
    load_fails(into, b2, len, BMX_ECORRUPT, "k = 0");

    memcpy(b2, buf, len);
    bmx_le_put32(b2 + o_k + 4, 1); /* array mask */
    recrc(b2, len);
    load_fails(into, b2, len, BMX_ECORRUPT, "array mask");

    memcpy(b2, buf, len);
    memcpy(b2 + 12, "abc", 3); /* policy name "abc" */
    recrc(b2, len);
    load_fails(into, b2, len, BMX_ECORRUPT, "unknown policy");

    /* pending count that is not an integer: arrays pi, R, L, n follow in that order */
    memcpy(b2, buf, len);
    memcpy(b2 + o_pi + 3 * 4 * 8, &half, 8);
    recrc(b2, len);
    load_fails(into, b2, len, BMX_ECORRUPT, "pending count[0]");
    free(b2);
    free(buf);
    bmx_mix_free(m);
    bmx_mix_free(into);

    /* odm-smoothed-mean: R is a mean of exp(loss <= 690); arrays pi, base, R follow */
    m = mid_round("odm-smoothed-mean");
    into = mid_round("odm-smoothed-mean");
    save_buf(m, &buf, &len);
    o_pi = arrays_at(m);
    memcpy(buf + o_pi + 2 * 4 * 8 + 8, (double[]){1e308}, 8);
    recrc(buf, len);
    load_fails(into, buf, len, BMX_ECORRUPT, "R[1] = 1e+308 is too large");
    memcpy(buf + o_pi + 2 * 4 * 8 + 8, (double[]){-1.0}, 8);
    recrc(buf, len);
    load_fails(into, buf, len, BMX_ECORRUPT, "R[1] = -1");
    memcpy(buf + o_pi + 2 * 4 * 8 + 8, (double[]){1.0}, 8);
    /* found by fuzz_mixstate: a pending loss sum whose mean is past the bound on a loss
     * loaded, and the next step made R infinite and pi NaN (arrays pi, base, R, L, n) */
    memcpy(buf + o_pi + 3 * 4 * 8 + 8, (double[]){4.7e154}, 8);
    memcpy(buf + o_pi + 4 * 4 * 8 + 8, (double[]){1.0}, 8);
    recrc(buf, len);
    load_fails(into, buf, len, BMX_ECORRUPT, "the pending losses of arm 1 average 4.7e+154");
    memcpy(buf + o_pi + 3 * 4 * 8 + 8, (double[]){690.0}, 8); /* at the bound: loads */
    recrc(buf, len);
    {
        bmx_mix *r = NULL;
        CHECK_MSG(bmx_mix_restore(&r, buf, len, &e) == 0, "%s", e.msg);
        CHECK_EQ_INT(bmx_mix_step(r, &e), 0);
        for (int i = 0; i < 4; i++)
            CHECK(isfinite(bmx_mix_probs(r)[i]));
        bmx_mix_free(r);
    }
    free(buf);
    bmx_mix_free(m);
    bmx_mix_free(into);

    /* ucb1's pi must be one-hot */
    m = mid_round("ucb1");
    into = mid_round("ucb1");
    save_buf(m, &buf, &len);
    o_pi = arrays_at(m);
    for (int i = 0; i < 4; i++)
        memcpy(buf + o_pi + 8 * (size_t)i, (double[]){0.25}, 8);
    recrc(buf, len);
    load_fails(into, buf, len, BMX_ECORRUPT, "one-hot");
    free(buf);
    bmx_mix_free(m);
    bmx_mix_free(into);
}

/* A version-1 state (before tscale: 4 f64 parameters) still loads, as tscale 1, and goes on
 * exactly as the state it was written from; a version-2 state carries tscale. */
static void test_load_version1(void)
{
    const char *specs1[2] = {"odm:alpha=0.5", "exp3:beta=0.5"};

    for (int si = 0; si < 2; si++) {
        bmx_mix *m = mid_round(specs1[si]), *into = make(specs1[si], 4, NULL);
        unsigned char *buf, *v1;
        size_t len, len1;
        bmx_err e;

        save_buf(m, &buf, &len);
        v1 = old_version(m, buf, si == 0 ? 4 : 3, 4, 2, &len1);
        CHECK_MSG(bmx_mix_load(into, v1, len1, &e) == 0, "version 2: %s", e.msg);
        CHECK_EQ_STR(bmx_mix_spec(into), bmx_mix_spec(m));
        free(v1);
        v1 = old_version(m, buf, si == 0 ? 4 : 3, 4, 1, &len1);
        CHECK_MSG(bmx_mix_load(into, v1, len1, &e) == 0, "%s", e.msg);
        CHECK_EQ_STR(bmx_mix_spec(into), bmx_mix_spec(m));
        CHECK_NEAR(bmx_mix_tscale(into), 1, 0);
        for (int t = 0; t < 4; t++) {
            int a = bmx_mix_draw(m);
            CHECK_EQ_INT(bmx_mix_draw(into), a);
            CHECK_EQ_INT(bmx_mix_observe(m, a, 0.3 * a, &e), 0);
            CHECK_EQ_INT(bmx_mix_observe(into, a, 0.3 * a, &e), 0);
            CHECK_EQ_INT(bmx_mix_step(m, &e), 0);
            CHECK_EQ_INT(bmx_mix_step(into, &e), 0);
            CHECK(memcmp(bmx_mix_probs(m), bmx_mix_probs(into), 4 * sizeof(double)) == 0);
        }
        free(v1);
        free(buf);
        bmx_mix_free(m);
        bmx_mix_free(into);
    }
    /* tscale travels with the state: restored, and loaded into a handle made with S = 1 */
    bmx_mix *m = mid_round("exp3:tscale=10"), *into = make("exp3", 4, NULL), *r = NULL;
    unsigned char *buf;
    size_t len;
    bmx_err e;
    save_buf(m, &buf, &len);
    CHECK_EQ_INT(bmx_mix_restore(&r, buf, len, &e), 0);
    CHECK_EQ_STR(bmx_mix_spec(r), "exp3:beta=1,tscale=10");
    CHECK_EQ_INT(bmx_mix_load(into, buf, len, &e), 0);
    CHECK_NEAR(bmx_mix_tscale(into), 10, 0);
    free(buf);
    bmx_mix_free(m);
    bmx_mix_free(into);
    bmx_mix_free(r);
}

/* Issue 11 item 4: a state whose round counter is INT64_MAX loaded, and the next step
 * overflowed the signed counter. Every counter is bounded on restore (round, warm-up,
 * vocab), and a step at the last round fails and changes nothing. For every policy. */
static void test_load_counter_bounds(void)
{
    for (int si = 0; si < NSPECS; si++) {
        bmx_mix *m = mid_round(specs[si]), *r = NULL;
        unsigned char *buf, *b2;
        size_t len, o_t;
        bmx_err e;

        save_buf(m, &buf, &len);
        b2 = malloc(len);
        o_t = body(m) + 8 + 80 + 40; /* warmup at o_t - 40, vocab at o_t - 32 */
        static const struct {
            int off; /* from o_t */
            int64_t v;
            const char *what;
        } bad[] = {{0, INT64_MAX, "round 9223372036854775807 is out of range"},
                   {0, ((int64_t)1 << 50) + 1, "round 1125899906842625 is out of range"},
                   {0, -5, "round -5 is out of range"},
                   {-40, INT64_MAX, "warmup = 9223372036854775807 is out of range"},
                   {-40, -1, "warmup = -1 is out of range"},
                   {-32, (int64_t)1 << 40, "vocab = 1099511627776 is out of range"}};
        for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
            memcpy(b2, buf, len);
            bmx_le_put64(b2 + o_t + bad[i].off, bad[i].v);
            recrc(b2, len);
            load_fails(m, b2, len, BMX_ECORRUPT, bad[i].what);
        }
        /* the last round loads, and its step fails without changing anything */
        memcpy(b2, buf, len);
        bmx_le_put64(b2 + o_t, ((int64_t)1 << 50) - 1);
        recrc(b2, len);
        CHECK_MSG(bmx_mix_restore(&r, b2, len, &e) == 0, "%s: %s", specs[si], e.msg);
        CHECK_EQ_INT(bmx_mix_round(r), ((int64_t)1 << 50) - 1);
        CHECK_MSG(bmx_mix_step(r, &e) == 0, "%s: %s", specs[si], e.msg);
        CHECK_EQ_INT(bmx_mix_round(r), BMX_MIX_MAX_ROUND);
        {
            struct snap sn = snap_take(r);
            CHECK_EQ_INT(bmx_mix_step(r, &e), BMX_ESTATE);
            CHECK_CONTAINS(e.msg, "round 1125899906842624 is the last one");
            snap_same(r, &sn);
        }
        bmx_mix_free(r);
        free(b2);
        free(buf);
        bmx_mix_free(m);
    }
}

static void test_load_mismatch(void)
{
    bmx_mix *a = mid_round("odm"), *b = mid_round("exp3"), *c = make("odm", 5, NULL);
    unsigned char *buf;
    size_t len;

    save_buf(a, &buf, &len);
    load_fails(b, buf, len, BMX_EINVAL, "policy odm over 4 arms, but this policy is exp3");
    load_fails(c, buf, len, BMX_EINVAL, "this policy is odm over 5 arms");
    free(buf);
    bmx_mix_free(a);
    bmx_mix_free(b);
    bmx_mix_free(c);
}

/* The one weights-list reader: counts every value, fills the first cap, points at a bad piece. */
static void test_parse_weights(void)
{
    double w[3] = {-7, -7, -7};
    const char *bad = NULL;

    CHECK_EQ_INT(bmx_mix_parse_weights("1, 2.5 ,0", w, 3, &bad), 3);
    CHECK(w[0] == 1.0 && w[1] == 2.5 && w[2] == 0.0);
    w[2] = -7;
    CHECK_EQ_INT(bmx_mix_parse_weights("4,5,6,7", w, 2, &bad), 4); /* counted, not stored */
    CHECK(w[0] == 4.0 && w[1] == 5.0 && w[2] == -7.0);
    CHECK_EQ_INT(bmx_mix_parse_weights("", w, 3, &bad), 0);
    CHECK_EQ_INT(bmx_mix_parse_weights("1,2,", w, 3, &bad), 2);
    static const char *const bads[] = {"1,-1,2", "1,inf,2", "1,nan", "1,x", "1,2z", "1,,2", "1 2"};
    static const int at[] = {2, 2, 2, 2, 2, 2, 0};
    for (int i = 0; i < 7; i++) {
        bad = NULL;
        CHECK_EQ_INT(bmx_mix_parse_weights(bads[i], w, 3, &bad), -1);
        CHECK(bad == bads[i] + at[i]);
    }
}

int main(int argc, char **argv)
{
    static const struct check_case cases[] = {
        {"create_spec_errors", test_create_spec_errors},
        {"create_arm_and_weight_errors", test_create_arm_and_weight_errors},
        {"observe_errors", test_observe_errors},
        {"observe_excess_errors", test_observe_excess_errors},
        {"overflow_errors", test_overflow_errors},
        {"save_errors", test_save_errors},
        {"load_corrupt", test_load_corrupt},
        {"load_bad_values", test_load_bad_values},
        {"load_version1", test_load_version1},
        {"load_mismatch", test_load_mismatch},
        {"load_counter_bounds", test_load_counter_bounds},
        {"parse_weights", test_parse_weights},
        {0},
    };
    return check_main(argc, argv, cases);
}
