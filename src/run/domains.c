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

/* A list of names being built (push). */
typedef struct name_list {
    char **v;
    int n, cap;
} name_list;

/* The domains named by only ("a,b,c"): none empty or over 200 bytes, none twice. */
static int names_given(const char *only, name_list *l, bmx_err *err)
{
    const char *s = only;
    while (*s) {
        const char *e = strchr(s, ',');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        if (len == 0 || len > 200)
            return bmx_err_set(err, BMX_EINVAL,
                               "domains '%s': give comma-separated domain names, none empty", only);
        for (int i = 0; i < l->n; i++)
            if (strlen(l->v[i]) == len && strncmp(l->v[i], s, len) == 0)
                return bmx_err_set(err, BMX_EINVAL, "domains '%s' names '%.*s' twice", only,
                                   (int)len, s);
        if (push(&l->v, &l->n, &l->cap, s, len))
            return bmx_err_set(err, BMX_ENOMEM, "out of memory");
        s += len;
        if (*s == ',')
            s++;
    }
    return 0;
}

/* Whether entry name of data is a domain (a folder with train.bin): 1 yes, 0 no, or an
 * error when it holds train.txt alone (a corpus not tokenized yet). */
static int is_domain(const char *data, const char *name, bmx_err *err)
{
    char path[PATH_MAX], txt[PATH_MAX];
    struct stat st;
    if (name[0] == '.')
        return 0;
    snprintf(path, sizeof path, "%s/%s", data, name);
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return 0;
    snprintf(path, sizeof path, "%s/%s/train.bin", data, name);
    snprintf(txt, sizeof txt, "%s/%s/train.txt", data, name);
    if (is_file(path))
        return 1;
    if (is_file(txt))
        return bmx_err_set(err, BMX_EINVAL,
                           "%s holds train.txt but no train.bin: the corpus is not "
                           "tokenized yet; run 'bmx data shard --corpus %s --vocab "
                           "V.tok'",
                           data, data);
    return 0;
}

/* Every domain folder of data, sorted by name. */
static int names_found(const char *data, name_list *l, bmx_err *err)
{
    DIR *d = opendir(data);
    struct dirent *de;
    int rc = 0;
    if (!d)
        return bmx_err_set(err, BMX_EIO, "cannot list the data folder %s: %s", data,
                           strerror(errno));
    while (!rc && (de = readdir(d))) {
        int r = is_domain(data, de->d_name, err);
        if (r < 0)
            rc = r;
        else if (r == 1 && push(&l->v, &l->n, &l->cap, de->d_name, strlen(de->d_name)))
            rc = bmx_err_set(err, BMX_ENOMEM, "out of memory");
    }
    closedir(d);
    if (!rc && l->n > 1)
        qsort(l->v, (size_t)l->n, sizeof *l->v, cmp_str);
    return rc;
}

/* Every domain has its train.bin and val.bin. */
static int check_shards(const char *data, char *const *names, int n, bmx_err *err)
{
    char path[PATH_MAX];
    if (n == 0)
        return bmx_err_set(err, BMX_EINVAL,
                           "the data folder %s holds no domain (no <domain>/train.bin): build "
                           "and shard a corpus into it ('bmx corpus build', 'bmx data shard')",
                           data);
    for (int i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/%s/train.bin", data, names[i]);
        if (!is_file(path))
            return bmx_err_set(err, BMX_EINVAL,
                               "domain '%s' has no training shard %s: check --domains against "
                               "the folders of %s, or shard the corpus ('bmx data shard')",
                               names[i], path, data);
        snprintf(path, sizeof path, "%s/%s/val.bin", data, names[i]);
        if (!is_file(path))
            return bmx_err_set(err, BMX_EINVAL,
                               "domain '%s' has no validation shard %s: every domain needs "
                               "train.bin and val.bin",
                               names[i], path);
    }
    return 0;
}

/* The training tokens of each domain, from its train.bin's header (malloc'ed into *out). */
static int count_tokens(const char *data, char *const *names, int n, uint64_t **out, bmx_err *err)
{
    char path[PATH_MAX];
    int rc;
    uint64_t *t = calloc((size_t)n, sizeof *t);
    if (!t)
        return bmx_err_set(err, BMX_ENOMEM, "out of memory");
    for (int i = 0; i < n; i++) {
        bmx_shard *s = NULL;
        snprintf(path, sizeof path, "%s/%s/train.bin", data, names[i]);
        if ((rc = bmx_shard_open(&s, path, err)) < 0) {
            free(t);
            return rc;
        }
        t[i] = s->ntokens;
        bmx_shard_free(s);
    }
    *out = t;
    return 0;
}

int bmx_run_domains(const char *data, const char *only, char ***names_out, uint64_t **train_tokens,
                    int *n_out, bmx_err *err)
{
    name_list l = {NULL, 0, 0};
    struct stat st;
    int rc;

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
    rc = only && *only ? names_given(only, &l, err) : names_found(data, &l, err);
    if (!rc)
        rc = check_shards(data, l.v, l.n, err);
    if (!rc && train_tokens)
        rc = count_tokens(data, l.v, l.n, train_tokens, err);
    if (rc) {
        bmx_run_names_free(l.v, l.n);
        return rc;
    }
    *names_out = l.v;
    *n_out = l.n;
    return 0;
}
