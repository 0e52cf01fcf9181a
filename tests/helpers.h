/* tests/helpers.h - what several C tests share (include it after check.h): a whole file read
 * into memory, a file written (a failure fails the case), two files compared byte for byte,
 * the relative error of one vector against another, a run's data folder made from fixture
 * texts. Static inline, so that a test that uses
 * only some of them compiles without warnings. The file helpers use stdio alone, not the
 * library's readers and writers that the tests check. (Little-endian stores for hand-made
 * files: bmx_le_put32/64 of bmx/core.h, pinned by test_checkpoint's le_codec.) */
#ifndef BMX_TESTS_HELPERS_H
#define BMX_TESTS_HELPERS_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bmx/data.h"
#include "bmx/tok.h"
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

/* DIR/<names[i]>/{train,val}.bin for the n (<= 8) fixture texts files[i] (paths from the
 * repository root): one BPE tokenizer of 300 ids trained on all of them, then the first 80%
 * of each text's tokens train and the rest val. Every step is checked (the case fails). */
static inline void make_shards(const char *dir, const char *const *names, const char *const *files,
                               int n)
{
    const void *docs[8];
    size_t lens[8];
    char *text[8], p[1024];
    bmx_err err = {0};
    bmx_tok *t = NULL;

    CHECK(n <= 8);
    CHECK_MSG(mkdir(dir, 0777) == 0, "cannot create %.600s", dir);
    for (int i = 0; i < n; i++) {
        text[i] = slurp(files[i], &lens[i]);
        CHECK_MSG(text[i], "cannot read %s (run from the repository root)", files[i]);
        docs[i] = text[i];
    }
    CHECK_MSG(bmx_tok_train_docs(&t, docs, lens, (size_t)n, 300, 1, &err) == 0, "%s", err.msg);
    for (int i = 0; i < n; i++) {
        uint32_t *ids = NULL;
        size_t nt = 0, cap = 0;
        CHECK_MSG(bmx_tok_encode(t, text[i], lens[i], &ids, &nt, &cap, &err) == 0, "%s", err.msg);
        size_t cut = nt * 8 / 10;
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        CHECK_MSG(mkdir(p, 0777) == 0, "cannot create %.600s", p);
        for (int s = 0; s < 2; s++) {
            bmx_shard_writer *w;
            snprintf(p, sizeof p, "%s/%s/%s.bin", dir, names[i], s ? "val" : "train");
            CHECK(bmx_shard_writer_open(&w, p, bmx_tok_vocab_size(t), bmx_tok_eot(t), &err) == 0);
            CHECK(bmx_shard_writer_add(w, s ? ids + cut : ids, s ? nt - cut : cut, &err) == 0);
            CHECK(bmx_shard_writer_close(w, &err) == 0);
        }
        free(ids);
        free(text[i]);
    }
    bmx_tok_free(t);
}

/* ||a - b||_2 / ||b||_2 over n elements (||a - b||_2 when b is all zero), summed in double
 * whatever the element types: rel_err_ff (float a, float b), rel_err_fd, rel_err_dd. */
#define TEST_REL_ERR(name, type_a, type_b)                                                         \
    static inline double name(const type_a *a, const type_b *b, size_t n)                          \
    {                                                                                              \
        double d = 0, s = 0;                                                                       \
        for (size_t i = 0; i < n; i++) {                                                           \
            double e = (double)a[i] - (double)b[i];                                                \
            d += e * e;                                                                            \
            s += (double)b[i] * b[i];                                                              \
        }                                                                                          \
        return s > 0 ? sqrt(d / s) : sqrt(d);                                                      \
    }
TEST_REL_ERR(rel_err_ff, float, float)
TEST_REL_ERR(rel_err_fd, float, double)
TEST_REL_ERR(rel_err_dd, double, double)

#endif
