/* Token shards of a built corpus (bmx_corpus_shard, bmx/corpus.h): each text file of the
 * manifest is tokenized, checked by decoding every document back to its bytes, and written
 * as one shard (bmx/data.h); the manifest records the token counts. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bmx/corpus.h"
#include "bmx/data.h"
#include "bmx/tok.h"

#define BATCH 4096 /* documents encoded at once: bounds the memory of the ids */

typedef struct enc {
    const void *docs[BATCH];
    size_t lens[BATCH], nout[BATCH];
    uint32_t *out[BATCH];
    unsigned char *dec;
    size_t dcap;
} enc;

/* Documents base.. of d (at most BATCH) encoded, decoded back and added to w. */
static int encode_batch(enc *b, const bmx_corpus_docs *d, size_t base, const bmx_tok *t,
                        int threads, bmx_shard_writer *w, const char *txt, bmx_err *err)
{
    size_t m = d->n - base < BATCH ? d->n - base : BATCH, i, dlen = 0;
    int rc = BMX_OK;

    for (i = 0; i < m; i++) {
        b->docs[i] = d->doc[base + i].text;
        b->lens[i] = d->doc[base + i].len;
    }
    if ((rc = bmx_tok_encode_many(t, b->docs, b->lens, m, threads, b->out, b->nout, err)) < 0)
        return bmx_err_prefix(err, "%s: ", txt);
    for (i = 0; i < m; i++) {
        dlen = 0;
        if (rc == BMX_OK &&
            bmx_tok_decode(t, b->out[i], b->nout[i], &b->dec, &dlen, &b->dcap, err) < 0)
            rc = bmx_err_prefix(err, "%s: document %zu: ", txt, base + i);
        if (rc == BMX_OK && (dlen != b->lens[i] || memcmp(b->dec, b->docs[i], dlen) != 0)) {
            const bmx_corpus_doc *x = &d->doc[base + i];
            rc = bmx_err_set(err, BMX_ESTATE,
                             "%s: document %zu (%.*s) does not decode back to its bytes (%zu "
                             "bytes in, %zu out): a tokenizer bug",
                             txt, base + i, (int)x->label_len, x->label, b->lens[i], dlen);
        }
        if (rc == BMX_OK)
            rc = bmx_shard_writer_add(w, b->out[i], b->nout[i], err);
        free(b->out[i]);
    }
    return rc;
}

/* The text file of e, checked against the manifest, into one shard; fills tk. */
static int shard_one(const char *corpus, const bmx_corpus_entry *e, const bmx_tok *t, int threads,
                     enc *b, bmx_corpus_tokens *tk, char *rel, size_t rel_len,
                     const bmx_logger *log, bmx_err *err)
{
    char txt[PATH_MAX + 320], bin[PATH_MAX + 320];
    bmx_corpus_docs *d = NULL;
    bmx_shard_writer *w = NULL;
    size_t len = strlen(e->file);
    double t0 = bmx_now_s();
    int rc;

    snprintf(txt, sizeof txt, "%s/%s", corpus, e->file);
    if (len < 4 || strcmp(e->file + len - 4, ".txt") != 0)
        return bmx_err_set(err, BMX_ECORRUPT, "the manifest names %s, not a .txt file", e->file);
    snprintf(rel, rel_len, "%.*s.bin", (int)(len - 4), e->file);
    snprintf(bin, sizeof bin, "%s/%s", corpus, rel);
    if ((rc = bmx_corpus_docs_load(txt, &d, err)) < 0)
        return rc;
    if (d->crc32 != e->crc32 || d->n != e->documents)
        rc = bmx_err_set(err, BMX_ECORRUPT,
                         "%s does not match the manifest (CRC-32 %08x, %zu documents; the "
                         "manifest says %08x, %llu); rebuild the corpus",
                         txt, d->crc32, d->n, e->crc32, (unsigned long long)e->documents);
    else
        rc = bmx_shard_writer_open(&w, bin, bmx_tok_vocab_size(t), bmx_tok_eot(t), err);
    for (size_t base = 0; rc == BMX_OK && base < d->n; base += BATCH)
        rc = encode_batch(b, d, base, t, threads, w, txt, err);
    if (rc == BMX_OK) {
        tk->tokens = bmx_shard_writer_tokens(w);
        rc = bmx_shard_writer_close(w, err);
        w = NULL;
    }
    if (rc == BMX_OK && (rc = bmx_crc32_file(bin, &tk->shard_crc32, err)) < 0)
        bmx_err_prefix(err, "reading back the shard: ");
    if (rc == BMX_OK)
        bmx_log(log, BMX_LOG_INFO,
                "%s/%s: %zu documents, %llu tokens (%.2f bytes/token), %.1f s -> %s", e->domain,
                bmx_corpus_split_name(e->split), d->n, (unsigned long long)tk->tokens,
                tk->tokens > d->n ? (double)e->bytes / (double)(tk->tokens - d->n) : 0.0,
                bmx_now_s() - t0, bin);
    bmx_shard_writer_abort(w);
    bmx_corpus_docs_free(d);
    return rc;
}

int bmx_corpus_shard(const char *corpus_dir, const bmx_tok *t, const char *tokenizer, int threads,
                     const bmx_logger *log, size_t *nshards, bmx_err *err)
{
    bmx_corpus_entry *e = NULL;
    bmx_corpus_tokens *tk = NULL;
    char(*rel)[PATH_MAX] = NULL;
    enc *b = NULL;
    size_t n = 0;
    int rc;

    *nshards = 0;
    if ((rc = bmx_corpus_manifest_list(corpus_dir, &e, &n, err)) < 0)
        return rc;
    tk = calloc(n + 1, sizeof *tk);
    rel = calloc(n + 1, sizeof *rel);
    b = calloc(1, sizeof *b);
    if (!tk || !rel || !b)
        rc = bmx_err_set(err, BMX_ENOMEM, "out of memory");
    for (size_t i = 0; i < n && rc == BMX_OK; i++) {
        tk[i].domain = e[i].domain;
        tk[i].split = e[i].split;
        tk[i].shard = rel[i];
        rc = shard_one(corpus_dir, &e[i], t, threads, b, &tk[i], rel[i], sizeof rel[i], log, err);
    }
    if (rc == BMX_OK)
        rc = bmx_corpus_manifest_set_tokens(corpus_dir, tokenizer, bmx_tok_vocab_size(t), tk, n,
                                            err);
    if (rc == BMX_OK)
        *nshards = n;
    if (b)
        free(b->dec);
    free(b);
    free(tk);
    free(rel);
    free(e);
    return rc;
}
