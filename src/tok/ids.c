/* Token ids as text (bmx_tok_parse_ids, bmx/tok.h). */
#include <stdint.h>
#include <stdlib.h>

#include "bmx/tok.h"

static int space(unsigned char c)
{
    return c == ' ' || c == '\n' || c == '\t' || c == '\r';
}

int bmx_tok_parse_ids(const unsigned char *text, size_t len, uint32_t **ids, size_t *n,
                      bmx_err *err)
{
    size_t cap = 0;

    *ids = NULL;
    *n = 0;
    for (size_t i = 0; i < len;) {
        unsigned long v = 0;
        size_t start;
        if (space(text[i])) {
            i++;
            continue;
        }
        for (start = i; i < len && text[i] >= '0' && text[i] <= '9' && v <= UINT32_MAX; i++)
            v = v * 10 + (unsigned long)(text[i] - '0');
        if (i == start || v > UINT32_MAX || (i < len && !space(text[i])))
            return bmx_err_set(err, BMX_EINVAL,
                               "byte %zu: want decimal token ids separated by white space", start);
        if (*n == cap) {
            uint32_t *ni = realloc(*ids, (cap = cap ? cap * 2 : 1024) * sizeof *ni);
            if (!ni)
                return bmx_err_set(err, BMX_ENOMEM, "out of memory");
            *ids = ni;
        }
        (*ids)[(*n)++] = (uint32_t)v;
    }
    return BMX_OK;
}
