/* Fuzz target: a token shard (bmx_shard_open, src/data/shard.c), as `bmx data inspect` and
 * training read it. A shard that opens is sampled and cut into validation windows: every
 * token read must lie inside the mapping and below the vocabulary size. */
#include "bmx/data.h"
#include "bmx/rng.h"
#include "fuzz.h"

/* The tokens' CRC at 40, the header's at 60. */
static void fix_crcs(unsigned char *data, size_t size)
{
    if (size < 64)
        return;
    fuzz_put32(data + 40, bmx_crc32(0, data + 64, size - 64));
    fuzz_put32(data + 60, bmx_crc32(0, data, 60));
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size)
{
    const char *p = fuzz_input("x.bin", in, size, fix_crcs);
    bmx_shard *s = NULL;
    bmx_err err = {0};
    int rc = bmx_shard_open(&s, p, &err);

    fuzz_check_err(rc, &err);
    if (rc)
        return 0;
    for (uint64_t i = 0; i < s->ntokens; i++)
        if (bmx_shard_token(s, i) >= s->vocab_size)
            fuzz_fail("token %llu = %u >= vocab %u", (unsigned long long)i, bmx_shard_token(s, i),
                      s->vocab_size);
    for (size_t T = 1; T <= 8; T *= 2) {
        uint32_t out[9];
        uint64_t *starts = NULL;
        size_t n = 0;
        bmx_rng rng;
        bmx_rng_seed(&rng, 1, 0);
        if (s->ntokens >= T + 1) {
            rc = bmx_shard_sample(s, &rng, T, out, NULL, &err);
            fuzz_check_err(rc, &err);
        }
        rc = bmx_shard_val_windows(s, T, 4, 7, &starts, &n, &err);
        fuzz_check_err(rc, &err);
        for (size_t i = 0; !rc && i < n; i++)
            if (starts[i] + T + 1 > s->ntokens)
                fuzz_fail("window at %llu past %llu tokens", (unsigned long long)starts[i],
                          (unsigned long long)s->ntokens);
        free(starts);
    }
    bmx_shard_free(s);
    return 0;
}
