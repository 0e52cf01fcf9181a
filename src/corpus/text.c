/* Document normalisation, classification, hashing and the split rule (bmx/corpus.h). */
#include "bmx/corpus.h"
#include "corpus_int.h"

#include <stdint.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#include <stdlib.h>
#include <string.h>

const char *bmx_corpus_split_name(int split)
{
    static const char *names[] = {"train", "val", "test"};
    return split >= 0 && split < BMX_NSPLITS ? names[split] : "?";
}

/* Length of the valid UTF-8 sequence at p (1..4), or 0 when it is ill-formed; *sub gets the
 * length of the maximal ill-formed subpart (>= 1) in that case. */
static size_t utf8_seq(const unsigned char *p, size_t n, size_t *sub, unsigned *cp)
{
    unsigned c = p[0], lo = 0x80, hi = 0xBF, need, v;
    size_t i;

    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF) {
        need = 1;
        v = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 2;
        v = c & 0x0F;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 3;
        v = c & 0x07;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else {
        *sub = 1;
        return 0;
    }
    for (i = 1; i <= need; i++) {
        unsigned b;
        if (i >= n) {
            *sub = i;
            return 0;
        }
        b = p[i];
        if (i == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xBF)) {
            *sub = i;
            return 0;
        }
        v = (v << 6) | (b & 0x3F);
    }
    *cp = v;
    return need + 1;
}

static int is_control(unsigned cp)
{
    if (cp < 0x20)
        return cp != '\t' && cp != '\n' && cp != '\r' && cp != '\f';
    return cp == 0x7F || (cp >= 0x80 && cp < 0xA0);
}

static int is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

#define FNV_OFFSET 0xcbf29ce484222325ull
#define FNV_PRIME  0x100000001b3ull
#define ONES       0x0101010101010101ull
#define HIGHS      0x8080808080808080ull

/* Whether all 8 bytes of w are printable ASCII (0x20..0x7E). */
static inline int all_printable(uint64_t w)
{
    uint64_t below = (w - 0x20 * ONES) & ~w & HIGHS; /* some byte < 0x20 */
    uint64_t above = ((w + ONES) | w) & HIGHS;       /* some byte >= 0x7F */
    return !(below | above);
}

/* The number of bytes of w equal to ' '. */
static inline int spaces(uint64_t w)
{
    uint64_t x = w ^ (0x20 * ONES);
    uint64_t z = ~(((x & ~HIGHS) + ~HIGHS) | x | ~HIGHS); /* 0x80 in each zero byte */
    return __builtin_popcountll(z);
}

/* The normalisation, and (want_hash) the FNV-1a 64 of its output computed on the way:
 * the hash's multiply chain then overlaps the rest of the work. */
