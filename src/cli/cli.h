/* src/cli/cli.h - the bmx program: subcommand entry points and the shared option parser. */
#ifndef BMX_CLI_H
#define BMX_CLI_H

#include <stddef.h>
#include <stdint.h>

#include "bmx/run.h"

/* One subcommand: argv[0] is the subcommand's name. Returns the process exit status. */
typedef int (*cli_cmd_fn)(int argc, char **argv);

int cmd_simulate(int argc, char **argv);

/* Table-driven long options: --name VALUE or --name=VALUE; CLI_FLAG takes no value. The
 * value types are the configuration keys' (bmx/run.h), read by bmx_config_value_set.
 * --help prints the usage, every option with its default (the value *ptr holds before
 * parsing) and its help text. */
enum cli_type { CLI_STR = BMX_RK_STR, CLI_INT, CLI_LONG, CLI_U64, CLI_DOUBLE, CLI_FLAG };

struct cli_opt {
    const char *name; /* without the leading "--" */
    enum cli_type type;
    void *ptr; /* const char *, int, long, uint64_t, double, int (flag) */
    const char *help;
};

/* Parse argv[1..]: options from opts (terminated by a {0} entry, or NULL), the rest
 * positional, moved to argv[1..n] in order (at most max_pos). Returns n >= 0 to go on, or
 * -1 - STATUS for a command that is to end with exit STATUS: -1 after --help was printed
 * (exit 0), -3 after printing an error that names the bad option and how to fix it (2). */
int cli_parse(int argc, char **argv, const char *usage, const struct cli_opt *opts, int max_pos);

/* A command made of subcommands ("bmx tok train ..."): the table ends with a {0} entry.
 * cli_dispatch answers --help (exit 0) and a missing or unknown subcommand (exit 2, naming
 * the valid ones) and runs the chosen one with argv[0] set to "GROUP SUB" for its messages. */
struct cli_sub {
    const char *name;
    cli_cmd_fn fn;
    const char *help;
};

int cli_dispatch(int argc, char **argv, const struct cli_sub *subs);

/* The tokenizer named by --vocab PATH (from 'bmx tok train') or --gpt2 (GPT-2's encoder.json
 * and vocab.bpe in gdir): exactly one of the two. Returns 0, or an exit status after printing
 * what was wrong (2: bad usage, 1: the files could not be loaded). */
struct bmx_tok;
int cli_open_vocab(const char *cmd, const char *vocab, int gpt2, const char *gdir,
                   struct bmx_tok **t);

/* The folder of the extractor scripts scripts/SUB: $BMX_ROOT/scripts/SUB, else next to the
 * program (build/bmx -> scripts/SUB), else ./scripts/SUB; in buf, returned. */
const char *cli_scripts_dir(const char *sub, char *buf, size_t len);

/* Print "bmx CMD: " and err's message to stderr; returns 1 (the exit status of a failure). */
int cli_error(const char *cmd, const bmx_err *err);
/* Print "bmx CMD: message" to stderr; returns 2 (the exit status for bad usage). */
int cli_fail(const char *cmd, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

int cmd_tok(int argc, char **argv);          /* cmd_tok.c */
int cmd_corpus(int argc, char **argv);       /* cmd_corpus.c */
int cmd_data(int argc, char **argv);         /* cmd_data.c */
int cmd_train(int argc, char **argv);        /* cmd_train.c */
int cmd_doremi(int argc, char **argv);       /* cmd_doremi.c */
int cmd_compare(int argc, char **argv);      /* cmd_compare.c */
int cmd_report(int argc, char **argv);       /* cmd_report.c */
int cmd_tasks(int argc, char **argv);        /* cmd_tasks.c */
int cmd_flad(int argc, char **argv);         /* cmd_flad.c */
int cmd_flad_compare(int argc, char **argv); /* cmd_flad_compare.c */

#endif
