/* src/train/checkpoint.c - save and load model + AdamW state (format in bmx/train.h).
 *
 * Header, 176 bytes, little-endian:
 *   0 magic "BMXCKPT1"      8 u32 version (1)      12 u32 header bytes (176)
 *  16 i32 vocab, ctx, layers, heads, width, vocab_padded     (6 x 4)
 *  40 i64 step             48 u64 parameter count  56 u64 extra bytes
 *  64 f64 lr, min_lr, beta1, beta2, eps, weight_decay, clip  (7 x 8)
 * 120 i64 warmup          128 i64 total           136 i32 accum    140 u32 payload CRC-32
 * 144 reserved, zero (28 bytes)                   172 u32 CRC-32 of bytes 0..171
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bmx/train.h"
#include "trainer_impl.h"

#define CKPT_MAGIC   "BMXCKPT1"
#define CKPT_VERSION 1u
#define CKPT_HEADER  176u

static void put(unsigned char *h, size_t off, const void *v, size_t n)
{
    memcpy(h + off, v, n);
}

static void get(const unsigned char *h, size_t off, void *v, size_t n)
{
    memcpy(v, h + off, n);
}

static void encode_header(unsigned char *h, const bmx_trainer *t, size_t extra_len, uint32_t pcrc)
{
    const bmx_gpt_config *mc = bmx_model_config(t->model);
    const bmx_train_config *c = &t->cfg;
    uint32_t ver = CKPT_VERSION, hb = CKPT_HEADER;
    int32_t ints[6] = {mc->vocab, mc->ctx,   mc->layers,
                       mc->heads, mc->width, bmx_model_vocab_padded(t->model)};
    int64_t step = t->step, warm = c->warmup, total = c->total;
    uint64_t np = bmx_model_num_params(t->model), ex = extra_len;
    double f[7] = {c->lr, c->min_lr, c->beta1, c->beta2, c->eps, c->weight_decay, c->clip};
    int32_t accum = c->accum;
    memset(h, 0, CKPT_HEADER);
    put(h, 0, CKPT_MAGIC, 8);
    put(h, 8, &ver, 4);
    put(h, 12, &hb, 4);
    put(h, 16, ints, sizeof ints);
    put(h, 40, &step, 8);
    put(h, 48, &np, 8);
    put(h, 56, &ex, 8);
    put(h, 64, f, sizeof f);
    put(h, 120, &warm, 8);
    put(h, 128, &total, 8);
    put(h, 136, &accum, 4);
    put(h, 140, &pcrc, 4);
    uint32_t hcrc = bmx_crc32(0, h, CKPT_HEADER - 4);
    put(h, CKPT_HEADER - 4, &hcrc, 4);
}

static int write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

int bmx_checkpoint_save(const char *path, const bmx_trainer *t, const void *extra, size_t extra_len,
                        bmx_err *err)
{
    size_t n = bmx_model_num_params(t->model);
    const float *p = bmx_model_params(t->model);
    uint32_t crc = bmx_crc32(0, p, n * sizeof(float));
    crc = bmx_crc32(crc, t->m1, n * sizeof(float));
    crc = bmx_crc32(crc, t->m2, n * sizeof(float));
    if (extra_len)
        crc = bmx_crc32(crc, extra, extra_len);
    unsigned char h[CKPT_HEADER];
    encode_header(h, t, extra_len, crc);

    size_t plen = strlen(path);
    char *tmp = malloc(plen + 16);
    char *dir = malloc(plen + 1);
    if (!tmp || !dir) {
        free(tmp);
        free(dir);
        return bmx_err_set(err, BMX_ENOMEM, "out of memory saving checkpoint %s", path);
    }
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp.XXXXXX", 12);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        int e = errno;
        free(tmp);
        free(dir);
        return bmx_err_set(err, BMX_EIO,
                           "cannot create a temporary file next to checkpoint %s: %s (check that "
                           "the directory exists and is writable)",
                           path, strerror(e));
    }
    int bad = write_all(fd, h, CKPT_HEADER) || write_all(fd, p, n * sizeof(float)) ||
              write_all(fd, t->m1, n * sizeof(float)) || write_all(fd, t->m2, n * sizeof(float)) ||
              (extra_len && write_all(fd, extra, extra_len)) || fsync(fd) != 0;
    int e = errno;
    if (close(fd) != 0 && !bad) {
        bad = 1;
        e = errno;
    }
    if (!bad && rename(tmp, path) != 0) {
        bad = 1;
        e = errno;
    }
    if (bad) {
        unlink(tmp);
        free(tmp);
        free(dir);
        return bmx_err_set(err, BMX_EIO, "cannot write checkpoint %s: %s (disk full?)", path,
                           strerror(e));
    }
    /* Make the rename itself durable. */
    memcpy(dir, path, plen + 1);
    int dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    free(tmp);
    free(dir);
    return BMX_OK;
}

static int read_exact(FILE *f, void *p, size_t n, uint32_t *crc)
{
    if (n && fread(p, 1, n, f) != n)
        return -1;
    *crc = bmx_crc32(*crc, p, n);
    return 0;
}

