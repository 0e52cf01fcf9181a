/* The JSON reader of bmx/report.h (bmx_jval): documents, escapes, surrogates, nesting, exact
 * integers, errors with byte offsets, and the pretty-printer's byte-exact round trip. */
#include <stdint.h>

#include "bmx/core.h"
#include "check.h"

static bmx_jval *parse(const char *text)
{
    bmx_jval *v = NULL;
    bmx_err err = {0};
    int rc = bmx_jval_parse(text, strlen(text), &v, &err);

    CHECK_MSG(rc == BMX_OK && v, "parse of %s failed: %s", text, err.msg);
    return v;
}

/* Parse must fail with BMX_ECORRUPT and exactly this message. */
static void fails(const char *text, size_t len, const char *msg)
{
    bmx_jval *v = (bmx_jval *)1;
    bmx_err err = {0};
    int rc = bmx_jval_parse(text, len, &v, &err);

    CHECK_MSG(rc == BMX_ECORRUPT, "%s: rc %d", text, rc);
    CHECK(v == NULL);
    CHECK_EQ_STR(err.msg, msg);
}

static void test_document(void)
{
    bmx_jval *v = parse(
        " {\"a\": [1, -2.5e3, true, false, null, \"x\"],\r\n\t\"b\": {\"c\": {}}, \"d\": []} ");
    bmx_jval *a = bmx_jval_get(v, "a"), *c;
    double x;

    CHECK_EQ_INT(v->t, BMX_JOBJ);
    CHECK_EQ_INT((int)v->n, 3);
    CHECK_EQ_STR(v->keys[0], "a");
    CHECK_EQ_STR(v->keys[1], "b");
    CHECK_EQ_STR(v->keys[2], "d");
    CHECK_EQ_INT(a->t, BMX_JARR);
    CHECK_EQ_INT((int)a->n, 6);
    CHECK_EQ_INT(a->items[0]->t, BMX_JNUM);
    CHECK_EQ_STR(a->items[1]->s, "-2.5e3");
    CHECK(bmx_jval_as_double(a->items[1], &x) == 0 && x == -2500.0);
    CHECK(a->items[2]->t == BMX_JBOOL && a->items[2]->b == 1);
    CHECK(a->items[3]->t == BMX_JBOOL && a->items[3]->b == 0);
    CHECK_EQ_INT(a->items[4]->t, BMX_JNULL);
    CHECK(a->items[5]->t == BMX_JSTR && strcmp(a->items[5]->s, "x") == 0);
    c = bmx_jval_get(bmx_jval_get(v, "b"), "c");
    CHECK(c && c->t == BMX_JOBJ && c->n == 0);
    CHECK(bmx_jval_get(v, "d")->t == BMX_JARR && bmx_jval_get(v, "d")->n == 0);
    CHECK(bmx_jval_get(v, "missing") == NULL);
    CHECK(bmx_jval_get(a, "a") == NULL); /* not an object */
    CHECK(bmx_jval_get(NULL, "a") == NULL);
    /* as_double refuses what is not a number */
    CHECK(bmx_jval_as_double(a->items[5], &x) == -1);
    CHECK(bmx_jval_as_double(NULL, &x) == -1);
    bmx_jval_free(v);

    /* scalars at top level; a repeated key keeps its first place and its last value */
    v = parse("\"s\"");
    CHECK(v->t == BMX_JSTR && strcmp(v->s, "s") == 0);
    bmx_jval_free(v);
    v = parse("{\"k\": 1, \"j\": 2, \"k\": 3}");
    CHECK_EQ_INT((int)v->n, 2);
    CHECK_EQ_STR(v->keys[0], "k");
    CHECK_EQ_STR(v->items[0]->s, "3");
    bmx_jval_free(v);
}

static void test_escapes(void)
{
    bmx_jval *v = parse("\"q\\\"b\\\\s\\/b\\bf\\fn\\nr\\rt\\tA\\u0041e\\u00e9E\\u20AC\"");

    CHECK_EQ_STR(v->s, "q\"b\\s/b\bf\fn\nr\rt\tAAe\xc3\xa9"
                       "E\xe2\x82\xac");
    bmx_jval_free(v);
    /* raw UTF-8 passes through unchanged */
    v = parse("\"\xc3\xa9\xf0\x9f\x98\x80\"");
    CHECK_EQ_STR(v->s, "\xc3\xa9\xf0\x9f\x98\x80");
    bmx_jval_free(v);
    /* keys are decoded the same way */
    v = parse("{\"a\\nb\": 1}");
    CHECK(bmx_jval_get(v, "a\nb") != NULL);
    bmx_jval_free(v);
}

