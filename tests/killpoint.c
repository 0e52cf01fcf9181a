/* tests/killpoint.c - an LD_PRELOAD library for the kill tests (tests/cli/test_run_resume.sh):
 * it stops a bmx run with a signal at an exact point of its progress, not at a moment on the
 * clock, so a kill lands inside the run whatever the machine's load, and a schedule drawn from
 * a printed seed replays exactly. Built by that test itself; not a test binary and not part of
 * the library.
 *
 * The points, in the order a run passes them after step S (S = 0: before the first step):
 *   step S      before the log record of step S is written (the state of a kill during step S;
 *               bmx flad: of round S, tests/cli/test_flad_resume.sh)
 *   eval S      before the log record of the validation at step S (a kill during validation)
 *   ckpt S W    in the W-th write() to the temporary file of the checkpoint written after step
 *               S: half of that write's bytes reach the file, then the signal (a kill during a
 *               checkpoint write; the logs were flushed and synced just before)
 *   commit S    that checkpoint fully written to its temporary file, not yet renamed into place
 *
 * BMX_KILLPOINT="KIND S" or "ckpt S W" chooses the point; BMX_KILLPOINT_SIG the signal (9 by
 * default; 15 asks bmx train to stop at the next step boundary). BMX_KILLPOINT_TRACE=FILE
 * appends every point passed to FILE, one a line, in the form BMX_KILLPOINT takes.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static size_t (*real_fwrite)(const void *, size_t, size_t, FILE *);
static ssize_t (*real_write)(int, const void *, size_t);
static int (*real_rename)(const char *, const char *);

static char want_kind[16];
static long want_s = -1, want_w = 1;
static int sig = SIGKILL, trace_fd = -1;
static long last_step;       /* the step of the last step or eval record passed */
static char ckpt_path[4096]; /* the temporary checkpoint file being written */
static long ckpt_writes;     /* write() calls to it so far */

__attribute__((constructor)) static void killpoint_init(void)
{
    const char *k = getenv("BMX_KILLPOINT"), *s = getenv("BMX_KILLPOINT_SIG"),
               *t = getenv("BMX_KILLPOINT_TRACE");
    real_fwrite = (size_t(*)(const void *, size_t, size_t, FILE *))dlsym(RTLD_NEXT, "fwrite");
    real_write = (ssize_t(*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
    real_rename = (int (*)(const char *, const char *))dlsym(RTLD_NEXT, "rename");
    if (k && sscanf(k, "%15s %ld %ld", want_kind, &want_s, &want_w) < 2) {
        fprintf(stderr, "killpoint: BMX_KILLPOINT='%s' is not 'KIND S' or 'ckpt S W'\n", k);
        _exit(3);
    }
    if (s)
        sig = atoi(s);
    if (t && (trace_fd = open(t, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644)) < 0) {
        fprintf(stderr, "killpoint: cannot open the trace file %s\n", t);
        _exit(3);
    }
}

/* The run passes point KIND S (W): trace it, and signal if it is the chosen one. */
static void point(const char *kind, long s, long w)
{
    if (trace_fd >= 0) {
        char line[64];
        int n = w ? snprintf(line, sizeof line, "%s %ld %ld\n", kind, s, w)
                  : snprintf(line, sizeof line, "%s %ld\n", kind, s);
        if (real_write(trace_fd, line, (size_t)n) != n)
            _exit(3);
    }
    if (want_s == s && strcmp(want_kind, kind) == 0 && (!w || w == want_w))
        raise(sig);
}

/* The step S of a run log record {"type":"step","step":S,...} or {"type":"eval",...}, or the
 * round S of a bmx flad log record {"type":"round","round":S,...} (point "step S"). */
static void record(const char *p, size_t n)
{
    static const char *pres[] = {"{\"type\":\"step\",\"step\":", "{\"type\":\"eval\",\"step\":",
                                 "{\"type\":\"round\",\"round\":"};
    static const char *kinds[] = {"step", "eval", "step"};
    for (int i = 0; i < 3; i++) {
        size_t m = strlen(pres[i]);
        if (n > m && memcmp(p, pres[i], m) == 0) {
            last_step = strtol(p + m, NULL, 10);
            point(kinds[i], last_step, 0);
        }
    }
}

size_t fwrite(const void *p, size_t size, size_t nmemb, FILE *f)
{
    if (size * nmemb > 0 && fileno(f) > 2)
        record(p, size * nmemb);
    return real_fwrite(p, size, nmemb, f);
}

ssize_t write(int fd, const void *buf, size_t n)
{
    char link[64], path[4096];
    ssize_t len;
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    len = fd > 2 ? readlink(link, path, sizeof path - 1) : -1;
    if (len > 0) {
        path[len] = 0;
        const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
        if (strncmp(base, "checkpoint", 10) == 0 && strstr(base, ".tmp")) {
            if (strcmp(path, ckpt_path) != 0) {
                snprintf(ckpt_path, sizeof ckpt_path, "%s", path);
                ckpt_writes = 0;
            }
            ckpt_writes++;
            if (sig == SIGKILL && want_s == last_step && want_w == ckpt_writes &&
                strcmp(want_kind, "ckpt") == 0 && real_write(fd, buf, n / 2) < 0)
                _exit(3);
            point("ckpt", last_step, ckpt_writes);
        }
    }
    return real_write(fd, buf, n);
}

int rename(const char *from, const char *to)
{
    const char *base = strrchr(to, '/') ? strrchr(to, '/') + 1 : to;
    if (strcmp(base, "checkpoint.bin") == 0)
        point("commit", last_step, 0);
    return real_rename(from, to);
}
