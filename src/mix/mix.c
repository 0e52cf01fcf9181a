/* Mixing policies: create, draw, observe, step (bmx/mix.h, ALGORITHMS.md sections 1-4). */
#include "mix_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* exp(loss) of odm-smoothed-mean must stay finite even summed over BMX_MIX_MAX_ARMS arms:
 * ln(DBL_MAX) = 709.78 and ln(2^24) = 16.6. */
#define ODM_SM_MAX_LOSS 690.0

/* eps at time s = S t: min(1/K, sqrt(ln K / (K s))); eps_0 = 1/K. */
static double eps_at(int k, double s)
{
    double u = 1.0 / k;
    double e;

    if (s <= 0.0)
        return u;
    e = sqrt(log((double)k) / ((double)k * s));
    return e < u ? e : u;
}

/* Is eps_{S t} = 1/K, so that 1 - K eps_t = 0 and pi is uniform in round t? */
static int eps_is_max(int k, double tscale, long t)
{
    return eps_at(k, tscale * (double)t) >= 1.0 / k;
}

long bmx_mix_uniform_rounds(int k, double tscale)
{
    if (k < 2 || !(tscale >= BMX_MIX_MIN_TSCALE && tscale <= BMX_MIX_MAX_TSCALE))
        return 0;
    /* S t <= K ln K, settled against eps itself where rounding decides */
    long n = (long)floor((double)k * log((double)k) / tscale);
    while (n > 0 && !eps_is_max(k, tscale, n))
        n--;
    while (eps_is_max(k, tscale, n + 1))
        n++;
    return n;
}

double bmx_mix_tscale(const bmx_mix *m)
{
    return (m->pol->keys & KEY_TSCALE) ? m->p.tscale : 1.0;
}

int mix_alloc(bmx_mix **out, const struct mix_policy *pol, int k, bmx_err *err)
{
    bmx_mix *m = calloc(1, sizeof *m);
    size_t n = (size_t)k;

    if (!m)
        goto nomem;
    m->pol = pol;
    m->k = k;
    m->det = -1;
    for (int a = 0; a < ARR_COUNT; a++)
        if ((pol->arrays & (1u << a)) && !(m->arr[a] = calloc(n, sizeof(double))))
            goto nomem;
    if (!(m->cdf = calloc(n, sizeof(double))) || !(m->dpi = calloc(n, sizeof(double))) ||
        !(m->drawn = calloc(n, sizeof(double))))
        goto nomem;
    m->draw_tokens = 1.0;
    m->draw_seqs = 1.0;
    if ((pol->arrays & (1u << ARR_ACC)) && !(m->touched = calloc(n, sizeof(int))))
        goto nomem;
    *out = m;
    return 0;
nomem:
    bmx_mix_free(m);
    return bmx_err_set(err, BMX_ENOMEM, "mix: out of memory for a policy over %d arms", k);
}

void bmx_mix_free(bmx_mix *m)
{
    if (!m)
        return;
    for (int a = 0; a < ARR_COUNT; a++)
        free(m->arr[a]);
    free(m->cdf);
    free(m->dpi);
    free(m->drawn);
    free(m->tok);
    free(m->ext);
    free(m->touched);
    free(m);
}

int mix_ext_reserve(bmx_mix *m, size_t n, bmx_err *err)
{
    if (n <= m->ext_cap)
        return 0;
    size_t cap = m->ext_cap ? m->ext_cap : 64;
    while (cap < n)
        cap *= 2;
    double *e = realloc(m->ext, cap * sizeof *e);
    if (!e)
        return bmx_err_set(err, BMX_ENOMEM, "mix policy %s: out of memory for %zu doubles of state",
                           m->pol->name, n);
    m->ext = e;
    m->ext_cap = cap;
    return 0;
}

static int constrained(const bmx_mix *m)
{
    return m->p.min_prob > 0.0 || m->p.max_epochs > 0.0;
}

static int capped(const bmx_mix *m, int i)
{
    return m->p.max_epochs > 0.0 && m->tok && m->drawn[i] >= m->p.max_epochs * m->tok[i];
}

/* pi' (section 5) and its cumulative sum for draw. */
void mix_cdf_update(bmx_mix *m)
{
    const double *pi = m->arr[ARR_PI];
    double acc = 0.0, s = 0.0, D = m->p.min_prob;

    m->exhausted = 0;
    if (!constrained(m)) {
        memcpy(m->dpi, pi, (size_t)m->k * sizeof *pi);
    } else {
        for (int i = 0; i < m->k; i++) {
            double v = pi[i] > D ? pi[i] : D;
            m->dpi[i] = capped(m, i) ? 0.0 : v;
            s += m->dpi[i];
        }
        if (!(s > 0.0))
            m->exhausted = 1;
        else
            for (int i = 0; i < m->k; i++)
                m->dpi[i] /= s;
    }
    for (int i = 0; i < m->k; i++) {
        acc += m->dpi[i];
        m->cdf[i] = acc;
    }
}

