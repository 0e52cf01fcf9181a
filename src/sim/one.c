/* One policy on one seed of the simulate runner (bmx/sim.h): the rounds and the log. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bmx/mix.h"
#include "bmx/core.h"
#include "bmx/sim.h"
#include "sim_int.h"

typedef struct one {
    const bmx_sim_run *r;
    bmx_sim_policy *p;
    uint64_t seed;
    bmx_sim *env;
    bmx_mix *m;
    bmx_json j;
    FILE *f;
    const char *path;
    int *draws;
    double *obs, *exsum, *tokens, *colcount;
    double cum, metric;
} one;

/* The environment's parameters, for the log header. */
static void json_env(bmx_json *j, const bmx_sim *env)
{
    const bmx_sim_config *c = bmx_sim_config_of(env);
    size_t k = (size_t)c->arms;

    bmx_json_obj(j);
    bmx_json_kv_str(j, "name", bmx_sim_env_name(c->env));
    bmx_json_kv_int(j, "arms", c->arms);
    bmx_json_kv_num(j, "noise", c->noise);
    bmx_json_key(j, "sizes");
    bmx_json_nums(j, bmx_sim_sizes(env), k);
    if (c->env == BMX_SIM_LEARNABLE) {
        bmx_json_kv_num(j, "tau_min", c->tau_min);
        bmx_json_kv_num(j, "tau_max", c->tau_max);
        bmx_json_key(j, "floors");
        bmx_json_nums(j, bmx_sim_floors(env), k);
        bmx_json_key(j, "starts");
        bmx_json_nums(j, bmx_sim_starts(env), k);
        bmx_json_key(j, "taus");
        bmx_json_nums(j, bmx_sim_taus(env), k);
    } else if (c->env == BMX_SIM_DRIFTING) {
        bmx_json_kv_num(j, "period", c->period);
        bmx_json_key(j, "periods");
        bmx_json_nums(j, bmx_sim_periods(env), k);
        bmx_json_key(j, "phases");
        bmx_json_nums(j, bmx_sim_phases(env), k);
    } else {
        bmx_json_key(j, "means");
        bmx_json_nums(j, bmx_sim_means(env), k);
    }
    bmx_json_end_obj(j);
}

/* The environment and the policy of this seed, the buffers, the log file and its header. */
static int open_one(one *o, int si, bmx_err *err)
{
    const bmx_sim_run_config *c = &o->r->c;
    size_t k = (size_t)c->env.arms;
    bmx_sim_config cfg = c->env;
    const double *w = NULL;
    const char *name = o->p->name;
    int rc;

    cfg.seed = o->seed;
    if ((rc = bmx_sim_create(&o->env, &cfg, err)) != BMX_OK)
        return rc;
    if (sim_sized(name))
        w = bmx_sim_sizes(o->env);
    else if (!strcmp(name, "weights") || !strcmp(name, "aioli"))
        w = c->weights;
    bmx_mix_data data = {bmx_sim_sizes(o->env), 1, 1};
    if ((rc = bmx_mix_create_data(&o->m, o->p->spec, c->env.arms, w, &data, o->seed, err)) !=
        BMX_OK)
        return bmx_err_prefix(err, "policy '%s': ", o->p->spec);
    o->draws = calloc((size_t)c->batches, sizeof *o->draws);
    o->obs = calloc((size_t)c->batches, sizeof *o->obs);
    o->exsum = calloc(k, sizeof *o->exsum);
    o->tokens = calloc(k, sizeof *o->tokens);
    if (si == 0 && o->p->adaptive)
        o->colcount = calloc((size_t)o->p->ncols, sizeof *o->colcount);
    if (!o->draws || !o->obs || !o->exsum || !o->tokens ||
        (si == 0 && o->p->adaptive && !o->colcount))
        return bmx_err_set(err, BMX_ENOMEM, "out of memory (try fewer --arms or --batches)");
    o->f = fopen(o->path, "w");
    if (!o->f)
        return bmx_err_set(err, BMX_EIO, "cannot create %s: %s (check --out is writable)", o->path,
                           strerror(errno));
    bmx_json *j = &o->j;
    bmx_json_obj(j);
    bmx_json_kv_str(j, "type", "header");
    bmx_json_kv_str(j, "tool", "bmx simulate");
    bmx_json_kv_int(j, "format", 1);
    bmx_json_kv_str(j, "command", c->command);
    bmx_json_kv_str(j, "policy", bmx_mix_spec(o->m));
    bmx_json_kv_str(j, "policy_given", o->p->spec);
    bmx_json_kv_str(j, "label", o->p->label);
    bmx_json_kv_str(j, "observe", bmx_sim_observes_name(o->p->observes));
    bmx_json_kv_int(j, "arms", c->env.arms);
    bmx_json_kv_int(j, "rounds", c->rounds);
    bmx_json_kv_int(j, "batches", c->batches);
    bmx_json_kv_u64(j, "seed", o->seed);
    bmx_json_kv_str(j, "metric", o->r->bandit ? "cum_regret" : "mean_loss");
    if (w) {
        bmx_json_key(j, "weights");
        bmx_json_nums(j, w, k);
    }
    bmx_json_key(j, "env");
    json_env(j, o->env);
    bmx_json_end_obj(j);
    return bmx_json_line(j, o->f, o->path, err);
}

