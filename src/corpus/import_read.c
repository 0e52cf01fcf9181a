/* Reading the inputs of bmx corpus import: JSON Lines files line by line through their
 * decompressor, folders file by file (bmx/corpus.h, import_int.h). */
#include "bmx/corpus.h"
#include "import_int.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

/* The label of a document: NAME:LINE (JSONL) or NAME (a file), without control
 * characters. */
size_t imp_label(char *out, size_t cap, const char *name, uint64_t line)
{
    size_t n;

    if (line)
        corpus_fmt(out, cap, "%s:%llu", name, (unsigned long long)line);
    else
        corpus_fmt(out, cap, "%s", name);
    n = strlen(out);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)out[i] < 0x20 || out[i] == 0x7f)
            out[i] = '?';
    return n;
}

/* ---- JSON Lines ---- */

static int jsonl_line(struct imp *m, struct input *in, char *p, size_t n, uint64_t line)
{
    const bmx_import_src *src = in->src;
    bmx_corpus_jsonl_rec rec;
    const char *dname;
    size_t dlen;
    struct dom *d;
    int rc = bmx_corpus_jsonl_parse(p, n, m->text_key, src->domain ? NULL : m->o->domain_key, &rec);

    switch (rc) {
    case BMX_JSONL_BLANK:
        return 0;
    case BMX_JSONL_MALFORMED:
        return imp_bad(m, in, BAD_MALFORMED, line, NULL, rec.why, rec.err_at);
    case BMX_JSONL_NO_TEXT:
        return imp_bad(m, in, BAD_NO_TEXT, line, NULL, NULL, 0);
    case BMX_JSONL_NO_DOMAIN:
        return imp_bad(m, in, BAD_NO_DOMAIN, line, NULL, NULL, 0);
    }
    dname = src->domain ? src->domain : rec.domain;
    dlen = src->domain ? strlen(src->domain) : rec.domain_len;
    if (!dlen)
        return imp_bad(m, in, BAD_NO_DOMAIN, line, NULL, "the domain is an empty string", 0);
    d = imp_domain(m, in, dname, dlen, line);
    if (!d)
        return m->err->code;
    return imp_queue(m, in, d, rec.text, rec.text_len, line);
}

/* Make room for at least READ_MIN more bytes after m->buf[0..used); -1 out of memory. */
static int room(struct imp *m, size_t used)
{
    size_t cap = m->cap;
    char *t;

    if (cap - used >= READ_MIN)
        return 0;
    while (cap - used < READ_MIN)
        cap = cap ? 2 * cap : 4 * READ_MIN;
    if (cap > BMX_IMPORT_DOC_MAX + 2 * READ_MIN)
        cap = BMX_IMPORT_DOC_MAX + 2 * READ_MIN;
    t = realloc(m->buf, cap);
    if (!t)
        return -1;
    m->buf = t;
    m->cap = cap;
    return 0;
}

