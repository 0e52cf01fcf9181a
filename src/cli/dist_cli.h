/* src/cli/dist_cli.h - the program's side of data-parallel runs (mpirun; bmx/dist.h). */
#ifndef BMX_CLI_DIST_CLI_H
#define BMX_CLI_DIST_CLI_H

#include "bmx/dist.h"
#include "cli.h"

/* Before a command: join the ranks when mpirun started several (train, compare, doremi
 * only; the others refuse). 0 or an exit status. */
int cli_dist_start(const char *cmd, int *argc, char ***argv);
/* After it: MPI_Finalize, or MPI_Abort when rc != 0 and the other ranks did not stop with
 * the same error (they would wait for this one). */
void cli_dist_end(int rc);
/* NULL when this process runs alone. */
bmx_dist *cli_dist(void);
int cli_rank(void);
/* Fill o[0..3) with --reduce, --dist-timeout, --dist-check-every-step; returns 3. */
int cli_dist_opts(struct cli_opt *o);
/* After parsing: apply them (stop: the signal flag). 0 or an exit status. */
int cli_dist_apply(const char *cmd, volatile const int *stop);
/* Threads per rank: `threads` when given (> 0) or OMP_NUM_THREADS is set, else the cores
 * divided by the ranks on this machine (under mpirun). */
int cli_dist_threads(int threads);
/* Rank 0's v on every rank (one process: v). */
int cli_dist_same_flag(int v);

#endif
