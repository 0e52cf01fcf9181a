/* BPE training: count pre-tokens (hash map, one per thread), then merge pairs over the unique
 * words with incremental pair counts and a max-heap (ties: smaller left id, then smaller right
 * id), so the result depends only on the input bytes. */
#include "tok_internal.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

/* ---- pre-token counting ---- */

struct wmap {
    uint64_t *hash; /* 0 = empty slot */
    uint64_t *off;  /* key offset in arena */
    uint32_t *klen;
    uint64_t *count;
    size_t n, cap;
    unsigned char *arena;
    size_t alen, acap;
};

static uint64_t bytes_hash(const unsigned char *p, size_t n)
{
    uint64_t h = 0xCBF29CE484222325ull ^ n;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t v;
        memcpy(&v, p + i, 8);
        h = (h ^ v) * 0x100000001B3ull;
        h ^= h >> 32;
    }
    for (; i < n; i++)
        h = (h ^ p[i]) * 0x100000001B3ull;
    h ^= h >> 29;
    h *= 0x9E3779B97F4A7C15ull;
    h ^= h >> 32;
    return h ? h : 1;
}

static void wmap_free(struct wmap *m)
{
    free(m->hash), free(m->off), free(m->klen), free(m->count), free(m->arena);
    memset(m, 0, sizeof *m);
}

static int wmap_grow(struct wmap *m)
{
    size_t nc = m->cap ? m->cap * 2 : 1 << 12;
    uint64_t *h = calloc(nc, sizeof *h), *o = malloc(nc * sizeof *o), *c = malloc(nc * sizeof *c);
    uint32_t *l = malloc(nc * sizeof *l);
    if (!h || !o || !c || !l) {
        free(h), free(o), free(c), free(l);
        return -1;
    }
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->hash[i])
            continue;
        size_t j = m->hash[i] & (nc - 1);
        while (h[j])
            j = (j + 1) & (nc - 1);
        h[j] = m->hash[i], o[j] = m->off[i], l[j] = m->klen[i], c[j] = m->count[i];
    }
    free(m->hash), free(m->off), free(m->klen), free(m->count);
    m->hash = h, m->off = o, m->klen = l, m->count = c, m->cap = nc;
    return 0;
}

static int wmap_add(struct wmap *m, const unsigned char *p, size_t n, uint64_t h, uint64_t cnt)
{
    size_t j;
    if (2 * (m->n + 1) > m->cap && wmap_grow(m) < 0)
        return -1;
    for (j = h & (m->cap - 1); m->hash[j]; j = (j + 1) & (m->cap - 1))
        if (m->hash[j] == h && m->klen[j] == n && memcmp(m->arena + m->off[j], p, n) == 0) {
            m->count[j] += cnt;
            return 0;
        }
    if (tok_reserve(&m->arena, &m->acap, m->alen + n, 1 << 16) < 0)
        return -1;
    memcpy(m->arena + m->alen, p, n);
    m->hash[j] = h, m->off[j] = m->alen, m->klen[j] = (uint32_t)n, m->count[j] = cnt;
    m->alen += n;
    m->n++;
    return 0;
}

/* Count the pre-tokens of s[0..len) of 2+ bytes (single bytes never merge). */
static int count_text(struct wmap *m, const unsigned char *s, size_t len)
{
    size_t pos = 0;
    while (pos < len) {
        size_t end = bmx_tok_pretoken_end(s, len, pos), n = end - pos;
        if (n >= 2 && (n >= UINT32_MAX || wmap_add(m, s + pos, n, bytes_hash(s + pos, n), 1) < 0))
            return -1;
        pos = end;
    }
    return 0;
}

struct seg {
    const unsigned char *p;
    size_t len;
};

/* Split a text into segments of about `target` bytes at positions that are always
 * pre-token boundaries: an ASCII whitespace byte after an ASCII non-whitespace byte (no
 * pre-token holds a non-space followed by a space). */
