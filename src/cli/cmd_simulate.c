/* bmx simulate - several mixing policies side by side on a synthetic environment.
 *
 * For every policy and seed: a fresh environment (bmx/sim.h, same seed = same arms) and a
 * fresh policy (bmx/mix.h, same seed); each round t the policy's pi_t is logged, G arms are
 * drawn, each pull's observation is routed to the policy, and the round ends with a step.
 * Observation routing (what each policy is given, from bmx_sim_obs):
 *   odm, odm-smoothed-mean, ado       the loss (bandits: 1 - reward; learnable: the loss)
 *   aioli                             the loss (ignored); when it asks, per-arm validation
 *                                     losses: the environment's expected losses now
 *                                     (learnable: l_a(n_a); bandits: 1 - mu_a(t))
 *   exp3, ucb1, exploit-only          the reward (learnable: the loss, as ODM's reward)
 *   doremi                            excess losses via observe_excess: per domain the sum
 *                                     of the round's excesses, token count 1 per batch
 *   uniform, natural, weights,        the loss (checked by the policy and ignored)
 *   explore-only
 * `natural`, `temperature` and `ado` get the environment's natural sizes as weights,
 * `weights` the --weights list (aioli: its prior); every other policy starts from uniform.
 * The sizes are also each arm's training tokens (one token a pull) for max-epochs. Metric: bandits,
 * the cumulative pseudo-regret sum over pulls of (max_b mu_b(t) - mu_a(t)); learnable, the mean
 * expected loss over domains after the round. Writes to --out DIR: one JSONL log per policy (and
 * seed), summary.json, metric.svg, probs-<label>.svg per adaptive policy, index.html.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bmx/mix.h"
#include "bmx/report.h"
#include "bmx/sim.h"
#include "cli.h"

#define CMD          "simulate"
#define MAX_POLICIES 32
#define PLOT_COLUMNS 400
#define PLOT_CELLS   4000000 /* columns * arms kept for a stacked plot */

static const char *const all_policies =
    "uniform,natural,odm,odm-smoothed-mean,exp3,ucb1,explore-only,exploit-only,doremi";

typedef struct policy {
    char spec[256];  /* as given */
    char label[96];  /* file-name-safe, unique */
    char canon[256]; /* the library's canonical spec */
    char name[48];
    bmx_mix_obs route; /* what the policy consumes (bmx_mix_observes) */
    int adaptive;      /* gets a stacked plot of its distribution */
    double *curve;     /* rounds: metric mean over seeds */
    double *final;     /* seeds: final metric */
    double *cols;      /* stacked plot: columns x k (first seed) */
    double *colx;      /* column mean round */
    int ncols;
} policy;

typedef struct opts {
    const char *env, *policies, *out, *noise, *weights;
    int arms, batches, seeds, top;
    long rounds, max_mb;
    uint64_t seed;
    double period, tau_min, tau_max;
} opts;

static const char *route_name(bmx_mix_obs r)
{
    return r == BMX_MIX_OBS_NONE ? "loss (checked, ignored)" : bmx_mix_obs_name(r);
}

/* Split "odm:alpha=0.8,exp3,doremi:eta=0.5,c=0.01": a piece holding '=' but no ':' continues
 * the previous spec's parameters. "all" expands to every policy. */
static int split_policies(const char *list, policy *ps, int *np)
{
    char buf[2048], *save = NULL;
    int n = 0;

    if (strlen(list) >= sizeof buf)
        return cli_fail(CMD, "--policies is too long (at most %zu characters)", sizeof buf - 1);
    snprintf(buf, sizeof buf, "%s", list);
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (!strcmp(tok, "all")) {
            int sub = 0;
            if (split_policies(all_policies, ps + n, &sub))
                return 2;
            n += sub;
            continue;
        }
        if (strchr(tok, '=') && !strchr(tok, ':')) {
            size_t len;
            if (n == 0)
                return cli_fail(CMD,
                                "--policies: '%s' is a parameter without a policy; write "
                                "NAME:%s",
                                tok, tok);
            len = strlen(ps[n - 1].spec);
            if (len + strlen(tok) + 2 > sizeof ps[n - 1].spec)
                return cli_fail(CMD, "--policies: spec '%s...' is too long", ps[n - 1].spec);
            snprintf(ps[n - 1].spec + len, sizeof ps[n - 1].spec - len, ",%s", tok);
            continue;
        }
        if (n >= MAX_POLICIES)
            return cli_fail(CMD, "--policies: at most %d policies in one run", MAX_POLICIES);
        if (strlen(tok) >= sizeof ps[n].spec)
            return cli_fail(CMD, "--policies: spec '%.40s...' is too long", tok);
        memset(&ps[n], 0, sizeof ps[n]);
        snprintf(ps[n].spec, sizeof ps[n].spec, "%s", tok);
        n++;
    }
    if (n == 0)
        return cli_fail(CMD, "--policies is empty; give e.g. --policies odm,exp3 (or all: %s)",
                        all_policies);
    *np = n;
    return 0;
}

