/* Fuzz target: a training checkpoint (bmx_checkpoint_load, src/train/checkpoint.c, format in
 * bmx/checkpoint.h), as --resume reads it, and each of its sections through the section
 * reader, and as a base model (no run state wanted: a version-1 file goes to
 * src/train/checkpoint_v1.c). The loader must never allocate more than the file can fill
 * (libFuzzer's -malloc_limit_mb catches that). */
#include <stdlib.h>

#include "bmx/checkpoint.h"
#include "bmx/model.h"
#include "bmx/train.h"
#include "fuzz.h"

/* The CRCs of every section the table places inside the input, then the table's. */
static void fix_crcs(unsigned char *data, size_t size)
{
    if (size >= 176 && bmx_le_get32(data + 8) == 1) { /* version 1: payload, then header */
        fuzz_put32(data + 140, bmx_crc32(0, data + 176, size - 176));
        fuzz_put32(data + 172, bmx_crc32(0, data, 172));
        return;
    }
    if (size < 16)
        return;
    uint32_t n = bmx_le_get32(data + 12);
    if (n < 1 || n > BMX_CKPT_MAX_SECTIONS || 16 + 32 * (size_t)n + 4 > size)
        return;
    for (uint32_t i = 0; i < n; i++) {
        unsigned char *e = data + 16 + 32 * (size_t)i;
        uint64_t off = bmx_le_get64(e + 8), len = bmx_le_get64(e + 16);
        if (off <= size && len <= size - off)
            fuzz_put32(e + 24, bmx_crc32(0, data + off, (size_t)len));
    }
    fuzz_put32(data + 16 + 32 * (size_t)n, bmx_crc32(0, data, 16 + 32 * (size_t)n));
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size)
{
    const char *p = fuzz_input("checkpoint.bin", in, size, fix_crcs), *tag;
    bmx_model *m = NULL;
    bmx_trainer *t = NULL;
    bmx_ckpt_reader *rd = NULL;
    void *extra = NULL, *sec = NULL;
    size_t elen = 0, slen = 0, total = 0;
    bmx_err err = {0};
    int rc;

    rc = bmx_ckpt_open(p, &rd, &err);
    fuzz_check_err(rc, &err);
    for (int i = 0; !rc && (tag = bmx_ckpt_tag(rd, i)); i++) {
        int r2 = bmx_ckpt_read_alloc(rd, tag, &sec, &slen, &err);
        fuzz_check_err(r2, &err);
        if (!r2 && (total += slen) > size)
            fuzz_fail("sections of %zu bytes in a file of %zu", total, size);
        free(sec);
    }
    bmx_ckpt_close(rd);
    rc = bmx_checkpoint_load(p, 0, &m, &t, NULL, NULL, &err); /* a base model */
    fuzz_check_err(rc, &err);
    if (!rc && bmx_model_num_params(m) * 12 > size)
        fuzz_fail("loaded %zu parameters from %zu bytes", bmx_model_num_params(m), size);
    bmx_trainer_free(t);
    bmx_model_free(m);
    m = NULL;
    t = NULL;
    rc = bmx_checkpoint_load(p, 0, &m, &t, &extra, &elen, &err);
    fuzz_check_err(rc, &err);
    if (rc)
        return 0;
    if (bmx_model_num_params(m) * 12 + 24 + 96 + elen > size)
        fuzz_fail("loaded %zu parameters and %zu extra bytes from %zu bytes",
                  bmx_model_num_params(m), elen, size);
    free(extra);
    bmx_trainer_free(t);
    bmx_model_free(m);
    return 0;
}
