/* The report writers of bmx/report.h: JSONL escaping and exact number round trips, SVG
 * well-formedness and content. */
#include <float.h>
#include <stdint.h>

#include "bmx/report.h"
#include "bmx/rng.h"
#include "check.h"

static int count_of(const char *hay, const char *needle)
{
    int n = 0;

    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

/* Write j as a line through a memory stream and return the text (caller frees). */
static char *line_of(bmx_json *j, int *rc)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    bmx_err err = {0};

    *rc = bmx_json_line(j, f, "test", &err);
    fclose(f);
    return text;
}

static void test_json_object(void)
{
    bmx_json j = {0};
    int rc;
    char *s;
    static const double v[] = {1, 0.5, -2};
    static const int d[] = {3, 0};

    bmx_json_obj(&j);
    bmx_json_kv_str(&j, "name", "odm");
    bmx_json_kv_int(&j, "t", -12);
    bmx_json_kv_u64(&j, "seed", UINT64_MAX);
    bmx_json_key(&j, "probs");
    bmx_json_nums(&j, v, 3);
    bmx_json_key(&j, "draws");
    bmx_json_ints(&j, d, 2);
    bmx_json_key(&j, "empty");
    bmx_json_nums(&j, v, 0);
    bmx_json_key(&j, "sub");
    bmx_json_obj(&j);
    bmx_json_key(&j, "ok");
    bmx_json_bool(&j, 1);
    bmx_json_key(&j, "no");
    bmx_json_null(&j);
    bmx_json_end_obj(&j);
    bmx_json_end_obj(&j);
    s = line_of(&j, &rc);
    CHECK_EQ_INT(rc, BMX_OK);
    CHECK_EQ_STR(s, "{\"name\":\"odm\",\"t\":-12,\"seed\":18446744073709551615,\"probs\":[1,0.5,-2]"
                    ",\"draws\":[3,0],"
                    "\"empty\":[],\"sub\":{\"ok\":true,\"no\":null}}\n");
    free(s);
    /* The writer starts afresh after a line. */
    bmx_json_obj(&j);
    bmx_json_kv_num(&j, "x", 0.25);
    bmx_json_end_obj(&j);
    s = line_of(&j, &rc);
    CHECK_EQ_STR(s, "{\"x\":0.25}\n");
    free(s);
    bmx_json_free(&j);
}

static void test_json_escape(void)
{
    bmx_json j = {0};
    int rc;
    char *s;

    bmx_json_obj(&j);
    bmx_json_kv_str(&j, "q\"k", "a\"b\\c\nd\te\r\b\f\x01\x1f/\xc3\xa9");
    bmx_json_end_obj(&j);
    s = line_of(&j, &rc);
    CHECK_EQ_INT(rc, BMX_OK);
    CHECK_EQ_STR(s, "{\"q\\\"k\":\"a\\\"b\\\\c\\nd\\te\\r\\b\\f\\u0001\\u001f/\xc3\xa9\"}\n");
    free(s);
    bmx_json_free(&j);
}

static void test_json_misuse(void)
{
    bmx_json j = {0};
    int rc;
    char *s;

    bmx_json_obj(&j);
    bmx_json_key(&j, "a");
    bmx_json_end_obj(&j); /* key without value */
    s = line_of(&j, &rc);
    CHECK_EQ_INT(rc, BMX_EINVAL);
    CHECK_EQ_STR(s, "");
    free(s);
    bmx_json_arr(&j); /* never closed */
    s = line_of(&j, &rc);
    CHECK_EQ_INT(rc, BMX_EINVAL);
    free(s);
    bmx_json_end_obj(&j); /* nothing open */
    s = line_of(&j, &rc);
    CHECK_EQ_INT(rc, BMX_EINVAL);
    free(s);
    bmx_json_free(&j);
}

static void check_round_trip(double v)
{
    char buf[32];
    double back;

    bmx_json_fmt_num(buf, v);
    back = strtod(buf, NULL);
    CHECK_MSG(memcmp(&back, &v, sizeof v) == 0, "%.17g printed as %s reads back as %.17g", v, buf,
              back);
}

