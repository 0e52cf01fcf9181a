/* The vocabulary: building it from merges, accessors, the versioned file, GPT-2's files. */
#include "tok_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOK_MAGIC     "BMXTOK\r\n"
#define TOK_VERSION   1u
#define TOK_MAX_VOCAB (1u << 24)
/* No real vocabulary comes near these: GPT-2's longest token is 128 bytes and all its
 * tokens together take about 0.4 MB; encoder.json and vocab.bpe are about 1 MB each. */
#define TOK_MAX_TOKEN_LEN (64u << 10)
#define TOK_MAX_TOTAL     ((uint64_t)256 << 20)
#define GPT2_FILE_MAX     ((size_t)256 << 20)

/* Token lengths (t->tok_off[id + 1] holds the length of id), checking each id once: the
 * bytes' ids and the end-of-text id distinct and in range, each merge joining ids defined
 * before it into a new one, no token or total length past what a real vocabulary needs.
 * Returns 0 or BMX_ECORRUPT (err set). */
static int token_lengths(bmx_tok *t, const uint32_t byte_id[256], const uint32_t *merges,
                         unsigned char *seen, const char *what, bmx_err *err)
{
    uint32_t vocab_size = t->vocab_size, eot = t->eot;
    uint64_t total = 0;
    for (int b = 0; b < 256; b++) {
        uint32_t id = byte_id[b];
        if (id >= vocab_size || seen[id])
            return bmx_err_set(err, BMX_ECORRUPT,
                               "%s: byte %d has id %u, out of range or used twice", what, b, id);
        seen[id] = 1;
        t->tok_off[id + 1] = 1;
    }
    if (eot >= vocab_size || seen[eot])
        return bmx_err_set(err, BMX_ECORRUPT, "%s: end-of-text id %u out of range or a byte's id",
                           what, eot);
    for (uint32_t r = 0; r < t->n_merges; r++) {
        uint32_t a = merges[3 * r], b = merges[3 * r + 1], c = merges[3 * r + 2];
        if (a >= vocab_size || b >= vocab_size || !seen[a] || !seen[b] || a == eot || b == eot)
            return bmx_err_set(err, BMX_ECORRUPT,
                               "%s: merge %u joins ids %u and %u, not both defined before it", what,
                               r, a, b);
        if (c >= vocab_size || seen[c] || c == eot)
            return bmx_err_set(err, BMX_ECORRUPT,
                               "%s: merge %u gives id %u, out of range or used twice", what, r, c);
        seen[c] = 1;
        /* lengths are at most TOK_MAX_TOKEN_LEN, so the sum cannot wrap */
        t->tok_off[c + 1] = t->tok_off[a + 1] + t->tok_off[b + 1];
        if (t->tok_off[c + 1] > TOK_MAX_TOKEN_LEN)
            return bmx_err_set(err, BMX_ECORRUPT,
                               "%s: merge %u makes a token of %llu bytes, more than the %u any "
                               "real vocabulary needs (a crafted or corrupt file)",
                               what, r, (unsigned long long)t->tok_off[c + 1], TOK_MAX_TOKEN_LEN);
        total += t->tok_off[c + 1];
        if (total > TOK_MAX_TOTAL)
            return bmx_err_set(err, BMX_ECORRUPT,
                               "%s: at merge %u the tokens take %llu bytes together, more than "
                               "the %llu any real vocabulary needs (a crafted or corrupt file)",
                               what, r, (unsigned long long)total,
                               (unsigned long long)TOK_MAX_TOTAL);
    }
    return 0;
}

/* Lengths into offsets, then every token's bytes: a byte's own, a merge's the bytes of its
 * two parts. Returns 0 or BMX_ENOMEM. */
static int token_bytes(bmx_tok *t, const uint32_t byte_id[256], const uint32_t *merges)
{
    uint64_t total = 0;
    for (uint32_t i = 0; i < t->vocab_size; i++)
        total += t->tok_off[i + 1], t->tok_off[i + 1] = total;
    t->tok_bytes = malloc(total ? total : 1);
    if (!t->tok_bytes)
        return BMX_ENOMEM;
    for (int b = 0; b < 256; b++)
        t->tok_bytes[t->tok_off[byte_id[b]]] = (unsigned char)b;
    for (uint32_t r = 0; r < t->n_merges; r++) {
        uint32_t a = merges[3 * r], b = merges[3 * r + 1], c = merges[3 * r + 2];
        uint64_t la = t->tok_off[a + 1] - t->tok_off[a];
        memcpy(t->tok_bytes + t->tok_off[c], t->tok_bytes + t->tok_off[a], la);
        memcpy(t->tok_bytes + t->tok_off[c] + la, t->tok_bytes + t->tok_off[b],
               t->tok_off[b + 1] - t->tok_off[b]);
    }
    return 0;
}

