/* Fuzz target: a training checkpoint (bmx_checkpoint_load, src/train/checkpoint.c), as
 * --resume reads it. The loader must never allocate more than the file can fill (libFuzzer's
 * -malloc_limit_mb catches that). */
#include "bmx/model.h"
#include "bmx/train.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size)
{
    unsigned char *data = fuzz_copy(in, size);
    const char *p;
    bmx_model *m = NULL;
    bmx_trainer *t = NULL;
    void *extra = NULL;
    size_t elen = 0;
    bmx_err err = {0};
    int rc;

    if (size >= 176 && fuzz_fix_crc(size)) { /* payload's CRC at 140, the header's at 172 */
        fuzz_put32(data + 140, bmx_crc32(0, data + 176, size - 176));
        fuzz_put32(data + 172, bmx_crc32(0, data, 172));
    }
    p = fuzz_file("checkpoint.bin", data, size);
    free(data);
    rc = bmx_checkpoint_load(p, 0, &m, &t, &extra, &elen, &err);

    fuzz_check_err(rc, &err);
    if (rc)
        return 0;
    if (bmx_model_num_params(m) * 12 + 176 + elen != size)
        fuzz_fail("loaded %zu parameters and %zu extra bytes from %zu bytes",
                  bmx_model_num_params(m), elen, size);
    free(extra);
    bmx_trainer_free(t);
    bmx_model_free(m);
    return 0;
}
