/* The mixing policies and rewards against the independent Python reference (tests/ref/).
 *
 * tests/ref/gen_mix_fixtures.py replays scripted rounds of every policy through
 * tests/ref/mix_ref.py and records each call and the state after it in
 * the files of tests/fixtures/mix (the format is described at the top of the generator). This test
 * replays each fixture through the C API: draws must be identical, probabilities, estimates,
 * averages and counts equal to 1e-12 relative (1e-15 absolute near zero). Each fixture is
 * replayed twice, the second time moving the state to a new handle through bmx_mix_save +
 * restore/load in the middle of rounds 3 and 5 (pending observations and generator included),
 * which must not change anything. rewards.txt checks
 * bmx_grad_stats_add + bmx_reward_* and rng.txt the generator every draw relies on.
 * A failure names the fixture, its line, the round and the arm. */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>

#include "bmx/mix.h"
#include "bmx/rng.h"
#include "check.h"

#define REL_TOL      1e-12
#define ABS_TOL      1e-15
#define MAX_FIXTURES 256

/* How close the C side came: values compared and the largest relative difference (of values
 * above ABS_TOL), printed per case as a comment line. */
static long n_compared;
static double max_rel;
static double rel_tol = REL_TOL; /* a fixture's "tol" line sets it (ado, aioli: 1e-9) */

/* a equals the reference b within rel_tol relative or ABS_TOL absolute */
static int near(double a, double b)
{
    double d = fabs(a - b);
    n_compared++;
    if (fabs(b) > ABS_TOL && d / fabs(b) > max_rel)
        max_rel = d / fabs(b);
    return d <= rel_tol * fabs(b) || d <= ABS_TOL;
}

/* ado's fitted parameters: 1e-6 relative (1e-9 absolute for values near 0) */
static double max_rel_theta;
static int near_theta(double a, double b)
{
    double d = fabs(a - b);
    if (fabs(b) > 1e-9 && d / fabs(b) > max_rel_theta)
        max_rel_theta = d / fabs(b);
    return d <= 1e-6 * fabs(b) || d <= 1e-9;
}

static const char *fixture_dir(char *buf, size_t cap)
{
    const char *root = getenv("BMX_ROOT");
    snprintf(buf, cap, "%s/tests/fixtures/mix", root && *root ? root : ".");
    return buf;
}

/* The fixture file tests/fixtures/mix/NAME opened for reading, its path in path[0..pcap); NULL
 * with msg[0..cap) saying how to make it. */
static FILE *open_fixture(const char *name, char *path, size_t pcap, char *msg, size_t cap)
{
    char dir[256];
    FILE *f;

    snprintf(path, pcap, "%s/%s", fixture_dir(dir, sizeof dir), name);
    if (!(f = fopen(path, "r")))
        snprintf(msg, cap, "cannot open %s: run tests/ref/gen_mix_fixtures.py", path);
    return f;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The policy fixtures (every *.txt but rewards.txt and rng.txt), sorted; returns the count. */
static int list_fixtures(char **names, int cap)
{
    char dir[256];
    DIR *d = opendir(fixture_dir(dir, sizeof dir));
    struct dirent *e;
    int n = 0;

    if (!d)
        return -1;
    while ((e = readdir(d)) != NULL && n < cap) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".txt") != 0)
            continue;
        if (strcmp(e->d_name, "rewards.txt") == 0 || strcmp(e->d_name, "rng.txt") == 0)
            continue;
        names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof *names, cmp_str);
    return n;
}

static void free_names(char **names, int n)
{
    for (int i = 0; i < n; i++)
        free(names[i]);
}

/* Parse up to cap doubles from s; stops at the end, at '|' or at anything unparsable.
 * *end (if given) points after what was read. Returns how many were read. */
static int parse_doubles(const char *s, double *out, int cap, const char **end)
{
    int n = 0;

    for (;;) {
        char *e;
        while (*s == ' ')
            s++;
        if (*s == '\0' || *s == '\n' || *s == '|' || n == cap)
            break;
        double v = strtod(s, &e);
        if (e == s)
            break;
        out[n++] = v;
        s = e;
    }
    if (end)
        *end = s;
    return n;
}

