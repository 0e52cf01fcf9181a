/* bmx/core.h - the utility layer every module shares: status codes, error messages, logging,
 * CRC-32, little-endian byte order, regular files (whole-file read with a size cap, atomic
 * write, mkdir -p), the growable string and the JSON writer and reader.
 *
 * Conventions (see ../shared/DESIGN.md):
 *  - a function that can fail returns an int status: BMX_OK (0) or a negative BMX_E* code,
 *    and fills the caller-given bmx_err with a message that says what was wrong and how
 *    to fix it;
 *  - the library never prints and never exits: messages go through a caller-given logger;
 *  - no global mutable state.
 */
#ifndef BMX_CORE_H
#define BMX_CORE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

enum {
    BMX_OK = 0,
    BMX_EINVAL = -1,   /* bad argument or configuration */
    BMX_ENOMEM = -2,   /* allocation failed */
    BMX_EIO = -3,      /* a file could not be read or written */
    BMX_ECORRUPT = -4, /* bad magic, version, size or checksum in external data */
    BMX_ESTATE = -5,   /* call not valid in the object's current state */
};

#define BMX_ERR_LEN 512

typedef struct bmx_err {
    int code;
    char msg[BMX_ERR_LEN];
} bmx_err;

/* Set err (if not NULL) to code and a printf-style message; returns code. */
int bmx_err_set(bmx_err *err, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Clear err (code 0, empty message). */
void bmx_err_clear(bmx_err *err);

/* Put a printf-style prefix before err's message (context: "policy odm, round 3: ");
 * returns err's code. */
int bmx_err_prefix(bmx_err *err, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Logging through a caller-given function; a NULL logger drops messages. */
enum { BMX_LOG_DEBUG = 0, BMX_LOG_INFO = 1, BMX_LOG_WARN = 2, BMX_LOG_ERROR = 3 };

typedef void (*bmx_log_fn)(void *ctx, int level, const char *msg);

typedef struct bmx_logger {
    bmx_log_fn fn;
    void *ctx;
} bmx_logger;

void bmx_log(const bmx_logger *lg, int level, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Seconds on the monotonic clock (for durations: subtract two readings). */
double bmx_now_s(void);
/* A duration for people (an ETA): "MmSSs" under an hour, "HhMMm" from an hour on, "?" when
 * negative, not a number or over 10^7 s; truncated, not rounded. Returns buf. */
char *bmx_fmt_duration(char *buf, size_t cap, double s);

/* CRC-32 (IEEE 802.3, as zlib's crc32): start with crc = 0, feed chunks in order. */
uint32_t bmx_crc32(uint32_t crc, const void *data, size_t len);

/* CRC-32 of a whole file's bytes into *crc; BMX_EIO with the file's name on failure. */
int bmx_crc32_file(const char *path, uint32_t *crc, bmx_err *err);

/* ---- little-endian byte order: the one codec of every binary format ----
 * Fixed-width fields at p, least significant byte first, whatever the host's order; the
 * doubles and floats travel as their IEEE-754 bit patterns. */
static inline void bmx_le_put16(unsigned char *p, uint16_t v)
{
    p[0] = (unsigned char)v, p[1] = (unsigned char)(v >> 8);
}
static inline void bmx_le_put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}
static inline void bmx_le_put64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}
static inline uint16_t bmx_le_get16(const unsigned char *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}
static inline uint32_t bmx_le_get32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t bmx_le_get64(const unsigned char *p)
{
    return (uint64_t)bmx_le_get32(p) | (uint64_t)bmx_le_get32(p + 4) << 32;
}
static inline void bmx_le_put_f32(unsigned char *p, float x)
{
    uint32_t u;
    memcpy(&u, &x, 4);
    bmx_le_put32(p, u);
}
static inline void bmx_le_put_f64(unsigned char *p, double x)
{
    uint64_t u;
    memcpy(&u, &x, 8);
    bmx_le_put64(p, u);
}
static inline float bmx_le_get_f32(const unsigned char *p)
{
    uint32_t u = bmx_le_get32(p);
    float x;
    memcpy(&x, &u, 4);
    return x;
}
static inline double bmx_le_get_f64(const unsigned char *p)
{
    uint64_t u = bmx_le_get64(p);
    double x;
    memcpy(&x, &u, 8);
    return x;
}

/* ---- files that must be regular files ----
 * Every reader of a file the user names goes through these: a FIFO, directory, socket or
 * device is refused at once (BMX_EIO, "PATH is a FIFO (named pipe), not a regular file")
 * instead of blocking on it or failing later with a misleading message. The file is opened
 * with O_NONBLOCK (so a FIFO without a writer does not block), checked with fstat, and
 * O_NONBLOCK is cleared again. Messages name the path. */

/* A read-only descriptor (O_CLOEXEC) of the regular file at path into *fd. */
int bmx_file_open_regular(const char *path, int *fd, bmx_err *err);

/* The same as a stdio stream for reading ("rb") into *f. */
int bmx_file_fopen_regular(const char *path, FILE **f, bmx_err *err);

/* The whole regular file at path into a malloc'd buffer (a NUL appended, not counted in
 * *size). A file over max bytes (max < SIZE_MAX) is refused with BMX_ECORRUPT: max is a
 * bound no valid file of its kind reaches. */
int bmx_file_read_all(const char *path, size_t max, char **data, size_t *size, bmx_err *err);

/* The same, or with path "-" the whole of standard input (named "standard input"). */
int bmx_file_read_input(const char *path, size_t max, char **data, size_t *size, bmx_err *err);

/* Replace the file at path by data[0..len) atomically: written to PATH.tmp, synced, renamed
 * over path, the folder synced. A reader sees the old file or the new one, never a part. */
int bmx_file_write_atomic(const char *path, const void *data, size_t len, bmx_err *err);

/* Its last step, for writers that stream into their own temporary file (shards, checkpoints):
 * rename tmp (written and synced) over path, then sync the folder so that the rename survives
 * a crash. On failure tmp is removed and BMX_EIO names both paths. */
int bmx_file_commit(const char *tmp, const char *path, bmx_err *err);

/* mkdir -p: dir and every missing parent (mode 0777 before the umask); an existing
 * directory is fine. BMX_EIO naming the directory otherwise. */
int bmx_file_mkdir_p(const char *dir, bmx_err *err);

/* ---- growable string, JSON writer and reader: the text utilities every module shares ----
 * Everything is built in memory in a growable string (bmx_sbuf), so the caller decides where
 * it goes (a file, an HTML page, a test). An allocation failure is sticky: the buffer stops
 * growing, sets oom, and the function that writes it out reports BMX_ENOMEM.
 *
 * JSONL: one JSON object per line. Numbers are written so that strtod reads back the very
 * same double: "%.15g" when that round-trips (0.1 stays 0.1), else "%.17g" (always
 * exact), so a log replays bit for bit; a non-finite number is written as null. Strings
 * are escaped (\" \\ \b \f \n \r \t, other bytes below 0x20 as \u00XX; bytes >= 0x80 are
 * passed through, so UTF-8 stays UTF-8). */

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
void bmx_json_u64(bmx_json *j, uint64_t v);
void bmx_json_str(bmx_json *j, const char *s);
void bmx_json_bool(bmx_json *j, int v);
void bmx_json_null(bmx_json *j);
/* An array of n numbers / ints. */
void bmx_json_nums(bmx_json *j, const double *v, size_t n);
void bmx_json_ints(bmx_json *j, const int *v, size_t n);
/* key + value shorthands. */
void bmx_json_kv_num(bmx_json *j, const char *key, double v);
void bmx_json_kv_int(bmx_json *j, const char *key, long long v);
void bmx_json_kv_u64(bmx_json *j, const char *key, uint64_t v);
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

#ifdef __cplusplus
}
#endif

#endif
