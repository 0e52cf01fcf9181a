/* bmx corpus import: the JSON Lines parser, the folder names, and whole imports of the
 * committed fixtures (tests/fixtures/import) and of .jsonl.zst / .jsonl.gz files this test
 * writes, good, bad and truncated. */
#include "bmx/corpus.h"
#include "bmx/core.h"
#include "bmx/rng.h"
#include "check.h"
#include "helpers.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

/* Paths and messages in this test are short; truncation is harmless. */
#pragma GCC diagnostic ignored "-Wformat-truncation"

#define FIX "tests/fixtures/import"

static const char *tmpdir(void)
{
    return check_tmpdir("import");
}

/* ---- the line parser ---- */

static int parse(const char *s, const char *tk, const char *dk, char *text, char *dom,
                 bmx_corpus_jsonl_rec *rec)
{
    char line[512];
    size_t n = strlen(s);
    int rc;

    CHECK(n < sizeof line);
    memcpy(line, s, n);
    rc = bmx_corpus_jsonl_parse(line, n, tk, dk, rec);
    text[0] = dom[0] = '\0';
    if (rc == BMX_JSONL_OK) {
        memcpy(text, rec->text, rec->text_len);
        text[rec->text_len] = '\0';
        if (rec->domain) {
            memcpy(dom, rec->domain, rec->domain_len);
            dom[rec->domain_len] = '\0';
        }
    }
    return rc;
}

static void test_jsonl_good(void)
{
    bmx_corpus_jsonl_rec r;
    char t[512], d[512];

    CHECK_EQ_INT(parse("{\"text\": \"hi there\", \"meta\": {\"pile_set_name\": \"Github\"}}",
                       "text", "meta.pile_set_name", t, d, &r),
                 BMX_JSONL_OK);
    CHECK_EQ_STR(t, "hi there");
    CHECK_EQ_STR(d, "Github");
    /* escapes, a surrogate pair, a lone surrogate, \u0000 kept as a byte */
    CHECK_EQ_INT(parse("{\"t\":\"a\\n\\t\\\"\\\\\\/\\u00e9\\ud83d\\ude00\\udc00\\u0000z\"}", "t",
                       NULL, t, d, &r),
                 BMX_JSONL_OK);
    CHECK_EQ_INT(r.text_len, 17);
    CHECK(memcmp(r.text, "a\n\t\"\\/\xC3\xA9\xF0\x9F\x98\x80\xEF\xBF\xBD\0z", 17) == 0);
    CHECK(r.domain == NULL);
    /* the other one-letter escapes */
    CHECK_EQ_INT(parse("{\"t\":\"\\b\\f\\r\\/x\"}", "t", NULL, t, d, &r), BMX_JSONL_OK);
    CHECK_EQ_STR(t, "\b\f\r/x");
    /* other values of every type around, nested arrays, white space, CR at the end */
    CHECK_EQ_INT(parse(" {\"n\": -1.5e+3, \"a\": [1, [true, false, null], {\"text\": \"no\"}], "
                       "\"o\": {}, \"text\" : \"yes\"} \r",
                       "text", NULL, t, d, &r),
                 BMX_JSONL_OK);
    CHECK_EQ_STR(t, "yes");
    /* a repeated key: the last one counts; a key written with an escape matches */
    CHECK_EQ_INT(parse("{\"text\": \"first\", \"te\\u0078t\": \"second\"}", "text", NULL, t, d, &r),
                 BMX_JSONL_OK);
    CHECK_EQ_STR(t, "second");
    /* the same key for text and domain */
    CHECK_EQ_INT(parse("{\"x\": \"caf\\u00e9 au lait\"}", "x", "x", t, d, &r), BMX_JSONL_OK);
    CHECK_EQ_STR(t, "caf\xC3\xA9 au lait");
    CHECK_EQ_STR(d, "caf\xC3\xA9 au lait");
    /* a deep path */
    CHECK_EQ_INT(parse("{\"a\": {\"b\": {\"c\": \"deep\"}, \"c\": \"no\"}, \"text\": \"x\"}",
                       "text", "a.b.c", t, d, &r),
                 BMX_JSONL_OK);
    CHECK_EQ_STR(d, "deep");
    CHECK_EQ_INT(parse("   \t\r", "text", NULL, t, d, &r), BMX_JSONL_BLANK);
    CHECK_EQ_INT(parse("", "text", NULL, t, d, &r), BMX_JSONL_BLANK);
}

