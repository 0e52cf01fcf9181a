/* Saving and restoring a policy's whole state (bmx/mix.h).
 *
 * Format, version 3, every integer little-endian, doubles as their IEEE-754 bits:
 *   "BMXM", u32 version 3, u32 n + n bytes of name, u32 k, u32 arrays
 *   f64 alpha, beta, eta, c, tscale, tau, f, gamma, min_prob, max_epochs
 *   i64 warmup, vocab, interval, rounds, probe, t
 *   u64 s[4]        the generator
 *   f64 draw_tokens, draw_seqs; u32 has_tokens (0 or 1)
 *   f64 [k] ...     each array of the mask in bit order
 *   f64 [k]         tokens drawn per arm; then f64 [k] training tokens if has_tokens
 *   u64 n, f64 [n]  the policy's variable state (ado's history, aioli's round)
 *   u32 crc         CRC-32 of every byte before it
 * Versions 1 and 2 (below) still load: no constraints, nothing drawn counted.
 *
 * Version 2:
 *   "BMXM"          magic (4 bytes)
 *   u32 version     2
 *   u32 n, n bytes  the policy's name (no NUL), n <= 64
 *   u32 k           arms
 *   u32 arrays      bit mask of the per-arm arrays that follow (fixed by the policy)
 *   f64 alpha, beta, eta, c, tscale
 *   i64 warmup, vocab, t
 *   u64 s[4]        the generator
 *   f64 [k] ...     each array of the mask in bit order (pi, base, estimates, aux, lambda,
 *                   pending sums, pending counts)
 *   u32 crc         CRC-32 of every byte before it
 * Version 1 (before tscale) is the same without the f64 tscale; it still loads, as tscale 1
 * (the only time scale there was).
 */
#include "mix_internal.h"

#include <stdlib.h>
#include <string.h>

#define MIX_MAGIC      "BMXM"
#define MIX_VERSION    3u
#define MIX_V3_PARAMS  (10 * 8 + 6 * 8 + 4 * 8 + 2 * 8 + 4)
#define MIX_NAME_MAX   64u
#define MIX_FIXED_HEAD (4 + 4 + 4) /* magic, version, name length */
/* k .. rng: version 1 has 4 f64 parameters, version 2 has 5 */
#define MIX_FIXED_BODY(version) (4 + 4 + ((version) >= 2 ? 5 : 4) * 8 + 3 * 8 + 4 * 8)

static int popcount(unsigned x)
{
    int n = 0;

    for (; x; x &= x - 1)
        n++;
    return n;
}

static size_t state_size(uint32_t version, size_t name_len, int k, unsigned arrays)
{
    return MIX_FIXED_HEAD + name_len + MIX_FIXED_BODY(version) +
           (size_t)popcount(arrays) * (size_t)k * 8 + 4;
}

/* cursors over core's little-endian codec: each writes or reads one field and moves on */
static unsigned char *put_u32(unsigned char *p, uint32_t v)
{
    bmx_le_put32(p, v);
    return p + 4;
}

static unsigned char *put_u64(unsigned char *p, uint64_t v)
{
    bmx_le_put64(p, v);
    return p + 8;
}

static unsigned char *put_f64(unsigned char *p, double v)
{
    bmx_le_put_f64(p, v);
    return p + 8;
}

static uint32_t get_u32(const unsigned char **p)
{
    *p += 4;
    return bmx_le_get32(*p - 4);
}

static uint64_t get_u64(const unsigned char **p)
{
    *p += 8;
    return bmx_le_get64(*p - 8);
}

static double get_f64(const unsigned char **p)
{
    *p += 8;
    return bmx_le_get_f64(*p - 8);
}

static size_t state_size_v3(size_t name_len, int k, unsigned arrays, int has_tok, size_t next)
{
    return MIX_FIXED_HEAD + name_len + 4 + 4 + MIX_V3_PARAMS +
           (size_t)(popcount(arrays) + 1 + has_tok) * (size_t)k * 8 + 8 + next * 8 + 4;
}

