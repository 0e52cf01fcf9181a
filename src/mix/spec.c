/* Policy table and spec strings "name" / "name:key=value,key=value" (bmx/mix.h). */
#include "mix_internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define A(x) (1u << (x))

static const struct mix_policy policies[] = {
    {"uniform", MIX_UNIFORM, 0, A(ARR_PI), 0},
    {"natural", MIX_NATURAL, 0, A(ARR_PI), 1},
    {"weights", MIX_WEIGHTS, 0, A(ARR_PI), 1},
    {"odm", MIX_ODM, KEY_ALPHA | KEY_TSCALE, A(ARR_PI) | A(ARR_EST) | A(ARR_ACC) | A(ARR_CNT), 0},
    {"odm-smoothed-mean", MIX_ODM_SM, KEY_ALPHA | KEY_WARMUP,
     A(ARR_PI) | A(ARR_BASE) | A(ARR_EST) | A(ARR_ACC) | A(ARR_CNT), 0},
    {"exp3", MIX_EXP3, KEY_BETA | KEY_TSCALE, A(ARR_PI) | A(ARR_EST) | A(ARR_AUX), 0},
    {"ucb1", MIX_UCB1, KEY_BETA, A(ARR_PI) | A(ARR_EST) | A(ARR_AUX), 0},
    {"explore-only", MIX_EXPLORE, 0, A(ARR_PI), 0},
    {"exploit-only", MIX_EXPLOIT, 0, A(ARR_PI) | A(ARR_EST) | A(ARR_CNT), 0},
    {"doremi", MIX_DOREMI, KEY_ETA | KEY_C | KEY_VOCAB,
     A(ARR_PI) | A(ARR_EST) | A(ARR_AUX) | A(ARR_LAM) | A(ARR_ACC) | A(ARR_CNT), 0},
    {"temperature", MIX_TEMPERATURE, KEY_TAU, A(ARR_PI), 1},
    {"ado", MIX_ADO, KEY_WARMUP | KEY_INTERVAL,
     A(ARR_PI) | A(ARR_BASE) | A(ARR_EST) | A(ARR_AUX) | A(ARR_ACC) | A(ARR_CNT), 1},
    {"aioli", MIX_AIOLI,
     KEY_ETA | KEY_WARMUP | KEY_INTERVAL | KEY_ROUNDS | KEY_PROBE | KEY_F | KEY_GAMMA,
     A(ARR_PI) | A(ARR_BASE) | A(ARR_EST) | A(ARR_CNT), 0},
};
#define NPOLICIES ((int)(sizeof policies / sizeof policies[0]))

#define KEY_ANY (KEY_MINPROB | KEY_MAXEP) /* every policy takes these */

static const char *const key_names[MIX_NKEYS] = {
    "alpha",    "beta",   "eta",   "c", "warmup", "vocab",    "tscale",    "tau",
    "interval", "rounds", "probe", "f", "gamma",  "min-prob", "max-epochs"};
#define NKEYS MIX_NKEYS

void mix_defaults(const struct mix_policy *pol, mix_params *p)
{
    memset(p, 0, sizeof *p);
    p->alpha = 0.9;
    p->beta = 0.1;
    p->eta = 1.0;
    p->c = 1e-3;
    p->vocab = 8192;
    p->tscale = 1.0;
    p->tau = 1.0;
    p->interval = 1000;
    p->rounds = 4;
    p->probe = 4;
    p->f = 0.625;
    p->gamma = 0.1;
    switch (pol->kind) {
    case MIX_ODM_SM:
        p->alpha = 0.5;
        break;
    case MIX_EXP3:
        p->beta = 1.0;
        break;
    case MIX_ADO: /* W = 500, U = 1000 */
        p->warmup = 500;
        break;
    case MIX_AIOLI: /* the released two-group setting */
        p->eta = 0.2;
        p->interval = 250;
        break;
    default:
        break;
    }
}

/* Integer keys: warmup, vocab, interval, rounds, probe. */
static int key_is_int(int ki)
{
    return ki == 4 || ki == 5 || ki == 8 || ki == 9 || ki == 10;
}

