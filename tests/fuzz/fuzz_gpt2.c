/* Fuzz target: GPT-2's encoder.json and vocab.bpe (bmx_tok_load_gpt2, src/tok/vocab.c), as
 * --gpt2-dir reads them. The input is encoder.json, a NUL byte, then vocab.bpe (no NUL:
 * both files are empty past it). A vocabulary that loads must round-trip bytes. */
#include "bmx/tok.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, 0, size);
    size_t n1 = nul ? (size_t)(nul - data) : size;
    const char *ej = fuzz_file("encoder.json", data, n1);
    const char *vb = fuzz_file("vocab.bpe", nul ? nul + 1 : data, nul ? size - n1 - 1 : 0);
    bmx_tok *t = NULL;
    bmx_err err = {0};
    int rc = bmx_tok_load_gpt2(&t, ej, vb, &err);
    static const char sample[] = "ab ba abab \xc4\xa0x!\n";
    uint32_t *ids = NULL;
    size_t n = 0, cap = 0, blen = 0, bcap = 0;
    unsigned char *bytes = NULL;

    fuzz_check_err(rc, &err);
    if (rc)
        return 0;
    if (!bmx_tok_encode(t, sample, sizeof sample - 1, &ids, &n, &cap, &err) &&
        !bmx_tok_decode(t, ids, n, &bytes, &blen, &bcap, &err) &&
        (blen != sizeof sample - 1 || memcmp(bytes, sample, blen) != 0))
        fuzz_fail("decode(encode(x)) != x");
    free(ids);
    free(bytes);
    bmx_tok_free(t);
    return 0;
}