/* Count the whitespace-separated fields of s. */
static int count_fields(const char *s)
{
    int n = 0, in = 0;

    for (; *s && *s != '\n'; s++) {
        if (*s == ' ')
            in = 0;
        else if (!in)
            in = 1, n++;
    }
    return n;
}

/* ---- policy fixtures ---- */

struct replay {
    char path[320];
    char msg[1024];
    int lineno;
    long round; /* the round the fixture is in */
    int resave; /* before the steps of rounds 3 and 5, move the state to a new handle */
};

/* Move m's whole state (pending observations and generator included) into a new handle:
 * bmx_mix_restore at round 3, bmx_mix_load into a handle made with another seed at round 5.
 * Replaces *m; 0 or -1 with msg set. */
static int move_state(bmx_mix **m, long round, const char *spec, int k, const double *weights,
                      const bmx_mix_data *data, uint64_t seed, char *msg, size_t cap)
{
    size_t len = 0, len2 = 0;
    void *buf = NULL;
    bmx_mix *m2 = NULL;
    bmx_err err = {0};
    int rc = -1;

    if (bmx_mix_save(*m, NULL, 0, &len, &err) != 0 || !(buf = malloc(len)) ||
        bmx_mix_save(*m, buf, len, &len2, &err) != 0 || len2 != len) {
        snprintf(msg, cap, "bmx_mix_save: %s (size %zu, then %zu)", err.msg, len, len2);
        goto out;
    }
    if (round == 3) {
        if (bmx_mix_restore(&m2, buf, len, &err) != 0) {
            snprintf(msg, cap, "bmx_mix_restore: %s", err.msg);
            goto out;
        }
    } else {
        if (bmx_mix_create_data(&m2, spec, k, weights, data, seed ^ 0x5EEDull, &err) != 0 ||
            bmx_mix_load(m2, buf, len, &err) != 0) {
            snprintf(msg, cap, "bmx_mix_create + bmx_mix_load: %s", err.msg);
            goto out;
        }
    }
    bmx_mix_free(*m);
    *m = m2;
    m2 = NULL;
    rc = 0;
out:
    bmx_mix_free(m2);
    free(buf);
    return rc;
}

#define FAILR(rp, ...)                                                                             \
    do {                                                                                           \
        int n_ = snprintf((rp)->msg, sizeof(rp)->msg, "%s:%d (round %ld): ", (rp)->path,           \
                          (rp)->lineno, (rp)->round);                                              \
        snprintf((rp)->msg + n_, sizeof(rp)->msg - (size_t)n_, __VA_ARGS__);                       \
        goto out;                                                                                  \
    } while (0)

/* The fixture lines that hold a k-vector of the policy: "KEY v1 ... vk" or "KEY -" (NULL). */
struct vector_key {
    const char *key, *what;
    const double *(*get)(const bmx_mix *m);
};

static const struct vector_key *vector_line(const char *line)
{
    static const struct vector_key keys[] = {
        {"probs", "probs", bmx_mix_probs},
        {"est", "estimates", bmx_mix_estimates},
        {"avg", "average", bmx_mix_average},
        {"counts", "counts", bmx_mix_counts},
        {"dprobs", "draw probs", bmx_mix_draw_probs},
        {"drawn", "drawn tokens", bmx_mix_drawn},
    };
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        size_t n = strlen(keys[i].key);
        if (strncmp(line, keys[i].key, n) == 0 && line[n] == ' ')
            return &keys[i];
    }
    return NULL;
}