/* Every finite double reads back bit for bit; non-finite ones become null. */
static void test_json_numbers(void)
{
    static const double v[] = {0.1,
                               1.0 / 3,
                               2.0 / 3,
                               1e-300,
                               4.9406564584124654e-324,
                               DBL_MAX,
                               -DBL_MAX,
                               DBL_MIN,
                               -0.0,
                               123456789012345678.0,
                               0.30000000000000004,
                               1e21,
                               1e-7,
                               0.0};
    char buf[32];
    bmx_rng r;

    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        check_round_trip(v[i]);
    bmx_rng_seed(&r, 5, 0);
    for (int i = 0; i < 20000; i++) {
        uint64_t bits = bmx_rng_u64(&r);
        double d;
        memcpy(&d, &bits, sizeof d);
        if (isfinite(d))
            check_round_trip(d);
        check_round_trip(bmx_rng_double(&r));
    }
    CHECK_EQ_STR(bmx_json_fmt_num(buf, 0.1), "0.1");
    CHECK_EQ_STR(bmx_json_fmt_num(buf, 1.0 / 3), "0.33333333333333331");
    CHECK_EQ_STR(bmx_json_fmt_num(buf, 0.30000000000000004), "0.30000000000000004");
    CHECK_EQ_STR(bmx_json_fmt_num(buf, NAN), "null");
    CHECK_EQ_STR(bmx_json_fmt_num(buf, -INFINITY), "null");
}

/* A small well-formedness check for the XML bmx writes (elements, attributes in double
 * quotes, entities); the CLI tests parse full documents with Python's XML parser too. */
static int xml_ok(const char *s, char *why, size_t cap)
{
    const char *stack[64];
    size_t lens[64];
    int depth = 0, roots = 0;

    for (const char *p = s; *p;) {
        if (*p == '&') {
            static const char *const ents[] = {"&amp;", "&lt;", "&gt;", "&quot;", "&apos;"};
            int ok = 0;
            for (int i = 0; i < 5; i++)
                ok |= strncmp(p, ents[i], strlen(ents[i])) == 0;
            if (!ok)
                return snprintf(why, cap, "bare & at %zu", (size_t)(p - s)), 0;
            p++;
            continue;
        }
        if (*p == '>')
            return snprintf(why, cap, "stray > at %zu", (size_t)(p - s)), 0;
        if (*p != '<') {
            p++;
            continue;
        }
        if (p[1] == '/') {
            const char *n = p + 2;
            size_t len = strcspn(n, ">");
            if (depth == 0 || len != lens[depth - 1] || strncmp(n, stack[depth - 1], len) != 0)
                return snprintf(why, cap, "unmatched close tag at %zu", (size_t)(p - s)), 0;
            depth--;
            p = n + len + 1;
            continue;
        }
        {
            const char *n = p + 1, *q;
            size_t len = strcspn(n, " />\n");
            int quote = 0;
            if (len == 0)
                return snprintf(why, cap, "empty tag name at %zu", (size_t)(p - s)), 0;
            for (q = n + len; *q && (quote || *q != '>'); q++) {
                if (*q == '"')
                    quote = !quote;
                else if (quote && (*q == '<' || (*q == '&' && !strchr(q, ';'))))
                    return snprintf(why, cap, "bad character in attribute"), 0;
            }
            if (!*q)
                return snprintf(why, cap, "unterminated tag"), 0;
            if (q[-1] != '/') {
                if (depth == 64)
                    return snprintf(why, cap, "too deep"), 0;
                if (depth == 0)
                    roots++;
                stack[depth] = n;
                lens[depth++] = len;
            } else if (depth == 0) {
                roots++;
            }
            p = q + 1;
        }
    }
    if (depth != 0 || roots != 1)
        return snprintf(why, cap, "depth %d at the end, %d root elements", depth, roots), 0;
    return 1;
}

static void check_xml(const char *s)
{
    char why[128] = "";

    CHECK_MSG(xml_ok(s, why, sizeof why), "SVG is not well-formed: %s", why);
}

static void test_xml_checker(void)
{
    char why[128];

    /* The checker itself must reject what it is there to reject. */
    CHECK(xml_ok("<a><b x=\"1\"/>t &amp; u</a>", why, sizeof why));
    CHECK(!xml_ok("<a><b></a>", why, sizeof why));
    CHECK(!xml_ok("<a>x & y</a>", why, sizeof why));
    CHECK(!xml_ok("<a></a><b/>", why, sizeof why));
}

