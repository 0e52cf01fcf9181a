/* bmx/rng.h - explicit, seedable random generators and sampling from distributions.
 *
 * The generator is xoshiro256** seeded through splitmix64. Its state is a plain struct so
 * that it can be embedded, copied and saved in checkpoints; every random draw in bmx comes
 * from one of these, never from hidden state.
 *
 * Exact definitions (the Python references in tests/ reproduce them bit for bit):
 *  - seed(s, stream): x = s ^ (stream * 0x9E3779B97F4A7C15); the four state words are four
 *    successive splitmix64(x) outputs;
 *  - double: (u64 >> 11) * 2^-53, in [0, 1);
 *  - below(n): draws u64 until x >= (2^64 - n) mod n, returns x mod n (unbiased);
 *  - categorical over a cumulative array c[0..k-1] (c[k-1] > 0): target = double * c[k-1],
 *    returns the first i with c[i] > target (so zero-probability arms are never drawn).
 */
#ifndef BMX_RNG_H
#define BMX_RNG_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct bmx_rng {
    uint64_t s[4];
} bmx_rng;

/* Seed a generator; different streams of one seed are independent sequences. */
void bmx_rng_seed(bmx_rng *r, uint64_t seed, uint64_t stream);
uint64_t bmx_rng_u64(bmx_rng *r);
double bmx_rng_double(bmx_rng *r);
/* Uniform integer in [0, n); n must be > 0. */
uint64_t bmx_rng_below(bmx_rng *r, uint64_t n);
/* Standard normal (Box-Muller, one value per call, two doubles consumed). */
double bmx_rng_normal(bmx_rng *r);
/* Draw an index from a cumulative array (see above); k >= 1 and cdf[k-1] > 0. */
size_t bmx_rng_categorical_cdf(bmx_rng *r, const double *cdf, size_t k);
/* Draw an index from k non-negative weights (summed left to right into a cumulative). */
size_t bmx_rng_categorical(bmx_rng *r, const double *w, size_t k);

#ifdef __cplusplus
}
#endif

#endif
