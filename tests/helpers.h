/* tests/helpers.h - the file and byte helpers that several C tests share (include it after
 * check.h): a whole file read into memory, a file written (a failure fails the case), two
 * files compared byte for byte. Static inline, so that a test that uses only some of them
 * compiles without warnings. They use stdio alone, not the library's readers and writers
 * that the tests check. (Little-endian stores for hand-made files: bmx_le_put32/64 of
 * bmx/core.h.) */
#ifndef BMX_TESTS_HELPERS_H
#define BMX_TESTS_HELPERS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

/* The whole file at path in a malloc'd buffer with a NUL after its *n bytes; NULL (and
 * *n = 0) when it cannot be opened or read. */
static inline void *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    char *b = NULL;
    long len;

    *n = 0;
    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (b = malloc((size_t)len + 1)) && fread(b, 1, (size_t)len, f) == (size_t)len) {
        b[len] = 0;
        *n = (size_t)len;
    } else {
        free(b);
        b = NULL;
    }
    fclose(f);
    return b;
}

/* 1 when both files can be read and hold the same bytes, else 0. */
static inline int same_file(const char *a, const char *b)
{
    size_t na, nb;
    char *x = slurp(a, &na), *y = slurp(b, &nb);
    int same = x && y && na == nb && memcmp(x, y, na) == 0;

    free(x);
    free(y);
    return same;
}

/* data[0..n) as the whole file at path; the case fails when it cannot be written. */
static inline void write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");

    CHECK_MSG(f, "cannot create %s", path);
    int ok = fwrite(data, 1, n, f) == n;
    CHECK_MSG(fclose(f) == 0 && ok, "cannot write %zu bytes to %s", n, path);
}

#endif