static void test_jsonl_bad(void)
{
    static const struct {
        const char *line, *why;
    } bad[] = {
        {"{\"text\": \"x\",}", "expected a key string"},
        {"{\"text\" \"x\"}", "expected ':'"},
        {"{\"text\": \"x\"", "expected ',' or '}'"},
        {"{\"text\": \"x", "unterminated string"},
        {"{\"text\": \"a\x01b\"}", "control character"},
        {"{\"text\": \"\\x\"}", "bad escape"},
        {"{\"text\": \"\\u12G4\"}", "bad \\u escape"},
        {"{\"n\": 01, \"text\": \"x\"}", "expected ',' or '}'"},
        {"{\"n\": 1., \"text\": \"x\"}", "no digit after the point"},
        {"{\"n\": -, \"text\": \"x\"}", "bad number"},
        {"{\"n\": 1e, \"text\": \"x\"}", "no digit in the exponent"},
        {"{\"n\": tru, \"text\": \"x\"}", "not a JSON value"},
        {"{\"text\": \"x\"} {}", "text after the end"},
        {"[\"text\"]", "not a JSON object"},
        {"\"text\"", "not a JSON object"},
        {"{\"a\": [1, 2}", "expected ',' or ']'"},
    };
    bmx_corpus_jsonl_rec r;
    char t[512], d[512], deep[400];
    size_t k = 0;

    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int rc = parse(bad[i].line, "text", NULL, t, d, &r);
        CHECK_MSG(rc == BMX_JSONL_MALFORMED, "line %zu (%s) gave %d", i, bad[i].line, rc);
        CHECK_CONTAINS(r.why, bad[i].why);
    }
    /* the offset of the problem */
    CHECK_EQ_INT(parse("{\"text\": \"x\",}", "text", NULL, t, d, &r), BMX_JSONL_MALFORMED);
    CHECK_EQ_INT(r.err_at, 13);
    /* 65 nested arrays: too deep; 60: fine */
    k = (size_t)snprintf(deep, sizeof deep, "{\"text\": \"x\", \"a\": ");
    for (int i = 0; i < 65; i++)
        deep[k++] = '[';
    for (int i = 0; i < 65; i++)
        deep[k++] = ']';
    strcpy(deep + k, "}");
    CHECK_EQ_INT(parse(deep, "text", NULL, t, d, &r), BMX_JSONL_MALFORMED);
    CHECK_CONTAINS(r.why, "nested deeper than 64");
    memmove(deep + 19, deep + 24, strlen(deep + 24) + 1);
    memmove(deep + 79, deep + 84, strlen(deep + 84) + 1);
    CHECK_EQ_INT(parse(deep, "text", NULL, t, d, &r), BMX_JSONL_OK);
    /* missing or non-string text and domain */
    CHECK_EQ_INT(parse("{\"body\": \"x\"}", "text", NULL, t, d, &r), BMX_JSONL_NO_TEXT);
    CHECK_EQ_INT(parse("{\"text\": 42}", "text", NULL, t, d, &r), BMX_JSONL_NO_TEXT);
    CHECK_EQ_INT(parse("{\"text\": {\"a\": \"b\"}}", "text", NULL, t, d, &r), BMX_JSONL_NO_TEXT);
    CHECK_EQ_INT(parse("{\"text\": \"x\", \"meta\": {}}", "text", "meta.set", t, d, &r),
                 BMX_JSONL_NO_DOMAIN);
    CHECK_EQ_INT(parse("{\"text\": \"x\", \"meta\": \"set\"}", "text", "meta.set", t, d, &r),
                 BMX_JSONL_NO_DOMAIN);
    CHECK_EQ_INT(
        parse("{\"text\": \"x\", \"meta\": {\"set\": null}}", "text", "meta.set", t, d, &r),
        BMX_JSONL_NO_DOMAIN);
    /* the path must start at the top: a nested "text" is not the text */
    CHECK_EQ_INT(parse("{\"meta\": {\"text\": \"x\"}}", "text", NULL, t, d, &r), BMX_JSONL_NO_TEXT);
    CHECK(!bmx_corpus_jsonl_check_key("a..b"));
    CHECK(!bmx_corpus_jsonl_check_key(""));
    CHECK(!bmx_corpus_jsonl_check_key("a.b.c.d.e.f.g.h.i"));
    CHECK(bmx_corpus_jsonl_check_key("meta.pile_set_name"));
}

/* Every prefix of a valid line, and every line with one byte changed, parses without
 * reading outside the line (ASan in `make SAN=1 test`) and with a known code. */
static void test_jsonl_prefixes_and_flips(void)
{
    static const char good[] = "{\"text\": \"a\\u00e9\\ud83d\\ude00\\n\", \"meta\": {\"k\": "
                               "[1, -2.5e3, true, null, {\"x\": \"y\"}], \"set\": \"D\"}}";
    size_t n = sizeof good - 1;
    bmx_corpus_jsonl_rec r;

    for (size_t len = 0; len <= n; len++) {
        char *b = malloc(len ? len : 1);
        int rc;
        memcpy(b, good, len);
        rc = bmx_corpus_jsonl_parse(b, len, "text", "meta.set", &r);
        CHECK_MSG(len == n ? rc == BMX_JSONL_OK : rc != BMX_JSONL_OK, "prefix %zu gave %d", len,
                  rc);
        free(b);
    }
    for (size_t i = 0; i < n; i++)
        for (int c = 0; c < 256; c += 7) {
            char *b = malloc(n);
            int rc;
            memcpy(b, good, n);
            b[i] = (char)c;
            rc = bmx_corpus_jsonl_parse(b, n, "text", "meta.set", &r);
            CHECK(rc >= BMX_JSONL_OK && rc <= BMX_JSONL_NO_DOMAIN);
            if (rc == BMX_JSONL_OK)
                CHECK(r.text >= b && r.text + r.text_len <= b + n);
            free(b);
        }
}

static void test_safe_name(void)
{
    static const struct {
        const char *in, *out;
    } c[] = {
        {"Github", "github"},
        {"Wikipedia (en)", "wikipedia-en"},
        {"USPTO Backgrounds", "uspto-backgrounds"},
        {"Gutenberg (PG-19)", "gutenberg-pg-19"},
        {"a/b c", "a-b-c"},
        {"../../etc/passwd", "etc-passwd"},
        {"--x__y--", "x__y"},
        {"\xC3\x9Cn\xC3\xAF"
         "c\xC3\xB6"
         "d\xC3\xA9 \xD0\x94\xD0\xBE\xD0\xBC",
         "n-c-d"},
        {"\xE6\x97\xA5\xE6\x9C\xAC", "domain"},
        {"", "domain"},
        {"a\nb\x01"
         "c",
         "a-b-c"},
    };
    char out[80], longname[200];

    for (size_t i = 0; i < sizeof c / sizeof *c; i++) {
        size_t n = bmx_corpus_safe_name(c[i].in, strlen(c[i].in), out, sizeof out);
        CHECK_EQ_STR(out, c[i].out);
        CHECK_EQ_INT(n, strlen(c[i].out));
    }
    memset(longname, 'x', sizeof longname);
    CHECK_EQ_INT(bmx_corpus_safe_name(longname, sizeof longname, out, sizeof out), 64);
}

/* ---- whole imports ---- */

