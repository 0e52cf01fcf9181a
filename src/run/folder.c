/* src/run/folder.c - a run folder's housekeeping: the lock that keeps a second process out,
 * and the stale temporaries a killed run leaves behind. */
#include "bmx/run.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

int bmx_run_lock(const char *dir, int *fd_out, bmx_err *err)
{
    char path[PATH_MAX + 16], buf[32];
    *fd_out = -1;
    snprintf(path, sizeof path, "%s/lock", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0)
        return bmx_err_set(err, BMX_EIO,
                           "cannot open the lock file %s: %s (is %s a writable folder?)", path,
                           strerror(errno), dir);
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        ssize_t n = e == EWOULDBLOCK ? pread(fd, buf, sizeof buf - 1, 0) : -1;
        long pid = 0;
        if (n > 0) {
            buf[n] = 0;
            pid = strtol(buf, NULL, 10);
        }
        close(fd);
        if (e != EWOULDBLOCK)
            return bmx_err_set(err, BMX_EIO, "cannot lock %s: %s", path, strerror(e));
        if (pid > 0)
            return bmx_err_set(err, BMX_ESTATE,
                               "%s is in use by another bmx run, process %ld (it holds %s): "
                               "wait for it to end or stop it (kill %ld), or give another --out",
                               dir, pid, path, pid);
        return bmx_err_set(err, BMX_ESTATE,
                           "%s is in use by another process (it holds %s): wait for it to end, "
                           "or give another --out",
                           dir, path);
    }
    int n = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, buf, (size_t)n, 0) != n) {
        int e = errno;
        close(fd);
        return bmx_err_set(err, BMX_EIO, "cannot write %s: %s", path, strerror(e));
    }
    *fd_out = fd;
    return BMX_OK;
}

void bmx_run_unlock(int fd)
{
    if (fd >= 0)
        close(fd); /* releases the flock; the file stays (removing it would race) */
}

/* checkpoint.bin.tmp.XXXXXX (mkstemp's six letters and digits), config.txt.tmp or
 * result.json.tmp (bmx flad's) exactly */
static int is_stale_name(const char *n)
{
    static const char ck[] = "checkpoint.bin.tmp.";
    if (strcmp(n, "config.txt.tmp") == 0 || strcmp(n, "result.json.tmp") == 0)
        return 1;
    if (strncmp(n, ck, sizeof ck - 1) != 0 || strlen(n) != sizeof ck - 1 + 6)
        return 0;
    for (const char *p = n + sizeof ck - 1; *p; p++)
        if (!isalnum((unsigned char)*p))
            return 0;
    return 1;
}

int bmx_run_clean_temporaries(const char *dir, const bmx_logger *log)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int removed = 0;
    if (!d)
        return 0;
    while ((e = readdir(d)) != NULL) {
        char path[PATH_MAX + 300];
        struct stat st;
        if (!is_stale_name(e->d_name))
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (lstat(path, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        if (unlink(path) == 0) {
            removed++;
            bmx_log(log, BMX_LOG_INFO,
                    "removed %s, a temporary file left by a run that was killed or ran out of "
                    "disk",
                    path);
        }
    }
    closedir(d);
    return removed;
}
