/* src/kernels/kernels.c - GPT-2 layer kernels (see bmx/kernels.h), for float and double.
 *
 * The kernel bodies live in kernels.inc, included once per real type below.
 */
#include "bmx/kernels.h"

#include <cblas.h>
#include <dlfcn.h>
#include <omp.h>
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

#define R        float
#define FN(name) name##_f
#define GEMM     cblas_sgemm
#include "kernels.inc"
#undef R
#undef FN
#undef GEMM

#define R        double
#define FN(name) name##_d
#define GEMM     cblas_dgemm
#include "kernels.inc"
#undef R
#undef FN
#undef GEMM