int imp_read_jsonl(struct imp *m, struct input *in)
{
    const char *path = in->src->path;
    char why[200];
    struct zr *z = zr_open(path, why, sizeof why);
    size_t start = 0, end = 0;
    uint64_t line = 0;
    int eof = 0, skipping = 0, rc = 0;

    if (!z)
        return bmx_err_set(m->err, BMX_EIO, "cannot open %s: %s", path, why);
    in->compression = zr_kind(z);
    if (room(m, 0) < 0)
        rc = bmx_err_set(m->err, BMX_ENOMEM, "out of memory reading %s", path);
    while (!rc && !m->stop) {
        char *nl;
        long got;

        while (!rc && !m->stop && (nl = memchr(m->buf + start, '\n', end - start))) {
            size_t len = (size_t)(nl - (m->buf + start));
            line++;
            if (skipping)
                skipping = 0; /* the end of a line too long, counted already */
            else if (len > BMX_IMPORT_DOC_MAX)
                rc = imp_bad(m, in, BAD_TOO_LONG, line, NULL, NULL, 0);
            else
                rc = jsonl_line(m, in, m->buf + start, len, line);
            start += len + 1;
        }
        if (!rc)
            rc = imp_flush(m); /* before the lines move */
        if (rc || m->stop)
            break;
        if (eof) {
            if (end > start && !skipping)
                rc = jsonl_line(m, in, m->buf + start, end - start, ++line);
            if (!rc)
                rc = imp_flush(m);
            break;
        }
        if (start) {
            memmove(m->buf, m->buf + start, end - start);
            end -= start;
            start = 0;
        }
        if (skipping) {
            end = 0;
        } else if (end > BMX_IMPORT_DOC_MAX) {
            skipping = 1;
            end = 0;
            rc = imp_bad(m, in, BAD_TOO_LONG, line + 1, NULL, NULL, 0);
            if (rc)
                break;
        }
        if (room(m, end) < 0) {
            rc = bmx_err_set(m->err, BMX_ENOMEM, "out of memory reading %s", path);
            break;
        }
        /* chunks of 256 KB: the lines stay in the cache while they are parsed, normalised,
         * hashed and written */
        got = zr_read(z, m->buf + end, m->cap - end < READ_CHUNK ? m->cap - end : READ_CHUNK, why,
                      sizeof why);
        if (got > 0) {
            end += (size_t)got;
            in->text_bytes += (uint64_t)got;
            m->r.bytes_text += (uint64_t)got;
            m->r.bytes_in = m->r.bytes_in - in->raw_bytes + zr_raw_bytes(z);
            in->raw_bytes = zr_raw_bytes(z);
            imp_progress(m, in, 0);
        } else if (got == ZR_END) {
            eof = 1;
        } else if (got == ZR_ERR_IO) {
            rc = bmx_err_set(m->err, BMX_EIO, "cannot read %s: %s", path, why);
        } else {
            /* the partial line at the end is dropped with the stream */
            rc = imp_bad(m, in, got == ZR_ERR_TRUNCATED ? BAD_TRUNCATED : BAD_CORRUPT, line + 1,
                         NULL, why, 0);
            break;
        }
    }
    m->r.bytes_in = m->r.bytes_in - in->raw_bytes + zr_raw_bytes(z);
    in->raw_bytes = zr_raw_bytes(z);
    in->crc = zr_raw_crc(z);
    in->units = line;
    zr_close(z);
    return rc;
}

/* ---- folders ---- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The entries of path (without '.' names), sorted; NULL with m->err set. */
static char **list_dir(struct imp *m, const char *path, size_t *n)
{
    DIR *dir = opendir(path);
    struct dirent *e;
    char **v = NULL;
    size_t cap = 0;

    *n = 0;
    if (!dir) {
        bmx_err_set(m->err, BMX_EIO, "cannot open the folder %s: %s", path, strerror(errno));
        return NULL;
    }
    while ((e = readdir(dir))) {
        if (e->d_name[0] == '.')
            continue;
        if (*n == cap) {
            char **t = realloc(v, (cap = cap ? 2 * cap : 64) * sizeof *t);
            if (!t)
                goto oom;
            v = t;
        }
        if (!(v[*n] = strdup(e->d_name)))
            goto oom;
        ++*n;
    }
    closedir(dir);
    if (!v)
        v = calloc(1, sizeof *v);
    if (!v) {
        bmx_err_set(m->err, BMX_ENOMEM, "out of memory listing %s", path);
        return NULL;
    }
    qsort(v, *n, sizeof *v, cmp_str);
    return v;
oom:
    closedir(dir);
    for (size_t i = 0; i < *n; i++)
        free(v[i]);
    free(v);
    bmx_err_set(m->err, BMX_ENOMEM, "out of memory listing %s", path);
    return NULL;
}

