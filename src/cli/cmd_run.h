/* src/cli/cmd_run.h - pieces shared by bmx train, doremi, compare and flad (cmd_run.c). */
#ifndef BMX_CLI_CMD_RUN_H
#define BMX_CLI_CMD_RUN_H

#include <stddef.h>

#include "bmx/run.h"
#include "cli.h"

/* A run command's options: the keys of its configuration table as flags ('-' for '_'), less
 * those named in drop, then extra, then (dist) the mpirun options of dist_cli.h. */
struct run_cmd {
    const char *name, *usage;
    const bmx_run_key *keys;
    const char *const *drop;     /* keys that are not flags of this command (NULL-ended) */
    const struct cli_opt *extra; /* more options ({0}-ended) */
    int dist;                    /* 1: the mpirun options, applied after parsing */
    int resume_config;           /* 1: --resume --out OUT without --config loads OUT/config.txt */
};

/* Parse argv into cfg (the struct c->keys describes): every --config FILE first (flags win),
 * then the options. Returns 0 to go on, or -1 - STATUS as cli_parse does. The files' strings
 * are kept in *store (bmx_run_strings_free). */
int run_cli_parse(const struct run_cmd *c, void *cfg, bmx_run_strings *store, int argc,
                  char **argv);

/* SIGINT and SIGTERM set the flag run_stop_ptr() points to (runs stop at a step boundary). */
void run_signals_install(void);
volatile const int *run_stop_ptr(void);
/* The exit status of a run stopped by a signal: 128 + the signal. */
int run_stopped_status(void);
/* Configuration text (bmx_config_text) on stderr after "bmx CMD: head" (rank 0 only). */
void run_config_print(const char *cmd, const char *head, const bmx_run_key *keys, const void *cfg);
/* One run with progress lines and signal handling: 0 done, 1 failure (printed), 128+sig
 * stopped by a signal. */
int run_one(const char *cmd, const bmx_run_config *cfg, int resume, const char *label);

/* A pipeline's options (bmx/pipeline.h): each run through run_one with cmd's messages, the
 * pipeline's own messages printed as "bmx CMD: ..." by rank 0. */
struct bmx_pipeline_opts;
void run_pipeline_opts(const char **cmd, struct bmx_pipeline_opts *o);
/* A pipeline's return value as an exit status; prints err for a pipeline's own error. */
int run_pipeline_status(const char *cmd, int rc, const bmx_err *err);
/* Load the runs and write the HTML report (cmd_report.c). Exit status. */
int report_write(const char *cmd, char **dirs, int n, const char *out, const char *title);

#endif
