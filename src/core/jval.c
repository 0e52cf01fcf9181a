/* JSON documents: parse, look up, build, pretty-print (bmx/report.h). */
#include "bmx/core.h"

#include <stdlib.h>
#include <string.h>

static bmx_jval *j_new(enum bmx_jtype t)
{
    bmx_jval *v = calloc(1, sizeof *v);
    if (v)
        v->t = t;
    return v;
}

bmx_jval *bmx_jval_null(void)
{
    return j_new(BMX_JNULL);
}

bmx_jval *bmx_jval_bool(int b)
{
    bmx_jval *v = j_new(BMX_JBOOL);
    if (v)
        v->b = !!b;
    return v;
}

bmx_jval *bmx_jval_strn(const char *s, size_t n)
{
    bmx_jval *v = j_new(BMX_JSTR);
    if (!v)
        return NULL;
    v->s = malloc(n + 1);
    if (!v->s) {
        free(v);
        return NULL;
    }
    memcpy(v->s, s, n);
    v->s[n] = '\0';
    return v;
}

bmx_jval *bmx_jval_str(const char *s)
{
    return bmx_jval_strn(s, strlen(s));
}

bmx_jval *bmx_jval_u64(uint64_t x)
{
    char buf[32];
    bmx_jval *v;

    snprintf(buf, sizeof buf, "%llu", (unsigned long long)x);
    v = bmx_jval_strn(buf, strlen(buf));
    if (v)
        v->t = BMX_JNUM;
    return v;
}

bmx_jval *bmx_jval_arr(void)
{
    return j_new(BMX_JARR);
}
bmx_jval *bmx_jval_obj(void)
{
    return j_new(BMX_JOBJ);
}

void bmx_jval_free(bmx_jval *v)
{
    if (!v)
        return;
    for (size_t i = 0; i < v->n; i++) {
        if (v->keys)
            free(v->keys[i]);
        bmx_jval_free(v->items[i]);
    }
    free(v->keys);
    free(v->items);
    free(v->s);
    free(v->index);
    free(v);
}

static int grow(bmx_jval *c)
{
    size_t cap;
    bmx_jval **items;

    if (c->n < c->cap)
        return 0;
    cap = c->cap ? 2 * c->cap : 8;
    items = realloc(c->items, cap * sizeof *items);
    if (!items)
        return -1;
    c->items = items;
    if (c->t == BMX_JOBJ) {
        char **keys = realloc(c->keys, cap * sizeof *keys);
        if (!keys)
            return -1;
        c->keys = keys;
    }
    c->cap = cap;
    return 0;
}

int bmx_jval_push(bmx_jval *arr, bmx_jval *v)
{
    if (!arr || !v || arr->t != BMX_JARR || grow(arr) < 0) {
        bmx_jval_free(v);
        return -1;
    }
    arr->items[arr->n++] = v;
    return 0;
}

/* ---- the key index of large objects ----
 * Open addressing over a power-of-two table of item positions + 1 (0: empty), at most half
 * full. Objects of up to JIDX_MIN keys are scanned (cheaper than hashing). */
#define JIDX_MIN 8

struct jidx {
    size_t cap; /* slots, a power of two */
    size_t slot[];
};

static uint64_t key_hash(const char *k)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)k; *p; p++)
        h = (h ^ *p) * 1099511628211ull;
    return h ^ (h >> 29);
}

static void jidx_put(struct jidx *x, const char *key, size_t pos)
{
    size_t i = (size_t)key_hash(key) & (x->cap - 1);
    while (x->slot[i])
        i = (i + 1) & (x->cap - 1);
    x->slot[i] = pos + 1;
}

/* Make the index hold every key of obj with room for one more; -1 when out of memory. */
static int jidx_fit(bmx_jval *obj)
{
    struct jidx *x = obj->index, *nx;
    size_t cap = 16;

    if (x && 2 * (obj->n + 1) <= x->cap)
        return 0;
    while (cap < 2 * (obj->n + 1))
        cap *= 2;
    nx = calloc(1, sizeof *nx + cap * sizeof nx->slot[0]);
    if (!nx)
        return -1;
    nx->cap = cap;
    for (size_t i = 0; i < obj->n; i++)
        jidx_put(nx, obj->keys[i], i);
    free(x);
    obj->index = nx;
    return 0;
}

