/* The simulate runner (bmx/sim.h): several mixing policies side by side on a synthetic
 * environment, one JSONL log per policy and seed. The report files are in report.c. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bmx/mix.h"
#include "bmx/core.h"
#include "bmx/sim.h"
#include "sim_int.h"

#define PLOT_COLUMNS 400
#define PLOT_CELLS   4000000 /* columns * arms kept for a stacked plot */

const char *bmx_sim_observes_name(int observes)
{
    return observes == BMX_MIX_OBS_NONE ? "loss (checked, ignored)"
                                        : bmx_mix_obs_name((bmx_mix_obs)observes);
}

void bmx_sim_mean_sd(const double *v, int n, double *mean, double *sd)
{
    double s = 0, q = 0;

    for (int i = 0; i < n; i++)
        s += v[i];
    s /= n;
    for (int i = 0; i < n; i++)
        q += (v[i] - s) * (v[i] - s);
    *mean = s;
    *sd = n > 1 ? sqrt(q / (n - 1)) : 0.0;
}

int bmx_sim_parse_weights(const char *s, int k, double **out, bmx_err *err)
{
    double *w = calloc((size_t)k, sizeof *w);
    const char *bad = NULL;

    *out = NULL;
    if (!w)
        return bmx_err_set(err, BMX_ENOMEM, "out of memory for --weights");
    int n = bmx_mix_parse_weights(s, w, k, &bad);
    if (n != k)
        free(w);
    if (n < 0)
        return bmx_err_set(err, BMX_EINVAL,
                           "--weights: '%.*s' is not a finite number >= 0; give K = %d "
                           "comma-separated weights",
                           (int)strcspn(bad, ","), bad, k);
    if (n != k)
        return bmx_err_set(err, BMX_EINVAL,
                           "--weights has %d values but --arms is %d; give one weight per arm", n,
                           k);
    *out = w;
    return BMX_OK;
}

/* Split "odm:alpha=0.8,exp3,doremi:eta=0.5,c=0.01": a piece holding '=' but no ':' continues
 * the previous spec's parameters. "all" expands to every policy. */
static int split_policies(const char *list, bmx_sim_policy *ps, int *np, bmx_err *err)
{
    char buf[2048], *save = NULL;
    int n = *np;

    if (strlen(list) >= sizeof buf)
        return bmx_err_set(err, BMX_EINVAL, "--policies is too long (at most %zu characters)",
                           sizeof buf - 1);
    snprintf(buf, sizeof buf, "%s", list);
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (!strcmp(tok, "all")) {
            int rc;
            *np = n;
            if ((rc = split_policies(BMX_SIM_ALL_POLICIES, ps, np, err)) != BMX_OK)
                return rc;
            n = *np;
            continue;
        }
        if (strchr(tok, '=') && !strchr(tok, ':')) {
            size_t len;
            if (n == 0)
                return bmx_err_set(err, BMX_EINVAL,
                                   "--policies: '%s' is a parameter without a policy; write "
                                   "NAME:%s",
                                   tok, tok);
            len = strlen(ps[n - 1].spec);
            if (len + strlen(tok) + 2 > sizeof ps[n - 1].spec)
                return bmx_err_set(err, BMX_EINVAL, "--policies: spec '%s...' is too long",
                                   ps[n - 1].spec);
            snprintf(ps[n - 1].spec + len, sizeof ps[n - 1].spec - len, ",%s", tok);
            continue;
        }
        if (n >= BMX_SIM_MAX_POLICIES)
            return bmx_err_set(err, BMX_EINVAL, "--policies: at most %d policies in one run",
                               BMX_SIM_MAX_POLICIES);
        if (strlen(tok) >= sizeof ps[n].spec)
            return bmx_err_set(err, BMX_EINVAL, "--policies: spec '%.40s...' is too long", tok);
        memset(&ps[n], 0, sizeof ps[n]);
        snprintf(ps[n].spec, sizeof ps[n].spec, "%s", tok);
        n++;
    }
    *np = n;
    return BMX_OK;
}