/* Compare a k-vector with the fixture's; "-" means the C side must return NULL. */
static int compare_vec(struct replay *rp, const char *what, const char *rest, const double *got,
                       int k, double *want)
{
    if (strcmp(rest, "-") == 0 || strcmp(rest, "-\n") == 0) {
        if (got != NULL) {
            snprintf(rp->msg, sizeof rp->msg, "%s:%d (round %ld): %s: expected NULL", rp->path,
                     rp->lineno, rp->round, what);
            return -1;
        }
        return 0;
    }
    if (parse_doubles(rest, want, k, NULL) != k) {
        snprintf(rp->msg, sizeof rp->msg, "%s:%d: %s: fixture line does not hold %d values",
                 rp->path, rp->lineno, what, k);
        return -1;
    }
    if (got == NULL) {
        snprintf(rp->msg, sizeof rp->msg, "%s:%d (round %ld): %s: C returned NULL", rp->path,
                 rp->lineno, rp->round, what);
        return -1;
    }
    for (int i = 0; i < k; i++) {
        if (!near(got[i], want[i])) {
            snprintf(rp->msg, sizeof rp->msg,
                     "%s:%d (round %ld): %s, arm %d: C %.17g, reference %.17g (rel. diff %.3g)",
                     rp->path, rp->lineno, rp->round, what, i, got[i], want[i],
                     fabs(got[i] - want[i]) / (fabs(want[i]) > 0 ? fabs(want[i]) : 1.0));
            return -1;
        }
    }
    return 0;
}

/* The policy name of a fixture's spec line ("odm" of "spec odm:alpha=0.9"), or "". */
static void fixture_policy(const char *path, char *name, size_t cap)
{
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t lcap = 0;

    name[0] = '\0';
    if (!f)
        return;
    while (getline(&line, &lcap, f) > 0) {
        if (strncmp(line, "spec ", 5) == 0) {
            size_t n = strcspn(line + 5, ":\n");
            if (n >= cap)
                n = cap - 1;
            memcpy(name, line + 5, n);
            name[n] = '\0';
            break;
        }
    }
    free(line);
    fclose(f);
}