static int split_text(const unsigned char *s, size_t len, size_t target, struct seg **segs,
                      size_t *n, size_t *cap)
{
    size_t start = 0;
    while (start < len) {
        size_t e = start + target;
        if (e >= len) {
            e = len;
        } else {
            while (e < len && !(bmx_tok_ascii_class[s[e] & 0x7F] == TOK_SPACE && s[e] < 0x80 &&
                                s[e - 1] < 0x80 && bmx_tok_ascii_class[s[e - 1]] != TOK_SPACE))
                e++;
        }
        if (*n == *cap) {
            size_t nc = *cap ? *cap * 2 : 64;
            struct seg *ns = realloc(*segs, nc * sizeof *ns);
            if (!ns)
                return -1;
            *segs = ns, *cap = nc;
        }
        (*segs)[(*n)++] = (struct seg){s + start, e - start};
        start = e;
    }
    return 0;
}

/* ---- merging ---- */

struct vec {
    uint32_t *v;
    uint32_t n, cap;
};

struct trainer {
    /* words */
    uint32_t *ids;  /* all words' ids, back to back */
    uint64_t *woff; /* word w: ids[woff[w] .. woff[w] + wlen[w]) */
    uint32_t *wlen;
    uint64_t *wcnt;
    uint32_t *wstamp;
    size_t nw;
    /* pairs */
    uint64_t *pkey; /* map slot -> pair key; UINT64_MAX empty */
    uint32_t *pidx; /* map slot -> pair index */
    uint64_t pmask;
    uint32_t *pa, *pb;
    int64_t *pcnt;
    struct vec *where;
    uint32_t *pstamp;
    size_t np, pcap;
    /* heap of pair indices, by (count desc, a asc, b asc) */
    struct hent {
        int64_t cnt;
        uint32_t p;
    } * heap;
    size_t nh, hcap;
    /* pairs whose count rose during the current merge */
    uint32_t *touched;
    size_t nt, tcap;
    uint32_t step;
};

static uint64_t pair_slot(uint64_t key, uint64_t mask)
{
    return (key * 0x9E3779B97F4A7C15ull >> 17) & mask;
}

static int pmap_grow(struct trainer *T)
{
    uint64_t nc = (T->pmask + 1) * 2, *nk = malloc(nc * sizeof *nk);
    uint32_t *ni = malloc(nc * sizeof *ni);
    if (!nk || !ni) {
        free(nk), free(ni);
        return -1;
    }
    memset(nk, 0xFF, nc * sizeof *nk);
    for (uint64_t i = 0; i <= T->pmask; i++) {
        if (T->pkey[i] == UINT64_MAX)
            continue;
        uint64_t j = pair_slot(T->pkey[i], nc - 1);
        while (nk[j] != UINT64_MAX)
            j = (j + 1) & (nc - 1);
        nk[j] = T->pkey[i], ni[j] = T->pidx[i];
    }
    free(T->pkey), free(T->pidx);
    T->pkey = nk, T->pidx = ni, T->pmask = nc - 1;
    return 0;
}

/* Index of pair (a, b), created with count 0 if new; UINT32_MAX when out of memory. */
static uint32_t pair_get(struct trainer *T, uint32_t a, uint32_t b)
{
    uint64_t key = (uint64_t)a << 32 | b, j;
    if (2 * (T->np + 1) > T->pmask + 1 && pmap_grow(T) < 0)
        return UINT32_MAX;
    for (j = pair_slot(key, T->pmask); T->pkey[j] != UINT64_MAX; j = (j + 1) & T->pmask)
        if (T->pkey[j] == key)
            return T->pidx[j];
    if (T->np == T->pcap) {
        size_t nc = T->pcap ? T->pcap * 2 : 1 << 12;
        uint32_t *na = realloc(T->pa, nc * sizeof *na);
        if (na)
            T->pa = na;
        uint32_t *nb = realloc(T->pb, nc * sizeof *nb);
        if (nb)
            T->pb = nb;
        int64_t *ncn = realloc(T->pcnt, nc * sizeof *ncn);
        if (ncn)
            T->pcnt = ncn;
        struct vec *nw = realloc(T->where, nc * sizeof *nw);
        if (nw)
            T->where = nw;
        uint32_t *ns = realloc(T->pstamp, nc * sizeof *ns);
        if (ns)
            T->pstamp = ns;
        if (!na || !nb || !ncn || !nw || !ns)
            return UINT32_MAX;
        T->pcap = nc;
    }
    uint32_t p = (uint32_t)T->np++;
    T->pa[p] = a, T->pb[p] = b, T->pcnt[p] = 0, T->pstamp[p] = 0;
    T->where[p] = (struct vec){0};
    T->pkey[j] = key, T->pidx[j] = p;
    return p;
}