static long *key_long(mix_params *p, int ki)
{
    long *dst[NKEYS] = {NULL,      NULL, NULL, NULL,         &p->warmup,
                        &p->vocab, NULL, NULL, &p->interval, &p->rounds,
                        &p->probe, NULL, NULL, NULL,         NULL};
    return dst[ki];
}

static double *key_double(mix_params *p, int ki)
{
    double *dst[NKEYS] = {&p->alpha, &p->beta,   &p->eta,   &p->c,        NULL,
                          NULL,      &p->tscale, &p->tau,   NULL,         NULL,
                          NULL,      &p->f,      &p->gamma, &p->min_prob, &p->max_epochs};
    return dst[ki];
}

const struct mix_policy *mix_policy_table(int *n)
{
    *n = NPOLICIES;
    return policies;
}

const struct mix_policy *mix_policy_find(const char *name, size_t len)
{
    for (int i = 0; i < NPOLICIES; i++)
        if (strlen(policies[i].name) == len && memcmp(policies[i].name, name, len) == 0)
            return &policies[i];
    return NULL;
}

static void policy_names(char *buf, size_t cap)
{
    size_t used = 0;

    buf[0] = '\0';
    for (int i = 0; i < NPOLICIES && used < cap; i++)
        used += (size_t)snprintf(buf + used, cap - used, "%s%s", i ? ", " : "", policies[i].name);
}

static void policy_keys(const struct mix_policy *pol, char *buf, size_t cap)
{
    size_t used = 0;

    buf[0] = '\0';
    for (int i = 0; i < NKEYS && used < cap; i++)
        if ((pol->keys | KEY_ANY) & (1u << i))
            used +=
                (size_t)snprintf(buf + used, cap - used, "%s%s", used ? ", " : "", key_names[i]);
}

int mix_params_check(const struct mix_policy *pol, const mix_params *p, bmx_err *err)
{
    const char *n = pol->name;

    if (!(p->alpha >= 0.0 && p->alpha < 1.0))
        return bmx_err_set(err, BMX_EINVAL,
                           "mix policy %s: alpha = %g is out of range; use 0 <= alpha < 1", n,
                           p->alpha);
    if (!(p->beta > 0.0 && p->beta <= 1.0))
        return bmx_err_set(err, BMX_EINVAL,
                           "mix policy %s: beta = %g is out of range; use 0 < beta <= 1", n,
                           p->beta);
    if (!(p->eta > 0.0 && isfinite(p->eta)))
        return bmx_err_set(err, BMX_EINVAL,
                           "mix policy %s: eta = %g is out of range; use a finite eta > 0", n,
                           p->eta);
    if (!(p->c >= 0.0 && p->c <= 1.0))
        return bmx_err_set(err, BMX_EINVAL,
                           "mix policy %s: c = %g is out of range; use 0 <= c <= 1", n, p->c);
    if (p->warmup < 0 || p->warmup > BMX_MIX_MAX_ROUND)
        return bmx_err_set(err, BMX_EINVAL,
                           "mix policy %s: warmup = %ld is out of range; use 0 <= warmup <= %ld", n,
                           p->warmup, BMX_MIX_MAX_ROUND);
    if (p->vocab < 2 || p->vocab > BMX_MIX_MAX_VOCAB)
        return bmx_err_set(err, BMX_EINVAL,
                           "mix policy %s: vocab = %ld is out of range; use 2 <= vocab <= %ld", n,
                           p->vocab, BMX_MIX_MAX_VOCAB);
    if (!(p->tscale >= BMX_MIX_MIN_TSCALE && p->tscale <= BMX_MIX_MAX_TSCALE))
        return bmx_err_set(err, BMX_EINVAL,
                           "mix policy %s: tscale = %g is out of range; use %g <= tscale <= %g "
                           "(1: the paper's eps_t; the released FLAD code's is 10 G)",
                           n, p->tscale, BMX_MIX_MIN_TSCALE, BMX_MIX_MAX_TSCALE);
    if (!(p->tau > 0.0 && isfinite(p->tau)))
        return bmx_err_set(err, BMX_EINVAL,
                           "mix policy %s: tau = %g is out of range; use a finite tau > 0 (1: "
                           "natural; larger: closer to uniform)",
                           n, p->tau);
    if (p->interval < 1 || p->rounds < 1 || p->probe < 1 || p->interval > BMX_MIX_MAX_ROUND ||
        p->rounds > BMX_MIX_MAX_ARMS || p->probe > BMX_MIX_MAX_ARMS)
        return bmx_err_set(err, BMX_EINVAL,
                           "mix policy %s: interval = %ld, rounds = %ld, probe = %ld; each must "
                           "be >= 1 (interval <= 2^50, rounds and probe <= 2^24)",
                           n, p->interval, p->rounds, p->probe);
    if (!(p->f > 0.0 && p->f <= 1.0))
        return bmx_err_set(err, BMX_EINVAL, "mix policy %s: f = %g is out of range; use 0 < f <= 1",
                           n, p->f);
    if (!(p->gamma >= 0.0 && p->gamma < 1.0))
        return bmx_err_set(err, BMX_EINVAL,
                           "mix policy %s: gamma = %g is out of range; use 0 <= gamma < 1", n,
                           p->gamma);
    if (!(p->min_prob >= 0.0 && p->min_prob <= 1.0))
        return bmx_err_set(err, BMX_EINVAL,
                           "mix policy %s: min-prob = %g is out of range; use 0 <= min-prob <= 1 "
                           "(0: no floor)",
                           n, p->min_prob);
    if (!(p->max_epochs >= 0.0 && isfinite(p->max_epochs)))
        return bmx_err_set(err, BMX_EINVAL,
                           "mix policy %s: max-epochs = %g is out of range; use a finite value "
                           ">= 0 (0: no cap)",
                           n, p->max_epochs);
    return 0;
}