/* Replay one fixture; 0 when every value agreed, else -1 with rp->msg set. */
static int replay_fixture(struct replay *rp)
{
    FILE *f = fopen(rp->path, "r");
    char *line = NULL, spec[256] = "";
    size_t lcap = 0;
    int k = 0, rc = -1, ended = 0;
    uint64_t seed = 0;
    double *weights = NULL, *want = NULL, *sums = NULL, *tokens = NULL, *dtok = NULL;
    bmx_mix_data data = {NULL, 1.0, 1.0}, *dp = NULL;
    bmx_mix *m = NULL;
    bmx_err err = {0};

    rel_tol = REL_TOL;
    rp->lineno = 0;
    rp->round = 1;
    rp->msg[0] = '\0';
    if (!f)
        FAILR(rp, "cannot open: %s", strerror(errno));
    while (getline(&line, &lcap, f) > 0) {
        char *rest;
        const struct vector_key *vec;
        rp->lineno++;
        line[strcspn(line, "\n")] = '\0';
        if (line[0] == '#' || line[0] == '\0')
            continue;
        rest = strchr(line, ' ');
        rest = rest ? rest + 1 : line + strlen(line);
        if (strncmp(line, "tol ", 4) == 0) {
            rel_tol = strtod(rest, NULL);
        } else if (strncmp(line, "spec ", 5) == 0) {
            snprintf(spec, sizeof spec, "%s", rest);
        } else if (strncmp(line, "data ", 5) == 0) {
            const char *e = rest;
            if (k < 1)
                FAILR(rp, "data before k");
            if (strncmp(rest, "- ", 2) != 0) {
                if (!(dtok = calloc((size_t)k, sizeof *dtok)))
                    FAILR(rp, "out of memory");
                if (parse_doubles(rest, dtok, k, &e) != k)
                    FAILR(rp, "data: need %d token counts", k);
                data.tokens = dtok;
            } else {
                e = rest + 2;
            }
            e = strchr(e, '|');
            if (!e || sscanf(e + 1, "%lf %lf", &data.draw_tokens, &data.draw_seqs) != 2)
                FAILR(rp, "data: need '| draw_tokens draw_seqs'");
            dp = &data;
        } else if (strncmp(line, "k ", 2) == 0) {
            k = atoi(rest);
            if (k < 1 || k > 100000)
                FAILR(rp, "bad k %d", k);
            want = calloc((size_t)k, sizeof *want);
            sums = calloc((size_t)k, sizeof *sums);
            tokens = calloc((size_t)k, sizeof *tokens);
            if (!want || !sums || !tokens)
                FAILR(rp, "out of memory");
        } else if (strncmp(line, "seed ", 5) == 0) {
            seed = strtoull(rest, NULL, 10);
        } else if (strncmp(line, "weights ", 8) == 0) {
            if (k < 1 || !spec[0])
                FAILR(rp, "weights before spec and k");
            if (strcmp(rest, "-") != 0) {
                weights = calloc((size_t)k, sizeof *weights);
                if (!weights)
                    FAILR(rp, "out of memory");
                if (parse_doubles(rest, weights, k, NULL) != k)
                    FAILR(rp, "weights: need %d values", k);
            }
            if (bmx_mix_create_data(&m, spec, k, weights, dp, seed, &err) != 0)
                FAILR(rp, "bmx_mix_create(\"%s\", k=%d): %s", spec, k, err.msg);
            if (bmx_mix_arms(m) != k)
                FAILR(rp, "bmx_mix_arms %d, want %d", bmx_mix_arms(m), k);
            if (strncmp(bmx_mix_name(m), spec, strcspn(spec, ":")) != 0 ||
                bmx_mix_name(m)[strcspn(spec, ":")] != '\0')
                FAILR(rp, "bmx_mix_name \"%s\" for spec \"%s\"", bmx_mix_name(m), spec);
        } else if (!m) {
            FAILR(rp, "\"%s\" before the policy was created", line);
        } else if (strncmp(line, "round ", 6) == 0) {
            rp->round = atol(rest);
            if (bmx_mix_round(m) != rp->round)
                FAILR(rp, "bmx_mix_round %ld", bmx_mix_round(m));
        } else if ((vec = vector_line(line)) != NULL) {
            if (compare_vec(rp, vec->what, rest, vec->get(m), k, want) != 0)
                goto out;
        } else if (strncmp(line, "theta ", 6) == 0) {
            const double *th = bmx_mix_fit(m);
            double w3[3 * 64];
            if (strcmp(rest, "-") == 0) {
                if (th)
                    FAILR(rp, "theta: expected no fit yet");
                continue;
            }
            if (k > 64 || parse_doubles(rest, w3, 3 * k, NULL) != 3 * k)
                FAILR(rp, "theta: need %d values", 3 * k);
            if (!th)
                FAILR(rp, "theta: C has no fit");
            for (int i = 0; i < 3 * k; i++)
                if (!near_theta(th[i], w3[i]))
                    FAILR(rp, "theta, arm %d parameter %d: C %.17g, reference %.17g", i / 3, i % 3,
                          th[i], w3[i]);
        } else if (strncmp(line, "needval ", 8) == 0) {
            if (bmx_mix_needs_validation(m) != atoi(rest))
                FAILR(rp, "bmx_mix_needs_validation %d, reference %s", bmx_mix_needs_validation(m),
                      rest);
        } else if (strncmp(line, "val ", 4) == 0) {
            if (parse_doubles(rest, sums, k, NULL) != k)
                FAILR(rp, "val: need %d losses", k);
            if (bmx_mix_observe_validation(m, sums, &err) != 0)
                FAILR(rp, "bmx_mix_observe_validation: %s", err.msg);
        } else if (strncmp(line, "draw ", 5) == 0) {
            int expect = atoi(rest), got = bmx_mix_draw(m);
            if (got != expect)
                FAILR(rp, "bmx_mix_draw returned arm %d, reference arm %d", got, expect);
        } else if (strncmp(line, "obs ", 4) == 0) {
            char *e;
            int arm = (int)strtol(rest, &e, 10);
            double v = strtod(e, NULL);
            if (bmx_mix_observe(m, arm, v, &err) != 0)
                FAILR(rp, "bmx_mix_observe(arm %d, %.17g): %s", arm, v, err.msg);
        } else if (strncmp(line, "excess ", 7) == 0) {
            const char *e;
            if (parse_doubles(rest, sums, k, &e) != k || *e != '|' ||
                parse_doubles(e + 1, tokens, k, NULL) != k)
                FAILR(rp, "excess: need %d sums | %d token counts", k, k);
            if (bmx_mix_observe_excess(m, sums, tokens, &err) != 0)
                FAILR(rp, "bmx_mix_observe_excess: %s", err.msg);
        } else if (strcmp(line, "step") == 0) {
            char why[600];
            if (rp->resave && (rp->round == 3 || rp->round == 5) &&
                move_state(&m, rp->round, spec, k, weights, dp, seed, why, sizeof why) != 0)
                FAILR(rp, "%s", why);
            if (bmx_mix_step(m, &err) != 0)
                FAILR(rp, "bmx_mix_step: %s", err.msg);
        } else if (strcmp(line, "end") == 0) {
            ended = 1;
            break;
        } else {
            FAILR(rp, "unknown fixture line \"%.40s\"", line);
        }
    }
    if (!ended)
        FAILR(rp, "no \"end\" line: truncated fixture");
    rc = 0;
out:
    bmx_mix_free(m);
    free(weights);
    free(dtok);
    free(want);
    free(sums);
    free(tokens);
    free(line);
    if (f)
        fclose(f);
    return rc;
}

