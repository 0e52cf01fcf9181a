/* src/run/run_int.h - the training run's state, shared by the files of src/run/: run.c (set-up,
 * the step, validation), state.c (checkpoint.bin: writing it, resuming from it), train.c
 * (bmx_run_drive and bmx_run_train over the stepwise API, the accessors) and kind.c (the
 * handle over another kind of run: bmx_run_open_kind). */
#ifndef BMX_RUN_INT_H
#define BMX_RUN_INT_H

#include <limits.h>
#include <stdio.h>
#include <time.h>

#include "bmx/backend.h"
#include "bmx/data.h"
#include "bmx/dist.h"
#include "bmx/mix.h"
#include "bmx/model.h"
#include "bmx/core.h"
#include "bmx/rng.h"
#include "bmx/run.h"
#include "bmx/train.h"

struct bmx_run {
    bmx_run_config cfg;
    bmx_run_strings strs;
    char *cfg_text;
    char dir[PATH_MAX];
    int K;
    char **names;
    uint64_t *train_tokens;
    bmx_shard **train, **val;
    uint64_t **vstart;
    size_t *nval;
    bmx_rng *drng;
    bmx_mix *mix;
    int doremi, mean_obs;
    bmx_reward reward;
    bmx_model *model, *ref;
    bmx_trainer *tr, *reftr;
    bmx_backend *be, *refbe; /* the trainer's and the reference's backends */
    int device, precision;
    int *dseq; /* doremi: the step's domains, drawn first */
    int *inp, *tgt;
    uint32_t *win;
    double *tok, *rtok;
    double *probs, *dloss, *exsum, *extok, *vloss;
    int *dcount;
    FILE *log, *timing;
    long step;
    uint64_t tokens;
    long last_ckpt;
    int have_ckpt; /* a checkpoint of this run exists (written or resumed from) */
    int lock_fd;
    bmx_json j;
    bmx_dist *dist;   /* data-parallel: the ranks (NULL = this process alone) */
    int rank, nranks; /* 0 and 1 alone */
    int synced;       /* every rank passed set-up (collectives from here on) */
    double *obs;      /* the step's micro-batch losses, slot g (then excess sums, N*G more) */
    double *wt;       /* the step's micro-batch loss weights, slot g */
    double *vbuf;     /* validation: every domain's window losses */
    bmx_run_opts opts;
    int fresh;                /* a new run (not resumed) */
    int probe;                /* the step's round is one of aioli's probes */
    long evaluated;           /* the step of the last logged evaluation (-1: none yet) */
    double lsum;              /* data-parallel: the step's micro-batch losses summed in order */
    double loss, tok_s;       /* of the last step */
    const bmx_run_kind *kind; /* another kind of run (kind.c), NULL for a training run */
    void *impl;               /* the kind's state */
    int ended;                /* the kind ended the run early */
};

/* A run of another kind (kind.c): its step, validation and its record, checkpoint. */
int bmx_run_kind_step(bmx_run *r, bmx_err *err);
int bmx_run_kind_evaluate(bmx_run *r, bmx_run_eval *ev, bmx_err *err);
int bmx_run_kind_log_eval(bmx_run *r, const bmx_run_eval *ev, bmx_err *err);
int bmx_run_kind_checkpoint(bmx_run *r, bmx_err *err);

/* The checkpoint's sections of the run (state.c): "run" (u32 version 1, u32 domains, u64
 * step, tokens, the byte length of log.jsonl), "rng" (every domain generator, 4 x u64), then
 * "policy" (bmx_mix_save), after the trainer's. */
#define BMX_RUN_STATE_VERSION 1u
#define BMX_RUN_SECTION       32

/* Rank 0: flush and sync the logs, write checkpoint.bin (atomically). */
int bmx_run_state_save(bmx_run *r, bmx_err *err);
/* Resume from checkpoint.bin at path: model, optimizer (checked against mc, tc: config.txt),
 * run state checked against log.jsonl, the logs cut back to the checkpoint. */
int bmx_run_state_resume(bmx_run *r, const char *path, const bmx_gpt_config *mc,
                         const bmx_train_config *tc, bmx_err *err);

/* the name run.c and train.c use for core's clock */
static inline double now_s(void)
{
    return bmx_now_s();
}

static inline void path_in(const bmx_run *r, char *buf, size_t cap, const char *name)
{
    snprintf(buf, cap, "%s/%s", r->dir, name);
}

/* What a stop on a non-finite loss leaves behind, for its message. */
static inline const char *ckpt_note(const bmx_run *r, char *buf, size_t cap)
{
    if (r->have_ckpt)
        snprintf(buf, cap, "the last good checkpoint, step %ld, is intact in %s/checkpoint.bin",
                 r->last_ckpt, r->dir);
    else
        snprintf(buf, cap,
                 "no checkpoint was written yet, the first was due at step %ld; log.jsonl "
                 "holds the steps so far",
                 r->cfg.ckpt_every ? r->cfg.ckpt_every : r->cfg.steps);
    return buf;
}

/* The policy's independent work (ado's refits) over the run's threads. */
static inline void parallel_for(void *ctx, int n, bmx_mix_task task, void *arg)
{
    (void)ctx;
#pragma omp parallel for schedule(dynamic, 16)
    for (int i = 0; i < n; i++)
        task(arg, i);
}

/* Data-parallel: an error every rank met the same way (after a reduction) is agreed, so
 * every rank knows the others stop too. */
static inline int together(bmx_run *r, int rc, bmx_err *err)
{
    return r->nranks > 1 ? bmx_dist_agree(r->dist, rc, err) : rc;
}

#endif
