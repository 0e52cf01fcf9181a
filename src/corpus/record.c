/* The record stream of the extractors and the corpus text container (bmx/corpus.h). */
#include "bmx/corpus.h"
#include "corpus_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(char *why, size_t why_len, const char *msg)
{
    snprintf(why, why_len, "%s", msg);
    return -1;
}

int rec_parse(const char *buf, size_t avail, int eof, struct rec *r, size_t *used, char *why,
              size_t why_len)
{
    const char *nl = memchr(buf, '\n', avail < REC_HEADER_MAX ? avail : REC_HEADER_MAX);
    size_t hl, i;

    memset(r, 0, sizeof *r);
    if (!nl) {
        if (avail >= REC_HEADER_MAX)
            return fail(why, why_len, "record header longer than 4096 bytes without a newline");
        if (eof)
            return fail(why, why_len,
                        avail ? "truncated record header (no newline before end of stream)"
                              : "end of stream");
        return 0;
    }
    hl = (size_t)(nl - buf);
    for (i = 0; i < hl; i++)
        if ((unsigned char)buf[i] < 0x20)
            return fail(why, why_len, "control character in a record header");
    if (hl >= 4 && memcmp(buf, "PKG ", 4) == 0) {
        size_t pos = 4;
        for (int k = 0; k < 4; k++) {
            size_t st = pos;
            if (k < 3)
                while (pos < hl && buf[pos] != ' ')
                    pos++;
            else
                pos = hl;
            if (pos == st)
                return fail(why, why_len,
                            "PKG record needs '<deb|npm> <name> <version> <licence...>' "
                            "separated by single spaces");
            r->f[k] = buf + st;
            r->flen[k] = pos - st;
            if (k < 3) {
                if (pos >= hl)
                    return fail(why, why_len,
                                "PKG record needs '<deb|npm> <name> <version> <licence...>'");
                pos++;
            }
        }
        if (!((r->flen[0] == 3 && memcmp(r->f[0], "deb", 3) == 0) ||
              (r->flen[0] == 3 && memcmp(r->f[0], "npm", 3) == 0)))
            return fail(why, why_len, "PKG record: the package kind must be 'deb' or 'npm'");
        r->kind = REC_PKG;
        *used = hl + 1;
        return 1;
    }
    if (hl >= 4 && memcmp(buf, "DOC ", 4) == 0) {
        size_t pos = 4, n = 0;
        int digits = 0;
        while (pos < hl && buf[pos] >= '0' && buf[pos] <= '9') {
            if (n <= REC_DOC_MAX)
                n = 10 * n + (size_t)(buf[pos] - '0');
            pos++;
            digits++;
        }
        if (!digits || pos >= hl || buf[pos] != ' ' || pos + 1 >= hl)
            return fail(why, why_len, "DOC record header must be 'DOC <nbytes> <source-label>'");
        if (n > REC_DOC_MAX)
            return fail(why, why_len, "DOC record larger than 1 GiB");
        if (avail - (hl + 1) < n + 1) {
            if (eof)
                return fail(why, why_len, "DOC record truncated (fewer bytes than announced)");
            return 0;
        }
        if (buf[hl + 1 + n] != '\n')
            return fail(why, why_len, "DOC record: no newline after the announced byte count");
        r->kind = REC_DOC;
        r->label = buf + pos + 1;
        r->label_len = hl - pos - 1;
        r->body = buf + hl + 1;
        r->body_len = n;
        *used = hl + 1 + n + 1;
        return 1;
    }
    {
        char msg[96];
        snprintf(msg, sizeof msg, "unknown record '%.*s' (want PKG or DOC)",
                 (int)(hl < 24 ? hl : 24), buf);
        return fail(why, why_len, msg);
    }
}

void bmx_corpus_docs_free(bmx_corpus_docs *d)
{
    if (!d)
        return;
    free(d->data);
    free(d->doc);
    free(d);
}

int bmx_corpus_docs_load(const char *path, bmx_corpus_docs **out, bmx_err *err)
{
    FILE *f;
    bmx_corpus_docs *d = NULL;
    size_t cap = 0, pos, mlen = strlen(CORPUS_FILE_MAGIC);
    long sz;
    int rc;

    *out = NULL;
    if ((rc = bmx_file_fopen_regular(path, &f, err)) < 0)
        return rc;
    d = calloc(1, sizeof *d);
    if (!d || fseek(f, 0, SEEK_END) != 0 || (sz = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        bmx_corpus_docs_free(d);
        return bmx_err_set(err, d ? BMX_EIO : BMX_ENOMEM, "cannot read corpus file %s", path);
    }
    d->size = (size_t)sz;
    d->data = malloc(d->size + 1);
    if (!d->data || fread(d->data, 1, d->size, f) != d->size) {
        int nomem = !d->data;
        fclose(f);
        bmx_corpus_docs_free(d);
        return bmx_err_set(err, nomem ? BMX_ENOMEM : BMX_EIO, "cannot read corpus file %s", path);
    }
    fclose(f);
    d->crc32 = corpus_crc32(0, d->data, d->size);
    if (d->size < mlen || memcmp(d->data, CORPUS_FILE_MAGIC, mlen) != 0) {
        bmx_corpus_docs_free(d);
        return bmx_err_set(err, BMX_ECORRUPT,
                           "%s is not a bmx corpus text file (first line is not '#bmx-corpus 1'); "
                           "rebuild it with 'bmx corpus build'",
                           path);
    }
    for (pos = mlen; pos < d->size;) {
        struct rec r;
        size_t used;
        char why[160];

        if (rec_parse(d->data + pos, d->size - pos, 1, &r, &used, why, sizeof why) < 0 ||
            r.kind != REC_DOC) {
            if (r.kind == REC_PKG)
                snprintf(why, sizeof why, "unexpected PKG record");
            bmx_corpus_docs_free(d);
            return bmx_err_set(err, BMX_ECORRUPT,
                               "%s: bad record at byte %zu: %s; rebuild the corpus", path, pos,
                               why);
        }
        if (d->n == cap) {
            bmx_corpus_doc *t;
            cap = cap ? 2 * cap : 256;
            t = realloc(d->doc, cap * sizeof *t);
            if (!t) {
                bmx_corpus_docs_free(d);
                return bmx_err_set(err, BMX_ENOMEM, "out of memory reading %s", path);
            }
            d->doc = t;
        }
        d->doc[d->n++] = (bmx_corpus_doc){r.body, r.body_len, r.label, r.label_len};
        pos += used;
    }
    *out = d;
    return BMX_OK;
}