/* Replay every fixture whose spec names policy; at least one must exist. */
static void check_policy(const char *policy)
{
    char *names[MAX_FIXTURES], dir[256], name[128], failure[1024] = "";
    int n = list_fixtures(names, MAX_FIXTURES), used = 0;
    struct replay rp;

    n_compared = 0;
    max_rel = 0.0;
    max_rel_theta = 0.0;
    CHECK_MSG(n >= 0, "cannot list %s: run tests/ref/gen_mix_fixtures.py",
              fixture_dir(dir, sizeof dir));
    for (int i = 0; i < n && !failure[0]; i++) {
        snprintf(rp.path, sizeof rp.path, "%s/%s", fixture_dir(dir, sizeof dir), names[i]);
        fixture_policy(rp.path, name, sizeof name);
        if (strcmp(name, policy) != 0)
            continue;
        used++;
        for (rp.resave = 0; rp.resave <= 1 && !failure[0]; rp.resave++)
            if (replay_fixture(&rp) != 0)
                snprintf(failure, sizeof failure, "%s%.900s",
                         rp.resave ? "(saved and restored) " : "", rp.msg);
    }
    free_names(names, n > 0 ? n : 0);
    printf("# %s: %d fixtures, %ld values compared, largest relative difference %.3g (fitted "
           "parameters %.3g)\n",
           policy, used, n_compared, max_rel, max_rel_theta);
    CHECK_MSG(!failure[0], "%.900s", failure);
    CHECK_MSG(used > 0, "no fixture for policy %s in %s", policy, dir);
}

static const char *const policies[] = {
    "uniform",     "natural", "weights",      "odm",          "odm-smoothed-mean",
    "exp3",        "ucb1",    "explore-only", "exploit-only", "doremi",
    "temperature", "ado",     "aioli"};

/* Every fixture belongs to a policy this test replays (none is silently left out). */
static void test_every_fixture_known(void)
{
    char *names[MAX_FIXTURES], dir[256], path[320], name[128], bad[256] = "";
    int n = list_fixtures(names, MAX_FIXTURES);

    fixture_dir(dir, sizeof dir);
    for (int i = 0; i < n && !bad[0]; i++) {
        int known = 0;
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        fixture_policy(path, name, sizeof name);
        for (size_t j = 0; j < sizeof policies / sizeof *policies; j++)
            known |= strcmp(name, policies[j]) == 0;
        if (!known)
            snprintf(bad, sizeof bad, "%s: policy \"%s\"", names[i], name);
    }
    free_names(names, n > 0 ? n : 0);
    CHECK_MSG(n >= 30, "%d policy fixtures in %s, expected at least 30", n, dir);
    CHECK_MSG(!bad[0], "fixture of an unknown policy: %s", bad);
}