struct logbuf {
    char text[16384];
    size_t n;
};

static void log_to(void *ctx, int level, const char *msg)
{
    struct logbuf *b = ctx;
    (void)level;
    if (b->n < sizeof b->text)
        b->n += (size_t)snprintf(b->text + b->n, sizeof b->text - b->n, "%s\n", msg);
}

static bmx_jval *load_manifest(const char *dir)
{
    char path[512];
    FILE *f;
    static char buf[1 << 17];
    size_t n;
    bmx_jval *m = NULL;
    bmx_err err;

    snprintf(path, sizeof path, "%s/manifest.json", dir);
    f = fopen(path, "rb");
    CHECK_MSG(f, "no %s", path);
    n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    CHECK(n < sizeof buf);
    bmx_jval_parse(buf, n, &m, &err);
    CHECK_MSG(m, "manifest: %s", err.msg);
    return m;
}

static uint64_t jnum(const bmx_jval *v)
{
    uint64_t x = 0;
    CHECK_MSG(v && bmx_jval_as_u64(v, &x) == 0, "not a number");
    return x;
}

static const bmx_jval *jpath(const bmx_jval *v, const char *a, const char *b, const char *c)
{
    v = bmx_jval_get(v, a);
    if (b)
        v = bmx_jval_get(v, b);
    if (c)
        v = bmx_jval_get(v, c);
    CHECK_MSG(v, "no %s.%s.%s", a, b ? b : "", c ? c : "");
    return v;
}

/* Documents kept in a domain: the sum over its splits, checked against the files. */
static uint64_t kept_docs(const char *dir, const bmx_jval *man, const char *domain)
{
    uint64_t total = 0;
    for (int s = 0; s < BMX_NSPLITS; s++) {
        const bmx_jval *e = jpath(man, "domains", domain, "splits");
        char path[512];
        bmx_corpus_docs *d;
        bmx_err err;
        e = bmx_jval_get(e, bmx_corpus_split_name(s));
        snprintf(path, sizeof path, "%s/%s", dir, bmx_jval_get(e, "file")->s);
        CHECK_MSG(bmx_corpus_docs_load(path, &d, &err) == 0, "%s", err.msg);
        CHECK_EQ_INT(d->n, jnum(bmx_jval_get(e, "documents")));
        total += d->n;
        bmx_corpus_docs_free(d);
    }
    return total;
}

static void import_opts(bmx_import_opts *o, const char *out, const bmx_import_src *src, size_t nsrc,
                        struct logbuf *lb)
{
    memset(o, 0, sizeof *o);
    o->out_dir = out;
    o->src = src;
    o->nsrc = nsrc;
    o->domain_key = "meta.set";
    o->split[0] = 80;
    o->split[1] = 10;
    o->split[2] = 10;
    o->log = (bmx_logger){log_to, lb};
}

static void check_splits(const char *dir, const unsigned w[3]);

