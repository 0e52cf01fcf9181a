/* The corpus module: normalisation, filters, hash, split rule, the record stream, and whole
 * builds with small fake extractor scripts written into a temporary directory. */
#include "bmx/corpus.h"
#include "check.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Paths and messages in this test are short; truncation is harmless. */
#pragma GCC diagnostic ignored "-Wformat-truncation"

static const char *tmpdir(void)
{
    return check_tmpdir("corpus");
}

/* ---- normalisation ---- */

static void norm_case(const char *in, size_t n, const char *want, size_t want_n)
{
    char out[256];
    size_t m;

    CHECK(3 * n <= sizeof out);
    m = bmx_corpus_normalize(in, n, out, NULL);
    CHECK_MSG(m == want_n && memcmp(out, want, m) == 0, "normalising %zu bytes gave %zu bytes", n,
              m);
}

#define NORM(in, want) norm_case(in, sizeof(in) - 1, want, sizeof(want) - 1)
#define R              "\xEF\xBF\xBD" /* U+FFFD */

static void test_normalize_valid(void)
{
    NORM("plain ascii text\n", "plain ascii text\n");
    NORM("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80 \xF4\x8F\xBF\xBF",
         "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80 \xF4\x8F\xBF\xBF");
    NORM("", "");
}

static void test_normalize_line_ends_nul_bom(void)
{
    NORM("a\r\nb\rc\r\n\r\n", "a\nb\rc\n\n");
    NORM("a\0b\0\0c", "abc");
    NORM("\xEF\xBB\xBFhi \xEF\xBB\xBF", "hi \xEF\xBB\xBF"); /* only a leading BOM goes */
}

static void test_normalize_invalid(void)
{
    NORM("\xC3", R);                   /* truncated at the end */
    NORM("\xC3(", R "(");              /* missing continuation */
    NORM("\xE2\x82x", R "x");          /* one U+FFFD for the maximal subpart */
    NORM("\xF0\x9F\x98", R);           /* truncated 4-byte form */
    NORM("\xC0\xAF", R R);             /* overlong: C0 is never valid, AF stray */
    NORM("\xE0\x80\xAF", R R R);       /* overlong 3-byte form */
    NORM("\xED\xA0\x80", R R R);       /* surrogate D800 */
    NORM("\xF4\x90\x80\x80", R R R R); /* above U+10FFFF */
    NORM("\xF5\xFF\x80", R R R);       /* never-valid bytes */
    /* the example of the Unicode standard (table 3-8 style): maximal subparts */
    NORM("\x61\xF1\x80\x80\xE1\x80\xC2\x62\x80\x63\x80\xBF\x64", "a" R R R "b" R "c" R R "d");
    NORM("x\xEF\xBF\xBDy", "x" R "y"); /* a literal U+FFFD stays */
}

static void test_normalize_stats(void)
{
    char out[64];
    bmx_corpus_norm_stats st;
    static const char in[] = "ab\0\x01\xFF\r\n\t\x7F\xC2\x85 z";

    bmx_corpus_normalize(in, sizeof in - 1, out, &st);
    /* characters: a b NUL 01 FF CRLF TAB DEL U+0085 space z = 11 */
    CHECK_EQ_INT(st.chars, 11);
    CHECK_EQ_INT(st.replaced, 1);
    CHECK_EQ_INT(st.control, 4); /* NUL (stripped), 01, DEL, U+0085 */
    /* non-space bytes: a b 01 FFFD(3) DEL C2 85 z = 10 */
    CHECK_EQ_INT(st.nonspace, 10);
}

/* ---- binary and near-empty ---- */

static int classify(const char *s, size_t n)
{
    char *out = malloc(3 * n + 1);
    bmx_corpus_norm_stats st;
    int c;

    bmx_corpus_normalize(s, n, out, &st);
    c = bmx_corpus_classify(&st);
    free(out);
    return c;
}

