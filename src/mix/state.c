/* Saving and restoring a policy's whole state (bmx/mix.h).
 *
 * Format, version 1, every integer little-endian, doubles as their IEEE-754 bits:
 *   "BMXM"          magic (4 bytes)
 *   u32 version     1
 *   u32 n, n bytes  the policy's name (no NUL), n <= 64
 *   u32 k           arms
 *   u32 arrays      bit mask of the per-arm arrays that follow (fixed by the policy)
 *   f64 alpha, beta, eta, c
 *   i64 warmup, vocab, t
 *   u64 s[4]        the generator
 *   f64 [k] ...     each array of the mask in bit order (pi, base, estimates, aux, lambda,
 *                   pending sums, pending counts)
 *   u32 crc         CRC-32 of every byte before it
 */
#include "mix_internal.h"

#include <string.h>

#define MIX_MAGIC      "BMXM"
#define MIX_VERSION    1u
#define MIX_NAME_MAX   64u
#define MIX_FIXED_HEAD (4 + 4 + 4)                     /* magic, version, name length */
#define MIX_FIXED_BODY (4 + 4 + 4 * 8 + 3 * 8 + 4 * 8) /* k .. rng */

static int popcount(unsigned x)
{
    int n = 0;

    for (; x; x &= x - 1)
        n++;
    return n;
}

static size_t state_size(size_t name_len, int k, unsigned arrays)
{
    return MIX_FIXED_HEAD + name_len + MIX_FIXED_BODY + (size_t)popcount(arrays) * (size_t)k * 8 +
           4;
}

static unsigned char *put_u32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
    return p + 4;
}

static unsigned char *put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
    return p + 8;
}

static unsigned char *put_f64(unsigned char *p, double v)
{
    uint64_t u;

    memcpy(&u, &v, 8);
    return put_u64(p, u);
}

static uint32_t get_u32(const unsigned char **p)
{
    uint32_t v = 0;

    for (int i = 0; i < 4; i++)
        v |= (uint32_t)(*p)[i] << (8 * i);
    *p += 4;
    return v;
}

static uint64_t get_u64(const unsigned char **p)
{
    uint64_t v = 0;

    for (int i = 0; i < 8; i++)
        v |= (uint64_t)(*p)[i] << (8 * i);
    *p += 8;
    return v;
}

static double get_f64(const unsigned char **p)
{
    uint64_t u = get_u64(p);
    double v;

    memcpy(&v, &u, 8);
    return v;
}

int bmx_mix_save(const bmx_mix *m, void *buf, size_t cap, size_t *len, bmx_err *err)
{
    size_t nlen = strlen(m->pol->name);
    size_t need = state_size(nlen, m->k, m->pol->arrays);
    unsigned char *p = buf, *start = buf;

    if (!len)
        return bmx_err_set(err, BMX_EINVAL, "bmx_mix_save: len is NULL");
    *len = need;
    if (!buf)
        return 0;
    if (cap < need)
        return bmx_err_set(err, BMX_EINVAL,
                           "mix state: buffer of %zu bytes is too small; it needs %zu (call "
                           "bmx_mix_save with buf = NULL to get the size)",
                           cap, need);
    memcpy(p, MIX_MAGIC, 4);
    p = put_u32(p + 4, MIX_VERSION);
    p = put_u32(p, (uint32_t)nlen);
    memcpy(p, m->pol->name, nlen);
    p = put_u32(p + nlen, (uint32_t)m->k);
    p = put_u32(p, m->pol->arrays);
    p = put_f64(p, m->p.alpha);
    p = put_f64(p, m->p.beta);
    p = put_f64(p, m->p.eta);
    p = put_f64(p, m->p.c);
    p = put_u64(p, (uint64_t)(int64_t)m->p.warmup);
    p = put_u64(p, (uint64_t)(int64_t)m->p.vocab);
    p = put_u64(p, (uint64_t)(int64_t)m->t);
    for (int i = 0; i < 4; i++)
        p = put_u64(p, m->rng.s[i]);
    for (int a = 0; a < ARR_COUNT; a++)
        if (m->pol->arrays & (1u << a))
            for (int i = 0; i < m->k; i++)
                p = put_f64(p, m->arr[a][i]);
    p = put_u32(p, bmx_crc32(0, start, (size_t)(p - start)));
    return 0;
}