static void test_import_fixtures(void)
{
    char out[256];
    bmx_import_src src[] = {{BMX_IMPORT_DIR, FIX "/folder", NULL},
                            {BMX_IMPORT_JSONL, FIX "/bad.jsonl", NULL}};
    bmx_import_opts o;
    bmx_import_result r;
    bmx_err err = {0};
    static struct logbuf lb;
    bmx_jval *m;
    const bmx_jval *in0, *in1, *a;

    snprintf(out, sizeof out, "%s/fix", tmpdir());
    import_opts(&o, out, src, 2, &lb);
    CHECK_MSG(bmx_corpus_import(&o, &r, &err) == 0, "%s", err.msg);
    /* folder: 6 files read (the hidden one skipped), stray.txt is bad; 5 documents, of which
     * the near-empty p2.txt is dropped; JSONL: 6 records, 8 bad lines */
    CHECK_EQ_INT(r.records, 5 + 6);
    CHECK_EQ_INT(r.bad, 1 + 8);
    CHECK_EQ_INT(r.kept, 4 + 4);
    CHECK_EQ_INT(r.domains, 6);
    CHECK_EQ_INT(r.failed, 0);
    m = load_manifest(out);
    /* the mapping of names in the data to folders */
    CHECK_EQ_STR(jpath(m, "domain_names", "Legal Texts", NULL)->s, "legal-texts");
    CHECK_EQ_STR(jpath(m, "domain_names", "Po\xC3\xA9sie", NULL)->s, "po-sie");
    CHECK_EQ_STR(jpath(m, "domain_names", "Beta/Gamma", NULL)->s, "beta-gamma");
    CHECK_EQ_STR(jpath(m, "domain_names",
                       "\xC3\x9Cn\xC3\xAF"
                       "c\xC3\xB6"
                       "d\xC3\xA9 \xD0\x94\xD0\xBE\xD0\xBC",
                       NULL)
                     ->s,
                 "n-c-d");
    CHECK_EQ_STR(jpath(m, "domains", "beta-gamma", "name_in_data")->s, "Beta/Gamma");
    CHECK_EQ_INT(kept_docs(out, m, "legal-texts"), 2);
    CHECK_EQ_INT(kept_docs(out, m, "po-sie"), 1);
    CHECK_EQ_INT(kept_docs(out, m, "code"), 1);
    CHECK_EQ_INT(kept_docs(out, m, "alpha-set"), 1);
    CHECK_EQ_INT(kept_docs(out, m, "beta-gamma"), 1);
    CHECK_EQ_INT(kept_docs(out, m, "n-c-d"), 2);
    CHECK_EQ_INT(jnum(jpath(jpath(m, "domains", "po-sie", "dropped"), "empty", NULL, NULL)),
                 1); /* empty */
    CHECK_EQ_INT(jnum(jpath(jpath(m, "domains", "alpha-set", "dropped"), "empty", NULL, NULL)), 1);
    CHECK_EQ_INT(jnum(jpath(jpath(m, "domains", "beta-gamma", "dropped"), "duplicate", NULL, NULL)),
                 1); /* dup */
    /* the inputs, their bad input and its first lines */
    a = jpath(m, "inputs", NULL, NULL);
    CHECK_EQ_INT(a->n, 2);
    in0 = a->items[0];
    in1 = a->items[1];
    CHECK_EQ_STR(bmx_jval_get(in0, "kind")->s, "folder");
    CHECK_EQ_INT(jnum(bmx_jval_get(in0, "files")), 6);
    CHECK_EQ_INT(jnum(jpath(in0, "bad", "no_domain", NULL)), 1);
    CHECK_EQ_STR(jpath(in0, "first_bad_files", "no_domain", NULL)->items[0]->s, "stray.txt");
    CHECK_EQ_INT(jnum(bmx_jval_get(in1, "lines")), 15);
    CHECK_EQ_INT(jnum(bmx_jval_get(in1, "documents")), 6);
    CHECK_EQ_INT(jnum(jpath(in1, "bad", "malformed", NULL)), 4);
    CHECK_EQ_INT(jnum(jpath(in1, "bad", "no_text", NULL)), 2);
    CHECK_EQ_INT(jnum(jpath(in1, "bad", "no_domain", NULL)), 2);
    CHECK_EQ_INT(jnum(jpath(in1, "bad", "truncated", NULL)), 0);
    a = jpath(in1, "first_bad_lines", "malformed", NULL);
    CHECK(a->n == 4 && jnum(a->items[0]) == 3 && jnum(a->items[1]) == 7 &&
          jnum(a->items[2]) == 11 && jnum(a->items[3]) == 12);
    a = jpath(in1, "first_bad_lines", "no_text", NULL);
    CHECK(a->n == 2 && jnum(a->items[0]) == 4 && jnum(a->items[1]) == 6);
    a = jpath(in1, "first_bad_lines", "no_domain", NULL);
    CHECK(a->n == 2 && jnum(a->items[0]) == 5 && jnum(a->items[1]) == 9);
    CHECK_CONTAINS(bmx_jval_get(in1, "first_malformed_reasons")->items[2]->s, "control character");
    {
        uint32_t crc;
        struct stat sb;
        char hex[16];
        CHECK(bmx_crc32_file(FIX "/bad.jsonl", &crc, NULL) == 0);
        CHECK(stat(FIX "/bad.jsonl", &sb) == 0);
        snprintf(hex, sizeof hex, "%08x", crc);
        CHECK_EQ_STR(bmx_jval_get(in1, "crc32")->s, hex);
        CHECK_EQ_INT(jnum(bmx_jval_get(in1, "bytes")), sb.st_size);
    }
    bmx_jval_free(m);
    /* the report names the file and the lines */
    CHECK_CONTAINS(lb.text, "bad.jsonl: 8 bad: 4 malformed JSON (line 3, 7, 11, 12; first: "
                            "expected ',' or '}' in an object at byte");
    CHECK_CONTAINS(lb.text, "2 no text string (line 4, 6)");
    CHECK_CONTAINS(lb.text, "folder: 1 bad: 1 no domain string (stray.txt)");
    CHECK_CONTAINS(lb.text, "MB/s;");
    CHECK_CONTAINS(lb.text, "documents (");

    /* the decoded text went through: escapes, CRLF -> LF */
    {
        char path[512];
        bmx_corpus_docs *d;
        int found = 0;
        for (int s = 0; s < BMX_NSPLITS; s++) {
            snprintf(path, sizeof path, "%s/beta-gamma/%s.txt", out, bmx_corpus_split_name(s));
            CHECK(bmx_corpus_docs_load(path, &d, &err) == 0);
            for (size_t i = 0; i < d->n; i++)
                found += d->doc[i].len == 47 &&
                         memcmp(d->doc[i].text,
                                "Escapes: caf\xC3\xA9 \xF0\x9F\x98\x80 tab\tand \"quotes\" kept "
                                "here.",
                                47) == 0 &&
                         d->doc[i].label_len == 11 &&
                         memcmp(d->doc[i].label, "bad.jsonl:8", 11) == 0;
            bmx_corpus_docs_free(d);
        }
        CHECK_EQ_INT(found, 1);
    }
}

static void test_import_strict_and_repeat(void)
{
    char out[256], out2[256], cmd[700];
    bmx_import_src src[] = {{BMX_IMPORT_JSONL, FIX "/bad.jsonl", NULL}};
    bmx_import_opts o;
    bmx_err err = {0};
    struct logbuf lb = {{0}, 0};
    struct stat sb;

    snprintf(out, sizeof out, "%s/strict", tmpdir());
    import_opts(&o, out, src, 1, &lb);
    o.strict = 1;
    CHECK(bmx_corpus_import(&o, NULL, &err) == BMX_ECORRUPT);
    CHECK_CONTAINS(err.msg, FIX "/bad.jsonl line 3: malformed JSON: expected ',' or '}'");
    CHECK_CONTAINS(err.msg, "without --strict");
    snprintf(cmd, sizeof cmd, "%s/alpha-set/train.txt.tmp", out);
    CHECK(stat(cmd, &sb) != 0); /* no temporary file left */
    snprintf(cmd, sizeof cmd, "%s/manifest.json", out);
    CHECK(stat(cmd, &sb) != 0);
    /* twice the same import: the same bytes */
    o.strict = 0;
    CHECK(bmx_corpus_import(&o, NULL, &err) == 0);
    snprintf(out2, sizeof out2, "%s/strict2", tmpdir());
    o.out_dir = out2;
    CHECK(bmx_corpus_import(&o, NULL, &err) == 0);
    snprintf(cmd, sizeof cmd, "diff -r '%s' '%s' >/dev/null", out, out2);
    CHECK_MSG(system(cmd) == 0, "two imports differ");
    /* options */
    o.domain_key = "meta..set";
    CHECK(bmx_corpus_import(&o, NULL, &err) == BMX_EINVAL);
    CHECK_CONTAINS(err.msg, "bad domain key 'meta..set'");
    o.domain_key = NULL;
    CHECK(bmx_corpus_import(&o, NULL, &err) == BMX_EINVAL);
    CHECK_CONTAINS(err.msg, "bad.jsonl: no domain for its lines: give --domain-key PATH");
    {
        char in[300], inner[320];
        bmx_import_src d[] = {{BMX_IMPORT_DIR, in, NULL}};
        snprintf(in, sizeof in, "%s/nest", tmpdir());
        snprintf(inner, sizeof inner, "%s/nest/out", tmpdir());
        CHECK(mkdir(in, 0777) == 0);
        o.src = d;
        o.nsrc = 1;
        o.out_dir = inner;
        CHECK(bmx_corpus_import(&o, NULL, &err) == BMX_EINVAL);
        CHECK_CONTAINS(err.msg, "is inside the input folder");
        o.src = src;
        o.out_dir = out2;
    }
    src[0].path = FIX "/missing.jsonl";
    src[0].domain = "x";
    CHECK(bmx_corpus_import(&o, NULL, &err) == BMX_EIO);
    CHECK_CONTAINS(err.msg, "cannot open " FIX "/missing.jsonl: No such file");
}