static void test_classify(void)
{
    char buf[1000];
    /* 100 characters with 10 control bytes: exactly 10%, kept; 11: binary */
    memset(buf, 'x', 100);
    memset(buf, 0x01, 10);
    CHECK_EQ_INT(classify(buf, 100), BMX_DOC_KEEP);
    buf[10] = 0x02;
    CHECK_EQ_INT(classify(buf, 100), BMX_DOC_BINARY);
    /* invalid bytes count too: 11 stray continuation bytes among 100 */
    memset(buf, 'y', 100);
    memset(buf + 50, 0x80, 11);
    CHECK_EQ_INT(classify(buf, 100), BMX_DOC_BINARY);
    /* NULs count although they are removed */
    memset(buf, 'y', 100);
    memset(buf, 0, 11);
    CHECK_EQ_INT(classify(buf, 100), BMX_DOC_BINARY);
    /* pseudo-random bytes are binary */
    for (int i = 0; i < 1000; i++)
        buf[i] = (char)((i * 2654435761u) >> 13);
    CHECK_EQ_INT(classify(buf, 1000), BMX_DOC_BINARY);
    /* near-empty: 31 non-space bytes among much white space, then 32 */
    memset(buf, ' ', 500);
    memset(buf + 100, '\n', 50);
    memset(buf + 200, 'q', 31);
    CHECK_EQ_INT(classify(buf, 500), BMX_DOC_EMPTY);
    buf[300] = 'q';
    CHECK_EQ_INT(classify(buf, 500), BMX_DOC_KEEP);
    CHECK_EQ_INT(classify("", 0), BMX_DOC_EMPTY);
    /* tabs, form feeds and CR LF are not control characters for this rule */
    {
        static const char code[] =
            "\t\f\r\n\t\f\r\n\t\f\r\nint main(void) { return 0; } /* all fine */";
        CHECK_EQ_INT(classify(code, sizeof code - 1), BMX_DOC_KEEP);
    }
}

/* ---- hash and split ---- */

static void test_hash_vectors(void)
{
    /* FNV-1a 64 published test vectors */
    CHECK(bmx_corpus_hash("", 0) == 0xcbf29ce484222325ull);
    CHECK(bmx_corpus_hash("a", 1) == 0xaf63dc4c8601ec8cull);
    CHECK(bmx_corpus_hash("foobar", 6) == 0x85944171f73967e8ull);
}

static void test_split_rule(void)
{
    unsigned w[3] = {98, 1, 1}, v[3];
    long cnt[3] = {0, 0, 0};
    const long n = 200000;
    bmx_err err = {0};

    for (long i = 0; i < n; i++) {
        uint64_t h = bmx_corpus_hash(&i, sizeof i);
        int s = bmx_corpus_split_of(h, w);
        CHECK(s >= 0 && s < 3);
        CHECK_EQ_INT(s, bmx_corpus_split_of(h, w));
        cnt[s]++;
    }
    /* binomial: sd of the val count = sqrt(n * 0.01 * 0.99) = 44.5; 5 sd */
    CHECK_NEAR(cnt[1], 2000, 5 * 44.5 / 2000);
    CHECK_NEAR(cnt[2], 2000, 5 * 44.5 / 2000);
    CHECK_EQ_INT(cnt[0] + cnt[1] + cnt[2], n);
    /* hand-computed: splitmix64 finaliser of 0 is 0, so hash 0 is bucket 0 -> train */
    CHECK_EQ_INT(bmx_corpus_split_of(0, w), BMX_SPLIT_TRAIN);
    {
        unsigned only_val[3] = {0, 1, 0}, only_test[3] = {0, 0, 5};
        CHECK_EQ_INT(bmx_corpus_split_of(12345, only_val), BMX_SPLIT_VAL);
        CHECK_EQ_INT(bmx_corpus_split_of(12345, only_test), BMX_SPLIT_TEST);
    }
    CHECK_EQ_INT(bmx_corpus_parse_split("98/1/1", v, &err), 0);
    CHECK(v[0] == 98 && v[1] == 1 && v[2] == 1);
    CHECK_EQ_INT(bmx_corpus_parse_split("80/10/10", v, &err), 0);
    CHECK(v[0] == 80 && v[1] == 10 && v[2] == 10);
    CHECK_EQ_INT(bmx_corpus_parse_split("98/1", v, &err), BMX_EINVAL);
    CHECK_CONTAINS(err.msg, "98/1");
    CHECK_EQ_INT(bmx_corpus_parse_split("98/1/1/0", v, &err), BMX_EINVAL);
    CHECK_EQ_INT(bmx_corpus_parse_split("a/1/1", v, &err), BMX_EINVAL);
    CHECK_EQ_INT(bmx_corpus_parse_split("0/0/0", v, &err), BMX_EINVAL);
    CHECK_EQ_INT(bmx_corpus_parse_split("-1/1/1", v, &err), BMX_EINVAL);
}

