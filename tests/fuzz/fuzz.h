/* tests/fuzz/fuzz.h - what the libFuzzer targets under tests/fuzz/ share.
 *
 * Each target fuzz_NAME.c defines LLVMFuzzerTestOneInput and feeds the input to one real
 * reader of the library, the way a hostile or damaged file reaches it. Readers that take a
 * path get the input written to a file in a private folder in memory (/dev/shm when it is
 * there, else /tmp; one per process, removed at exit). A target may also check properties of what
 * it loaded (a saved state reads back byte for byte, decode(encode(x)) == x, ...) and calls
 * fuzz_fail for a violation, which libFuzzer records as a crash with its input.
 *
 * Build and run: make fuzz (FUZZ_SECONDS=N each, default 60); seeds in tests/fuzz/corpus/NAME.
 */
#ifndef BMX_TESTS_FUZZ_H
#define BMX_TESTS_FUZZ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bmx/core.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char fuzz_dir_path[64];

static inline void fuzz_dir_remove(void)
{
    char cmd[128];
    if (fuzz_dir_path[0]) {
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", fuzz_dir_path);
        if (system(cmd) != 0)
            fprintf(stderr, "fuzz: could not remove %s\n", fuzz_dir_path);
    }
}

/* This process's private folder (created on first use). */
static inline const char *fuzz_dir(void)
{
    if (!fuzz_dir_path[0]) {
        snprintf(fuzz_dir_path, sizeof fuzz_dir_path, "%s/bmx-fuzz-XXXXXX",
                 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
        if (!mkdtemp(fuzz_dir_path)) {
            perror("fuzz: mkdtemp");
            abort();
        }
        atexit(fuzz_dir_remove);
    }
    return fuzz_dir_path;
}

/* Write data to NAME in the private folder; the path (static storage, one per name slot). */
static inline const char *fuzz_file(const char *name, const void *data, size_t size)
{
    static char path[4][128];
    static int slot;
    char *p = path[slot++ & 3];
    FILE *f;

    snprintf(p, sizeof path[0], "%s/%s", fuzz_dir(), name);
    f = fopen(p, "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0) {
        perror(p);
        abort();
    }
    return p;
}

/* Little-endian u32 at p. */
static inline void fuzz_put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* Checksums stop a mutation at the first check, so for most inputs the target recomputes
 * them as an attacker would (a valid CRC proves nothing), and the parser behind them is
 * reached; inputs whose size is 7 mod 8 keep their bytes, so the checks are fuzzed too. */
static inline int fuzz_fix_crc(size_t size)
{
    return size % 8 != 7;
}

/* A writable copy of the input (free it). */
static inline unsigned char *fuzz_copy(const uint8_t *data, size_t size)
{
    unsigned char *c = malloc(size ? size : 1);
    if (!c)
        abort();
    if (size)
        memcpy(c, data, size);
    return c;
}

/* The input written to NAME in the private folder; the path. When fuzz_fix_crc says so and
 * fix is given, what is written is a copy that fix gave its checksums. */
static inline const char *fuzz_input(const char *name, const uint8_t *in, size_t size,
                                     void (*fix)(unsigned char *data, size_t size))
{
    unsigned char *data = fuzz_copy(in, size);
    const char *p;

    if (fix && fuzz_fix_crc(size))
        fix(data, size);
    p = fuzz_file(name, data, size);
    free(data);
    return p;
}

/* A property the loaded data must have was violated: report and abort (a crash input). */
#define fuzz_fail(...)                                                                             \
    do {                                                                                           \
        fprintf(stderr, "fuzz: property violated at %s:%d: ", __FILE__, __LINE__);                 \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fputc('\n', stderr);                                                                       \
        abort();                                                                                   \
    } while (0)

/* Every failure must come with a message. */
static inline void fuzz_check_err(int rc, const bmx_err *err)
{
    if (rc < 0 && !err->msg[0])
        fuzz_fail("status %d without a message", rc);
}

#endif