/* Write a Pile-shaped record line per document: {"text": ..., "meta": {"pile_set_name": D}}. */
static size_t pile_lines(char *buf, size_t cap, int ndocs, int salt)
{
    static const char *const sets[] = {"Github", "Pile-CC", "Wikipedia (en)", "FreeLaw"};
    size_t n = 0;

    for (int i = 0; i < ndocs; i++) {
        CHECK_MSG(n + 300 < cap, "pile_lines: %d documents do not fit in %zu bytes", ndocs, cap);
        n += (size_t)snprintf(buf + n, cap - n,
                              "{\"text\": \"Document %d (%d) of the set: some words, a number "
                              "%d, and \\u00e9t\\u00e9 \\\"quoted\\\".\\nSecond line.\", "
                              "\"meta\": {\"pile_set_name\": \"%s\"}}\n",
                              i, salt, i * 7919 % 1000, sets[i % 4]);
    }
    return n;
}

static size_t zstd_file(const char *path, const char *data, size_t n)
{
    size_t cap = ZSTD_compressBound(n), z;
    char *c = malloc(cap);
    z = ZSTD_compress(c, cap, data, n, 3);
    CHECK(!ZSTD_isError(z));
    write_file(path, c, z);
    free(c);
    return z;
}

static size_t gzip_file(const char *path, const char *data, size_t n, int members)
{
    gzFile g;
    struct stat sb;

    for (int k = 0; k < members; k++) { /* a second member appended: gzip -c a b > x */
        size_t a = n * (size_t)k / (size_t)members, b = n * (size_t)(k + 1) / (size_t)members;
        g = gzopen(path, k ? "ab" : "wb");
        CHECK(g && gzwrite(g, data + a, (unsigned)(b - a)) == (int)(b - a) && gzclose(g) == Z_OK);
    }
    CHECK(stat(path, &sb) == 0);
    return (size_t)sb.st_size;
}