/* File-name-safe labels: "odm:alpha=0.8" -> "odm-alpha0.8"; repeated labels get -2, -3. */
static void make_labels(bmx_sim_policy *ps, int n)
{
    for (int i = 0; i < n; i++) {
        char *o = ps[i].label;
        size_t cap = sizeof ps[i].label - 16, len = 0;
        for (const char *c = ps[i].spec; *c && len < cap; c++) {
            char ch = *c;
            if (ch == '=')
                continue;
            if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '.' || ch == '-' || ch == '_'))
                ch = '-';
            o[len++] = ch;
        }
        o[len] = '\0';
        for (int j = 0, dup = 1; j < i; j++)
            if (!strcmp(ps[j].label, o)) {
                snprintf(o + len, 16, "-%d", ++dup);
                j = -1; /* check the new label again */
            }
    }
}

int sim_sized(const char *name)
{
    return !strcmp(name, "natural") || !strcmp(name, "temperature") || !strcmp(name, "ado");
}

/* Create policy p once (ones: K ones, as weights of a sized policy and as token counts) to
 * check its spec and learn its canonical spec, name and what it observes. */
static int check_policy(const bmx_sim_run *r, bmx_sim_policy *p, const double *ones, bmx_err *err)
{
    int k = r->c.env.arms;
    bmx_mix *m = NULL;
    const double *w = r->c.weights;
    char name[48];

    snprintf(name, sizeof name, "%.*s", (int)strcspn(p->spec, ":"), p->spec);
    if (!strcmp(name, "weights") && !w)
        return bmx_err_set(err, BMX_EINVAL,
                           "policy 'weights' needs --weights with %d comma-separated values "
                           "(one per arm)",
                           k);
    if (sim_sized(name))
        w = ones; /* natural runs on the environment's sizes; any valid weights check the spec */
    bmx_mix_data data = {ones, 1, 1};
    if (bmx_mix_create_data(&m, p->spec, k, w, &data, r->c.env.seed, err) != BMX_OK) {
        size_t n = strlen(err->msg);
        snprintf(err->msg + n, sizeof err->msg - n,
                 " (policies: " BMX_SIM_ALL_POLICIES "; parameters as NAME:KEY=VALUE)");
        return bmx_err_prefix(err, "--policies: ");
    }
    snprintf(p->canon, sizeof p->canon, "%s", bmx_mix_spec(m));
    snprintf(p->name, sizeof p->name, "%s", bmx_mix_name(m));
    p->observes = bmx_mix_observes(m);
    p->adaptive = p->observes != BMX_MIX_OBS_NONE;
    bmx_mix_free(m);
    return BMX_OK;
}

static int check_config(const bmx_sim_run_config *c, bmx_err *err)
{
    bmx_sim *probe = NULL;
    int rc;

    if (c->rounds < 1)
        return bmx_err_set(err, BMX_EINVAL, "--rounds %ld: give at least 1 round", c->rounds);
    if (c->batches < 1 || c->batches > 1000000)
        return bmx_err_set(err, BMX_EINVAL, "--batches %d is out of range; use 1 to 1000000",
                           c->batches);
    if (c->seeds < 1 || c->seeds > 10000)
        return bmx_err_set(err, BMX_EINVAL, "--seeds %d is out of range; use 1 to 10000", c->seeds);
    if (c->top < 1)
        return bmx_err_set(err, BMX_EINVAL, "--top %d: show at least 1 arm", c->top);
    if (!c->out || !c->out[0])
        return bmx_err_set(err, BMX_EINVAL,
                           "--out is empty; give a directory, e.g. --out runs/sim");
    if (!c->policies)
        return bmx_err_set(err, BMX_EINVAL, "no policies; give e.g. odm,exp3 (or all)");
    if ((rc = bmx_sim_create(&probe, &c->env, err)) != BMX_OK)
        return rc;
    bmx_sim_free(probe);
    return BMX_OK;
}

static int alloc_results(bmx_sim_run *r)
{
    const bmx_sim_run_config *c = &r->c;
    int k = c->env.arms;
    int ncols = (int)(c->rounds < PLOT_COLUMNS ? c->rounds : PLOT_COLUMNS);

    if ((long)ncols * k > PLOT_CELLS)
        ncols = PLOT_CELLS / k > 1 ? PLOT_CELLS / k : 1;
    for (int i = 0; i < r->np; i++) {
        bmx_sim_policy *p = &r->ps[i];
        p->curve = calloc((size_t)c->rounds, sizeof *p->curve);
        p->final = calloc((size_t)c->seeds, sizeof *p->final);
        if (p->adaptive) {
            p->ncols = ncols;
            p->cols = calloc((size_t)ncols * (size_t)k, sizeof *p->cols);
            p->colx = calloc((size_t)ncols, sizeof *p->colx);
        }
        if (!p->curve || !p->final || (p->adaptive && (!p->cols || !p->colx)))
            return -1;
    }
    return 0;
}

