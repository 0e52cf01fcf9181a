/* Error messages and logging (bmx/core.h). */
#include "bmx/core.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int bmx_err_set(bmx_err *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        err->code = code;
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return code;
}

void bmx_err_clear(bmx_err *err)
{
    if (err) {
        err->code = 0;
        err->msg[0] = '\0';
    }
}

int bmx_err_prefix(bmx_err *err, const char *fmt, ...)
{
    char old[BMX_ERR_LEN];
    size_t n;
    va_list ap;

    if (!err)
        return 0;
    memcpy(old, err->msg, sizeof old);
    old[sizeof old - 1] = '\0';
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    n = strlen(err->msg);
    snprintf(err->msg + n, sizeof err->msg - n, "%s", old);
    return err->code;
}

void bmx_log(const bmx_logger *lg, int level, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;

    if (!lg || !lg->fn)
        return;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    lg->fn(lg->ctx, level, buf);
}
