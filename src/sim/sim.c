/* Synthetic environments for the policy simulator (bmx/sim.h). */
#include "bmx/sim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bmx/rng.h"

struct bmx_sim {
    bmx_sim_config c;
    bmx_rng noise; /* stream 2: observation noise */
    long t;
    double *means, *sizes, *counts;
    double *floors, *starts, *taus; /* learnable */
    double *periods, *phases;       /* drifting */
};

static const char *const env_names[] = {"bernoulli", "gaussian", "drifting", "learnable"};

int bmx_sim_env_parse(const char *name, bmx_sim_env *out, bmx_err *err)
{
    for (int i = 0; i < 4; i++)
        if (name && strcmp(name, env_names[i]) == 0) {
            *out = (bmx_sim_env)i;
            return BMX_OK;
        }
    return bmx_err_set(err, BMX_EINVAL,
                       "unknown environment '%s'; use one of bernoulli, gaussian, drifting, "
                       "learnable",
                       name ? name : "(null)");
}

const char *bmx_sim_env_name(bmx_sim_env env)
{
    return (unsigned)env < 4 ? env_names[env] : "?";
}

void bmx_sim_config_init(bmx_sim_config *c, bmx_sim_env env, int arms, uint64_t seed)
{
    memset(c, 0, sizeof *c);
    c->env = env;
    c->arms = arms;
    c->seed = seed;
    c->noise = env == BMX_SIM_LEARNABLE ? 0.02 : 0.1;
    c->period = 1000;
    c->tau_min = 20;
    c->tau_max = 2000;
}

static double uniform(bmx_rng *r, double lo, double hi)
{
    return lo + (hi - lo) * bmx_rng_double(r);
}

static void drift_means(bmx_sim *s)
{
    for (int a = 0; a < s->c.arms; a++)
        s->means[a] = 0.5 + 0.35 * sin(2.0 * M_PI * (double)s->t / s->periods[a] + s->phases[a]);
}

static double learn_loss(const bmx_sim *s, int a)
{
    return s->floors[a] + (s->starts[a] - s->floors[a]) * exp(-s->counts[a] / s->taus[a]);
}

void bmx_sim_free(bmx_sim *s)
{
    if (!s)
        return;
    free(s->means);
    free(s->sizes);
    free(s->counts);
    free(s->floors);
    free(s->starts);
    free(s->taus);
    free(s->periods);
    free(s->phases);
    free(s);
}

int bmx_sim_create(bmx_sim **out, const bmx_sim_config *c, bmx_err *err)
{
    bmx_sim *s;
    bmx_rng pr;
    size_t k;

    *out = NULL;
    if (!c || (unsigned)c->env >= 4)
        return bmx_err_set(err, BMX_EINVAL, "environment: unknown kind (use bmx_sim_env_parse)");
    if (c->arms < 1 || c->arms > (1 << 24))
        return bmx_err_set(err, BMX_EINVAL, "environment: %d arms; use 1 to %d", c->arms, 1 << 24);
    if (!(c->noise >= 0) || !isfinite(c->noise))
        return bmx_err_set(err, BMX_EINVAL, "environment: noise %g must be finite and >= 0",
                           c->noise);
    if (c->env == BMX_SIM_DRIFTING && (!(c->period > 0) || !isfinite(c->period)))
        return bmx_err_set(err, BMX_EINVAL, "environment: period %g must be finite and > 0",
                           c->period);
    if (c->env == BMX_SIM_LEARNABLE &&
        (!(c->tau_min > 0) || !(c->tau_max >= c->tau_min) || !isfinite(c->tau_max)))
        return bmx_err_set(err, BMX_EINVAL,
                           "environment: tau range [%g, %g] must satisfy 0 < tau_min <= tau_max "
                           "< inf",
                           c->tau_min, c->tau_max);
    k = (size_t)c->arms;
    s = calloc(1, sizeof *s);
    if (!s)
        return bmx_err_set(err, BMX_ENOMEM, "environment: out of memory");
    s->c = *c;
    s->t = 1;
    s->means = calloc(k, sizeof *s->means);
    s->sizes = calloc(k, sizeof *s->sizes);
    s->counts = calloc(k, sizeof *s->counts);
    if (!s->means || !s->sizes || !s->counts)
        goto oom;
    if (c->env == BMX_SIM_LEARNABLE) {
        s->floors = calloc(k, sizeof *s->floors);
        s->starts = calloc(k, sizeof *s->starts);
        s->taus = calloc(k, sizeof *s->taus);
        if (!s->floors || !s->starts || !s->taus)
            goto oom;
    }
    if (c->env == BMX_SIM_DRIFTING) {
        s->periods = calloc(k, sizeof *s->periods);
        s->phases = calloc(k, sizeof *s->phases);
        if (!s->periods || !s->phases)
            goto oom;
    }
    bmx_rng_seed(&pr, c->seed, 1);
    bmx_rng_seed(&s->noise, c->seed, 2);
    for (size_t a = 0; a < k; a++)
        s->sizes[a] = fmax(1.0, round(1000.0 * exp(bmx_rng_normal(&pr))));
    switch (c->env) {
    case BMX_SIM_BERNOULLI:
        for (size_t a = 0; a < k; a++)
            s->means[a] = uniform(&pr, 0.1, 0.9);
        break;
    case BMX_SIM_GAUSSIAN:
        for (size_t a = 0; a < k; a++)
            s->means[a] = uniform(&pr, 0.2, 0.8);
        break;
    case BMX_SIM_DRIFTING:
        for (size_t a = 0; a < k; a++) {
            s->periods[a] = c->period * uniform(&pr, 0.5, 1.5);
            s->phases[a] = uniform(&pr, 0.0, 2.0 * M_PI);
        }
        drift_means(s);
        break;
    case BMX_SIM_LEARNABLE:
        for (size_t a = 0; a < k; a++) {
            s->floors[a] = uniform(&pr, 1.0, 2.0);
            s->starts[a] = s->floors[a] + uniform(&pr, 2.0, 4.0);
            s->taus[a] = k > 1 ? (double)a / (double)(k - 1) : 0.0; /* u_a, shuffled below */
        }
        for (size_t a = k; a-- > 1;) {
            size_t b = (size_t)bmx_rng_below(&pr, a + 1);
            double u = s->taus[a];
            s->taus[a] = s->taus[b];
            s->taus[b] = u;
        }
        for (size_t a = 0; a < k; a++) {
            s->taus[a] = c->tau_min * pow(c->tau_max / c->tau_min, s->taus[a]);
            s->means[a] = learn_loss(s, (int)a);
        }
        break;
    }
    *out = s;
    return BMX_OK;
oom:
    bmx_sim_free(s);
    return bmx_err_set(err, BMX_ENOMEM, "environment: out of memory for %d arms", c->arms);
}