int bmx_sim_run_create(bmx_sim_run **out, const bmx_sim_run_config *c, bmx_err *err)
{
    bmx_sim_run *r;
    double *ones;
    int k = c->env.arms, rc;

    *out = NULL;
    if ((rc = check_config(c, err)) != BMX_OK)
        return rc;
    r = calloc(1, sizeof *r);
    ones = malloc((size_t)k * sizeof *ones);
    if (!r || !ones) {
        free(r);
        free(ones);
        return bmx_err_set(err, BMX_ENOMEM, "out of memory");
    }
    r->c = *c;
    r->bandit = c->env.env != BMX_SIM_LEARNABLE;
    r->c.out = r->out = strdup(c->out);
    r->c.command = r->command = strdup(c->command ? c->command : "");
    r->weights = c->weights ? malloc((size_t)k * sizeof *r->weights) : NULL;
    r->c.weights = r->weights;
    if (r->weights)
        memcpy(r->weights, c->weights, (size_t)k * sizeof *r->weights);
    for (int a = 0; a < k; a++)
        ones[a] = 1;
    if (!r->out || !r->command || (c->weights && !r->weights))
        rc = bmx_err_set(err, BMX_ENOMEM, "out of memory");
    else
        rc = split_policies(c->policies, r->ps, &r->np, err);
    if (rc == BMX_OK && r->np == 0)
        rc = bmx_err_set(err, BMX_EINVAL,
                         "--policies is empty; give e.g. --policies odm,exp3 (or all: %s)",
                         BMX_SIM_ALL_POLICIES);
    make_labels(r->ps, r->np);
    for (int i = 0; rc == BMX_OK && i < r->np; i++)
        rc = check_policy(r, &r->ps[i], ones, err);
    free(ones);
    if (rc == BMX_OK && alloc_results(r) != 0)
        rc = bmx_err_set(err, BMX_ENOMEM, "out of memory (try fewer --rounds or --arms)");
    if (rc != BMX_OK) {
        bmx_sim_run_free(r);
        return rc;
    }
    *out = r;
    return BMX_OK;
}

void bmx_sim_run_free(bmx_sim_run *r)
{
    if (!r)
        return;
    for (int i = 0; i < r->np; i++) {
        free(r->ps[i].curve);
        free(r->ps[i].final);
        free(r->ps[i].cols);
        free(r->ps[i].colx);
    }
    free(r->out);
    free(r->command);
    free(r->weights);
    free(r);
}

int bmx_sim_run_npolicies(const bmx_sim_run *r)
{
    return r->np;
}

const bmx_sim_policy *bmx_sim_run_policy(const bmx_sim_run *r, int i)
{
    return i >= 0 && i < r->np ? &r->ps[i] : NULL;
}

void bmx_sim_run_log_name(const bmx_sim_run *r, int i, int si, char *buf, size_t cap)
{
    if (r->c.seeds == 1)
        snprintf(buf, cap, "%s.jsonl", r->ps[i].label);
    else
        snprintf(buf, cap, "%s.seed%llu.jsonl", r->ps[i].label,
                 (unsigned long long)(r->c.env.seed + (uint64_t)si));
}

/* An observation (%.15g or %.17g) takes about 20 characters with its comma, a probability
 * about 15 (from 0.001 to 0.045454545454545456: measured 12 to 20), a drawn arm its digits
 * and a comma; a round line has pi, the draws and observations, doremi adds alpha and
 * alpha_bar; the header holds the environment (up to 5 per-arm arrays) and the final
 * record 3. */