static int vec_push(struct vec *v, uint32_t x)
{
    if (v->n && v->v[v->n - 1] == x)
        return 0;
    if (v->n == v->cap) {
        uint32_t nc = v->cap ? v->cap * 2 : 4;
        uint32_t *nv = realloc(v->v, (size_t)nc * sizeof *nv);
        if (!nv)
            return -1;
        v->v = nv, v->cap = nc;
    }
    v->v[v->n++] = x;
    return 0;
}

/* a ranks before b in the heap */
static int hbefore(const struct trainer *T, struct hent a, struct hent b)
{
    if (a.cnt != b.cnt)
        return a.cnt > b.cnt;
    if (T->pa[a.p] != T->pa[b.p])
        return T->pa[a.p] < T->pa[b.p];
    return T->pb[a.p] < T->pb[b.p];
}

static int hpush(struct trainer *T, uint32_t p)
{
    if (T->nh == T->hcap) {
        size_t nc = T->hcap ? T->hcap * 2 : 1 << 12;
        struct hent *nh = realloc(T->heap, nc * sizeof *nh);
        if (!nh)
            return -1;
        T->heap = nh, T->hcap = nc;
    }
    struct hent v = {T->pcnt[p], p};
    size_t i = T->nh++;
    while (i > 0) {
        size_t q = (i - 1) / 2;
        if (!hbefore(T, v, T->heap[q]))
            break;
        T->heap[i] = T->heap[q];
        i = q;
    }
    T->heap[i] = v;
    return 0;
}

static struct hent hpop(struct trainer *T)
{
    struct hent top = T->heap[0], v = T->heap[--T->nh];
    size_t i = 0, m = T->nh;
    for (;;) {
        size_t l = 2 * i + 1, s;
        if (l >= m)
            break;
        s = (l + 1 < m && hbefore(T, T->heap[l + 1], T->heap[l])) ? l + 1 : l;
        if (!hbefore(T, T->heap[s], v))
            break;
        T->heap[i] = T->heap[s];
        i = s;
    }
    if (m)
        T->heap[i] = v;
    return top;
}

/* Add d (times the word's count) to pair (a, b) as seen in word w. */
static int pair_add(struct trainer *T, uint32_t a, uint32_t b, int64_t d, uint32_t w)
{
    uint32_t p = pair_get(T, a, b);
    if (p == UINT32_MAX)
        return -1;
    T->pcnt[p] += d;
    if (d > 0) {
        if (vec_push(&T->where[p], w) < 0)
            return -1;
        if (T->pstamp[p] != T->step) {
            T->pstamp[p] = T->step;
            if (T->nt == T->tcap) {
                size_t nc = T->tcap ? T->tcap * 2 : 1024;
                uint32_t *nt = realloc(T->touched, nc * sizeof *nt);
                if (!nt)
                    return -1;
                T->touched = nt, T->tcap = nc;
            }
            T->touched[T->nt++] = p;
        }
    }
    return 0;
}

