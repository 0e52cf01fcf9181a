/* src/kernels/kernels.c - GPT-2 layer kernels (see bmx/kernels.h), for float and double.
 *
 * The kernel bodies live in kernels.inc, included once per real type below.
 */
#include "bmx/kernels.h"

/* Floating-point operations never trap here and errno is never read: this lets GCC turn the
 * clamps before the fast exp into min/max and vectorise the exp loops. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math", "no-math-errno")
#endif

#include <cblas.h>
#include <dlfcn.h>
#include <omp.h>
#include <stdint.h>
#include <string.h>
#include <tgmath.h>

int bmx_kernels_check_blas(bmx_err *err)
{
    /* Looked up at run time: a binary linked against the reference BLAS has no such symbol. */
    int (*get_parallel)(void) = (int (*)(void))dlsym(RTLD_DEFAULT, "openblas_get_parallel");
    if (!get_parallel)
        return bmx_err_set(err, BMX_EINVAL,
                           "the BLAS in use is not OpenBLAS (likely the slow reference BLAS): "
                           "install Debian's libopenblas-openmp-dev and link with -lopenblas");
    int mode = get_parallel();
    if (mode != 2)
        return bmx_err_set(err, BMX_EINVAL,
                           "OpenBLAS is loaded but is its %s build, which %s: install Debian's "
                           "libopenblas-openmp-dev (update-alternatives --config "
                           "libopenblas.so.0-x86_64-linux-gnu must select openblas-openmp)",
                           mode == 0 ? "single-threaded" : "pthreads",
                           mode == 0 ? "leaves cores idle" : "fights the OpenMP threads");
    return BMX_OK;
}

void bmx_kernels_set_threads(int n)
{
    void (*set)(int) = (void (*)(int))dlsym(RTLD_DEFAULT, "openblas_set_num_threads");
    if (n < 1)
        n = 1;
    omp_set_num_threads(n);
    if (set)
        set(n);
}

typedef double ACC;

/* Elementwise loops get a second build for AVX2, chosen per call by a CPU check (cheap: a
 * load from libgcc's CPU model, filled at start-up). */
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define SIMD_AVX2   __attribute__((target("avx2")))
#define HAVE_AVX2() __builtin_cpu_supports("avx2")
#else
#define SIMD_AVX2
#define HAVE_AVX2() 0
#endif

/* exp for float, vectorisable (callers clamp the argument, which is faster here than a clamp
 * inside): Cody-Waite reduction x = n ln2 + r, |r| <= ln2 / 2, a degree-7
 * polynomial for e^r (Cephes' coefficients), 2^n through the exponent bits. Max relative
 * error 8.1e-8 over [-87, 88] (measured against double exp). Needs -87 <= x <= 88. */
static inline float expf_in_range(float x)
{
    float t = x * 1.44269504088896341f + 12582912.0f; /* round to nearest via 1.5 * 2^23 */
    float n = t - 12582912.0f;
    float r = x - n * 0.693359375f;
    r = r + n * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    float y = p * r * r + r + 1.0f;
    union {
        uint32_t i;
        float f;
    } u;
    u.f = t;
    /* n + 127 in [1, 254] for in-range x; unsigned, so a NaN x (whose t is NaN) shifts
     * without overflow and the NaN still comes out through y. */
    u.i = (u.i - 0x4B400000u + 127u) << 23;
    return y * u.f;
}

#define R        float
#define FN(name) name##_f
#define GEMM     cblas_sgemm
#define EXP      expf_in_range
#include "kernels.inc"
#undef R
#undef FN
#undef GEMM
#undef EXP

#define R        double
#define FN(name) name##_d
#define GEMM     cblas_dgemm
#define EXP      exp
#include "kernels.inc"
#undef R
#undef FN
#undef GEMM
#undef EXP