static inline __attribute__((always_inline)) size_t normalize(const void *in, size_t n, void *out,
                                                              bmx_corpus_norm_stats *st,
                                                              uint64_t *hash, int want_hash)
{
    const unsigned char *p = in;
    unsigned char *o = out;
    size_t i = 0, k = 0;
    bmx_corpus_norm_stats s = {0, 0, 0, 0};
    uint64_t h = FNV_OFFSET;

    if (n >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF) {
        i = 3;
        s.chars = 1;
    }
    while (i < n) {
        size_t sub = 0, len;
        unsigned cp = 0;

        /* fast paths for printable ASCII: 16 bytes at a time (SSE2), 8, then one */
#ifdef __SSE2__
        if (i + 16 <= n) {
            __m128i v = _mm_loadu_si128((const __m128i *)(p + i));
            /* signed: bytes >= 0x80 are negative, so "< 0x20" catches them too */
            __m128i bad = _mm_or_si128(_mm_cmplt_epi8(v, _mm_set1_epi8(0x20)),
                                       _mm_cmpeq_epi8(v, _mm_set1_epi8(0x7F)));
            if (_mm_movemask_epi8(bad) == 0) {
                int sp = __builtin_popcount(
                    (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(' '))));
                _mm_storeu_si128((__m128i *)(o + k), v);
                if (want_hash)
                    for (int b = 0; b < 16; b++)
                        h = (h ^ p[i + b]) * FNV_PRIME;
                s.chars += 16;
                s.nonspace += 16 - (size_t)sp;
                i += 16;
                k += 16;
                continue;
            }
        }
#endif
        if (i + 8 <= n) {
            uint64_t w;
            memcpy(&w, p + i, 8);
            if (all_printable(w)) {
                memcpy(o + k, &w, 8);
                if (want_hash)
                    for (int b = 0; b < 8; b++)
                        h = (h ^ p[i + b]) * FNV_PRIME;
                s.chars += 8;
                s.nonspace += 8 - (size_t)spaces(w);
                i += 8;
                k += 8;
                continue;
            }
        }
        if (p[i] >= 0x20 && p[i] < 0x7F) {
            s.chars++;
            s.nonspace += p[i] != ' ';
            if (want_hash)
                h = (h ^ p[i]) * FNV_PRIME;
            o[k++] = p[i++];
            continue;
        }
        len = utf8_seq(p + i, n - i, &sub, &cp);
        s.chars++;
        if (len == 0) {
            o[k++] = 0xEF;
            o[k++] = 0xBF;
            o[k++] = 0xBD;
            if (want_hash)
                h = (((h ^ 0xEF) * FNV_PRIME ^ 0xBF) * FNV_PRIME ^ 0xBD) * FNV_PRIME;
            s.replaced++;
            s.nonspace += 3;
            i += sub;
            continue;
        }
        if (cp == 0) {
            s.control++;
            i++;
            continue;
        }
        if (cp == '\r' && i + 1 < n && p[i + 1] == '\n') {
            i++; /* the LF is copied next round; CR LF counts as one character */
            s.chars--;
            continue;
        }
        if (cp == 0xFFFD)
            s.replaced++;
        else if (is_control(cp))
            s.control++;
        memcpy(o + k, p + i, len);
        if (want_hash)
            for (size_t b = 0; b < len; b++)
                h = (h ^ p[i + b]) * FNV_PRIME;
        if (len > 1 || !is_space(p[i]))
            s.nonspace += len;
        k += len;
        i += len;
    }
    if (st)
        *st = s;
    if (want_hash)
        *hash = h;
    return k;
}

size_t bmx_corpus_normalize(const void *in, size_t n, void *out, bmx_corpus_norm_stats *st)
{
    return normalize(in, n, out, st, NULL, 0);
}

size_t corpus_normalize_hash(const void *in, size_t n, void *out, bmx_corpus_norm_stats *st,
                             uint64_t *hash)
{
    return normalize(in, n, out, st, hash, 1);
}

