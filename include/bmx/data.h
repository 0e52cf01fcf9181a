/* bmx/data.h - token shards: the file format, an atomic writer, a checked memory-mapped
 * reader, and random / fixed windows for training and evaluation.
 *
 * A shard holds the tokens of one domain and split. File layout (little-endian):
 *     offset  size  field
 *          0     8  magic "BMXSHARD"
 *          8     4  version (1)
 *         12     4  token width in bytes: 2 when vocab_size <= 65536, else 4
 *         16     4  vocab_size
 *         20     4  eot: the end-of-text id (< vocab_size)
 *         24     8  ntokens
 *         32     8  ndocs
 *         40     4  CRC-32 of the token bytes
 *         44    16  reserved, zero
 *         60     4  CRC-32 of bytes 0..59 (the header)
 *         64     -  ntokens tokens of `width` bytes
 * Every document is followed by one eot token, so the shard is
 * d1 eot d2 eot ... dn eot: ndocs equals the number of eot tokens and the last token is eot.
 * The reader checks all of this (and that every token is < vocab_size) and names the file
 * in every error.
 */
#ifndef BMX_DATA_H
#define BMX_DATA_H

#include "bmx/core.h"
#include "bmx/rng.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define BMX_SHARD_VERSION 1
#define BMX_SHARD_HEADER  64

/* ---- writer: temporary file PATH.tmp, then fsync and rename on close ---- */

typedef struct bmx_shard_writer bmx_shard_writer;

int bmx_shard_writer_open(bmx_shard_writer **w, const char *path, uint32_t vocab_size, uint32_t eot,
                          bmx_err *err);
/* Append one document (its ids, each < vocab_size and != eot) and an eot. */
int bmx_shard_writer_add(bmx_shard_writer *w, const uint32_t *ids, size_t n, bmx_err *err);
/* Finish: header, fsync, rename. Frees w whatever the outcome. */
int bmx_shard_writer_close(bmx_shard_writer *w, bmx_err *err);
/* Give up: remove the temporary file and free w. */
void bmx_shard_writer_abort(bmx_shard_writer *w);
uint64_t bmx_shard_writer_tokens(const bmx_shard_writer *w);

/* ---- reader ---- */

typedef struct bmx_shard {
    char *path;
    uint32_t version, width, vocab_size, eot;
    uint64_t ntokens, ndocs;
    uint32_t data_crc32;
    const void *tokens; /* ntokens of width bytes, inside the mapping */
    void *map;
    size_t map_len;
} bmx_shard;

/* Map and check a shard file: magic, version, width, header CRC, size, token CRC, eot
 * count, token range. */
int bmx_shard_open(bmx_shard **s, const char *path, bmx_err *err);
void bmx_shard_free(bmx_shard *s);
/* Token i (< ntokens). */
uint32_t bmx_shard_token(const bmx_shard *s, uint64_t i);
/* Copy tokens [start, start + n) into out; start + n <= ntokens. */
void bmx_shard_copy(const bmx_shard *s, uint64_t start, size_t n, uint32_t *out);
/* The tokens [*start, *end) of document doc (0 = the first; documents end with eot): at most
 * max of them, its end-of-text left out. Past the last document: *start = *end = ntokens. */
void bmx_shard_doc_span(const bmx_shard *s, uint64_t doc, uint64_t max, uint64_t *start,
                        uint64_t *end);

/* ---- windows ---- */

/* Draw a window of T+1 tokens: start = bmx_rng_below(rng, ntokens - T), uniform on
 * [0, ntokens - T - 1] (one draw from rng per window), out[k] = token(start + k) for
 * k = 0..T. Needs ntokens >= T + 1. *start_out may be NULL. Windows may cross document
 * boundaries (the eot token separates them). */
int bmx_shard_sample(const bmx_shard *s, bmx_rng *rng, size_t T, uint32_t *out, uint64_t *start_out,
                     bmx_err *err);

/* The fixed validation windows of a shard for context T: the K = floor((ntokens - 1) / T)
 * windows starting at 0, T, 2T, ... (each T+1 tokens, so their targets do not overlap);
 * when K > max_windows, max_windows of them chosen by a partial Fisher-Yates shuffle of
 * 0..K-1 with bmx_rng_seed(seed, 0) (bmx_rng_below per pick) and sorted ascending. *starts
 * is malloc'd (free it); *n may be 0 when the shard holds fewer than T + 1 tokens. */
int bmx_shard_val_windows(const bmx_shard *s, size_t T, size_t max_windows, uint64_t seed,
                          uint64_t **starts, size_t *n, bmx_err *err);

/* ---- the shards of several domains ---- */

typedef struct bmx_dataset {
    size_t n;                 /* domains */
    char **names;             /* their names */
    bmx_shard **shards;       /* shards[i]: DIR/<names[i]>/<split>.bin */
    uint32_t vocab_size, eot; /* shared by every shard */
} bmx_dataset;

/* Open DIR/<domain>/<split>.bin (split "train", "val" or "test") for each of the n domains;
 * every shard must have the same vocabulary size and end-of-text id. The per-domain token
 * counts (shards[i]->ntokens) are the natural mixture weights. */
int bmx_dataset_open(bmx_dataset **ds, const char *dir, const char *split,
                     const char *const *domains, size_t n, bmx_err *err);
void bmx_dataset_free(bmx_dataset *ds);

#ifdef __cplusplus
}
#endif

#endif