static void test_uniform(void)
{
    check_policy("uniform");
}
static void test_natural(void)
{
    check_policy("natural");
}
static void test_weights(void)
{
    check_policy("weights");
}
static void test_odm(void)
{
    check_policy("odm");
}
static void test_odm_smoothed_mean(void)
{
    check_policy("odm-smoothed-mean");
}
static void test_exp3(void)
{
    check_policy("exp3");
}
static void test_ucb1(void)
{
    check_policy("ucb1");
}
static void test_explore_only(void)
{
    check_policy("explore-only");
}
static void test_exploit_only(void)
{
    check_policy("exploit-only");
}
static void test_doremi(void)
{
    check_policy("doremi");
}
/* section 5: temperature; min-prob and max-epochs ride on the odm, ucb1, exp3, natural and
 * ado fixtures (dprobs, drawn, draw -1 lines) */
static void test_temperature(void)
{
    check_policy("temperature");
}
/* section 6: draws identical, distributions to 1e-9, fitted parameters to 1e-6 relative */
static void test_ado(void)
{
    check_policy("ado");
}
/* section 7: draws identical, distributions to 1e-9 */
static void test_aioli(void)
{
    check_policy("aioli");
}

/* ---- rewards ---- */

struct vec {
    double *v;
    int n;
};

static int read_vec(const char *s, struct vec *out)
{
    int n = count_fields(s);

    free(out->v);
    out->v = malloc((size_t)(n > 0 ? n : 1) * sizeof *out->v);
    out->n = out->v ? parse_doubles(s, out->v, n, NULL) : 0;
    return out->v && out->n == n ? 0 : -1;
}

static int check_rewards(char *msg, size_t cap)
{
    char path[320], *line = NULL, cname[128] = "";
    size_t lcap = 0;
    FILE *f;
    struct vec a = {0}, b = {0}, ranges = {0};
    float *fa = NULL, *fb = NULL;
    bmx_grad_stats s = {0};
    int lineno = 0, cases = 0, losses = 0, rc = -1, ended = 0;

    if (!(f = open_fixture("rewards.txt", path, sizeof path, msg, cap)))
        return -1;
#define FAILW(...)                                                                                 \
    do {                                                                                           \
        int n_ = snprintf(msg, cap, "%s:%d (case %s): ", path, lineno, cname);                     \
        snprintf(msg + n_, cap - (size_t)n_, __VA_ARGS__);                                         \
        goto out;                                                                                  \
    } while (0)
    while (getline(&line, &lcap, f) > 0) {
        char *rest;
        double want[3];
        lineno++;
        line[strcspn(line, "\n")] = '\0';
        if (line[0] == '#' || line[0] == '\0')
            continue;
        rest = strchr(line, ' ');
        rest = rest ? rest + 1 : line + strlen(line);
        if (strncmp(line, "case ", 5) == 0) {
            snprintf(cname, sizeof cname, "%s", rest);
            cases++;
        } else if (strncmp(line, "a ", 2) == 0) {
            if (read_vec(rest, &a) != 0)
                FAILW("bad vector a");
        } else if (strncmp(line, "b ", 2) == 0) {
            if (read_vec(rest, &b) != 0)
                FAILW("bad vector b");
        } else if (strncmp(line, "ranges ", 7) == 0) {
            size_t off = 0;
            if (read_vec(rest, &ranges) != 0 || a.n != b.n)
                FAILW("bad ranges, or a and b differ in length");
            free(fa);
            free(fb);
            fa = malloc((size_t)a.n * sizeof *fa);
            fb = malloc((size_t)b.n * sizeof *fb);
            if (!fa || !fb)
                FAILW("out of memory");
            for (int i = 0; i < a.n; i++) {
                fa[i] = (float)a.v[i];
                fb[i] = (float)b.v[i];
                if ((double)fa[i] != a.v[i] || (double)fb[i] != b.v[i])
                    FAILW("element %d is not a float32 value", i);
            }
            s = (bmx_grad_stats){0};
            for (int r = 0; r < ranges.n; r++) {
                size_t len = (size_t)ranges.v[r];
                if (off + len > (size_t)a.n)
                    FAILW("ranges exceed the vectors");
                bmx_grad_stats_add(&s, fa + off, fb + off, len);
                off += len;
            }
            if (off != (size_t)a.n)
                FAILW("ranges do not cover the vectors");
        } else if (strncmp(line, "stats ", 6) == 0) {
            double got[3] = {s.ab, s.aa, s.bb};
            static const char *const names[3] = {"<a,b>", "<a,a>", "<b,b>"};
            if (parse_doubles(rest, want, 3, NULL) != 3)
                FAILW("stats: need 3 values");
            for (int i = 0; i < 3; i++)
                if (!near(got[i], want[i]))
                    FAILW("%s: C %.17g, reference %.17g", names[i], got[i], want[i]);
        } else if (strncmp(line, "ga ", 3) == 0 || strncmp(line, "gms ", 4) == 0 ||
                   strncmp(line, "agg ", 4) == 0) {
            double got, via;
            if (parse_doubles(rest, want, 1, NULL) != 1)
                FAILW("need a value");
            if (line[1] == 'a') {
                got = bmx_reward_ga(&s);
                via = bmx_reward_value(BMX_REWARD_GA, &s, 0.0);
            } else if (line[1] == 'm') {
                got = bmx_reward_gms(&s);
                via = bmx_reward_value(BMX_REWARD_GMS, &s, 0.0);
            } else {
                got = bmx_reward_agg(&s);
                via = bmx_reward_value(BMX_REWARD_AGG, &s, 0.0);
            }
            if (!near(got, want[0]) || got != via)
                FAILW("%.3s: C %.17g (via bmx_reward_value %.17g), reference %.17g", line, got, via,
                      want[0]);
        } else if (strncmp(line, "loss ", 5) == 0) {
            double l, el;
            if (parse_doubles(rest, want, 2, NULL) != 2)
                FAILW("loss: need 2 values");
            l = bmx_reward_value(BMX_REWARD_LOSS, NULL, want[0]);
            el = bmx_reward_value(BMX_REWARD_EXP_LOSS, NULL, want[0]);
            if (l != want[0] || !near(el, want[1]))
                FAILW("loss %.17g: C loss %.17g exp-loss %.17g, reference exp %.17g", want[0], l,
                      el, want[1]);
            losses++;
        } else if (strcmp(line, "end") == 0) {
            ended = 1;
            break;
        } else {
            FAILW("unknown line \"%.40s\"", line);
        }
    }
    if (!ended || cases < 10 || losses < 3)
        FAILW("truncated: %d cases, %d losses, end %d", cases, losses, ended);
    rc = 0;
#undef FAILW
out:
    free(a.v);
    free(b.v);
    free(ranges.v);
    free(fa);
    free(fb);
    free(line);
    fclose(f);
    return rc;
}