/* The rank map, pair -> (rank, result), at most half full. Returns 0, BMX_ENOMEM, or
 * BMX_ECORRUPT (err set) for a pair merged twice. */
static int rank_map(bmx_tok *t, const uint32_t *merges, const char *what, bmx_err *err)
{
    uint64_t cap;
    for (cap = 16, t->rm_shift = 60; cap < 2 * (uint64_t)t->n_merges + 2; cap *= 2)
        t->rm_shift--;
    t->rm_mask = cap - 1;
    t->rm = malloc(cap * sizeof *t->rm);
    if (!t->rm)
        return BMX_ENOMEM;
    memset(t->rm, 0xFF, cap * sizeof *t->rm);
    for (uint32_t r = 0; r < t->n_merges; r++) {
        uint64_t key = (uint64_t)merges[3 * r] << 32 | merges[3 * r + 1];
        uint64_t i = (key * 0x9E3779B97F4A7C15ull) >> t->rm_shift;
        while (t->rm[i].key != UINT64_MAX && t->rm[i].key != key)
            i = (i + 1) & t->rm_mask;
        if (t->rm[i].key == key)
            return bmx_err_set(err, BMX_ECORRUPT, "%s: merge %u repeats the pair %u %u", what, r,
                               merges[3 * r], merges[3 * r + 1]);
        t->rm[i].key = key;
        t->rm[i].val = (uint64_t)r << 32 | merges[3 * r + 2];
    }
    return 0;
}

int bmx_tok_build(bmx_tok **out, const uint32_t byte_id[256], const uint32_t *merges,
                  uint32_t n_merges, uint32_t eot, uint32_t vocab_size, const char *what,
                  bmx_err *err)
{
    bmx_tok *t = NULL;
    unsigned char *seen = NULL;
    int rc = BMX_ENOMEM;

    *out = NULL;
    if (vocab_size > TOK_MAX_VOCAB || (uint64_t)n_merges + 257 != vocab_size)
        return bmx_err_set(err, BMX_ECORRUPT,
                           "%s: vocabulary size %u does not equal 256 bytes + %u merges + 1 "
                           "end-of-text (at most %u ids)",
                           what, vocab_size, n_merges, TOK_MAX_VOCAB);
    seen = calloc(vocab_size, 1);
    t = calloc(1, sizeof *t);
    if (!seen || !t)
        goto fail;
    t->vocab_size = vocab_size;
    t->n_merges = n_merges;
    t->eot = eot;
    memcpy(t->byte_id, byte_id, sizeof t->byte_id);
    t->merges = malloc(((size_t)n_merges * 3 + 1) * sizeof *t->merges);
    t->tok_off = calloc((size_t)vocab_size + 1, sizeof *t->tok_off);
    if (!t->merges || !t->tok_off)
        goto fail;
    if (n_merges)
        memcpy(t->merges, merges, (size_t)n_merges * 3 * sizeof *merges);
    if ((rc = token_lengths(t, byte_id, merges, seen, what, err)) ||
        (rc = token_bytes(t, byte_id, merges)) || (rc = rank_map(t, merges, what, err)))
        goto fail;
    free(seen);
    *out = t;
    return BMX_OK;
fail:
    if (rc == BMX_ENOMEM)
        bmx_err_set(err, rc, "%s: out of memory building the vocabulary", what);
    free(seen);
    bmx_tok_free(t);
    return rc;
}

void bmx_tok_free(bmx_tok *t)
{
    if (!t)
        return;
    free(t->merges);
    free(t->tok_off);
    free(t->tok_bytes);
    free(t->rm);
    free(t);
}

uint32_t bmx_tok_vocab_size(const bmx_tok *t)
{
    return t->vocab_size;
}
uint32_t bmx_tok_eot(const bmx_tok *t)
{
    return t->eot;
}
uint32_t bmx_tok_num_merges(const bmx_tok *t)
{
    return t->n_merges;
}

uint32_t bmx_tok_merge(const bmx_tok *t, uint32_t rank, uint32_t *left, uint32_t *right)
{
    *left = t->merges[3 * rank];
    *right = t->merges[3 * rank + 1];
    return t->merges[3 * rank + 2];
}

