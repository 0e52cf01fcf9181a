/* Token shards: writer and checked memory-mapped reader (bmx/data.h). */
#include "bmx/data.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static const char MAGIC[8] = {'B', 'M', 'X', 'S', 'H', 'A', 'R', 'D'};

/* ---- writer ---- */

struct bmx_shard_writer {
    FILE *f;
    char *path, *tmp;
    uint32_t vocab, eot, width, crc;
    uint64_t ntokens, ndocs;
    unsigned char buf[1 << 16];
    size_t len;
};

int bmx_shard_writer_open(bmx_shard_writer **out, const char *path, uint32_t vocab_size,
                          uint32_t eot, bmx_err *err)
{
    bmx_shard_writer *w;
    unsigned char zero[BMX_SHARD_HEADER] = {0};

    *out = NULL;
    if (vocab_size == 0 || eot >= vocab_size)
        return bmx_err_set(err, BMX_EINVAL,
                           "shard %s: end-of-text id %u must be below the vocabulary size %u", path,
                           eot, vocab_size);
    w = calloc(1, sizeof *w);
    if (!w)
        return bmx_err_set(err, BMX_ENOMEM, "out of memory");
    w->path = strdup(path);
    w->tmp = malloc(strlen(path) + 5);
    if (!w->path || !w->tmp) {
        free(w->path);
        free(w->tmp);
        free(w);
        return bmx_err_set(err, BMX_ENOMEM, "out of memory");
    }
    sprintf(w->tmp, "%s.tmp", path);
    w->vocab = vocab_size;
    w->eot = eot;
    w->width = vocab_size <= 65536 ? 2 : 4;
    w->f = fopen(w->tmp, "wbe");
    if (!w->f || fwrite(zero, 1, sizeof zero, w->f) != sizeof zero) {
        int e = errno;
        if (w->f)
            fclose(w->f);
        w->f = NULL;
        bmx_shard_writer_abort(w);
        return bmx_err_set(err, BMX_EIO, "cannot create shard %s.tmp: %s", path, strerror(e));
    }
    *out = w;
    return BMX_OK;
}

static int flush(bmx_shard_writer *w, bmx_err *err)
{
    if (w->len && fwrite(w->buf, 1, w->len, w->f) != w->len)
        return bmx_err_set(err, BMX_EIO, "cannot write shard %s: %s", w->tmp, strerror(errno));
    w->crc = bmx_crc32(w->crc, w->buf, w->len);
    w->len = 0;
    return BMX_OK;
}

static int put_token(bmx_shard_writer *w, uint32_t t, bmx_err *err)
{
    if (w->len + 4 > sizeof w->buf && flush(w, err))
        return err ? err->code : BMX_EIO;
    if (w->width == 2) {
        bmx_le_put16(w->buf + w->len, (uint16_t)t);
        w->len += 2;
    } else {
        bmx_le_put32(w->buf + w->len, t);
        w->len += 4;
    }
    w->ntokens++;
    return BMX_OK;
}

int bmx_shard_writer_add(bmx_shard_writer *w, const uint32_t *ids, size_t n, bmx_err *err)
{
    int rc;

    for (size_t i = 0; i < n; i++) {
        if (ids[i] >= w->vocab || ids[i] == w->eot)
            return bmx_err_set(err, BMX_EINVAL,
                               "shard %s: token %u at position %zu of document %llu is %s", w->path,
                               ids[i], i, (unsigned long long)w->ndocs,
                               ids[i] == w->eot ? "the end-of-text id" : "outside the vocabulary");
        if ((rc = put_token(w, ids[i], err)) != 0)
            return rc;
    }
    if ((rc = put_token(w, w->eot, err)) != 0)
        return rc;
    w->ndocs++;
    return BMX_OK;
}

uint64_t bmx_shard_writer_tokens(const bmx_shard_writer *w)
{
    return w->ntokens;
}

void bmx_shard_writer_abort(bmx_shard_writer *w)
{
    if (!w)
        return;
    if (w->f)
        fclose(w->f);
    if (w->tmp)
        unlink(w->tmp);
    free(w->path);
    free(w->tmp);
    free(w);
}

