/* JSON values, one object per line (bmx/report.h). */
#include "bmx/core.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

char *bmx_json_fmt_num(char *buf, double v)
{
    if (!isfinite(v)) {
        strcpy(buf, "null");
        return buf;
    }
    /* 15 digits when they are exact (0.1, counts, ...), else 17, which always are. */
    snprintf(buf, 32, "%.15g", v);
    if (strtod(buf, NULL) == v)
        return buf;
    snprintf(buf, 32, "%.17g", v);
    return buf;
}

void bmx_json_free(bmx_json *j)
{
    bmx_sbuf_free(&j->out);
    memset(j, 0, sizeof *j);
}

/* Before any value: the comma between items of a container. */
static void before_value(bmx_json *j)
{
    if (j->after_key) {
        j->after_key = 0;
        return;
    }
    if (j->depth > 0) {
        if (j->count[j->depth - 1])
            bmx_sbuf_put(&j->out, ",", 1);
        j->count[j->depth - 1] = 1;
    } else if (j->out.len) {
        j->bad = 1; /* a second top-level value on one line */
    }
}

static void open_c(bmx_json *j, char c)
{
    before_value(j);
    if (j->depth >= BMX_JSON_MAX_DEPTH) {
        j->bad = 1;
        return;
    }
    j->count[j->depth++] = 0;
    bmx_sbuf_put(&j->out, &c, 1);
}

static void close_c(bmx_json *j, char c)
{
    if (j->depth == 0 || j->after_key) {
        j->bad = 1;
        return;
    }
    j->depth--;
    bmx_sbuf_put(&j->out, &c, 1);
}

void bmx_json_obj(bmx_json *j)
{
    open_c(j, '{');
}

void bmx_json_end_obj(bmx_json *j)
{
    close_c(j, '}');
}

void bmx_json_arr(bmx_json *j)
{
    open_c(j, '[');
}

void bmx_json_end_arr(bmx_json *j)
{
    close_c(j, ']');
}

static void put_string(bmx_sbuf *b, const char *s)
{
    static const char hex[] = "0123456789abcdef";

    bmx_sbuf_put(b, "\"", 1);
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        const char *e = NULL;
        switch (*c) {
        case '"':
            e = "\\\"";
            break;
        case '\\':
            e = "\\\\";
            break;
        case '\b':
            e = "\\b";
            break;
        case '\f':
            e = "\\f";
            break;
        case '\n':
            e = "\\n";
            break;
        case '\r':
            e = "\\r";
            break;
        case '\t':
            e = "\\t";
            break;
        }
        if (e) {
            bmx_sbuf_puts(b, e);
        } else if (*c < 0x20) {
            char u[7] = {'\\', 'u', '0', '0', hex[*c >> 4], hex[*c & 15], 0};
            bmx_sbuf_put(b, u, 6);
        } else {
            bmx_sbuf_put(b, (const char *)c, 1);
        }
    }
    bmx_sbuf_put(b, "\"", 1);
}

void bmx_json_key(bmx_json *j, const char *key)
{
    if (j->after_key || j->depth == 0) {
        j->bad = 1;
        return;
    }
    before_value(j);
    put_string(&j->out, key);
    bmx_sbuf_put(&j->out, ":", 1);
    j->after_key = 1;
}

void bmx_json_num(bmx_json *j, double v)
{
    char buf[32];

    before_value(j);
    bmx_sbuf_puts(&j->out, bmx_json_fmt_num(buf, v));
}

void bmx_json_int(bmx_json *j, long long v)
{
    before_value(j);
    bmx_sbuf_printf(&j->out, "%lld", v);
}

void bmx_json_u64(bmx_json *j, uint64_t v)
{
    before_value(j);
    bmx_sbuf_printf(&j->out, "%" PRIu64, v);
}

void bmx_json_str(bmx_json *j, const char *s)
{
    before_value(j);
    put_string(&j->out, s ? s : "");
}

void bmx_json_bool(bmx_json *j, int v)
{
    before_value(j);
    bmx_sbuf_puts(&j->out, v ? "true" : "false");
}

void bmx_json_null(bmx_json *j)
{
    before_value(j);
    bmx_sbuf_puts(&j->out, "null");
}

void bmx_json_nums(bmx_json *j, const double *v, size_t n)
{
    char buf[32];

    bmx_json_arr(j);
    for (size_t i = 0; i < n; i++) {
        if (i)
            bmx_sbuf_put(&j->out, ",", 1);
        bmx_sbuf_puts(&j->out, bmx_json_fmt_num(buf, v[i]));
    }
    if (n)
        j->count[j->depth - 1] = 1;
    bmx_json_end_arr(j);
}

void bmx_json_ints(bmx_json *j, const int *v, size_t n)
{
    bmx_json_arr(j);
    for (size_t i = 0; i < n; i++)
        bmx_json_int(j, v[i]);
    bmx_json_end_arr(j);
}

void bmx_json_kv_num(bmx_json *j, const char *key, double v)
{
    bmx_json_key(j, key);
    bmx_json_num(j, v);
}

void bmx_json_kv_int(bmx_json *j, const char *key, long long v)
{
    bmx_json_key(j, key);
    bmx_json_int(j, v);
}

void bmx_json_kv_u64(bmx_json *j, const char *key, uint64_t v)
{
    bmx_json_key(j, key);
    bmx_json_u64(j, v);
}

void bmx_json_kv_str(bmx_json *j, const char *key, const char *s)
{
    bmx_json_key(j, key);
    bmx_json_str(j, s);
}

int bmx_json_line(bmx_json *j, FILE *f, const char *what, bmx_err *err)
{
    int rc;

    if (j->bad || j->depth != 0 || j->after_key || j->out.len == 0) {
        rc = bmx_err_set(err, BMX_EINVAL,
                         "internal error: unbalanced JSON record for %s (a bug in the caller)",
                         what);
    } else {
        bmx_sbuf_put(&j->out, "\n", 1);
        rc = bmx_sbuf_fwrite(&j->out, f, what, err);
    }
    bmx_sbuf_clear(&j->out);
    j->out.oom = 0;
    j->depth = 0;
    j->after_key = 0;
    j->bad = 0;
    return rc;
}
