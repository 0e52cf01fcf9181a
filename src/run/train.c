/* src/run/train.c - bmx_run_train: the stepwise run (bmx_run_open / _step / _evaluate /
 * _checkpoint / _close) driven with the run's schedule; the accessors of a bmx_run. */
#include <math.h>

#include "run_int.h"

long bmx_run_step_count(const bmx_run *r)
{
    return r->step;
}

long bmx_run_steps(const bmx_run *r)
{
    return r->cfg.steps;
}

int bmx_run_resumed(const bmx_run *r)
{
    return !r->fresh;
}

int bmx_run_done(const bmx_run *r)
{
    return r->step >= r->cfg.steps || r->ended;
}

int bmx_run_exhausted(const bmx_run *r)
{
    return r->mix && bmx_mix_exhausted(r->mix);
}

int bmx_run_eval_due(const bmx_run *r)
{
    long s = r->step;
    if (r->kind) /* every eval_every steps (the state at open is validated) */
        return r->kind->evaluate && r->evaluated != s && r->cfg.eval_every > 0 &&
               s % r->cfg.eval_every == 0;
    return r->evaluated != s &&
           (s == 0 || (r->cfg.eval_every && s % r->cfg.eval_every == 0) || s == r->cfg.steps);
}

int bmx_run_ckpt_due(const bmx_run *r)
{
    long s = r->step;
    return r->last_ckpt != s && s > 0 &&
           ((r->cfg.ckpt_every && s % r->cfg.ckpt_every == 0) || s == r->cfg.steps || r->ended);
}

int bmx_run_ckpt_current(const bmx_run *r)
{
    return r->last_ckpt == r->step;
}

double bmx_run_loss(const bmx_run *r)
{
    return r->loss;
}

double bmx_run_tok_s(const bmx_run *r)
{
    return r->tok_s;
}

const bmx_run_config *bmx_run_cfg(const bmx_run *r)
{
    return &r->cfg;
}

const char *const *bmx_run_domain_names(const bmx_run *r, int *n)
{
    if (n)
        *n = r->kind ? 0 : r->K; /* a kind's K counts its arms, for messages */
    return (const char *const *)r->names;
}

const double *bmx_run_probs(const bmx_run *r)
{
    return r->mix ? bmx_mix_probs(r->mix) : NULL;
}

const bmx_mix *bmx_run_policy(const bmx_run *r)
{
    return r->mix;
}

bmx_backend *bmx_run_backend(bmx_run *r)
{
    return r->be;
}

int bmx_run_stop_requested(bmx_run *r, int *stop, bmx_err *err)
{
    *stop = r->opts.stop && *r->opts.stop;
    if (r->nranks > 1)
        return bmx_dist_max_int(r->dist, *stop, stop, "the stop check", err);
    return BMX_OK;
}

/* bmx_run_progress of the last step (or evaluation, ev not NULL) to the caller's callback. */
static void report(const bmx_run_opts *o, bmx_run *r, bmx_run_progress *pg, const bmx_run_eval *ev)
{
    if (!o->progress || r->rank != 0)
        return;
    pg->step = r->step;
    pg->loss = r->loss;
    pg->tok_s = r->tok_s;
    pg->probs = bmx_mix_probs(r->mix);
    pg->eval = ev != NULL;
    if (ev)
        pg->avg_ppl = ev->avg_ppl;
    o->progress(o->progress_ctx, pg);
}

static int evaluate_and_log(bmx_run *r, bmx_run_eval *ev, bmx_err *err)
{
    int rc = bmx_run_evaluate(r, ev, err);
    return rc ? rc : bmx_run_log_eval(r, ev, err);
}

/* The run's schedule over the stepwise API: step 0's evaluation (a new run), then steps with
 * evaluations and checkpoints when due, a checkpoint and 1 on a stop, a last checkpoint. */
int bmx_run_drive(bmx_run *r, bmx_err *err)
{
    const bmx_run_opts *o = &r->opts;
    const char *unit = r->kind ? r->kind->unit : "step",
               *arms = r->kind ? r->kind->arms : "domains";
    bmx_run_progress pg = {0};
    bmx_run_eval ev;
    int rc = 0, stop;
    double t_start;
    if (bmx_run_eval_due(r) && (rc = evaluate_and_log(r, &ev, err)))
        return rc;
    bmx_log(&o->log, BMX_LOG_INFO, "%s %s at %s %ld of %ld, %d %s",
            r->fresh ? "starting" : "resuming", r->dir, unit, r->step, r->cfg.steps, r->K, arms);
    t_start = now_s();
    pg.steps = r->cfg.steps;
    pg.domains = bmx_run_domain_names(r, &pg.ndomains);
    while (!bmx_run_done(r)) {
        if ((rc = bmx_run_stop_requested(r, &stop, err)))
            return rc;
        if (stop)
            return (rc = bmx_run_checkpoint(r, err)) ? rc : 1;
        if (bmx_run_exhausted(r)) {
            bmx_log(&o->log, BMX_LOG_WARN,
                    "step %ld of %ld: every domain has been drawn max-epochs times its training "
                    "tokens; the run stops here",
                    r->step, r->cfg.steps);
            break;
        }
        if ((rc = bmx_run_step(r, err)))
            return rc;
        pg.elapsed_s = now_s() - t_start;
        report(o, r, &pg, NULL);
        if (bmx_run_eval_due(r)) {
            if ((rc = evaluate_and_log(r, &ev, err)))
                return rc;
            report(o, r, &pg, &ev);
        }
        if (bmx_run_ckpt_due(r) && (rc = bmx_run_checkpoint(r, err)))
            return rc;
    }
    return bmx_run_ckpt_current(r) ? 0 : bmx_run_checkpoint(r, err);
}

int bmx_run_train(const bmx_run_config *cfg, const bmx_run_opts *opts, bmx_err *err)
{
    bmx_run *r = NULL;
    int rc = bmx_run_open(&r, cfg, opts, err);
    if (!rc)
        rc = bmx_run_drive(r, err);
    bmx_run_close(r);
    return rc;
}