int bmx_shard_writer_close(bmx_shard_writer *w, bmx_err *err)
{
    unsigned char h[BMX_SHARD_HEADER] = {0};
    int rc = flush(w, err);

    if (rc) {
        bmx_shard_writer_abort(w);
        return rc;
    }
    memcpy(h, MAGIC, 8);
    bmx_le_put32(h + 8, BMX_SHARD_VERSION);
    bmx_le_put32(h + 12, w->width);
    bmx_le_put32(h + 16, w->vocab);
    bmx_le_put32(h + 20, w->eot);
    bmx_le_put64(h + 24, w->ntokens);
    bmx_le_put64(h + 32, w->ndocs);
    bmx_le_put32(h + 40, w->crc);
    bmx_le_put32(h + 60, bmx_crc32(0, h, 60));
    if (fseek(w->f, 0, SEEK_SET) != 0 || fwrite(h, 1, sizeof h, w->f) != sizeof h ||
        fflush(w->f) != 0 || fsync(fileno(w->f)) != 0) {
        rc = bmx_err_set(err, BMX_EIO, "cannot write shard %s: %s", w->tmp, strerror(errno));
        bmx_shard_writer_abort(w);
        return rc;
    }
    if (fclose(w->f) != 0) {
        w->f = NULL;
        rc = bmx_err_set(err, BMX_EIO, "cannot write shard %s: %s", w->tmp, strerror(errno));
        bmx_shard_writer_abort(w);
        return rc;
    }
    w->f = NULL;
    rc = bmx_file_commit(w->tmp, w->path, err); /* removes the temporary file on failure */
    free(w->tmp);
    w->tmp = NULL;
    bmx_shard_writer_abort(w);
    return rc;
}

/* ---- reader ---- */

void bmx_shard_free(bmx_shard *s)
{
    if (!s)
        return;
    if (s->map)
        munmap(s->map, s->map_len);
    free(s->path);
    free(s);
}

uint32_t bmx_shard_token(const bmx_shard *s, uint64_t i)
{
    const unsigned char *p = (const unsigned char *)s->tokens + i * s->width;
    return s->width == 2 ? bmx_le_get16(p) : bmx_le_get32(p);
}

void bmx_shard_copy(const bmx_shard *s, uint64_t start, size_t n, uint32_t *out)
{
    const unsigned char *p = (const unsigned char *)s->tokens + start * s->width;
    if (s->width == 2)
        for (size_t k = 0; k < n; k++, p += 2)
            out[k] = bmx_le_get16(p);
    else
        for (size_t k = 0; k < n; k++, p += 4)
            out[k] = bmx_le_get32(p);
}

void bmx_shard_doc_span(const bmx_shard *s, uint64_t doc, uint64_t max, uint64_t *start,
                        uint64_t *end)
{
    uint64_t k = 0, d = 0, e;

    for (; k < s->ntokens && d < doc; k++)
        d += bmx_shard_token(s, k) == s->eot;
    for (e = k; e < s->ntokens && e - k < max && bmx_shard_token(s, e) != s->eot; e++)
        ;
    *start = k;
    *end = e;
}

static int bad(bmx_shard *s, bmx_err *err, const char *path, const char *what)
{
    bmx_shard_free(s);
    return bmx_err_set(err, BMX_ECORRUPT, "shard %s: %s; rebuild it with 'bmx data shard'", path,
                       what);
}

