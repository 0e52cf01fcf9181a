/* The growable string behind every report writer (bmx/report.h). */
#include "bmx/core.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void bmx_sbuf_free(bmx_sbuf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
    b->oom = 0;
}

void bmx_sbuf_clear(bmx_sbuf *b)
{
    b->len = 0;
    if (b->p)
        b->p[0] = '\0';
}

/* Room for n more bytes plus the NUL; 0 when it cannot grow. */
static int reserve(bmx_sbuf *b, size_t n)
{
    size_t need, cap;
    char *p;

    if (b->oom)
        return 0;
    if (n > (size_t)-1 / 2 - b->len)
        return b->oom = 1, 0;
    need = b->len + n + 1;
    if (need <= b->cap)
        return 1;
    cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    p = realloc(b->p, cap);
    if (!p)
        return b->oom = 1, 0;
    b->p = p;
    b->cap = cap;
    return 1;
}

void bmx_sbuf_put(bmx_sbuf *b, const char *s, size_t n)
{
    if (!reserve(b, n))
        return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void bmx_sbuf_puts(bmx_sbuf *b, const char *s)
{
    bmx_sbuf_put(b, s, strlen(s));
}

void bmx_sbuf_printf(bmx_sbuf *b, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof small) {
        bmx_sbuf_put(b, small, (size_t)n);
        return;
    }
    if (!reserve(b, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

const char *bmx_sbuf_str(const bmx_sbuf *b)
{
    return b->p ? b->p : "";
}

void bmx_sbuf_xml(bmx_sbuf *b, const char *s)
{
    for (const char *c = s; *c; c++) {
        switch (*c) {
        case '&':
            bmx_sbuf_puts(b, "&amp;");
            break;
        case '<':
            bmx_sbuf_puts(b, "&lt;");
            break;
        case '>':
            bmx_sbuf_puts(b, "&gt;");
            break;
        case '"':
            bmx_sbuf_puts(b, "&quot;");
            break;
        case '\'':
            bmx_sbuf_puts(b, "&apos;");
            break;
        default:
            /* XML 1.0 forbids most control characters even when escaped. */
            if ((unsigned char)*c < 0x20 && *c != '\t' && *c != '\n' && *c != '\r')
                bmx_sbuf_put(b, "?", 1);
            else
                bmx_sbuf_put(b, c, 1);
        }
    }
}

int bmx_sbuf_fwrite(const bmx_sbuf *b, FILE *f, const char *what, bmx_err *err)
{
    if (b->oom)
        return bmx_err_set(err, BMX_ENOMEM, "out of memory while building %s", what);
    if (b->len && fwrite(b->p, 1, b->len, f) != b->len)
        return bmx_err_set(err, BMX_EIO, "cannot write %s: %s (check free disk space)", what,
                           strerror(errno));
    return BMX_OK;
}

int bmx_sbuf_save(const bmx_sbuf *b, const char *path, bmx_err *err)
{
    FILE *f;
    int rc;

    if (b->oom)
        return bmx_err_set(err, BMX_ENOMEM, "out of memory while building %s", path);
    f = fopen(path, "wb");
    if (!f)
        return bmx_err_set(err, BMX_EIO,
                           "cannot create %s: %s (check the directory exists and is writable)",
                           path, strerror(errno));
    rc = bmx_sbuf_fwrite(b, f, path, err);
    if (fclose(f) != 0 && rc == BMX_OK)
        rc = bmx_err_set(err, BMX_EIO, "cannot write %s: %s (check free disk space)", path,
                         strerror(errno));
    return rc;
}
