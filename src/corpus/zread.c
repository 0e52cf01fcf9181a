/* A file read through its decompressor: plain, gzip (every member, via zlib) or zstd (via
 * libzstd), told apart by the first bytes (corpus_int.h). */
#include "bmx/core.h"
#include "corpus_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#define ZR_IN_CAP ((size_t)1 << 20)

struct zr {
    int fd, kind, err, done, zs_ok;
    char errmsg[200];
    unsigned char *in;
    size_t in_len, in_pos;
    int in_eof;
    uint64_t raw;
    uint32_t crc;
    z_stream zs;
    ZSTD_DStream *zd;
};

static long zr_fail(struct zr *z, int code, const char *msg, char *why, size_t why_len)
{
    if (!z->err) {
        z->err = code;
        snprintf(z->errmsg, sizeof z->errmsg, "%s", msg);
    }
    snprintf(why, why_len, "%s", z->errmsg);
    return z->err;
}

/* Read the next chunk of the file into the (empty) input buffer. */
static int refill(struct zr *z)
{
    ssize_t n;

    z->in_pos = z->in_len = 0;
    do
        n = read(z->fd, z->in, ZR_IN_CAP);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return -1;
    if (n == 0)
        z->in_eof = 1;
    z->in_len = (size_t)n;
    z->raw += (uint64_t)n;
    z->crc = corpus_crc32(z->crc, z->in, (size_t)n);
    return 0;
}

struct zr *zr_open(const char *path, char *why, size_t why_len)
{
    struct zr *z = calloc(1, sizeof *z);
    struct stat sb;

