/* One JSON Lines record: validate the line as a JSON object and find the strings at two
 * dotted paths, decoded in place (bmx/corpus.h). No allocation, no tree: the reader of
 * bmx corpus import, and a function of one buffer for fuzzing. */
#include "bmx/corpus.h"

#include <stdint.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#include <string.h>

#define JL_MAX_DEPTH 64
#define JL_MAX_COMP  8
#define JL_KEY_MAX   256

struct jl_path {
    const char *c[JL_MAX_COMP];
    size_t len[JL_MAX_COMP];
    int n; /* 0: no path */
};

struct jl_hit {
    char *s;    /* the raw string body (between the quotes) */
    size_t len; /* its raw length */
    int esc;    /* holds a backslash escape */
    int kind;   /* 0 absent, 1 string, 2 another type */
};

struct jl {
    char *p, *end, *line;
    const char *why;
    struct jl_path path[2];
    struct jl_hit hit[2];
};

/* Byte classes inside a string: 0 plain, 1 the closing quote, 2 backslash, 3 control. */
static const unsigned char str_class[256] = {
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0,
};

#define ONES  0x0101010101010101ull
#define HIGHS 0x8080808080808080ull

/* 0x80 in each byte of w that is zero, 0 elsewhere (exact: no borrow between bytes). */
static inline uint64_t zero_bytes(uint64_t w)
{
    return ~(((w & ~HIGHS) + ~HIGHS) | w | ~HIGHS);
}

static int jl_fail(struct jl *j, const char *why)
{
    if (!j->why)
        j->why = why;
    return -1;
}

static void jl_ws(struct jl *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
        j->p++;
}

/* The byte that a backslash and c stand for when c is one of the one-letter escapes
 * " \ / b f n r t; 0 for any other c (\u is not one of them). */
static char jl_escaped(char c)
{
    static const char in[] = "\"\\/bfnrt", out[] = "\"\\/\b\f\n\r\t";
    const char *at = c ? strchr(in, c) : NULL;
    return at ? out[at - in] : 0;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* The string at j->p (on its opening quote): *s and *len its raw body, *esc whether it has
 * an escape. Leaves j->p after the closing quote. */
static int jl_string(struct jl *j, char **s, size_t *len, int *esc)
{
    const unsigned char *p = (const unsigned char *)j->p + 1, *end = (const unsigned char *)j->end;

    *esc = 0;
    for (;;) {
#ifdef __SSE2__
        /* 16 bytes at a time while none is a quote, a backslash or a control character */
        while (end - p >= 16) {
            __m128i v = _mm_loadu_si128((const __m128i *)p);
            __m128i hit = _mm_or_si128(
                _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')),
                             _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))),
                _mm_cmpeq_epi8(_mm_max_epu8(v, _mm_set1_epi8(0x1F)), _mm_set1_epi8(0x1F)));
            int m = _mm_movemask_epi8(hit);
            if (m) {
                p += __builtin_ctz((unsigned)m);
                break;
            }
            p += 16;
        }
#endif
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        /* 8 bytes at a time while none is a quote, a backslash or a control character */
        while (end - p >= 8) {
            uint64_t w, m;
            memcpy(&w, p, 8);
            m = zero_bytes(w ^ (0x22 * ONES)) | zero_bytes(w ^ (0x5C * ONES)) |
                zero_bytes(w & (0xE0 * ONES));
            if (m) {
                p += __builtin_ctzll(m) >> 3;
                break;
            }
            p += 8;
        }
#endif
        while (p < end && str_class[*p] == 0)
            p++;
        if (p >= end)
            return jl_fail(j, "unterminated string");
        if (*p == '"')
            break;
        if (*p < 0x20)
            return jl_fail(j, "control character inside a string (must be escaped)");
        /* a backslash */
        *esc = 1;
        if (p + 1 >= end)
            return jl_fail(j, "unterminated string");
        if (jl_escaped(p[1])) {
            p += 2;
        } else if (p[1] == 'u') {
            if (end - p < 6 || hexval(p[2]) < 0 || hexval(p[3]) < 0 || hexval(p[4]) < 0 ||
                hexval(p[5]) < 0)
                return jl_fail(j, "bad \\u escape (want four hex digits)");
            p += 6;
        } else {
            return jl_fail(j, "bad escape in a string");
        }
    }
    *s = j->p + 1;
    *len = (size_t)((const char *)p - (j->p + 1));
    j->p = (char *)p + 1;
    return 0;
}

static unsigned hex4(const char *p)
{
    return (unsigned)(hexval(p[0]) << 12 | hexval(p[1]) << 8 | hexval(p[2]) << 4 | hexval(p[3]));
}

