/* bmx/report.h - what runs leave behind: JSONL records and SVG plots; and the project's one
 * JSON reader (bmx_jval, for the run logs and the corpus manifest).
 *
 * Everything is built in memory in a growable string (bmx_sbuf), so the caller decides where
 * it goes (a file, an HTML page, a test). An allocation failure is sticky: the buffer stops
 * growing, sets oom, and the function that writes it out reports BMX_ENOMEM.
 *
 * JSONL: one JSON object per line. Numbers are written so that strtod reads back the very
 * same double: "%.15g" when that round-trips (0.1 stays 0.1), else "%.17g" (always
 * exact), so a log replays bit for bit; a non-finite number is written as null. Strings
 * are escaped (\" \\ \b \f \n \r \t, other bytes below 0x20 as \u00XX; bytes >= 0x80 are
 * passed through, so UTF-8 stays UTF-8).
 *
 * SVG: self-contained documents (no scripts, no external fonts) that parse as XML:
 *  - bmx_svg_lines: several named series y(x) in one plot, with axes, "nice" ticks (1, 2, 5
 *    times a power of ten), axis labels, a title and a legend; a non-finite y breaks the
 *    line; more than BMX_SVG_MAX_POINTS points are reduced by averaging consecutive runs.
 *  - bmx_svg_stacked: a distribution over time as a stacked area (y from 0 to 1 for a
 *    distribution), one band per arm. With many arms only the `top` arms with the largest
 *    mean share get a band and a legend entry of their own; the rest form one "other" band.
 */
#ifndef BMX_REPORT_H
#define BMX_REPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "bmx/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- growable string ---- */

typedef struct bmx_sbuf {
    char *p;    /* NUL-terminated text (NULL while empty) */
    size_t len; /* bytes, without the NUL */
    size_t cap;
    int oom; /* an allocation failed; later appends are dropped */
} bmx_sbuf;