/* aioli: the per-arm validation losses it asks for, the expected losses now. */
static int feed_validation(one *o, bmx_err *err)
{
    const double *mu = bmx_sim_means(o->env);
    int k = bmx_sim_arms(o->env);

    if (!bmx_mix_needs_validation(o->m))
        return BMX_OK;
    for (int a = 0; a < k; a++)
        o->exsum[a] = o->r->bandit ? 1.0 - mu[a] : mu[a];
    return bmx_mix_observe_validation(o->m, o->exsum, err);
}

/* The round's distribution into the stacked plot's column (first seed only). */
static void add_column(one *o, long t, const double *pi)
{
    size_t k = (size_t)o->r->c.env.arms;
    bmx_sim_policy *p = o->p;
    int c = (int)((t - 1) * p->ncols / o->r->c.rounds);
    const double *shown = p->observes == BMX_MIX_OBS_EXCESS ? bmx_mix_average(o->m) : pi;

    for (size_t a = 0; a < k; a++)
        p->cols[(size_t)c * k + a] += shown ? shown[a] : pi[a];
    p->colx[c] += (double)t;
    o->colcount[c] += 1;
}

/* The round's G draws and pulls, each observation routed to the policy. */
static int pulls(one *o, long t, double *regret, bmx_err *err)
{
    const bmx_sim_policy *p = o->p;

    for (int g = 0; g < o->r->c.batches; g++) {
        bmx_sim_obs ob;
        int a = bmx_mix_draw(o->m), rc;
        if (a < 0)
            return bmx_err_set(err, BMX_ESTATE,
                               "policy %s, round %ld: every arm has been pulled max-epochs times "
                               "its size; raise max-epochs or lower --rounds",
                               p->spec, t);
        if (o->r->bandit)
            *regret += bmx_sim_best(o->env) - bmx_sim_means(o->env)[a];
        if ((rc = bmx_sim_pull(o->env, a, &ob, err)) != BMX_OK) {
            size_t n = strlen(err->msg);
            snprintf(err->msg + n, sizeof err->msg - n, " (policy %s drew it)", p->spec);
            return rc;
        }
        o->draws[g] = a;
        if (p->observes == BMX_MIX_OBS_EXCESS) {
            o->obs[g] = ob.excess;
            o->exsum[a] += ob.excess;
            o->tokens[a] += 1;
            continue;
        }
        o->obs[g] = p->observes == BMX_MIX_OBS_REWARD ? ob.reward : ob.loss;
        if ((rc = bmx_mix_observe(o->m, a, o->obs[g], err)) != BMX_OK)
            return bmx_err_prefix(err, "policy %s, round %ld: ", p->spec, t);
    }
    return BMX_OK;
}