/* corpus import --domains: the names in order, empty names skipped, the bounds. */
static void test_parse_domains(void)
{
    const char *sel[BMX_IMPORT_MAX_DOMAINS];
    size_t n = 99;
    char *copy = NULL;
    bmx_err err = {0};
    CHECK_EQ_INT(bmx_corpus_parse_domains("Pile-CC,,Github,", sel, &n, &copy, &err), 0);
    CHECK_EQ_INT(n, 2);
    CHECK_EQ_STR(sel[0], "Pile-CC");
    CHECK_EQ_STR(sel[1], "Github");
    free(copy);
    CHECK_EQ_INT(bmx_corpus_parse_domains(",,", sel, &n, &copy, &err), BMX_EINVAL);
    CHECK_EQ_INT(n, 0);
    CHECK_CONTAINS(err.msg, "--domains names no domain");
    free(copy);
    char many[2 * (BMX_IMPORT_MAX_DOMAINS + 1) + 1];
    for (int i = 0; i <= BMX_IMPORT_MAX_DOMAINS; i++)
        memcpy(many + 2 * i, "a,", 2);
    many[2 * (BMX_IMPORT_MAX_DOMAINS + 1)] = 0;
    CHECK_EQ_INT(bmx_corpus_parse_domains(many, sel, &n, &copy, &err), BMX_EINVAL);
    CHECK_CONTAINS(err.msg, "more than 256 domains");
    free(copy);
    many[2 * BMX_IMPORT_MAX_DOMAINS] = 0; /* exactly the bound */
    CHECK_EQ_INT(bmx_corpus_parse_domains(many, sel, &n, &copy, &err), 0);
    CHECK_EQ_INT(n, BMX_IMPORT_MAX_DOMAINS);
    free(copy);
}

/* The presets of bmx corpus build: caps and splits by hand, overrides, refusals. */
static void test_preset(void)
{
    bmx_corpus_opts o = {0};
    bmx_err err = {0};

    CHECK_EQ_INT(bmx_corpus_preset(&o, "small", 0, NULL, &err), 0);
    CHECK_EQ_STR(o.preset, "small");
    CHECK(o.max_bytes == 2000000u && o.split[0] == 90 && o.split[1] == 5 && o.split[2] == 5);
    CHECK_EQ_INT(bmx_corpus_preset(&o, "full", 0, NULL, &err), 0);
    CHECK(o.max_bytes == 150000000u && o.split[0] == 98 && o.split[1] == 1 && o.split[2] == 1);
    CHECK_EQ_INT(bmx_corpus_preset(&o, "small", 7, "80/10/10", &err), 0);
    CHECK(o.max_bytes == 7000000u && o.split[0] == 80 && o.split[1] == 10 && o.split[2] == 10);
    CHECK_EQ_INT(bmx_corpus_preset(&o, "huge", 0, NULL, &err), BMX_EINVAL);
    CHECK_EQ_STR(err.msg, "--preset must be small or full, got 'huge'");
    CHECK_EQ_INT(bmx_corpus_preset(&o, "full", -1, NULL, &err), BMX_EINVAL);
    CHECK_EQ_STR(err.msg, "--cap-mb wants a positive number of MB, got -1");
    CHECK_EQ_INT(bmx_corpus_preset(&o, "full", 1000001, NULL, &err), BMX_EINVAL);
    CHECK_EQ_INT(bmx_corpus_preset(&o, "full", 0, "1/2", &err), BMX_EINVAL);
    CHECK(strncmp(err.msg, "--split: ", 9) == 0);
    CHECK_CONTAINS(err.msg, "1/2");
}

/* ---- builds with fake extractors ---- */

struct logbuf {
    char text[16384];
    size_t len;
};

static void log_fn(void *ctx, int level, const char *msg)
{
    struct logbuf *b = ctx;
    int k = snprintf(b->text + b->len, sizeof b->text - b->len, "%d %s\n", level, msg);
    if (k > 0 && b->len + (size_t)k < sizeof b->text)
        b->len += (size_t)k;
}

/* The fake scripts use doc LABEL TEXT (LC_ALL=C: ${#x} counts bytes). */
static const char *PRELUDE = "set -e\nexport LC_ALL=C\n"
                             "doc() { printf 'DOC %d %s\\n%s\\n' \"${#2}\" \"$1\" \"$2\"; }\n";

static void write_script(const char *scripts, const char *name, const char *body)
{
    char p[256];
    FILE *f;

    mkdir(scripts, 0777);
    snprintf(p, sizeof p, "%s/%s.sh", scripts, name);
    f = fopen(p, "w");
    CHECK(f);
    fputs(PRELUDE, f);
    fputs(body, f);
    fclose(f);
}

static int build(const char *name, const char *const *domains, size_t nd, uint64_t cap,
                 bmx_corpus_result *res, struct logbuf *lb, bmx_err *err)
{
    char out[256], scripts[256], cache[256];
    bmx_corpus_opts o;

    snprintf(out, sizeof out, "%s/%s", tmpdir(), name);
    snprintf(scripts, sizeof scripts, "%s/scripts", tmpdir());
    snprintf(cache, sizeof cache, "%s/cache", tmpdir());
    memset(&o, 0, sizeof o);
    o.out_dir = out;
    o.cache_dir = cache;
    o.scripts_dir = scripts;
    o.domains = domains;
    o.ndomains = nd;
    o.max_bytes = cap;
    o.split[0] = 98;
    o.split[1] = 1;
    o.split[2] = 1;
    o.preset = "test";
    lb->len = 0;
    lb->text[0] = '\0';
    o.log = (bmx_logger){log_fn, lb};
    return bmx_corpus_build(&o, res, err);
}