static void test_import_compressed(void)
{
    char dir[256], zst[300], gz[300], trunc[300], bad[300], out[300], folder[300], p[400];
    static char text[1 << 18], body[4096];
    size_t n = pile_lines(text, sizeof text, 400, 1), zn, m;
    bmx_import_opts o;
    bmx_import_result r;
    bmx_err err = {0};
    static struct logbuf lb;
    bmx_jval *man;

    snprintf(dir, sizeof dir, "%s/comp", tmpdir());
    mkdir(dir, 0777);
    snprintf(zst, sizeof zst, "%s/00.jsonl.zst", dir);
    snprintf(gz, sizeof gz, "%s/01.jsonl.gz", dir);
    snprintf(trunc, sizeof trunc, "%s/02.jsonl.zst", dir);
    snprintf(bad, sizeof bad, "%s/03.jsonl.gz", dir);
    zn = zstd_file(zst, text, n);
    {
        /* other documents, in two gzip members */
        static char t2[1 << 20];
        size_t n2 = pile_lines(t2, sizeof t2, 200, 2);
        gzip_file(gz, t2, n2, 2);
        /* a truncated .zst of more documents: everything up to the cut is kept */
        n2 = pile_lines(t2, sizeof t2, 2000, 3);
        {
            /* frames of 4 KB, so that a cut keeps some whole lines */
            size_t cap = ZSTD_compressBound(n2) + (n2 / 4096 + 1) * 64, z = 0;
            char *c = malloc(cap);
            for (size_t a = 0; a < n2; a += 4096) {
                size_t len = n2 - a < 4096 ? n2 - a : 4096;
                size_t w = ZSTD_compress(c + z, cap - z, t2 + a, len, 3);
                CHECK(!ZSTD_isError(w));
                z += w;
            }
            write_file(trunc, c, z * 2 / 3);
            free(c);
        }
        /* a gzip file with a flipped byte in the middle */
        m = gzip_file(bad, t2, n2, 1);
        {
            FILE *f = fopen(bad, "r+b");
            CHECK(f && fseek(f, (long)m / 2, SEEK_SET) == 0);
            fputc(0x55, f);
            fputc(0xAA, f);
            fclose(f);
        }
    }
    /* a folder with compressed documents */
    snprintf(folder, sizeof folder, "%s/folder", dir);
    snprintf(p, sizeof p, "%s/My Domain", folder);
    CHECK(mkdir(folder, 0777) == 0 && mkdir(p, 0777) == 0);
    for (int i = 0; i < 3; i++) {
        size_t bn = (size_t)snprintf(body, sizeof body,
                                     "Folder document %d, long enough to keep: lorem ipsum dolor "
                                     "sit amet.\n",
                                     i);
        snprintf(p, sizeof p, "%s/My Domain/doc%d.txt%s", folder, i,
                 i == 0   ? ""
                 : i == 1 ? ".gz"
                          : ".zst");
        if (i == 0)
            write_file(p, body, bn);
        else if (i == 1)
            gzip_file(p, body, bn, 1);
        else
            zstd_file(p, body, bn);
    }
    /* a cut gzip document counts as truncated */
    snprintf(p, sizeof p, "%s/My Domain/cut.gz", folder);
    gzip_file(p, text, 20000, 1);
    CHECK(truncate(p, 300) == 0);

    {
        bmx_import_src src[] = {{BMX_IMPORT_JSONL, zst, NULL},
                                {BMX_IMPORT_JSONL, gz, NULL},
                                {BMX_IMPORT_JSONL, trunc, NULL},
                                {BMX_IMPORT_JSONL, bad, NULL},
                                {BMX_IMPORT_DIR, folder, NULL}};
        snprintf(out, sizeof out, "%s/out", dir);
        import_opts(&o, out, src, 5, &lb);
        o.domain_key = "meta.pile_set_name";
        CHECK_MSG(bmx_corpus_import(&o, &r, &err) == 0, "%s", err.msg);
    }
    man = load_manifest(out);
    {
        const bmx_jval *in = jpath(man, "inputs", NULL, NULL);
        uint64_t tl, cl;
        CHECK_EQ_STR(bmx_jval_get(in->items[0], "compression")->s, "zstd");
        CHECK_EQ_INT(jnum(bmx_jval_get(in->items[0], "bytes")), zn);
        CHECK_EQ_INT(jnum(bmx_jval_get(in->items[0], "text_bytes")), n);
        CHECK_EQ_INT(jnum(bmx_jval_get(in->items[0], "documents")), 400);
        CHECK_EQ_INT(jnum(bmx_jval_get(in->items[0], "kept")), 400);
        CHECK_EQ_STR(bmx_jval_get(in->items[1], "compression")->s, "gzip");
        CHECK_EQ_INT(jnum(bmx_jval_get(in->items[1], "documents")), 200);
        /* documents 0..199 of salt 2 differ from salt 1: all kept */
        CHECK_EQ_INT(jnum(bmx_jval_get(in->items[1], "kept")), 200);
        /* the truncated file: counted once, at the line after the last whole one */
        tl = jnum(bmx_jval_get(in->items[2], "documents"));
        CHECK_MSG(tl > 100 && tl < 2000, "%llu documents before the cut", (unsigned long long)tl);
        CHECK_EQ_INT(jnum(jpath(in->items[2], "bad", "truncated", NULL)), 1);
        CHECK_EQ_INT(jnum(jpath(in->items[2], "first_bad_lines", "truncated", NULL)->items[0]),
                     jnum(bmx_jval_get(in->items[2], "lines")) + 1);
        CHECK_EQ_INT(jnum(jpath(in->items[2], "bad", "malformed", NULL)), 0);
        /* the damaged gzip file: counted as corrupt (or, if the damage only shows at the
         * end, in the gzip check value) */
        cl = jnum(jpath(in->items[3], "bad", "corrupt", NULL));
        CHECK_EQ_INT(cl, 1);
        CHECK(jnum(bmx_jval_get(in->items[3], "documents")) < 2000);
        CHECK_EQ_INT(jnum(bmx_jval_get(in->items[4], "files")), 4);
        CHECK_EQ_INT(jnum(jpath(in->items[4], "bad", "truncated", NULL)), 1);
        CHECK_EQ_STR(jpath(in->items[4], "first_bad_files", "truncated", NULL)->items[0]->s,
                     "My Domain/cut.gz");
    }
    CHECK_EQ_INT(kept_docs(out, man, "my-domain"), 3);
    CHECK_EQ_STR(jpath(man, "domain_names", "Wikipedia (en)", NULL)->s, "wikipedia-en");
    CHECK_EQ_INT(kept_docs(out, man, "github") + kept_docs(out, man, "pile-cc") +
                     kept_docs(out, man, "wikipedia-en") + kept_docs(out, man, "freelaw"),
                 r.kept - 3);
    check_splits(out, o.split); /* the hashes of the batches are bmx_corpus_hash */
    CHECK_CONTAINS(lb.text, "02.jsonl.zst: 1 bad: 1 truncated stream (line ");
    /* deflate notices damage late: the garbage decoded before it counts as malformed */
    CHECK_CONTAINS(lb.text, "1 damaged stream (line ");
    bmx_jval_free(man);

    /* subsets: two domains by name in the data and by folder name, 50 documents each */
    {
        bmx_import_src src[] = {{BMX_IMPORT_JSONL, zst, NULL}, {BMX_IMPORT_JSONL, gz, NULL}};
        const char *sel[] = {"Github", "wikipedia-en"};
        snprintf(out, sizeof out, "%s/sub", dir);
        import_opts(&o, out, src, 2, &lb);
        o.domain_key = "meta.pile_set_name";
        o.domains = sel;
        o.ndomains = 2;
        o.max_docs = 50;
        CHECK_MSG(bmx_corpus_import(&o, &r, &err) == 0, "%s", err.msg);
        man = load_manifest(out);
        CHECK_EQ_INT(bmx_jval_get(man, "domains")->n, 2);
        CHECK_EQ_INT(kept_docs(out, man, "github"), 50);
        CHECK_EQ_INT(kept_docs(out, man, "wikipedia-en"), 50);
        /* both full within the first file: the second is not read */
        CHECK_EQ_INT(jnum(bmx_jval_get(jpath(man, "inputs", NULL, NULL)->items[1], "documents")),
                     0);
        CHECK_EQ_INT(r.kept, 100);
        bmx_jval_free(man);
        /* a byte cap: the document that crosses it is kept */
        o.max_docs = 0;
        o.max_bytes = 1000;
        o.ndomains = 1;
        CHECK(bmx_corpus_import(&o, &r, &err) == 0);
        man = load_manifest(out);
        CHECK_EQ_INT(bmx_jval_get(man, "domains")->n, 1);
        CHECK(r.kept >= 10 && r.kept <= 13);
        bmx_jval_free(man);
    }
    /* the same name twice after sanitising, and the domain of a whole file */
    {
        bmx_import_src src[] = {{BMX_IMPORT_JSONL, zst, "git hub"},
                                {BMX_IMPORT_JSONL, gz, "Git/Hub"}};
        snprintf(out, sizeof out, "%s/same", dir);
        import_opts(&o, out, src, 2, &lb);
        o.domain_key = NULL;
        CHECK_MSG(bmx_corpus_import(&o, &r, &err) == 0, "%s", err.msg);
        man = load_manifest(out);
        CHECK_EQ_STR(jpath(man, "domain_names", "git hub", NULL)->s, "git-hub");
        CHECK_EQ_STR(jpath(man, "domain_names", "Git/Hub", NULL)->s, "git-hub-2");
        CHECK_EQ_INT(kept_docs(out, man, "git-hub"), 400);
        CHECK_EQ_INT(kept_docs(out, man, "git-hub-2"), 200);
        bmx_jval_free(man);
    }
}

