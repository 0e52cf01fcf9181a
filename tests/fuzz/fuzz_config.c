/* Fuzz target: a run's config.txt / --config file (bmx_run_config_load, src/run/config.c).
 * A file that loads is checked and printed; the printed text must load again to the same
 * text (config.txt round-trips). */
#include "bmx/run.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = fuzz_file("config.txt", data, size);
    bmx_run_config c = bmx_run_config_default(), c2 = bmx_run_config_default();
    bmx_run_strings store = {0}, store2 = {0};
    bmx_err err = {0};
    int rc = bmx_run_config_load(&c, p, &store, &err);

    fuzz_check_err(rc, &err);
    if (!rc) {
        char *text = bmx_run_config_text(&c), *text2 = NULL;
        fuzz_check_err(bmx_run_config_check(&c, &err), &err);
        if (text) {
            const char *p2 = fuzz_file("again.txt", text, strlen(text));
            rc = bmx_run_config_load(&c2, p2, &store2, &err);
            if (rc)
                fuzz_fail("the printed configuration does not load: %s", err.msg);
            text2 = bmx_run_config_text(&c2);
            if (text2 && strcmp(text, text2) != 0)
                fuzz_fail("the configuration does not round-trip:\n%s\n---\n%s", text, text2);
        }
        free(text);
        free(text2);
    }
    bmx_run_strings_free(&store);
    bmx_run_strings_free(&store2);
    return 0;
}