/* Load all three splits of out/domain; returns the total document count and fills texts
 * (each NUL-terminated copy) with the split in which each was found. */
struct found {
    char text[200];
    int split;
};

static size_t load_domain(const char *out, const char *domain, struct found *f, size_t max)
{
    size_t k = 0;
    for (int s = 0; s < BMX_NSPLITS; s++) {
        char p[256];
        bmx_corpus_docs *d;
        bmx_err err = {0};
        snprintf(p, sizeof p, "%s/%s/%s/%s.txt", tmpdir(), out, domain, bmx_corpus_split_name(s));
        CHECK_MSG(bmx_corpus_docs_load(p, &d, &err) == 0, "%s", err.msg);
        for (size_t i = 0; i < d->n; i++) {
            CHECK(k < max && d->doc[i].len < sizeof f[k].text);
            memcpy(f[k].text, d->doc[i].text, d->doc[i].len);
            f[k].text[d->doc[i].len] = '\0';
            f[k].split = s;
            k++;
        }
        bmx_corpus_docs_free(d);
    }
    return k;
}

static const struct found *find(const struct found *f, size_t n, const char *text)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(f[i].text, text) == 0)
            return &f[i];
    return NULL;
}

static void test_build_dedup_across_domains(void)
{
    char scripts[256];
    bmx_corpus_result res;
    struct logbuf *lb = calloc(1, sizeof *lb);
    bmx_err err = {0};
    struct found f[16];
    size_t n;
    static const char *ab[] = {"alpha", "beta"}, *ba[] = {"beta", "alpha"};

    snprintf(scripts, sizeof scripts, "%s/scripts", tmpdir());
    write_script(scripts, "alpha",
                 "echo 'PKG deb alpha-src 1.0-1 GPL-2+'\n"
                 "doc a/1 'shared document text that both domains emit, long enough'\n"
                 "doc a/2 'only in alpha: a document of more than thirty-two bytes'\n"
                 "doc a/3 'only in alpha: a document of more than thirty-two bytes'\n");
    write_script(scripts, "beta",
                 "echo 'PKG npm beta-data 2.0.0 CC0-1.0'\n"
                 "echo 'PKG npm beta-data 2.0.0 CC0-1.0'\n"
                 "doc b/1 'shared document text that both domains emit, long enough'\n"
                 "doc b/2 'only in beta: another document of more than 32 bytes'\n");
    CHECK_MSG(build("dd1", ab, 2, 1000000, &res, lb, &err) == 0, "%s", err.msg);
    CHECK_EQ_INT(res.built, 2);
    CHECK_EQ_INT(res.failed, 0);
    n = load_domain("dd1", "alpha", f, 16);
    CHECK_EQ_INT(n, 2); /* a/3 duplicates a/2 inside alpha */
    CHECK(find(f, n, "shared document text that both domains emit, long enough"));
    n = load_domain("dd1", "beta", f, 16);
    CHECK_EQ_INT(n, 1);
    CHECK(!find(f, n, "shared document text that both domains emit, long enough"));
    CHECK_CONTAINS(lb->text, "beta: 1 documents kept");
    CHECK_CONTAINS(lb->text, "1 duplicate");
    /* the other order: beta keeps the shared document */
    CHECK_MSG(build("dd2", ba, 2, 1000000, &res, lb, &err) == 0, "%s", err.msg);
    n = load_domain("dd2", "beta", f, 16);
    CHECK_EQ_INT(n, 2);
    n = load_domain("dd2", "alpha", f, 16);
    CHECK_EQ_INT(n, 1);
    free(lb);
}

/* Domain "grow" first emits docs 0..39, then 0..79 interleaved with new ones: every old
 * document stays in its split. */
