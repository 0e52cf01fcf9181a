/* src/runlog/jsonv.c - a small recursive-descent JSON parser (RFC 8259 values). */
#include "jsonv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ps {
    const char *s;
    size_t n, i;
    char *msg;
    size_t cap;
    int depth;
};

static int fail(struct ps *p, const char *what)
{
    snprintf(p->msg, p->cap, "%s at byte %zu", what, p->i);
    return -1;
}

static void ws(struct ps *p)
{
    while (p->i < p->n &&
           (p->s[p->i] == ' ' || p->s[p->i] == '\t' || p->s[p->i] == '\n' || p->s[p->i] == '\r'))
        p->i++;
}

static int put_utf8(char *o, size_t *k, unsigned cp)
{
    if (cp < 0x80) {
        o[(*k)++] = (char)cp;
    } else if (cp < 0x800) {
        o[(*k)++] = (char)(0xC0 | (cp >> 6));
        o[(*k)++] = (char)(0x80 | (cp & 63));
    } else if (cp < 0x10000) {
        o[(*k)++] = (char)(0xE0 | (cp >> 12));
        o[(*k)++] = (char)(0x80 | ((cp >> 6) & 63));
        o[(*k)++] = (char)(0x80 | (cp & 63));
    } else {
        o[(*k)++] = (char)(0xF0 | (cp >> 18));
        o[(*k)++] = (char)(0x80 | ((cp >> 12) & 63));
        o[(*k)++] = (char)(0x80 | ((cp >> 6) & 63));
        o[(*k)++] = (char)(0x80 | (cp & 63));
    }
    return 0;
}

static int hex4(struct ps *p, unsigned *v)
{
    *v = 0;
    if (p->i + 4 > p->n)
        return fail(p, "short \\u escape");
    for (int k = 0; k < 4; k++) {
        char c = p->s[p->i++];
        *v <<= 4;
        if (c >= '0' && c <= '9')
            *v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            *v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            *v |= (unsigned)(c - 'A' + 10);
        else
            return fail(p, "bad \\u escape");
    }
    return 0;
}

static int str(struct ps *p, char **out)
{
    p->i++; /* opening quote */
    size_t start = p->i;
    while (p->i < p->n && p->s[p->i] != '"') {
        if (p->s[p->i] == '\\')
            p->i++;
        p->i++;
    }
    if (p->i >= p->n)
        return fail(p, "unterminated string");
    size_t end = p->i;
    char *o = malloc(end - start + 1);
    size_t k = 0;
    if (!o)
        return fail(p, "out of memory");
    p->i = start;
    while (p->i < end) {
        char c = p->s[p->i++];
        if ((unsigned char)c < 0x20) {
            free(o);
            return fail(p, "control character in string");
        }
        if (c != '\\') {
            o[k++] = c;
            continue;
        }
        c = p->s[p->i++];
        switch (c) {
        case '"':
        case '\\':
        case '/':
            o[k++] = c;
            break;
        case 'b':
            o[k++] = '\b';
            break;
        case 'f':
            o[k++] = '\f';
            break;
        case 'n':
            o[k++] = '\n';
            break;
        case 'r':
            o[k++] = '\r';
            break;
        case 't':
            o[k++] = '\t';
            break;
        case 'u': {
            unsigned v;
            if (hex4(p, &v)) {
                free(o);
                return -1;
            }
            if (v >= 0xD800 && v < 0xDC00 && p->i + 6 <= end && p->s[p->i] == '\\' &&
                p->s[p->i + 1] == 'u') {
                unsigned lo;
                p->i += 2;
                if (hex4(p, &lo)) {
                    free(o);
                    return -1;
                }
                v = 0x10000 + ((v - 0xD800) << 10) + (lo - 0xDC00);
            }
            put_utf8(o, &k, v);
            break;
        }
        default:
            free(o);
            return fail(p, "bad escape");
        }
    }
    o[k] = 0;
    p->i = end + 1;
    *out = o;
    return 0;
}

static int value(struct ps *p, jv *v);