int bmx_mix_save(const bmx_mix *m, void *buf, size_t cap, size_t *len, bmx_err *err)
{
    size_t nlen = strlen(m->pol->name);
    size_t need = state_size_v3(nlen, m->k, m->pol->arrays, m->tok != NULL, m->next);
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
    const double dv[10] = {m->p.alpha, m->p.beta, m->p.eta,   m->p.c,        m->p.tscale,
                           m->p.tau,   m->p.f,    m->p.gamma, m->p.min_prob, m->p.max_epochs};
    for (int i = 0; i < 10; i++)
        p = put_f64(p, dv[i]);
    const long lv[6] = {m->p.warmup, m->p.vocab, m->p.interval, m->p.rounds, m->p.probe, m->t};
    for (int i = 0; i < 6; i++)
        p = put_u64(p, (uint64_t)(int64_t)lv[i]);
    for (int i = 0; i < 4; i++)
        p = put_u64(p, m->rng.s[i]);
    p = put_f64(p, m->draw_tokens);
    p = put_f64(p, m->draw_seqs);
    p = put_u32(p, m->tok != NULL);
    for (int a = 0; a < ARR_COUNT; a++)
        if (m->pol->arrays & (1u << a))
            for (int i = 0; i < m->k; i++)
                p = put_f64(p, m->arr[a][i]);
    for (int i = 0; i < m->k; i++)
        p = put_f64(p, m->drawn[i]);
    for (int i = 0; m->tok && i < m->k; i++)
        p = put_f64(p, m->tok[i]);
    p = put_u64(p, (uint64_t)m->next);
    for (size_t i = 0; i < m->next; i++)
        p = put_f64(p, m->ext[i]);
    p = put_u32(p, bmx_crc32(0, start, (size_t)(p - start)));
    return 0;
}

/* What the framing of a saved state says, once checked: its version, policy, arms, the
 * optional token array, the length of the variable state, and where the parameters start. */
struct mix_frame {
    uint32_t version, nlen, k, arrays, has_tok;
    const struct mix_policy *pol;
    size_t next;
    const unsigned char *params;
};

/* The scalars of a saved state, read before anything is allocated. */
struct mix_scalars {
    mix_params p;
    int64_t t;
    bmx_rng rng;
    double draw_tokens, draw_seqs;
};

/* The head of a state: magic, version, policy name, arms and array mask. */
static int frame_head(struct mix_frame *fr, const unsigned char *start, size_t len, bmx_err *err)
{
    const unsigned char *p = start;
    if (memcmp(p, MIX_MAGIC, 4) != 0)
        return bmx_err_set(err, BMX_ECORRUPT,
                           "mix state: bad magic (not a bmx mix state, or corrupted)");
    p += 4;
    uint32_t version = fr->version = get_u32(&p);
    if (version < 1 || version > MIX_VERSION)
        return bmx_err_set(err, BMX_ECORRUPT,
                           "mix state: version %u is not supported; this build reads versions 1 "
                           "to %u (a newer bmx wrote it, or it is corrupted)",
                           version, MIX_VERSION);
    uint32_t nlen = fr->nlen = get_u32(&p);
    if (nlen == 0 || nlen > MIX_NAME_MAX)
        return bmx_err_set(err, BMX_ECORRUPT, "mix state: policy name length %u is invalid", nlen);
    if (len < (version >= 3 ? MIX_FIXED_HEAD + nlen + 8 + MIX_V3_PARAMS
                            : MIX_FIXED_HEAD + nlen + MIX_FIXED_BODY(version)))
        return bmx_err_set(err, BMX_ECORRUPT, "mix state: truncated (%zu bytes)", len);
    if (!(fr->pol = mix_policy_find((const char *)p, nlen)))
        return bmx_err_set(err, BMX_ECORRUPT, "mix state: unknown policy \"%.*s\"", (int)nlen,
                           (const char *)p);
    p += nlen;
    fr->k = get_u32(&p);
    fr->arrays = get_u32(&p);
    fr->params = p;
    if (fr->k < 1 || fr->k > BMX_MIX_MAX_ARMS)
        return bmx_err_set(err, BMX_ECORRUPT, "mix state: k = %u arms is out of range", fr->k);
    if (fr->arrays != fr->pol->arrays)
        return bmx_err_set(err, BMX_ECORRUPT,
                           "mix state: array mask 0x%x does not match policy %s (0x%x)", fr->arrays,
                           fr->pol->name, fr->pol->arrays);
    return 0;
}

