/* src/flad/flad_int.h - inside src/flad: the run configuration's checks (run_config.c), and
 * the little-endian byte writer and reader of the loop's state sections (flad.c). */
#ifndef BMX_FLAD_INT_H
#define BMX_FLAD_INT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "bmx/backend.h"
#include "bmx/eval.h"
#include "bmx/flad.h"

/* run_config.c: NULL strings of c made "" (so a caller may leave them NULL); c checked,
 * naming the option and the fix (resume: --init or --init-random may be left out). */
void flad_run_config_fill(bmx_flad_run_config *c);
int flad_run_config_check(const bmx_flad_run_config *c, int resume, bmx_err *err);

/* init.c: theta_0 of c - the --init checkpoint's parameters, or the --init-random model of
 * c's seed (the vocabulary of tok). */
int flad_init_model(const bmx_flad_run_config *c, const bmx_tok *tok, bmx_model **m, bmx_err *err);
/* init.c: the optimizer of a FLAD run (c's lr and weight decay, constant, accum 1), and the
 * backend of c's device over trainer tr: the CPU trainer itself, or the CUDA trainer with room
 * for a batch and for the largest choice set of target (validation and test scoring). */
bmx_train_config flad_train_config(const bmx_flad_run_config *c);
int flad_backend(const bmx_flad_run_config *c, bmx_trainer *tr, const bmx_task *target,
                 bmx_backend **be, bmx_err *err);

/* flad.c: scoring rows through be's evaluation forward (bmx_backend_eval). */
bmx_eval_forward flad_backend_forward(bmx_backend *be);

/* A writer into p[0..cap): len counts every byte put, written or not (p NULL: a dry run). */
typedef struct flad_le_w {
    unsigned char *p;
    size_t len, cap;
} flad_le_w;

static inline void flad_le_bytes(flad_le_w *w, const void *s, size_t n)
{
    if (w->p && w->len + n <= w->cap && n)
        memcpy(w->p + w->len, s, n);
    w->len += n;
}

/* v as n (4 or 8) bytes little-endian (core's codec). */
static inline void flad_le_put(flad_le_w *w, uint64_t v, int n)
{
    unsigned char b[8];
    bmx_le_put64(b, v);
    flad_le_bytes(w, b, (size_t)n);
}

/* n (4 or 8) bytes little-endian at *p (core's codec); *p moves past them (the caller checked
 * the length). */
static inline uint64_t flad_le_get(const unsigned char **p, int n)
{
    uint64_t v = n == 8 ? bmx_le_get64(*p) : bmx_le_get32(*p);
    *p += n;
    return v;
}

#endif
