/* src/train/checkpoint_v1.c - reading the model and AdamW state of a version-1 checkpoint
 * (bmx before the tagged sections), so that a base model trained by an older build still serves
 * as `--init` or a DoReMi reference. Its run state (the "extra" bytes) is not read: a run that
 * wrote version 1 resumes only with the build that wrote it.
 *
 * Version 1: a 176-byte header, then parameters, AdamW m, AdamW v (n floats each) and the
 * extra bytes; little-endian:
 *   0 magic "BMXCKPT1"    8 u32 version (1)    12 u32 header bytes (176)
 *  16 i32 vocab, ctx, layers, heads, width, vocab_padded
 *  40 i64 step    48 u64 parameter count    56 u64 extra bytes
 *  64 f64 lr, min_lr, beta1, beta2, eps, weight_decay, clip
 * 120 i64 warmup    128 i64 total    136 i32 accum    140 u32 CRC-32 of everything after
 * the header    144 reserved, zero    172 u32 CRC-32 of bytes 0..171
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bmx/train.h"
#include "checkpoint_v1.h"
#include "trainer_impl.h"

#define V1_HEADER 176u
#define CHUNK     65536

/* n little-endian floats from f into x, folded into *crc */
static int read_f32(FILE *f, float *x, size_t n, uint32_t *crc)
{
    unsigned char b[4 * 1024];
    while (n > 0) {
        size_t k = n < 1024 ? n : 1024;
        if (fread(b, 4, k, f) != k)
            return -1;
        *crc = bmx_crc32(*crc, b, 4 * k);
        for (size_t i = 0; i < k; i++)
            *x++ = bmx_le_get_f32(b + 4 * i);
        n -= k;
    }
    return 0;
}

/* the header's configurations, checked against each other and against the file's size */
static int v1_header(const unsigned char *h, FILE *f, const char *path, bmx_gpt_config *mc,
                     bmx_train_config *tc, long *step, uint64_t *extra, uint32_t *pcrc,
                     bmx_err *err)
{
    struct stat st;
    double fl[7];
    if (bmx_le_get32(h + 12) != V1_HEADER ||
        bmx_crc32(0, h, V1_HEADER - 4) != bmx_le_get32(h + 172))
        return bmx_err_set(err, BMX_ECORRUPT,
                           "checkpoint %s (version 1) has a corrupt header "
                           "(checksum)",
                           path);
    *mc = (bmx_gpt_config){(int32_t)bmx_le_get32(h + 16), (int32_t)bmx_le_get32(h + 20),
                           (int32_t)bmx_le_get32(h + 24), (int32_t)bmx_le_get32(h + 28),
                           (int32_t)bmx_le_get32(h + 32)};
    for (int i = 0; i < 7; i++)
        fl[i] = bmx_le_get_f64(h + 64 + 8 * i);
    *tc = (bmx_train_config){fl[0],
                             fl[1],
                             (long)(int64_t)bmx_le_get64(h + 120),
                             (long)(int64_t)bmx_le_get64(h + 128),
                             fl[2],
                             fl[3],
                             fl[4],
                             fl[5],
                             fl[6],
                             (int32_t)bmx_le_get32(h + 136)};
    int64_t s = (int64_t)bmx_le_get64(h + 40);
    uint64_t np = bmx_le_get64(h + 48);
    *extra = bmx_le_get64(h + 56);
    *pcrc = bmx_le_get32(h + 140);
    if (bmx_gpt_config_check(mc, NULL) || bmx_train_config_check(tc, NULL) || s < 0 ||
        (int32_t)bmx_le_get32(h + 36) != bmx_gpt_vocab_padded(mc->vocab) ||
        np != (uint64_t)bmx_gpt_num_params(mc) || *extra > ((uint64_t)1 << 40))
        return bmx_err_set(err, BMX_ECORRUPT,
                           "checkpoint %s (version 1) holds an invalid configuration", path);
    *step = (long)s;
    uint64_t want = V1_HEADER + 3 * np * sizeof(float) + *extra;
    if (fstat(fileno(f), &st) != 0)
        return bmx_err_set(err, BMX_EIO, "cannot stat checkpoint %s: %s", path, strerror(errno));
    if ((uint64_t)st.st_size != want)
        return bmx_err_set(
            err, BMX_ECORRUPT, "checkpoint %s (version 1) is %s: %lld bytes, its header says %llu",
            path, (uint64_t)st.st_size < want ? "truncated" : "longer than its header says",
            (long long)st.st_size, (unsigned long long)want);
    return BMX_OK;
}

int bmx_checkpoint_load_v1(FILE *f, const char *path, int blas, bmx_model **model,
                           bmx_trainer **trainer, bmx_err *err)
{
    unsigned char h[V1_HEADER], b[CHUNK];
    bmx_gpt_config mc;
    bmx_train_config tc;
    bmx_model *m = NULL;
    bmx_trainer *t = NULL;
    long step = 0;
    uint64_t extra = 0;
    uint32_t pcrc = 0, crc = 0;
    int rc = BMX_OK;

    rewind(f);
    if (fread(h, 1, V1_HEADER, f) != V1_HEADER)
        return bmx_err_set(err, BMX_ECORRUPT, "checkpoint %s is truncated (header cut short)",
                           path);
    if ((rc = v1_header(h, f, path, &mc, &tc, &step, &extra, &pcrc, err)) ||
        (rc = bmx_model_create(&mc, BMX_F32, blas, &m, err)) ||
        (rc = bmx_trainer_create(m, &tc, &t, err)))
        goto fail;
    size_t n = bmx_model_num_params(m);
    if (read_f32(f, bmx_model_params(m), n, &crc) || read_f32(f, t->m1, n, &crc) ||
        read_f32(f, t->m2, n, &crc)) {
        rc = bmx_err_set(err, BMX_ECORRUPT, "checkpoint %s is truncated", path);
        goto fail;
    }
    for (uint64_t left = extra; left > 0;) { /* the run state: only checksummed */
        size_t k = left < CHUNK ? (size_t)left : CHUNK;
        if (fread(b, 1, k, f) != k) {
            rc = bmx_err_set(err, BMX_ECORRUPT, "checkpoint %s is truncated", path);
            goto fail;
        }
        crc = bmx_crc32(crc, b, k);
        left -= k;
    }
    if (crc != pcrc) {
        rc = bmx_err_set(err, BMX_ECORRUPT,
                         "checkpoint %s (version 1) is corrupt (payload checksum mismatch)", path);
        goto fail;
    }
    t->step = step;
    *model = m;
    *trainer = t;
    return BMX_OK;
fail:
    bmx_trainer_free(t);
    bmx_model_free(m);
    return rc;
}
