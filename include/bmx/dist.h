/* bmx/dist.h - data-parallel training over processes (MPI), the mixing policy in lockstep.
 *
 * A bmx_dist is the group of processes ("ranks") that train one model together. With MPI
 * (bmx built where mpicc / mpi.h exist; BMX_WITH_MPI) and the process launched by mpirun,
 * bmx_dist_init joins MPI_COMM_WORLD; otherwise the group is this process alone (rank 0 of
 * 1), and a process that mpirun started with more ranks but that was built without MPI gets
 * an error saying so (N copies would otherwise each train alone on one run folder).
 * A NULL bmx_dist means one process everywhere below.
 *
 * Every collective here waits at most `timeout_s` seconds (non-blocking MPI calls polled):
 * a rank that died or hangs makes the others return BMX_ESTATE with a message naming the
 * collective, instead of waiting forever. After such an error (or any error that not every
 * rank saw: bmx_dist_failed_together() == 0) the caller must end the job with
 * bmx_dist_abort, since the ranks are no longer in step.
 *
 * The stream layout that makes N ranks x G micro-batches equal 1 rank x N*G micro-batches
 * (bmx/run.h, "Data-parallel runs") lives in the run engine; this module only moves numbers.
 */
#ifndef BMX_DIST_H
#define BMX_DIST_H

#include <stddef.h>
#include <stdint.h>

#include "bmx/core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct bmx_dist bmx_dist;
struct bmx_backend;

/* How gradients are summed: MPI_Allreduce (MPI picks the algorithm; fastest), or ordered:
 * gathered to rank 0, summed there in rank order (x_0 + x_1 + ... + x_{N-1}, float), then
 * broadcast, so the result does not depend on MPI's algorithm or the machines' layout. */
enum bmx_dist_reduce { BMX_DIST_ALLREDUCE = 0, BMX_DIST_ORDERED = 1 };

/* 1 when this bmx was built with MPI. */
int bmx_dist_built_with_mpi(void);
/* The number of ranks the launcher's environment announces (Open MPI's OMPI_COMM_WORLD_SIZE,
 * else PMI_SIZE / PMIX_SIZE); 1 when none. */
int bmx_dist_launched_size(void);

/* Join the group (MPI_Init_thread when launched by mpirun with MPI built in). *out is never
 * NULL on success; free with bmx_dist_finalize. */
int bmx_dist_init(int *argc, char ***argv, bmx_dist **out, bmx_err *err);
/* MPI_Finalize (when initialised) and free. */
void bmx_dist_finalize(bmx_dist *d);
/* End every rank of the job now (MPI_Abort; without MPI nothing: the caller exits). */
void bmx_dist_abort(bmx_dist *d, int code);

int bmx_dist_rank(const bmx_dist *d);
int bmx_dist_size(const bmx_dist *d);
/* ranks on this machine (OMPI_COMM_WORLD_LOCAL_SIZE; 1 when unknown) */
int bmx_dist_local_size(const bmx_dist *d);

/* Settings: the gradient reduction (enum bmx_dist_reduce), the collectives' timeout
 * (seconds > 0; default 900), a digest check at every step (debug; default only at
 * checkpoints), and the stop flag of the caller (a signal handler's), so that a rank waiting
 * in a collective while it is set (mpirun tears the job down) gives up after 60 s. */
void bmx_dist_set_reduce(bmx_dist *d, int mode);
int bmx_dist_reduce_mode(const bmx_dist *d);
/* "allreduce" or "ordered": the --reduce name of a mode */
const char *bmx_dist_reduce_name(int mode);
void bmx_dist_set_timeout(bmx_dist *d, double seconds);
void bmx_dist_set_check_every_step(bmx_dist *d, int on);
int bmx_dist_check_every_step(const bmx_dist *d);
void bmx_dist_set_stop(bmx_dist *d, volatile const int *stop);
/* Log each digest check (rank, what, digest) at BMX_LOG_INFO through lg (NULL: none). */
void bmx_dist_set_logger(bmx_dist *d, const bmx_logger *lg);
/* The command line's settings (--reduce NAME, --dist-timeout SECONDS,
 * --dist-check-every-step) checked, then applied with the stop flag, and lg as the digest
 * logger when checking at every step; d NULL (one process): only checked. BMX_EINVAL naming
 * the option. */
int bmx_dist_configure(bmx_dist *d, const char *reduce, double timeout, int check_every_step,
                       volatile const int *stop, const bmx_logger *lg, bmx_err *err);
/* Threads per rank: `threads` when given (> 0), when d runs alone (NULL or one rank) or when
 * OMP_NUM_THREADS is set; else the machine's cores divided by the ranks on it (at least 1). */
int bmx_dist_threads(const bmx_dist *d, int threads);

/* ---- collectives (every rank must call them in the same order) ---- */

/* x[0..n) <- the sum over ranks, in double, rank order (exact when at most one rank holds a
 * non-zero in each slot, which is how the run reduces per-micro-batch observations). */
int bmx_dist_sum_doubles(bmx_dist *d, double *x, size_t n, const char *what, bmx_err *err);
/* x[0..n) <- the sum over ranks (the reduce mode's way). */
int bmx_dist_sum_floats(bmx_dist *d, float *x, size_t n, const char *what, bmx_err *err);
/* The largest of the ranks' values of v (e.g. a stop flag), into *out. */
int bmx_dist_max_int(bmx_dist *d, int v, int *out, const char *what, bmx_err *err);
/* n bytes of rank 0's buf to every rank. */
int bmx_dist_bcast(bmx_dist *d, void *buf, size_t n, const char *what, bmx_err *err);
/* Agree on a status: rc is this rank's (0 or a negative BMX_E*, message in err). Returns 0
 * when every rank had 0; otherwise the lowest failing rank's code, and err gets its message
 * (prefixed "rank R: " when R != 0) on every rank; bmx_dist_failed_together() is then 1. */
int bmx_dist_agree(bmx_dist *d, int rc, bmx_err *err);
int bmx_dist_failed_together(const bmx_dist *d);
/* Compare a digest across ranks: BMX_ESTATE naming `what` and the ranks whose digest differs
 * from rank 0's when they are not all equal (every rank gets the same answer). */
int bmx_dist_check_digest(bmx_dist *d, uint64_t digest, const char *what, bmx_err *err);
/* Sum the backend's gradient of the step in progress over the ranks and divide by the
 * number of ranks (each rank's gradient is the mean of its own micro-batches). */
int bmx_dist_grads(bmx_dist *d, struct bmx_backend *be, bmx_err *err);

/* Seconds spent in collectives so far (wait included), for the timing log. */
double bmx_dist_comm_seconds(const bmx_dist *d);

/* 64-bit FNV-1a of n bytes, continuing from h (start with BMX_DIGEST_INIT). */
#define BMX_DIGEST_INIT 0xcbf29ce484222325ull
uint64_t bmx_digest(uint64_t h, const void *p, size_t n);

/* "allreduce" / "ordered" as text (naming the bad value). */
int bmx_dist_reduce_parse(const char *s, int *mode, bmx_err *err);

#ifdef __cplusplus
}
#endif

#endif
