/* src/run/domains.c - the domains of a data folder: <domain>/train.bin (+ val.bin). */
#include "bmx/run.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bmx/data.h"

uint64_t bmx_run_name_hash(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3ULL;
    }
    return h;
}

void bmx_run_names_free(char **names, int n)
{
    if (!names)
        return;
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

static int is_file(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int push(char ***names, int *n, int *cap, const char *s, size_t len)
{
    if (*n == *cap) {
        int nc = *cap ? 2 * *cap : 16;
        char **p = realloc(*names, (size_t)nc * sizeof *p);
        if (!p)
            return -1;
        *names = p;
        *cap = nc;
    }
    char *d = malloc(len + 1);
    if (!d)
        return -1;
    memcpy(d, s, len);
    d[len] = 0;
    (*names)[(*n)++] = d;
    return 0;
}

int bmx_run_domains(const char *data, const char *only, char ***names_out, uint64_t **train_tokens,
                    int *n_out, bmx_err *err)
{
    char **names = NULL, path[PATH_MAX];
    int n = 0, cap = 0, rc = 0;
    struct stat st;

    *names_out = NULL;
    *n_out = 0;
    if (train_tokens)
        *train_tokens = NULL;
    if (stat(data, &st) != 0 || !S_ISDIR(st.st_mode))
        return bmx_err_set(err, BMX_EIO,
                           "the data folder %s does not exist: build a corpus with 'bmx corpus "
                           "build --out %s' and tokenize it with 'bmx data shard --corpus %s "
                           "--vocab V.tok' (or give the right --data)",
                           data, data, data);
    if (only && *only) {
        const char *s = only;
        while (*s) {
            const char *e = strchr(s, ',');
            size_t len = e ? (size_t)(e - s) : strlen(s);
            if (len == 0 || len > 200) {
                rc = bmx_err_set(err, BMX_EINVAL,
                                 "domains '%s': give comma-separated domain names, none empty",
                                 only);
                goto fail;
            }
            for (int i = 0; i < n; i++)
                if (strlen(names[i]) == len && strncmp(names[i], s, len) == 0) {
                    rc = bmx_err_set(err, BMX_EINVAL, "domains '%s' names '%.*s' twice", only,
                                     (int)len, s);
                    goto fail;
                }
            if (push(&names, &n, &cap, s, len)) {
                rc = bmx_err_set(err, BMX_ENOMEM, "out of memory");
                goto fail;
            }
            s += len;
            if (*s == ',')
                s++;
        }
    } else {
        DIR *d = opendir(data);
        struct dirent *de;
        if (!d)
            return bmx_err_set(err, BMX_EIO, "cannot list the data folder %s: %s", data,
                               strerror(errno));
        while ((de = readdir(d))) {
            if (de->d_name[0] == '.')
                continue;
            snprintf(path, sizeof path, "%s/%s", data, de->d_name);
            if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
                continue;
            snprintf(path, sizeof path, "%s/%s/train.bin", data, de->d_name);
            char txt[PATH_MAX];
            snprintf(txt, sizeof txt, "%s/%s/train.txt", data, de->d_name);
            if (!is_file(path)) {
                if (is_file(txt)) {
                    closedir(d);
                    rc = bmx_err_set(err, BMX_EINVAL,
                                     "%s holds train.txt but no train.bin: the corpus is not "
                                     "tokenized yet; run 'bmx data shard --corpus %s --vocab "
                                     "V.tok'",
                                     data, data);
                    goto fail;
                }
                continue;
            }
            if (push(&names, &n, &cap, de->d_name, strlen(de->d_name))) {
                closedir(d);
                rc = bmx_err_set(err, BMX_ENOMEM, "out of memory");
                goto fail;
            }
        }
        closedir(d);
        if (n > 1)
            qsort(names, (size_t)n, sizeof *names, cmp_str);
    }
    if (n == 0) {
        rc = bmx_err_set(err, BMX_EINVAL,
                         "the data folder %s holds no domain (no <domain>/train.bin): build "
                         "and shard a corpus into it ('bmx corpus build', 'bmx data shard')",
                         data);
        goto fail;
    }
    for (int i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/%s/train.bin", data, names[i]);
        if (!is_file(path)) {
            rc = bmx_err_set(err, BMX_EINVAL,
                             "domain '%s' has no training shard %s: check --domains against the "
                             "folders of %s, or shard the corpus ('bmx data shard')",
                             names[i], path, data);
            goto fail;
        }
        snprintf(path, sizeof path, "%s/%s/val.bin", data, names[i]);
        if (!is_file(path)) {
            rc = bmx_err_set(err, BMX_EINVAL,
                             "domain '%s' has no validation shard %s: every domain needs "
                             "train.bin and val.bin",
                             names[i], path);
            goto fail;
        }
    }
    if (train_tokens) {
        *train_tokens = calloc((size_t)n, sizeof **train_tokens);
        if (!*train_tokens) {
            rc = bmx_err_set(err, BMX_ENOMEM, "out of memory");
            goto fail;
        }
        for (int i = 0; i < n; i++) {
            bmx_shard *s = NULL;
            snprintf(path, sizeof path, "%s/%s/train.bin", data, names[i]);
            if ((rc = bmx_shard_open(&s, path, err)) < 0) {
                free(*train_tokens);
                *train_tokens = NULL;
                goto fail;
            }
            (*train_tokens)[i] = s->ntokens;
            bmx_shard_free(s);
        }
    }
    *names_out = names;
    *n_out = n;
    return 0;
fail:
    bmx_run_names_free(names, n);
    return rc;
}
