/* A small JSON document model: build, parse, pretty-print (json.h). */
#include "json.h"

#include <stdlib.h>
#include <string.h>

static jval *j_new(enum jtype t)
{
    jval *v = calloc(1, sizeof *v);
    if (v)
        v->t = t;
    return v;
}

jval *j_null(void)
{
    return j_new(J_NULL);
}

jval *j_bool(int b)
{
    jval *v = j_new(J_BOOL);
    if (v)
        v->b = !!b;
    return v;
}

jval *j_strn(const char *s, size_t n)
{
    jval *v = j_new(J_STR);
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

jval *j_str(const char *s)
{
    return j_strn(s, strlen(s));
}

jval *j_u64(uint64_t x)
{
    char buf[32];
    jval *v;

    snprintf(buf, sizeof buf, "%llu", (unsigned long long)x);
    v = j_strn(buf, strlen(buf));
    if (v)
        v->t = J_NUM;
    return v;
}

jval *j_arr(void)
{
    return j_new(J_ARR);
}
jval *j_obj(void)
{
    return j_new(J_OBJ);
}

void j_free(jval *v)
{
    if (!v)
        return;
    for (size_t i = 0; i < v->n; i++) {
        if (v->keys)
            free(v->keys[i]);
        j_free(v->items[i]);
    }
    free(v->keys);
    free(v->items);
    free(v->s);
    free(v);
}

static int grow(jval *c)
{
    size_t cap;
    jval **items;

    if (c->n < c->cap)
        return 0;
    cap = c->cap ? 2 * c->cap : 8;
    items = realloc(c->items, cap * sizeof *items);
    if (!items)
        return -1;
    c->items = items;
    if (c->t == J_OBJ) {
        char **keys = realloc(c->keys, cap * sizeof *keys);
        if (!keys)
            return -1;
        c->keys = keys;
    }
    c->cap = cap;
    return 0;
}

int j_push(jval *arr, jval *v)
{
    if (!arr || !v || arr->t != J_ARR || grow(arr) < 0) {
        j_free(v);
        return -1;
    }
    arr->items[arr->n++] = v;
    return 0;
}

int j_set(jval *obj, const char *key, jval *v)
{
    char *k;

    if (!obj || !v || obj->t != J_OBJ) {
        j_free(v);
        return -1;
    }
    for (size_t i = 0; i < obj->n; i++)
        if (strcmp(obj->keys[i], key) == 0) {
            j_free(obj->items[i]);
            obj->items[i] = v;
            return 0;
        }
    k = strdup(key);
    if (!k || grow(obj) < 0) {
        free(k);
        j_free(v);
        return -1;
    }
    obj->keys[obj->n] = k;
    obj->items[obj->n++] = v;
    return 0;
}

jval *j_get(const jval *obj, const char *key)
{
    if (!obj || obj->t != J_OBJ)
        return NULL;
    for (size_t i = 0; i < obj->n; i++)
        if (strcmp(obj->keys[i], key) == 0)
            return obj->items[i];
    return NULL;
}

int j_as_u64(const jval *v, uint64_t *out)
{
    uint64_t x = 0;

    if (!v || v->t != J_NUM || !v->s[0])
        return -1;
    for (const char *p = v->s; *p; p++) {
        if (*p < '0' || *p > '9' || x > (UINT64_MAX - 9) / 10)
            return -1;
        x = 10 * x + (uint64_t)(*p - '0');
    }
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

static void write_value(const jval *v, FILE *f, int depth)
{
    switch (v->t) {
    case J_NULL:
        fputs("null", f);
        return;
    case J_BOOL:
        fputs(v->b ? "true" : "false", f);
        return;
    case J_NUM:
        fputs(v->s, f);
        return;
    case J_STR:
        write_string(v->s, f);
        return;
    case J_ARR:
    case J_OBJ:
        break;
    }
    if (v->n == 0) {
        fputs(v->t == J_ARR ? "[]" : "{}", f);
        return;
    }
    fputc(v->t == J_ARR ? '[' : '{', f);
    for (size_t i = 0; i < v->n; i++) {
        fprintf(f, "%s\n%*s", i ? "," : "", 2 * (depth + 1), "");
        if (v->t == J_OBJ) {
            write_string(v->keys[i], f);
            fputs(": ", f);
        }
        write_value(v->items[i], f, depth + 1);
    }
    fprintf(f, "\n%*s%c", 2 * depth, "", v->t == J_ARR ? ']' : '}');
}

int j_write(const jval *v, FILE *f)
{
    write_value(v, f, 0);
    fputc('\n', f);
    return ferror(f) ? -1 : 0;
}

/* ---- parsing ---- */

struct jp {
    const char *s;
    size_t n, i;
    char *why;
    size_t why_len;
    int depth;
};

static jval *jp_fail(struct jp *p, const char *what)
{
    if (p->why && !p->why[0])
        snprintf(p->why, p->why_len, "%s at byte %zu", what, p->i);
    return NULL;
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
        size_t k = 0;

        if (p->i >= p->n) {
            free(out);
            return jp_fail(p, "unterminated string"), NULL;
        }
        c = (unsigned char)p->s[p->i++];
        if (c == '"')
            break;
        if (c < 0x20) {
            free(out);
            return jp_fail(p, "control character in string"), NULL;
        }
        if (c != '\\') {
            enc[k++] = (char)c;
        } else {
            unsigned u;
            char e = p->i < p->n ? p->s[p->i++] : 0;
            switch (e) {
            case '"':
            case '\\':
            case '/':
                enc[k++] = e;
                break;
            case 'b':
                enc[k++] = '\b';
                break;
            case 'f':
                enc[k++] = '\f';
                break;
            case 'n':
                enc[k++] = '\n';
                break;
            case 'r':
                enc[k++] = '\r';
                break;
            case 't':
                enc[k++] = '\t';
                break;
            case 'u':
                if (hex4(p, &u) < 0) {
                    free(out);
                    return jp_fail(p, "bad \\u escape"), NULL;
                }
                if (u >= 0xD800 && u < 0xDC00 && p->i + 1 < p->n && p->s[p->i] == '\\' &&
                    p->s[p->i + 1] == 'u') {
                    unsigned lo;
                    p->i += 2;
                    if (hex4(p, &lo) < 0 || lo < 0xDC00 || lo > 0xDFFF) {
                        free(out);
                        return jp_fail(p, "bad surrogate pair"), NULL;
                    }
                    u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
                } else if (u >= 0xD800 && u < 0xE000) {
                    u = 0xFFFD;
                }
                if (u == 0) {
                    free(out);
                    return jp_fail(p, "NUL in string"), NULL;
                }
                if (u < 0x80) {
                    enc[k++] = (char)u;
                } else if (u < 0x800) {
                    enc[k++] = (char)(0xC0 | (u >> 6));
                    enc[k++] = (char)(0x80 | (u & 0x3F));
                } else if (u < 0x10000) {
                    enc[k++] = (char)(0xE0 | (u >> 12));
                    enc[k++] = (char)(0x80 | ((u >> 6) & 0x3F));
                    enc[k++] = (char)(0x80 | (u & 0x3F));
                } else {
                    enc[k++] = (char)(0xF0 | (u >> 18));
                    enc[k++] = (char)(0x80 | ((u >> 12) & 0x3F));
                    enc[k++] = (char)(0x80 | ((u >> 6) & 0x3F));
                    enc[k++] = (char)(0x80 | (u & 0x3F));
                }
                break;
            default:
                free(out);
                return jp_fail(p, "bad escape in string"), NULL;
            }
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

static jval *jp_value(struct jp *p);

static jval *jp_container(struct jp *p, int obj)
{
    jval *c = obj ? j_obj() : j_arr();
    char close = obj ? '}' : ']';

    if (!c)
        return jp_fail(p, "out of memory");
    if (++p->depth > 64) {
        j_free(c);
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
        jval *v;
        int rc;

        jp_ws(p);
        if (obj) {
            if (p->i >= p->n || p->s[p->i] != '"') {
                j_free(c);
                return jp_fail(p, "expected a string key");
            }
            key = jp_string(p);
            if (!key) {
                j_free(c);
                return NULL;
            }
            jp_ws(p);
            if (p->i >= p->n || p->s[p->i] != ':') {
                free(key);
                j_free(c);
                return jp_fail(p, "expected ':'");
            }
            p->i++;
        }
        v = jp_value(p);
        if (!v) {
            free(key);
            j_free(c);
            return NULL;
        }
        rc = obj ? j_set(c, key, v) : j_push(c, v);
        free(key);
        if (rc < 0) {
            j_free(c);
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
        j_free(c);
        return jp_fail(p, obj ? "expected ',' or '}'" : "expected ',' or ']'");
    }
}

static jval *jp_value(struct jp *p)
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
        jval *v;
        if (!s)
            return NULL;
        v = j_new(J_STR);
        if (!v) {
            free(s);
            return jp_fail(p, "out of memory");
        }
        v->s = s;
        return v;
    }
    if (p->n - p->i >= 4 && memcmp(p->s + p->i, "null", 4) == 0) {
        p->i += 4;
        return j_null();
    }
    if (p->n - p->i >= 4 && memcmp(p->s + p->i, "true", 4) == 0) {
        p->i += 4;
        return j_bool(1);
    }
    if (p->n - p->i >= 5 && memcmp(p->s + p->i, "false", 5) == 0) {
        p->i += 5;
        return j_bool(0);
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
        size_t st = p->i, digits = 0;
        jval *v;
        if (p->s[p->i] == '-')
            p->i++;
        while (p->i < p->n &&
               ((p->s[p->i] >= '0' && p->s[p->i] <= '9') || p->s[p->i] == '.' ||
                p->s[p->i] == 'e' || p->s[p->i] == 'E' || p->s[p->i] == '+' || p->s[p->i] == '-')) {
            digits += p->s[p->i] >= '0' && p->s[p->i] <= '9';
            p->i++;
        }
        if (!digits)
            return jp_fail(p, "bad number");
        v = j_strn(p->s + st, p->i - st);
        if (!v)
            return jp_fail(p, "out of memory");
        v->t = J_NUM;
        return v;
    }
    return jp_fail(p, "unexpected character");
}

jval *j_parse(const char *text, size_t len, char *why, size_t why_len)
{
    struct jp p = {text, len, 0, why, why_len, 0};
    jval *v;

    if (why && why_len)
        why[0] = '\0';
    v = jp_value(&p);
    if (!v)
        return NULL;
    jp_ws(&p);
    if (p.i != p.n) {
        j_free(v);
        return jp_fail(&p, "trailing characters");
    }
    return v;
}
