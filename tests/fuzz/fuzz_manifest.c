/* Fuzz target: a corpus manifest.json (bmx_corpus_manifest_list, src/corpus/manifest.c), as
 * `bmx data shard` reads it. Every listed entry must have its fields filled. */
#include "bmx/corpus.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bmx_corpus_entry *e = NULL;
    size_t n = 0;
    bmx_err err = {0};
    int rc;

    fuzz_file("manifest.json", data, size);
    rc = bmx_corpus_manifest_list(fuzz_dir(), &e, &n, &err);
    fuzz_check_err(rc, &err);
    for (size_t i = 0; !rc && i < n; i++)
        if (!e[i].file[0] || !e[i].domain[0] || e[i].split < 0 || e[i].split >= BMX_NSPLITS)
            fuzz_fail("entry %zu incomplete", i);
    free(e);
    return 0;
}
