/* Rewards: loss-based and gradient-based (bmx/mix.h, ALGORITHMS.md section 2). */
#include "bmx/mix.h"

#include <math.h>
#include <string.h>

static const char *const reward_names[] = {"loss", "exp-loss", "ga", "gms", "agg"};
#define NREWARDS 5

int bmx_reward_parse(const char *name, bmx_reward *out, bmx_err *err)
{
    for (int i = 0; name && i < NREWARDS; i++)
        if (strcmp(name, reward_names[i]) == 0) {
            *out = (bmx_reward)i;
            return 0;
        }
    return bmx_err_set(err, BMX_EINVAL,
                       "unknown reward \"%.100s\"; valid rewards: loss, exp-loss, ga, gms, agg",
                       name ? name : "(null)");
}

const char *bmx_reward_name(bmx_reward r)
{
    return (int)r >= 0 && (int)r < NREWARDS ? reward_names[r] : "unknown";
}

/* Plain sequential sums, so that feeding sub-ranges in order gives exactly the whole's sums. */
void bmx_grad_stats_add(bmx_grad_stats *s, const float *a, const float *b, size_t n)
{
    double ab = s->ab, aa = s->aa, bb = s->bb;

    for (size_t i = 0; i < n; i++) {
        double x = a[i], y = b[i];
        ab += x * y;
        aa += x * x;
        bb += y * y;
    }
    s->ab = ab;
    s->aa = aa;
    s->bb = bb;
}

/* Cosine, clamped to [-1, 1] against rounding; 0 when either vector is zero. */
double bmx_reward_ga(const bmx_grad_stats *s)
{
    double c;

    if (!(s->aa > 0.0) || !(s->bb > 0.0))
        return 0.0;
    c = s->ab / (sqrt(s->aa) * sqrt(s->bb));
    return c > 1.0 ? 1.0 : c < -1.0 ? -1.0 : c;
}

double bmx_reward_gms(const bmx_grad_stats *s)
{
    if (!(s->aa > 0.0) || !(s->bb > 0.0))
        return 0.0;
    return 2.0 * sqrt(s->aa) * sqrt(s->bb) / (s->aa + s->bb);
}

double bmx_reward_agg(const bmx_grad_stats *s)
{
    if (!(s->aa > 0.0) || !(s->bb > 0.0))
        return 0.0;
    return (1.0 + bmx_reward_ga(s)) / 2.0 + bmx_reward_gms(s);
}

double bmx_reward_value(bmx_reward r, const bmx_grad_stats *s, double loss)
{
    switch (r) {
    case BMX_REWARD_LOSS:
        return loss;
    case BMX_REWARD_EXP_LOSS:
        return exp(loss);
    case BMX_REWARD_GA:
        return s ? bmx_reward_ga(s) : 0.0;
    case BMX_REWARD_GMS:
        return s ? bmx_reward_gms(s) : 0.0;
    case BMX_REWARD_AGG:
        return s ? bmx_reward_agg(s) : 0.0;
    }
    return 0.0;
}