static void test_svg_lines(void)
{
    double x[50], y1[50], y2[50];
    bmx_plot_series s[2] = {{"odm <0.9> & co", x, y1, 50}, {"exp3", x, y2, 50}};
    bmx_plot p = {"Regret \"cumulative\"", "round", "regret", 0, 0};
    bmx_sbuf out = {0};
    bmx_err err = {0};
    const char *t;

    for (int i = 0; i < 50; i++) {
        x[i] = i + 1;
        y1[i] = i * 0.2;           /* 0 .. 9.8 */
        y2[i] = i == 20 ? NAN : 5; /* a gap */
    }
    CHECK_EQ_INT(bmx_svg_lines(&out, &p, s, 2, &err), BMX_OK);
    t = bmx_sbuf_str(&out);
    check_xml(t);
    CHECK(strncmp(t, "<svg xmlns=\"http://www.w3.org/2000/svg\"", 39) == 0);
    CHECK_CONTAINS(t, "</svg>\n");
    CHECK_EQ_INT(count_of(t, "<path class=\"series\""), 2);
    CHECK_CONTAINS(t, ">odm &lt;0.9&gt; &amp; co</text>");
    CHECK_CONTAINS(t, ">exp3</text>");
    CHECK_CONTAINS(t, ">Regret &quot;cumulative&quot;</text>");
    CHECK_CONTAINS(t, ">round</text>");
    CHECK_CONTAINS(t, ">regret</text>");
    /* y ticks every 2 from 0 to 8 (range -0.39 .. 10.19), x ticks every 10. */
    CHECK_CONTAINS(t, "text-anchor=\"end\">0</text>");
    CHECK_CONTAINS(t, "text-anchor=\"end\">8</text>");
    CHECK_CONTAINS(t, "text-anchor=\"end\">10</text>");
    CHECK_CONTAINS(t, "text-anchor=\"middle\">50</text>");
    /* The NaN breaks the second line into two pieces: two "M" moves in its path. */
    {
        const char *second =
            strstr(strstr(t, "<path class=\"series\"") + 1, "<path class=\"series\"");
        const char *end = strstr(second, "/>");
        int moves = 0;
        for (const char *c = second; c < end; c++)
            moves += *c == 'M';
        CHECK_EQ_INT(moves, 2);
    }
    bmx_sbuf_free(&out);
}

/* Bands under lines: one polygon per run of finite bounds (a NaN bound leaves a gap), the
 * band widens the y range, and the zero line brings 0 into it. */
