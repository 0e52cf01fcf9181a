/* The domains of a corpus build and their fixed order (bmx_corpus_domains, bmx/corpus.h). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bmx/corpus.h"

/* The 19 domains of ../shared/CORPUS.md in their fixed order; SCRIPTS/domains.txt, when it
 * exists, replaces this list. */
static const char *const default_domains[] = {
    "c-code",      "python-code", "go-code",   "rust-code",    "lisp-code",
    "formal-math", "tech-docs",   "man-pages", "dictionary",   "encyclopedic",
    "legal",       "email",       "speeches",  "scripture",    "fiction",
    "brown",       "social",      "quotes",    "multilingual",
};

/* The fixed order; the count, or -1 for a file with too many names. */
static int fixed_order(const char *scripts, const char **names, int max, char *store,
                       size_t store_len)
{
    char path[PATH_MAX + 16], line[256];
    FILE *f;
    int n = 0;
    size_t used = 0;

    snprintf(path, sizeof path, "%s/domains.txt", scripts);
    f = fopen(path, "r");
    if (!f) {
        for (size_t i = 0; i < sizeof default_domains / sizeof *default_domains && n < max; i++)
            names[n++] = default_domains[i];
        return n;
    }
    while (fgets(line, sizeof line, f)) {
        size_t k = strcspn(line, "#\r\n");
        while (k && (line[k - 1] == ' ' || line[k - 1] == '\t'))
            k--;
        line[k] = '\0';
        if (!k)
            continue;
        if (n >= max || used + k + 1 > store_len) {
            fclose(f);
            return -1;
        }
        memcpy(store + used, line, k + 1);
        names[n++] = store + used;
        used += k + 1;
    }
    fclose(f);
    return n;
}

static int unknown(const char *name, const char *const *fixed, int nfixed, bmx_err *err)
{
    char known[2048];
    size_t u = 0;

    for (int j = 0; j < nfixed && u < sizeof known; j++)
        u += (size_t)snprintf(known + u, sizeof known - u, "%s%s", j ? "," : "", fixed[j]);
    return bmx_err_set(err, BMX_EINVAL, "unknown domain '%s'; the domains are: %s", name, known);
}

int bmx_corpus_domains(const char *scripts_dir, const char *list, const char **names, int max,
                       char *store, size_t store_len, int *n, bmx_err *err)
{
    const char **fixed = calloc((size_t)max + 1, sizeof *fixed);
    char *lcopy = list ? strdup(list) : NULL, *save = NULL;
    int nfixed = 0, *want = calloc((size_t)max + 1, sizeof *want), rc = BMX_OK;

    *n = 0;
    if (!fixed || !want || (list && !lcopy))
        rc = bmx_err_set(err, BMX_ENOMEM, "out of memory");
    else if ((nfixed = fixed_order(scripts_dir, fixed, max, store, store_len)) <= 0)
        rc = bmx_err_set(err, BMX_EINVAL, "%s/domains.txt is empty or too long (at most %d names)",
                         scripts_dir, max);
    for (char *tok = lcopy && !rc ? strtok_r(lcopy, ",", &save) : NULL; tok && !rc;
         tok = strtok_r(NULL, ",", &save)) {
        int k;
        for (k = 0; k < nfixed && strcmp(fixed[k], tok) != 0; k++)
            ;
        if (k == nfixed)
            rc = unknown(tok, fixed, nfixed, err);
        else
            want[k] = 1;
    }
    for (int k = 0; !rc && k < nfixed; k++)
        if (!list || want[k])
            names[(*n)++] = fixed[k];
    if (!rc && !*n)
        rc = bmx_err_set(err, BMX_EINVAL, "--domains names no domain");
    free(fixed);
    free(want);
    free(lcopy);
    return rc;
}

int bmx_corpus_preset(bmx_corpus_opts *o, const char *preset, long cap_mb, const char *split,
                      bmx_err *err)
{
    int small = preset && strcmp(preset, "small") == 0;

    if (!small && (!preset || strcmp(preset, "full") != 0))
        return bmx_err_set(err, BMX_EINVAL, "--preset must be small or full, got '%s'",
                           preset ? preset : "(none)");
    if (cap_mb < 0 || cap_mb > 1000000)
        return bmx_err_set(err, BMX_EINVAL, "--cap-mb wants a positive number of MB, got %ld",
                           cap_mb);
    o->preset = preset;
    o->max_bytes = (uint64_t)(cap_mb ? cap_mb : small ? 2 : 150) * 1000000u;
    if (bmx_corpus_parse_split(split ? split : small ? "90/5/5" : "98/1/1", o->split, err) < 0)
        return bmx_err_prefix(err, "--split: ");
    return BMX_OK;
}