void bmx_sbuf_free(bmx_sbuf *b);
void bmx_sbuf_clear(bmx_sbuf *b); /* len = 0, keeps the memory */
void bmx_sbuf_put(bmx_sbuf *b, const char *s, size_t n);
void bmx_sbuf_puts(bmx_sbuf *b, const char *s);
void bmx_sbuf_printf(bmx_sbuf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* The text, "" when empty. */
const char *bmx_sbuf_str(const bmx_sbuf *b);
/* Append s escaped for XML text and attribute values (& < > " '). */
void bmx_sbuf_xml(bmx_sbuf *b, const char *s);
/* Write the whole buffer to f; BMX_ENOMEM if it overflowed, BMX_EIO if the write failed
 * (what names the destination in the message). */
int bmx_sbuf_fwrite(const bmx_sbuf *b, FILE *f, const char *what, bmx_err *err);
/* Write the whole buffer to a new file at path (replacing it). */
int bmx_sbuf_save(const bmx_sbuf *b, const char *path, bmx_err *err);

/* ---- JSON / JSONL ---- */

#define BMX_JSON_MAX_DEPTH 32

typedef struct bmx_json {
    bmx_sbuf out;
    int depth;
    unsigned char count[BMX_JSON_MAX_DEPTH]; /* items so far at each level (0, 1 = some) */
    int after_key;                           /* a key was written; its value comes next */
    int bad;                                 /* misuse: unbalanced or too deep */
} bmx_json;

/* A zeroed bmx_json is ready; bmx_json_free releases its memory. */
void bmx_json_free(bmx_json *j);
void bmx_json_obj(bmx_json *j);
void bmx_json_end_obj(bmx_json *j);
void bmx_json_arr(bmx_json *j);
void bmx_json_end_arr(bmx_json *j);
void bmx_json_key(bmx_json *j, const char *key);
void bmx_json_num(bmx_json *j, double v);
void bmx_json_int(bmx_json *j, long long v);
void bmx_json_str(bmx_json *j, const char *s);
void bmx_json_bool(bmx_json *j, int v);
void bmx_json_null(bmx_json *j);
/* An array of n numbers / ints. */
void bmx_json_nums(bmx_json *j, const double *v, size_t n);
void bmx_json_ints(bmx_json *j, const int *v, size_t n);
/* key + value shorthands. */
void bmx_json_kv_num(bmx_json *j, const char *key, double v);
void bmx_json_kv_int(bmx_json *j, const char *key, long long v);
void bmx_json_kv_str(bmx_json *j, const char *key, const char *s);

/* Write the finished value(s) as one line (text + "\n") to f and start afresh. Errors:
 * BMX_EINVAL for an unbalanced or misused writer, BMX_ENOMEM, BMX_EIO (naming what). */
int bmx_json_line(bmx_json *j, FILE *f, const char *what, bmx_err *err);

/* Format one number as the writer does (buf of at least 32 bytes); returns buf. */
char *bmx_json_fmt_num(char *buf, double v);

/* ---- JSON documents: parse, look up, build, pretty-print ---- */

/* The one JSON reader of the project (RFC 8259), used for the corpus manifest and the run
 * log. Objects keep their keys in insertion order (a repeated key keeps its first place and
 * its last value) and numbers keep their text, so a document read and written again comes
 * out byte for byte as it went in (given the same pretty-printing), and integers of any size
 * are exact (bmx_jval_as_u64). Strings are UTF-8 without NUL: every escape is decoded, UTF-16
 * surrogate pairs are joined, a lone surrogate becomes U+FFFD (a high one followed by a
 * \u escape that is not a low one is an error). Constructors return NULL
 * when memory runs out; bmx_jval_set / bmx_jval_push take ownership of the value (freeing
 * it on failure) and return 0 or -1. */
enum bmx_jtype { BMX_JNULL, BMX_JBOOL, BMX_JNUM, BMX_JSTR, BMX_JARR, BMX_JOBJ };

typedef struct bmx_jval {
    enum bmx_jtype t;
    int b;         /* BMX_JBOOL */
    char *s;       /* BMX_JSTR (UTF-8, NUL-free) or BMX_JNUM (its JSON text) */
    size_t n, cap; /* BMX_JARR / BMX_JOBJ: number of items */
    char **keys;   /* BMX_JOBJ */
    struct bmx_jval **items;
    void *index; /* BMX_JOBJ, private: a hash index of the keys, built once an object has
                    more than a few, so that set and get take constant time */
} bmx_jval;

/* Parse text[0..len) as exactly one JSON value (nesting at most 64 deep). On error
 * BMX_ECORRUPT (BMX_ENOMEM) with a message that names the byte offset, *out = NULL. */
int bmx_jval_parse(const char *text, size_t len, bmx_jval **out, bmx_err *err);
void bmx_jval_free(bmx_jval *v);
/* Member of an object (NULL when obj is not an object or has no such key). */
bmx_jval *bmx_jval_get(const bmx_jval *obj, const char *key);
/* The number's exact value when v is a non-negative integer without sign, fraction or
 * exponent that fits 64 bits; -1 otherwise. */
int bmx_jval_as_u64(const bmx_jval *v, uint64_t *out);
/* The number's value (nearest double) when v is a number; -1 otherwise. */
int bmx_jval_as_double(const bmx_jval *v, double *out);

bmx_jval *bmx_jval_null(void);
bmx_jval *bmx_jval_bool(int b);
bmx_jval *bmx_jval_u64(uint64_t x);
bmx_jval *bmx_jval_str(const char *s);
bmx_jval *bmx_jval_strn(const char *s, size_t n);
bmx_jval *bmx_jval_arr(void);
bmx_jval *bmx_jval_obj(void);
int bmx_jval_push(bmx_jval *arr, bmx_jval *v);
/* Set key in obj: replaces the value in place when the key exists, else appends. */
int bmx_jval_set(bmx_jval *obj, const char *key, bmx_jval *v);
/* Pretty-print (2-space indent, a final newline). Returns 0 or -1 on a write error. */
int bmx_jval_write(const bmx_jval *v, FILE *f);

/* ---- SVG plots ---- */

#define BMX_SVG_MAX_POINTS 800

typedef struct bmx_plot {
    const char *title;  /* may be NULL */
    const char *xlabel; /* may be NULL */
    const char *ylabel; /* may be NULL */
    int width, height;  /* pixels; 0 = 720 x 420 */
} bmx_plot;

typedef struct bmx_plot_series {
    const char *name; /* legend text */
    const double *x;  /* n values, increasing; NULL = 1, 2, ..., n */
    const double *y;  /* n values */
    size_t n;
} bmx_plot_series;

/* Append a line plot of ns series to out. Errors (BMX_EINVAL): ns == 0, a series with n == 0
 * or without y, non-finite x, or no finite y at all. */
int bmx_svg_lines(bmx_sbuf *out, const bmx_plot *plot, const bmx_plot_series *series, size_t ns,
                  bmx_err *err);

/* A shaded band around a series, lo[i] to hi[i] at the series' x[i] (a confidence band); a
 * non-finite bound leaves a gap. */
typedef struct bmx_plot_band {
    const double *lo, *hi; /* the series' n values each; NULL: no band */
} bmx_plot_band;

/* bmx_svg_lines with bands (bands: ns entries, or NULL for none) drawn under the lines in
 * each series' colour (class "ci-band"), and when zero_line a dashed line at y = 0 (class
 * "zero"; 0 is then always within the y range). */
int bmx_svg_lines_band(bmx_sbuf *out, const bmx_plot *plot, const bmx_plot_series *series,
                       const bmx_plot_band *bands, size_t ns, int zero_line, bmx_err *err);

/* Append a stacked-area plot of n rows of k values (v[i * k + a] = share of arm a at x[i];
 * x NULL = 1..n) to out. names: k legend names or NULL ("arm 0", "arm 1", ...). top: arms
 * shown on their own (0 = 12); when k > top + 1 the others are summed into "other".
 * Errors (BMX_EINVAL): n == 0, k == 0, a negative or non-finite value, non-finite x. */
int bmx_svg_stacked(bmx_sbuf *out, const bmx_plot *plot, const double *x, size_t n, const double *v,
                    size_t k, const char *const *names, size_t top, bmx_err *err);

#ifdef __cplusplus
}
#endif

#endif
