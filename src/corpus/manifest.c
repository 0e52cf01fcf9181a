/* The corpus manifest: write, list, record token counts (bmx/corpus.h). */
#include "bmx/corpus.h"
#include "corpus_int.h"
#include "bmx/report.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int corpus_write_manifest(const char *dir, const bmx_jval *m, bmx_err *err)
{
    char path[PATH_MAX], tmp[PATH_MAX];
    FILE *f;
    int bad;

    snprintf(path, sizeof path, "%s/manifest.json", dir);
    snprintf(tmp, sizeof tmp, "%s/manifest.json.tmp", dir);
    f = fopen(tmp, "wbe");
    if (!f)
        return bmx_err_set(err, BMX_EIO, "cannot create %s: %s", tmp, strerror(errno));
    bad = bmx_jval_write(m, f) != 0 || fflush(f) != 0 || fsync(fileno(f)) != 0;
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path) != 0) {
        unlink(tmp);
        return bmx_err_set(err, BMX_EIO, "cannot write %s: %s", path, strerror(errno));
    }
    return BMX_OK;
}

static int load(const char *dir, bmx_jval **out, char *path, size_t plen, bmx_err *err)
{
    FILE *f;
    char *buf = NULL;
    bmx_err why;
    size_t n = 0, cap = 0, k;
    bmx_jval *m;

    snprintf(path, plen, "%s/manifest.json", dir);
    f = fopen(path, "rb");
    if (!f)
        return bmx_err_set(err, BMX_EIO,
                           "cannot open %s: %s (build the corpus first: bmx corpus build)", path,
                           strerror(errno));
    do {
        if (cap - n < 65536) {
            char *t = realloc(buf, cap = cap ? 2 * cap : 65536 * 2);
            if (!t) {
                free(buf);
                fclose(f);
                return bmx_err_set(err, BMX_ENOMEM, "out of memory reading %s", path);
            }
            buf = t;
        }
        k = fread(buf + n, 1, cap - n, f);
        n += k;
    } while (k > 0);
    fclose(f);
    bmx_jval_parse(buf, n, &m, &why);
    free(buf);
    if (!m)
        return bmx_err_set(err, why.code, "%s is not valid JSON (%s)", path, why.msg);
    {
        bmx_jval *fmt = bmx_jval_get(m, "format"), *ver = bmx_jval_get(m, "version");
        uint64_t v;
        if (!fmt || fmt->t != BMX_JSTR || strcmp(fmt->s, "bmx-corpus") != 0 ||
            bmx_jval_as_u64(ver, &v) || v != 1 || !bmx_jval_get(m, "domains") ||
            bmx_jval_get(m, "domains")->t != BMX_JOBJ) {
            bmx_jval_free(m);
            return bmx_err_set(err, BMX_ECORRUPT,
                               "%s is not a bmx corpus manifest of version 1; rebuild it with "
                               "'bmx corpus build'",
                               path);
        }
    }
    *out = m;
    return BMX_OK;
}

int bmx_corpus_manifest_list(const char *corpus_dir, bmx_corpus_entry **out, size_t *n,
                             bmx_err *err)
{
    char path[PATH_MAX];
    bmx_jval *m, *doms;
    bmx_corpus_entry *e;
    size_t k = 0;
    int rc = load(corpus_dir, &m, path, sizeof path, err);

    *out = NULL;
    *n = 0;
    if (rc)
        return rc;
    doms = bmx_jval_get(m, "domains");
    e = calloc(doms->n * BMX_NSPLITS + 1, sizeof *e);
    if (!e) {
        bmx_jval_free(m);
        return bmx_err_set(err, BMX_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < doms->n; i++) {
        bmx_jval *splits = bmx_jval_get(doms->items[i], "splits");
        for (int s = 0; s < BMX_NSPLITS; s++) {
            bmx_jval *x = bmx_jval_get(splits, bmx_corpus_split_name(s)),
                     *file = bmx_jval_get(x, "file"), *crc = bmx_jval_get(x, "crc32");
            uint64_t docs, bytes;
            char *end = NULL;
            unsigned long c = 0;
            if (crc && crc->t == BMX_JSTR)
                c = strtoul(crc->s, &end, 16);
            if (!file || file->t != BMX_JSTR || strlen(file->s) >= sizeof e[k].file ||
                strlen(doms->keys[i]) >= sizeof e[k].domain ||
                bmx_jval_as_u64(bmx_jval_get(x, "documents"), &docs) ||
                bmx_jval_as_u64(bmx_jval_get(x, "bytes"), &bytes) || !end || *end ||
                strlen(crc->s) != 8) {
                free(e);
                bmx_jval_free(m);
                return bmx_err_set(err, BMX_ECORRUPT,
                                   "%s: domain %s, split %s lacks file, documents, bytes or "
                                   "crc32; rebuild the corpus",
                                   path, doms->keys[i], bmx_corpus_split_name(s));
            }
            snprintf(e[k].domain, sizeof e[k].domain, "%s", doms->keys[i]);
            snprintf(e[k].file, sizeof e[k].file, "%s", file->s);
            e[k].split = s;
            e[k].documents = docs;
            e[k].bytes = bytes;
            e[k].crc32 = (uint32_t)c;
            k++;
        }
    }
    bmx_jval_free(m);
    *out = e;
    *n = k;
    return BMX_OK;
}

int bmx_corpus_manifest_set_tokens(const char *corpus_dir, const char *tokenizer,
                                   uint32_t vocab_size, const bmx_corpus_tokens *t, size_t n,
                                   bmx_err *err)
{
    char path[PATH_MAX], hex[16];
    bmx_jval *m, *tk;
    int rc = load(corpus_dir, &m, path, sizeof path, err);

    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++) {
        bmx_jval *x = bmx_jval_get(
            bmx_jval_get(bmx_jval_get(bmx_jval_get(m, "domains"), t[i].domain), "splits"),
            bmx_corpus_split_name(t[i].split));
        bmx_jval *sh;
        if (!x) {
            bmx_jval_free(m);
            return bmx_err_set(err, BMX_EINVAL, "%s has no domain %s with split %s", path,
                               t[i].domain, bmx_corpus_split_name(t[i].split));
        }
        snprintf(hex, sizeof hex, "%08x", t[i].shard_crc32);
        sh = bmx_jval_obj();
        rc |= bmx_jval_set(x, "tokens", bmx_jval_u64(t[i].tokens));
        rc |= bmx_jval_set(sh, "file", bmx_jval_str(t[i].shard));
        rc |= bmx_jval_set(sh, "crc32", bmx_jval_str(hex));
        rc |= bmx_jval_set(x, "shard", sh);
    }
    tk = bmx_jval_obj();
    rc |= bmx_jval_set(tk, "name", bmx_jval_str(tokenizer ? tokenizer : ""));
    rc |= bmx_jval_set(tk, "vocab_size", bmx_jval_u64(vocab_size));
    rc |= bmx_jval_set(m, "tokenizer", tk);
    if (rc) {
        bmx_jval_free(m);
        return bmx_err_set(err, BMX_ENOMEM, "out of memory");
    }
    rc = corpus_write_manifest(corpus_dir, m, err);
    bmx_jval_free(m);
    return rc;
}