static void test_svg_lines_band(void)
{
    double x[10], y[10], lo[10], hi[10], y2[10];
    bmx_plot_series s[2] = {{"odm", x, y, 10}, {"no band", x, y2, 10}};
    bmx_plot_band b[2] = {{lo, hi}, {NULL, NULL}};
    bmx_plot p = {"band", "step", "%", 0, 0};
    bmx_sbuf out = {0};
    bmx_err err = {0};

    for (int i = 0; i < 10; i++) {
        x[i] = i;
        y[i] = 10 + i;
        lo[i] = i == 4 ? NAN : y[i] - 5; /* a gap at 4: two polygons, 0-3 and 5-9 */
        hi[i] = y[i] + 30;               /* up to 49: the y range reaches 40 */
        y2[i] = 12;
    }
    CHECK_EQ_INT(bmx_svg_lines_band(&out, &p, s, b, 2, 1, &err), BMX_OK);
    const char *t = bmx_sbuf_str(&out);
    check_xml(t);
    CHECK_EQ_INT(count_of(t, "<polygon class=\"ci-band\""), 2);
    CHECK_EQ_INT(count_of(t, "<path class=\"series\""), 2);
    CHECK_EQ_INT(count_of(t, "<line class=\"zero\""), 1);
    /* the zero line and 40 are within the y ticks (the lines alone span 10 .. 19) */
    CHECK_CONTAINS(t, "text-anchor=\"end\">0</text>");
    CHECK_CONTAINS(t, "text-anchor=\"end\">40</text>");
    /* the first polygon: 4 points along hi, 4 back along lo */
    {
        const char *pg = strstr(t, "points=\""), *end = strstr(pg, "\"/>");
        int commas = 0;
        for (const char *c = pg; c < end; c++)
            commas += *c == ',';
        CHECK_EQ_INT(commas, 8);
    }
    /* bands drawn first, under the lines */
    CHECK(strstr(t, "ci-band") < strstr(t, "class=\"series\""));
    /* no bands and no zero line: bmx_svg_lines' very bytes */
    bmx_sbuf plain = {0};
    bmx_sbuf_clear(&out);
    CHECK_EQ_INT(bmx_svg_lines_band(&out, &p, s, NULL, 2, 0, &err), BMX_OK);
    CHECK_EQ_INT(bmx_svg_lines(&plain, &p, s, 2, &err), BMX_OK);
    CHECK_EQ_STR(bmx_sbuf_str(&out), bmx_sbuf_str(&plain));
    CHECK(!strstr(bmx_sbuf_str(&plain), "ci-band") && !strstr(bmx_sbuf_str(&plain), "zero"));
    /* two plots in one page: each clips to its own area (ids are global in HTML) */
    size_t second = plain.len;
    CHECK_EQ_INT(bmx_svg_lines_band(&plain, &p, s, b, 2, 1, &err), BMX_OK);
    const char *t2 = bmx_sbuf_str(&plain);
    char id1[64], id2[64], use[112];
    const char *c1 = strstr(t2, "<clipPath id=\""), *c2 = strstr(t2 + second, "<clipPath id=\"");
    CHECK(c1 && c2 && c1 < t2 + second);
    if (c1 && c2) {
        CHECK(sscanf(c1, "<clipPath id=\"%63[^\"]", id1) == 1);
        CHECK(sscanf(c2, "<clipPath id=\"%63[^\"]", id2) == 1);
        CHECK(strcmp(id1, id2) != 0);
        snprintf(use, sizeof use, "clip-path=\"url(#%s)\"", id2);
        CHECK(strstr(t2 + second, use) != NULL); /* the second plot's lines and bands */
        CHECK(strstr(strstr(t2 + second, "ci-band"), use) != NULL);
        snprintf(use, sizeof use, "url(#%s)", id1);
        CHECK(strstr(t2 + second, use) == NULL);
    }
    bmx_sbuf_free(&plain);
    bmx_sbuf_free(&out);
}

/* 5000 points are reduced to at most BMX_SVG_MAX_POINTS. */
static void test_svg_lines_reduce(void)
{
    static double y[5000];
    bmx_plot_series s = {"many", NULL, y, 5000};
    bmx_sbuf out = {0};
    bmx_err err = {0};

    for (int i = 0; i < 5000; i++)
        y[i] = sin(i * 0.01);
    CHECK_EQ_INT(bmx_svg_lines(&out, NULL, &s, 1, &err), BMX_OK);
    check_xml(bmx_sbuf_str(&out));
    CHECK(count_of(bmx_sbuf_str(&out), "L") <= BMX_SVG_MAX_POINTS);
    CHECK(count_of(bmx_sbuf_str(&out), "L") >= BMX_SVG_MAX_POINTS / 2);
    bmx_sbuf_free(&out);
}

static void test_svg_lines_errors(void)
{
    double y[2] = {NAN, NAN}, x[2] = {1, INFINITY};
    bmx_plot_series s = {"a", NULL, y, 2};
    bmx_sbuf out = {0};
    bmx_err err = {0};

    CHECK_EQ_INT(bmx_svg_lines(&out, NULL, &s, 0, &err), BMX_EINVAL);
    CHECK_EQ_INT(bmx_svg_lines(&out, NULL, &s, 1, &err), BMX_EINVAL);
    CHECK_CONTAINS(err.msg, "no finite y");
    s.x = x;
    y[0] = 1;
    CHECK_EQ_INT(bmx_svg_lines(&out, NULL, &s, 1, &err), BMX_EINVAL);
    CHECK_CONTAINS(err.msg, "non-finite x");
    CHECK_EQ_INT(out.len, 0);
    bmx_sbuf_free(&out);
}

/* 30 arms, 5 shown: the five with the largest mean share get bands and legend entries, in
 * index order; the other 25 share one band; the stack reaches 1 (the top edge y = 40). */