static void test_surrogates(void)
{
    /* U+1F600 = D83D DE00 -> F0 9F 98 80; U+10FFFF = DBFF DFFF -> F4 8F BF BF */
    bmx_jval *v = parse("\"\\ud83d\\ude00|\\uDBFF\\uDFFF|\\uD800\\uDC00\"");

    CHECK_EQ_STR(v->s, "\xf0\x9f\x98\x80|\xf4\x8f\xbf\xbf|\xf0\x90\x80\x80");
    bmx_jval_free(v);
    /* lone surrogates become U+FFFD (EF BF BD) */
    v = parse("\"\\ud800x\\udc00\\udfff\"");
    CHECK_EQ_STR(v->s, "\xef\xbf\xbdx\xef\xbf\xbd\xef\xbf\xbd");
    bmx_jval_free(v);
    /* a high surrogate followed by an escape that is not a low one */
    fails("\"ab\\ud800\\u0041\"", 16, "bad surrogate pair at byte 3");
    fails("\"\\ud800\\uZZZZ\"", 14, "bad surrogate pair at byte 1");
}

static void test_nesting(void)
{
    char deep[2 * 65 + 1];

    for (int i = 0; i < 64; i++) {
        deep[i] = '[';
        deep[64 + i] = ']';
    }
    deep[128] = 0;
    bmx_jval *v = parse(deep), *w = v;
    int depth = 0;
    while (w->t == BMX_JARR && w->n == 1) {
        w = w->items[0];
        depth++;
    }
    CHECK_EQ_INT(depth, 63); /* 64 arrays, the innermost empty */
    CHECK(w->t == BMX_JARR && w->n == 0);
    bmx_jval_free(v);
    for (int i = 0; i < 65; i++) {
        deep[i] = '[';
        deep[65 + i] = ']';
    }
    deep[130] = 0;
    fails(deep, 130, "nesting too deep at byte 64");
    /* objects inside arrays inside objects */
    v = parse("{\"a\":[{\"b\":[[{\"c\":\"d\"}]]}]}");
    w = bmx_jval_get(bmx_jval_get(v, "a")->items[0], "b")->items[0]->items[0];
    CHECK_EQ_STR(bmx_jval_get(w, "c")->s, "d");
    bmx_jval_free(v);
}

static void test_integers(void)
{
    bmx_jval *v = parse("[0, 18446744073709551615, 9007199254740993, 18446744073709551616, -1, "
                        "1.0, 1e3, -0, 12345678901234567890]");
    uint64_t u = 7;
    double x;

    CHECK(bmx_jval_as_u64(v->items[0], &u) == 0 && u == 0);
    CHECK(bmx_jval_as_u64(v->items[1], &u) == 0 && u == UINT64_MAX);
    /* 2^53 + 1: exact as u64, a double rounds it to 2^53 */
    CHECK(bmx_jval_as_u64(v->items[2], &u) == 0 && u == 9007199254740993ull);
    CHECK(bmx_jval_as_double(v->items[2], &x) == 0 && x == 9007199254740992.0);
    u = 7;
    CHECK(bmx_jval_as_u64(v->items[3], &u) == -1 && u == 7); /* 2^64 overflows */
    CHECK(bmx_jval_as_double(v->items[3], &x) == 0 && x == 18446744073709551616.0);
    CHECK(bmx_jval_as_u64(v->items[4], &u) == -1);
    CHECK(bmx_jval_as_double(v->items[4], &x) == 0 && x == -1.0);
    CHECK(bmx_jval_as_u64(v->items[5], &u) == -1);
    CHECK(bmx_jval_as_u64(v->items[6], &u) == -1);
    CHECK(bmx_jval_as_double(v->items[6], &x) == 0 && x == 1000.0);
    CHECK(bmx_jval_as_u64(v->items[7], &u) == -1);
    CHECK(bmx_jval_as_u64(v->items[8], &u) == 0 && u == 12345678901234567890ull);
    CHECK(bmx_jval_as_u64(NULL, &u) == -1);
    bmx_jval_free(v);
    /* numbers the writer makes read back to the same double */
    v = parse("[0.1, 1.0000000000000002, -2.2250738585072014e-308, 1E+2]");
    CHECK(bmx_jval_as_double(v->items[0], &x) == 0 && x == 0.1);
    CHECK(bmx_jval_as_double(v->items[1], &x) == 0 && x == 1.0000000000000002);
    CHECK(bmx_jval_as_double(v->items[2], &x) == 0 && x == -2.2250738585072014e-308);
    CHECK(bmx_jval_as_double(v->items[3], &x) == 0 && x == 100.0);
    bmx_jval_free(v);
}