double bmx_sim_run_log_bytes(const bmx_sim_run *r)
{
    const bmx_sim_run_config *c = &r->c;
    double k = c->env.arms, g = c->batches, num = 15, idx = floor(log10(k)) + 2, total = 0;

    for (int i = 0; i < r->np; i++) {
        double round = 80 + log10((double)c->rounds) + k * num + g * (idx + 20);
        if (r->ps[i].observes == BMX_MIX_OBS_EXCESS)
            round += 2 * k * num + 30;
        total += 800 + 8 * k * num + (double)c->rounds * round;
    }
    return total * c->seeds;
}

int bmx_sim_run_setup(bmx_sim_run_config *c, const char *env, const char *noise, long max_mb,
                      bmx_err *err)
{
    bmx_sim_env e;
    bmx_sim *probe = NULL;
    bmx_sim_config defaults;
    char *end = NULL, why[BMX_ERR_LEN];

    if (bmx_sim_env_parse(env, &e, err) != BMX_OK) {
        snprintf(why, sizeof why, "%s", err->msg);
        return bmx_err_set(err, BMX_EINVAL, "--env: %s", why);
    }
    if (c->env.arms < 1 || c->env.arms > BMX_MIX_MAX_ARMS)
        return bmx_err_set(err, BMX_EINVAL, "--arms %d is out of range; use 1 to %d", c->env.arms,
                           BMX_MIX_MAX_ARMS);
    if (max_mb < 0)
        return bmx_err_set(err, BMX_EINVAL,
                           "--max-output-mb %ld: give a bound in MB, or 0 for none", max_mb);
    bmx_sim_config_init(&defaults, e, c->env.arms, c->env.seed);
    c->env.env = e;
    c->env.noise = defaults.noise;
    if (strcmp(noise, "auto") != 0) {
        errno = 0;
        c->env.noise = strtod(noise, &end);
        if (errno || end == noise || *end || !isfinite(c->env.noise) || c->env.noise < 0)
            return bmx_err_set(err, BMX_EINVAL,
                               "--noise wants a finite number >= 0 (or auto), got '%s'", noise);
    }
    if (bmx_sim_create(&probe, &c->env, err) != BMX_OK) {
        snprintf(why, sizeof why, "%s", err->msg);
        return bmx_err_set(err, BMX_EINVAL, "%s (see --period, --tau-min, --tau-max, --noise)",
                           why);
    }
    bmx_sim_free(probe);
    return BMX_OK;
}

int bmx_sim_run_check_size(const bmx_sim_run *r, long max_mb, bmx_err *err)
{
    const bmx_sim_run_config *c = &r->c;
    double est = bmx_sim_run_log_bytes(r);
    if (!max_mb || est <= (double)max_mb * 1e6)
        return BMX_OK;
    return bmx_err_set(err, BMX_EINVAL,
                       "the logs would take about %.0f MB (%d policies x %d seeds x %ld rounds "
                       "of %d arms: about %.3g MB per round and policy), over --max-output-mb "
                       "%ld: give fewer --rounds, --arms, --policies or --seeds, or raise the "
                       "bound (--max-output-mb %.0f)",
                       est / 1e6, r->np, c->seeds, c->rounds, c->env.arms,
                       est / 1e6 / r->np / c->seeds / (double)c->rounds, max_mb, est / 1e6 + 1);
}

int bmx_sim_run_exec(bmx_sim_run *r, bmx_sim_progress_fn progress, void *ctx, bmx_err *err)
{
    int rc;

    if ((rc = bmx_file_mkdir_p(r->c.out, err)) != BMX_OK)
        return rc;
    for (int i = 0; i < r->np; i++)
        for (int s = 0; s < r->c.seeds; s++) {
            char name[256], path[4096];
            bmx_sim_run_log_name(r, i, s, name, sizeof name);
            snprintf(path, sizeof path, "%s/%s", r->c.out, name);
            if ((rc = sim_run_one(r, &r->ps[i], s, path, progress, ctx, err)) != BMX_OK)
                return rc;
        }
    return BMX_OK;
}

const bmx_sim_run_config *bmx_sim_run_cfg(const bmx_sim_run *r)
{
    return &r->c;
}

const bmx_sim_policy *bmx_sim_run_policies(const bmx_sim_run *r, int *np)
{
    *np = r->np;
    return r->ps;
}

int bmx_sim_run_is_bandit(const bmx_sim_run *r)
{
    return r->bandit;
}
