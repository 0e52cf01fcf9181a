/* tests/check.h - the minimal test harness every C test binary uses.
 *
 * A test binary lists its cases and calls check_main():
 *
 *     static void test_sum(void) { CHECK_EQ_INT(1 + 1, 2); }
 *     int main(int argc, char **argv)
 *     {
 *         static const struct check_case cases[] = {{"sum", test_sum}, {0}};
 *         return check_main(argc, argv, cases);
 *     }
 *
 * Each case prints "ok NAME", "FAIL NAME: file:line: what" or "skip NAME: why"; the last line
 * is "# NAME-OF-BINARY: P passed, F failed, S skipped", which tests/run.sh adds up.
 * `./test_x NAME` runs only the case NAME.
 */
#ifndef BMX_TESTS_CHECK_H
#define BMX_TESTS_CHECK_H

#include <math.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct check_case {
    const char *name;
    void (*fn)(void);
};

struct check_state {
    jmp_buf jb;
    int failed;  /* current case failed */
    int skipped; /* current case skipped */
    char msg[1024];
};

static struct check_state check_st;

#define CHECK_FAILF(...)                                                                           \
    do {                                                                                           \
        int n_ = snprintf(check_st.msg, sizeof check_st.msg, "%s:%d: ", __FILE__, __LINE__);       \
        snprintf(check_st.msg + n_, sizeof check_st.msg - (size_t)n_, __VA_ARGS__);                \
        check_st.failed = 1;                                                                       \
        longjmp(check_st.jb, 1);                                                                   \
    } while (0)

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            CHECK_FAILF("CHECK(%s)", #cond);                                                       \
    } while (0)

#define CHECK_MSG(cond, ...)                                                                       \
    do {                                                                                           \
        if (!(cond))                                                                               \
            CHECK_FAILF(__VA_ARGS__);                                                              \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                                         \
    do {                                                                                           \
        long long a_ = (long long)(a), b_ = (long long)(b);                                        \
        if (a_ != b_)                                                                              \
            CHECK_FAILF("%s == %s: %lld != %lld", #a, #b, a_, b_);                                 \
    } while (0)

#define CHECK_EQ_STR(a, b)                                                                         \
    do {                                                                                           \
        const char *a_ = (a), *b_ = (b);                                                           \
        if (strcmp(a_, b_) != 0)                                                                   \
            CHECK_FAILF("%s == %s: \"%s\" != \"%s\"", #a, #b, a_, b_);                             \
    } while (0)

/* |a - b| <= tol * max(1, |b|): relative for large values, absolute near zero. */
#define CHECK_NEAR(a, b, tol)                                                                      \
    do {                                                                                           \
        double a_ = (double)(a), b_ = (double)(b), t_ = (double)(tol);                             \
        double s_ = fabs(b_) > 1.0 ? fabs(b_) : 1.0;                                               \
        if (!(fabs(a_ - b_) <= t_ * s_))                                                           \
            CHECK_FAILF("%s ~ %s: %.17g vs %.17g (tol %g)", #a, #b, a_, b_, t_);                   \
    } while (0)

/* Substring test, for error messages. */
#define CHECK_CONTAINS(hay, needle)                                                                \
    do {                                                                                           \
        const char *h_ = (hay), *nd_ = (needle);                                                   \
        if (!h_ || !strstr(h_, nd_))                                                               \
            CHECK_FAILF("\"%.400s\" does not contain \"%.200s\"", h_ ? h_ : "(null)", nd_);        \
    } while (0)

#define SKIP(...)                                                                                  \
    do {                                                                                           \
        snprintf(check_st.msg, sizeof check_st.msg, __VA_ARGS__);                                  \
        check_st.skipped = 1;                                                                      \
        longjmp(check_st.jb, 1);                                                                   \
    } while (0)

static inline const char *check_basename(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

/* The path of this binary's scratch directory ("" until check_tmpdir makes it). */
static inline char *check_tmpdir_buf(void)
{
    static char dir[96];
    return dir;
}

static inline void check_tmpdir_remove(void)
{
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", check_tmpdir_buf());
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", check_tmpdir_buf());
}

/* A scratch directory for this test binary, /tmp/bmx_test_<tag>_XXXXXX, made on the first
 * call and removed with its contents when the binary exits. */
static inline const char *check_tmpdir(const char *tag)
{
    char *dir = check_tmpdir_buf();
    if (!dir[0]) {
        snprintf(dir, 96, "/tmp/bmx_test_%s_XXXXXX", tag);
        if (!mkdtemp(dir))
            abort();
        atexit(check_tmpdir_remove);
    }
    return dir;
}

/* setjmp in a function of its own, so that no caller's locals live across the longjmp. */
static inline void check_run_one(void (*fn)(void))
{
    check_st.failed = check_st.skipped = 0;
    check_st.msg[0] = '\0';
    if (setjmp(check_st.jb) == 0)
        fn();
}

static inline int check_main(int argc, char **argv, const struct check_case *cases)
{
    int pass = 0, fail = 0, skip = 0;

    setvbuf(stdout, NULL, _IOLBF, 0);
    for (const struct check_case *c = cases; c->name; c++) {
        if (argc > 1 && strcmp(argv[1], c->name) != 0)
            continue;
        check_run_one(c->fn);
        if (check_st.failed) {
            printf("FAIL %s: %s\n", c->name, check_st.msg);
            fail++;
        } else if (check_st.skipped) {
            printf("skip %s: %s\n", c->name, check_st.msg);
            skip++;
        } else {
            printf("ok %s\n", c->name);
            pass++;
        }
    }
    printf("# %s: %d passed, %d failed, %d skipped\n", check_basename(argv[0]), pass, fail, skip);
    return fail ? 1 : 0;
}

#endif
