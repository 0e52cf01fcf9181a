/* bmx/core.h - status codes, error messages, logging and checksums shared by every module.
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

/* CRC-32 (IEEE 802.3, as zlib's crc32): start with crc = 0, feed chunks in order. */
uint32_t bmx_crc32(uint32_t crc, const void *data, size_t len);

/* CRC-32 of a whole file's bytes into *crc; BMX_EIO with the file's name on failure. */
int bmx_crc32_file(const char *path, uint32_t *crc, bmx_err *err);

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

/* mkdir -p: dir and every missing parent (mode 0777 before the umask); an existing
 * directory is fine. BMX_EIO naming the directory otherwise. */
int bmx_file_mkdir_p(const char *dir, bmx_err *err);

#ifdef __cplusplus
}
#endif

#endif