    if (!z || !(z->in = malloc(ZR_IN_CAP))) {
        snprintf(why, why_len, "out of memory");
        if (z)
            free(z);
        return NULL;
    }
    z->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (z->fd < 0 || fstat(z->fd, &sb) != 0) {
        snprintf(why, why_len, "%s", strerror(errno));
        zr_close(z);
        return NULL;
    }
    if (S_ISDIR(sb.st_mode) || refill(z) != 0) {
        snprintf(why, why_len, "%s", S_ISDIR(sb.st_mode) ? "it is a folder" : strerror(errno));
        zr_close(z);
        return NULL;
    }
#ifdef POSIX_FADV_SEQUENTIAL
    posix_fadvise(z->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
#endif
    if (z->in_len >= 2 && z->in[0] == 0x1f && z->in[1] == 0x8b) {
        z->kind = ZR_GZIP;
        if (inflateInit2(&z->zs, 15 + 16) != Z_OK) {
            snprintf(why, why_len, "out of memory (zlib)");
            zr_close(z);
            return NULL;
        }
        z->zs_ok = 1;
    } else if (z->in_len >= 4 && z->in[0] == 0x28 && z->in[1] == 0xb5 && z->in[2] == 0x2f &&
               z->in[3] == 0xfd) {
        z->kind = ZR_ZSTD;
        z->zd = ZSTD_createDStream();
        if (!z->zd || ZSTD_isError(ZSTD_initDStream(z->zd))) {
            snprintf(why, why_len, "out of memory (zstd)");
            zr_close(z);
            return NULL;
        }
    }
    return z;
}

static long read_plain(struct zr *z, void *buf, size_t cap, char *why, size_t why_len)
{
    ssize_t n;

    if (z->in_pos < z->in_len) {
        size_t k = z->in_len - z->in_pos < cap ? z->in_len - z->in_pos : cap;
        memcpy(buf, z->in + z->in_pos, k);
        z->in_pos += k;
        return (long)k;
    }
    if (z->in_eof)
        return ZR_END;
    do
        n = read(z->fd, buf, cap);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return zr_fail(z, ZR_ERR_IO, strerror(errno), why, why_len);
    if (n == 0)
        z->in_eof = 1;
    z->raw += (uint64_t)n;
    z->crc = corpus_crc32(z->crc, buf, (size_t)n);
    return (long)n;
}

static long read_gzip(struct zr *z, void *buf, size_t cap, char *why, size_t why_len)
{
    for (;;) {
        size_t before_in, produced;
        int ret;

        if (z->in_pos == z->in_len && !z->in_eof && refill(z) != 0)
            return zr_fail(z, ZR_ERR_IO, strerror(errno), why, why_len);
        if (z->done) { /* a member ended: another one, or the end */
            if (z->in_pos == z->in_len)
                return ZR_END;
            if (z->in[z->in_pos] != 0x1f ||
                (z->in_pos + 1 < z->in_len && z->in[z->in_pos + 1] != 0x8b))
                return zr_fail(z, ZR_ERR_CORRUPT, "data after the end of the gzip stream", why,
                               why_len);
            inflateReset(&z->zs);
            z->done = 0;
        }
        z->zs.next_in = z->in + z->in_pos;
        z->zs.avail_in = (uInt)(z->in_len - z->in_pos);
        z->zs.next_out = buf;
        z->zs.avail_out = (uInt)cap;
        before_in = z->in_len - z->in_pos;
        ret = inflate(&z->zs, Z_NO_FLUSH);
        z->in_pos = z->in_len - z->zs.avail_in;
        produced = cap - z->zs.avail_out;
        if (ret == Z_STREAM_END) {
            z->done = 1;
        } else if (ret == Z_MEM_ERROR) {
            return zr_fail(z, ZR_ERR_IO, "out of memory (zlib)", why, why_len);
        } else if (ret != Z_OK && ret != Z_BUF_ERROR) {
            char msg[160];
            snprintf(msg, sizeof msg, "damaged gzip data (zlib: %s)",
                     z->zs.msg ? z->zs.msg : "error");
            return zr_fail(z, ZR_ERR_CORRUPT, msg, why, why_len);
        }
        if (produced)
            return (long)produced;
        if (!z->done && z->in_pos == z->in_len && z->in_eof)
            return zr_fail(z, ZR_ERR_TRUNCATED, "the gzip stream ends early (truncated file)", why,
                           why_len);
        if (!z->done && before_in && before_in == z->in_len - z->in_pos)
            return zr_fail(z, ZR_ERR_CORRUPT, "damaged gzip data (no progress)", why, why_len);
    }
}

static long read_zstd(struct zr *z, void *buf, size_t cap, char *why, size_t why_len)
{
    for (;;) {
        ZSTD_inBuffer ib;
        ZSTD_outBuffer ob = {buf, cap, 0};
        size_t ret;

        if (z->in_pos == z->in_len && !z->in_eof && refill(z) != 0)
            return zr_fail(z, ZR_ERR_IO, strerror(errno), why, why_len);
        if (z->in_pos == z->in_len && z->in_eof && z->done)
            return ZR_END;
        ib = (ZSTD_inBuffer){z->in, z->in_len, z->in_pos};
        ret = ZSTD_decompressStream(z->zd, &ob, &ib);
        z->in_pos = ib.pos;
        if (ZSTD_isError(ret)) {
            char msg[160];
            snprintf(msg, sizeof msg, "damaged zstd data (zstd: %s)", ZSTD_getErrorName(ret));
            return zr_fail(z, ZR_ERR_CORRUPT, msg, why, why_len);
        }
        z->done = ret == 0;
        if (ob.pos)
            return (long)ob.pos;
        if (z->in_pos == z->in_len && z->in_eof)
            return z->done ? ZR_END
                           : zr_fail(z, ZR_ERR_TRUNCATED,
                                     "the zstd stream ends early (truncated file)", why, why_len);
    }
}

long zr_read(struct zr *z, void *buf, size_t cap, char *why, size_t why_len)
{
    if (z->err)
        return zr_fail(z, z->err, z->errmsg, why, why_len);
    if (cap > (size_t)1 << 30)
        cap = (size_t)1 << 30;
    switch (z->kind) {
    case ZR_GZIP:
        return read_gzip(z, buf, cap, why, why_len);
    case ZR_ZSTD:
        return read_zstd(z, buf, cap, why, why_len);
    default:
        return read_plain(z, buf, cap, why, why_len);
    }
}

int zr_kind(const struct zr *z)
{
    return z->kind;
}

uint64_t zr_raw_bytes(const struct zr *z)
{
    return z->raw;
}

uint32_t zr_raw_crc(const struct zr *z)
{
    return z->crc;
}

void zr_close(struct zr *z)
{
    if (!z)
        return;
    if (z->zs_ok)
        inflateEnd(&z->zs);
    if (z->zd)
        ZSTD_freeDStream(z->zd);
    if (z->fd >= 0)
        close(z->fd);
    free(z->in);
    free(z);
}
