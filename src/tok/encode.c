/* Encoding (pre-tokens, then BPE merges by rank) and decoding. */
#include "tok_internal.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

/* Pieces up to this many bytes merge by rescanning a small rank array; longer ones (a 10 MB
 * run of letters is one piece) through a heap, in O(m log m). */
#define SHORT_PIECE 128

/* Cache of pre-token -> ids, direct-mapped; one per thread, never shared. */
#define CACHE_KEY 14
#define CACHE_IDS 12
struct cache_ent {
    unsigned char klen, nids;
    unsigned char key[CACHE_KEY];
    uint32_t ids[CACHE_IDS];
};

struct enc_ctx {
    uint32_t *w, *r, *res; /* short pieces: ids, pair ranks, pair results */
    uint32_t *next, *prev; /* long pieces: linked list over byte positions */
    uint64_t *heap;        /* long pieces: (rank << 32 | position) min-heap */
    size_t cap;            /* capacity of the arrays above, in elements */
    struct cache_ent *cache;
    uint64_t cache_mask;
    int cache_shift;
};

static void ctx_free(struct enc_ctx *c)
{
    free(c->w), free(c->r), free(c->res), free(c->next), free(c->prev), free(c->heap);
    free(c->cache);
    memset(c, 0, sizeof *c);
}

/* cache_bits 0: no cache. */
static int ctx_init(struct enc_ctx *c, int cache_bits)
{
    memset(c, 0, sizeof *c);
    if (cache_bits) {
        c->cache = calloc((size_t)1 << cache_bits, sizeof *c->cache);
        if (!c->cache)
            return -1;
        c->cache_mask = ((uint64_t)1 << cache_bits) - 1;
        c->cache_shift = 64 - cache_bits;
    }
    return 0;
}

static int ctx_reserve(struct enc_ctx *c, size_t m)
{
    if (m <= c->cap)
        return 0;
    size_t nc = c->cap ? c->cap : 256;
    while (nc < m)
        nc *= 2;
    free(c->w), free(c->r), free(c->res), free(c->next), free(c->prev), free(c->heap);
    c->w = malloc(nc * sizeof *c->w);
    c->r = malloc(nc * sizeof *c->r);
    c->res = malloc(nc * sizeof *c->res);
    c->next = malloc(nc * sizeof *c->next);
    c->prev = malloc(nc * sizeof *c->prev);
    c->heap = malloc(nc * 2 * sizeof *c->heap);
    c->cap = nc;
    if (!c->w || !c->r || !c->res || !c->next || !c->prev || !c->heap) {
        c->cap = 0;
        return -1;
    }
    return 0;
}

/* BPE of a short piece into c->w; returns the number of ids. */
static size_t bpe_short(const bmx_tok *t, struct enc_ctx *c, const unsigned char *p, size_t m)
{
    uint32_t *w = c->w, *r = c->r, *res = c->res;
    size_t n = m;

    for (size_t i = 0; i < m; i++)
        w[i] = t->byte_id[p[i]];
    for (size_t i = 0; i + 1 < m; i++)
        r[i] = tok_rank(t, w[i], w[i + 1], &res[i]);
    while (n >= 2) {
        uint32_t best = TOK_NO_RANK;
        size_t bi = 0;
        for (size_t i = 0; i + 1 < n; i++)
            if (r[i] < best)
                best = r[i], bi = i;
        if (best == TOK_NO_RANK)
            break;
        w[bi] = res[bi];
        memmove(w + bi + 1, w + bi + 2, (n - bi - 2) * sizeof *w);
        if (n - bi >= 3) {
            memmove(r + bi + 1, r + bi + 2, (n - bi - 3) * sizeof *r);
            memmove(res + bi + 1, res + bi + 2, (n - bi - 3) * sizeof *res);
        }
        n--;
        if (bi + 1 < n)
            r[bi] = tok_rank(t, w[bi], w[bi + 1], &res[bi]);
        if (bi > 0)
            r[bi - 1] = tok_rank(t, w[bi - 1], w[bi], &res[bi - 1]);
    }
    return n;
}

static void heap_push(uint64_t *h, size_t *n, uint64_t v)
{
    size_t i = (*n)++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (h[p] <= v)
            break;
        h[i] = h[p];
        i = p;
    }
    h[i] = v;
}

