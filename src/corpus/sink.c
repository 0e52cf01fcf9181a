/* The pieces shared by corpus build and corpus import (corpus_int.h): the hash set, one
 * domain's output files and the document pipeline of bmx/corpus.h. */
#include "bmx/corpus.h"
#include "corpus_int.h"
#include "bmx/core.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void corpus_fmt(char *buf, size_t len, const char *f, ...)
{
    va_list ap;
    va_start(ap, f);
    vsnprintf(buf, len, f, ap);
    va_end(ap);
}

bmx_jval *corpus_j_text(const char *s, size_t n)
{
    char *buf = malloc(3 * n + 1);
    bmx_jval *v;
    size_t m;

    if (!buf)
        return NULL;
    m = bmx_corpus_normalize(s, n, buf, NULL);
    v = bmx_jval_strn(buf, m);
    free(buf);
    return v;
}

bmx_jval *corpus_j_hex32(uint32_t x)
{
    char b[16];
    snprintf(b, sizeof b, "%08x", x);
    return bmx_jval_str(b);
}

void sink_log(const struct sink *s, const bmx_logger *lg, const char *who, const char *name,
              const char *tail)
{
    bmx_log(lg, BMX_LOG_INFO,
            "%s: %s: %llu documents kept (%.2f MB; train/val/test %llu/%llu/%llu), dropped %llu "
            "binary, %llu near-empty, %llu duplicate, %llu over the cap%s",
            who, name, (unsigned long long)(s->docs[0] + s->docs[1] + s->docs[2]),
            (double)s->kept_bytes / 1e6, (unsigned long long)s->docs[0],
            (unsigned long long)s->docs[1], (unsigned long long)s->docs[2],
            (unsigned long long)s->n_bin, (unsigned long long)s->n_empty,
            (unsigned long long)s->n_dup, (unsigned long long)s->n_cap, tail);
    if (!s->docs[BMX_SPLIT_VAL] || !s->docs[BMX_SPLIT_TEST])
        bmx_log(lg, BMX_LOG_WARN, "%s: %s: the validation or test split is empty", who, name);
}

bmx_jval *corpus_j_done(bmx_jval *v, int rc)
{
    if (rc) {
        bmx_jval_free(v);
        return NULL;
    }
    return v;
}

/* ---- the hash set ---- */

int hset_has(const struct hset *s, uint64_t h)
{
    if (h == 0)
        return s->has_zero;
    if (!s->cap)
        return 0;
    for (size_t i = (size_t)(h * 0x9E3779B97F4A7C15ull) & (s->cap - 1);;
         i = (i + 1) & (s->cap - 1)) {
        if (s->v[i] == h)
            return 1;
        if (s->v[i] == 0)
            return 0;
    }
}

int hset_add(struct hset *s, uint64_t h)
{
    size_t i;

    if (h == 0) {
        s->has_zero = 1;
        return 0;
    }
    if (2 * (s->n + 1) > s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 1024;
        uint64_t *v = calloc(cap, sizeof *v);
        if (!v)
            return -1;
        for (size_t k = 0; k < s->cap; k++)
            if (s->v[k]) {
                for (i = (size_t)(s->v[k] * 0x9E3779B97F4A7C15ull) & (cap - 1); v[i];
                     i = (i + 1) & (cap - 1))
                    ;
                v[i] = s->v[k];
            }
        free(s->v);
        s->v = v;
        s->cap = cap;
    }
    for (i = (size_t)(h * 0x9E3779B97F4A7C15ull) & (s->cap - 1); s->v[i];
         i = (i + 1) & (s->cap - 1))
        if (s->v[i] == h)
            return 0;
    s->v[i] = h;
    s->n++;
    return 0;
}

int hset_merge(struct hset *dst, const struct hset *src)
{
    if (src->has_zero)
        dst->has_zero = 1;
    for (size_t k = 0; k < src->cap; k++)
        if (src->v[k] && hset_add(dst, src->v[k]) < 0)
            return -1;
    return 0;
}

/* ---- one domain's output ---- */

#define sink_reason(s, ...) corpus_fmt((s)->reason, sizeof(s)->reason, __VA_ARGS__)

void sink_init(struct sink *s, const char *out_dir, const char *name)
{
    memset(s, 0, sizeof *s);
    corpus_fmt(s->name, sizeof s->name, "%s", name);
    for (int k = 0; k < BMX_NSPLITS; k++) {
        corpus_fmt(s->path[k], sizeof s->path[k], "%s/%s/%s.txt", out_dir, name,
                   bmx_corpus_split_name(k));
        corpus_fmt(s->tmp[k], sizeof s->tmp[k], "%s/%s/%s.txt.tmp", out_dir, name,
                   bmx_corpus_split_name(k));
    }
}