static void test_rewards(void)
{
    char msg[1024] = "";
    int rc;

    n_compared = 0;
    max_rel = 0.0;
    max_rel_theta = 0.0;
    rc = check_rewards(msg, sizeof msg);
    printf("# rewards: %ld values compared, largest relative difference %.3g\n", n_compared,
           max_rel);
    CHECK_MSG(rc == 0, "%.900s", msg);
}

static void test_reward_names(void)
{
    static const char *const names[] = {"loss", "exp-loss", "ga", "gms", "agg"};
    static const bmx_reward kinds[] = {BMX_REWARD_LOSS, BMX_REWARD_EXP_LOSS, BMX_REWARD_GA,
                                       BMX_REWARD_GMS, BMX_REWARD_AGG};
    bmx_err err = {0};
    bmx_reward r;

    for (int i = 0; i < 5; i++) {
        CHECK_EQ_INT(bmx_reward_parse(names[i], &r, &err), 0);
        CHECK_EQ_INT(r, kinds[i]);
        CHECK_EQ_STR(bmx_reward_name(kinds[i]), names[i]);
    }
    CHECK(bmx_reward_parse("cosine", &r, &err) < 0);
    CHECK_MSG(strstr(err.msg, "cosine") != NULL, "error message \"%s\" does not name the input",
              err.msg);
}

/* ---- the generator ---- */

