/* tests/fixture.h - read the binary fixtures written by tests/ref/torch_gpt.py.
 *
 * A fixture: 32-byte header (magic "BMXFIX01", u32 dtype 1=f64 2=i32 3=f32, u32 CRC-32 of the
 * data, u64 element count, u64 zero) then little-endian data. fixture_load checks all of it and
 * returns NULL with a message in fixture_msg when anything is off.
 */
#ifndef BMX_TESTS_FIXTURE_H
#define BMX_TESTS_FIXTURE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bmx/core.h"

enum { FIX_F64 = 1, FIX_I32 = 2, FIX_F32 = 3 };

static char fixture_msg[700];

static void *fixture_load(const char *dir, const char *name, uint32_t dtype, size_t *count)
{
    char path[300];
    unsigned char h[32];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(fixture_msg, sizeof fixture_msg, "%s: cannot open", path);
        return NULL;
    }
    uint32_t dt, crc;
    uint64_t n, zero;
    size_t esz = dtype == FIX_F64 ? 8 : 4;
    void *data = NULL;
    if (fread(h, 1, 32, f) != 32 || memcmp(h, "BMXFIX01", 8) != 0) {
        snprintf(fixture_msg, sizeof fixture_msg, "%s: not a fixture (bad magic)", path);
        goto out;
    }
    memcpy(&dt, h + 8, 4);
    memcpy(&crc, h + 12, 4);
    memcpy(&n, h + 16, 8);
    memcpy(&zero, h + 24, 8);
    if (dt != dtype || zero != 0 || n > ((uint64_t)1 << 28)) {
        snprintf(fixture_msg, sizeof fixture_msg, "%s: dtype %u (want %u) or count bad", path, dt,
                 dtype);
        goto out;
    }
    data = malloc(n * esz + 1);
    if (!data || fread(data, esz, n, f) != n || fgetc(f) != EOF ||
        bmx_crc32(0, data, n * esz) != crc) {
        snprintf(fixture_msg, sizeof fixture_msg, "%s: truncated, too long or bad checksum", path);
        free(data);
        data = NULL;
        goto out;
    }
    *count = (size_t)n;
out:
    fclose(f);
    return data;
}

#endif
