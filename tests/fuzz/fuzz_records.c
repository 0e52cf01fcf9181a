/* Fuzz target: corpus records. The input is read as a corpus text file
 * (bmx_corpus_docs_load, src/corpus/record.c) and, without its first line, as an extractor
 * stream fed to the record parser in pieces (rec_parse with eof = 0 until the end), as
 * `bmx corpus build` reads it from a pipe. Records must stay inside the input. */
#include "../../src/corpus/corpus_int.h"
#include "bmx/corpus.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = fuzz_file("train.txt", data, size);
    bmx_corpus_docs *d = NULL;
    bmx_err err = {0};
    int rc = bmx_corpus_docs_load(p, &d, &err);
    const char *buf = (const char *)data;
    size_t pos = 0, ndoc = 0;

    fuzz_check_err(rc, &err);
    if (size && buf[0] == '#') { /* the container's first line is not a record */
        const char *nl = memchr(buf, '\n', size);
        pos = nl ? (size_t)(nl - buf) + 1 : size;
    }
    /* the stream: give the parser a growing window, as reads from a pipe would */
    while (pos < size) {
        struct rec r;
        size_t used = 0, avail = 1;
        char why[160];
        int got;
        for (;;) {
            int eof = pos + avail >= size;
            if (eof)
                avail = size - pos;
            got = rec_parse(buf + pos, avail, eof, &r, &used, why, sizeof why);
            if (got != 0 || eof)
                break;
            avail = avail * 2 + 1;
        }
        if (got <= 0)
            break;
        if (used == 0 || used > size - pos)
            fuzz_fail("record of %zu bytes at %zu of %zu", used, pos, size);
        if (r.kind == REC_DOC) {
            if (r.body + r.body_len > buf + pos + used || r.label + r.label_len > buf + pos + used)
                fuzz_fail("document record points past itself");
            ndoc++;
        }
        pos += used;
    }
    if (!rc) {
        for (size_t i = 0; i < d->n; i++)
            if (d->doc[i].text + d->doc[i].len > d->data + d->size)
                fuzz_fail("document %zu past the file", i);
        bmx_corpus_docs_free(d);
    }
    return 0;
}