static size_t put_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | cp >> 6);
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | cp >> 12);
        o[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | cp >> 18);
    o[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    o[2] = (char)(0x80 | (cp >> 6 & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Decode a validated raw string body s[0..n) into o (o <= s: in place is fine, the output
 * is never longer); returns the decoded length. A lone surrogate becomes U+FFFD. */
static size_t jl_unescape(char *o, const char *s, size_t n)
{
    size_t i = 0, k = 0;

    while (i < n) {
        const char *bs = memchr(s + i, '\\', n - i);
        size_t run = bs ? (size_t)(bs - (s + i)) : n - i;
        unsigned cp;

        memmove(o + k, s + i, run);
        k += run;
        i += run;
        if (i >= n)
            break;
        if (s[i + 1] == 'u') {
            cp = hex4(s + i + 2);
            if (cp >= 0xD800 && cp <= 0xDBFF && i + 12 <= n && s[i + 6] == '\\' &&
                s[i + 7] == 'u') {
                unsigned lo = hex4(s + i + 8);
                if (lo >= 0xDC00 && lo <= 0xDFFF) {
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    i += 6;
                }
            }
            if (cp >= 0xD800 && cp <= 0xDFFF)
                cp = 0xFFFD;
            k += put_utf8(o + k, cp);
            i += 6;
            continue;
        }
        o[k++] = jl_escaped(s[i + 1]);
        i += 2;
    }
    return k;
}

static int jl_number(struct jl *j)
{
    const char *p = j->p, *e = j->end;

    if (p < e && *p == '-')
        p++;
    if (p < e && *p == '0') {
        p++;
    } else if (p < e && *p >= '1' && *p <= '9') {
        while (p < e && *p >= '0' && *p <= '9')
            p++;
    } else {
        return jl_fail(j, "bad number");
    }
    if (p < e && *p == '.') {
        if (++p >= e || *p < '0' || *p > '9')
            return jl_fail(j, "bad number (no digit after the point)");
        while (p < e && *p >= '0' && *p <= '9')
            p++;
    }
    if (p < e && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < e && (*p == '+' || *p == '-'))
            p++;
        if (p >= e || *p < '0' || *p > '9')
            return jl_fail(j, "bad number (no digit in the exponent)");
        while (p < e && *p >= '0' && *p <= '9')
            p++;
    }
    j->p = (char *)p;
    return 0;
}

static int jl_value(struct jl *j, int depth, const int m[2]);

/* Whether the raw key k[0..n) (escapes allowed) equals c[0..cn). */
static int key_is(const char *k, size_t n, int esc, const char *c, size_t cn)
{
    char buf[JL_KEY_MAX];

    if (!esc)
        return n == cn && memcmp(k, c, n) == 0;
    if (n > sizeof buf)
        return 0;
    n = jl_unescape(buf, k, n);
    return n == cn && memcmp(buf, c, n) == 0;
}

/* Consume c if it is the next byte: 1, else 0. */
static int jl_eat(struct jl *j, char c)
{
    if (j->p < j->end && *j->p == c) {
        j->p++;
        return 1;
    }
    return 0;
}

/* After an object's member or an array's element: 1 after a ',' (another follows), 0 after
 * the closing bracket, -1 (with why) otherwise. */
static int jl_next(struct jl *j, char close, const char *why)
{
    jl_ws(j);
    if (jl_eat(j, ',')) {
        jl_ws(j);
        return 1;
    }
    if (jl_eat(j, close))
        return 0;
    return jl_fail(j, why);
}

static int jl_object(struct jl *j, int depth, const int m[2])
{
    j->p++; /* '{' */
    jl_ws(j);
    if (jl_eat(j, '}'))
        return 0;
    for (;;) {
        char *k;
        size_t kn;
        int esc, cm[2];

        if (j->p >= j->end || *j->p != '"')
            return jl_fail(j, "expected a key string");
        if (jl_string(j, &k, &kn, &esc) < 0)
            return -1;
        jl_ws(j);
        if (!jl_eat(j, ':'))
            return jl_fail(j, "expected ':' after a key");
        for (int i = 0; i < 2; i++) {
            const struct jl_path *pa = &j->path[i];
            cm[i] = m[i] >= 0 && m[i] < pa->n && key_is(k, kn, esc, pa->c[m[i]], pa->len[m[i]])
                        ? m[i] + 1
                        : -1;
        }
        jl_ws(j);
        if (jl_value(j, depth + 1, cm) < 0)
            return -1;
        int more = jl_next(j, '}', "expected ',' or '}' in an object");
        if (more <= 0)
            return more;
    }
}

static int jl_array(struct jl *j, int depth)
{
    static const int off[2] = {-1, -1};

    j->p++; /* '[' */
    jl_ws(j);
    if (jl_eat(j, ']'))
        return 0;
    for (;;) {
        if (jl_value(j, depth + 1, off) < 0)
            return -1;
        int more = jl_next(j, ']', "expected ',' or ']' in an array");
        if (more <= 0)
            return more;
    }
}

static int jl_literal(struct jl *j, const char *lit)
{
    size_t n = strlen(lit);

    if ((size_t)(j->end - j->p) < n || memcmp(j->p, lit, n) != 0)
        return jl_fail(j, "unexpected character (not a JSON value)");
    j->p += n;
    return 0;
}

/* A value whose path matches m[i] components of path i (-1: off both paths). */
static int jl_value(struct jl *j, int depth, const int m[2])
{
    int target[2], rc;
    char *s = NULL;
    size_t n = 0;
    int esc = 0, is_str = 0;

    if (depth > JL_MAX_DEPTH)
        return jl_fail(j, "nested deeper than 64 levels");
    if (j->p >= j->end)
        return jl_fail(j, "unexpected end of line (want a value)");
    for (int i = 0; i < 2; i++)
        target[i] = j->path[i].n > 0 && m[i] == j->path[i].n;
    switch (*j->p) {
    case '{':
        rc = jl_object(j, depth, m);
        break;
    case '[':
        rc = jl_array(j, depth);
        break;
    case '"':
        rc = jl_string(j, &s, &n, &esc);
        is_str = 1;
        break;
    case 't':
        rc = jl_literal(j, "true");
        break;
    case 'f':
        rc = jl_literal(j, "false");
        break;
    case 'n':
        rc = jl_literal(j, "null");
        break;
    default:
        rc = jl_number(j);
        break;
    }
    if (rc < 0)
        return -1;
    for (int i = 0; i < 2; i++)
        if (target[i]) /* a repeated key: the last one counts, as in Python's json */
            j->hit[i] = (struct jl_hit){s, n, esc, is_str ? 1 : 2};
    return 0;
}

static int split_path(const char *key, struct jl_path *pa)
{
    const char *p = key;

    pa->n = 0;
    if (!key)
        return 0;
    for (;;) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        if (!n || pa->n == JL_MAX_COMP)
            return -1;
        pa->c[pa->n] = p;
        pa->len[pa->n++] = n;
        if (!dot)
            return 0;
        p = dot + 1;
    }
}

int bmx_corpus_jsonl_check_key(const char *key)
{
    struct jl_path pa;
    return key && key[0] && split_path(key, &pa) == 0;
}

int bmx_corpus_jsonl_parse(char *line, size_t n, const char *text_key, const char *domain_key,
                           bmx_corpus_jsonl_rec *rec)
{
    struct jl j;
    static const int top[2] = {0, 0};

    memset(rec, 0, sizeof *rec);
    memset(&j, 0, sizeof j);
    j.p = j.line = line;
    j.end = line + n;
    if (split_path(text_key, &j.path[0]) < 0 || split_path(domain_key, &j.path[1]) < 0) {
        rec->why = "bad key path (empty component or more than 8 components)";
        return BMX_JSONL_MALFORMED;
    }
    jl_ws(&j);
    if (j.p == j.end)
        return BMX_JSONL_BLANK;
    if (*j.p != '{') {
        rec->why = "not a JSON object";
        rec->err_at = 0;
        return BMX_JSONL_MALFORMED;
    }
    if (jl_object(&j, 1, top) == 0) {
        jl_ws(&j);
        if (j.p != j.end)
            jl_fail(&j, "text after the end of the object");
    }
    if (j.why) {
        rec->why = j.why;
        rec->err_at = (size_t)(j.p - line);
        return BMX_JSONL_MALFORMED;
    }
    if (j.path[0].n && j.hit[0].kind != 1)
        return BMX_JSONL_NO_TEXT;
    if (j.path[1].n && j.hit[1].kind != 1)
        return BMX_JSONL_NO_DOMAIN;
    for (int i = 0; i < 2; i++) {
        struct jl_hit *h = &j.hit[i];
        if (!j.path[i].n)
            continue;
        if (i == 1 && h->s == j.hit[0].s) { /* the same string: decoded already */
            h->len = rec->text_len;
        } else if (h->esc) {
            h->len = jl_unescape(h->s, h->s, h->len);
        }
        if (i == 0) {
            rec->text = h->s;
            rec->text_len = h->len;
        } else {
            rec->domain = h->s;
            rec->domain_len = h->len;
        }
    }
    return BMX_JSONL_OK;
}