int bmx_shard_open(bmx_shard **out, const char *path, bmx_err *err)
{
    bmx_shard *s;
    struct stat st;
    const unsigned char *h;
    char what[200];
    int fd;
    uint64_t eots = 0;

    *out = NULL;
    s = calloc(1, sizeof *s);
    if (!s || !(s->path = strdup(path))) {
        free(s);
        return bmx_err_set(err, BMX_ENOMEM, "out of memory");
    }
    if (bmx_file_open_regular(path, &fd, err) < 0 || fstat(fd, &st) != 0) {
        int e = errno;
        if (fd >= 0) {
            close(fd);
            bmx_err_set(err, BMX_EIO, "cannot read shard %s: %s", path, strerror(e));
        }
        bmx_shard_free(s);
        return BMX_EIO;
    }
    if ((uint64_t)st.st_size < BMX_SHARD_HEADER) {
        close(fd);
        snprintf(what, sizeof what, "truncated: %lld bytes, shorter than the %d-byte header",
                 (long long)st.st_size, BMX_SHARD_HEADER);
        return bad(s, err, path, what);
    }
    s->map_len = (size_t)st.st_size;
    s->map = mmap(NULL, s->map_len, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (s->map == MAP_FAILED) {
        s->map = NULL;
        bmx_shard_free(s);
        return bmx_err_set(err, BMX_EIO, "cannot map shard %s: %s", path, strerror(errno));
    }
    h = s->map;
    if (memcmp(h, MAGIC, 8) != 0)
        return bad(s, err, path, "bad magic (not a bmx token shard)");
    s->version = bmx_le_get32(h + 8);
    if (s->version != BMX_SHARD_VERSION) {
        snprintf(what, sizeof what, "unsupported version %u (this bmx reads version %d)",
                 s->version, BMX_SHARD_VERSION);
        return bad(s, err, path, what);
    }
    if (bmx_le_get32(h + 60) != bmx_crc32(0, h, 60))
        return bad(s, err, path, "header checksum mismatch (the header is damaged)");
    s->width = bmx_le_get32(h + 12);
    s->vocab_size = bmx_le_get32(h + 16);
    s->eot = bmx_le_get32(h + 20);
    s->ntokens = bmx_le_get64(h + 24);
    s->ndocs = bmx_le_get64(h + 32);
    s->data_crc32 = bmx_le_get32(h + 40);
    if (s->width != (s->vocab_size <= 65536 ? 2u : 4u) || s->vocab_size == 0 ||
        s->eot >= s->vocab_size) {
        snprintf(what, sizeof what, "inconsistent header: width %u, vocabulary %u, eot %u",
                 s->width, s->vocab_size, s->eot);
        return bad(s, err, path, what);
    }
    if (s->ntokens > (UINT64_MAX - BMX_SHARD_HEADER) / s->width ||
        s->map_len != BMX_SHARD_HEADER + s->ntokens * s->width) {
        snprintf(what, sizeof what,
                 "size mismatch: the file has %zu bytes, the header promises %llu tokens "
                 "(%llu bytes)%s",
                 s->map_len, (unsigned long long)s->ntokens,
                 (unsigned long long)(BMX_SHARD_HEADER + s->ntokens * s->width),
                 s->map_len < BMX_SHARD_HEADER + s->ntokens * s->width ? " - truncated" : "");
        return bad(s, err, path, what);
    }
    s->tokens = h + BMX_SHARD_HEADER;
    if (bmx_crc32(0, s->tokens, s->ntokens * s->width) != s->data_crc32)
        return bad(s, err, path, "token checksum mismatch (the tokens are damaged)");
    for (uint64_t i = 0; i < s->ntokens; i++) {
        uint32_t t = bmx_shard_token(s, i);
        if (t >= s->vocab_size) {
            snprintf(what, sizeof what, "token %u at %llu is outside the vocabulary (%u)", t,
                     (unsigned long long)i, s->vocab_size);
            return bad(s, err, path, what);
        }
        eots += t == s->eot;
    }
    if (eots != s->ndocs || (s->ntokens && bmx_shard_token(s, s->ntokens - 1) != s->eot)) {
        snprintf(what, sizeof what,
                 "%llu end-of-text tokens for %llu documents, or the last token is not "
                 "end-of-text",
                 (unsigned long long)eots, (unsigned long long)s->ndocs);
        return bad(s, err, path, what);
    }
    *out = s;
    return BMX_OK;
}

/* ---- windows ---- */

int bmx_shard_sample(const bmx_shard *s, bmx_rng *rng, size_t T, uint32_t *out, uint64_t *start_out,
                     bmx_err *err)
{
    uint64_t start;

    if (s->ntokens < (uint64_t)T + 1)
        return bmx_err_set(err, BMX_EINVAL,
                           "shard %s holds %llu tokens, too few for a window of %zu + 1; use a "
                           "shorter context or a bigger corpus",
                           s->path, (unsigned long long)s->ntokens, T);
    start = bmx_rng_below(rng, s->ntokens - T);
    bmx_shard_copy(s, start, T + 1, out);
    if (start_out)
        *start_out = start;
    return BMX_OK;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int bmx_shard_val_windows(const bmx_shard *s, size_t T, size_t max_windows, uint64_t seed,
                          uint64_t **starts, size_t *n, bmx_err *err)
{
    uint64_t K, m, *idx;
    bmx_rng r;

    *starts = NULL;
    *n = 0;
    if (T == 0)
        return bmx_err_set(err, BMX_EINVAL, "validation windows need a context T > 0");
    K = s->ntokens ? (s->ntokens - 1) / T : 0;
    m = K < max_windows ? K : max_windows;
    if (m == 0)
        return BMX_OK;
    if (K > SIZE_MAX / sizeof *idx)
        return bmx_err_set(err, BMX_ENOMEM, "too many windows");
    idx = malloc((size_t)(K > m ? K : m) * sizeof *idx);
    if (!idx)
        return bmx_err_set(err, BMX_ENOMEM, "out of memory");
    for (uint64_t i = 0; i < K; i++)
        idx[i] = i;
    if (m < K) {
        bmx_rng_seed(&r, seed, 0);
        for (uint64_t i = 0; i < m; i++) {
            uint64_t j = i + bmx_rng_below(&r, K - i), t = idx[i];
            idx[i] = idx[j];
            idx[j] = t;
        }
        qsort(idx, (size_t)m, sizeof *idx, cmp_u64);
    }
    for (uint64_t i = 0; i < m; i++)
        idx[i] *= T;
    *starts = idx;
    *n = (size_t)m;
    return BMX_OK;
}