static void free_list(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* One file of a domain folder: one document. rel is its path below the input folder. */
static int dir_file(struct imp *m, struct input *in, struct dom *d, const char *path,
                    const char *rel)
{
    char why[200], label[320];
    struct zr *z = zr_open(path, why, sizeof why);
    size_t used = 0, llen;
    int too_long = 0, rc = 0;
    long got;

    if (!z)
        return bmx_err_set(m->err, BMX_EIO, "cannot open %s: %s", path, why);
    in->units++;
    for (;;) {
        if (used > BMX_IMPORT_DOC_MAX) {
            too_long = 1;
            used = 0; /* read on for the size and CRC, keep nothing */
        }
        if (room(m, used) < 0) {
            zr_close(z);
            return bmx_err_set(m->err, BMX_ENOMEM, "out of memory reading %s", path);
        }
        got = zr_read(z, m->buf + used, m->cap - used, why, sizeof why);
        if (got <= 0)
            break;
        used += (size_t)got;
        in->text_bytes += (uint64_t)got;
        m->r.bytes_text += (uint64_t)got;
    }
    in->crc = (uint32_t)crc32_combine(in->crc, zr_raw_crc(z), (z_off_t)zr_raw_bytes(z));
    in->raw_bytes += zr_raw_bytes(z);
    m->r.bytes_in += zr_raw_bytes(z);
    zr_close(z);
    if (got == ZR_ERR_IO)
        return bmx_err_set(m->err, BMX_EIO, "cannot read %s: %s", path, why);
    if (got < 0)
        return imp_bad(m, in, got == ZR_ERR_TRUNCATED ? BAD_TRUNCATED : BAD_CORRUPT, 0, rel, why,
                       0);
    if (too_long)
        return imp_bad(m, in, BAD_TOO_LONG, 0, rel, NULL, 0);
    llen = imp_label(label, sizeof label, rel, 0);
    rc = imp_doc(m, in, d, m->buf, used, label, llen);
    imp_progress(m, in, 0);
    return rc;
}

/* Every file below path (rel: its path below the input folder), in name order. */
static int dir_walk(struct imp *m, struct input *in, struct dom *d, const char *path,
                    const char *rel, int depth)
{
    size_t n;
    char **v = list_dir(m, path, &n);
    int rc = 0;

    if (!v)
        return m->err->code;
    for (size_t i = 0; i < n && !rc && !m->stop; i++) {
        char p[PATH_MAX], r[PATH_MAX];
        struct stat sb;
        corpus_fmt(p, sizeof p, "%s/%s", path, v[i]);
        corpus_fmt(r, sizeof r, "%s/%s", rel, v[i]);
        if (lstat(p, &sb) != 0) {
            rc = bmx_err_set(m->err, BMX_EIO, "cannot read %s: %s", p, strerror(errno));
        } else if (S_ISDIR(sb.st_mode)) {
            if (depth >= MAX_DEPTH)
                rc = bmx_err_set(m->err, BMX_EINVAL, "%s: folders nested deeper than %d", p,
                                 MAX_DEPTH);
            else
                rc = dir_walk(m, in, d, p, r, depth + 1);
        } else if (stat(p, &sb) == 0 && S_ISREG(sb.st_mode)) {
            rc = dir_file(m, in, d, p, r);
        }
    }
    free_list(v, n);
    return rc;
}

int imp_read_dir(struct imp *m, struct input *in)
{
    const char *root = in->src->path;
    size_t n;
    char **v = list_dir(m, root, &n);
    int rc = 0;

    if (!v)
        return m->err->code;
    for (size_t i = 0; i < n && !rc && !m->stop; i++) {
        char p[PATH_MAX];
        struct stat sb;
        corpus_fmt(p, sizeof p, "%s/%s", root, v[i]);
        if (lstat(p, &sb) != 0) {
            rc = bmx_err_set(m->err, BMX_EIO, "cannot read %s: %s", p, strerror(errno));
        } else if (S_ISDIR(sb.st_mode)) {
            struct dom *d = imp_domain(m, in, v[i], strlen(v[i]), 0);
            rc = d ? dir_walk(m, in, d, p, v[i], 1) : m->err->code;
        } else if (stat(p, &sb) == 0 && S_ISREG(sb.st_mode)) {
            in->units++;
            rc = imp_bad(m, in, BAD_NO_DOMAIN, 0, v[i], "a file outside any domain folder", 0);
        }
    }
    free_list(v, n);
    return rc;
}