/* Version 3's token flag and variable-state length (fr->has_tok, fr->next), each checked
 * against len before it is used. */
static int frame_v3_sizes(struct mix_frame *fr, const unsigned char *start, size_t len,
                          bmx_err *err)
{
    size_t fixed = MIX_FIXED_HEAD + fr->nlen + 8 + MIX_V3_PARAMS;
    const unsigned char *q = start + fixed - 4;
    fr->has_tok = get_u32(&q);
    if (fr->has_tok > 1)
        return bmx_err_set(err, BMX_ECORRUPT, "mix state: token flag %u", fr->has_tok);
    size_t at = fixed + (size_t)(popcount(fr->arrays) + 1 + (int)fr->has_tok) * fr->k * 8;
    if (len < at + 8)
        return bmx_err_set(err, BMX_ECORRUPT,
                           "mix state: %zu bytes, but policy %s over %u arms needs more than "
                           "%zu (truncated)",
                           len, fr->pol->name, fr->k, at + 8);
    q = start + at;
    uint64_t n = get_u64(&q);
    if (n > (len - at - 8) / 8)
        return bmx_err_set(err, BMX_ECORRUPT,
                           "mix state: %zu bytes, too few for %llu values of policy state "
                           "(truncated)",
                           len, (unsigned long long)n);
    fr->next = (size_t)n;
    return 0;
}

/* The whole framing: head, sizes, total length and checksum. */
static int frame_check(struct mix_frame *fr, const unsigned char *start, size_t len, bmx_err *err)
{
    int rc;
    size_t need;
    if ((rc = frame_head(fr, start, len, err)))
        return rc;
    if (fr->version >= 3) {
        if ((rc = frame_v3_sizes(fr, start, len, err)))
            return rc;
        need = state_size_v3(fr->nlen, (int)fr->k, fr->arrays, (int)fr->has_tok, fr->next);
    } else {
        need = state_size(fr->version, fr->nlen, (int)fr->k, fr->arrays);
    }
    if (len != need)
        return bmx_err_set(err, BMX_ECORRUPT,
                           "mix state: %zu bytes, but policy %s over %u arms needs %zu (%s)", len,
                           fr->pol->name, fr->k, need, len < need ? "truncated" : "trailing bytes");
    const unsigned char *q = start + need - 4;
    if (get_u32(&q) != bmx_crc32(0, start, need - 4))
        return bmx_err_set(err, BMX_ECORRUPT,
                           "mix state: checksum mismatch (the state is corrupted)");
    return 0;
}

/* The scalars after the head: parameters, round, generator and (version 3) the tokens and
 * sequences of a draw; *p moves past them to the per-arm arrays. */
static void read_scalars(const struct mix_frame *fr, const unsigned char **p, struct mix_scalars *s)
{
    uint32_t version = fr->version;
    mix_params *prm = &s->p;
    mix_defaults(fr->pol, prm);
    prm->alpha = get_f64(p);
    prm->beta = get_f64(p);
    prm->eta = get_f64(p);
    prm->c = get_f64(p);
    prm->tscale = version >= 2 ? get_f64(p) : 1.0;
    if (version >= 3) {
        prm->tau = get_f64(p);
        prm->f = get_f64(p);
        prm->gamma = get_f64(p);
        prm->min_prob = get_f64(p);
        prm->max_epochs = get_f64(p);
    }
    prm->warmup = (long)(int64_t)get_u64(p);
    prm->vocab = (long)(int64_t)get_u64(p);
    if (version >= 3) {
        prm->interval = (long)(int64_t)get_u64(p);
        prm->rounds = (long)(int64_t)get_u64(p);
        prm->probe = (long)(int64_t)get_u64(p);
    }
    s->t = (int64_t)get_u64(p);
    for (int i = 0; i < 4; i++)
        s->rng.s[i] = get_u64(p);
    s->draw_tokens = 1.0;
    s->draw_seqs = 1.0;
    if (version >= 3) {
        s->draw_tokens = get_f64(p);
        s->draw_seqs = get_f64(p);
        *p += 4; /* has_tok, read by frame_v3_sizes */
    }
}