/* Round t: validation (aioli), the distribution, the pulls, the policy's step, the record. */
static int round_t(one *o, long t, bmx_err *err)
{
    const bmx_sim_policy *p = o->p;
    size_t k = (size_t)o->r->c.env.arms;
    bmx_json *j = &o->j;
    double regret = 0;
    int rc;

    if ((rc = feed_validation(o, err)) != BMX_OK)
        return bmx_err_prefix(err, "policy %s, round %ld: ", p->spec, t);
    memset(o->exsum, 0, k * sizeof *o->exsum);
    const double *pi = bmx_mix_probs(o->m);
    bmx_json_obj(j);
    bmx_json_kv_str(j, "type", "round");
    bmx_json_kv_int(j, "t", t);
    bmx_json_key(j, "probs");
    bmx_json_nums(j, pi, k);
    if (o->colcount)
        add_column(o, t, pi);
    if ((rc = pulls(o, t, &regret, err)) != BMX_OK)
        return rc;
    if (p->observes == BMX_MIX_OBS_EXCESS) {
        if ((rc = bmx_mix_observe_excess(o->m, o->exsum, o->tokens, err)) != BMX_OK)
            return bmx_err_prefix(err, "policy %s, round %ld: ", p->spec, t);
        memset(o->exsum, 0, k * sizeof *o->exsum);
        memset(o->tokens, 0, k * sizeof *o->tokens);
    }
    if ((rc = bmx_mix_step(o->m, err)) != BMX_OK)
        return bmx_err_prefix(err, "policy %s, round %ld: ", p->spec, t);
    bmx_json_key(j, "draws");
    bmx_json_ints(j, o->draws, (size_t)o->r->c.batches);
    bmx_json_key(j, "obs");
    bmx_json_nums(j, o->obs, (size_t)o->r->c.batches);
    if (o->r->bandit) {
        o->cum += regret;
        o->metric = o->cum;
        bmx_json_kv_num(j, "regret", regret);
        bmx_json_kv_num(j, "cum_regret", o->cum);
    } else {
        o->metric = bmx_sim_mean_loss(o->env);
        bmx_json_kv_num(j, "mean_loss", o->metric);
    }
    if (p->observes == BMX_MIX_OBS_EXCESS && bmx_mix_estimates(o->m) && bmx_mix_average(o->m)) {
        bmx_json_key(j, "alpha");
        bmx_json_nums(j, bmx_mix_estimates(o->m), k);
        bmx_json_key(j, "alpha_bar");
        bmx_json_nums(j, bmx_mix_average(o->m), k);
    }
    bmx_json_end_obj(j);
    return bmx_json_line(j, o->f, o->path, err);
}

/* The final record; the log closed; the plot's columns averaged. */
static int finish(one *o, bmx_err *err)
{
    const bmx_sim_run_config *c = &o->r->c;
    size_t k = (size_t)c->env.arms;
    bmx_sim_policy *p = o->p;
    bmx_json *j = &o->j;
    int rc;

    bmx_json_obj(j);
    bmx_json_kv_str(j, "type", "final");
    bmx_json_kv_int(j, "rounds", c->rounds);
    bmx_json_kv_num(j, o->r->bandit ? "final_regret" : "final_mean_loss", o->metric);
    bmx_json_key(j, "counts");
    bmx_json_nums(j, bmx_sim_counts(o->env), k);
    bmx_json_key(j, "probs");
    bmx_json_nums(j, bmx_mix_probs(o->m), k);
    if (!o->r->bandit) {
        bmx_json_key(j, "losses");
        bmx_json_nums(j, bmx_sim_means(o->env), k);
    }
    bmx_json_end_obj(j);
    if ((rc = bmx_json_line(j, o->f, o->path, err)) != BMX_OK)
        return rc;
    rc = fclose(o->f);
    o->f = NULL;
    if (rc != 0)
        return bmx_err_set(err, BMX_EIO, "cannot write %s: %s", o->path, strerror(errno));
    for (int col = 0; o->colcount && col < p->ncols; col++)
        if (o->colcount[col] > 0) {
            for (size_t a = 0; a < k; a++)
                p->cols[(size_t)col * k + a] /= o->colcount[col];
            p->colx[col] /= o->colcount[col];
        }
    return BMX_OK;
}

int sim_run_one(const bmx_sim_run *r, bmx_sim_policy *p, int si, const char *log_path,
                bmx_sim_progress_fn progress, void *ctx, bmx_err *err)
{
    one o = {.r = r, .p = p, .seed = r->c.env.seed + (uint64_t)si, .path = log_path};
    int rc = open_one(&o, si, err);

    for (long t = 1; rc == BMX_OK && t <= r->c.rounds; t++) {
        if ((rc = round_t(&o, t, err)) != BMX_OK)
            break;
        p->curve[t - 1] += o.metric / r->c.seeds;
        bmx_sim_advance(o.env);
        if (progress && (t & 63) == 0)
            progress(ctx, p->label, o.seed, t, r->c.rounds);
    }
    if (rc == BMX_OK) {
        p->final[si] = o.metric;
        rc = finish(&o, err);
    }
    if (o.f)
        fclose(o.f);
    bmx_json_free(&o.j);
    bmx_mix_free(o.m);
    bmx_sim_free(o.env);
    free(o.draws);
    free(o.obs);
    free(o.exsum);
    free(o.tokens);
    free(o.colcount);
    return rc;
}
