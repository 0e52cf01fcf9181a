#!/usr/bin/env bash
# tests/cuda_emu/run.sh [DIR] - run the GPU model's own CUDA code on the CPU, without a GPU.
#
# A development check, not part of `make test` (slow: one OS thread per CUDA thread). The
# model's .cu files (all of src/cuda but backend.cu) are rewritten by transform.py (each
# `kernel<<<grid, block, ...>>>(args)` becomes a call of emu_launch) and compiled with g++
# (C++20) against the headers of include/: a CPU emulator of the CUDA runtime (blocks run one
# after another, one std::thread per CUDA thread; __syncthreads a block barrier, __syncwarp
# and shuffles warp barriers, __shared__ static), of WMMA (alignment rules checked) and of
# cuBLASLt / cublasGemmEx (column-major products, layouts checked). Then:
#   - kernels_vs_cpu: every kernel against the CPU kernels of bmx/kernels.h;
#   - tests/test_cuda_model.c linked against the emulated model, every case but the
#     GPT-2-sized one, and once more with cuBLASLt refusing bf16 x bf16 -> fp32 products
#     (EMU_REFUSE_MIXED=1: the cublasGemmEx fallback).
# What it cannot show: the real cuBLASLt, the real GPU's limits, timing-dependent races, speed.
# Exit status 0 when everything passes. Scratch files in DIR (default /tmp/bmx_cuda_emu).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
emu=$root/tests/cuda_emu
out=${1:-/tmp/bmx_cuda_emu}
mkdir -p "$out/src"
make -C "$root" -s CUDA=0 BUILD="$out/build" "$out/build/libbmx.a"
cxx=(g++ -std=c++20 -O2 -w -I"$emu/include" -I"$out/src" -I"$root/include")
libs=("$out/build/libbmx.a" -fopenmp -lopenblas -lm -lpthread)
objs=()
for f in kernels attention attention_tc matmul model; do
    python3 "$emu/transform.py" "$root/src/cuda/$f.cu" "$out/src/$f.cpp"
done
cp "$root"/src/cuda/*.cuh "$root/src/cuda/cuda_int.h" "$out/src/"
for f in kernels attention attention_tc matmul model; do
    "${cxx[@]}" -c "$out/src/$f.cpp" -o "$out/$f.o"
    objs+=("$out/$f.o")
done
"${cxx[@]}" -c "$emu/options.cpp" -o "$out/options.o"
"${cxx[@]}" -o "$out/kernels_vs_cpu" "$emu/kernels_vs_cpu.cpp" "$out/kernels.o" \
    "$out/attention.o" "$out/attention_tc.o" "${libs[@]}"
cc -std=c11 -D_GNU_SOURCE -O2 -fopenmp -I"$root/include" -I"$root/tests" \
    -c "$root/tests/test_cuda_model.c" -o "$out/test.o"
g++ -o "$out/test_cuda_model" "$out/test.o" "$out/options.o" "${objs[@]}" "${libs[@]}"
status=0
"$out/kernels_vs_cpu" || status=1
cd "$root"
for c in fp32_forward_backward fp32_shapes fp32_accumulate fp32_deterministic \
    bf16_forward_backward bf16_deterministic bf16_tensor_cores gpu_errors; do
    "$out/test_cuda_model" "$c" | grep -v '^# test_cuda_model' || status=1
done
EMU_REFUSE_MIXED=1 "$out/test_cuda_model" bf16_forward_backward | grep -v '^# test_cuda_model' ||
    status=1
echo "cuda_emu: $([ $status = 0 ] && echo all passed || echo FAILURES)"
exit $status