int bmx_checkpoint_load(const char *path, int blas, bmx_model **model, bmx_trainer **trainer,
                        void **extra, size_t *extra_len, bmx_err *err)
{
    unsigned char h[CKPT_HEADER] = {0};
    FILE *f;
    int rc = bmx_file_fopen_regular(path, &f, err);
    if (rc < 0)
        return rc;
    bmx_model *m = NULL;
    bmx_trainer *t = NULL;
    void *ex = NULL;
    size_t got = fread(h, 1, CKPT_HEADER, f);
    if (got < 8 || memcmp(h, CKPT_MAGIC, 8) != 0) {
        rc = bmx_err_set(err, BMX_ECORRUPT, "%s is not a bmx checkpoint (bad magic)", path);
        goto fail;
    }
    uint32_t ver, hb, hcrc, pcrc;
    get(h, 8, &ver, 4);
    if (got >= 12 && ver != CKPT_VERSION) {
        rc = bmx_err_set(err, BMX_ECORRUPT,
                         "checkpoint %s has format version %u; this build reads version %u", path,
                         ver, CKPT_VERSION);
        goto fail;
    }
    if (got < CKPT_HEADER) {
        rc = bmx_err_set(err, BMX_ECORRUPT, "checkpoint %s is truncated (header cut short)", path);
        goto fail;
    }
    get(h, 12, &hb, 4);
    get(h, CKPT_HEADER - 4, &hcrc, 4);
    if (hb != CKPT_HEADER || bmx_crc32(0, h, CKPT_HEADER - 4) != hcrc) {
        rc = bmx_err_set(err, BMX_ECORRUPT, "checkpoint %s has a corrupt header (checksum)", path);
        goto fail;
    }
    int32_t ints[6], accum;
    int64_t step, warm, total;
    uint64_t np, exl;
    double fl[7];
    get(h, 16, ints, sizeof ints);
    get(h, 40, &step, 8);
    get(h, 48, &np, 8);
    get(h, 56, &exl, 8);
    get(h, 64, fl, sizeof fl);
    get(h, 120, &warm, 8);
    get(h, 128, &total, 8);
    get(h, 136, &accum, 4);
    get(h, 140, &pcrc, 4);
    bmx_gpt_config mc = {ints[0], ints[1], ints[2], ints[3], ints[4]};
    bmx_train_config tc = {fl[0], fl[1], warm, total, fl[2], fl[3], fl[4], fl[5], fl[6], accum};
    if (bmx_gpt_config_check(&mc, NULL) || bmx_train_config_check(&tc, NULL)) {
        rc = bmx_err_set(err, BMX_ECORRUPT, "checkpoint %s holds an invalid configuration", path);
        goto fail;
    }
    /* the sizes the header gives must be those of its configuration and of the file before
     * anything is allocated: a crafted header cannot make the loader allocate more than 3x
     * the bytes the file really holds */
    {
        struct stat st;
        uint64_t want = bmx_gpt_num_params(&mc);
        if (np != want || ints[5] != bmx_gpt_vocab_padded(mc.vocab) || step < 0 ||
            exl > ((uint64_t)1 << 40)) {
            rc = bmx_err_set(err, BMX_ECORRUPT,
                             "checkpoint %s: header sizes do not match its configuration", path);
            goto fail;
        }
        if (fstat(fileno(f), &st) != 0 ||
            (uint64_t)st.st_size != CKPT_HEADER + 3 * np * sizeof(float) + exl) {
            rc = bmx_err_set(err, BMX_ECORRUPT,
                             "checkpoint %s is %s: %lld bytes, its header says %llu", path,
                             (uint64_t)st.st_size < CKPT_HEADER + 3 * np * sizeof(float) + exl
                                 ? "truncated"
                                 : "longer than its header says (trailing bytes)",
                             (long long)st.st_size,
                             (unsigned long long)(CKPT_HEADER + 3 * np * sizeof(float) + exl));
            goto fail;
        }
    }
    rc = bmx_model_create(&mc, BMX_F32, blas, &m, err);
    if (!rc)
        rc = bmx_trainer_create(m, &tc, &t, err);
    if (rc)
        goto fail;
    size_t n = bmx_model_num_params(m);
    if (np != n || ints[5] != bmx_model_vocab_padded(m) || step < 0 || exl > ((uint64_t)1 << 40)) {
        rc = bmx_err_set(err, BMX_ECORRUPT,
                         "checkpoint %s: header sizes do not match its configuration", path);
        goto fail;
    }
    if (exl && !(ex = malloc(exl))) {
        rc = bmx_err_set(err, BMX_ENOMEM, "out of memory reading checkpoint %s", path);
        goto fail;
    }
    uint32_t crc = 0;
    if (read_exact(f, bmx_model_params(m), n * sizeof(float), &crc) ||
        read_exact(f, t->m1, n * sizeof(float), &crc) ||
        read_exact(f, t->m2, n * sizeof(float), &crc) || read_exact(f, ex, exl, &crc)) {
        rc = bmx_err_set(err, BMX_ECORRUPT, "checkpoint %s is truncated", path);
        goto fail;
    }
    if (fgetc(f) != EOF) {
        rc = bmx_err_set(err, BMX_ECORRUPT, "checkpoint %s has trailing bytes", path);
        goto fail;
    }
    if (crc != pcrc) {
        rc = bmx_err_set(err, BMX_ECORRUPT, "checkpoint %s is corrupt (payload checksum mismatch)",
                         path);
        goto fail;
    }
    fclose(f);
    t->step = step;
    *model = m;
    *trainer = t;
    if (extra) {
        *extra = ex;
        ex = NULL;
    }
    if (extra_len)
        *extra_len = exl;
    free(ex);
    return BMX_OK;
fail:
    fclose(f);
    free(ex);
    bmx_trainer_free(t);
    bmx_model_free(m);
    return rc;
}