/* Replace every (a, b) in the words listed for pair p by c, updating pair counts. */
static int merge_pair(struct trainer *T, uint32_t p, uint32_t c)
{
    uint32_t a = T->pa[p], b = T->pb[p];
    struct vec list = T->where[p];

    T->where[p] = (struct vec){0};
    for (uint32_t k = 0; k < list.n; k++) {
        uint32_t w = list.v[k], len = T->wlen[w], i = 0, j = 0;
        uint32_t *x = T->ids + T->woff[w];
        int64_t cnt = (int64_t)T->wcnt[w];
        if (T->wstamp[w] == T->step)
            continue;
        T->wstamp[w] = T->step;
        while (i < len) {
            if (i + 1 < len && x[i] == a && x[i + 1] == b) {
                if (j > 0 &&
                    (pair_add(T, x[j - 1], a, -cnt, w) < 0 || pair_add(T, x[j - 1], c, cnt, w) < 0))
                    goto oom;
                if (i + 2 < len &&
                    (pair_add(T, b, x[i + 2], -cnt, w) < 0 || pair_add(T, c, x[i + 2], cnt, w) < 0))
                    goto oom;
                T->pcnt[p] -= cnt;
                x[j++] = c;
                i += 2;
            } else {
                x[j++] = x[i++];
            }
        }
        T->wlen[w] = j;
    }
    free(list.v);
    return 0;
oom:
    free(list.v);
    return -1;
}

static void trainer_free(struct trainer *T)
{
    free(T->ids), free(T->woff), free(T->wlen), free(T->wcnt), free(T->wstamp);
    free(T->pkey), free(T->pidx), free(T->pa), free(T->pb), free(T->pcnt), free(T->pstamp);
    for (size_t p = 0; p < T->np; p++)
        free(T->where[p].v);
    free(T->where), free(T->heap), free(T->touched);
}

/* Count the pre-tokenized words of every document, nt threads each into maps[k], then all of
 * them into maps[0] (the others freed). -1: out of memory. */
static int count_words(struct wmap *maps, int nt, const void *const *docs, const size_t *lens,
                       size_t ndocs)
{
    struct seg *segs = NULL;
    size_t nseg = 0, segcap = 0;
    int fail = 0;

    for (size_t d = 0; d < ndocs && !fail; d++)
        fail = split_text(docs[d], lens[d], 1 << 20, &segs, &nseg, &segcap) < 0;
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1) reduction(| : fail)
    for (size_t i = 0; i < nseg; i++)
        fail |= count_text(&maps[omp_get_thread_num()], segs[i].p, segs[i].len) < 0;
    free(segs);
    for (int k = 1; k < nt && !fail; k++) {
        for (size_t j = 0; j < maps[k].cap && !fail; j++)
            fail =
                maps[k].hash[j] && wmap_add(&maps[0], maps[k].arena + maps[k].off[j],
                                            maps[k].klen[j], maps[k].hash[j], maps[k].count[j]) < 0;
        wmap_free(&maps[k]);
    }
    return fail ? -1 : 0;
}

/* The trainer's words (ids, offsets, counts) from the word map, which is freed, then every
 * adjacent pair counted and queued. -1: out of memory. */
static int trainer_load(struct trainer *T, struct wmap *all)
{
    size_t total = 0;
    T->nw = all->n;
    T->ids = malloc((all->alen + 1) * sizeof *T->ids);
    T->woff = malloc((T->nw + 1) * sizeof *T->woff);
    T->wlen = malloc((T->nw + 1) * sizeof *T->wlen);
    T->wcnt = malloc((T->nw + 1) * sizeof *T->wcnt);
    T->wstamp = calloc(T->nw + 1, sizeof *T->wstamp);
    T->pkey = malloc((1 << 16) * sizeof *T->pkey);
    T->pidx = malloc((1 << 16) * sizeof *T->pidx);
    if (!T->ids || !T->woff || !T->wlen || !T->wcnt || !T->wstamp || !T->pkey || !T->pidx)
        return -1;
    memset(T->pkey, 0xFF, (1 << 16) * sizeof *T->pkey);
    T->pmask = (1 << 16) - 1;
    for (size_t j = 0, w = 0; j < all->cap; j++) {
        if (!all->hash[j])
            continue;
        T->woff[w] = total;
        T->wlen[w] = all->klen[j];
        T->wcnt[w] = all->count[j];
        for (uint32_t q = 0; q < all->klen[j]; q++)
            T->ids[total + q] = all->arena[all->off[j] + q];
        total += all->klen[j];
        w++;
    }
    wmap_free(all);
    T->step = 1; /* stamps 0 = never */
    for (uint32_t w = 0; w < T->nw; w++) {
        const uint32_t *x = T->ids + T->woff[w];
        for (uint32_t i = 0; i + 1 < T->wlen[w]; i++)
            if (pair_add(T, x[i], x[i + 1], (int64_t)T->wcnt[w], w) < 0)
                return -1;
    }
    for (size_t p = 0; p < T->np; p++)
        if (hpush(T, (uint32_t)p) < 0)
            return -1;
    return 0;
}