/* File-name-safe labels: "odm:alpha=0.8" -> "odm-alpha0.8"; repeated labels get -2, -3. */
static void make_labels(policy *ps, int n)
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

static int parse_weights(const char *s, int k, double **out)
{
    double *w = calloc((size_t)k, sizeof *w);
    const char *p = s;
    int n = 0;

    if (!w)
        return cli_fail(CMD, "out of memory for --weights");
    while (*p) {
        char *end;
        double x;
        errno = 0;
        x = strtod(p, &end);
        if (end == p || errno || !isfinite(x) || x < 0 || (*end && *end != ',')) {
            free(w);
            return cli_fail(CMD,
                            "--weights: '%.*s' is not a finite number >= 0; give K = %d "
                            "comma-separated weights",
                            (int)strcspn(p, ","), p, k);
        }
        if (n < k)
            w[n] = x;
        n++;
        p = *end ? end + 1 : end;
    }
    if (n != k) {
        free(w);
        return cli_fail(CMD, "--weights has %d values but --arms is %d; give one weight per arm", n,
                        k);
    }
    *out = w;
    return 0;
}

static int mkdir_p(const char *dir)
{
    char path[4096];
    size_t len = strlen(dir);

    if (len == 0 || len >= sizeof path)
        return -1;
    memcpy(path, dir, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (path[i] == '/' || path[i] == '\0') {
            char c = path[i];
            path[i] = '\0';
            if (mkdir(path, 0777) != 0 && errno != EEXIST)
                return -1;
            path[i] = c;
        }
    }
    return 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

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

typedef struct run_ctx {
    const opts *o;
    bmx_sim_config cfg;
    const double *weights; /* --weights or NULL */
    const char *cmdline;
    int bandit;
    int progress;
    double last_progress;
} run_ctx;

/* Policies whose weights are the natural sizes. */
static int sized(const char *name)
{
    return !strcmp(name, "natural") || !strcmp(name, "temperature") || !strcmp(name, "ado");
}

/* aioli: the per-arm validation losses it asks for, the expected losses now. */
static int feed_validation(bmx_mix *m, const bmx_sim *env, int bandit, double *buf, bmx_err *err)
{
    const double *mu = bmx_sim_means(env);
    int k = bmx_sim_arms(env);

    if (!bmx_mix_needs_validation(m))
        return 0;
    for (int a = 0; a < k; a++)
        buf[a] = bandit ? 1.0 - mu[a] : mu[a];
    return bmx_mix_observe_validation(m, buf, err);
}

/* One policy, one seed: the run, its log, its metric curve (added into p->curve) and, for
 * the first seed, the columns of its stacked plot. Returns 0, or 1 after printing an error. */
static int run_one(run_ctx *rc, policy *p, int si, const char *log_path)
{
    const opts *o = rc->o;
    size_t k = (size_t)o->arms;
    uint64_t seed = o->seed + (uint64_t)si;
    bmx_sim_config cfg = rc->cfg;
    bmx_sim *env = NULL;
    bmx_mix *m = NULL;
    bmx_err err = {0};
    bmx_json j = {0};
    FILE *f = NULL;
    int *draws = NULL, status = 1;
    double *obs = NULL, *exsum = NULL, *tokens = NULL, *colcount = NULL;
    double cum = 0, metric = 0;
    const double *w = NULL;

    cfg.seed = seed;
    if (bmx_sim_create(&env, &cfg, &err) != BMX_OK) {
        fprintf(stderr, "bmx simulate: %s\n", err.msg);
        goto done;
    }
    if (sized(p->name))
        w = bmx_sim_sizes(env);
    else if (!strcmp(p->name, "weights") || !strcmp(p->name, "aioli"))
        w = rc->weights;
    bmx_mix_data data = {bmx_sim_sizes(env), 1, 1};
    if (bmx_mix_create_data(&m, p->spec, o->arms, w, &data, seed, &err) != BMX_OK) {
        fprintf(stderr, "bmx simulate: policy '%s': %s\n", p->spec, err.msg);
        goto done;
    }
    draws = calloc((size_t)o->batches, sizeof *draws);
    obs = calloc((size_t)o->batches, sizeof *obs);
    exsum = calloc(k, sizeof *exsum);
    tokens = calloc(k, sizeof *tokens);
    if (si == 0 && p->adaptive)
        colcount = calloc((size_t)p->ncols, sizeof *colcount);
    if (!draws || !obs || !exsum || !tokens || (si == 0 && p->adaptive && !colcount)) {
        fprintf(stderr, "bmx simulate: out of memory (try fewer --arms or --batches)\n");
        goto done;
    }
    f = fopen(log_path, "w");
    if (!f) {
        fprintf(stderr, "bmx simulate: cannot create %s: %s (check --out is writable)\n", log_path,
                strerror(errno));
        goto done;
    }
    bmx_json_obj(&j);
    bmx_json_kv_str(&j, "type", "header");
    bmx_json_kv_str(&j, "tool", "bmx simulate");
    bmx_json_kv_int(&j, "format", 1);
    bmx_json_kv_str(&j, "command", rc->cmdline);
    bmx_json_kv_str(&j, "policy", bmx_mix_spec(m));
    bmx_json_kv_str(&j, "policy_given", p->spec);
    bmx_json_kv_str(&j, "label", p->label);
    bmx_json_kv_str(&j, "observe", route_name(p->route));
    bmx_json_kv_int(&j, "arms", o->arms);
    bmx_json_kv_int(&j, "rounds", o->rounds);
    bmx_json_kv_int(&j, "batches", o->batches);
    bmx_json_kv_int(&j, "seed", (long long)seed);
    bmx_json_kv_str(&j, "metric", rc->bandit ? "cum_regret" : "mean_loss");
    if (w) {
        bmx_json_key(&j, "weights");
        bmx_json_nums(&j, w, k);
    }
    bmx_json_key(&j, "env");
    json_env(&j, env);
    bmx_json_end_obj(&j);
    if (bmx_json_line(&j, f, log_path, &err) != BMX_OK)
        goto io;

    for (long t = 1; t <= o->rounds; t++) {
        if (feed_validation(m, env, rc->bandit, exsum, &err) != BMX_OK) {
            fprintf(stderr, "bmx simulate: policy %s, round %ld: %s\n", p->spec, t, err.msg);
            goto done;
        }
        memset(exsum, 0, k * sizeof *exsum);
        const double *pi = bmx_mix_probs(m);
        double regret = 0;

        bmx_json_obj(&j);
        bmx_json_kv_str(&j, "type", "round");
        bmx_json_kv_int(&j, "t", t);
        bmx_json_key(&j, "probs");
        bmx_json_nums(&j, pi, k);
        if (colcount) {
            int c = (int)((t - 1) * p->ncols / o->rounds);
            const double *shown = p->route == BMX_MIX_OBS_EXCESS ? bmx_mix_average(m) : pi;
            for (size_t a = 0; a < k; a++)
                p->cols[(size_t)c * k + a] += shown ? shown[a] : pi[a];
            p->colx[c] += (double)t;
            colcount[c] += 1;
        }
        for (int g = 0; g < o->batches; g++) {
            bmx_sim_obs ob;
            int a = bmx_mix_draw(m);
            int r;
            if (a < 0) {
                fprintf(stderr,
                        "bmx simulate: policy %s, round %ld: every arm has been pulled "
                        "max-epochs times its size; raise max-epochs or lower --rounds\n",
                        p->spec, t);
                goto done;
            }
            if (rc->bandit)
                regret += bmx_sim_best(env) - bmx_sim_means(env)[a];
            if (bmx_sim_pull(env, a, &ob, &err) != BMX_OK) {
                fprintf(stderr, "bmx simulate: %s (policy %s drew it)\n", err.msg, p->spec);
                goto done;
            }
            draws[g] = a;
            switch (p->route) {
            case BMX_MIX_OBS_REWARD:
                obs[g] = ob.reward;
                r = bmx_mix_observe(m, a, ob.reward, &err);
                break;
            case BMX_MIX_OBS_EXCESS:
                obs[g] = ob.excess;
                exsum[a] += ob.excess;
                tokens[a] += 1;
                r = BMX_OK;
                break;
            default:
                obs[g] = ob.loss;
                r = bmx_mix_observe(m, a, ob.loss, &err);
            }
            if (r != BMX_OK) {
                fprintf(stderr, "bmx simulate: policy %s, round %ld: %s\n", p->spec, t, err.msg);
                goto done;
            }
        }
        if (p->route == BMX_MIX_OBS_EXCESS) {
            if (bmx_mix_observe_excess(m, exsum, tokens, &err) != BMX_OK) {
                fprintf(stderr, "bmx simulate: policy %s, round %ld: %s\n", p->spec, t, err.msg);
                goto done;
            }
            memset(exsum, 0, k * sizeof *exsum);
            memset(tokens, 0, k * sizeof *tokens);
        }
        if (bmx_mix_step(m, &err) != BMX_OK) {
            fprintf(stderr, "bmx simulate: policy %s, round %ld: %s\n", p->spec, t, err.msg);
            goto done;
        }
        bmx_json_key(&j, "draws");
        bmx_json_ints(&j, draws, (size_t)o->batches);
        bmx_json_key(&j, "obs");
        bmx_json_nums(&j, obs, (size_t)o->batches);
        if (rc->bandit) {
            cum += regret;
            metric = cum;
            bmx_json_kv_num(&j, "regret", regret);
            bmx_json_kv_num(&j, "cum_regret", cum);
        } else {
            metric = bmx_sim_mean_loss(env);
            bmx_json_kv_num(&j, "mean_loss", metric);
        }
        if (p->route == BMX_MIX_OBS_EXCESS && bmx_mix_estimates(m) && bmx_mix_average(m)) {
            bmx_json_key(&j, "alpha");
            bmx_json_nums(&j, bmx_mix_estimates(m), k);
            bmx_json_key(&j, "alpha_bar");
            bmx_json_nums(&j, bmx_mix_average(m), k);
        }
        bmx_json_end_obj(&j);
        if (bmx_json_line(&j, f, log_path, &err) != BMX_OK)
            goto io;
        p->curve[t - 1] += metric / o->seeds;
        bmx_sim_advance(env);
        if (rc->progress && (t & 63) == 0 && now_s() - rc->last_progress > 0.25) {
            rc->last_progress = now_s();
            fprintf(stderr, "\r  %-24s seed %llu  round %ld/%ld ", p->label,
                    (unsigned long long)seed, t, o->rounds);
        }
    }
    p->final[si] = metric;
    bmx_json_obj(&j);
    bmx_json_kv_str(&j, "type", "final");
    bmx_json_kv_int(&j, "rounds", o->rounds);
    bmx_json_kv_num(&j, rc->bandit ? "final_regret" : "final_mean_loss", metric);
    bmx_json_key(&j, "counts");
    bmx_json_nums(&j, bmx_sim_counts(env), k);
    bmx_json_key(&j, "probs");
    bmx_json_nums(&j, bmx_mix_probs(m), k);
    if (!rc->bandit) {
        bmx_json_key(&j, "losses");
        bmx_json_nums(&j, bmx_sim_means(env), k);
    }
    bmx_json_end_obj(&j);
    if (bmx_json_line(&j, f, log_path, &err) != BMX_OK)
        goto io;
    if (fclose(f) != 0) {
        f = NULL;
        fprintf(stderr, "bmx simulate: cannot write %s: %s\n", log_path, strerror(errno));
        goto done;
    }
    f = NULL;
    for (int c = 0; colcount && c < p->ncols; c++)
        if (colcount[c] > 0) {
            for (size_t a = 0; a < k; a++)
                p->cols[(size_t)c * k + a] /= colcount[c];
            p->colx[c] /= colcount[c];
        }
    status = 0;
    goto done;
io:
    fprintf(stderr, "bmx simulate: %s\n", err.msg);
done:
    if (f)
        fclose(f);
    bmx_json_free(&j);
    bmx_mix_free(m);
    bmx_sim_free(env);
    free(draws);
    free(obs);
    free(exsum);
    free(tokens);
    free(colcount);
    return status;
}

static void mean_sd(const double *v, int n, double *mean, double *sd)
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

static void log_name(char *buf, size_t cap, const opts *o, const policy *p, int si)
{
    if (o->seeds == 1)
        snprintf(buf, cap, "%s.jsonl", p->label);
    else
        snprintf(buf, cap, "%s.seed%llu.jsonl", p->label,
                 (unsigned long long)(o->seed + (uint64_t)si));
}

static int save(const bmx_sbuf *b, const char *dir, const char *name)
{
    char path[4096];
    bmx_err err = {0};

    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (bmx_sbuf_save(b, path, &err) != BMX_OK) {
        fprintf(stderr, "bmx simulate: %s\n", err.msg);
        return 1;
    }
    return 0;
}

/* summary.json, metric.svg, probs-*.svg, index.html. */
static int write_outputs(const run_ctx *rc, policy *ps, int np)
{
    const opts *o = rc->o;
    const char *metric = rc->bandit ? "final_regret" : "final_mean_loss";
    const char *mtitle = rc->bandit ? "cumulative regret" : "mean loss over domains";
    bmx_sbuf b = {0};
    bmx_json j = {0};
    bmx_plot_series *series = calloc((size_t)np, sizeof *series);
    char title[256], name[256];
    bmx_err err = {0};
    int status = 1;

    if (!series) {
        fprintf(stderr, "bmx simulate: out of memory\n");
        return 1;
    }
    /* summary.json */
    bmx_json_obj(&j);
    bmx_json_kv_str(&j, "tool", "bmx simulate");
    bmx_json_kv_str(&j, "command", rc->cmdline);
    bmx_json_kv_str(&j, "env", o->env);
    bmx_json_kv_int(&j, "arms", o->arms);
    bmx_json_kv_int(&j, "rounds", o->rounds);
    bmx_json_kv_int(&j, "batches", o->batches);
    bmx_json_key(&j, "seeds");
    bmx_json_arr(&j);
    for (int s = 0; s < o->seeds; s++)
        bmx_json_int(&j, (long long)(o->seed + (uint64_t)s));
    bmx_json_end_arr(&j);
    bmx_json_kv_str(&j, "metric", metric);
    bmx_json_kv_str(&j, "metric_plot", "metric.svg");
    bmx_json_key(&j, "policies");
    bmx_json_arr(&j);
    for (int i = 0; i < np; i++) {
        double mean, sd;
        mean_sd(ps[i].final, o->seeds, &mean, &sd);
        bmx_json_obj(&j);
        bmx_json_kv_str(&j, "label", ps[i].label);
        bmx_json_kv_str(&j, "policy", ps[i].canon);
        bmx_json_kv_str(&j, "observe", route_name(ps[i].route));
        bmx_json_kv_num(&j, "mean", mean);
        bmx_json_kv_num(&j, "sd", sd);
        bmx_json_key(&j, "final");
        bmx_json_nums(&j, ps[i].final, (size_t)o->seeds);
        bmx_json_key(&j, "logs");
        bmx_json_arr(&j);
        for (int s = 0; s < o->seeds; s++) {
            log_name(name, sizeof name, o, &ps[i], s);
            bmx_json_str(&j, name);
        }
        bmx_json_end_arr(&j);
        if (ps[i].adaptive) {
            snprintf(name, sizeof name, "probs-%s.svg", ps[i].label);
            bmx_json_kv_str(&j, "probs_plot", name);
        }
        bmx_json_end_obj(&j);
    }
    bmx_json_end_arr(&j);
    bmx_json_end_obj(&j);
    {
        char path[4096];
        FILE *f;
        snprintf(path, sizeof path, "%s/summary.json", o->out);
        f = fopen(path, "w");
        if (!f || bmx_json_line(&j, f, path, &err) != BMX_OK) {
            fprintf(stderr, "bmx simulate: %s\n",
                    f ? err.msg : "cannot create summary.json (check --out is writable)");
            if (f)
                fclose(f);
            goto done;
        }
        if (fclose(f) != 0) {
            fprintf(stderr, "bmx simulate: cannot write %s\n", path);
            goto done;
        }
    }
    /* metric.svg */
    for (int i = 0; i < np; i++) {
        series[i].name = ps[i].label;
        series[i].y = ps[i].curve;
        series[i].n = (size_t)o->rounds;
    }
    snprintf(title, sizeof title, "%s: %s (%d arms, %d batch%s/round%s)", o->env, mtitle, o->arms,
             o->batches, o->batches == 1 ? "" : "es", o->seeds > 1 ? ", mean over seeds" : "");
    {
        bmx_plot pl = {title, "round", mtitle, 0, 0};
        if (bmx_svg_lines(&b, &pl, series, (size_t)np, &err) != BMX_OK) {
            fprintf(stderr, "bmx simulate: metric plot: %s\n", err.msg);
            goto done;
        }
        if (save(&b, o->out, "metric.svg"))
            goto done;
    }
    /* probs-<label>.svg */
    for (int i = 0; i < np; i++) {
        int n = 0;
        if (!ps[i].adaptive)
            continue;
        /* Columns actually filled (all of them unless rounds < columns). */
        n = ps[i].ncols;
        bmx_sbuf_clear(&b);
        snprintf(title, sizeof title, "%s: %s over rounds (seed %llu)", ps[i].label,
                 ps[i].route == BMX_MIX_OBS_EXCESS ? "domain weights alpha_bar"
                                                   : "arm probabilities",
                 (unsigned long long)o->seed);
        {
            bmx_plot pl = {title, "round",
                           ps[i].route == BMX_MIX_OBS_EXCESS ? "weight" : "probability", 0, 0};
            if (bmx_svg_stacked(&b, &pl, ps[i].colx, (size_t)n, ps[i].cols, (size_t)o->arms, NULL,
                                (size_t)o->top, &err) != BMX_OK) {
                fprintf(stderr, "bmx simulate: plot of %s: %s\n", ps[i].label, err.msg);
                goto done;
            }
        }
        snprintf(name, sizeof name, "probs-%s.svg", ps[i].label);
        if (save(&b, o->out, name))
            goto done;
    }
    /* index.html */
    bmx_sbuf_clear(&b);
    bmx_sbuf_puts(&b, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
                      "<title>bmx simulate</title>\n<style>body{font-family:sans-serif;"
                      "margin:1.5em}table{border-collapse:collapse}td,th{border:1px solid #ccc;"
                      "padding:3px 8px;text-align:right}td:first-child,th:first-child{text-align:"
                      "left}.plots{display:flex;flex-wrap:wrap;gap:8px}.plots img{width:560px;"
                      "border:1px solid #eee}</style></head><body>\n<h1>bmx simulate</h1>\n<p>");
    bmx_sbuf_printf(&b, "environment <b>%s</b>, %d arms, %ld rounds of %d batches, seed%s ", o->env,
                    o->arms, o->rounds, o->batches, o->seeds > 1 ? "s" : "");
    if (o->seeds > 1)
        bmx_sbuf_printf(&b, "%llu to %llu", (unsigned long long)o->seed,
                        (unsigned long long)(o->seed + (uint64_t)o->seeds - 1));
    else
        bmx_sbuf_printf(&b, "%llu", (unsigned long long)o->seed);
    bmx_sbuf_puts(&b, ".<br><code>");
    bmx_sbuf_xml(&b, rc->cmdline);
    bmx_sbuf_printf(&b,
                    "</code></p>\n<table><tr><th>policy</th><th>observes</th><th>%s</th>"
                    "%s<th>log</th></tr>\n",
                    rc->bandit ? "final regret" : "final mean loss",
                    o->seeds > 1 ? "<th>sd over seeds</th>" : "");
    for (int i = 0; i < np; i++) {
        double mean, sd;
        mean_sd(ps[i].final, o->seeds, &mean, &sd);
        bmx_sbuf_puts(&b, "<tr><td>");
        bmx_sbuf_xml(&b, ps[i].canon);
        bmx_sbuf_printf(&b, "</td><td>%s</td><td>%.6g</td>", route_name(ps[i].route), mean);
        if (o->seeds > 1)
            bmx_sbuf_printf(&b, "<td>%.3g</td>", sd);
        log_name(name, sizeof name, o, &ps[i], 0);
        bmx_sbuf_puts(&b, "<td><a href=\"");
        bmx_sbuf_xml(&b, name);
        bmx_sbuf_puts(&b, "\">");
        bmx_sbuf_xml(&b, name);
        bmx_sbuf_puts(&b, "</a></td></tr>\n");
    }
    bmx_sbuf_puts(&b, "</table>\n<div class=\"plots\">\n<img src=\"metric.svg\" alt=\"metric\">\n");
    for (int i = 0; i < np; i++)
        if (ps[i].adaptive) {
            snprintf(name, sizeof name, "probs-%s.svg", ps[i].label);
            bmx_sbuf_puts(&b, "<img src=\"");
            bmx_sbuf_xml(&b, name);
            bmx_sbuf_puts(&b, "\" alt=\"");
            bmx_sbuf_xml(&b, ps[i].label);
            bmx_sbuf_puts(&b, "\">\n");
        }
    bmx_sbuf_puts(&b, "</div>\n</body></html>\n");
    if (save(&b, o->out, "index.html"))
        goto done;
    status = 0;
done:
    bmx_sbuf_free(&b);
    bmx_json_free(&j);
    free(series);
    return status;
}

/* About the bytes the JSONL logs will take: an observation (%.15g or %.17g) takes about 20
 * characters with its comma, a probability about 15 (from 0.001 to 0.045454545454545456:
 * measured 12 to 20), a drawn arm its digits and a comma; a round line has pi, the draws
 * and observations, doremi adds alpha and alpha_bar; the header holds the environment (up
 * to 5 per-arm arrays) and the final record 3. */
static double log_bytes_estimate(const opts *o, const policy *ps, int np)
{
    double k = o->arms, g = o->batches, num = 15, idx = floor(log10(k)) + 2, total = 0;
    for (int i = 0; i < np; i++) {
        double round = 80 + log10((double)o->rounds) + k * num + g * (idx + 20);
        if (ps[i].route == BMX_MIX_OBS_EXCESS)
            round += 2 * k * num + 30;
        total += 800 + 8 * k * num + (double)o->rounds * round;
    }
    return total * o->seeds;
}

static const char usage[] =
    "usage: bmx simulate [OPTIONS]\n\n"
    "Run mixing policies side by side on a synthetic environment and write, under --out,\n"
    "one JSONL log per policy (every round: the distribution, the arms drawn, the\n"
    "observations given), summary.json, metric.svg (cumulative regret for the bandit\n"
    "environments, mean loss over domains for learnable), probs-POLICY.svg (the\n"
    "distribution over time of each adaptive policy) and index.html.\n\n"
    "environments: bernoulli, gaussian, drifting (bandits: rewards in [0, 1], loss = 1 -\n"
    "reward) and learnable (domains whose loss decays with the number of batches drawn:\n"
    "floor + (start - floor) exp(-n / tau), tau spread from --tau-min to --tau-max).\n"
    "policies: uniform natural weights odm odm-smoothed-mean exp3 ucb1 explore-only\n"
    "exploit-only doremi, or all; parameters as NAME:KEY=VALUE,KEY=VALUE, e.g.\n"
    "--policies odm:alpha=0.8,exp3:tscale=10,doremi:eta=0.5,c=0.01. Keys: odm alpha,\n"
    "tscale; odm-smoothed-mean alpha, warmup; exp3 beta, tscale; ucb1 beta; doremi eta,\n"
    "c, vocab (bmx/mix.h; tscale S computes eps at S t: 1 is the papers' form).\n"
    "odm* observe losses, exp3/ucb1/exploit-only rewards (learnable: the loss), doremi\n"
    "excess losses (loss - floor; bandits: loss - (1 - best mean)), static ones the loss.\n\n"
    "With no options: every policy on the learnable environment, 22 arms, out runs/simulate.";

int cmd_simulate(int argc, char **argv)
{
    opts o = {
        .env = "learnable",
        .policies = "all",
        .out = "runs/simulate",
        .noise = "auto",
        .weights = NULL,
        .arms = 22,
        .batches = 8,
        .seeds = 1,
        .top = 12,
        .rounds = 2000,
        .max_mb = 1024,
        .seed = 1,
        .period = 1000,
        .tau_min = 20,
        .tau_max = 2000,
    };
    const struct cli_opt table[] = {
        {"env", CLI_STR, &o.env, "bernoulli, gaussian, drifting or learnable"},
        {"policies", CLI_STR, &o.policies, "comma-separated policy specs, or all"},
        {"arms", CLI_INT, &o.arms, "number of arms K"},
        {"rounds", CLI_LONG, &o.rounds, "rounds (policy steps)"},
        {"batches", CLI_INT, &o.batches, "draws per round G"},
        {"seed", CLI_U64, &o.seed, "first seed (environment and policies)"},
        {"seeds", CLI_INT, &o.seeds, "number of seeds: seed, seed+1, ..."},
        {"out", CLI_STR, &o.out, "output directory (created)"},
        {"noise", CLI_STR, &o.noise, "noise sd: gaussian reward (0.1), learnable loss (0.02)"},
        {"period", CLI_DOUBLE, &o.period, "drifting: base period of the means in rounds"},
        {"tau-min", CLI_DOUBLE, &o.tau_min, "learnable: fastest domain's time constant (pulls)"},
        {"tau-max", CLI_DOUBLE, &o.tau_max, "learnable: slowest domain's time constant (pulls)"},
        {"weights", CLI_STR, &o.weights, "K comma-separated weights for the weights policy"},
        {"top", CLI_INT, &o.top, "arms shown on their own in the distribution plots"},
        {"max-output-mb", CLI_LONG, &o.max_mb,
         "refuse a run whose logs would take more MB than this (0 = no bound)"},
        {0},
    };
    policy *ps = NULL;
    double *weights = NULL, *ones = NULL;
    bmx_sim_env env;
    bmx_err err = {0};
    run_ctx rc;
    bmx_sbuf cmdline = {0};
    int np = 0, r, status = 1, ncols;
    double t0 = now_s();

    r = cli_parse(argc, argv, usage, table, NULL, 0, NULL);
    if (r)
        return r > 0 ? 0 : 2;
    if (bmx_sim_env_parse(o.env, &env, &err) != BMX_OK)
        return cli_fail(CMD, "--env: %s", err.msg);
    if (o.arms < 1 || o.arms > BMX_MIX_MAX_ARMS)
        return cli_fail(CMD, "--arms %d is out of range; use 1 to %d", o.arms, BMX_MIX_MAX_ARMS);
    if (o.rounds < 1)
        return cli_fail(CMD, "--rounds %ld: give at least 1 round", o.rounds);
    if (o.batches < 1 || o.batches > 1000000)
        return cli_fail(CMD, "--batches %d is out of range; use 1 to 1000000", o.batches);
    if (o.seeds < 1 || o.seeds > 10000)
        return cli_fail(CMD, "--seeds %d is out of range; use 1 to 10000", o.seeds);
    if (o.top < 1)
        return cli_fail(CMD, "--top %d: show at least 1 arm", o.top);
    if (!o.out[0])
        return cli_fail(CMD, "--out is empty; give a directory, e.g. --out runs/sim");
    if (o.max_mb < 0)
        return cli_fail(CMD, "--max-output-mb %ld: give a bound in MB, or 0 for none", o.max_mb);
    bmx_sim_config_init(&rc.cfg, env, o.arms, o.seed);
    if (strcmp(o.noise, "auto") != 0) {
        char *end;
        errno = 0;
        rc.cfg.noise = strtod(o.noise, &end);
        if (errno || end == o.noise || *end || !isfinite(rc.cfg.noise) || rc.cfg.noise < 0)
            return cli_fail(CMD, "--noise wants a finite number >= 0 (or auto), got '%s'", o.noise);
    }
    rc.cfg.period = o.period;
    rc.cfg.tau_min = o.tau_min;
    rc.cfg.tau_max = o.tau_max;
    {
        bmx_sim *probe = NULL;
        if (bmx_sim_create(&probe, &rc.cfg, &err) != BMX_OK)
            return cli_fail(CMD, "%s (see --period, --tau-min, --tau-max, --noise)", err.msg);
        bmx_sim_free(probe);
    }
    if (o.weights && parse_weights(o.weights, o.arms, &weights))
        return 2;
    ps = calloc(MAX_POLICIES, sizeof *ps);
    if (!ps)
        return cli_fail(CMD, "out of memory");
    if (split_policies(o.policies, ps, &np)) {
        free(ps);
        free(weights);
        return 2;
    }
    make_labels(ps, np);
    /* Check every spec now, so that a typo fails before any work. */
    for (int i = 0; i < np; i++) {
        bmx_mix *m = NULL;
        const double *w = NULL;
        char name[48];
        snprintf(name, sizeof name, "%.*s", (int)strcspn(ps[i].spec, ":"), ps[i].spec);
        if (!strcmp(name, "weights") && !weights) {
            status = cli_fail(CMD,
                              "policy 'weights' needs --weights with %d comma-separated values "
                              "(one per arm)",
                              o.arms);
            goto out;
        }
        w = weights;
        if (sized(name)) {
            /* natural runs on the environment's sizes; any valid weights check the spec */
            if (!ones && !(ones = malloc((size_t)o.arms * sizeof *ones))) {
                status = cli_fail(CMD, "out of memory");
                goto out;
            }
            for (int a = 0; a < o.arms; a++)
                ones[a] = 1;
            w = ones;
        }
        bmx_mix_data data = {ones, 1, 1};
        if (!ones && !(ones = malloc((size_t)o.arms * sizeof *ones))) {
            status = cli_fail(CMD, "out of memory");
            goto out;
        }
        for (int a = 0; a < o.arms; a++)
            ones[a] = 1;
        data.tokens = ones;
        r = bmx_mix_create_data(&m, ps[i].spec, o.arms, w, &data, o.seed, &err);
        if (r != BMX_OK) {
            status = cli_fail(CMD, "--policies: %s (policies: %s; parameters as NAME:KEY=VALUE)",
                              err.msg, all_policies);
            goto out;
        }
        snprintf(ps[i].canon, sizeof ps[i].canon, "%s", bmx_mix_spec(m));
        snprintf(ps[i].name, sizeof ps[i].name, "%s", bmx_mix_name(m));
        ps[i].route = bmx_mix_observes(m);
        ps[i].adaptive = ps[i].route != BMX_MIX_OBS_NONE;
        bmx_mix_free(m);
    }
    double est = log_bytes_estimate(&o, ps, np);
    if (o.max_mb && est > (double)o.max_mb * 1e6) {
        status = cli_fail(CMD,
                          "the logs would take about %.0f MB (%d policies x %d seeds x %ld rounds "
                          "of %d arms: about %.3g MB per round and policy), over --max-output-mb "
                          "%ld: give fewer --rounds, --arms, --policies or --seeds, or raise the "
                          "bound (--max-output-mb %.0f)",
                          est / 1e6, np, o.seeds, o.rounds, o.arms,
                          est / 1e6 / np / o.seeds / (double)o.rounds, o.max_mb, est / 1e6 + 1);
        goto out;
    }
    if (mkdir_p(o.out) != 0) {
        fprintf(stderr, "bmx simulate: cannot create directory %s: %s (check --out)\n", o.out,
                strerror(errno));
        goto out;
    }
    ncols = (int)(o.rounds < PLOT_COLUMNS ? o.rounds : PLOT_COLUMNS);
    if ((long)ncols * o.arms > PLOT_CELLS)
        ncols = PLOT_CELLS / o.arms > 1 ? PLOT_CELLS / o.arms : 1;
    for (int i = 0; i < np; i++) {
        ps[i].curve = calloc((size_t)o.rounds, sizeof *ps[i].curve);
        ps[i].final = calloc((size_t)o.seeds, sizeof *ps[i].final);
        if (ps[i].adaptive) {
            ps[i].ncols = ncols;
            ps[i].cols = calloc((size_t)ncols * (size_t)o.arms, sizeof *ps[i].cols);
            ps[i].colx = calloc((size_t)ncols, sizeof *ps[i].colx);
        }
        if (!ps[i].curve || !ps[i].final || (ps[i].adaptive && (!ps[i].cols || !ps[i].colx))) {
            fprintf(stderr, "bmx simulate: out of memory (try fewer --rounds or --arms)\n");
            goto out;
        }
    }
    for (int i = 0; i < argc; i++) {
        bmx_sbuf_puts(&cmdline, i ? " " : "bmx ");
        bmx_sbuf_puts(&cmdline, argv[i]);
    }
    rc.o = &o;
    rc.weights = weights;
    rc.cmdline = bmx_sbuf_str(&cmdline);
    rc.bandit = env != BMX_SIM_LEARNABLE;
    rc.progress = isatty(2);
    rc.last_progress = now_s();
    for (int i = 0; i < np; i++)
        for (int s = 0; s < o.seeds; s++) {
            char name[256], path[4096];
            log_name(name, sizeof name, &o, &ps[i], s);
            snprintf(path, sizeof path, "%s/%s", o.out, name);
            if (run_one(&rc, &ps[i], s, path))
                goto out;
        }
    if (rc.progress)
        fprintf(stderr, "\r%60s\r", "");
    if (write_outputs(&rc, ps, np))
        goto out;

    printf("bmx simulate: %s, %d arms, %ld rounds x %d batches, seed %llu", o.env, o.arms, o.rounds,
           o.batches, (unsigned long long)o.seed);
    if (o.seeds > 1)
        printf(" (+%d more)", o.seeds - 1);
    printf(", %.2f s\n\n", now_s() - t0);
    {
        int wp = 6;
        for (int i = 0; i < np; i++)
            if ((int)strlen(ps[i].canon) > wp)
                wp = (int)strlen(ps[i].canon);
        printf("  %-*s  %-24s %16s%s\n", wp, "policy", "observes",
               rc.bandit ? "final regret" : "final mean loss",
               o.seeds > 1 ? "   sd over seeds" : "");
        for (int i = 0; i < np; i++) {
            double mean, sd;
            mean_sd(ps[i].final, o.seeds, &mean, &sd);
            printf("  %-*s  %-24s %16.6g", wp, ps[i].canon, route_name(ps[i].route), mean);
            if (o.seeds > 1)
                printf(" %16.3g", sd);
            printf("\n");
        }
    }
    printf("\nwrote %s/: index.html (open it), summary.json, metric.svg, probs-*.svg, one "
           "*.jsonl log per policy%s (about %.3g MB of logs estimated)\n",
           o.out, o.seeds > 1 ? " and seed" : "", est / 1e6);
    status = 0;
out:
    for (int i = 0; ps && i < np; i++) {
        free(ps[i].curve);
        free(ps[i].final);
        free(ps[i].cols);
        free(ps[i].colx);
    }
    free(ps);
    free(weights);
    free(ones);
    bmx_sbuf_free(&cmdline);
    return status;
}
