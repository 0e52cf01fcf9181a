#!/usr/bin/env bash
# scripts/gpu-check.sh - everything about the CUDA trainer that needs a GPU, in one go, on the
# lent GPU machine (no network): build with nvcc, the CUDA tests (FLAD on cuda too), a short `bmx compare
# --device cuda` (uniform, odm, doremi) on carried token shards, then the benchmark against
# PyTorch. Everything goes to $OUT (at most 8 files come back): summary.txt (one line per
# stage, the figures), build.log, tests.log, compare.log, bench.log (the benchmark's table and
# JSON), report.html (the compare's).
#
# Carried (ignored, named in the run's `carry`; scripts/gpu-carry.sh makes the first): .gpu/blas.tar.xz (OpenBLAS-openmp, its
# libgfortran and cblas.h, for machines without libopenblas) and .gpu/shards/ (a data folder of
# <domain>/{train,val}.bin). Without shards the compare uses tiny ones made from the test
# fixtures (tests/cli/rundata.sh).
#   GPU_CHECK_BENCH="--steps 5"   arguments of build/bench/bench_cuda ("skip" to leave it out)
#   GPU_CHECK_STEPS=60            steps of each compare run
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
OUT=${OUT:-/tmp/gpu-check}
mkdir -p "$OUT"
sum="$OUT/summary.txt"
: >"$sum"
t_start=$(date +%s)
note() { echo "$*" | tee -a "$sum"; }
stage() { # stage NAME LOG TIMEOUT CMD...: run, append to LOG, note status and seconds
    local name=$1 log=$2 lim=$3
    shift 3
    local t0=$(date +%s)
    echo "=== $name: $*" >>"$log"
    timeout "$lim" "$@" >>"$log" 2>&1
    local rc=$?
    note "$name: rc=$rc ($(($(date +%s) - t0)) s)"
    return $rc
}

note "gpu-check $(date -u +%FT%TZ) commit $(git rev-parse --short HEAD 2>/dev/null || echo ?)"
note "gpu: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | head -1)"
note "nvcc: $(nvcc --version 2>/dev/null | tail -1 || echo missing)"
note "torch: $(python3 -c 'import torch; print(torch.__version__, torch.cuda.is_available())' 2>&1 | tail -1)"
export PATH=$PATH:/usr/local/cuda/bin

# OpenBLAS: the carried one first (bmx needs the OpenMP build), else the machine's
if [ -f .gpu/blas.tar.xz ]; then
    mkdir -p /tmp/blas && tar -C /tmp/blas -xJf .gpu/blas.tar.xz
    export CPATH=/tmp/blas/include${CPATH:+:$CPATH}
    export LIBRARY_PATH=/tmp/blas/lib${LIBRARY_PATH:+:$LIBRARY_PATH}
    export LD_LIBRARY_PATH=/tmp/blas/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
    note "blas: the carried OpenBLAS-openmp (/tmp/blas)"
elif ! ldconfig -p | grep -q 'libopenblas\.so\.0'; then
    note "blas: none on the machine and none carried (.gpu/blas.tar.xz): the build will fail"
fi

jobs=$(nproc)
stage build "$OUT/build.log" 400 make -j"$jobs" CUDA=1 all build/tests/test_cuda_model \
    build/tests/test_backend build/tests/test_flad build/bench/bench_cuda || { note "build failed"; tail -30 "$OUT/build.log"; exit 1; }

export BMX_BUILD=$PWD/build BMX_ROOT=$PWD
for t in test_cuda_model test_backend test_flad; do
    n0=$(wc -l <"$OUT/tests.log" 2>/dev/null || echo 0)
    stage "$t" "$OUT/tests.log" 120 build/tests/$t
    tail -n +$((n0 + 1)) "$OUT/tests.log" | grep -E "^# $t|^  |^FAIL|^skip" | tail -n 16 >>"$sum"
done
n0=$(wc -l <"$OUT/tests.log")
stage test_cuda_cli.sh "$OUT/tests.log" 180 bash tests/cli/test_cuda_cli.sh
tail -n +$((n0 + 1)) "$OUT/tests.log" |
    grep -E "^an uninterrupted|^killed|^last 5|^GPU:|^FAIL|skipped" | tail -n 6 >>"$sum"
n0=$(wc -l <"$OUT/tests.log")
stage test_flad_device.sh "$OUT/tests.log" 180 bash tests/cli/test_flad_device.sh
tail -n +$((n0 + 1)) "$OUT/tests.log" | grep -E "^round 1|^GPU:|^FAIL|skipped" | tail -n 4 >>"$sum"

# a short compare of two policies on the GPU
data=.gpu/shards
if [ ! -d "$data" ]; then
    bash tests/cli/rundata.sh /tmp/gpu-check-data >>"$OUT/compare.log" 2>&1
    data=/tmp/gpu-check-data/corpus
fi
rm -rf /tmp/gpu-check-cmp
stage compare "$OUT/compare.log" 200 build/bmx compare --data "$data" --out /tmp/gpu-check-cmp \
    --methods uniform,odm,doremi --seeds 1 --steps "${GPU_CHECK_STEPS:-60}" --layers 6 --heads 8 \
    --width 512 --seq 256 --batch 16 --accum 4 --eval-every 20 --eval-windows 32 --warmup 10 \
    --lr 1e-3 --min-lr 1e-4 --device cuda
for m in uniform-s1 odm-s1 doremi-s1/proxy doremi-s1/final; do
    f=/tmp/gpu-check-cmp/$m/log.jsonl
    [ -f "$f" ] && python3 - "$f" "$m" >>"$sum" 2>&1 <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
ev = [r for r in recs if r["type"] == "eval"]
st = [r for r in recs if r["type"] == "step"]
print(f"compare {sys.argv[2]}: {len(st)} steps, last loss {st[-1]['loss']:.4f}, "
      f"val avg_ppl {ev[0]['avg_ppl']:.2f} -> {ev[-1]['avg_ppl']:.2f}")
PY
    [ -f "/tmp/gpu-check-cmp/$m/timing.jsonl" ] && python3 - "/tmp/gpu-check-cmp/$m/timing.jsonl" "$m" >>"$sum" 2>&1 <<'PY'
import json, statistics, sys
t = [json.loads(l)["tok_s"] for l in open(sys.argv[1])]
print(f"compare {sys.argv[2]}: median {statistics.median(t):.0f} tok/s over {len(t)} steps")
PY
done
cp /tmp/gpu-check-cmp/report.html "$OUT/report.html" 2>/dev/null

if [ "${GPU_CHECK_BENCH:-}" != skip ]; then
    # shellcheck disable=SC2086
    stage bench "$OUT/bench.log" 900 build/bench/bench_cuda ${GPU_CHECK_BENCH:---steps 5}
    grep -E "^model|^gpt2|^small|skipped|B=" "$OUT/bench.log" >>"$sum"
fi
note "total $(($(date +%s) - t_start)) s"
cat "$sum"
