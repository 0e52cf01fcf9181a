/* xoshiro256** with splitmix64 seeding, and sampling helpers (bmx/rng.h). */
#include "bmx/rng.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);

    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

void bmx_rng_seed(bmx_rng *r, uint64_t seed, uint64_t stream)
{
    uint64_t x = seed ^ (stream * 0x9E3779B97F4A7C15ull);

    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
}

uint64_t bmx_rng_u64(bmx_rng *r)
{
    uint64_t *s = r->s;
    uint64_t out = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;

    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return out;
}

double bmx_rng_double(bmx_rng *r)
{
    return (double)(bmx_rng_u64(r) >> 11) * 0x1.0p-53;
}

uint64_t bmx_rng_below(bmx_rng *r, uint64_t n)
{
    uint64_t threshold = (0 - n) % n;

    for (;;) {
        uint64_t x = bmx_rng_u64(r);
        if (x >= threshold)
            return x % n;
    }
}

double bmx_rng_normal(bmx_rng *r)
{
    double u1 = 1.0 - bmx_rng_double(r); /* (0, 1] */
    double u2 = bmx_rng_double(r);

    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

size_t bmx_rng_categorical_cdf(bmx_rng *r, const double *cdf, size_t k)
{
    double target = bmx_rng_double(r) * cdf[k - 1];
    size_t lo = 0, hi = k - 1;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cdf[mid] > target)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

size_t bmx_rng_categorical(bmx_rng *r, const double *w, size_t k)
{
    double total = 0.0, target, acc = 0.0;
    size_t last = 0;

    for (size_t i = 0; i < k; i++)
        total += w[i];
    target = bmx_rng_double(r) * total;
    for (size_t i = 0; i < k; i++) {
        if (w[i] <= 0.0)
            continue;
        acc += w[i];
        last = i;
        if (acc > target)
            return i;
    }
    return last; /* rounding: target fell on the last positive weight's edge */
}
