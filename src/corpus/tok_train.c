/* A BPE vocabulary learnt from text files and corpus text files (bmx_corpus_tok_train,
 * bmx/corpus.h). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bmx/corpus.h"
#include "bmx/tok.h"

typedef struct input {
    const void **docs;
    size_t *lens, n, cap;
    char **own; /* whole files, each one document */
    size_t nown;
    bmx_corpus_docs **corp; /* loaded corpus files */
    size_t ncorp;
} input;

static int add_doc(input *in, const void *p, size_t len)
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

static int add_file(input *in, const char *path, bmx_err *err)
{
    static const char magic[] = "#bmx-corpus ";
    char *data;
    size_t len;
    bmx_corpus_docs *d;
    int rc;

    int in_stdin = strcmp(path, "-") == 0;

    if ((rc = bmx_file_read_input(path, SIZE_MAX / 4, &data, &len, err)) < 0)
        return rc;
    if (len < sizeof magic - 1 || memcmp(data, magic, sizeof magic - 1) != 0) {
        in->own[in->nown++] = data;
        return add_doc(in, data, len) < 0 ? bmx_err_set(err, BMX_ENOMEM, "out of memory") : 0;
    }
    free(data);
    if (in_stdin)
        return bmx_err_set(err, BMX_EINVAL,
                           "a corpus text file cannot come from stdin: give its path");
    if ((rc = bmx_corpus_docs_load(path, &d, err)) < 0)
        return rc;
    in->corp[in->ncorp++] = d;
    for (size_t i = 0; i < d->n; i++)
        if (add_doc(in, d->doc[i].text, d->doc[i].len) < 0)
            return bmx_err_set(err, BMX_ENOMEM, "out of memory");
    return BMX_OK;
}

int bmx_corpus_tok_train(bmx_tok **out, const char *const *files, size_t nfiles,
                         uint32_t vocab_size, int threads, size_t *ndocs, bmx_err *err)
{
    input in = {0};
    int rc = BMX_OK;

    *out = NULL;
    in.own = calloc(nfiles + 1, sizeof *in.own);
    in.corp = calloc(nfiles + 1, sizeof *in.corp);
    if (!in.own || !in.corp)
        rc = bmx_err_set(err, BMX_ENOMEM, "out of memory");
    for (size_t i = 0; i < nfiles && rc == BMX_OK; i++)
        rc = add_file(&in, files[i], err);
    if (rc == BMX_OK)
        rc = bmx_tok_train_docs(out, in.docs, in.lens, in.n, vocab_size, threads, err);
    *ndocs = in.n;
    for (size_t i = 0; i < in.nown; i++)
        free(in.own[i]);
    for (size_t i = 0; i < in.ncorp; i++)
        bmx_corpus_docs_free(in.corp[i]);
    free(in.own);
    free(in.corp);
    free(in.docs);
    free(in.lens);
    return rc;
}
