/* Opening and reading files that must be regular files (bmx/core.h). */
#include "bmx/core.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *kind_of(mode_t m)
{
    if (S_ISDIR(m))
        return "a directory";
    if (S_ISFIFO(m))
        return "a FIFO (named pipe)";
    if (S_ISSOCK(m))
        return "a socket";
    if (S_ISCHR(m))
        return "a character device";
    if (S_ISBLK(m))
        return "a block device";
    return "not a regular file";
}

int bmx_file_open_regular(const char *path, int *fd, bmx_err *err)
{
    struct stat st;
    int d, fl;

    *fd = -1;
    /* O_NONBLOCK: opening a FIFO without a writer returns at once instead of waiting */
    d = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (d < 0)
        return bmx_err_set(err, BMX_EIO, "cannot open %s: %s", path, strerror(errno));
    if (fstat(d, &st) != 0) {
        int e = errno;
        close(d);
        return bmx_err_set(err, BMX_EIO, "cannot read %s: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(d);
        return bmx_err_set(err, BMX_EIO, "%s is %s, not a regular file: give the path of a file",
                           path, kind_of(st.st_mode));
    }
    if ((fl = fcntl(d, F_GETFL)) < 0 || fcntl(d, F_SETFL, fl & ~O_NONBLOCK) < 0) {
        int e = errno;
        close(d);
        return bmx_err_set(err, BMX_EIO, "cannot read %s: %s", path, strerror(e));
    }
    *fd = d;
    return BMX_OK;
}

int bmx_file_fopen_regular(const char *path, FILE **f, bmx_err *err)
{
    int fd, rc;

    *f = NULL;
    if ((rc = bmx_file_open_regular(path, &fd, err)) < 0)
        return rc;
    if (!(*f = fdopen(fd, "rb"))) {
        int e = errno;
        close(fd);
        return bmx_err_set(err, BMX_EIO, "cannot read %s: %s", path, strerror(e));
    }
    return BMX_OK;
}

/* The whole stream f (named path in messages; closed unless it is stdin). */
static int read_stream(FILE *f, const char *path, size_t max, char **data, size_t *size,
                       bmx_err *err)
{
    char *buf = NULL;
    size_t n = 0, cap = 0;
    int rc;

    for (;;) {
        size_t got;
        if (n == cap) {
            char *nb;
            if (cap > max) {
                free(buf);
                if (f != stdin)
                    fclose(f);
                return bmx_err_set(err, BMX_ECORRUPT,
                                   "%s is larger than %zu bytes, more than any valid file of its "
                                   "kind: check the path",
                                   path, max);
            }
            cap = cap ? 2 * cap : 1 << 16;
            if (max < SIZE_MAX && cap > max + 1)
                cap = max + 1; /* one byte past max tells a file over the limit */
            nb = realloc(buf, cap + 1);
            if (!nb) {
                free(buf);
                if (f != stdin)
                    fclose(f);
                return bmx_err_set(err, BMX_ENOMEM, "out of memory reading %s", path);
            }
            buf = nb;
        }
        got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    rc = ferror(f);
    if (f != stdin)
        fclose(f);
    if (rc) {
        free(buf);
        return bmx_err_set(err, BMX_EIO, "cannot read %s", path);
    }
    if (n > max) {
        free(buf);
        return bmx_err_set(err, BMX_ECORRUPT,
                           "%s is larger than %zu bytes, more than any valid file of its kind: "
                           "check the path",
                           path, max);
    }
    buf[n] = '\0';
    *data = buf;
    *size = n;
    return BMX_OK;
}

int bmx_file_commit(const char *tmp, const char *path, bmx_err *err)
{
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return bmx_err_set(err, BMX_EIO, "cannot rename %s to %s: %s", tmp, path, strerror(e));
    }
    /* the rename itself made durable: sync the folder */
    const char *slash = strrchr(path, '/');
    size_t n = slash ? (slash == path ? 1 : (size_t)(slash - path)) : 0;
    char *dir = malloc(n + 2);
    if (dir) {
        memcpy(dir, n ? path : ".", n ? n : 1);
        dir[n ? n : 1] = 0;
        int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
        free(dir);
    }
    return BMX_OK;
}

int bmx_file_write_atomic(const char *path, const void *data, size_t len, bmx_err *err)
{
    size_t n = strlen(path);
    char *tmp = malloc(n + 5);
    int rc = BMX_OK, fd = -1;
    if (!tmp)
        return bmx_err_set(err, BMX_ENOMEM, "out of memory writing %s", path);
    memcpy(tmp, path, n);
    memcpy(tmp + n, ".tmp", 5);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0)
        rc = bmx_err_set(err, BMX_EIO,
                         "cannot create %s: %s (check that the folder exists and is writable)", tmp,
                         strerror(errno));
    for (const char *p = data; !rc && len > 0;) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            rc = bmx_err_set(err, BMX_EIO, "cannot write %s: %s (disk full?)", tmp,
                             strerror(w < 0 ? errno : ENOSPC));
        else
            p += w, len -= (size_t)w;
    }
    if (!rc && fsync(fd) != 0)
        rc = bmx_err_set(err, BMX_EIO, "cannot sync %s: %s", tmp, strerror(errno));
    if (fd >= 0 && close(fd) != 0 && !rc)
        rc = bmx_err_set(err, BMX_EIO, "cannot write %s: %s (disk full?)", tmp, strerror(errno));
    if (!rc)
        rc = bmx_file_commit(tmp, path, err);
    else if (fd >= 0)
        unlink(tmp);
    free(tmp);
    return rc;
}

int bmx_file_read_all(const char *path, size_t max, char **data, size_t *size, bmx_err *err)
{
    FILE *f;
    int rc;

    *data = NULL;
    *size = 0;
    if ((rc = bmx_file_fopen_regular(path, &f, err)) < 0)
        return rc;
    return read_stream(f, path, max, data, size, err);
}

int bmx_file_read_input(const char *path, size_t max, char **data, size_t *size, bmx_err *err)
{
    *data = NULL;
    *size = 0;
    if (strcmp(path, "-") != 0)
        return bmx_file_read_all(path, max, data, size, err);
    return read_stream(stdin, "standard input", max, data, size, err);
}

int bmx_file_mkdir_p(const char *dir, bmx_err *err)
{
    size_t n = strlen(dir);
    char *p = malloc(n + 1);
    int rc = BMX_OK;
    if (!p)
        return bmx_err_set(err, BMX_ENOMEM, "out of memory creating %s", dir);
    memcpy(p, dir, n + 1);
    for (char *s = p + 1; !rc && *s; s++)
        if (*s == '/') {
            *s = 0;
            if (mkdir(p, 0777) != 0 && errno != EEXIST)
                rc = bmx_err_set(err, BMX_EIO, "cannot create directory %s (at %s): %s", dir, p,
                                 strerror(errno));
            *s = '/';
        }
    if (!rc && n && mkdir(p, 0777) != 0 && errno != EEXIST)
        rc = bmx_err_set(err, BMX_EIO, "cannot create directory %s: %s", dir, strerror(errno));
    struct stat st;
    if (!rc && (stat(p, &st) != 0 || !S_ISDIR(st.st_mode)))
        rc = bmx_err_set(
            err, BMX_EIO,
            "cannot create directory %s: it exists and is not a directory (give another path)", p);
    free(p);
    return rc;
}