static void test_split_stable_when_docs_added(void)
{
    char scripts[256];
    bmx_corpus_result res;
    struct logbuf *lb = calloc(1, sizeof *lb);
    bmx_err err = {0};
    struct found *a = calloc(200, sizeof *a), *b = calloc(200, sizeof *b);
    size_t na, nb;
    static const char *dom[] = {"grow"};
    unsigned w[3] = {2, 1, 1};
    int moved_split_seen[3] = {0, 0, 0};

    snprintf(scripts, sizeof scripts, "%s/scripts", tmpdir());
    write_script(scripts, "grow",
                 "for i in $(seq 0 39); do doc d$i \"document number $i of the growing "
                 "domain, padded to length\"; done\n");
    {
        char out[256], sc[256], cache[256];
        bmx_corpus_opts o;
        memset(&o, 0, sizeof o);
        snprintf(out, sizeof out, "%s/g1", tmpdir());
        snprintf(sc, sizeof sc, "%s/scripts", tmpdir());
        snprintf(cache, sizeof cache, "%s/cache", tmpdir());
        o.out_dir = out;
        o.cache_dir = cache;
        o.scripts_dir = sc;
        o.domains = dom;
        o.ndomains = 1;
        o.max_bytes = 1 << 20;
        memcpy(o.split, w, sizeof w);
        CHECK_MSG(bmx_corpus_build(&o, &res, &err) == 0, "%s", err.msg);
        write_script(scripts, "grow",
                     "for i in $(seq 0 79); do doc n$i \"a new document $i that was added "
                     "later on\"; doc d$i \"document number $i of the growing domain, padded "
                     "to length\"; done\n");
        snprintf(out, sizeof out, "%s/g2", tmpdir());
        CHECK_MSG(bmx_corpus_build(&o, &res, &err) == 0, "%s", err.msg);
    }
    na = load_domain("g1", "grow", a, 200);
    nb = load_domain("g2", "grow", b, 200);
    CHECK_EQ_INT(na, 40);
    CHECK_EQ_INT(nb, 160);
    for (size_t i = 0; i < na; i++) {
        const struct found *x = find(b, nb, a[i].text);
        CHECK_MSG(x != NULL, "document '%s' disappeared", a[i].text);
        CHECK_EQ_INT(x->split, a[i].split);
        /* and the split is the rule applied to the document's hash */
        CHECK_EQ_INT(a[i].split,
                     bmx_corpus_split_of(bmx_corpus_hash(a[i].text, strlen(a[i].text)), w));
        moved_split_seen[a[i].split] = 1;
    }
    /* with weights 2/1/1 and 40 documents every split is used (else the test is weak) */
    CHECK(moved_split_seen[0] && moved_split_seen[1] && moved_split_seen[2]);
    free(a);
    free(b);
    free(lb);
}

/* Malformed streams: the domain fails with a message naming the byte offset. */
static void bad_stream(const char *body, const char *want)
{
    char scripts[256], man[256];
    bmx_corpus_result res;
    struct logbuf *lb = calloc(1, sizeof *lb);
    bmx_err err = {0};
    static const char *dom[] = {"bad", "good"};
    FILE *f;
    char *text = calloc(1, 65536);

    snprintf(scripts, sizeof scripts, "%s/scripts", tmpdir());
    write_script(scripts, "bad", body);
    write_script(scripts, "good", "doc g/1 'a perfectly good document of the good domain'\n");
    CHECK_MSG(build("bad", dom, 2, 1000000, &res, lb, &err) == 0, "%s", err.msg);
    CHECK_EQ_INT(res.built, 1);
    CHECK_EQ_INT(res.failed, 1);
    CHECK_CONTAINS(lb->text, "bad FAILED");
    CHECK_CONTAINS(lb->text, want);
    /* left out, and listed under "failed" in the manifest */
    snprintf(man, sizeof man, "%s/bad/bad/train.txt", tmpdir());
    CHECK(access(man, F_OK) != 0);
    snprintf(man, sizeof man, "%s/bad/manifest.json", tmpdir());
    f = fopen(man, "r");
    CHECK(f);
    CHECK(fread(text, 1, 65535, f) > 0);
    fclose(f);
    CHECK_CONTAINS(text, "\"failed\": {\n    \"bad\": ");
    CHECK_CONTAINS(text, "\"good\": {");
    free(text);
    free(lb);
}

static void test_stream_unknown_record(void)
{
    /* the first record is 48 bytes long ("DOC 36 a/1\n" + 36 bytes + "\n") */
    bad_stream("doc a/1 'a good first record of 36 bytes!!!!!'\necho 'XYZ 1 2'\n",
               "at byte offset 48: unknown record 'XYZ 1 2'");
}

static void test_stream_bad_doc_header(void)
{
    bad_stream("echo 'DOC abc label'\n", "at byte offset 0: DOC record header");
    bad_stream("echo 'DOC 12'\n", "at byte offset 0: DOC record header");
}

static void test_stream_truncated(void)
{
    bad_stream("printf 'DOC 100 x\\nonly a few bytes'\n", "truncated");
    bad_stream("printf 'DOC 3 x\\nabc'\n", "truncated");
    bad_stream("printf 'DOC 3 x'\n", "truncated record header");
}