/* Position of key in obj, or -1. */
static long find_key(const bmx_jval *obj, const char *key)
{
    const struct jidx *x = obj->index;

    if (!x) {
        for (size_t i = 0; i < obj->n; i++)
            if (strcmp(obj->keys[i], key) == 0)
                return (long)i;
        return -1;
    }
    for (size_t i = (size_t)key_hash(key) & (x->cap - 1); x->slot[i]; i = (i + 1) & (x->cap - 1))
        if (strcmp(obj->keys[x->slot[i] - 1], key) == 0)
            return (long)(x->slot[i] - 1);
    return -1;
}

int bmx_jval_set(bmx_jval *obj, const char *key, bmx_jval *v)
{
    char *k;
    long at;

    if (!obj || !v || !key || obj->t != BMX_JOBJ) {
        bmx_jval_free(v);
        return -1;
    }
    if ((at = find_key(obj, key)) >= 0) {
        bmx_jval_free(obj->items[at]);
        obj->items[at] = v;
        return 0;
    }
    k = strdup(key);
    if (!k || grow(obj) < 0 || (obj->n >= JIDX_MIN && jidx_fit(obj) < 0)) {
        free(k);
        bmx_jval_free(v);
        return -1;
    }
    if (obj->index)
        jidx_put(obj->index, k, obj->n);
    obj->keys[obj->n] = k;
    obj->items[obj->n++] = v;
    return 0;
}

bmx_jval *bmx_jval_get(const bmx_jval *obj, const char *key)
{
    long at;

    if (!obj || !key || obj->t != BMX_JOBJ)
        return NULL;
    at = find_key(obj, key);
    return at >= 0 ? obj->items[at] : NULL;
}

int bmx_jval_as_u64(const bmx_jval *v, uint64_t *out)
{
    uint64_t x = 0;

    if (!v || v->t != BMX_JNUM || !v->s[0])
        return -1;
    for (const char *p = v->s; *p; p++) {
        uint64_t d = (uint64_t)(*p - '0');
        if (*p < '0' || *p > '9' || x > (UINT64_MAX - d) / 10)
            return -1;
        x = 10 * x + d;
    }
    *out = x;
    return 0;
}

int bmx_jval_as_double(const bmx_jval *v, double *out)
{
    char *end;
    double x;

    if (!v || v->t != BMX_JNUM)
        return -1;
    x = strtod(v->s, &end);
    if (*end) /* the parser only makes numbers strtod reads whole */
        return -1;
    *out = x;
    return 0;
}

/* ---- writing ---- */

static void write_string(const char *s, FILE *f)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p == '\n')
            fputs("\\n", f);
        else if (*p == '\t')
            fputs("\\t", f);
        else if (*p < 0x20 || *p == 0x7f)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

static void write_value(const bmx_jval *v, FILE *f, int depth)
{
    switch (v->t) {
    case BMX_JNULL:
        fputs("null", f);
        return;
    case BMX_JBOOL:
        fputs(v->b ? "true" : "false", f);
        return;
    case BMX_JNUM:
        fputs(v->s, f);
        return;
    case BMX_JSTR:
        write_string(v->s, f);
        return;
    case BMX_JARR:
    case BMX_JOBJ:
        break;
    }
    if (v->n == 0) {
        fputs(v->t == BMX_JARR ? "[]" : "{}", f);
        return;
    }
    fputc(v->t == BMX_JARR ? '[' : '{', f);
    for (size_t i = 0; i < v->n; i++) {
        fprintf(f, "%s\n%*s", i ? "," : "", 2 * (depth + 1), "");
        if (v->t == BMX_JOBJ) {
            write_string(v->keys[i], f);
            fputs(": ", f);
        }
        write_value(v->items[i], f, depth + 1);
    }
    fprintf(f, "\n%*s%c", 2 * depth, "", v->t == BMX_JARR ? ']' : '}');
}

int bmx_jval_write(const bmx_jval *v, FILE *f)
{
    write_value(v, f, 0);
    fputc('\n', f);
    return ferror(f) ? -1 : 0;
}

/* ---- parsing ---- */

struct jp {
    const char *s;
    size_t n, i;
    bmx_err *err;
    int failed, depth;
};