int bmx_mix_restore(bmx_mix **out, const void *buf, size_t len, bmx_err *err)
{
    const unsigned char *p = buf, *start = buf;
    const struct mix_policy *pol;
    uint32_t version, nlen, k, arrays, crc;
    mix_params prm;
    int64_t t;
    bmx_rng rng;
    bmx_mix *m;
    size_t need;
    int rc;

    if (!out)
        return bmx_err_set(err, BMX_EINVAL, "bmx_mix_restore: out is NULL");
    *out = NULL;
    if (!buf || len < MIX_FIXED_HEAD)
        return bmx_err_set(err, BMX_ECORRUPT,
                           "mix state: %zu bytes is too short (truncated or not a mix state)",
                           buf ? len : 0);
    if (memcmp(p, MIX_MAGIC, 4) != 0)
        return bmx_err_set(err, BMX_ECORRUPT,
                           "mix state: bad magic (not a bmx mix state, or corrupted)");
    p += 4;
    version = get_u32(&p);
    if (version != MIX_VERSION)
        return bmx_err_set(err, BMX_ECORRUPT,
                           "mix state: version %u is not supported; this build reads version %u",
                           version, MIX_VERSION);
    nlen = get_u32(&p);
    if (nlen == 0 || nlen > MIX_NAME_MAX)
        return bmx_err_set(err, BMX_ECORRUPT, "mix state: policy name length %u is invalid", nlen);
    if (len < MIX_FIXED_HEAD + nlen + MIX_FIXED_BODY)
        return bmx_err_set(err, BMX_ECORRUPT, "mix state: truncated (%zu bytes)", len);
    pol = mix_policy_find((const char *)p, nlen);
    if (!pol)
        return bmx_err_set(err, BMX_ECORRUPT, "mix state: unknown policy \"%.*s\"", (int)nlen,
                           (const char *)p);
    p += nlen;
    k = get_u32(&p);
    arrays = get_u32(&p);
    if (k < 1 || k > BMX_MIX_MAX_ARMS)
        return bmx_err_set(err, BMX_ECORRUPT, "mix state: k = %u arms is out of range", k);
    if (arrays != pol->arrays)
        return bmx_err_set(err, BMX_ECORRUPT,
                           "mix state: array mask 0x%x does not match policy %s (0x%x)", arrays,
                           pol->name, pol->arrays);
    need = state_size(nlen, (int)k, arrays);
    if (len != need)
        return bmx_err_set(err, BMX_ECORRUPT,
                           "mix state: %zu bytes, but policy %s over %u arms needs %zu (%s)", len,
                           pol->name, k, need, len < need ? "truncated" : "trailing bytes");
    {
        const unsigned char *q = start + need - 4;
        crc = get_u32(&q);
    }
    if (crc != bmx_crc32(0, start, need - 4))
        return bmx_err_set(err, BMX_ECORRUPT,
                           "mix state: checksum mismatch (the state is corrupted)");
    prm.alpha = get_f64(&p);
    prm.beta = get_f64(&p);
    prm.eta = get_f64(&p);
    prm.c = get_f64(&p);
    prm.warmup = (long)(int64_t)get_u64(&p);
    prm.vocab = (long)(int64_t)get_u64(&p);
    t = (int64_t)get_u64(&p);
    for (int i = 0; i < 4; i++)
        rng.s[i] = get_u64(&p);
    if (mix_params_check(pol, &prm, err)) {
        if (err)
            err->code = BMX_ECORRUPT;
        return BMX_ECORRUPT;
    }
    if (t < 1 || t > BMX_MIX_MAX_ROUND)
        return bmx_err_set(err, BMX_ECORRUPT,
                           "mix state: round %lld is out of range (1 to %ld; the state is "
                           "corrupted)",
                           (long long)t, BMX_MIX_MAX_ROUND);
    if (!(rng.s[0] | rng.s[1] | rng.s[2] | rng.s[3]))
        return bmx_err_set(err, BMX_ECORRUPT, "mix state: the generator state is all zero");
    if ((rc = mix_alloc(&m, pol, (int)k, err)))
        return rc;
    m->p = prm;
    m->t = (long)t;
    m->rng = rng;
    for (int a = 0; a < ARR_COUNT; a++)
        if (arrays & (1u << a))
            for (uint32_t i = 0; i < k; i++)
                m->arr[a][i] = get_f64(&p);
    if ((rc = mix_derive(m, err))) {
        bmx_mix_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

int bmx_mix_load(bmx_mix *m, const void *buf, size_t len, bmx_err *err)
{
    bmx_mix *n, tmp;
    int rc;

    if ((rc = bmx_mix_restore(&n, buf, len, err)))
        return rc;
    if (n->pol != m->pol || n->k != m->k) {
        rc = bmx_err_set(err, BMX_EINVAL,
                         "mix state is for policy %s over %d arms, but this policy is %s over "
                         "%d arms; create a matching policy or use bmx_mix_restore",
                         n->pol->name, n->k, m->pol->name, m->k);
        bmx_mix_free(n);
        return rc;
    }
    tmp = *m;
    *m = *n;
    *n = tmp;
    bmx_mix_free(n);
    return 0;
}
