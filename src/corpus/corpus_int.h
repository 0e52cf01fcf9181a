/* src/corpus/corpus_int.h - pieces shared inside the corpus module. */
#ifndef BMX_CORPUS_INT_H
#define BMX_CORPUS_INT_H

#include <stddef.h>

#define REC_HEADER_MAX 4096
#define REC_DOC_MAX    ((size_t)1 << 30)

enum { REC_PKG = 1, REC_DOC = 2 };

/* One record of the extractor stream / corpus text container. */
struct rec {
    int kind;
    /* PKG: the four fields (licence = the rest of the line) */
    const char *f[4];
    size_t flen[4];
    /* DOC: label and body */
    const char *label;
    size_t label_len;
    const char *body;
    size_t body_len;
};

/* Parse one record at buf[0..avail). Returns 1 with *used set, 0 when more bytes are needed
 * (never when eof), -1 with why set on a malformed record. */
int rec_parse(const char *buf, size_t avail, int eof, struct rec *r, size_t *used, char *why,
              size_t why_len);

#define CORPUS_FILE_MAGIC "#bmx-corpus 1\n"

struct bmx_jval;
struct bmx_err;
/* Write DIR/manifest.json atomically (temporary file, fsync, rename). */
int corpus_write_manifest(const char *dir, const struct bmx_jval *m, struct bmx_err *err);

#endif