static void test_errors(void)
{
    static const struct {
        const char *text, *msg;
    } bad[] = {
        {"", "unexpected end of input at byte 0"},
        {"   ", "unexpected end of input at byte 3"},
        {"[", "unexpected end of input at byte 1"},
        {"[1,]", "unexpected character at byte 3"},
        {"[1 2]", "expected ',' or ']' at byte 3"},
        {"{\"a\":1", "expected ',' or '}' at byte 6"},
        {"{\"a\" 1}", "expected ':' at byte 5"},
        {"{1:2}", "expected a string key at byte 1"},
        {"{\"a\":1,}", "expected a string key at byte 7"},
        {"\"abc", "unterminated string at byte 4"},
        {"\"a\tb\"", "control character in string at byte 2"},
        {"\"a\\qb\"", "bad escape in string at byte 2"},
        {"\"\\u12G4\"", "bad \\u escape at byte 1"},
        {"\"\\u12\"", "bad \\u escape at byte 1"},
        {"\"x\\u0000\"", "NUL in string at byte 2"},
        {"tru", "unexpected character at byte 0"},
        {"nul", "unexpected character at byte 0"},
        {"NaN", "unexpected character at byte 0"},
        {"+1", "unexpected character at byte 0"},
        {".5", "unexpected character at byte 0"},
        {"-", "bad number (no digits) at byte 1"},
        {"-x", "bad number (no digits) at byte 1"},
        {"01", "bad number (a leading zero) at byte 1"},
        {"-00", "bad number (a leading zero) at byte 2"},
        {"1.", "bad number (no digits after '.') at byte 2"},
        {"1.e5", "bad number (no digits after '.') at byte 2"},
        {"1e", "bad number (no digits in the exponent) at byte 2"},
        {"1e+", "bad number (no digits in the exponent) at byte 3"},
        {"1 2", "trailing characters after the value at byte 2"},
        {"{} x", "trailing characters after the value at byte 3"},
        {"[1-2]", "expected ',' or ']' at byte 2"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        fails(bad[i].text, strlen(bad[i].text), bad[i].msg);
    /* a NUL byte in the input is not JSON; len bounds the text (no NUL terminator needed) */
    fails("[1]\0", 4, "trailing characters after the value at byte 3");
    {
        bmx_jval *v = NULL;
        bmx_err err = {0};
        CHECK(bmx_jval_parse("[12]xyz", 4, &v, &err) == BMX_OK && v && v->n == 1);
        CHECK_EQ_STR(v->items[0]->s, "12");
        bmx_jval_free(v);
        /* err may be NULL: the status still says what happened */
        CHECK(bmx_jval_parse("[", 1, &v, NULL) == BMX_ECORRUPT && v == NULL);
    }
}

static char *write_text(const bmx_jval *v)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);

    CHECK(bmx_jval_write(v, f) == 0);
    fclose(f);
    return text;
}

static void test_round_trip(void)
{
    const char *doc = "{\n"
                      "  \"format\": \"bmx-corpus\",\n"
                      "  \"n\": 18446744073709551615,\n"
                      "  \"frac\": 0.10,\n"
                      "  \"esc\": \"a\\\"b\\\\c\\nd\\te\\u0001\\u007f\xc3\xa9\",\n"
                      "  \"list\": [\n"
                      "    1,\n"
                      "    {},\n"
                      "    [],\n"
                      "    null,\n"
                      "    false\n"
                      "  ]\n"
                      "}\n";
    bmx_jval *v = parse(doc);
    char *text = write_text(v);

    CHECK_EQ_STR(text, doc);
    free(text);
    /* set replaces in place (order kept) or appends */
    CHECK(bmx_jval_set(v, "frac", bmx_jval_u64(3)) == 0);
    CHECK(bmx_jval_set(v, "new", bmx_jval_str("\xe2\x82\xac")) == 0);
    CHECK(bmx_jval_push(bmx_jval_get(v, "list"), bmx_jval_bool(1)) == 0);
    CHECK(bmx_jval_push(v, bmx_jval_null()) == -1); /* not an array: the value is freed */
    text = write_text(v);
    CHECK_CONTAINS(text, "\"n\": 18446744073709551615,\n  \"frac\": 3,\n  \"esc\"");
    CHECK_CONTAINS(text, "    false,\n    true\n  ],\n  \"new\": \"\xe2\x82\xac\"\n}\n");
    bmx_jval_free(v);
    /* what is written parses back to the same text */
    v = parse(text);
    char *again = write_text(v);
    CHECK_EQ_STR(again, text);
    free(again);
    free(text);
    bmx_jval_free(v);
}

