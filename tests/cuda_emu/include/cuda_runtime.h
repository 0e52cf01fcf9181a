/* tests/cuda_emu: a CPU emulator of the CUDA features the model's kernels use (C++20): blocks
 * run one after another, each with one std::thread per CUDA thread; __syncthreads is a block
 * barrier, __syncwarp and shuffles warp barriers (a thread that returns leaves both);
 * __shared__ variables are static; device memory is host memory (filled with 0xff bytes, so
 * that reading what was never written shows). */
#pragma once
#include <barrier>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <math.h>
#include <thread>
#include <vector>
#include <memory>
struct dim3 {
    unsigned x, y, z;
    dim3(unsigned a = 1, unsigned b = 1, unsigned c = 1) : x(a), y(b), z(c)
    {
    }
};
typedef int cudaError_t;
enum { cudaSuccess = 0, cudaErrorMemoryAllocation = 2 };
typedef void *cudaStream_t;
inline const char *cudaGetErrorString(cudaError_t)
{
    return "emu";
}
inline const char *cudaGetErrorName(cudaError_t)
{
    return "emu";
}
inline cudaError_t cudaGetLastError()
{
    return 0;
}
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __align__(n) __attribute__((aligned(n)))
#define __shared__   static
inline thread_local dim3 threadIdx, blockIdx;
inline dim3 blockDim, gridDim;
inline int min(int a, int b)
{
    return a < b ? a : b;
}
inline int max(int a, int b)
{
    return a > b ? a : b;
}
typedef std::barrier<> emu_bar;
inline thread_local emu_bar *emu_block_bar, *emu_warp_bar;
inline thread_local float *emu_slots;
inline thread_local int emu_tid;
inline void __syncthreads()
{
    emu_block_bar->arrive_and_wait();
}
inline float __shfl_xor_sync(unsigned, float v, int m)
{
    emu_slots[emu_tid] = v;
    emu_warp_bar->arrive_and_wait();
    int lane = emu_tid % 32, base = emu_tid - lane;
    float r = emu_slots[base + (lane ^ m)];
    emu_warp_bar->arrive_and_wait();
    return r;
}
template <typename F, typename... A> void emu_launch(dim3 g, dim3 b, F f, A... args)
{
    gridDim = g;
    blockDim = b;
    int nt = (int)(b.x * b.y * b.z);
    std::vector<float> slots(nt);
    for (unsigned bz = 0; bz < g.z; bz++)
        for (unsigned by = 0; by < g.y; by++)
            for (unsigned bx = 0; bx < g.x; bx++) {
                emu_bar bbar(nt);
                std::vector<std::unique_ptr<emu_bar>> wb;
                for (int w = 0; w * 32 < nt; w++)
                    wb.emplace_back(new emu_bar(std::min(32, nt - w * 32)));
                std::vector<std::thread> th;
                for (int t = 0; t < nt; t++)
                    th.emplace_back([&, t]() {
                        threadIdx = dim3(t % b.x, t / b.x % b.y, t / (b.x * b.y));
                        blockIdx = dim3(bx, by, bz);
                        emu_block_bar = &bbar;
                        emu_warp_bar = wb[t / 32].get();
                        emu_slots = slots.data();
                        emu_tid = t;
                        f(args...);
                        emu_warp_bar->arrive_and_drop();
                        emu_block_bar->arrive_and_drop();
                    });
                for (auto &x : th)
                    x.join();
            }
}

/* ---- runtime API on host memory ---- */
#include <cstdlib>
enum cudaMemcpyKind { cudaMemcpyHostToDevice, cudaMemcpyDeviceToHost, cudaMemcpyDeviceToDevice };
typedef void *cudaEvent_t;
#define cudaEventDisableTiming 0
inline cudaError_t cudaMalloc(void **p, size_t n)
{
    *p = malloc(n ? n : 1);
    memset(*p, 0xff, n);
    return *p ? 0 : 2;
}
inline cudaError_t cudaFree(void *p)
{
    free(p);
    return 0;
}
inline cudaError_t cudaMallocHost(void **p, size_t n)
{
    return cudaMalloc(p, n);
}
inline cudaError_t cudaFreeHost(void *p)
{
    free(p);
    return 0;
}
inline cudaError_t cudaMemcpyAsync(void *d, const void *s, size_t n, cudaMemcpyKind, cudaStream_t)
{
    memcpy(d, s, n);
    return 0;
}
inline cudaError_t cudaMemsetAsync(void *d, int v, size_t n, cudaStream_t)
{
    memset(d, v, n);
    return 0;
}
inline cudaError_t cudaStreamCreate(cudaStream_t *s)
{
    *s = (void *)1;
    return 0;
}
inline cudaError_t cudaStreamDestroy(cudaStream_t)
{
    return 0;
}
inline cudaError_t cudaStreamSynchronize(cudaStream_t)
{
    return 0;
}
inline cudaError_t cudaEventCreateWithFlags(cudaEvent_t *e, int)
{
    *e = (void *)1;
    return 0;
}
inline cudaError_t cudaEventDestroy(cudaEvent_t)
{
    return 0;
}
inline cudaError_t cudaEventRecord(cudaEvent_t, cudaStream_t)
{
    return 0;
}
inline cudaError_t cudaEventSynchronize(cudaEvent_t)
{
    return 0;
}
inline cudaError_t cudaSetDevice(int)
{
    return 0;
}
inline cudaError_t cudaGetDeviceCount(int *n)
{
    *n = 1;
    return 0;
}
inline cudaError_t cudaMemGetInfo(size_t *f, size_t *t)
{
    *f = (size_t)8 << 30;
    *t = (size_t)16 << 30;
    return 0;
}
inline cudaError_t cudaDriverGetVersion(int *v)
{
    *v = 13000;
    return 0;
}
inline cudaError_t cudaRuntimeGetVersion(int *v)
{
    *v = 13000;
    return 0;
}
struct uint4 {
    unsigned x, y, z, w;
};
inline uint4 make_uint4(unsigned a, unsigned b, unsigned c, unsigned d)
{
    return uint4{a, b, c, d};
}
inline void __syncwarp()
{
    emu_warp_bar->arrive_and_wait();
}
