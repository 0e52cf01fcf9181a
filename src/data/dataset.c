/* The shards of several domains, one split (bmx/data.h). */
#include "bmx/data.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void bmx_dataset_free(bmx_dataset *ds)
{
    if (!ds)
        return;
    for (size_t i = 0; i < ds->n; i++) {
        if (ds->names)
            free(ds->names[i]);
        if (ds->shards)
            bmx_shard_free(ds->shards[i]);
    }
    free(ds->names);
    free(ds->shards);
    free(ds);
}

int bmx_dataset_open(bmx_dataset **out, const char *dir, const char *split,
                     const char *const *domains, size_t n, bmx_err *err)
{
    bmx_dataset *ds;
    int rc;

    *out = NULL;
    if (!n || (strcmp(split, "train") && strcmp(split, "val") && strcmp(split, "test")))
        return bmx_err_set(err, BMX_EINVAL,
                           "a dataset needs at least one domain and the split train, val or "
                           "test (got '%s')",
                           split);
    ds = calloc(1, sizeof *ds);
    if (!ds || !(ds->names = calloc(n, sizeof *ds->names)) ||
        !(ds->shards = calloc(n, sizeof *ds->shards))) {
        bmx_dataset_free(ds);
        return bmx_err_set(err, BMX_ENOMEM, "out of memory");
    }
    ds->n = n;
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(dir) + strlen(domains[i]) + strlen(split) + 8;
        char *path = malloc(len);
        if (!path || !(ds->names[i] = strdup(domains[i]))) {
            free(path);
            bmx_dataset_free(ds);
            return bmx_err_set(err, BMX_ENOMEM, "out of memory");
        }
        snprintf(path, len, "%s/%s/%s.bin", dir, domains[i], split);
        rc = bmx_shard_open(&ds->shards[i], path, err);
        if (rc == 0 && i > 0 &&
            (ds->shards[i]->vocab_size != ds->vocab_size || ds->shards[i]->eot != ds->eot))
            rc = bmx_err_set(err, BMX_EINVAL,
                             "shard %s has vocabulary %u (end-of-text %u) but %s/%s/%s.bin has "
                             "%u (%u): shard every domain with the same tokenizer",
                             path, ds->shards[i]->vocab_size, ds->shards[i]->eot, dir, domains[0],
                             split, ds->vocab_size, ds->eot);
        free(path);
        if (rc) {
            bmx_dataset_free(ds);
            return rc;
        }
        ds->vocab_size = ds->shards[i]->vocab_size;
        ds->eot = ds->shards[i]->eot;
    }
    *out = ds;
    return BMX_OK;
}
