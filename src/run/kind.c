/* src/run/kind.c - the run handle over another kind of run (bmx/run.h, bmx_run_open_kind): the
 * kind steps and saves its state; the handle keeps the schedule and writes checkpoint.bin. */
#include <math.h>
#include <stdlib.h>

#include "bmx/checkpoint.h"
#include "run_int.h"

int bmx_run_open_kind(bmx_run **out, const bmx_run_kind *kind, void *impl, const bmx_run_sched *s,
                      const bmx_run_opts *opts, bmx_err *err)
{
    bmx_run *r = calloc(1, sizeof *r);
    *out = NULL;
    if (!r) {
        kind->close(impl);
        return bmx_err_set(err, BMX_ENOMEM, "out of memory for a run");
    }
    r->kind = kind;
    r->impl = impl;
    r->lock_fd = -1;
    if (opts)
        r->opts = *opts;
    r->opts.progress = NULL; /* the kind reports its own steps */
    r->nranks = 1;
    snprintf(r->dir, sizeof r->dir, "%s", s->dir);
    r->cfg.steps = s->steps;
    r->cfg.ckpt_every = s->ckpt_every;
    r->cfg.eval_every = s->eval_every;
    r->step = s->step;
    r->ended = s->ended;
    r->K = s->narms;
    r->fresh = !s->resumed;
    r->have_ckpt = s->resumed;
    r->last_ckpt = s->resumed ? s->step : -1;
    r->evaluated = s->step; /* the state at open counts as validated */
    *out = r;
    return BMX_OK;
}

void *bmx_run_impl(bmx_run *r, const bmx_run_kind *kind)
{
    return r && r->kind == kind ? r->impl : NULL;
}

int bmx_run_kind_step(bmx_run *r, bmx_err *err)
{
    int ended = 0, rc = r->kind->step(r->impl, &ended, err);
    if (rc)
        return rc;
    r->step++;
    r->ended = ended;
    return BMX_OK;
}

int bmx_run_kind_evaluate(bmx_run *r, bmx_run_eval *ev, bmx_err *err)
{
    const char *u = r->kind->unit;
    int ended = 0, rc;
    if (!r->kind->evaluate)
        return bmx_err_set(err, BMX_EINVAL,
                           "bmx_run_evaluate: a run of %ss has no validation of its own; call it "
                           "on a training run",
                           u);
    if (!bmx_run_eval_due(r))
        return bmx_err_set(err, BMX_EINVAL,
                           "bmx_run_evaluate: this run validates once after every %ld-th %s "
                           "(bmx_run_eval_due); %s %ld is not one or was validated",
                           r->cfg.eval_every, u, u, r->step);
    *ev = (bmx_run_eval){r->step, 0, NULL, NAN, NAN, NAN, NAN, -1};
    if ((rc = r->kind->evaluate(r->impl, ev, &ended, err)))
        return rc;
    r->evaluated = r->step;
    r->ended = r->ended || ended;
    return BMX_OK;
}

int bmx_run_kind_log_eval(bmx_run *r, const bmx_run_eval *ev, bmx_err *err)
{
    return r->kind->log_eval ? r->kind->log_eval(r->impl, ev, err) : BMX_OK;
}

int bmx_run_kind_checkpoint(bmx_run *r, bmx_err *err)
{
    char path[PATH_MAX + 32];
    bmx_ckpt_writer *w = NULL;
    int rc = bmx_ckpt_writer_create(&w, err);
    path_in(r, path, sizeof path, "checkpoint.bin");
    if (!rc && !(rc = r->kind->save(r->impl, w, err)))
        rc = bmx_ckpt_save(w, path, err);
    bmx_ckpt_writer_free(w);
    if (!rc) {
        r->last_ckpt = r->step;
        r->have_ckpt = 1;
    }
    return rc;
}