static int check_rng(char *msg, size_t cap)
{
    char path[320], *line = NULL;
    size_t lcap = 0;
    FILE *f;
    bmx_rng r = {{0}};
    int lineno = 0, seeds = 0, rc = -1, ended = 0;
    double cdf[16];

    if (!(f = open_fixture("rng.txt", path, sizeof path, msg, cap)))
        return -1;
#define FAILG(...)                                                                                 \
    do {                                                                                           \
        int n_ = snprintf(msg, cap, "%s:%d: ", path, lineno);                                      \
        snprintf(msg + n_, cap - (size_t)n_, __VA_ARGS__);                                         \
        goto out;                                                                                  \
    } while (0)
    while (getline(&line, &lcap, f) > 0) {
        char *p, *e;
        lineno++;
        line[strcspn(line, "\n")] = '\0';
        if (line[0] == '#' || line[0] == '\0')
            continue;
        if (strncmp(line, "seed ", 5) == 0) {
            uint64_t seed = strtoull(line + 5, &e, 10), stream = strtoull(e, NULL, 10);
            bmx_rng_seed(&r, seed, stream);
            seeds++;
        } else if (strncmp(line, "u64 ", 4) == 0) {
            for (p = line + 4; *p; p = e) {
                uint64_t want = strtoull(p, &e, 10), got;
                if (e == p)
                    break;
                got = bmx_rng_u64(&r);
                if (got != want)
                    FAILG("u64 %" PRIu64 ", reference %" PRIu64, got, want);
            }
        } else if (strncmp(line, "double ", 7) == 0) {
            for (p = line + 7; *p; p = e) {
                double want = strtod(p, &e), got;
                if (e == p)
                    break;
                got = bmx_rng_double(&r);
                if (got != want)
                    FAILG("double %.17g, reference %.17g", got, want);
            }
        } else if (strncmp(line, "below ", 6) == 0) {
            uint64_t n = strtoull(line + 6, &e, 10);
            for (p = e; *p; p = e) {
                uint64_t want = strtoull(p, &e, 10), got;
                if (e == p)
                    break;
                got = bmx_rng_below(&r, n);
                if (got != want)
                    FAILG("below(%" PRIu64 ") %" PRIu64 ", reference %" PRIu64, n, got, want);
            }
        } else if (strncmp(line, "cat ", 4) == 0) {
            const char *q;
            int k = parse_doubles(line + 4, cdf, 16, &q);
            if (k < 1 || *q != '=')
                FAILG("cat: need \"c1 .. ck = i ..\"");
            for (p = (char *)q + 1; *p; p = e) {
                long want = strtol(p, &e, 10);
                size_t got;
                if (e == p)
                    break;
                got = bmx_rng_categorical_cdf(&r, cdf, (size_t)k);
                if ((long)got != want)
                    FAILG("categorical_cdf %zu, reference %ld", got, want);
            }
        } else if (strcmp(line, "end") == 0) {
            ended = 1;
            break;
        } else {
            FAILG("unknown line \"%.40s\"", line);
        }
    }
    if (!ended || seeds < 4)
        FAILG("truncated: %d seeds, end %d", seeds, ended);
    rc = 0;
#undef FAILG
out:
    free(line);
    fclose(f);
    return rc;
}

static void test_rng(void)
{
    char msg[1024] = "";
    int rc = check_rng(msg, sizeof msg);
    CHECK_MSG(rc == 0, "%.900s", msg);
}

int main(int argc, char **argv)
{
    static const struct check_case cases[] = {
        {"rng", test_rng},
        {"every_fixture_known", test_every_fixture_known},
        {"uniform", test_uniform},
        {"natural", test_natural},
        {"weights", test_weights},
        {"odm", test_odm},
        {"odm_smoothed_mean", test_odm_smoothed_mean},
        {"exp3", test_exp3},
        {"ucb1", test_ucb1},
        {"explore_only", test_explore_only},
        {"exploit_only", test_exploit_only},
        {"doremi", test_doremi},
        {"temperature", test_temperature},
        {"ado", test_ado},
        {"aioli", test_aioli},
        {"rewards", test_rewards},
        {"reward_names", test_reward_names},
        {0},
    };
    return check_main(argc, argv, cases);
}
