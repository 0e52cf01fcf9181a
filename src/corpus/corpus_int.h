/* src/corpus/corpus_int.h - pieces shared inside the corpus module. */
#ifndef BMX_CORPUS_INT_H
#define BMX_CORPUS_INT_H

#include "bmx/corpus.h"

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <zlib.h>

/* CRC-32 of the corpus's bytes: zlib's crc32 (the same values as bmx_crc32, several bytes at a
 * time: import CRCs every byte it reads and writes, and the bytewise table of bmx_crc32 was half
 * its time). bmx_crc32 itself stays self-contained: libbmx_mix links libc and libm only. */
static inline uint32_t corpus_crc32(uint32_t crc, const void *data, size_t len)
{
    const unsigned char *p = data;
    while (len > 0) {
        uInt k = len > (1u << 30) ? (1u << 30) : (uInt)len;
        crc = (uint32_t)crc32(crc, p, k);
        p += k;
        len -= k;
    }
    return crc;
}

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

/* snprintf that cuts paths and messages short on purpose, without truncation warnings. */
void corpus_fmt(char *buf, size_t len, const char *f, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* bmx_corpus_normalize, and bmx_corpus_hash of its output into *hash, in one pass. */
size_t corpus_normalize_hash(const void *in, size_t n, void *out, bmx_corpus_norm_stats *st,
                             uint64_t *hash);

/* bmx_corpus_hash of n documents (p[i], len[i]) into h[i], four at a time: the multiply
 * chains of four documents overlap. */
void corpus_hash_many(const unsigned char *const *p, const size_t *len, uint64_t *h, size_t n);

/* A JSON string from bytes that may be invalid UTF-8 (normalised first); "%08x" of x. */
struct bmx_jval *corpus_j_text(const char *s, size_t n);
struct bmx_jval *corpus_j_hex32(uint32_t x);
/* The JSON value v that a run of bmx_jval_set/push calls built, their |'d status in rc: v when
 * rc is 0, else NULL (and v freed). */
struct bmx_jval *corpus_j_done(struct bmx_jval *v, int rc);

/* ---- a set of 64-bit hashes (open addressing; 0 is the empty slot) ---- */
struct hset {
    uint64_t *v;
    size_t cap, n;
    int has_zero;
};
int hset_has(const struct hset *s, uint64_t h);
int hset_add(struct hset *s, uint64_t h); /* 0, or -1 out of memory */
int hset_merge(struct hset *dst, const struct hset *src);

/* ---- one domain's output: OUT/<name>/{train,val,test}.txt, written through temporary
 * files, and the document pipeline of bmx/corpus.h (normalise, filter, deduplicate, cap,
 * split) ---- */
struct sink {
    char name[128];
    char path[BMX_NSPLITS][PATH_MAX], tmp[BMX_NSPLITS][PATH_MAX];
    FILE *f[BMX_NSPLITS];
    uint64_t docs[BMX_NSPLITS], bytes[BMX_NSPLITS], fbytes[BMX_NSPLITS];
    uint32_t crc[BMX_NSPLITS];
    uint64_t nread, bytes_read, kept_bytes, n_bin, n_empty, n_dup, n_cap;
    int io_error; /* writing failed: reason says why */
    char reason[600];
};

/* What a document goes through; shared by every domain of one build or import. */
struct doc_filter {
    unsigned split[3];
    uint64_t max_bytes;      /* per domain (0: none); the document crossing it is kept */
    uint64_t max_docs;       /* per domain (0: none) */
    const struct hset *seen; /* documents kept before (may be NULL) */
    struct hset *kept;       /* the hashes kept here are added to it */
    unsigned char *norm;     /* normalisation buffer, grown as needed */
    size_t norm_cap;
};

/* Set the paths of DIR/<name>/ (no file is touched). */
void sink_init(struct sink *s, const char *out_dir, const char *name);
/* Create the folder and the temporary files with the container's first line; -1 with
 * s->reason (s->io_error set). */
int sink_open(struct sink *s);
/* One document through the pipeline; 1 kept, 0 dropped (counted), -1 out of memory or a
 * write error (s->reason). */
int sink_doc(struct sink *s, struct doc_filter *f, const void *body, size_t len, const char *label,
             size_t label_len);
/* The two halves of sink_doc, for callers that normalise and hash documents in batches:
 * sink_take counts a document read and says whether the domain still takes documents (0:
 * counted as over the cap); sink_put sends the normalised document (its stats and hash)
 * through the rest of the pipeline, with the same results as sink_doc. */
int sink_take(struct sink *s, const struct doc_filter *f, size_t len);
int sink_put(struct sink *s, struct doc_filter *f, const void *norm, size_t m,
             const bmx_corpus_norm_stats *st, uint64_t h, const char *label, size_t label_len);
/* Close the files: keep != 0 renames them into place (s->io_error and s->reason on
 * failure), else removes them and any earlier output of the domain. Stale shards of the
 * domain are removed either way. */
void sink_close(struct sink *s, int keep);
/* Whether the domain is full (a cap reached). */
int sink_full(const struct sink *s, const struct doc_filter *f);
/* Log what the domain kept and dropped, "WHO: NAME: N documents kept (...), dropped ...TAIL",
 * and warn when its validation or test split is empty. */
void sink_log(const struct sink *s, const bmx_logger *lg, const char *who, const char *name,
              const char *tail);
/* Close and remove the temporary files, leaving any earlier output alone. */
void sink_discard(struct sink *s);
/* The manifest pieces: "documents_read", "bytes_read", "dropped" and "splits" set in obj;
 * -1 out of memory. */
int sink_json(const struct sink *s, struct bmx_jval *obj);

/* The rules of the document pipeline, as manifest parameters: "split" (the weights),
 * "split_rule", "document_hash", "normalisation", "binary_max_fraction",
 * "min_nonspace_bytes"; -1 out of memory. */
int corpus_params_rules(struct bmx_jval *p, const unsigned split[3]);

/* ---- a file read through its decompressor (zread.c): plain, gzip (every member) or
 * zstd, told apart by the first bytes ---- */
enum { ZR_PLAIN = 0, ZR_GZIP = 1, ZR_ZSTD = 2 };
enum { ZR_END = 0, ZR_ERR_IO = -1, ZR_ERR_TRUNCATED = -2, ZR_ERR_CORRUPT = -3 };
struct zr;
/* Open path; NULL with why set (errno's message) when it cannot be opened. */
struct zr *zr_open(const char *path, char *why, size_t why_len);
/* Up to cap decompressed bytes into buf: > 0 their count, ZR_END at the end of the data,
 * or a ZR_ERR_* code with why set (reading after an error gives the same error). */
long zr_read(struct zr *z, void *buf, size_t cap, char *why, size_t why_len);
int zr_kind(const struct zr *z);
uint64_t zr_raw_bytes(const struct zr *z); /* bytes of the file read so far */
uint32_t zr_raw_crc(const struct zr *z);   /* their CRC-32 */
void zr_close(struct zr *z);

#endif