/* Parse one value of key index ki from s[0..len) into p. */
static int parse_value(int ki, const char *s, size_t len, mix_params *p, bmx_err *err)
{
    char buf[64];
    char *end;

    if (len == 0 || len >= sizeof buf)
        return bmx_err_set(err, BMX_EINVAL, "mix spec: %s=%.*s: %s; write e.g. %s=%s",
                           key_names[ki], (int)(len < 40 ? len : 40), s,
                           len ? "value too long" : "missing value", key_names[ki],
                           key_is_int(ki) ? "100" : "0.5");
    memcpy(buf, s, len);
    buf[len] = '\0';
    errno = 0;
    if (key_is_int(ki)) {
        long v = strtol(buf, &end, 10);
        if (*end != '\0' || errno)
            return bmx_err_set(err, BMX_EINVAL,
                               "mix spec: %s=%s is not an integer; write e.g. %s=100",
                               key_names[ki], buf, key_names[ki]);
        *key_long(p, ki) = v;
    } else {
        double v = strtod(buf, &end);
        if (*end != '\0' || end == buf || !isfinite(v))
            return bmx_err_set(err, BMX_EINVAL,
                               "mix spec: %s=%s is not a finite number; write e.g. %s=0.5",
                               key_names[ki], buf, key_names[ki]);
        *key_double(p, ki) = v;
    }
    return 0;
}