static void test_stream_no_newline_after_doc(void)
{
    bad_stream("printf 'DOC 3 x\\nabcX'\n", "no newline after the announced byte count");
}

static void test_stream_bad_pkg(void)
{
    bad_stream("echo 'PKG rpm foo 1.0 MIT'\n", "'deb' or 'npm'");
    bad_stream("echo 'PKG deb foo 1.0'\n", "PKG record needs");
    bad_stream("printf 'PKG deb foo 1.0 MIT\\r\\n'\n", "control character");
}

static void test_extractor_failure_reported(void)
{
    bad_stream("echo 'bad: r-base-core is missing; run as root: apt-get install -y "
               "r-base-core' >&2\nexit 3\n",
               "exited with status 3: bad: r-base-core is missing; run as root: apt-get "
               "install -y r-base-core");
    bad_stream("kill -9 $$\n", "killed by signal 9");
}

static void test_empty_domain_fails(void)
{
    bad_stream("doc a/1 'tiny'\nprintf 'DOC 40 bin\\n\\001\\002\\003\\004\\005\\006\\007"
               "\\010\\001\\002\\003\\004\\005\\006\\007\\010\\001\\002\\003\\004\\005\\006"
               "\\007\\010\\001\\002\\003\\004\\005\\006\\007\\010\\001\\002\\003\\004\\005"
               "\\006\\007\\010\\n'\n",
               "gave no usable document (2 read: 1 binary, 1 near-empty, 0 duplicate)");
    bad_stream("true\n", "gave no usable document (0 read");
}

static void test_missing_script(void)
{
    char scripts[256];
    bmx_corpus_result res;
    struct logbuf *lb = calloc(1, sizeof *lb);
    bmx_err err = {0};
    static const char *dom[] = {"nosuchdomain"};

    snprintf(scripts, sizeof scripts, "%s/scripts", tmpdir());
    mkdir(scripts, 0777);
    CHECK_EQ_INT(build("missing", dom, 1, 1000, &res, lb, &err), 0);
    CHECK_EQ_INT(res.failed, 1);
    CHECK_CONTAINS(lb->text, "no extractor script");
    CHECK_CONTAINS(lb->text, "nosuchdomain.sh");
    free(lb);
}

static void test_normalised_and_capped(void)
{
    char scripts[256], p[256];
    bmx_corpus_result res;
    struct logbuf *lb = calloc(1, sizeof *lb);
    bmx_err err = {0};
    struct found f[64];
    size_t n;
    static const char *dom[] = {"norm"};

    snprintf(scripts, sizeof scripts, "%s/scripts", tmpdir());
    /* 3 documents of 60 bytes; the cap of 100 bytes keeps the first two (the second crosses
     * it), drops the third */
    write_script(scripts, "norm",
                 "printf 'DOC 60 crlf\\nline one with CR LF\\r\\nline two \\377 bad byte\\0 "
                 "and a NUL\\r\\nend....\\n'\n"
                 "doc two 'the second document, sixty bytes long, exactly sixty bytes!'\n"
                 "doc three 'the third document, sixty bytes long, exactly sixty bytes!'\n");
    CHECK_MSG(build("norm", dom, 1, 100, &res, lb, &err) == 0, "%s", err.msg);
    CHECK_EQ_INT(res.built, 1);
    n = load_domain("norm", "norm", f, 64);
    CHECK_EQ_INT(n, 2);
    CHECK(find(f, n, "line one with CR LF\nline two " R " bad byte and a NUL\nend...."));
    CHECK_CONTAINS(lb->text, "1 over the cap");
    /* the loader reports a damaged file with its name and offset */
    {
        FILE *fp;
        bmx_corpus_docs *d;
        snprintf(p, sizeof p, "%s/norm/damaged.txt", tmpdir());
        fp = fopen(p, "w");
        fputs("#bmx-corpus 1\nDOC 5 x\nhello\nDOC 9 y\nshort\n", fp);
        fclose(fp);
        CHECK_EQ_INT(bmx_corpus_docs_load(p, &d, &err), BMX_ECORRUPT);
        CHECK_CONTAINS(err.msg, p);
        CHECK_CONTAINS(err.msg, "at byte 28");
        fp = fopen(p, "w");
        fputs("DOC 5 x\nhello\n", fp);
        fclose(fp);
        CHECK_EQ_INT(bmx_corpus_docs_load(p, &d, &err), BMX_ECORRUPT);
        CHECK_CONTAINS(err.msg, "not a bmx corpus text file");
    }
    free(lb);
}