/* A line longer than BMX_IMPORT_DOC_MAX is counted and skipped, the next line is read. */
static void test_import_too_long(void)
{
    char path[300], out[300];
    size_t n = BMX_IMPORT_DOC_MAX + 100, k = 0;
    char *big = malloc(n + 400);
    bmx_import_src src[] = {{BMX_IMPORT_JSONL, path, "d"}};
    bmx_import_opts o;
    bmx_import_result r;
    bmx_err err = {0};
    struct logbuf lb = {{0}, 0};
    bmx_jval *man;

    CHECK(big);
    k += (size_t)sprintf(big, "{\"text\": \"first line, short and long enough to keep\"}\n");
    k += (size_t)sprintf(big + k, "{\"text\": \"");
    memset(big + k, 'a', n);
    k += n;
    k +=
        (size_t)sprintf(big + k, "\"}\n{\"text\": \"third line, after the long one, kept too\"}\n");
    snprintf(path, sizeof path, "%s/long.jsonl", tmpdir());
    write_file(path, big, k);
    free(big);
    snprintf(out, sizeof out, "%s/long", tmpdir());
    import_opts(&o, out, src, 1, &lb);
    o.domain_key = NULL;
    CHECK_MSG(bmx_corpus_import(&o, &r, &err) == 0, "%s", err.msg);
    CHECK_EQ_INT(r.kept, 2);
    CHECK_EQ_INT(r.bad, 1);
    man = load_manifest(out);
    CHECK_EQ_INT(jnum(bmx_jval_get(jpath(man, "inputs", NULL, NULL)->items[0], "lines")),
                 3); /* lines */
    CHECK_EQ_INT(
        jnum(jpath(jpath(man, "inputs", NULL, NULL)->items[0], "first_bad_lines", "too_long", NULL)
                 ->items[0]),
        2);
    bmx_jval_free(man);
    unlink(path);
}

/* ---- the 8-bytes-at-a-time paths against bytewise references ---- */

static void test_crc32_check_value(void)
{
    static const char s[] = "123456789";
    uint32_t a = bmx_crc32(0, s, 9), b = bmx_crc32(bmx_crc32(0, s, 4), s + 4, 5);
    CHECK_EQ_INT(a, 0xCBF43926u); /* the CRC-32 check value */
    CHECK_EQ_INT(b, 0xCBF43926u);
    CHECK_EQ_INT(bmx_crc32(0, s, 0), 0);
    /* the corpus's CRCs go through zlib's crc32 (corpus_crc32): the same values */
    unsigned char buf[4099];
    bmx_rng r;
    bmx_rng_seed(&r, 3, 0);
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (unsigned char)bmx_rng_below(&r, 256);
    for (size_t n = 0; n < sizeof buf; n += 97)
        CHECK_EQ_INT(bmx_crc32(7, buf, n), (uint32_t)crc32(7, buf, (uInt)n));
}