const unsigned char *bmx_tok_token_bytes(const bmx_tok *t, uint32_t id, size_t *len)
{
    if (id >= t->vocab_size) {
        *len = 0;
        return NULL;
    }
    *len = (size_t)(t->tok_off[id + 1] - t->tok_off[id]);
    return t->tok_bytes + t->tok_off[id];
}

/* ---- the vocabulary file ----
 * offset size
 *   0     8   magic "BMXTOK\r\n"
 *   8     4   version (1), little-endian like every integer here
 *  12     4   vocab_size
 *  16     4   n_merges
 *  20     4   eot id
 *  24  1024   byte_id[256]
 * 1048 12*n   merges: left, right, result
 *  end    4   CRC-32 of every byte before it
 */
#define TOK_HDR 1048

int bmx_tok_save(const bmx_tok *t, const char *path, bmx_err *err)
{
    size_t size = TOK_HDR + (size_t)t->n_merges * 12 + 4, off = TOK_HDR;
    unsigned char *buf = malloc(size);

    if (!buf)
        return bmx_err_set(err, BMX_ENOMEM, "%s: out of memory", path);
    memcpy(buf, TOK_MAGIC, 8);
    bmx_le_put32(buf + 8, TOK_VERSION);
    bmx_le_put32(buf + 12, t->vocab_size);
    bmx_le_put32(buf + 16, t->n_merges);
    bmx_le_put32(buf + 20, t->eot);
    for (int b = 0; b < 256; b++)
        bmx_le_put32(buf + 24 + 4 * b, t->byte_id[b]);
    for (size_t i = 0; i < (size_t)t->n_merges * 3; i++, off += 4)
        bmx_le_put32(buf + off, t->merges[i]);
    bmx_le_put32(buf + off, bmx_crc32(0, buf, off));
    int rc = bmx_file_write_atomic(path, buf, size, err);
    free(buf);
    return rc;
}

/* Read a whole file (a regular file of at most max bytes); *size its length. */
static int read_file(const char *path, size_t max, unsigned char **data, size_t *size, bmx_err *err)
{
    return bmx_file_read_all(path, max, (char **)data, size, err);
}

int bmx_tok_load(bmx_tok **out, const char *path, bmx_err *err)
{
    unsigned char *d;
    size_t size;
    uint32_t version, vocab, nm, eot, byte_id[256], *merges;
    int rc;

    *out = NULL;
    if ((rc = read_file(path, TOK_HDR + (size_t)TOK_MAX_VOCAB * 12 + 4, &d, &size, err)) < 0)
        return rc;
    rc = BMX_ECORRUPT;
    if (size < 8 || memcmp(d, TOK_MAGIC, 8) != 0) {
        bmx_err_set(err, rc,
                    "%s: not a bmx vocabulary file (bad magic); make one with 'bmx tok "
                    "train'",
                    path);
        goto done;
    }
    if (size < TOK_HDR + 4) {
        bmx_err_set(err, rc, "%s: truncated vocabulary file (%zu bytes)", path, size);
        goto done;
    }
    version = bmx_le_get32(d + 8);
    vocab = bmx_le_get32(d + 12);
    nm = bmx_le_get32(d + 16);
    eot = bmx_le_get32(d + 20);
    if (version != TOK_VERSION) {
        bmx_err_set(err, rc,
                    "%s: vocabulary file version %u, this bmx reads version %u; "
                    "retrain it with 'bmx tok train'",
                    path, version, TOK_VERSION);
        goto done;
    }
    if (nm > TOK_MAX_VOCAB || size != TOK_HDR + (size_t)nm * 12 + 4) {
        bmx_err_set(err, rc,
                    "%s: size %zu bytes does not match its %u merges (truncated or "
                    "corrupt)",
                    path, size, nm);
        goto done;
    }
    if (bmx_le_get32(d + size - 4) != bmx_crc32(0, d, size - 4)) {
        bmx_err_set(err, rc, "%s: checksum mismatch (corrupt file)", path);
        goto done;
    }
    for (int b = 0; b < 256; b++)
        byte_id[b] = bmx_le_get32(d + 24 + 4 * b);
    merges = malloc(((size_t)nm * 3 + 1) * sizeof *merges);
    if (!merges) {
        rc = bmx_err_set(err, BMX_ENOMEM, "%s: out of memory", path);
        goto done;
    }
    for (size_t i = 0; i < (size_t)nm * 3; i++)
        merges[i] = bmx_le_get32(d + TOK_HDR + 4 * i);
    rc = bmx_tok_build(out, byte_id, merges, nm, eot, vocab, path, err);
    free(merges);
done:
    free(d);
    return rc;
}