/* Record the first error (later ones are consequences of it). */
static bmx_jval *jp_fail(struct jp *p, const char *what)
{
    if (!p->failed)
        p->failed =
            bmx_err_set(p->err, strncmp(what, "out of memory", 13) == 0 ? BMX_ENOMEM : BMX_ECORRUPT,
                        "%s at byte %zu", what, p->i);
    return NULL;
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Skip the digits at p->i; how many there were. */
static size_t jp_digits(struct jp *p)
{
    size_t st = p->i;
    while (p->i < p->n && is_digit(p->s[p->i]))
        p->i++;
    return p->i - st;
}

static void jp_ws(struct jp *p)
{
    while (p->i < p->n &&
           (p->s[p->i] == ' ' || p->s[p->i] == '\t' || p->s[p->i] == '\n' || p->s[p->i] == '\r'))
        p->i++;
}

static int hex4(struct jp *p, unsigned *out)
{
    unsigned x = 0;

    if (p->i + 4 > p->n)
        return -1;
    for (int k = 0; k < 4; k++) {
        char c = p->s[p->i++];
        x <<= 4;
        if (c >= '0' && c <= '9')
            x |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            x |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            x |= (unsigned)(c - 'A' + 10);
        else
            return -1;
    }
    *out = x;
    return 0;
}

/* The UTF-8 bytes of code point u (1 to 0x10FFFF) into enc; how many. */
static size_t utf8_put(unsigned u, char *enc)
{
    if (u < 0x80) {
        enc[0] = (char)u;
        return 1;
    }
    if (u < 0x800) {
        enc[0] = (char)(0xC0 | (u >> 6));
        enc[1] = (char)(0x80 | (u & 0x3F));
        return 2;
    }
    if (u < 0x10000) {
        enc[0] = (char)(0xE0 | (u >> 12));
        enc[1] = (char)(0x80 | ((u >> 6) & 0x3F));
        enc[2] = (char)(0x80 | (u & 0x3F));
        return 3;
    }
    enc[0] = (char)(0xF0 | (u >> 18));
    enc[1] = (char)(0x80 | ((u >> 12) & 0x3F));
    enc[2] = (char)(0x80 | ((u >> 6) & 0x3F));
    enc[3] = (char)(0x80 | (u & 0x3F));
    return 4;
}

/* A \u escape at p->i (after the 'u'), with the low half of a surrogate pair when one
 * follows; a lone surrogate becomes U+FFFD. Its UTF-8 into enc: how many bytes, or 0 with
 * *why set. */
static size_t jp_unicode(struct jp *p, char *enc, const char **why)
{
    unsigned u, lo;
    if (hex4(p, &u) < 0)
        return *why = "bad \\u escape", 0;
    if (u >= 0xD800 && u < 0xDC00 && p->i + 1 < p->n && p->s[p->i] == '\\' &&
        p->s[p->i + 1] == 'u') {
        p->i += 2;
        if (hex4(p, &lo) < 0 || lo < 0xDC00 || lo > 0xDFFF)
            return *why = "bad surrogate pair", 0;
        u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
    } else if (u >= 0xD800 && u < 0xE000) {
        u = 0xFFFD;
    }
    if (u == 0)
        return *why = "NUL in string", 0;
    return utf8_put(u, enc);
}

/* The escape at p->i (after the backslash) into enc: how many bytes, or 0 with *why set. */
static size_t jp_escape(struct jp *p, char *enc, const char **why)
{
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    char e = p->i < p->n ? p->s[p->i++] : 0;
    const char *at = e ? strchr(from, e) : NULL;
    if (at) {
        enc[0] = to[at - from];
        return 1;
    }
    if (e == 'u')
        return jp_unicode(p, enc, why);
    return *why = "bad escape in string", 0;
}

/* Parse a string at p->i (on the opening quote) into a malloc'd UTF-8 buffer. */
static char *jp_string(struct jp *p)
{
    size_t cap = 16, len = 0;
    char *out = malloc(cap);

    if (!out)
        return jp_fail(p, "out of memory"), NULL;
    p->i++;
    for (;;) {
        unsigned char c;
        char enc[4];
        const char *why = NULL;
        size_t k = 1, at = p->i; /* errors point at the character or escape */

        if (p->i >= p->n)
            why = "unterminated string";
        else if ((c = (unsigned char)p->s[p->i++]) == '"')
            break;
        else if (c < 0x20)
            why = "control character in string";
        else if (c != '\\')
            enc[0] = (char)c;
        else
            k = jp_escape(p, enc, &why);
        if (why) {
            free(out);
            p->i = at;
            return jp_fail(p, why), NULL;
        }
        if (len + k + 1 > cap) {
            char *t;
            cap = 2 * cap + k;
            t = realloc(out, cap);
            if (!t) {
                free(out);
                return jp_fail(p, "out of memory"), NULL;
            }
            out = t;
        }
        memcpy(out + len, enc, k);
        len += k;
    }
    out[len] = '\0';
    return out;
}

static bmx_jval *jp_value(struct jp *p);

static bmx_jval *jp_container(struct jp *p, int obj)
{
    bmx_jval *c = obj ? bmx_jval_obj() : bmx_jval_arr();
    char close = obj ? '}' : ']';

    if (!c)
        return jp_fail(p, "out of memory");
    if (++p->depth > 64) {
        bmx_jval_free(c);
        return jp_fail(p, "nesting too deep");
    }
    p->i++;
    jp_ws(p);
    if (p->i < p->n && p->s[p->i] == close) {
        p->i++;
        p->depth--;
        return c;
    }
    for (;;) {
        char *key = NULL;
        bmx_jval *v;
        int rc;

        jp_ws(p);
        if (obj) {
            if (p->i >= p->n || p->s[p->i] != '"') {
                bmx_jval_free(c);
                return jp_fail(p, "expected a string key");
            }
            key = jp_string(p);
            if (!key) {
                bmx_jval_free(c);
                return NULL;
            }
            jp_ws(p);
            if (p->i >= p->n || p->s[p->i] != ':') {
                free(key);
                bmx_jval_free(c);
                return jp_fail(p, "expected ':'");
            }
            p->i++;
        }
        v = jp_value(p);
        if (!v) {
            free(key);
            bmx_jval_free(c);
            return NULL;
        }
        rc = obj ? bmx_jval_set(c, key, v) : bmx_jval_push(c, v);
        free(key);
        if (rc < 0) {
            bmx_jval_free(c);
            return jp_fail(p, "out of memory");
        }
        jp_ws(p);
        if (p->i < p->n && p->s[p->i] == ',') {
            p->i++;
            continue;
        }
        if (p->i < p->n && p->s[p->i] == close) {
            p->i++;
            p->depth--;
            return c;
        }
        bmx_jval_free(c);
        return jp_fail(p, obj ? "expected ',' or '}'" : "expected ',' or ']'");
    }
}

static bmx_jval *jp_value(struct jp *p)
{
    char c;

    jp_ws(p);
    if (p->i >= p->n)
        return jp_fail(p, "unexpected end of input");
    c = p->s[p->i];
    if (c == '{' || c == '[')
        return jp_container(p, c == '{');
    if (c == '"') {
        char *s = jp_string(p);
        bmx_jval *v;
        if (!s)
            return NULL;
        v = j_new(BMX_JSTR);
        if (!v) {
            free(s);
            return jp_fail(p, "out of memory");
        }
        v->s = s;
        return v;
    }
    if (p->n - p->i >= 4 && memcmp(p->s + p->i, "null", 4) == 0) {
        p->i += 4;
        return bmx_jval_null();
    }
    if (p->n - p->i >= 4 && memcmp(p->s + p->i, "true", 4) == 0) {
        p->i += 4;
        return bmx_jval_bool(1);
    }
    if (p->n - p->i >= 5 && memcmp(p->s + p->i, "false", 5) == 0) {
        p->i += 5;
        return bmx_jval_bool(0);
    }
    if (c == '-' || is_digit(c)) {
        /* -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
        size_t st = p->i;
        bmx_jval *v;
        if (p->s[p->i] == '-')
            p->i++;
        if (p->i < p->n && p->s[p->i] == '0') {
            p->i++;
            if (p->i < p->n && is_digit(p->s[p->i]))
                return jp_fail(p, "bad number (a leading zero)");
        } else if (!jp_digits(p)) {
            return jp_fail(p, "bad number (no digits)");
        }
        if (p->i < p->n && p->s[p->i] == '.') {
            p->i++;
            if (!jp_digits(p))
                return jp_fail(p, "bad number (no digits after '.')");
        }
        if (p->i < p->n && (p->s[p->i] == 'e' || p->s[p->i] == 'E')) {
            p->i++;
            if (p->i < p->n && (p->s[p->i] == '+' || p->s[p->i] == '-'))
                p->i++;
            if (!jp_digits(p))
                return jp_fail(p, "bad number (no digits in the exponent)");
        }
        v = bmx_jval_strn(p->s + st, p->i - st);
        if (!v)
            return jp_fail(p, "out of memory");
        v->t = BMX_JNUM;
        return v;
    }
    return jp_fail(p, "unexpected character");
}

int bmx_jval_parse(const char *text, size_t len, bmx_jval **out, bmx_err *err)
{
    struct jp p = {text, len, 0, err, 0, 0};
    bmx_jval *v;

    *out = NULL;
    v = jp_value(&p);
    if (!v)
        return p.failed;
    jp_ws(&p);
    if (p.i != p.n) {
        bmx_jval_free(v);
        jp_fail(&p, "trailing characters after the value");
        return p.failed;
    }
    *out = v;
    return BMX_OK;
}