static void test_svg_stacked_top(void)
{
    enum { N = 40, K = 30 };
    static double v[N * K];
    static const int big[5] = {3, 7, 11, 20, 29};
    bmx_plot p = {"odm: arm probabilities", "round", "probability", 0, 0};
    bmx_sbuf out = {0};
    bmx_err err = {0};
    const char *t;

    for (int i = 0; i < N; i++) {
        double sum = 0;
        for (int a = 0; a < K; a++)
            sum += v[i * K + a] = 1.0 + (a == 3 || a == 7 || a == 11 || a == 20 || a == 29) * 9;
        for (int a = 0; a < K; a++)
            v[i * K + a] /= sum;
    }
    CHECK_EQ_INT(bmx_svg_stacked(&out, &p, NULL, N, v, K, NULL, 5, &err), BMX_OK);
    t = bmx_sbuf_str(&out);
    check_xml(t);
    CHECK_EQ_INT(count_of(t, "<polygon class=\"band\""), 6);
    CHECK_CONTAINS(t, ">other (25 arms)</text>");
    for (int i = 0; i < 5; i++) {
        char name[32];
        snprintf(name, sizeof name, ">arm %d</text>", big[i]);
        CHECK_CONTAINS(t, name);
    }
    CHECK(!strstr(t, ">arm 0</text>"));
    /* Legend top-down: other, arm 29, arm 20, ... */
    CHECK(strstr(t, ">other (25 arms)") < strstr(t, ">arm 29<"));
    CHECK(strstr(t, ">arm 29<") < strstr(t, ">arm 3<"));
    CHECK_CONTAINS(t, ",40.00 ");
    CHECK_CONTAINS(t, "fill=\"#c8c8c8\"");
    bmx_sbuf_free(&out);
}

static void test_svg_stacked_small(void)
{
    double v[3 * 4] = {0.25, 0.25, 0.25, 0.25, 0.1, 0.2, 0.3, 0.4, 0.7, 0.1, 0.1, 0.1};
    const char *names[4] = {"code", "prose", "mail", "law & order"};
    bmx_sbuf out = {0};
    bmx_err err = {0};
    const char *t;

    CHECK_EQ_INT(bmx_svg_stacked(&out, NULL, NULL, 3, v, 4, names, 0, &err), BMX_OK);
    t = bmx_sbuf_str(&out);
    check_xml(t);
    CHECK_EQ_INT(count_of(t, "<polygon class=\"band\""), 4);
    CHECK(!strstr(t, "other"));
    CHECK_CONTAINS(t, ">law &amp; order</text>");
    CHECK_CONTAINS(t, ">code</text>");
    bmx_sbuf_free(&out);
    /* One row is drawn across the whole plot. */
    CHECK_EQ_INT(bmx_svg_stacked(&out, NULL, NULL, 1, v, 4, names, 0, &err), BMX_OK);
    check_xml(bmx_sbuf_str(&out));
    bmx_sbuf_free(&out);
    v[5] = -0.1;
    CHECK_EQ_INT(bmx_svg_stacked(&out, NULL, NULL, 3, v, 4, names, 0, &err), BMX_EINVAL);
    CHECK_CONTAINS(err.msg, "arm 1 at row 1");
    bmx_sbuf_free(&out);
}

static void test_sbuf(void)
{
    bmx_sbuf b = {0};
    char big[1000];

    CHECK_EQ_STR(bmx_sbuf_str(&b), "");
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    bmx_sbuf_printf(&b, "%s|%d", big, 42);
    CHECK_EQ_INT(b.len, 1002);
    CHECK_CONTAINS(bmx_sbuf_str(&b), "x|42");
    bmx_sbuf_clear(&b);
    bmx_sbuf_xml(&b, "<a href=\"x\">&'</a>");
    CHECK_EQ_STR(bmx_sbuf_str(&b), "&lt;a href=&quot;x&quot;&gt;&amp;&apos;&lt;/a&gt;");
    bmx_sbuf_free(&b);
}

int main(int argc, char **argv)
{
    static const struct check_case cases[] = {
        {"json_object", test_json_object},
        {"json_escape", test_json_escape},
        {"json_misuse", test_json_misuse},
        {"json_numbers", test_json_numbers},
        {"xml_checker", test_xml_checker},
        {"svg_lines", test_svg_lines},
        {"svg_lines_reduce", test_svg_lines_reduce},
        {"svg_lines_band", test_svg_lines_band},
        {"svg_lines_errors", test_svg_lines_errors},
        {"svg_stacked_top", test_svg_stacked_top},
        {"svg_stacked_small", test_svg_stacked_small},
        {"sbuf", test_sbuf},
        {0},
    };
    return check_main(argc, argv, cases);
}
