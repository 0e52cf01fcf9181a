/* tests/cuda_emu: bf16 on the host (round to nearest even, as __float2bfloat16). */
#pragma once
#include <cstdint>
#include <cstring>
struct __nv_bfloat16 {
    unsigned short x;
};
inline float __bfloat162float(__nv_bfloat16 h)
{
    uint32_t u = (uint32_t)h.x << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}
inline __nv_bfloat16 __float2bfloat16(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    u += 0x7fff + ((u >> 16) & 1);
    __nv_bfloat16 h;
    h.x = (unsigned short)(u >> 16);
    return h;
}
