/* Policy table and spec strings "name" / "name:key=value,key=value" (bmx/mix.h). */
#include "mix_internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define A(x) (1u << (x))
/* defaults: alpha, beta, eta, c, warmup, vocab */
#define DEF(alpha, beta)                                                                           \
    {                                                                                              \
        alpha, beta, 1.0, 1e-3, 0, 8192                                                            \
    }

static const struct mix_policy policies[] = {
    {"uniform", MIX_UNIFORM, 0, A(ARR_PI), 0, DEF(0.9, 0.1)},
    {"natural", MIX_NATURAL, 0, A(ARR_PI), 1, DEF(0.9, 0.1)},
    {"weights", MIX_WEIGHTS, 0, A(ARR_PI), 1, DEF(0.9, 0.1)},
    {"odm", MIX_ODM, KEY_ALPHA, A(ARR_PI) | A(ARR_EST) | A(ARR_ACC) | A(ARR_CNT), 0, DEF(0.9, 0.1)},
    {"odm-smoothed-mean", MIX_ODM_SM, KEY_ALPHA | KEY_WARMUP,
     A(ARR_PI) | A(ARR_BASE) | A(ARR_EST) | A(ARR_ACC) | A(ARR_CNT), 0, DEF(0.5, 0.1)},
    {"exp3", MIX_EXP3, KEY_BETA, A(ARR_PI) | A(ARR_EST) | A(ARR_AUX), 0, DEF(0.9, 1.0)},
    {"ucb1", MIX_UCB1, KEY_BETA, A(ARR_PI) | A(ARR_EST) | A(ARR_AUX), 0, DEF(0.9, 0.1)},
    {"explore-only", MIX_EXPLORE, 0, A(ARR_PI), 0, DEF(0.9, 0.1)},
    {"exploit-only", MIX_EXPLOIT, 0, A(ARR_PI) | A(ARR_EST) | A(ARR_CNT), 0, DEF(0.9, 0.1)},
    {"doremi", MIX_DOREMI, KEY_ETA | KEY_C | KEY_VOCAB,
     A(ARR_PI) | A(ARR_EST) | A(ARR_AUX) | A(ARR_LAM) | A(ARR_ACC) | A(ARR_CNT), 0, DEF(0.9, 0.1)},
};
#define NPOLICIES ((int)(sizeof policies / sizeof policies[0]))

static const char *const key_names[] = {"alpha", "beta", "eta", "c", "warmup", "vocab"};
#define NKEYS 6

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
        if (pol->keys & (1u << i))
            used +=
                (size_t)snprintf(buf + used, cap - used, "%s%s", used ? ", " : "", key_names[i]);
    if (!used)
        snprintf(buf, cap, "none");
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
                           ki >= 4 ? "100" : "0.5");
    memcpy(buf, s, len);
    buf[len] = '\0';
    errno = 0;
    if (ki >= 4) { /* integer keys */
        long v = strtol(buf, &end, 10);
        if (*end != '\0' || errno)
            return bmx_err_set(err, BMX_EINVAL,
                               "mix spec: %s=%s is not an integer; write e.g. %s=100",
                               key_names[ki], buf, key_names[ki]);
        if (ki == 4)
            p->warmup = v;
        else
            p->vocab = v;
    } else {
        double v = strtod(buf, &end);
        if (*end != '\0' || end == buf || !isfinite(v))
            return bmx_err_set(err, BMX_EINVAL,
                               "mix spec: %s=%s is not a finite number; write e.g. %s=0.5",
                               key_names[ki], buf, key_names[ki]);
        double *dst[4] = {&p->alpha, &p->beta, &p->eta, &p->c};
        *dst[ki] = v;
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
    p = pol->defaults;
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
        if (ki < 0 || !(pol->keys & (1u << ki)))
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

/* The shortest %g form that reads back as the same double. */
static void fmt_double(char *buf, size_t cap, double v)
{
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, cap, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            return;
    }
}

void mix_spec_format(const struct mix_policy *pol, const mix_params *p, char *buf, size_t cap)
{
    size_t used = (size_t)snprintf(buf, cap, "%s", pol->name);
    char v[40];

    for (int i = 0; i < NKEYS && used < cap; i++) {
        if (!(pol->keys & (1u << i)))
            continue;
        if (i == 4 || i == 5)
            snprintf(v, sizeof v, "%ld", i == 4 ? p->warmup : p->vocab);
        else
            fmt_double(v, sizeof v, i == 0 ? p->alpha : i == 1 ? p->beta : i == 2 ? p->eta : p->c);
        used += (size_t)snprintf(buf + used, cap - used, "%c%s=%s",
                                 used == strlen(pol->name) ? ':' : ',', key_names[i], v);
    }
}