/* odm and exp3: pi_i = (1 - K eps_t) softmax(eps_{t-1} R)_i + eps_t, stable softmax. */
static void pi_exp3(bmx_mix *m)
{
    const double *R = m->arr[ARR_EST];
    double *pi = m->arr[ARR_PI];
    double S = m->p.tscale;
    double ep = eps_at(m->k, S * (double)(m->t - 1)), e = eps_at(m->k, S * (double)m->t);
    double keep = 1.0 - (double)m->k * e, mx = -INFINITY, s = 0.0;

    if (keep < 0.0)
        keep = 0.0; /* rounding of K * (1/K) */
    for (int i = 0; i < m->k; i++)
        if (ep * R[i] > mx)
            mx = ep * R[i];
    for (int i = 0; i < m->k; i++) {
        pi[i] = exp(ep * R[i] - mx);
        s += pi[i];
    }
    for (int i = 0; i < m->k; i++)
        pi[i] = keep * pi[i] / s + e;
}

static void pi_fill(bmx_mix *m, double v)
{
    double *pi = m->arr[ARR_PI];

    for (int i = 0; i < m->k; i++)
        pi[i] = v;
}

static void pi_onehot(bmx_mix *m, int arm)
{
    pi_fill(m, 0.0);
    m->arr[ARR_PI][arm] = 1.0;
}

/* ucb1: one-hot on the lowest arm never observed, else on argmax R_a + sqrt(2 ln n / n_a). */
static void ucb1_choose(bmx_mix *m)
{
    const double *R = m->arr[ARR_EST], *n = m->arr[ARR_AUX];
    double total = 0.0, best = -INFINITY;
    int arm = -1;

    for (int i = 0; i < m->k; i++) {
        if (n[i] == 0.0) {
            arm = i;
            break;
        }
        total += n[i];
    }
    if (arm < 0) {
        double ln = log(total);
        for (int i = 0; i < m->k; i++) {
            double u = R[i] + sqrt(2.0 * ln / n[i]);
            if (u > best) {
                best = u;
                arm = i;
            }
        }
    }
    pi_onehot(m, arm);
    m->det = arm;
}

/* exploit-only, once every arm is scored: pi ~ max(score, 0), else one-hot on the lowest
 * index of the highest score. Scaled by the largest score so that the sum cannot overflow. */
static void exploit_final(bmx_mix *m)
{
    const double *sc = m->arr[ARR_EST];
    double *pi = m->arr[ARR_PI];
    double mx = sc[0], s = 0.0;
    int arg = 0;

    for (int i = 1; i < m->k; i++)
        if (sc[i] > mx) {
            mx = sc[i];
            arg = i;
        }
    if (mx > 0.0) {
        for (int i = 0; i < m->k; i++) {
            pi[i] = sc[i] > 0.0 ? sc[i] / mx : 0.0;
            s += pi[i];
        }
        for (int i = 0; i < m->k; i++)
            pi[i] /= s;
    } else {
        pi_onehot(m, arg);
    }
    m->det = -1;
}

int bmx_mix_create(bmx_mix **out, const char *spec, int k, const double *weights, uint64_t seed,
                   bmx_err *err)
{
    return bmx_mix_create_data(out, spec, k, weights, NULL, seed, err);
}

/* temperature: w_i = exp((ln n_i - ln max n) / tau), pi = w / sum w */
static void pi_temperature(bmx_mix *m, const double *n)
{
    double *pi = m->arr[ARR_PI], mx = 0.0, s = 0.0;

    for (int i = 0; i < m->k; i++)
        if (n[i] > mx)
            mx = n[i];
    for (int i = 0; i < m->k; i++) {
        pi[i] = n[i] > 0.0 ? exp((log(n[i]) - log(mx)) / m->p.tau) : 0.0;
        s += pi[i];
    }
    for (int i = 0; i < m->k; i++)
        pi[i] /= s;
}

static int check_data(const struct mix_policy *pol, const mix_params *p, int k,
                      const bmx_mix_data *d, bmx_err *err)
{
    if (d && d->tokens)
        for (int i = 0; i < k; i++)
            if (!isfinite(d->tokens[i]) || d->tokens[i] < 0.0)
                return bmx_err_set(err, BMX_EINVAL,
                                   "mix policy %s: tokens[%d] = %g is invalid; training-token "
                                   "counts are finite and >= 0",
                                   pol->name, i, d->tokens[i]);
    if (d && (!(d->draw_tokens >= 0.0 && isfinite(d->draw_tokens)) ||
              !(d->draw_seqs >= 0.0 && isfinite(d->draw_seqs))))
        return bmx_err_set(err, BMX_EINVAL,
                           "mix policy %s: draw_tokens = %g, draw_seqs = %g; give finite "
                           "values > 0 (or 0 for 1)",
                           pol->name, d->draw_tokens, d->draw_seqs);
    if (p->max_epochs > 0.0 && !(d && d->tokens))
        return bmx_err_set(err, BMX_EINVAL,
                           "mix policy %s: max-epochs=%g needs each arm's training tokens; pass "
                           "them as bmx_mix_data.tokens (bmx train does)",
                           pol->name, p->max_epochs);
    if (pol->kind == MIX_AIOLI && k < 2)
        return bmx_err_set(err, BMX_EINVAL,
                           "mix policy aioli needs at least 2 groups (k = %d); use uniform for "
                           "one",
                           k);
    if (pol->kind == MIX_AIOLI && (double)p->rounds * (double)p->probe * k >= (double)p->interval)
        return bmx_err_set(err, BMX_EINVAL,
                           "mix policy aioli: rounds * k * probe = %ld * %d * %ld is not below "
                           "interval = %ld; raise interval or lower rounds or probe",
                           p->rounds, k, p->probe, p->interval);
    return 0;
}

