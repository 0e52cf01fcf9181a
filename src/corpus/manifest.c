/* The corpus manifest: write, list, record token counts (bmx/corpus.h). */
#include "bmx/corpus.h"
#include "corpus_int.h"
#include "bmx/core.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int corpus_write_manifest(const char *dir, const bmx_jval *m, bmx_err *err)
{
    char path[PATH_MAX], *text = NULL;
    size_t len = 0;
    FILE *f;
    int rc;

    snprintf(path, sizeof path, "%s/manifest.json", dir);
    f = open_memstream(&text, &len); /* the text in memory, then one atomic write */
    if (!f)
        return bmx_err_set(err, BMX_ENOMEM, "out of memory writing %s", path);
    rc = bmx_jval_write(m, f) != 0;
    rc |= fclose(f) != 0;
    rc = rc ? bmx_err_set(err, BMX_ENOMEM, "out of memory writing %s", path)
            : bmx_file_write_atomic(path, text, len, err);
    free(text);
    return rc;
}

#define MANIFEST_MAX ((size_t)64 << 20) /* a manifest lists files: a few KB in practice */

static int load(const char *dir, bmx_jval **out, char *path, size_t plen, bmx_err *err)
{
    char *buf = NULL;
    bmx_err why;
    size_t n = 0;
    bmx_jval *m;
    int rc;

    snprintf(path, plen, "%s/manifest.json", dir);
    if ((rc = bmx_file_read_all(path, MANIFEST_MAX, &buf, &n, &why)) < 0)
        return bmx_err_set(err, rc, "%s%s", why.msg,
                           access(path, F_OK) != 0 ? " (build the corpus first: bmx corpus build)"
                                                   : "");
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

/* What is wrong with one split entry x (NULL when it is fine): its fields into e. */
static const char *split_entry(const bmx_jval *x, bmx_corpus_entry *e)
{
    const bmx_jval *file = bmx_jval_get(x, "file"), *crc = bmx_jval_get(x, "crc32");
    char *end = NULL;

    if (!x || x->t != BMX_JOBJ)
        return "the split is missing or not an object";
    if (!file || file->t != BMX_JSTR || !file->s[0])
        return "\"file\" is missing or not a non-empty string";
    if (strlen(file->s) >= sizeof e->file)
        return "\"file\" is too long";
    if (bmx_jval_as_u64(bmx_jval_get(x, "documents"), &e->documents))
        return "\"documents\" is missing or not a non-negative integer";
    if (bmx_jval_as_u64(bmx_jval_get(x, "bytes"), &e->bytes))
        return "\"bytes\" is missing or not a non-negative integer";
    if (!crc || crc->t != BMX_JSTR || strlen(crc->s) != 8 ||
        strspn(crc->s, "0123456789abcdefABCDEF") != 8)
        return "\"crc32\" is missing or not 8 hexadecimal digits";
    e->crc32 = (uint32_t)strtoul(crc->s, &end, 16);
    snprintf(e->file, sizeof e->file, "%s", file->s);
    return NULL;
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
            const char *bad =
                strlen(doms->keys[i]) >= sizeof e[k].domain
                    ? "the domain's name is too long"
                    : split_entry(bmx_jval_get(splits, bmx_corpus_split_name(s)), &e[k]);
            if (bad) {
                /* the message is made before the tree it quotes is freed */
                rc = bmx_err_set(err, BMX_ECORRUPT,
                                 "%s: domain \"%.64s\", split %s: %s; rebuild the corpus with 'bmx "
                                 "corpus build'",
                                 path, doms->keys[i], bmx_corpus_split_name(s), bad);
                free(e);
                bmx_jval_free(m);
                return rc;
            }
            snprintf(e[k].domain, sizeof e[k].domain, "%s", doms->keys[i]);
            e[k].split = s;
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