/* Whether the scalars read (s) make a state of policy fr->pol. */
static int check_scalars(const struct mix_frame *fr, const struct mix_scalars *s, bmx_err *err)
{
    const struct mix_policy *pol = fr->pol;
    if (fr->version < 3 &&
        (pol->kind == MIX_ADO || pol->kind == MIX_AIOLI || pol->kind == MIX_TEMPERATURE))
        return bmx_err_set(err, BMX_ECORRUPT, "mix state: version %u cannot hold policy %s",
                           fr->version, pol->name);
    if (mix_params_check(pol, &s->p, err)) {
        if (err)
            err->code = BMX_ECORRUPT;
        return BMX_ECORRUPT;
    }
    if (s->t < 1 || s->t > BMX_MIX_MAX_ROUND)
        return bmx_err_set(err, BMX_ECORRUPT,
                           "mix state: round %lld is out of range (1 to %ld; the state is "
                           "corrupted)",
                           (long long)s->t, BMX_MIX_MAX_ROUND);
    if (!(s->rng.s[0] | s->rng.s[1] | s->rng.s[2] | s->rng.s[3]))
        return bmx_err_set(err, BMX_ECORRUPT, "mix state: the generator state is all zero");
    return 0;
}

/* The per-arm arrays and (version 3) the tokens drawn, the training tokens and the variable
 * state, from p into m. */
static int read_arrays(const struct mix_frame *fr, const unsigned char *p, bmx_mix *m, bmx_err *err)
{
    uint32_t k = fr->k;
    int rc;
    for (int a = 0; a < ARR_COUNT; a++)
        if (fr->arrays & (1u << a))
            for (uint32_t i = 0; i < k; i++)
                m->arr[a][i] = get_f64(&p);
    if (fr->version < 3)
        return 0;
    for (uint32_t i = 0; i < k; i++)
        m->drawn[i] = get_f64(&p);
    if (fr->has_tok && !(m->tok = malloc((size_t)k * sizeof *m->tok)))
        return bmx_err_set(err, BMX_ENOMEM, "mix state: out of memory");
    for (uint32_t i = 0; fr->has_tok && i < k; i++)
        m->tok[i] = get_f64(&p);
    p += 8;
    if ((rc = mix_ext_reserve(m, fr->next, err)))
        return rc;
    for (size_t i = 0; i < fr->next; i++)
        m->ext[i] = get_f64(&p);
    m->next = fr->next;
    return 0;
}

int bmx_mix_restore(bmx_mix **out, const void *buf, size_t len, bmx_err *err)
{
    const unsigned char *start = buf;
    struct mix_frame fr = {0};
    struct mix_scalars s;
    bmx_mix *m;
    int rc;

    if (!out)
        return bmx_err_set(err, BMX_EINVAL, "bmx_mix_restore: out is NULL");
    *out = NULL;
    if (!buf || len < MIX_FIXED_HEAD)
        return bmx_err_set(err, BMX_ECORRUPT,
                           "mix state: %zu bytes is too short (truncated or not a mix state)",
                           buf ? len : 0);
    if ((rc = frame_check(&fr, start, len, err)))
        return rc;
    const unsigned char *p = fr.params;
    read_scalars(&fr, &p, &s);
    if ((rc = check_scalars(&fr, &s, err)) || (rc = mix_alloc(&m, fr.pol, (int)fr.k, err)))
        return rc;
    m->p = s.p;
    m->t = (long)s.t;
    m->rng = s.rng;
    m->draw_tokens = s.draw_tokens;
    m->draw_seqs = s.draw_seqs;
    if ((rc = read_arrays(&fr, p, m, err)) || (rc = mix_derive(m, err))) {
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
    m->par = n->par; /* the caller's hook is not part of the state */
    m->par_ctx = n->par_ctx;
    bmx_mix_free(n);
    return 0;
}
