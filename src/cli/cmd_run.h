/* src/cli/cmd_run.h - pieces shared by bmx train, doremi and compare (cmd_train.c). */
#ifndef BMX_CLI_CMD_RUN_H
#define BMX_CLI_CMD_RUN_H

#include <signal.h>
#include <stddef.h>

#include "bmx/run.h"
#include "cli.h"

#define RUN_CLI_MAX 64

/* Options generated from the configuration table (flags: keys with '-' for '_'). */
struct run_cli {
    struct cli_opt opts[RUN_CLI_MAX];
    char names[RUN_CLI_MAX][32];
    int n;
};

struct run_progress_state {
    char label[64];
    double tok_s;
    int started;
    long first;
};

extern volatile sig_atomic_t run_stop_flag;

/* Fill rc->opts[0..n) from bmx_run_keys() pointing into cfg; returns n (room is left for
 * more options and the {0} end). */
int run_opts_build(struct run_cli *rc, bmx_run_config *cfg);
/* Load --config FILE (if any in argv) into cfg; 0 or an exit status. */
int run_config_prescan(const char *cmd, int argc, char **argv, bmx_run_config *cfg,
                       bmx_run_strings *store);
void run_signals_install(void);
volatile const int *run_stop_ptr(void);
void run_progress_print(void *ctx, const bmx_run_progress *p);
/* One run with progress lines and signal handling: 0 done, 1 failure (printed), 128+sig
 * stopped by a signal. */
int run_one(const char *cmd, const bmx_run_config *cfg, int resume, const char *label);

/* Drop the options named in names (a NULL-ended list) from rc->opts[0..n); returns the new n. */
int run_opts_drop(struct run_cli *rc, int n, const char *const *names);
/* A pipeline's options (bmx/pipeline.h): each run through run_one with cmd's messages, the
 * pipeline's own messages printed as "bmx CMD: ..." by rank 0. */
struct bmx_pipeline_opts;
void run_pipeline_opts(const char **cmd, struct bmx_pipeline_opts *o);
/* A pipeline's return value as an exit status; prints err for a pipeline's own error. */
int run_pipeline_status(const char *cmd, int rc, const bmx_err *err);
/* Load the runs and write the HTML report (cmd_report.c). Exit status. */
int report_write(const char *cmd, char **dirs, int n, const char *out, const char *title);

#endif