int mix_spec_parse(const char *spec, const struct mix_policy **pol_out, mix_params *out,
                   bmx_err *err)
{
    char names[256], keys[128];
    const struct mix_policy *pol;
    const char *colon, *s;
    unsigned seen = 0;
    mix_params p;

    if (!spec || !*spec) {
        policy_names(names, sizeof names);
        return bmx_err_set(err, BMX_EINVAL, "mix spec is empty; give a policy name: %s", names);
    }
    colon = strchr(spec, ':');
    pol = mix_policy_find(spec, colon ? (size_t)(colon - spec) : strlen(spec));
    if (!pol) {
        policy_names(names, sizeof names);
        return bmx_err_set(err, BMX_EINVAL,
                           "mix spec \"%.100s\": unknown policy; valid policies: %s", spec, names);
    }
    mix_defaults(pol, &p);
    policy_keys(pol, keys, sizeof keys);
    s = colon ? colon + 1 : NULL;
    if (s && !*s)
        return bmx_err_set(err, BMX_EINVAL,
                           "mix spec \"%.100s\": nothing after ':'; write %s:key=value (keys of "
                           "%s: %s) or just %s",
                           spec, pol->name, pol->name, keys, pol->name);
    while (s && *s) {
        const char *comma = strchr(s, ',');
        size_t len = comma ? (size_t)(comma - s) : strlen(s);
        const char *eq = memchr(s, '=', len);
        int ki = -1;

        if (!eq)
            return bmx_err_set(err, BMX_EINVAL,
                               "mix spec \"%.100s\": \"%.*s\" is not key=value (keys of %s: %s)",
                               spec, (int)(len < 40 ? len : 40), s, pol->name, keys);
        for (int i = 0; i < NKEYS; i++)
            if (strlen(key_names[i]) == (size_t)(eq - s) &&
                memcmp(key_names[i], s, (size_t)(eq - s)) == 0)
                ki = i;
        if (ki < 0 || !((pol->keys | KEY_ANY) & (1u << ki)))
            return bmx_err_set(
                err, BMX_EINVAL,
                "mix spec \"%.100s\": unknown key \"%.*s\" for policy %s; its keys: %s", spec,
                (int)((eq - s) < 40 ? (eq - s) : 40), s, pol->name, keys);
        if (seen & (1u << ki))
            return bmx_err_set(err, BMX_EINVAL, "mix spec \"%.100s\": key %s is given twice", spec,
                               key_names[ki]);
        seen |= 1u << ki;
        int rc = parse_value(ki, eq + 1, len - (size_t)(eq + 1 - s), &p, err);
        if (rc)
            return rc;
        if (comma && !comma[1])
            return bmx_err_set(err, BMX_EINVAL, "mix spec \"%.100s\": trailing ','", spec);
        s = comma ? comma + 1 : NULL;
    }
    if (mix_params_check(pol, &p, err))
        return BMX_EINVAL;
    *pol_out = pol;
    *out = p;
    return 0;
}

/* The shortest %g form that reads back as the same double; whole numbers without an
 * exponent ("20", not "2e+01"). */
static void fmt_double(char *buf, size_t cap, double v)
{
    if (v == floor(v) && fabs(v) < 1e15) {
        snprintf(buf, cap, "%.0f", v);
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, cap, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            return;
    }
}

void mix_spec_format(const struct mix_policy *pol, const mix_params *p, char *buf, size_t cap)
{
    mix_params q = *p;
    size_t used = (size_t)snprintf(buf, cap, "%s", pol->name);
    char v[40];

    for (int i = 0; i < NKEYS && used < cap; i++) {
        if (!(pol->keys & (1u << i)) &&
            !((KEY_ANY & (1u << i)) && *key_double(&q, i) != 0.0)) /* constraints when set */
            continue;
        if (key_is_int(i))
            snprintf(v, sizeof v, "%ld", *key_long(&q, i));
        else
            fmt_double(v, sizeof v, *key_double(&q, i));
        used += (size_t)snprintf(buf + used, cap - used, "%c%s=%s",
                                 used == strlen(pol->name) ? ':' : ',', key_names[i], v);
    }
}

int bmx_mix_parse_weights(const char *s, double *w, int cap, const char **bad)
{
    int n = 0;
    const char *p = s;

    while (*p) {
        char *end;
        errno = 0;
        double x = strtod(p, &end);
        const char *q = end;
        while (*q == ' ')
            q++;
        if (end == p || errno || !isfinite(x) || x < 0 || (*q && *q != ',')) {
            *bad = p;
            return -1;
        }
        if (n < cap)
            w[n] = x;
        n++;
        p = *q ? q + 1 : q;
    }
    return n;
}
