/* src/corpus/import_int.h - pieces shared by the files of bmx corpus import: import.c
 * (options, domains, the document batches, bad-input accounting, the manifest) and
 * import_read.c (reading JSON Lines files and folders). */
#ifndef BMX_IMPORT_INT_H
#define BMX_IMPORT_INT_H

#include "bmx/corpus.h"
#include "corpus_int.h"

#include <stddef.h>
#include <stdint.h>

#define READ_MIN   ((size_t)1 << 20)   /* free room before each read */
#define READ_CHUNK ((size_t)256 << 10) /* JSONL is decompressed in chunks of this size */
#define MAX_DEPTH  64                  /* folder nesting */

enum { BAD_MALFORMED, BAD_NO_TEXT, BAD_NO_DOMAIN, BAD_TOO_LONG, BAD_TRUNCATED, BAD_CORRUPT, NBAD };

/* The account of one input. */
struct input {
    const bmx_import_src *src;
    const char *base; /* the file name without its folders (labels) */
    uint64_t raw_bytes, text_bytes, units, records, kept, not_selected;
    uint32_t crc;
    int compression; /* JSONL: ZR_* */
    uint64_t bad[NBAD];
    uint64_t first_line[NBAD][BMX_IMPORT_FIRST_BAD];
    char *first_file[NBAD][BMX_IMPORT_FIRST_BAD]; /* folders */
    char first_why[BMX_IMPORT_FIRST_BAD][120];    /* JSONL: why the first lines are malformed */
};

/* A domain name seen in the data. */
struct dom {
    char *raw;
    size_t raw_len;
    char base[72], safe[80];
    int selected;
    struct sink *out; /* opened at the first selected document */
};

struct imp {
    const bmx_import_opts *o;
    bmx_err *err;
    struct dom *dom;
    size_t ndom, last;
    int *sel_hit; /* per o->domains entry: matched a name in the data */
    struct hset kept;
    struct doc_filter filt;
    struct input *in;
    bmx_import_result r;
    double t0, next_progress, progress_s;
    int stop;  /* every selected domain is full */
    char *buf; /* JSONL lines, folder documents */
    size_t cap;
    const char *text_key;
    /* JSONL documents waiting to be normalised and hashed as a batch (their text lies in
     * buf, which does not move until the batch is flushed) */
    struct pending *pend;
    size_t npend, pend_cap;
    unsigned char *arena; /* their normalised text */
    size_t arena_cap;
    const unsigned char **hp;
    size_t *hlen;
    uint64_t *hash;
    size_t h_cap;
};

struct pending {
    struct dom *d;
    struct input *in;
    const char *text;
    size_t len;
    uint64_t line;
    size_t off, m; /* the normalised text: arena[off..off+m) */
    bmx_corpus_norm_stats st;
};

/* Count bad input of kind at line (JSONL) or file (folders); with strict, fail. */
int imp_bad(struct imp *m, struct input *in, int kind, uint64_t line, const char *file,
            const char *why, size_t at);
/* The domain named raw[0..n), added at its first sight; NULL with m->err set. */
struct dom *imp_domain(struct imp *m, struct input *in, const char *raw, size_t n, uint64_t line);
/* One document of domain d, through the pipeline at once (folders). */
int imp_doc(struct imp *m, struct input *in, struct dom *d, const char *text, size_t len,
            const char *label, size_t label_len);
/* A JSONL document: its text stays in m->buf until imp_flush. */
int imp_queue(struct imp *m, struct input *in, struct dom *d, const char *text, size_t len,
              uint64_t line);
/* Normalise the queued documents, hash them four at a time, send them on in order. */
int imp_flush(struct imp *m);
/* A progress line every m->progress_s seconds (force: now). */
void imp_progress(struct imp *m, const struct input *in, int force);
/* The label of a document: NAME:LINE (JSONL, line > 0) or NAME, without control
 * characters; returns its length. */
size_t imp_label(char *out, size_t cap, const char *name, uint64_t line);

/* import_read.c: read one input; 0 or an error code with m->err set. */
int imp_read_jsonl(struct imp *m, struct input *in);
int imp_read_dir(struct imp *m, struct input *in);

#endif