static uint64_t heap_pop(uint64_t *h, size_t *n)
{
    uint64_t top = h[0], v = h[--*n];
    size_t i = 0, m = *n;
    for (;;) {
        size_t l = 2 * i + 1, s;
        if (l >= m)
            break;
        s = (l + 1 < m && h[l + 1] < h[l]) ? l + 1 : l;
        if (h[s] >= v)
            break;
        h[i] = h[s];
        i = s;
    }
    if (m)
        h[i] = v;
    return top;
}

#define NIL UINT32_MAX

/* BPE of a long piece (m < 2^32 - 1): always merge the lowest-ranked pair, leftmost first,
 * exactly as the short path; the result is compacted into c->w. */
static size_t bpe_long(const bmx_tok *t, struct enc_ctx *c, const unsigned char *p, size_t m)
{
    uint32_t *w = c->w, *next = c->next, *prev = c->prev, res;
    uint64_t *h = c->heap;
    size_t nh = 0, n = 0;

    for (size_t i = 0; i < m; i++) {
        w[i] = t->byte_id[p[i]];
        next[i] = i + 1 < m ? (uint32_t)(i + 1) : NIL;
        prev[i] = i ? (uint32_t)(i - 1) : NIL;
    }
    for (size_t i = 0; i + 1 < m; i++) {
        uint32_t r = tok_rank(t, w[i], w[i + 1], &res);
        if (r != TOK_NO_RANK)
            heap_push(h, &nh, (uint64_t)r << 32 | i);
    }
    while (nh) {
        uint64_t top = heap_pop(h, &nh);
        uint32_t r = (uint32_t)(top >> 32), i = (uint32_t)top, j = next[i], k;
        /* stale entry: i was absorbed (prev link broken), or the pair at i changed */
        if (j == NIL || w[i] == NIL || tok_rank(t, w[i], w[j], &res) != r)
            continue;
        w[i] = res;
        w[j] = NIL;
        k = next[j];
        next[i] = k;
        if (k != NIL)
            prev[k] = i;
        if (prev[i] != NIL) {
            uint32_t rr = tok_rank(t, w[prev[i]], w[i], &res);
            if (rr != TOK_NO_RANK)
                heap_push(h, &nh, (uint64_t)rr << 32 | prev[i]);
        }
        if (k != NIL) {
            uint32_t rr = tok_rank(t, w[i], w[k], &res);
            if (rr != TOK_NO_RANK)
                heap_push(h, &nh, (uint64_t)rr << 32 | i);
        }
    }
    for (uint32_t i = 0; i != NIL; i = next[i])
        w[n++] = w[i];
    return n;
}

static inline uint64_t key_hash(const unsigned char *p, size_t m)
{
    uint64_t a = 0, b = 0;
    memcpy(&a, p, m < 8 ? m : 8);
    if (m > 8)
        memcpy(&b, p + 8, m - 8);
    a = (a ^ (b * 0xC2B2AE3D27D4EB4Full) ^ m) * 0x9E3779B97F4A7C15ull;
    return a ^ (a >> 29);
}

static int grow_ids(uint32_t **ids, size_t *cap, size_t want)
{
    if (want <= *cap)
        return 0;
    size_t nc = *cap ? *cap : 1024;
    while (nc < want)
        nc *= 2;
    uint32_t *ni = realloc(*ids, nc * sizeof *ni);
    if (!ni)
        return -1;
    *ids = ni;
    *cap = nc;
    return 0;
}

static int encode_ctx(const bmx_tok *t, struct enc_ctx *c, const unsigned char *s, size_t len,
                      uint32_t **ids, size_t *n, size_t *cap, bmx_err *err)
{
    size_t pos = 0;

    while (pos < len) {
        size_t end = bmx_tok_pretoken_end(s, len, pos), m = end - pos, k;
        const unsigned char *p = s + pos;
        struct cache_ent *ce = NULL;

        pos = end;
        if (*n + m > *cap && grow_ids(ids, cap, *n + m) < 0)
            return bmx_err_set(err, BMX_ENOMEM, "out of memory encoding %zu bytes", len);
        if (m == 1) {
            (*ids)[(*n)++] = t->byte_id[p[0]];
            continue;
        }
        if (c->cache && m <= CACHE_KEY) {
            ce = &c->cache[key_hash(p, m) >> c->cache_shift];
            if (ce->klen == m && memcmp(ce->key, p, m) == 0) {
                memcpy(*ids + *n, ce->ids, ce->nids * sizeof **ids);
                *n += ce->nids;
                continue;
            }
        }
        if (m >= UINT32_MAX)
            return bmx_err_set(err, BMX_EINVAL,
                               "a pre-token of %zu bytes is too long (at most "
                               "4 GiB)",
                               m);
        if (ctx_reserve(c, m) < 0)
            return bmx_err_set(err, BMX_ENOMEM, "out of memory for a pre-token of %zu bytes", m);
        k = m <= SHORT_PIECE ? bpe_short(t, c, p, m) : bpe_long(t, c, p, m);
        memcpy(*ids + *n, c->w, k * sizeof **ids);
        *n += k;
        if (ce && k <= CACHE_IDS) {
            ce->klen = (unsigned char)m;
            ce->nids = (unsigned char)k;
            memcpy(ce->key, p, m);
            memcpy(ce->ids, c->w, k * sizeof *c->w);
        }
    }
    return BMX_OK;
}