/* ---- GPT-2's encoder.json + vocab.bpe ---- */

/* GPT-2 shows each byte as one printable code point: the bytes that are printable already
 * keep their value, the others take 256, 257, ... in byte order. */
static void gpt2_byte_chars(uint32_t cp_of[256])
{
    int n = 0;
    for (int b = 0; b < 256; b++) {
        int printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174);
        cp_of[b] = printable ? (uint32_t)b : (uint32_t)(256 + n++);
    }
}

/* Key strings of the vocabulary as raw bytes, in a sorted table for lookup. */
struct strtab {
    unsigned char *bytes;
    size_t len, cap;
    struct ent {
        size_t off, len;
        uint32_t id;
    } * e;
    size_t n, ecap;
};

static int ent_cmp_data(const unsigned char *base, const struct ent *a, const unsigned char *k,
                        size_t klen)
{
    size_t m = a->len < klen ? a->len : klen;
    int c = memcmp(base + a->off, k, m);
    return c ? c : (a->len < klen ? -1 : a->len > klen);
}

static int ent_cmp(const void *x, const void *y, void *base)
{
    const struct ent *a = x, *b = y;
    return ent_cmp_data(base, a, (const unsigned char *)base + b->off, b->len);
}

static int strtab_find(const struct strtab *st, const unsigned char *k, size_t klen, uint32_t *id)
{
    size_t lo = 0, hi = st->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = ent_cmp_data(st->bytes, &st->e[mid], k, klen);
        if (c == 0) {
            *id = st->e[mid].id;
            return 1;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

static int push_bytes(struct strtab *st, const unsigned char *p, size_t n)
{
    if (n == 0)
        return 0;
    if (tok_reserve(&st->bytes, &st->cap, st->len + n, 1 << 16) < 0)
        return -1;
    memcpy(st->bytes + st->len, p, n);
    st->len += n;
    return 0;
}

/* Decode one UTF-8 code point from s (returns its length, 0 if invalid). */
static size_t utf8_dec(const unsigned char *s, size_t n, uint32_t *cp)
{
    size_t u;
    if (n == 0)
        return 0;
    if (tok_unit(s, n, 0, &u) < 0)
        return 0;
    if (u == 1) {
        if (s[0] >= 0x80)
            return 0;
        *cp = s[0];
        return 1;
    }
    *cp = s[0] & (0xFF >> (u + 1));
    for (size_t k = 1; k < u; k++)
        *cp = *cp << 6 | (s[k] & 0x3F);
    return u;
}

/* Map GPT-2's display code points back to bytes. Returns 0 on success. */
static int unshow(const uint32_t *cps, size_t ncp, const uint32_t cp_of[256], unsigned char *out)
{
    for (size_t i = 0; i < ncp; i++) {
        uint32_t c = cps[i];
        int b;
        if (c < 256 && cp_of[c] == c)
            b = (int)c;
        else {
            for (b = 0; b < 256 && cp_of[b] != c; b++)
                ;
            if (b == 256)
                return -1;
        }
        out[i] = (unsigned char)b;
    }
    return 0;
}

/* Parse a JSON string starting after its opening quote; code points into cps (cap ncap).
 * Returns the position after the closing quote, or 0 on error. */
static size_t json_string(const unsigned char *s, size_t n, size_t i, uint32_t *cps, size_t ncap,
                          size_t *ncp)
{
    size_t k = 0;
    while (i < n && s[i] != '"') {
        uint32_t cp;
        if (k >= ncap)
            return 0;
        if (s[i] == '\\') {
            if (i + 1 >= n)
                return 0;
            char e = (char)s[i + 1];
            i += 2;
            switch (e) {
            case '"':
                cp = '"';
                break;
            case '\\':
                cp = '\\';
                break;
            case '/':
                cp = '/';
                break;
            case 'b':
                cp = 8;
                break;
            case 'f':
                cp = 12;
                break;
            case 'n':
                cp = 10;
                break;
            case 'r':
                cp = 13;
                break;
            case 't':
                cp = 9;
                break;
            case 'u': {
                uint32_t v = 0;
                if (i + 4 > n)
                    return 0;
                for (int q = 0; q < 4; q++) {
                    int c = s[i + q], d;
                    if (c >= '0' && c <= '9')
                        d = c - '0';
                    else if (c >= 'a' && c <= 'f')
                        d = c - 'a' + 10;
                    else if (c >= 'A' && c <= 'F')
                        d = c - 'A' + 10;
                    else
                        return 0;
                    v = v << 4 | (uint32_t)d;
                }
                i += 4;
                cp = v; /* GPT-2's keys use no surrogate pairs */
                break;
            }
            default:
                return 0;
            }
        } else {
            size_t u = utf8_dec(s + i, n - i, &cp);
            if (!u)
                return 0;
            i += u;
        }
        cps[k++] = cp;
    }
    if (i >= n)
        return 0;
    *ncp = k;
    return i + 1;
}

static size_t skip_ws(const unsigned char *s, size_t n, size_t i)
{
    while (i < n && (s[i] == ' ' || s[i] == '\n' || s[i] == '\r' || s[i] == '\t'))
        i++;
    return i;
}

#define MAX_KEY 1024

static int parse_encoder(const char *path, const unsigned char *s, size_t n,
                         const uint32_t cp_of[256], struct strtab *st, uint32_t *eot, bmx_err *err)
{
    uint32_t cps[MAX_KEY];
    unsigned char kb[MAX_KEY];
    size_t i = skip_ws(s, n, 0), ncp;
    int have_eot = 0;

    if (i >= n || s[i] != '{')
        return bmx_err_set(err, BMX_ECORRUPT, "%s: not a JSON object (encoder.json expected)",
                           path);
    i = skip_ws(s, n, i + 1);
    while (i < n && s[i] != '}') {
        uint64_t v = 0;
        size_t start;
        if (s[i] != '"' || !(i = json_string(s, n, i + 1, cps, MAX_KEY, &ncp)))
            return bmx_err_set(err, BMX_ECORRUPT, "%s: bad key string near byte %zu", path, i);
        i = skip_ws(s, n, i);
        if (i >= n || s[i] != ':')
            return bmx_err_set(err, BMX_ECORRUPT, "%s: ':' expected at byte %zu", path, i);
        i = start = skip_ws(s, n, i + 1);
        while (i < n && s[i] >= '0' && s[i] <= '9' && v <= TOK_MAX_VOCAB)
            v = v * 10 + (uint64_t)(s[i++] - '0');
        if (i == start || v >= TOK_MAX_VOCAB)
            return bmx_err_set(err, BMX_ECORRUPT, "%s: bad id near byte %zu", path, start);
        if (st->n == st->ecap) {
            size_t nc = st->ecap ? st->ecap * 2 : 1024;
            struct ent *ne = realloc(st->e, nc * sizeof *ne);
            if (!ne)
                return bmx_err_set(err, BMX_ENOMEM, "%s: out of memory", path);
            st->e = ne;
            st->ecap = nc;
        }
        if (ncp == 0)
            return bmx_err_set(err, BMX_ECORRUPT, "%s: empty key near byte %zu", path, start);
        if (ncp == 13 && cps[0] == '<' && cps[1] == '|' && cps[12] == '>') {
            /* <|endoftext|>: a special token, not a byte string */
            *eot = (uint32_t)v;
            have_eot = 1;
        } else {
            if (unshow(cps, ncp, cp_of, kb) < 0)
                return bmx_err_set(err, BMX_ECORRUPT,
                                   "%s: key near byte %zu is not in GPT-2's byte alphabet", path,
                                   start);
            st->e[st->n].off = st->len;
            st->e[st->n].len = ncp;
            st->e[st->n].id = (uint32_t)v;
            st->n++;
            if (push_bytes(st, kb, ncp) < 0)
                return bmx_err_set(err, BMX_ENOMEM, "%s: out of memory", path);
        }
        i = skip_ws(s, n, i);
        if (i < n && s[i] == ',')
            i = skip_ws(s, n, i + 1);
    }
    if (i >= n)
        return bmx_err_set(err, BMX_ECORRUPT, "%s: truncated JSON (no closing '}')", path);
    if (!have_eot)
        return bmx_err_set(err, BMX_ECORRUPT, "%s: no <|endoftext|> entry", path);
    qsort_r(st->e, st->n, sizeof *st->e, ent_cmp, st->bytes);
    for (size_t k = 1; k < st->n; k++)
        if (ent_cmp_data(st->bytes, &st->e[k - 1], st->bytes + st->e[k].off, st->e[k].len) == 0)
            return bmx_err_set(err, BMX_ECORRUPT, "%s: a key appears twice", path);
    return BMX_OK;
}

/* Code points of a token in vocab.bpe (UTF-8 text) turned into bytes. */
static int bpe_token(const unsigned char *s, size_t n, const uint32_t cp_of[256],
                     unsigned char *out, size_t *olen)
{
    uint32_t cps[MAX_KEY];
    size_t k = 0, i = 0;
    while (i < n) {
        size_t u;
        if (k >= MAX_KEY || !(u = utf8_dec(s + i, n - i, &cps[k])))
            return -1;
        i += u;
        k++;
    }
    *olen = k;
    return unshow(cps, k, cp_of, out);
}

int bmx_tok_load_gpt2(bmx_tok **out, const char *encoder_json, const char *vocab_bpe, bmx_err *err)
{
    struct strtab st = {0};
    unsigned char *ej = NULL, *vb = NULL;
    size_t ejn, vbn, nm = 0, mcap = 0, i;
    uint32_t cp_of[256], byte_id[256], eot = 0, *merges = NULL;
    unsigned long line = 1;
    int rc;

    *out = NULL;
    gpt2_byte_chars(cp_of);
    if ((rc = read_file(encoder_json, GPT2_FILE_MAX, &ej, &ejn, err)) < 0 ||
        (rc = read_file(vocab_bpe, GPT2_FILE_MAX, &vb, &vbn, err)) < 0 ||
        (rc = parse_encoder(encoder_json, ej, ejn, cp_of, &st, &eot, err)) < 0)
        goto done;
    rc = BMX_ECORRUPT;
    for (int b = 0; b < 256; b++) {
        unsigned char c = (unsigned char)b;
        if (!strtab_find(&st, &c, 1, &byte_id[b])) {
            bmx_err_set(err, rc, "%s: byte %d has no entry", encoder_json, b);
            goto done;
        }
    }
    /* vocab.bpe: "#version..." then one "LEFT RIGHT" per line */
    i = 0;
    while (i < vbn) {
        size_t e = i, sp;
        unsigned char lb[MAX_KEY], rb[MAX_KEY], jb[2 * MAX_KEY];
        size_t ll, rl;
        uint32_t a, b, c;
        while (e < vbn && vb[e] != '\n')
            e++;
        if (e > i && vb[e - 1] == '\r')
            e--;
        if (e == i || (line == 1 && vb[i] == '#'))
            goto next;
        for (sp = i; sp < e && vb[sp] != ' '; sp++)
            ;
        if (sp == e || bpe_token(vb + i, sp - i, cp_of, lb, &ll) < 0 ||
            bpe_token(vb + sp + 1, e - sp - 1, cp_of, rb, &rl) < 0) {
            bmx_err_set(err, rc, "%s:%lu: not a 'LEFT RIGHT' merge line", vocab_bpe, line);
            goto done;
        }
        memcpy(jb, lb, ll);
        memcpy(jb + ll, rb, rl);
        if (!strtab_find(&st, lb, ll, &a) || !strtab_find(&st, rb, rl, &b) ||
            !strtab_find(&st, jb, ll + rl, &c)) {
            bmx_err_set(err, rc, "%s:%lu: merge names a token missing from %s", vocab_bpe, line,
                        encoder_json);
            goto done;
        }
        if (nm == mcap) {
            uint32_t *nmg;
            mcap = mcap ? mcap * 2 : 1024;
            nmg = realloc(merges, mcap * 3 * sizeof *merges);
            if (!nmg) {
                rc = bmx_err_set(err, BMX_ENOMEM, "%s: out of memory", vocab_bpe);
                goto done;
            }
            merges = nmg;
        }
        merges[3 * nm] = a, merges[3 * nm + 1] = b, merges[3 * nm + 2] = c;
        nm++;
    next:
        while (i < vbn && vb[i] != '\n')
            i++;
        i++;
        line++;
    }
    if (st.n + 1 != nm + 257) {
        bmx_err_set(err, rc,
                    "%s has %zu entries but %s has %zu merges (want entries = 256 + "
                    "merges + 1)",
                    encoder_json, st.n + 1, vocab_bpe, nm);
        goto done;
    }
    rc = bmx_tok_build(out, byte_id, merges, (uint32_t)nm, eot, (uint32_t)(st.n + 1), vocab_bpe,
                       err);
done:
    free(ej);
    free(vb);
    free(st.bytes);
    free(st.e);
    free(merges);
    return rc;
}
