/* src/tok/tok_internal.h - what the files of module tok share (not public). */
#ifndef BMX_TOK_INTERNAL_H
#define BMX_TOK_INTERNAL_H

#include "bmx/tok.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

/* Character classes of the pre-tokenizer (utab.c, generated). */
enum { TOK_OTHER = 0, TOK_LETTER = 1, TOK_NUMBER = 2, TOK_SPACE = 3 };

struct bmx_tok_urange {
    uint32_t lo, hi;
    uint32_t cls;
};

extern const unsigned char bmx_tok_ascii_class[128];
extern const uint32_t bmx_tok_nranges;
extern const struct bmx_tok_urange bmx_tok_ranges[];

/* Room for want bytes in the growable buffer *buf of capacity *cap: when it lacks, the
 * capacity doubles from first (or *cap) until it is enough. -1 when out of memory (*buf and
 * *cap unchanged). */
static inline int tok_reserve(unsigned char **buf, size_t *cap, size_t want, size_t first)
{
    if (want <= *cap)
        return 0;
    size_t nc = *cap ? *cap : first;
    while (nc < want)
        nc *= 2;
    unsigned char *nb = realloc(*buf, nc);
    if (!nb)
        return -1;
    *buf = nb;
    *cap = nc;
    return 0;
}

#define TOK_NO_RANK UINT32_MAX

struct bmx_tok {
    uint32_t vocab_size, n_merges, eot;
    uint32_t byte_id[256];
    uint32_t *merges;  /* 3 * n_merges: left, right, result */
    uint64_t *tok_off; /* vocab_size + 1 offsets into tok_bytes */
    unsigned char *tok_bytes;
    struct tok_rm {
        uint64_t key; /* left << 32 | right; UINT64_MAX: empty slot */
        uint64_t val; /* rank << 32 | result */
    } * rm;           /* the rank map, key and value side by side (one cache line) */
    uint64_t rm_mask;
    int rm_shift;
};

/* Build a tokenizer from its parts (copied); checks that every id is defined once and each
 * merge joins ids defined before it. `what` names the source in error messages. */
int bmx_tok_build(bmx_tok **out, const uint32_t byte_id[256], const uint32_t *merges,
                  uint32_t n_merges, uint32_t eot, uint32_t vocab_size, const char *what,
                  bmx_err *err);

/* Rank of the pair (left, right) and the id it merges to; TOK_NO_RANK when it never merges. */
static inline uint32_t tok_rank(const bmx_tok *t, uint32_t left, uint32_t right, uint32_t *res)
{
    uint64_t key = (uint64_t)left << 32 | right;
    uint64_t i = (key * 0x9E3779B97F4A7C15ull) >> t->rm_shift;

    for (;; i = (i + 1) & t->rm_mask) {
        uint64_t k = t->rm[i].key;
        if (k == key) {
            uint64_t v = t->rm[i].val;
            *res = (uint32_t)v;
            return (uint32_t)(v >> 32);
        }
        if (k == UINT64_MAX)
            return TOK_NO_RANK;
    }
}

/* Class of the unit (one valid UTF-8 character, or one invalid byte) at s[pos]; its byte
 * length in *ulen. */
static inline int tok_unit(const unsigned char *s, size_t len, size_t pos, size_t *ulen)
{
    unsigned b0 = s[pos];
    uint32_t cp;
    size_t n;

    if (b0 < 0x80) {
        *ulen = 1;
        return bmx_tok_ascii_class[b0];
    }
    if (b0 >= 0xC2 && b0 <= 0xDF) {
        n = 2;
        cp = b0 & 0x1F;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
        n = 3;
        cp = b0 & 0x0F;
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
        n = 4;
        cp = b0 & 0x07;
    } else {
        *ulen = 1;
        return TOK_OTHER;
    }
    if (pos + n > len) {
        *ulen = 1;
        return TOK_OTHER;
    }
    for (size_t k = 1; k < n; k++) {
        unsigned b = s[pos + k];
        if ((b & 0xC0) != 0x80) {
            *ulen = 1;
            return TOK_OTHER;
        }
        cp = cp << 6 | (b & 0x3F);
    }
    if ((n == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
        (n == 4 && (cp < 0x10000 || cp > 0x10FFFF))) {
        *ulen = 1;
        return TOK_OTHER;
    }
    *ulen = n;
    {
        uint32_t lo = 0, hi = bmx_tok_nranges;
        while (lo < hi) {
            uint32_t mid = (lo + hi) / 2;
            if (bmx_tok_ranges[mid].hi < cp)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo < bmx_tok_nranges && bmx_tok_ranges[lo].lo <= cp)
            return (int)bmx_tok_ranges[lo].cls;
    }
    return TOK_OTHER;
}

#endif
