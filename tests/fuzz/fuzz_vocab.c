/* Fuzz target: a bmx vocabulary file (bmx_tok_load, src/tok/vocab.c), as --vocab reads it.
 * A vocabulary that loads must encode and decode any bytes back to themselves. */
#include "bmx/tok.h"
#include "fuzz.h"

static const char sample[] =
    "Hello, world! The quick brown fox\n\t  jumps 12345 \xc3\xa9\xe2\x82\xac "
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaa bbbbbbbbbb \xff\xfe";

/* The last 4 bytes: the CRC-32 of every byte before them. */
static void fix_crc(unsigned char *data, size_t size)
{
    if (size >= 4)
        fuzz_put32(data + size - 4, bmx_crc32(0, data, size - 4));
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size)
{
    const char *p = fuzz_input("x.vocab", in, size, fix_crc);
    bmx_tok *t = NULL;
    bmx_err err = {0};
    int rc;
    uint32_t *ids = NULL;
    size_t n = 0, cap = 0, blen = 0, bcap = 0;
    unsigned char *bytes = NULL;

    rc = bmx_tok_load(&t, p, &err);
    fuzz_check_err(rc, &err);
    if (rc)
        return 0;
    rc = bmx_tok_encode(t, sample, sizeof sample - 1, &ids, &n, &cap, &err);
    fuzz_check_err(rc, &err);
    if (!rc) {
        for (size_t i = 0; i < n; i++)
            if (ids[i] >= bmx_tok_vocab_size(t) || ids[i] == bmx_tok_eot(t))
                fuzz_fail("encode gave id %u (vocab %u, eot %u)", ids[i], bmx_tok_vocab_size(t),
                          bmx_tok_eot(t));
        rc = bmx_tok_decode(t, ids, n, &bytes, &blen, &bcap, &err);
        fuzz_check_err(rc, &err);
        if (!rc && (blen != sizeof sample - 1 || memcmp(bytes, sample, blen) != 0))
            fuzz_fail("decode(encode(x)) != x (%zu bytes back of %zu)", blen, sizeof sample - 1);
    }
    free(ids);
    free(bytes);
    bmx_tok_free(t);
    return 0;
}