static void sink_write(struct sink *s, int k, const void *p, size_t n)
{
    if (s->io_error)
        return;
    if (fwrite(p, 1, n, s->f[k]) != n) {
        s->io_error = 1;
        sink_reason(s, "cannot write %s: %s", s->tmp[k], strerror(errno));
        return;
    }
    s->crc[k] = corpus_crc32(s->crc[k], p, n);
    s->fbytes[k] += n;
}

int sink_open(struct sink *s)
{
    char dir[PATH_MAX];
    char *slash;

    corpus_fmt(dir, sizeof dir, "%s", s->path[0]);
    slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    bmx_err why;
    if (bmx_file_mkdir_p(dir, &why) != BMX_OK) {
        sink_reason(s, "%s", why.msg);
        s->io_error = 1;
        return -1;
    }
    for (int k = 0; k < BMX_NSPLITS; k++) {
        s->f[k] = fopen(s->tmp[k], "wbe");
        if (!s->f[k]) {
            sink_reason(s, "cannot create %s: %s", s->tmp[k], strerror(errno));
            s->io_error = 1;
            sink_close(s, 0);
            return -1;
        }
        setvbuf(s->f[k], NULL, _IOFBF, 1 << 18);
        sink_write(s, k, CORPUS_FILE_MAGIC, strlen(CORPUS_FILE_MAGIC));
    }
    return s->io_error ? -1 : 0;
}

int sink_full(const struct sink *s, const struct doc_filter *f)
{
    return (f->max_bytes && s->kept_bytes >= f->max_bytes) ||
           (f->max_docs && s->docs[0] + s->docs[1] + s->docs[2] >= f->max_docs);
}

int sink_take(struct sink *s, const struct doc_filter *f, size_t len)
{
    s->nread++;
    s->bytes_read += len;
    if (sink_full(s, f)) {
        s->n_cap++;
        return 0;
    }
    return 1;
}

int sink_put(struct sink *s, struct doc_filter *f, const void *norm, size_t m,
             const bmx_corpus_norm_stats *st, uint64_t h, const char *label, size_t label_len)
{
    int k;
    char hdr[64];

    if (sink_full(s, f)) { /* filled since sink_take */
        s->n_cap++;
        return 0;
    }
    switch (bmx_corpus_classify(st)) {
    case BMX_DOC_BINARY:
        s->n_bin++;
        return 0;
    case BMX_DOC_EMPTY:
        s->n_empty++;
        return 0;
    }
    if ((f->seen && hset_has(f->seen, h)) || hset_has(f->kept, h)) {
        s->n_dup++;
        return 0;
    }
    if (hset_add(f->kept, h) < 0) {
        sink_reason(s, "out of memory");
        return -1;
    }
    k = bmx_corpus_split_of(h, f->split);
    snprintf(hdr, sizeof hdr, "DOC %zu ", m);
    sink_write(s, k, hdr, strlen(hdr));
    sink_write(s, k, label, label_len);
    sink_write(s, k, "\n", 1);
    sink_write(s, k, norm, m);
    sink_write(s, k, "\n", 1);
    s->docs[k]++;
    s->bytes[k] += m;
    s->kept_bytes += m;
    return s->io_error ? -1 : 1;
}

int sink_doc(struct sink *s, struct doc_filter *f, const void *body, size_t len, const char *label,
             size_t label_len)
{
    bmx_corpus_norm_stats st;
    size_t m;
    uint64_t h;

    if (!sink_take(s, f, len))
        return 0;
    if (f->norm_cap < 3 * len + 1) {
        size_t cap = 3 * len + 1;
        unsigned char *t = realloc(f->norm, cap);
        if (!t) {
            sink_reason(s, "out of memory (a document of %zu bytes)", len);
            return -1;
        }
        f->norm = t;
        f->norm_cap = cap;
    }
    m = corpus_normalize_hash(body, len, f->norm, &st, &h);
    return sink_put(s, f, f->norm, m, &st, h, label, label_len);
}

