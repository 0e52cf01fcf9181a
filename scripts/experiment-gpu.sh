#!/usr/bin/env bash
# scripts/experiment-gpu.sh - the GPU study of issue 16 on a lent GPU machine (no network), in
# one call: build with nvcc, measure the model's throughput, choose the step budget that fits,
# train methods x seeds on the study corpus (the same shards as the CPU study), and write the
# report with means and intervals over seeds. Everything lands in $OUT.
# Carried (ignored paths, named in the device call's `carry`):
#   .gpu/blas.tar.xz         OpenBLAS-openmp (scripts/gpu-carry.sh)
#   .gpu/exp-shards.tar.xz   manifest.json + <domain>/{train,val}.bin of data/exp-corpus
#                            (make it with: tar -C data/exp-corpus -cf - manifest.json
#                            */train.bin */val.bin | xz -6 > .gpu/exp-shards.tar.xz; 30.5 MB)
# Environment:
#   GPU_EXP_BUDGET_S  seconds of training for the whole study (default 400)
#   GPU_EXP_TOKENS    most tokens per run (default 100000000)
#   GPU_EXP_SEEDS     seeds (default 1,2)
#   GPU_EXP_STEPS     steps per run (skips the throughput probe)
#   GPU_EXP_CONF      the run configuration (default experiments/gpu.conf)
#   GPU_EXP_BUILD     0: use the build/ that is there (a dry run of the script on a CPU)
# Per seed three processes run at once on the one GPU: uniform then doremi (DoReMi's reference
# is that uniform run, then its proxy and final runs), natural, odm. The longest chain is
# three runs, so each run gets a third of the budget at the throughput the probe measured
# with the same number of processes sharing the GPU.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
OUT=${OUT:-/tmp/experiment-gpu}
mkdir -p "$OUT"
sum=$OUT/summary.txt
: >"$sum"
t0=$(date +%s)
note() { echo "[$(($(date +%s) - t0)) s] $*" | tee -a "$sum"; }
note "experiment-gpu commit $(git rev-parse --short HEAD 2>/dev/null || echo ?)"
note "gpu: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | head -1)"
export PATH=$PATH:/usr/local/cuda/bin
if [ -f .gpu/blas.tar.xz ]; then
    mkdir -p /tmp/blas && tar -C /tmp/blas -xJf .gpu/blas.tar.xz
    export CPATH=/tmp/blas/include LIBRARY_PATH=/tmp/blas/lib LD_LIBRARY_PATH=/tmp/blas/lib
fi
[ -f .gpu/exp-shards.tar.xz ] || { note "no .gpu/exp-shards.tar.xz carried"; exit 1; }
data=/tmp/exp-corpus
mkdir -p "$data" && tar -C "$data" -xJf .gpu/exp-shards.tar.xz
if [ "${GPU_EXP_BUILD:-1}" = 1 ]; then
    timeout 300 make -j"$(nproc)" CUDA=1 all >"$OUT/build.log" 2>&1 || {
        note "build failed"; tail -20 "$OUT/build.log" | tee -a "$sum"; exit 1; }
    note "built"
fi
bmx=build/bmx
conf=${GPU_EXP_CONF:-experiments/gpu.conf}
seeds=${GPU_EXP_SEEDS:-1,2}
nseeds=$(echo "$seeds" | tr ',' '\n' | wc -l)
procs=$((3 * nseeds))
cv() { awk -v k="$1" '$1 == k {print $3}' "$conf"; }
tps=$(($(cv batch) * $(cv seq) * $(cv accum))) # tokens per step

steps=${GPU_EXP_STEPS:-}
if [ -z "$steps" ]; then
    # the probe: as many 40-step uniform runs at once as the study will run processes
    rm -rf /tmp/probe && mkdir -p /tmp/probe
    for i in $(seq 1 $procs); do
        timeout 240 $bmx train --config $conf --data "$data" --out /tmp/probe/r$i --policy uniform \
            --steps 40 --eval-every 0 --eval-windows 1 --ckpt-every 0 --seed $i \
            >"/tmp/probe/r$i.log" 2>&1 &
    done
    wait
    agg=$(python3 - /tmp/probe <<'PY'
import glob, json, statistics, sys
tot = 0.0
for f in glob.glob(sys.argv[1] + "/r*/timing.jsonl"):
    t = [json.loads(l)["tok_s"] for l in open(f)][10:]
    tot += statistics.median(t) if t else 0
print(int(tot))
PY
)
    note "probe: $procs processes at once, $agg tokens/s in all"
    [ "${agg:-0}" -gt 0 ] || { note "probe failed"; tail -5 /tmp/probe/r1.log | tee -a "$sum"; exit 1; }
    budget=${GPU_EXP_BUDGET_S:-400}
    steps=$((agg / procs * budget / 3 / tps))
    max=$((${GPU_EXP_TOKENS:-100000000} / tps))
    [ $steps -le $max ] || steps=$max
fi
[ "$steps" -ge 50 ] || { note "only $steps steps fit; give the study more time"; exit 1; }
note "steps per run: $steps ($((steps * tps)) tokens per run)"
out=/tmp/exp-gpu
eval_every=$((steps / 20))
pids=()
for s in ${seeds//,/ }; do
    for grp in uniform,doremi natural odm; do
        tag=${grp%%,*}
        $bmx compare --config $conf --data "$data" --out "$out/s$s-$tag" --methods "$grp" \
            --seeds "$s" --steps "$steps" --eval-every "$eval_every" --ckpt-every 0 \
            >"$OUT/compare-s$s-$tag.log" 2>&1 &
        pids+=($!)
    done
done
fail=0
for p in "${pids[@]}"; do wait "$p" || fail=1; done
note "training done (fail=$fail)"
runs=()
for d in "$out"/*/*/; do
    [ -f "$d/log.jsonl" ] && runs+=("$d")
    [ -f "$d/final/log.jsonl" ] && runs+=("$d/final")
done
$bmx report "${runs[@]}" --out "$OUT/report.html" --title "bmx GPU study (issue 16)" >>"$sum" 2>&1
for d in "${runs[@]}"; do tail -n 1 "$d/log.jsonl" | cut -c1-200 >>"$OUT/last-records.txt"; done
note "total"
cat "$sum"