/* The bytewise normalisation bmx had before its 8-byte fast path (reference). */
static size_t ref_normalize(const unsigned char *p, size_t n, unsigned char *o,
                            bmx_corpus_norm_stats *st)
{
    size_t i = 0, k = 0;
    memset(st, 0, sizeof *st);
    if (n >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF) {
        i = 3;
        st->chars = 1;
    }
    while (i < n) {
        unsigned c = p[i], cp = 0, lo = 0x80, hi = 0xBF;
        size_t need = 0, j, bad = 0;
        st->chars++;
        if (c < 0x80) {
            if (c == 0) {
                st->control++;
                i++;
                continue;
            }
            if (c == '\r' && i + 1 < n && p[i + 1] == '\n') {
                st->chars--;
                i++;
                continue;
            }
            if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f') || c == 0x7F)
                st->control++;
            if (!(c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'))
                st->nonspace++;
            o[k++] = (unsigned char)c;
            i++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF)
            need = 1, cp = c & 0x1F;
        else if (c >= 0xE0 && c <= 0xEF)
            need = 2, cp = c & 0x0F, lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
        else if (c >= 0xF0 && c <= 0xF4)
            need = 3, cp = c & 0x07, lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
        else
            bad = 1;
        for (j = 1; !bad && j <= need; j++) {
            unsigned b = i + j < n ? p[i + j] : 0x100;
            if (j == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xBF))
                bad = j;
            else
                cp = cp << 6 | (b & 0x3F);
        }
        if (bad) {
            memcpy(o + k, "\xEF\xBF\xBD", 3);
            k += 3;
            st->replaced++;
            st->nonspace += 3;
            i += bad;
            continue;
        }
        if (cp == 0xFFFD)
            st->replaced++;
        else if (cp >= 0x80 && cp < 0xA0)
            st->control++;
        memcpy(o + k, p + i, need + 1);
        k += need + 1;
        st->nonspace += need + 1;
        i += need + 1;
    }
    return k;
}

static void test_normalize_fast_path(void)
{
    static const char *const pieces[] = {"plain words ",
                                         "        ",
                                         "caf\xC3\xA9 ",
                                         "\r\n",
                                         "\t",
                                         "\x01",
                                         "\x7F",
                                         "~}|{",
                                         "\xFF",
                                         "\xE2\x82",
                                         "\xF0\x9F\x98\x80",
                                         "\0",
                                         "\xC2\x85",
                                         "\xEF\xBB\xBF",
                                         "0123456789abcdefABCDEF!\"#$%&'()*+,-./"};
    bmx_rng r;
    unsigned char in[600], a[1800], b[1800];

    bmx_rng_seed(&r, 7, 0);
    for (int t = 0; t < 3000; t++) {
        size_t n = 0, ma, mb;
        bmx_corpus_norm_stats sa, sb;
        while (n < 500) {
            size_t k = bmx_rng_below(&r, sizeof pieces / sizeof *pieces);
            size_t len = k == 11 ? 1 : strlen(pieces[k]);
            memcpy(in + n, pieces[k], len);
            n += len;
        }
        n -= bmx_rng_below(&r, 40);
        ma = bmx_corpus_normalize(in, n, a, &sa);
        mb = ref_normalize(in, n, b, &sb);
        CHECK_MSG(ma == mb && memcmp(a, b, ma) == 0, "case %d: %zu vs %zu bytes", t, ma, mb);
        CHECK_EQ_INT(sa.chars, sb.chars);
        CHECK_EQ_INT(sa.replaced, sb.replaced);
        CHECK_EQ_INT(sa.control, sb.control);
        CHECK_EQ_INT(sa.nonspace, sb.nonspace);
    }
}

/* Every document of every split of an import sits in the split of its hash (the hash
 * computed during normalisation is bmx_corpus_hash of the output) and no two are equal. */
static void check_splits(const char *dir, const unsigned w[3])
{
    bmx_jval *man = load_manifest(dir);
    const bmx_jval *doms = bmx_jval_get(man, "domains");
    uint64_t *seen = NULL;
    size_t nseen = 0;

    for (size_t i = 0; i < doms->n; i++)
        for (int s = 0; s < BMX_NSPLITS; s++) {
            char path[512];
            bmx_corpus_docs *d;
            bmx_err err;
            snprintf(path, sizeof path, "%s/%s/%s.txt", dir, doms->keys[i],
                     bmx_corpus_split_name(s));
            CHECK_MSG(bmx_corpus_docs_load(path, &d, &err) == 0, "%s", err.msg);
            seen = realloc(seen, (nseen + d->n) * sizeof *seen);
            for (size_t k = 0; k < d->n; k++) {
                uint64_t h = bmx_corpus_hash(d->doc[k].text, d->doc[k].len);
                CHECK_EQ_INT(bmx_corpus_split_of(h, w), s);
                for (size_t j = 0; j < nseen; j++)
                    CHECK(seen[j] != h);
                seen[nseen++] = h;
            }
            bmx_corpus_docs_free(d);
        }
    CHECK(nseen > 0);
    free(seen);
    bmx_jval_free(man);
}

static void test_import_hash_split(void)
{
    char path[300], out[300];
    static const char lines[] =
        "{\"text\": \"\\ufeffA byte-order mark first, then a line\\r\\nand CRLF, a NUL "
        "\\u0000 and text enough to keep.\", \"d\": \"x\"}\n"
        "{\"text\": \"Invalid bytes \xFF\xFE and \xE2\x82 in a string, with more plain words "
        "around them.\", \"d\": \"x\"}\n"
        "{\"text\": \"A lone surrogate \\ud800 and a pair \\ud83d\\ude00, then ordinary "
        "words.\", \"d\": \"y\"}\n"
        "{\"text\": \"The same words with     many     spaces     in a row to fill eight "
        "bytes.\", \"d\": \"y\"}\n";
    bmx_import_src src[] = {{BMX_IMPORT_JSONL, path, NULL}, {BMX_IMPORT_DIR, FIX "/folder", NULL}};
    bmx_import_opts o;
    bmx_import_result r;
    bmx_err err = {0};
    struct logbuf lb = {{0}, 0};

    snprintf(path, sizeof path, "%s/tricky.jsonl", tmpdir());
    write_file(path, lines, sizeof lines - 1);
    snprintf(out, sizeof out, "%s/tricky", tmpdir());
    import_opts(&o, out, src, 2, &lb);
    o.domain_key = "d";
    o.split[0] = 2;
    o.split[1] = 1;
    o.split[2] = 1;
    CHECK_MSG(bmx_corpus_import(&o, &r, &err) == 0, "%s", err.msg);
    CHECK_EQ_INT(r.kept, 4 + 4);
    check_splits(out, o.split);
}

int main(int argc, char **argv)
{
    static const struct check_case cases[] = {
        {"jsonl_good", test_jsonl_good},
        {"jsonl_bad", test_jsonl_bad},
        {"jsonl_prefixes_and_flips", test_jsonl_prefixes_and_flips},
        {"safe_name", test_safe_name},
        {"import_fixtures", test_import_fixtures},
        {"import_strict_and_repeat", test_import_strict_and_repeat},
        {"import_compressed", test_import_compressed},
        {"import_too_long", test_import_too_long},
        {"crc32_check_value", test_crc32_check_value},
        {"normalize_fast_path", test_normalize_fast_path},
        {"import_hash_split", test_import_hash_split},
        {0},
    };
    return check_main(argc, argv, cases);
}