/* Issue 11 item 9: objects with many keys (the key index). Insertion order, a repeated key
 * keeping its first place and its last value, lookups of present and absent keys, through
 * bmx_jval_set and through the parser; the index is rebuilt as the object grows, so sizes
 * around every doubling are crossed. (Its speed is measured by bench/bench_jval.) */
static void test_many_keys(void)
{
    enum { N = 20000 };
    bmx_jval *o = bmx_jval_obj(), *p = NULL;
    char key[32];
    bmx_err err = {0};
    uint64_t x;

    CHECK(o);
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof key, "k%d", i);
        CHECK(bmx_jval_set(o, key, bmx_jval_u64((uint64_t)i)) == 0);
        if (i % 3 == 0) { /* set an earlier key again: replaced in place */
            snprintf(key, sizeof key, "k%d", i / 2);
            CHECK(bmx_jval_set(o, key, bmx_jval_u64(1000000u + (uint64_t)i)) == 0);
        }
    }
    CHECK_EQ_INT(o->n, N);
    for (int i = 0; i < N; i++) {
        uint64_t want = (uint64_t)i;
        snprintf(key, sizeof key, "k%d", i);
        CHECK_EQ_STR(o->keys[i], key);
        /* the last set of k(i) was at j = the largest multiple of 3 with j / 2 = i, if any */
        for (int j = 2 * i + 1; j >= 2 * i; j--)
            if (j % 3 == 0 && j < N && j >= i) {
                want = 1000000u + (uint64_t)j;
                break;
            }
        CHECK(bmx_jval_as_u64(bmx_jval_get(o, key), &x) == 0);
        CHECK_MSG(x == want, "%s = %llu, want %llu", key, (unsigned long long)x,
                  (unsigned long long)want);
        CHECK(o->items[i] == bmx_jval_get(o, key));
    }
    CHECK(bmx_jval_get(o, "k20000") == NULL);
    CHECK(bmx_jval_get(o, "") == NULL);
    CHECK(bmx_jval_get(o, "k-1") == NULL);
    bmx_jval_free(o);

    /* the parser: {"a0": 0, "a1": 1, ..., "a0": "last"} */
    {
        size_t cap = (size_t)N * 16 + 64, len = 0;
        char *text = malloc(cap);
        CHECK(text);
        len += (size_t)snprintf(text + len, cap - len, "{");
        for (int i = 0; i < N; i++)
            len += (size_t)snprintf(text + len, cap - len, "\"a%d\": %d, ", i, i);
        len += (size_t)snprintf(text + len, cap - len, "\"a0\": \"last\"}");
        CHECK_MSG(bmx_jval_parse(text, len, &p, &err) == 0, "%s", err.msg);
        CHECK_EQ_INT(p->n, N);
        CHECK_EQ_STR(p->keys[0], "a0");
        CHECK_EQ_STR(bmx_jval_get(p, "a0")->s, "last");
        CHECK(bmx_jval_as_u64(bmx_jval_get(p, "a19999"), &x) == 0 && x == 19999);
        CHECK_EQ_STR(p->keys[N - 1], "a19999");
        bmx_jval_free(p);
        free(text);
    }
}

int main(int argc, char **argv)
{
    static const struct check_case cases[] = {
        {"document", test_document},
        {"escapes", test_escapes},
        {"surrogates", test_surrogates},
        {"nesting", test_nesting},
        {"integers", test_integers},
        {"errors", test_errors},
        {"round_trip", test_round_trip},
        {"many_keys", test_many_keys},
        {0},
    };
    return check_main(argc, argv, cases);
}
