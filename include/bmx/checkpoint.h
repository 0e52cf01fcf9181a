/* bmx/checkpoint.h - the checkpoint file: tagged sections, each with its CRC-32, behind a
 * small table of contents; little-endian everywhere.
 *
 * File (version 2):
 *   0   magic "BMXCKPT1" (8 bytes; kept from version 1, so an old file is named by version)
 *   8   u32 version (2)
 *   12  u32 n, the number of sections (1 .. BMX_CKPT_MAX_SECTIONS)
 *   16  n entries of 32 bytes: tag (8 bytes, ASCII, NUL-padded), u64 offset, u64 length,
 *       u32 CRC-32 of the section's bytes, u32 zero
 *   16 + 32 n   u32 CRC-32 of every byte before it (header and table)
 *   then the sections, one after the other in table order, the first right after the
 *   table's CRC, the last ending at the end of the file.
 * Opening checks magic, version (a version-1 file is refused naming the file and both
 * versions), the table's CRC, that the sections tile the file exactly (a short file is
 * "truncated", a longer one has "trailing bytes") and that tags are distinct; reading a
 * section checks its CRC. So a section can never be larger than the file holds.
 *
 * The trainer's sections (bmx_ckpt_add_trainer / bmx_ckpt_load_trainer):
 *   "model"   i32 vocab, ctx, layers, heads, width, vocab_padded (24 bytes)
 *   "params"  the parameters, f32 each, in the flat layout of bmx/model.h
 *   "optim"   f64 lr, min_lr, beta1, beta2, eps, weight_decay, clip; i64 warmup, total;
 *             i32 accum, i32 zero; i64 step (96 bytes)
 *   "adam.m", "adam.v"   the AdamW moments, f32 each, in the parameters' layout
 * Other modules add their own (the training run: "run", "rng", "policy"; bmx_checkpoint_save's
 * extra bytes: "extra"). Files are written to PATH.tmp.XXXXXX, synced, renamed over PATH, and
 * the directory synced.
 */
#ifndef BMX_CHECKPOINT_H
#define BMX_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "bmx/core.h"
#include "bmx/model.h"
#include "bmx/train.h"

#ifdef __cplusplus
extern "C" {
#endif

#define BMX_CKPT_VERSION      2u
#define BMX_CKPT_MAX_SECTIONS 64
#define BMX_CKPT_TAG_LEN      8 /* a tag has 1 .. 8 printable ASCII characters */

/* ---- writing ---- */

typedef struct bmx_ckpt_writer bmx_ckpt_writer;

int bmx_ckpt_writer_create(bmx_ckpt_writer **out, bmx_err *err);
void bmx_ckpt_writer_free(bmx_ckpt_writer *w);
/* A section of len bytes, copied now. A bad or repeated tag is BMX_EINVAL. */
int bmx_ckpt_add(bmx_ckpt_writer *w, const char *tag, const void *data, size_t len, bmx_err *err);
/* A section of n floats, written little-endian; not copied: x must live until the save. */
int bmx_ckpt_add_f32(bmx_ckpt_writer *w, const char *tag, const float *x, size_t n, bmx_err *err);
/* The trainer's sections (above); the parameters and moments are not copied. */
int bmx_ckpt_add_trainer(bmx_ckpt_writer *w, const bmx_trainer *t, bmx_err *err);
/* Write every section to path atomically (above). */
int bmx_ckpt_save(const bmx_ckpt_writer *w, const char *path, bmx_err *err);

/* ---- reading ---- */

typedef struct bmx_ckpt_reader bmx_ckpt_reader;

/* Open path and check its header and table (above); errors name the file. */
int bmx_ckpt_open(const char *path, bmx_ckpt_reader **out, bmx_err *err);
void bmx_ckpt_close(bmx_ckpt_reader *r);
const char *bmx_ckpt_path(const bmx_ckpt_reader *r);
/* The tag of section i in table order; NULL when i is past the last. */
const char *bmx_ckpt_tag(const bmx_ckpt_reader *r, int i);
/* 1 and *len when the file has a section tag, else 0. */
int bmx_ckpt_has(const bmx_ckpt_reader *r, const char *tag, size_t *len);
/* Section tag into dst, which must be exactly its length; a missing section, another
 * length or a bad CRC is BMX_ECORRUPT naming the file and the section. */
int bmx_ckpt_read(bmx_ckpt_reader *r, const char *tag, void *dst, size_t len, bmx_err *err);
/* The same into a malloc'd buffer (*len its length; NULL when the section is empty). */
int bmx_ckpt_read_alloc(bmx_ckpt_reader *r, const char *tag, void **dst, size_t *len, bmx_err *err);
/* A section of n floats (little-endian in the file). */
int bmx_ckpt_read_f32(bmx_ckpt_reader *r, const char *tag, float *dst, size_t n, bmx_err *err);
/* The trainer's sections into a new model (blas as bmx_model_create) and trainer; sizes are
 * checked against the model's configuration before anything is allocated. */
int bmx_ckpt_load_trainer(bmx_ckpt_reader *r, int blas, bmx_model **model, bmx_trainer **trainer,
                          bmx_err *err);

#ifdef __cplusplus
}
#endif

#endif