void sink_close(struct sink *s, int keep)
{
    for (int k = 0; k < BMX_NSPLITS; k++) {
        if (s->f[k]) {
            if (keep && !s->io_error && (fflush(s->f[k]) != 0 || fsync(fileno(s->f[k])) != 0)) {
                s->io_error = 1;
                sink_reason(s, "cannot write %s: %s", s->tmp[k], strerror(errno));
            }
            if (fclose(s->f[k]) != 0 && keep && !s->io_error) {
                s->io_error = 1;
                sink_reason(s, "cannot write %s: %s", s->tmp[k], strerror(errno));
            }
            s->f[k] = NULL;
        }
    }
    for (int k = 0; k < BMX_NSPLITS; k++) {
        char bin[PATH_MAX];
        size_t n = strlen(s->path[k]);
        corpus_fmt(bin, sizeof bin, "%.*s.bin", (int)(n > 4 ? n - 4 : 0), s->path[k]);
        unlink(bin); /* a shard of the old text would be stale */
        if (keep && !s->io_error) {
            bmx_err why;
            if (bmx_file_commit(s->tmp[k], s->path[k], &why) != BMX_OK) {
                s->io_error = 1;
                sink_reason(s, "%s", why.msg);
            }
        } else {
            unlink(s->tmp[k]);
            unlink(s->path[k]);
        }
    }
    if (!keep || s->io_error) {
        char dir[PATH_MAX];
        char *slash;
        corpus_fmt(dir, sizeof dir, "%s", s->path[0]);
        slash = strrchr(dir, '/');
        if (slash) {
            *slash = '\0';
            rmdir(dir);
        }
    }
}

int sink_json(const struct sink *s, bmx_jval *o)
{
    bmx_jval *drop = bmx_jval_obj(), *splits = bmx_jval_obj();
    int rc = 0;

    rc |= bmx_jval_set(o, "documents_read", bmx_jval_u64(s->nread));
    rc |= bmx_jval_set(o, "bytes_read", bmx_jval_u64(s->bytes_read));
    rc |= bmx_jval_set(drop, "binary", bmx_jval_u64(s->n_bin));
    rc |= bmx_jval_set(drop, "empty", bmx_jval_u64(s->n_empty));
    rc |= bmx_jval_set(drop, "duplicate", bmx_jval_u64(s->n_dup));
    rc |= bmx_jval_set(drop, "cap", bmx_jval_u64(s->n_cap));
    rc |= bmx_jval_set(o, "dropped", drop);
    for (int k = 0; k < BMX_NSPLITS; k++) {
        bmx_jval *e = bmx_jval_obj();
        char rel[PATH_MAX];
        corpus_fmt(rel, sizeof rel, "%s/%s.txt", s->name, bmx_corpus_split_name(k));
        rc |= bmx_jval_set(e, "file", bmx_jval_str(rel));
        rc |= bmx_jval_set(e, "documents", bmx_jval_u64(s->docs[k]));
        rc |= bmx_jval_set(e, "bytes", bmx_jval_u64(s->bytes[k]));
        rc |= bmx_jval_set(e, "file_bytes", bmx_jval_u64(s->fbytes[k]));
        rc |= bmx_jval_set(e, "crc32", corpus_j_hex32(s->crc[k]));
        rc |= bmx_jval_set(e, "tokens", bmx_jval_null());
        rc |= bmx_jval_set(splits, bmx_corpus_split_name(k), e);
    }
    rc |= bmx_jval_set(o, "splits", splits);
    return rc ? -1 : 0;
}

int corpus_params_rules(bmx_jval *p, const unsigned split[3])
{
    bmx_jval *w = bmx_jval_arr(), *frac = bmx_jval_strn("0.1", 3);
    int rc = 0;

    if (frac)
        frac->t = BMX_JNUM;
    for (int k = 0; k < 3; k++)
        rc |= bmx_jval_push(w, bmx_jval_u64(split[k]));
    rc |= bmx_jval_set(p, "split", w);
    rc |= bmx_jval_set(p, "split_rule",
                       bmx_jval_str("splitmix64 finaliser of the hash, mod the weight sum"));
    rc |= bmx_jval_set(p, "document_hash", bmx_jval_str("fnv1a-64 of the normalised bytes"));
    rc |= bmx_jval_set(
        p, "normalisation",
        bmx_jval_str("UTF-8 with U+FFFD per ill-formed subpart, NUL removed, CRLF to LF, "
                     "leading BOM removed"));
    rc |= bmx_jval_set(p, "binary_max_fraction", frac);
    rc |= bmx_jval_set(p, "min_nonspace_bytes", bmx_jval_u64(32));
    return rc ? -1 : 0;
}

void sink_discard(struct sink *s)
{
    for (int k = 0; k < BMX_NSPLITS; k++) {
        if (s->f[k]) {
            fclose(s->f[k]);
            s->f[k] = NULL;
            unlink(s->tmp[k]);
        }
    }
}