int bmx_tok_encode(const bmx_tok *t, const void *text, size_t len, uint32_t **ids, size_t *n,
                   size_t *cap, bmx_err *err)
{
    struct enc_ctx c;
    int rc;

    if (len && !text)
        return bmx_err_set(err, BMX_EINVAL, "bmx_tok_encode: text is NULL");
    /* a cache only pays for itself on longer texts */
    if (ctx_init(&c, len >= (1 << 16) ? 14 : 0) < 0)
        return bmx_err_set(err, BMX_ENOMEM, "out of memory");
    rc = encode_ctx(t, &c, text, len, ids, n, cap, err);
    ctx_free(&c);
    return rc;
}

int bmx_tok_encode_many(const bmx_tok *t, const void *const *docs, const size_t *lens, size_t ndocs,
                        int nthreads, uint32_t **out, size_t *nout, bmx_err *err)
{
    int rc = BMX_OK, nt = nthreads > 0 ? nthreads : omp_get_num_procs();
    long long failed = -1;
    bmx_err first = {0};

    if (nt > 256)
        nt = 256;
    for (size_t i = 0; i < ndocs; i++)
        out[i] = NULL, nout[i] = 0;
#pragma omp parallel num_threads(nt)
    {
        struct enc_ctx c;
        bmx_err e = {0};
        int ok = ctx_init(&c, 14) == 0;
#pragma omp for schedule(dynamic, 1)
        for (size_t i = 0; i < ndocs; i++) {
            size_t cap = 0;
            int r;
            if (!ok) {
                r = bmx_err_set(&e, BMX_ENOMEM, "out of memory");
            } else {
                r = encode_ctx(t, &c, docs[i], lens[i], &out[i], &nout[i], &cap, &e);
                if (r == BMX_OK && !out[i])
                    out[i] = malloc(sizeof **out); /* empty document: a valid pointer */
                if (r == BMX_OK && !out[i])
                    r = bmx_err_set(&e, BMX_ENOMEM, "out of memory");
            }
            if (r < 0) {
#pragma omp critical(bmx_tok_encode_many)
                if (failed < 0 || (long long)i < failed) {
                    failed = (long long)i;
                    first = e;
                }
            }
        }
        ctx_free(&c);
    }
    if (failed >= 0) {
        for (size_t i = 0; i < ndocs; i++)
            free(out[i]), out[i] = NULL, nout[i] = 0;
        rc = bmx_err_set(err, first.code, "document %lld: %s", failed, first.msg);
    }
    return rc;
}

int bmx_tok_decode(const bmx_tok *t, const uint32_t *ids, size_t n, unsigned char **bytes,
                   size_t *len, size_t *cap, bmx_err *err)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t id = ids[i];
        size_t l;
        if (id >= t->vocab_size)
            return bmx_err_set(err, BMX_EINVAL,
                               "token %zu has id %u, outside the vocabulary "
                               "(size %u)",
                               i, id, t->vocab_size);
        l = (size_t)(t->tok_off[id + 1] - t->tok_off[id]);
        if (l == 0)
            continue; /* end-of-text */
        if (tok_reserve(bytes, cap, *len + l, 4096) < 0)
            return bmx_err_set(err, BMX_ENOMEM, "out of memory decoding");
        memcpy(*bytes + *len, t->tok_bytes + t->tok_off[id], l);
        *len += l;
    }
    return BMX_OK;
}