static int push(jv *v, size_t *cap, jv *item, char *key)
{
    if (v->n == *cap) {
        size_t nc = *cap ? 2 * *cap : 8;
        jv *ni = realloc(v->items, nc * sizeof *ni);
        if (!ni)
            return -1;
        v->items = ni;
        if (v->type == JV_OBJ) {
            char **nk = realloc(v->keys, nc * sizeof *nk);
            if (!nk)
                return -1;
            v->keys = nk;
        }
        *cap = nc;
    }
    v->items[v->n] = *item;
    if (v->type == JV_OBJ)
        v->keys[v->n] = key;
    v->n++;
    return 0;
}

static int container(struct ps *p, jv *v, int obj)
{
    size_t cap = 0;
    char close = obj ? '}' : ']';
    v->type = obj ? JV_OBJ : JV_ARR;
    if (++p->depth > 64)
        return fail(p, "nested too deep");
    p->i++;
    ws(p);
    if (p->i < p->n && p->s[p->i] == close) {
        p->i++;
        p->depth--;
        return 0;
    }
    for (;;) {
        char *key = NULL;
        jv item = {0};
        ws(p);
        if (obj) {
            if (p->i >= p->n || p->s[p->i] != '"')
                return fail(p, "expected a key");
            if (str(p, &key))
                return -1;
            ws(p);
            if (p->i >= p->n || p->s[p->i] != ':') {
                free(key);
                return fail(p, "expected ':'");
            }
            p->i++;
        }
        if (value(p, &item) || push(v, &cap, &item, key)) {
            jv_free(&item);
            free(key);
            return p->msg[0] ? -1 : fail(p, "out of memory");
        }
        ws(p);
        if (p->i < p->n && p->s[p->i] == ',') {
            p->i++;
            continue;
        }
        if (p->i < p->n && p->s[p->i] == close) {
            p->i++;
            p->depth--;
            return 0;
        }
        return fail(p, obj ? "expected ',' or '}'" : "expected ',' or ']'");
    }
}

static int value(struct ps *p, jv *v)
{
    memset(v, 0, sizeof *v);
    ws(p);
    if (p->i >= p->n)
        return fail(p, "unexpected end");
    char c = p->s[p->i];
    if (c == '{' || c == '[')
        return container(p, v, c == '{');
    if (c == '"') {
        v->type = JV_STR;
        return str(p, &v->str);
    }
    if (p->n - p->i >= 4 && memcmp(p->s + p->i, "null", 4) == 0) {
        p->i += 4;
        v->type = JV_NULL;
        return 0;
    }
    if (p->n - p->i >= 4 && memcmp(p->s + p->i, "true", 4) == 0) {
        p->i += 4;
        v->type = JV_BOOL;
        v->num = 1;
        return 0;
    }
    if (p->n - p->i >= 5 && memcmp(p->s + p->i, "false", 5) == 0) {
        p->i += 5;
        v->type = JV_BOOL;
        return 0;
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
        char buf[64];
        size_t k = 0;
        while (p->i < p->n && k < sizeof buf - 1 && strchr("+-0123456789.eE", p->s[p->i]))
            buf[k++] = p->s[p->i++];
        buf[k] = 0;
        char *end;
        v->type = JV_NUM;
        v->num = strtod(buf, &end);
        if (*end || k == 0)
            return fail(p, "bad number");
        return 0;
    }
    return fail(p, "unexpected character");
}

int jv_parse(const char *text, size_t len, jv *out, char *msg, size_t msg_cap)
{
    struct ps p = {text, len, 0, msg, msg_cap, 0};
    msg[0] = 0;
    if (value(&p, out)) {
        jv_free(out);
        return -1;
    }
    ws(&p);
    if (p.i != p.n) {
        jv_free(out);
        return fail(&p, "trailing characters");
    }
    return 0;
}

void jv_free(jv *v)
{
    if (!v)
        return;
    for (size_t i = 0; i < v->n; i++) {
        jv_free(&v->items[i]);
        if (v->keys)
            free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
    free(v->str);
    memset(v, 0, sizeof *v);
}

const jv *jv_get(const jv *o, const char *key)
{
    if (!o || o->type != JV_OBJ)
        return NULL;
    for (size_t i = 0; i < o->n; i++)
        if (strcmp(o->keys[i], key) == 0)
            return &o->items[i];
    return NULL;
}
