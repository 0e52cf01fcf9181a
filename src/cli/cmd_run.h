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

/* DoReMi's three stages in dir (reference unless given, proxy, final; each resumed or skipped
 * when already there); final_dir receives the final run's folder. Exit status. */
int run_doremi(const char *cmd, const bmx_run_config *base, const char *dir, const char *reference,
               const char *label, char *final_dir, size_t final_cap);
/* mkdir -p; 0 or -1 (errno set). */
int mkdir_p(const char *dir);
/* Load the runs and write the HTML report (cmd_report.c). Exit status. */
int report_write(const char *cmd, char **dirs, int n, const char *out, const char *title);

#endif