const bmx_sim_config *bmx_sim_config_of(const bmx_sim *s)
{
    return &s->c;
}

int bmx_sim_arms(const bmx_sim *s)
{
    return s->c.arms;
}

int bmx_sim_is_bandit(const bmx_sim *s)
{
    return s->c.env != BMX_SIM_LEARNABLE;
}

long bmx_sim_round(const bmx_sim *s)
{
    return s->t;
}

double bmx_sim_best(const bmx_sim *s)
{
    double b = s->means[0];

    for (int a = 1; a < s->c.arms; a++)
        b = bmx_sim_is_bandit(s) ? fmax(b, s->means[a]) : fmin(b, s->means[a]);
    return b;
}

int bmx_sim_pull(bmx_sim *s, int arm, bmx_sim_obs *obs, bmx_err *err)
{
    if (arm < 0 || arm >= s->c.arms)
        return bmx_err_set(err, BMX_EINVAL, "environment: arm %d out of range [0, %d)", arm,
                           s->c.arms);
    switch (s->c.env) {
    case BMX_SIM_BERNOULLI:
    case BMX_SIM_DRIFTING:
        obs->reward = bmx_rng_double(&s->noise) < s->means[arm] ? 1.0 : 0.0;
        break;
    case BMX_SIM_GAUSSIAN:
        obs->reward = s->means[arm] + s->c.noise * bmx_rng_normal(&s->noise);
        break;
    case BMX_SIM_LEARNABLE: {
        double l = s->means[arm];
        if (s->c.noise > 0)
            l += s->c.noise * bmx_rng_normal(&s->noise);
        obs->loss = obs->reward = l > 0 ? l : 0.0;
        obs->excess = fmax(obs->loss - s->floors[arm], 0.0);
        s->counts[arm] += 1;
        s->means[arm] = learn_loss(s, arm);
        return BMX_OK;
    }
    }
    obs->loss = 1.0 - obs->reward;
    obs->excess = fmax(obs->loss - (1.0 - bmx_sim_best(s)), 0.0);
    s->counts[arm] += 1;
    return BMX_OK;
}

void bmx_sim_advance(bmx_sim *s)
{
    s->t++;
    if (s->c.env == BMX_SIM_DRIFTING)
        drift_means(s);
}

const double *bmx_sim_means(const bmx_sim *s)
{
    return s->means;
}

double bmx_sim_mean_loss(const bmx_sim *s)
{
    double sum = 0;

    for (int a = 0; a < s->c.arms; a++)
        sum += s->means[a];
    sum /= s->c.arms;
    return bmx_sim_is_bandit(s) ? 1.0 - sum : sum;
}

const double *bmx_sim_sizes(const bmx_sim *s)
{
    return s->sizes;
}

const double *bmx_sim_floors(const bmx_sim *s)
{
    return s->floors;
}

const double *bmx_sim_starts(const bmx_sim *s)
{
    return s->starts;
}

const double *bmx_sim_taus(const bmx_sim *s)
{
    return s->taus;
}

const double *bmx_sim_counts(const bmx_sim *s)
{
    return s->counts;
}

const double *bmx_sim_periods(const bmx_sim *s)
{
    return s->periods;
}

const double *bmx_sim_phases(const bmx_sim *s)
{
    return s->phases;
}