static void test_manifest_tokens(void)
{
    char scripts[256], dir[256], man[256];
    bmx_corpus_result res;
    struct logbuf *lb = calloc(1, sizeof *lb);
    bmx_err err = {0};
    static const char *dom[] = {"mf"};
    bmx_corpus_entry *e;
    size_t n;
    bmx_corpus_tokens t = {"mf", BMX_SPLIT_TRAIN, 1234, "mf/train.bin", 0xdeadbeef};
    char *text = calloc(1, 65536);
    FILE *f;

    snprintf(scripts, sizeof scripts, "%s/scripts", tmpdir());
    write_script(scripts, "mf",
                 "echo 'PKG deb mf-src 1:2.3-4 GPL-2+ and LGPL-2.1'\n"
                 "for i in $(seq 1 30); do doc \"f$i\" \"manifest test document number $i, "
                 "long enough\"; done\n");
    CHECK_MSG(build("mf", dom, 1, 1 << 20, &res, lb, &err) == 0, "%s", err.msg);
    snprintf(dir, sizeof dir, "%s/mf", tmpdir());
    CHECK_MSG(bmx_corpus_manifest_list(dir, &e, &n, &err) == 0, "%s", err.msg);
    CHECK_EQ_INT(n, 3);
    CHECK_EQ_STR(e[0].domain, "mf");
    CHECK_EQ_STR(e[0].file, "mf/train.txt");
    CHECK_EQ_INT(e[0].split, BMX_SPLIT_TRAIN);
    CHECK_EQ_INT(e[0].documents + e[1].documents + e[2].documents, 30);
    {
        char p[256];
        bmx_corpus_docs *d;
        snprintf(p, sizeof p, "%s/%s", dir, e[1].file);
        CHECK_EQ_INT(bmx_corpus_docs_load(p, &d, &err), 0);
        CHECK_EQ_INT(d->crc32, e[1].crc32);
        CHECK_EQ_INT(d->n, e[1].documents);
        bmx_corpus_docs_free(d);
    }
    free(e);
    CHECK_MSG(bmx_corpus_manifest_set_tokens(dir, "test-vocab", 300, &t, 1, &err) == 0, "%s",
              err.msg);
    snprintf(man, sizeof man, "%s/manifest.json", dir);
    f = fopen(man, "r");
    CHECK(fread(text, 1, 65535, f) > 0);
    fclose(f);
    CHECK_CONTAINS(text, "\"tokens\": 1234,\n          \"shard\": {\n            \"file\": "
                         "\"mf/train.bin\",\n            \"crc32\": \"deadbeef\"");
    CHECK_CONTAINS(text,
                   "\"tokenizer\": {\n    \"name\": \"test-vocab\",\n    \"vocab_size\": 300");
    CHECK_CONTAINS(text,
                   "\"version\": \"1:2.3-4\",\n          \"licence\": \"GPL-2+ and LGPL-2.1\"");
    t.domain = "nope";
    CHECK_EQ_INT(bmx_corpus_manifest_set_tokens(dir, "v", 300, &t, 1, &err), BMX_EINVAL);
    CHECK_CONTAINS(err.msg, "no domain nope");
    /* a damaged manifest is refused with its name */
    f = fopen(man, "w");
    fputs("{\"format\": \"bmx-corpus\", \"version\": 1, \"domains\": {", f);
    fclose(f);
    CHECK_EQ_INT(bmx_corpus_manifest_list(dir, &e, &n, &err), BMX_ECORRUPT);
    CHECK_CONTAINS(err.msg, man);
    free(text);
    free(lb);
}

/* Issue 11 item 2: a split entry whose file, documents, bytes or crc32 is missing or of the
 * wrong type is refused with a message naming the manifest, the domain, the split and the
 * field (it read the domain's name from the freed JSON tree: a use-after-free under ASan). */