/* Merge the most frequent pair (a count of 2 or more) until want merges exist; each merge
 * (a, b, new id) into merges[3 * i ..]. How many, or -1: out of memory. */
static long run_merges(struct trainer *T, uint32_t *merges, uint32_t want)
{
    uint32_t nm = 0;
    T->nt = 0;
    while (nm < want && T->nh) {
        struct hent top = hpop(T);
        int64_t cur = T->pcnt[top.p];
        if (cur != top.cnt) {
            /* stale: the count fell (re-queue it) or rose (a newer entry exists) */
            if (cur < top.cnt && cur > 0 && hpush(T, top.p) < 0)
                return -1;
            continue;
        }
        if (cur < 2)
            break;
        T->step++;
        T->nt = 0;
        merges[3 * nm] = T->pa[top.p];
        merges[3 * nm + 1] = T->pb[top.p];
        merges[3 * nm + 2] = 256 + nm;
        if (merge_pair(T, top.p, 256 + nm) < 0)
            return -1;
        nm++;
        for (size_t k = 0; k < T->nt; k++)
            if (T->pcnt[T->touched[k]] > 0 && hpush(T, T->touched[k]) < 0)
                return -1;
    }
    return (long)nm;
}

int bmx_tok_train_docs(bmx_tok **out, const void *const *docs, const size_t *lens, size_t ndocs,
                       uint32_t vocab_size, int nthreads, bmx_err *err)
{
    struct wmap *maps = NULL;
    struct trainer T = {0};
    uint32_t byte_id[256], *merges = NULL, want;
    int nt = nthreads > 0 ? nthreads : omp_get_num_procs(), rc = BMX_ENOMEM;
    long nm;

    *out = NULL;
    if (vocab_size < 257 || vocab_size > (1u << 24))
        return bmx_err_set(err, BMX_EINVAL,
                           "vocabulary size %u: choose 257 (bytes + end-of-text) to 16777216",
                           vocab_size);
    if (nt > 256)
        nt = 256;
    want = vocab_size - 257;
    maps = calloc((size_t)nt, sizeof *maps);
    merges = malloc(((size_t)want * 3 + 1) * sizeof *merges);
    if (!maps || !merges || count_words(maps, nt, docs, lens, ndocs) < 0 ||
        trainer_load(&T, &maps[0]) < 0 || (nm = run_merges(&T, merges, want)) < 0)
        goto done;
    for (int b = 0; b < 256; b++)
        byte_id[b] = (uint32_t)b;
    rc = bmx_tok_build(out, byte_id, merges, (uint32_t)nm, 256 + (uint32_t)nm, 257 + (uint32_t)nm,
                       "trained vocabulary", err);
done:
    if (rc == BMX_ENOMEM)
        bmx_err_set(err, rc, "out of memory training the vocabulary");
    for (int k = 0; maps && k < nt; k++)
        wmap_free(&maps[k]);
    free(maps);
    free(merges);
    trainer_free(&T);
    return rc;
}

int bmx_tok_train(bmx_tok **out, const void *text, size_t len, uint32_t vocab_size, bmx_err *err)
{
    const void *docs[1] = {text};
    size_t lens[1] = {len};
    return bmx_tok_train_docs(out, docs, lens, len ? 1 : 0, vocab_size, 0, err);
}
