#!/usr/bin/env bash
# scripts/experiment.sh BUILD_DIR - the CPU study of issue 16 (make experiment): methods x
# seeds on the study corpus with one model and token budget (experiments/cpu.conf), then
# one report with means and 95% intervals over seeds (bmx report). Everything it makes is
# resumed or skipped when it is there already, so running it again continues an
# interrupted study exactly (each run resumes from its last checkpoint).
#   BMX_EXP_OUT      output folder (default runs/exp-cpu)
#   BMX_EXP_SEEDS    seeds (default 1,2,3); one `bmx compare` per seed, all at once
#   BMX_EXP_METHODS  methods, in the order each seed trains them (default
#                    uniform,odm,natural,odm-smoothed-mean,doremi: the key pair first)
#   BMX_EXP_NICE     nice level of the training processes (default 0)
set -euo pipefail
build=${1:-build}
cd "$(dirname "$0")/.."
bmx="$build/bmx"
corpus=data/exp-corpus
vocab=data/exp.tok
out=${BMX_EXP_OUT:-runs/exp-cpu}
seeds=${BMX_EXP_SEEDS:-1,2,3}
methods=${BMX_EXP_METHODS:-uniform,odm,natural,odm-smoothed-mean,doremi}
nice=${BMX_EXP_NICE:-0}
conf=experiments/cpu.conf
t0=$(date +%s)

# 10 MB per domain at most: the domains differ in size (social 2.2 MB ... 10 MB), so the
# natural mixture is not uniform; 90/5/5 gives every domain a validation split.
if [ ! -f "$corpus/manifest.json" ]; then
    echo "== building the study corpus in $corpus (10 MB per domain at most)"
    "$bmx" corpus build --cap-mb 10 --out "$corpus" --cache "${BMX_CORPUS_CACHE:-data/cache}" \
        --split 90/5/5
fi
if [ ! -f "$vocab" ]; then
    echo "== training an 8192-id tokenizer on the training splits"
    "$bmx" tok train --input "$corpus"/*/train.txt --vocab-size 8192 --out "$vocab"
fi
if ! grep -q '"tokenizer"' "$corpus/manifest.json" || [ ! -f "$(ls -d "$corpus"/*/ | head -1)/train.bin" ]; then
    echo "== tokenizing the corpus into shards"
    "$bmx" data shard --corpus "$corpus" --vocab "$vocab"
fi
mkdir -p "$out"
echo "== methods $methods, seeds $seeds, configuration $conf; logs in $out/compare-s<seed>.log"
pids=()
for s in ${seeds//,/ }; do
    nice -n "$nice" "$bmx" compare --config "$conf" --data "$corpus" --out "$out/s$s" \
        --methods "$methods" --seeds "$s" --title "bmx CPU study, seed $s" \
        >>"$out/compare-s$s.log" 2>&1 &
    pids+=($!)
done
fail=0
for p in "${pids[@]}"; do wait "$p" || fail=1; done
[ $fail = 0 ] || { echo "experiment: a compare failed; see $out/compare-s*.log, then run again to resume" >&2; exit 1; }
runs=()
for s in ${seeds//,/ }; do
    for d in "$out/s$s"/*/; do
        # a run folder, or a DoReMi folder (bmx report takes it as its final run)
        if [ -f "$d/log.jsonl" ] || [ -d "$d/final" ]; then runs+=("$d"); fi
    done
done
"$bmx" report "${runs[@]}" --out "$out/report.html" --title "bmx CPU study (issue 16)"
echo "== done in $(( $(date +%s) - t0 )) s; the report is $out/report.html"