static void test_manifest_bad_fields(void)
{
    static const struct {
        const char *dir, *what;
    } cases[] = {
        {"manifest-file-null", "\"file\" is missing or not a non-empty string"},
        {"manifest-documents-missing", "\"documents\" is missing"},
        {"manifest-bytes-string", "\"bytes\" is missing or not a non-negative integer"},
        {"manifest-crc32-number", "\"crc32\" is missing or not 8 hexadecimal digits"},
        {"manifest-crc32-not-hex", "\"crc32\" is missing or not 8 hexadecimal digits"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char dir[256];
        bmx_corpus_entry *e = (bmx_corpus_entry *)&e;
        size_t n = 7;
        bmx_err err = {0};
        snprintf(dir, sizeof dir, "tests/fixtures/hostile/%s", cases[i].dir);
        CHECK_EQ_INT(bmx_corpus_manifest_list(dir, &e, &n, &err), BMX_ECORRUPT);
        CHECK(e == NULL && n == 0);
        CHECK_CONTAINS(err.msg, dir);
        CHECK_CONTAINS(err.msg, "domain \"web\", split train");
        CHECK_CONTAINS(err.msg, cases[i].what);
    }
}

static void test_bad_options(void)
{
    bmx_corpus_result res;
    struct logbuf *lb = calloc(1, sizeof *lb);
    bmx_err err = {0};
    static const char *bad[] = {"../etc"}, *twice[] = {"a", "a"};

    CHECK_EQ_INT(build("opt", bad, 1, 1000, &res, lb, &err), BMX_EINVAL);
    CHECK_CONTAINS(err.msg, "bad domain name '../etc'");
    CHECK_EQ_INT(build("opt", twice, 2, 1000, &res, lb, &err), BMX_EINVAL);
    CHECK_CONTAINS(err.msg, "listed twice");
    CHECK_EQ_INT(build("opt", twice, 1, 0, &res, lb, &err), BMX_EINVAL);
    free(lb);
}

/* bmx_corpus_domains: the built-in order, a domains.txt that replaces it, a list kept in the
 * fixed order, and the errors. */
static void test_domains_order(void)
{
    const char *names[8];
    char store[256], dir[200], path[260];
    bmx_err err = {0};
    int n = -1;
    FILE *f;

    snprintf(dir, sizeof dir, "%s/domains-none", check_tmpdir("corpus_domains"));
    CHECK(bmx_corpus_domains(dir, NULL, names, 8, store, sizeof store, &n, &err) == 0);
    CHECK_EQ_INT(n, 8); /* the first 8 of the 19 built-in ones */
    CHECK_EQ_STR(names[0], "c-code");
    CHECK_EQ_STR(names[7], "man-pages");
    CHECK(bmx_corpus_domains(dir, "man-pages,c-code", names, 8, store, sizeof store, &n, &err) ==
          0);
    CHECK(n == 2 && !strcmp(names[0], "c-code") && !strcmp(names[1], "man-pages"));
    snprintf(dir, sizeof dir, "%s", check_tmpdir("corpus_domains"));
    snprintf(path, sizeof path, "%s/domains.txt", dir);
    CHECK((f = fopen(path, "w")) != NULL);
    fputs("# order\nzeta  \n\nalpha # the second\nmid\n", f);
    fclose(f);
    CHECK(bmx_corpus_domains(dir, "mid,zeta", names, 8, store, sizeof store, &n, &err) == 0);
    CHECK(n == 2 && !strcmp(names[0], "zeta") && !strcmp(names[1], "mid"));
    CHECK_EQ_INT(bmx_corpus_domains(dir, "mid,beta", names, 8, store, sizeof store, &n, &err),
                 BMX_EINVAL);
    CHECK_CONTAINS(err.msg, "unknown domain 'beta'; the domains are: zeta,alpha,mid");
    CHECK_EQ_INT(bmx_corpus_domains(dir, ",", names, 8, store, sizeof store, &n, &err), BMX_EINVAL);
    CHECK_CONTAINS(err.msg, "names no domain");
    CHECK_EQ_INT(bmx_corpus_domains(dir, NULL, names, 2, store, sizeof store, &n, &err),
                 BMX_EINVAL);
    CHECK_CONTAINS(err.msg, "domains.txt is empty or too long (at most 2 names)");
}

int main(int argc, char **argv)
{
    static const struct check_case cases[] = {
        {"normalize_valid", test_normalize_valid},
        {"normalize_line_ends_nul_bom", test_normalize_line_ends_nul_bom},
        {"normalize_invalid", test_normalize_invalid},
        {"normalize_stats", test_normalize_stats},
        {"classify", test_classify},
        {"hash_vectors", test_hash_vectors},
        {"split_rule", test_split_rule},
        {"parse_domains", test_parse_domains},
        {"preset", test_preset},
        {"build_dedup_across_domains", test_build_dedup_across_domains},
        {"split_stable_when_docs_added", test_split_stable_when_docs_added},
        {"stream_unknown_record", test_stream_unknown_record},
        {"stream_bad_doc_header", test_stream_bad_doc_header},
        {"stream_truncated", test_stream_truncated},
        {"stream_no_newline_after_doc", test_stream_no_newline_after_doc},
        {"stream_bad_pkg", test_stream_bad_pkg},
        {"extractor_failure_reported", test_extractor_failure_reported},
        {"empty_domain_fails", test_empty_domain_fails},
        {"missing_script", test_missing_script},
        {"normalised_and_capped", test_normalised_and_capped},
        {"manifest_tokens", test_manifest_tokens},
        {"manifest_bad_fields", test_manifest_bad_fields},
        {"bad_options", test_bad_options},
        {"domains_order", test_domains_order},
        {0},
    };
    int rc = check_main(argc, argv, cases);
    return rc;
}