/* The weights a policy starts from, when given: k finite values >= 0, some positive, with
 * a finite sum (*wsum). */
static int check_weights(const struct mix_policy *pol, int k, const double *weights, double *wsum,
                         bmx_err *err)
{
    if (pol->needs_weights && !weights)
        return bmx_err_set(err, BMX_EINVAL,
                           "mix policy %s needs weights: pass k = %d non-negative values",
                           pol->name, k);
    if (!weights)
        return 0;
    for (int i = 0; i < k; i++) {
        if (!isfinite(weights[i]) || weights[i] < 0.0)
            return bmx_err_set(err, BMX_EINVAL,
                               "mix policy %s: weight[%d] = %g is invalid; weights must be "
                               "finite and >= 0",
                               pol->name, i, weights[i]);
        *wsum += weights[i];
    }
    if (!(*wsum > 0.0))
        return bmx_err_set(err, BMX_EINVAL,
                           "mix policy %s: all %d weights are zero; give at least one "
                           "positive weight",
                           pol->name, k);
    if (!isfinite(*wsum))
        return bmx_err_set(err, BMX_EINVAL,
                           "mix policy %s: the weights sum to infinity; scale them down",
                           pol->name);
    return 0;
}

/* The data a policy is given: training tokens and the size of a draw. */
static int set_data(bmx_mix *m, const bmx_mix_data *data, bmx_err *err)
{
    if (data && data->tokens) {
        if (!(m->tok = malloc((size_t)m->k * sizeof *m->tok)))
            return bmx_err_set(err, BMX_ENOMEM, "mix: out of memory");
        memcpy(m->tok, data->tokens, (size_t)m->k * sizeof *m->tok);
    }
    if (data && data->draw_tokens > 0.0)
        m->draw_tokens = data->draw_tokens;
    if (data && data->draw_seqs > 0.0)
        m->draw_seqs = data->draw_seqs;
    return 0;
}

/* The first state of each kind of policy: pi and the arrays it starts from. */
static int init_state(bmx_mix *m, const double *weights, double wsum, bmx_err *err)
{
    double *pi = m->arr[ARR_PI];
    int k = m->k;
    switch (m->pol->kind) {
    case MIX_NATURAL:
    case MIX_WEIGHTS:
        for (int i = 0; i < k; i++)
            pi[i] = weights[i] / wsum;
        return 0;
    case MIX_ODM:
    case MIX_EXP3:
        pi_exp3(m);
        return 0;
    case MIX_ODM_SM:
        for (int i = 0; i < k; i++)
            m->arr[ARR_BASE][i] = weights ? weights[i] / wsum : 1.0 / k;
        memcpy(pi, m->arr[ARR_BASE], (size_t)k * sizeof(double));
        return 0;
    case MIX_UCB1:
        ucb1_choose(m);
        return 0;
    case MIX_DOREMI:
        pi_fill(m, 1.0 / k);
        for (int i = 0; i < k; i++) {
            m->arr[ARR_EST][i] = weights ? weights[i] / wsum : 1.0 / k;
            m->arr[ARR_LAM][i] = log((double)m->p.vocab);
        }
        memcpy(m->arr[ARR_AUX], m->arr[ARR_EST], (size_t)k * sizeof(double));
        return 0;
    case MIX_TEMPERATURE:
        pi_temperature(m, weights);
        return 0;
    case MIX_ADO:
        for (int i = 0; i < k; i++)
            m->arr[ARR_BASE][i] = weights[i] / wsum;
        return mix_ado_init(m, err);
    case MIX_AIOLI:
        for (int i = 0; i < k; i++)
            m->arr[ARR_BASE][i] = weights ? weights[i] / wsum : 1.0 / k;
        return mix_aioli_init(m, m->arr[ARR_BASE], err);
    default: /* uniform, explore-only, exploit-only while scoring */
        pi_fill(m, 1.0 / k);
        return 0;
    }
}

