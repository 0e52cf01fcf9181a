/* Fuzz target: a mixing policy's saved state (bmx_mix_restore, src/mix/state.c).
 * Properties of a state that restores: saving it again gives the same bytes (the same size
 * and bytes when it is of the current version; an older version's state saves as the current
 * one, which restores and saves back byte for byte), and a few rounds of draw / observe /
 * step run without error beyond a clear status. */
#include "bmx/mix.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size)
{
    unsigned char *data = fuzz_copy(in, size), *again;
    bmx_mix *m = NULL;
    bmx_err err = {0};
    size_t len = 0;
    int rc;

    if (size >= 4 && fuzz_fix_crc(size)) /* CRC-32 of every byte before it */
        fuzz_put32(data + size - 4, bmx_crc32(0, data, size - 4));
    rc = bmx_mix_restore(&m, data, size, &err);
    fuzz_check_err(rc, &err);
    if (rc) {
        free(data);
        return 0;
    }
    if (bmx_mix_save(m, NULL, 0, &len, &err))
        fuzz_fail("restored state does not save: %s", err.msg);
    again = malloc(len);
    if (!again || bmx_mix_save(m, again, len, &len, &err))
        fuzz_fail("restored state does not save: %s", err.msg);
    if (size >= 8 && memcmp(again + 4, data + 4, 4) == 0) { /* the current version */
        if (len != size || memcmp(again, data, size) != 0)
            fuzz_fail("restored state does not save back byte for byte");
    } else {
        bmx_mix *m2 = NULL;
        unsigned char *third = malloc(len);
        size_t len2 = 0;
        if (!third || bmx_mix_restore(&m2, again, len, &err) ||
            bmx_mix_save(m2, third, len, &len2, &err) || len2 != len ||
            memcmp(third, again, len) != 0)
            fuzz_fail("an older version's state, saved as the current one, does not round-trip");
        bmx_mix_free(m2);
        free(third);
    }
    free(again);
    for (int r = 0; r < 3; r++) {
        int k = bmx_mix_arms(m);
        if (bmx_mix_needs_validation(m)) {
            double *vl = calloc((size_t)k, sizeof *vl);
            for (int i = 0; vl && i < k; i++)
                vl[i] = 2.0 + 0.01 * i;
            if (vl)
                fuzz_check_err(bmx_mix_observe_validation(m, vl, &err), &err);
            free(vl);
        }
        int arm = bmx_mix_draw(m);
        const double *pi = bmx_mix_probs(m);
        double s = 0;
        if (arm == -1 && bmx_mix_exhausted(m))
            break; /* max-epochs capped every arm */
        if (arm < 0 || arm >= k)
            fuzz_fail("draw gave arm %d of %d", arm, k);
        for (int i = 0; i < k; i++)
            s += pi[i];
        if (!(s > 0.999999 && s < 1.000001))
            fuzz_fail("pi sums to %.17g", s);
        if (!strcmp(bmx_mix_name(m), "doremi")) {
            double *ex = calloc((size_t)k, sizeof *ex), *tok = calloc((size_t)k, sizeof *tok);
            if (ex && tok) {
                ex[arm] = 0.5;
                tok[arm] = 10;
                fuzz_check_err(bmx_mix_observe_excess(m, ex, tok, &err), &err);
            }
            free(ex);
            free(tok);
        } else {
            fuzz_check_err(bmx_mix_observe(m, arm, 2.5, &err), &err);
        }
        rc = bmx_mix_step(m, &err);
        fuzz_check_err(rc, &err);
        if (rc)
            break;
    }
    bmx_mix_free(m);
    free(data);
    return 0;
}
