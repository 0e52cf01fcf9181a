/* src/sim/sim_int.h - the runner's state, shared by run.c and one.c. */
#ifndef BMX_SIM_INT_H
#define BMX_SIM_INT_H

#include "bmx/sim.h"

struct bmx_sim_run {
    bmx_sim_run_config c; /* its strings and weights point at the copies below */
    char *out, *command;
    double *weights;
    bmx_sim_policy ps[BMX_SIM_MAX_POLICIES];
    int np;
    int bandit; /* metric: regret (1) or mean loss (0) */
};

/* 1 for the policies whose weights are the environment's natural sizes (natural,
 * temperature, ado). */
int sim_sized(const char *name);

/* One policy, one seed (index si): the run, its log at log_path, its metric curve (added
 * into p->curve) and, for the first seed, the columns of its stacked plot. */
int sim_run_one(const bmx_sim_run *r, bmx_sim_policy *p, int si, const char *log_path,
                bmx_sim_progress_fn progress, void *ctx, bmx_err *err);

#endif