int bmx_mix_create_data(bmx_mix **out, const char *spec, int k, const double *weights,
                        const bmx_mix_data *data, uint64_t seed, bmx_err *err)
{
    const struct mix_policy *pol;
    mix_params p;
    double wsum = 0.0;
    bmx_mix *m;
    int rc;

    if (!out)
        return bmx_err_set(err, BMX_EINVAL, "bmx_mix_create: out is NULL");
    *out = NULL;
    if ((rc = mix_spec_parse(spec, &pol, &p, err)))
        return rc;
    if (k < 1 || k > BMX_MIX_MAX_ARMS)
        return bmx_err_set(err, BMX_EINVAL,
                           "mix policy %s: k = %d arms is out of range; use 1 <= k <= %d",
                           pol->name, k, BMX_MIX_MAX_ARMS);
    if ((rc = check_weights(pol, k, weights, &wsum, err)) ||
        (rc = check_data(pol, &p, k, data, err)) || (rc = mix_alloc(&m, pol, k, err)))
        return rc;
    m->p = p;
    m->t = 1;
    bmx_rng_seed(&m->rng, seed, 0);
    /* mix_derive cannot fail on a fresh state; kept as a guard */
    if ((rc = set_data(m, data, err)) || (rc = init_state(m, weights, wsum, err)) ||
        (rc = mix_derive(m, err))) {
        bmx_mix_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

const char *bmx_mix_spec(const bmx_mix *m)
{
    return m->spec;
}

const char *bmx_mix_name(const bmx_mix *m)
{
    return m->pol->name;
}

int bmx_mix_arms(const bmx_mix *m)
{
    return m->k;
}

long bmx_mix_round(const bmx_mix *m)
{
    return m->t;
}

const double *bmx_mix_probs(const bmx_mix *m)
{
    return m->arr[ARR_PI];
}

const double *bmx_mix_estimates(const bmx_mix *m)
{
    return m->arr[ARR_EST];
}

const double *bmx_mix_counts(const bmx_mix *m)
{
    return m->pol->kind == MIX_UCB1 ? m->arr[ARR_AUX] : NULL;
}

const double *bmx_mix_average(const bmx_mix *m)
{
    return m->pol->kind == MIX_DOREMI || m->pol->kind == MIX_ADO ? m->arr[ARR_AUX] : NULL;
}

void bmx_mix_set_parallel(bmx_mix *m, bmx_mix_parallel_fn fn, void *ctx)
{
    m->par = fn;
    m->par_ctx = ctx;
}

const double *bmx_mix_draw_probs(const bmx_mix *m)
{
    return m->dpi;
}

const double *bmx_mix_drawn(const bmx_mix *m)
{
    return m->drawn;
}

int bmx_mix_exhausted(const bmx_mix *m)
{
    return m->exhausted;
}

const double *bmx_mix_fit(const bmx_mix *m)
{
    return m->pol->kind == MIX_ADO ? mix_ado_theta(m) : NULL;
}

int bmx_mix_needs_validation(const bmx_mix *m)
{
    return m->pol->kind == MIX_AIOLI && mix_aioli_needs(m);
}

int bmx_mix_probing(const bmx_mix *m)
{
    return m->pol->kind == MIX_AIOLI && mix_aioli_probing(m);
}

int bmx_mix_observe_validation(bmx_mix *m, const double *loss, bmx_err *err)
{
    if (m->pol->kind != MIX_AIOLI || !mix_aioli_needs(m))
        return bmx_err_set(err, BMX_ESTATE,
                           "mix policy %s: no validation losses are due now (only aioli takes "
                           "them, when bmx_mix_needs_validation says so)",
                           m->pol->name);
    if (!loss)
        return bmx_err_set(err, BMX_EINVAL, "mix policy aioli: loss must be k = %d values", m->k);
    for (int i = 0; i < m->k; i++)
        if (!isfinite(loss[i]))
            return bmx_err_set(err, BMX_EINVAL,
                               "mix policy aioli: validation loss %g of group %d is not finite; "
                               "check the validation pass",
                               loss[i], i);
    int rc = mix_aioli_validation(m, loss, err);
    if (!rc)
        mix_cdf_update(m);
    return rc;
}

/* One draw from rng with every count a draw makes (max-epochs, Aioli's probes). */
static int draw_from(bmx_mix *m, bmx_rng *rng)
{
    int arm;

    if (m->exhausted)
        return -1;
    if (m->det >= 0 && !constrained(m))
        arm = m->det;
    else
        arm = (int)bmx_rng_categorical_cdf(rng, m->cdf, (size_t)m->k);
    m->drawn[arm] += m->draw_tokens;
    if (capped(m, arm))
        mix_cdf_update(m);
    if (m->pol->kind == MIX_AIOLI)
        mix_aioli_drawn(m, arm);
    return arm;
}

int bmx_mix_draw(bmx_mix *m)
{
    return draw_from(m, &m->rng);
}

int bmx_mix_draw_rng(bmx_mix *m, bmx_rng *rng)
{
    return draw_from(m, rng);
}

static bmx_mix_obs kind_observes(mix_kind kind)
{
    switch (kind) {
    case MIX_ODM:
    case MIX_ODM_SM:
    case MIX_ADO:
    case MIX_AIOLI:
        return BMX_MIX_OBS_LOSS;
    case MIX_EXP3:
    case MIX_UCB1:
    case MIX_EXPLOIT:
        return BMX_MIX_OBS_REWARD;
    case MIX_DOREMI:
        return BMX_MIX_OBS_EXCESS;
    default:
        return BMX_MIX_OBS_NONE;
    }
}

bmx_mix_obs bmx_mix_observes(const bmx_mix *m)
{
    return kind_observes(m->pol->kind);
}

int bmx_mix_spec_observes(const char *spec)
{
    const struct mix_policy *pol = mix_policy_find(spec, strcspn(spec, ":"));
    return pol ? (int)kind_observes(pol->kind) : -1;
}

const char *bmx_mix_obs_name(bmx_mix_obs o)
{
    static const char *const names[] = {"none", "loss", "reward", "excess"};
    return (unsigned)o < 4 ? names[o] : "?";
}

int bmx_mix_round_mean(const bmx_mix *m)
{
    return m->pol->kind == MIX_ODM_SM;
}

const char *bmx_mix_policy_name(int i)
{
    int n;
    const struct mix_policy *t = mix_policy_table(&n);
    return i >= 0 && i < n ? t[i].name : NULL;
}

static void touch(bmx_mix *m, int arm)
{
    if (m->arr[ARR_CNT][arm] == 0.0)
        m->touched[m->ntouched++] = arm;
}

int bmx_mix_observe(bmx_mix *m, int arm, double value, bmx_err *err)
{
    const char *name = m->pol->name;
    double *est = m->arr[ARR_EST], *aux = m->arr[ARR_AUX];
    double *acc = m->arr[ARR_ACC], *cnt = m->arr[ARR_CNT];
    double beta = m->p.beta;

    if (m->pol->kind == MIX_DOREMI)
        return bmx_err_set(err, BMX_ESTATE,
                           "mix policy doremi takes per-domain excess losses: call "
                           "bmx_mix_observe_excess, not bmx_mix_observe");
    if (arm < 0 || arm >= m->k)
        return bmx_err_set(err, BMX_EINVAL, "mix policy %s: arm %d is out of range; arms are 0..%d",
                           name, arm, m->k - 1);
    if (!isfinite(value))
        return bmx_err_set(err, BMX_EINVAL,
                           "mix policy %s: observation %g for arm %d is not finite (NaN or "
                           "Inf); check the loss or reward before passing it",
                           name, value, arm);
    switch (m->pol->kind) {
    case MIX_ODM_SM:
        if (value > ODM_SM_MAX_LOSS)
            return bmx_err_set(err, BMX_EINVAL,
                               "mix policy %s: loss %g for arm %d is too large for exp(loss); "
                               "losses must be <= %g",
                               name, value, arm, ODM_SM_MAX_LOSS);
        /* fall through */
    case MIX_ADO:
    case MIX_ODM: {
        double s = acc[arm] + value;
        if (!isfinite(s))
            return bmx_err_set(err, BMX_EINVAL,
                               "mix policy %s: the round's sum of losses for arm %d overflows",
                               name, arm);
        touch(m, arm);
        acc[arm] = s;
        cnt[arm] += 1.0;
        break;
    }
    case MIX_EXP3: {
        double s = (1.0 - beta) * aux[arm] + beta * value;
        double r = est[arm] + s / m->arr[ARR_PI][arm];
        if (!isfinite(r))
            return bmx_err_set(err, BMX_EINVAL,
                               "mix policy %s: reward %g for arm %d makes its estimate overflow; "
                               "scale rewards to about [0, 1]",
                               name, value, arm);
        aux[arm] = s;
        est[arm] = r;
        break;
    }
    case MIX_UCB1: {
        double r = aux[arm] == 0.0 ? value : (1.0 - beta) * est[arm] + beta * value;
        if (!isfinite(r))
            return bmx_err_set(err, BMX_EINVAL,
                               "mix policy %s: reward %g for arm %d makes its estimate overflow",
                               name, value, arm);
        est[arm] = r;
        aux[arm] += 1.0;
        break;
    }
    case MIX_EXPLOIT:
        if (cnt[arm] != 0.0)
            break; /* scored already: checked and ignored */
        est[arm] = value;
        cnt[arm] = 1.0;
        m->scored++;
        while (m->det >= 0 && m->det < m->k && cnt[m->det] != 0.0)
            m->det++;
        if (m->scored == m->k) {
            exploit_final(m);
            mix_cdf_update(m);
        }
        break;
    default: /* uniform, natural, weights, explore-only: checked, ignored */
        break;
    }
    return 0;
}

int bmx_mix_observe_excess(bmx_mix *m, const double *excess_sum, const double *tokens, bmx_err *err)
{
    double *acc = m->arr[ARR_ACC], *cnt = m->arr[ARR_CNT];

    if (m->pol->kind != MIX_DOREMI)
        return bmx_err_set(err, BMX_ESTATE,
                           "mix policy %s does not take excess losses (only doremi does); "
                           "call bmx_mix_observe",
                           m->pol->name);
    if (!excess_sum || !tokens)
        return bmx_err_set(err, BMX_EINVAL,
                           "mix policy doremi: excess_sum and tokens must both be k = %d values",
                           m->k);
    for (int i = 0; i < m->k; i++) {
        double e = excess_sum[i], n = tokens[i];
        if (!isfinite(e) || e < 0.0)
            return bmx_err_set(err, BMX_EINVAL,
                               "mix policy doremi: excess_sum[%d] = %g is invalid; sums of "
                               "max(l_proxy - l_ref, 0) are finite and >= 0",
                               i, e);
        if (!isfinite(n) || n < 0.0)
            return bmx_err_set(err, BMX_EINVAL,
                               "mix policy doremi: tokens[%d] = %g is invalid; token counts are "
                               "finite and >= 0",
                               i, n);
        if (e > 0.0 && n == 0.0)
            return bmx_err_set(err, BMX_EINVAL,
                               "mix policy doremi: excess_sum[%d] = %g over 0 tokens; a domain "
                               "with no tokens has no excess loss",
                               i, e);
        if (!isfinite(acc[i] + e) || !isfinite(cnt[i] + n))
            return bmx_err_set(err, BMX_EINVAL,
                               "mix policy doremi: the round's sums for domain %d overflow", i);
    }
    for (int i = 0; i < m->k; i++) {
        if (tokens[i] > 0.0)
            touch(m, i);
        acc[i] += excess_sum[i];
        cnt[i] += tokens[i];
    }
    return 0;
}

static void clear_touched(bmx_mix *m)
{
    for (int j = 0; j < m->ntouched; j++) {
        m->arr[ARR_ACC][m->touched[j]] = 0.0;
        m->arr[ARR_CNT][m->touched[j]] = 0.0;
    }
    m->ntouched = 0;
}

static int step_odm(bmx_mix *m, bmx_err *err)
{
    double *R = m->arr[ARR_EST], *L = m->arr[ARR_ACC];
    const double *pi = m->arr[ARR_PI];
    double a = m->p.alpha;

    for (int j = 0; j < m->ntouched; j++) { /* check first: a failed step changes nothing */
        int i = m->touched[j];
        if (L[i] != 0.0 && !isfinite(a * R[i] + (1.0 - a) * L[i] / pi[i]))
            return bmx_err_set(err, BMX_EINVAL,
                               "mix policy odm: the estimate of arm %d overflows (loss sum %g, "
                               "pi %g); losses this large cannot be mixed",
                               i, L[i], pi[i]);
    }
    for (int j = 0; j < m->ntouched; j++) {
        int i = m->touched[j];
        if (L[i] != 0.0)
            R[i] = a * R[i] + (1.0 - a) * L[i] / pi[i];
    }
    clear_touched(m);
    m->t++;
    pi_exp3(m);
    return 0;
}

static void step_odm_sm(bmx_mix *m)
{
    double *R = m->arr[ARR_EST], *pi = m->arr[ARR_PI];
    const double *L = m->arr[ARR_ACC], *n = m->arr[ARR_CNT];
    double a = m->p.alpha, eps, keep, s = 0.0;

    if (m->t <= m->p.warmup) {
        clear_touched(m);
        m->t++;
        return;
    }
    for (int j = 0; j < m->ntouched; j++) {
        int i = m->touched[j];
        R[i] = a * R[i] + (1.0 - a) * exp(L[i] / n[i]);
    }
    clear_touched(m);
    eps = eps_at(m->k, (double)m->t);
    keep = 1.0 - (double)m->k * eps;
    if (keep < 0.0)
        keep = 0.0;
    for (int i = 0; i < m->k; i++)
        s += R[i];
    if (s > 0.0)
        for (int i = 0; i < m->k; i++)
            pi[i] = keep * R[i] / s + eps;
    else
        memcpy(pi, m->arr[ARR_BASE], (size_t)m->k * sizeof(double));
    m->t++;
}

static int step_doremi(bmx_mix *m, bmx_err *err)
{
    double *alpha = m->arr[ARR_EST], *bar = m->arr[ARR_AUX], *lam = m->arr[ARR_LAM];
    const double *E = m->arr[ARR_ACC], *N = m->arr[ARR_CNT];
    double eta = m->p.eta, c = m->p.c, mx = -INFINITY, s = 0.0;
    double cnt = (double)m->t + 1.0; /* alphas in the mean after this step, alpha_0 included */

    for (int j = 0; j < m->ntouched; j++) {
        int i = m->touched[j];
        if (!isfinite(eta * (E[i] / N[i])))
            return bmx_err_set(err, BMX_EINVAL,
                               "mix policy doremi: eta * lambda of domain %d overflows "
                               "(excess %g over %g tokens)",
                               i, E[i], N[i]);
    }
    for (int j = 0; j < m->ntouched; j++) {
        int i = m->touched[j];
        lam[i] = E[i] / N[i];
    }
    clear_touched(m);
    /* alpha = softmax(log alpha + eta lambda), stable; log 0 = -inf gives exp = 0 */
    for (int i = 0; i < m->k; i++) {
        alpha[i] = log(alpha[i]) + eta * lam[i];
        if (alpha[i] > mx)
            mx = alpha[i];
    }
    for (int i = 0; i < m->k; i++) {
        alpha[i] = exp(alpha[i] - mx);
        s += alpha[i];
    }
    for (int i = 0; i < m->k; i++) {
        alpha[i] = (1.0 - c) * (alpha[i] / s) + c / m->k;
        bar[i] += (alpha[i] - bar[i]) / cnt;
    }
    m->t++;
    return 0;
}

int bmx_mix_step(bmx_mix *m, bmx_err *err)
{
    int rc = 0;

    if (m->t >= BMX_MIX_MAX_ROUND)
        return bmx_err_set(err, BMX_ESTATE,
                           "mix policy %s: round %ld is the last one a policy counts (%ld); "
                           "start a new policy",
                           m->pol->name, m->t, BMX_MIX_MAX_ROUND);

    switch (m->pol->kind) {
    case MIX_ODM:
        rc = step_odm(m, err);
        break;
    case MIX_ODM_SM:
        step_odm_sm(m);
        break;
    case MIX_EXP3:
        m->t++;
        pi_exp3(m);
        break;
    case MIX_UCB1:
        m->t++;
        ucb1_choose(m);
        break;
    case MIX_DOREMI:
        rc = step_doremi(m, err);
        break;
    case MIX_ADO:
        rc = mix_ado_step(m, err);
        break;
    case MIX_AIOLI:
        rc = mix_aioli_step(m, err);
        break;
    default:
        m->t++;
        break;
    }
    if (rc)
        return rc;
    mix_cdf_update(m);
    return 0;
}

/* ---- validation of a state, and the state that is not saved ---- */

static int check_dist(const bmx_mix *m, const double *v, const char *what, bmx_err *err)
{
    double s = 0.0;

    for (int i = 0; i < m->k; i++) {
        if (!isfinite(v[i]) || v[i] < 0.0)
            return bmx_err_set(err, BMX_ECORRUPT, "mix state: %s[%d] = %g is not a probability",
                               what, i, v[i]);
        s += v[i];
    }
    if (fabs(s - 1.0) > 1e-6)
        return bmx_err_set(err, BMX_ECORRUPT, "mix state: %s sums to %.17g, not 1", what, s);
    return 0;
}

static int check_finite(const bmx_mix *m, int a, double lo, int integral, const char *what,
                        bmx_err *err)
{
    const double *v = m->arr[a];

    for (int i = 0; i < m->k; i++)
        if (!isfinite(v[i]) || v[i] < lo || (integral && (v[i] != floor(v[i]) || v[i] > 0x1p53)))
            return bmx_err_set(err, BMX_ECORRUPT, "mix state: %s[%d] = %g is out of range", what, i,
                               v[i]);
    return 0;
}

/* odm and odm-sm: R, the pending sums and counts; odm-sm's base weights and bounded losses. */
static int check_odm(const bmx_mix *m, bmx_err *err)
{
    const double *cnt = m->arr[ARR_CNT], *acc = m->arr[ARR_ACC];
    mix_kind kind = m->pol->kind;
    int rc;
    if ((rc = check_finite(m, ARR_EST, kind == MIX_ODM ? -INFINITY : 0.0, 0, "R", err)) ||
        (rc = check_finite(m, ARR_ACC, -INFINITY, 0, "pending loss sum", err)) ||
        (rc = check_finite(m, ARR_CNT, 0.0, 1, "pending count", err)))
        return rc;
    if (kind != MIX_ODM_SM)
        return 0;
    if ((rc = check_dist(m, m->arr[ARR_BASE], "base weights", err)))
        return rc;
    for (int i = 0; i < m->k; i++) { /* R is a mean of exp(loss), loss <= the bound */
        if (m->arr[ARR_EST][i] > exp(ODM_SM_MAX_LOSS))
            return bmx_err_set(err, BMX_ECORRUPT, "mix state: R[%d] = %g is too large", i,
                               m->arr[ARR_EST][i]);
        /* and so is the mean of the pending losses (else exp makes R infinite) */
        if (cnt[i] > 0.0 && acc[i] / cnt[i] > ODM_SM_MAX_LOSS)
            return bmx_err_set(err, BMX_ECORRUPT,
                               "mix state: the pending losses of arm %d average %g, more "
                               "than the %g a loss may be",
                               i, acc[i] / cnt[i], ODM_SM_MAX_LOSS);
    }
    return 0;
}

/* ucb1: R, counts, and a one-hot pi whose arm is the one drawn (m->det). */
static int derive_ucb1(bmx_mix *m, bmx_err *err)
{
    const double *pi = m->arr[ARR_PI];
    int rc, k = m->k;
    if ((rc = check_finite(m, ARR_EST, -INFINITY, 0, "R", err)) ||
        (rc = check_finite(m, ARR_AUX, 0.0, 1, "n", err)))
        return rc;
    m->det = -1;
    for (int i = 0; i < k; i++) {
        if (pi[i] == 1.0 && m->det < 0)
            m->det = i;
        else if (pi[i] != 0.0)
            m->det = k; /* a second non-zero entry */
    }
    if (m->det < 0 || m->det >= k)
        return bmx_err_set(err, BMX_ECORRUPT, "mix state: ucb1's pi is not one-hot");
    return 0;
}

/* exploit-only: scores and 0/1 scored flags; the arms scored, the next to score (m->det). */
static int derive_exploit(bmx_mix *m, bmx_err *err)
{
    const double *cnt = m->arr[ARR_CNT];
    int rc;
    if ((rc = check_finite(m, ARR_EST, -INFINITY, 0, "score", err)) ||
        (rc = check_finite(m, ARR_CNT, 0.0, 1, "scored flag", err)))
        return rc;
    m->scored = 0;
    m->det = -1;
    for (int i = 0; i < m->k; i++) {
        if (cnt[i] > 1.0)
            return bmx_err_set(err, BMX_ECORRUPT, "mix state: scored flag[%d] = %g", i, cnt[i]);
        m->scored += cnt[i] != 0.0;
        if (cnt[i] == 0.0 && m->det < 0)
            m->det = i;
    }
    return 0;
}

/* doremi: alpha and alpha_bar distributions, lambda, pending sums and tokens, eta lambda. */
static int check_doremi(const bmx_mix *m, bmx_err *err)
{
    int rc;
    if ((rc = check_dist(m, m->arr[ARR_EST], "alpha", err)) ||
        (rc = check_dist(m, m->arr[ARR_AUX], "alpha_bar", err)) ||
        (rc = check_finite(m, ARR_LAM, 0.0, 0, "lambda", err)) ||
        (rc = check_finite(m, ARR_ACC, 0.0, 0, "pending excess sum", err)) ||
        (rc = check_finite(m, ARR_CNT, 0.0, 0, "pending tokens", err)))
        return rc;
    for (int i = 0; i < m->k; i++)
        if (!isfinite(m->p.eta * m->arr[ARR_LAM][i]))
            return bmx_err_set(err, BMX_ECORRUPT, "mix state: eta * lambda[%d] overflows", i);
    return 0;
}

/* The arrays of the policy's kind, checked (and what derives from them set). */
static int derive_kind(bmx_mix *m, bmx_err *err)
{
    int rc;
    switch (m->pol->kind) {
    case MIX_ODM:
    case MIX_ODM_SM:
        return check_odm(m, err);
    case MIX_EXP3:
        if ((rc = check_finite(m, ARR_EST, -INFINITY, 0, "R", err)) ||
            (rc = check_finite(m, ARR_AUX, -INFINITY, 0, "s", err)))
            return rc;
        return 0;
    case MIX_UCB1:
        return derive_ucb1(m, err);
    case MIX_EXPLOIT:
        return derive_exploit(m, err);
    case MIX_DOREMI:
        return check_doremi(m, err);
    case MIX_ADO:
        if ((rc = check_dist(m, m->arr[ARR_BASE], "mu", err)) ||
            (rc = check_dist(m, m->arr[ARR_EST], "h", err)) ||
            (rc = check_dist(m, m->arr[ARR_AUX], "pibar", err)) ||
            (rc = check_finite(m, ARR_ACC, -INFINITY, 0, "pending loss sum", err)) ||
            (rc = check_finite(m, ARR_CNT, 0.0, 1, "pending count", err)) ||
            (rc = mix_ado_check(m, err)))
            return rc;
        return 0;
    case MIX_AIOLI:
        if ((rc = check_dist(m, m->arr[ARR_BASE], "prior", err)) ||
            (rc = check_dist(m, m->arr[ARR_EST], "p", err)) ||
            (rc = check_finite(m, ARR_CNT, 0.0, 1, "probe draws", err)) ||
            (rc = mix_aioli_check(m, err)))
            return rc;
        return 0;
    default:
        return 0;
    }
}

/* The counts of what was drawn, the size of a draw, max-epochs' token counts. */
static int check_draws(const bmx_mix *m, bmx_err *err)
{
    for (int i = 0; i < m->k; i++)
        if (!isfinite(m->drawn[i]) || m->drawn[i] < 0.0 || (m->tok && !(m->tok[i] >= 0.0)))
            return bmx_err_set(err, BMX_ECORRUPT, "mix state: drawn/training tokens of arm %d", i);
    if (!(m->draw_tokens > 0.0 && isfinite(m->draw_tokens)) ||
        !(m->draw_seqs > 0.0 && isfinite(m->draw_seqs)))
        return bmx_err_set(err, BMX_ECORRUPT, "mix state: draw_tokens %g, draw_seqs %g",
                           m->draw_tokens, m->draw_seqs);
    if (m->p.max_epochs > 0.0 && !m->tok)
        return bmx_err_set(err, BMX_ECORRUPT, "mix state: max-epochs without token counts");
    return 0;
}

int mix_derive(bmx_mix *m, bmx_err *err)
{
    const double *cnt = m->arr[ARR_CNT], *acc = m->arr[ARR_ACC];
    int rc, k = m->k;

    if ((rc = check_dist(m, m->arr[ARR_PI], "pi", err)) || (rc = derive_kind(m, err)) ||
        (rc = check_draws(m, err)))
        return rc;
    if (m->touched) {
        m->ntouched = 0;
        for (int i = 0; i < k; i++) {
            if (cnt[i] > 0.0)
                m->touched[m->ntouched++] = i;
            else if (acc[i] != 0.0)
                return bmx_err_set(err, BMX_ECORRUPT,
                                   "mix state: arm %d has a pending sum %g but no count", i,
                                   acc[i]);
        }
    }
    mix_cdf_update(m);
    mix_spec_format(m->pol, &m->p, m->spec, sizeof m->spec);
    return 0;
}
