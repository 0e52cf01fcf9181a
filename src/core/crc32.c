/* CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320): zlib's crc32, which works on
 * several bytes at a time (several times faster than a bytewise table; corpus import CRCs
 * every byte it reads and writes). */
#include "bmx/core.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

uint32_t bmx_crc32(uint32_t crc, const void *data, size_t len)
{
    const unsigned char *p = data;

    while (len > 0) {
        uInt k = len > (1u << 30) ? (1u << 30) : (uInt)len;
        crc = (uint32_t)crc32(crc, p, k);
        p += k;
        len -= k;
    }
    return crc;
}

int bmx_crc32_file(const char *path, uint32_t *crc, bmx_err *err)
{
    unsigned char buf[1 << 16];
    FILE *f = fopen(path, "rb");
    uint32_t c = 0;
    size_t k;
    int bad;

    if (!f)
        return bmx_err_set(err, BMX_EIO, "cannot open %s: %s", path, strerror(errno));
    while ((k = fread(buf, 1, sizeof buf, f)) > 0)
        c = bmx_crc32(c, buf, k);
    bad = ferror(f);
    fclose(f);
    if (bad)
        return bmx_err_set(err, BMX_EIO, "cannot read %s", path);
    *crc = c;
    return BMX_OK;
}
