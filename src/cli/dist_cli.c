/* The program's side of data-parallel runs (bmx/dist.h): join the ranks before a command,
 * its options, and the end of the job (MPI_Finalize, or MPI_Abort when the ranks are no
 * longer in step). */
#include "dist_cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bmx/kernels.h"
#include "bmx/run.h"

static bmx_dist *dist;
static const char *reduce_opt = "allreduce";
static double timeout_opt = 900;
static int check_opt;

bmx_dist *cli_dist(void)
{
    return dist;
}

int cli_rank(void)
{
    return bmx_dist_rank(dist);
}

int cli_dist_start(const char *cmd, int *argc, char ***argv)
{
    bmx_err err = {0};
    int many = bmx_dist_launched_size() > 1;
    int ok = !strcmp(cmd, "train") || !strcmp(cmd, "compare") || !strcmp(cmd, "doremi");
    if (many && !ok) {
        if (!strcmp(cmd, "flad") || !strcmp(cmd, "flad-compare"))
            fprintf(stderr,
                    "bmx %s: runs on one process for now (its run folder has no data-parallel "
                    "mode yet): run it without mpirun\n",
                    cmd);
        else
            fprintf(stderr,
                    "bmx %s: only train, compare and doremi run across ranks (mpirun); run "
                    "'bmx %s' without mpirun\n",
                    cmd, cmd);
        return 2;
    }
    if (!many)
        return 0; /* one process: no MPI at all */
    if (bmx_dist_init(argc, argv, &dist, &err) < 0) {
        fprintf(stderr, "bmx %s: %s\n", cmd, err.msg);
        return 1;
    }
    return 0;
}

void cli_dist_end(int rc)
{
    if (!dist)
        return;
    /* 2: bad usage, the same on every rank; 130, 143: a signal every rank agreed on */
    if (rc != 0 && rc != 2 && rc != 130 && rc != 143 && bmx_dist_size(dist) > 1 &&
        !bmx_dist_failed_together(dist)) {
        fprintf(stderr,
                "bmx: rank %d stops the job (MPI_Abort): the other ranks cannot go on without "
                "it\n",
                bmx_dist_rank(dist));
        bmx_dist_abort(dist, rc);
    }
    bmx_dist_finalize(dist);
    dist = NULL;
}

int cli_dist_opts(struct cli_opt *o)
{
    o[0] = (struct cli_opt){"reduce", CLI_STR, &reduce_opt,
                            "under mpirun: how gradients are summed, allreduce (MPI's own) or "
                            "ordered (rank 0 sums in rank order; reproducible)"};
    o[1] = (struct cli_opt){"dist-timeout", CLI_DOUBLE, &timeout_opt,
                            "under mpirun: seconds a rank waits for the others before it stops "
                            "with an error (a rank died or hangs)"};
    o[2] = (struct cli_opt){"dist-check-every-step", CLI_FLAG, &check_opt,
                            "under mpirun: compare the policy-state and parameter digests "
                            "across ranks after every step, each rank printing its digests "
                            "(debug; otherwise at every checkpoint)"};
    return 3;
}

static void digest_log(void *ctx, int level, const char *msg)
{
    (void)ctx;
    (void)level;
    fprintf(stderr, "bmx: %s\n", msg);
}

int cli_dist_apply(const char *cmd, volatile const int *stop)
{
    bmx_err err = {0};
    bmx_logger lg = {digest_log, NULL};
    if (bmx_dist_configure(dist, reduce_opt, timeout_opt, check_opt, stop, &lg, &err) < 0)
        return cli_fail(cmd, "%s", err.msg);
    return 0;
}

int cli_dist_threads(int threads)
{
    return bmx_dist_threads(dist, threads);
}

int cli_dist_same_flag(int v)
{
    bmx_err err = {0};
    int x = v;
    if (dist && bmx_dist_bcast(dist, &x, sizeof x, "sharing rank 0's choice", &err) < 0)
        fprintf(stderr, "bmx: %s\n", err.msg);
    return x;
}