void corpus_hash_many(const unsigned char *const *p, const size_t *len, uint64_t *h, size_t n)
{
    enum { LANES = 4 };
    size_t doc[LANES], pos[LANES], next = 0;
    uint64_t x[LANES];
    int active = 0;

    /* each lane hashes one document; a lane that finishes takes the next document */
    for (int l = 0; l < LANES; l++)
        doc[l] = SIZE_MAX;
    for (;;) {
        size_t step = SIZE_MAX;
        active = 0;
        for (int l = 0; l < LANES; l++) {
            while (doc[l] == SIZE_MAX || pos[l] == len[doc[l]]) {
                if (doc[l] != SIZE_MAX)
                    h[doc[l]] = x[l];
                if (next == n) {
                    doc[l] = SIZE_MAX;
                    break;
                }
                doc[l] = next++;
                pos[l] = 0;
                x[l] = FNV_OFFSET;
            }
            if (doc[l] != SIZE_MAX) {
                active++;
                if (len[doc[l]] - pos[l] < step)
                    step = len[doc[l]] - pos[l];
            }
        }
        if (active < LANES)
            break;
        {
            const unsigned char *a = p[doc[0]] + pos[0], *b = p[doc[1]] + pos[1],
                                *c = p[doc[2]] + pos[2], *d = p[doc[3]] + pos[3];
            uint64_t xa = x[0], xb = x[1], xc = x[2], xd = x[3];
            for (size_t i = 0; i < step; i++) {
                xa = (xa ^ a[i]) * FNV_PRIME;
                xb = (xb ^ b[i]) * FNV_PRIME;
                xc = (xc ^ c[i]) * FNV_PRIME;
                xd = (xd ^ d[i]) * FNV_PRIME;
            }
            x[0] = xa;
            x[1] = xb;
            x[2] = xc;
            x[3] = xd;
            for (int l = 0; l < LANES; l++)
                pos[l] += step;
        }
    }
    /* fewer documents left than lanes: finish them one by one */
    for (int l = 0; l < LANES; l++)
        if (doc[l] != SIZE_MAX) {
            uint64_t y = x[l];
            for (size_t i = pos[l]; i < len[doc[l]]; i++)
                y = (y ^ p[doc[l]][i]) * FNV_PRIME;
            h[doc[l]] = y;
        }
}

int bmx_corpus_classify(const bmx_corpus_norm_stats *st)
{
    if (10 * (st->replaced + st->control) > st->chars)
        return BMX_DOC_BINARY;
    if (st->nonspace < 32)
        return BMX_DOC_EMPTY;
    return BMX_DOC_KEEP;
}

uint64_t bmx_corpus_hash(const void *data, size_t n)
{
    const unsigned char *p = data;
    uint64_t h = FNV_OFFSET;

    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * FNV_PRIME;
    return h;
}

int bmx_corpus_split_of(uint64_t h, const unsigned w[3])
{
    uint64_t z = h, total = (uint64_t)w[0] + w[1] + w[2], r;

    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    r = total ? z % total : 0;
    if (r < w[0])
        return BMX_SPLIT_TRAIN;
    if (r < (uint64_t)w[0] + w[1])
        return BMX_SPLIT_VAL;
    return BMX_SPLIT_TEST;
}

int bmx_corpus_parse_split(const char *s, unsigned w[3], bmx_err *err)
{
    const char *p = s;
    unsigned long long sum = 0;

    for (int k = 0; k < 3; k++) {
        unsigned long long x = 0;
        int digits = 0;
        while (*p >= '0' && *p <= '9' && x <= 1000000) {
            x = 10 * x + (unsigned long long)(*p++ - '0');
            digits++;
        }
        if (!digits || x > 1000000 || (k < 2 && *p != '/') || (k == 2 && *p))
            return bmx_err_set(err, BMX_EINVAL,
                               "bad split '%s': want three non-negative integers A/B/C "
                               "(train/val/test weights, e.g. 98/1/1)",
                               s);
        if (k < 2)
            p++;
        w[k] = (unsigned)x;
        sum += x;
    }
    if (sum == 0)
        return bmx_err_set(err, BMX_EINVAL, "bad split '%s': the weights sum to 0", s);
    return BMX_OK;
}

int bmx_corpus_parse_domains(const char *list, const char **sel, size_t *n, char **copy,
                             bmx_err *err)
{
    char *save = NULL;

    *n = 0;
    if (!(*copy = strdup(list)))
        return bmx_err_set(err, BMX_ENOMEM, "out of memory");
    for (char *tok = strtok_r(*copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (*n == BMX_IMPORT_MAX_DOMAINS)
            return bmx_err_set(err, BMX_EINVAL, "--domains names more than %d domains",
                               BMX_IMPORT_MAX_DOMAINS);
        sel[(*n)++] = tok;
    }
    return *n ? BMX_OK : bmx_err_set(err, BMX_EINVAL, "--domains names no domain");
}
