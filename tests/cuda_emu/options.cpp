/* tests/cuda_emu/options.cpp - emulator switches read from the environment:
 * EMU_REFUSE_MIXED=1 makes the emulated cuBLASLt find no algorithm for products whose A/B and
 * C/D types differ (so the model takes its cublasGemmEx fallback); the count of cublasGemmEx
 * calls is printed at exit. */
#include <cstdio>
#include <cstdlib>

#include "cublas_v2.h"

struct emu_options {
    emu_options()
    {
        emu_lt_refuse_mixed = getenv("EMU_REFUSE_MIXED") != nullptr;
    }
    ~emu_options()
    {
        fprintf(stderr, "cuda_emu: %d cublasGemmEx calls\n", emu_gemmex_calls);
    }
} emu_options_v;
