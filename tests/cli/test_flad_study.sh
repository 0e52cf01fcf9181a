#!/usr/bin/env bash
# experiments/flad.sh (make experiment-flad) on the fixture tasks from a tiny random base
# checkpoint (1 layer, width 16, context 128): the table with the base model's zero-shot row
# and the label prior, every method asked for, the wall time; a second call resumes the
# finished runs (only scoring them again: same results, logs untouched); a missing base
# checkpoint is refused, naming it.
set -u
cd "${BMX_ROOT:-$(dirname "$0")/../..}"
build=${BMX_BUILD:-build}
bmx=$build/bmx
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
fx=tests/fixtures/tasks

$bmx tasks build --skip-extract --raw $fx --out "$tmp/t" --tasks fx-color,fx-sound,fx-count \
    2>"$tmp/log" || fail "tasks build: $(cat "$tmp/log")"
cut -f4- $fx/*.raw | tr '\t' ' ' >"$tmp/text"
$bmx tok train --input "$tmp/text" --vocab-size 300 --out "$tmp/tok" 2>/dev/null || fail "tok train"
# a base checkpoint: a random model's after one round of bmx flad (bmx_checkpoint_save)
$bmx flad --tasks "$tmp/t" --tok "$tmp/tok" --init-random 1,2,16,128 --target fx-color \
    --holdout fx-count --rounds 1 --threads 1 --blas 0 --quiet --out "$tmp/base" >/dev/null \
    2>"$tmp/log" || fail "base: $(cat "$tmp/log")"

export BMX_FLAD_OUT=$tmp/study BMX_FLAD_TASKS=$tmp/t BMX_FLAD_TOK=$tmp/tok
export BMX_FLAD_TARGETS=fx-color,fx-count BMX_FLAD_SPLITS=2 BMX_FLAD_METHODS=target-only,exp3
bash experiments/flad.sh "$tmp/base/checkpoint.bin" "$build" >"$tmp/out" 2>"$tmp/err" ||
    fail "flad.sh: $(cat "$tmp/err" "$tmp/out" "$tmp/study/compare.log")"
grep -q "^== done in [0-9]* s;" "$tmp/out" || fail "no wall time: $(cat "$tmp/out")"
for row in "zero-shot (base model)" "label prior" target-only EXP3-FLAD; do
    grep -q "^| $row |" "$tmp/study/table.md" || fail "table lacks $row: $(cat "$tmp/study/table.md")"
done
grep -q "^| explore-only |" "$tmp/study/table.md" && fail "explore-only was not asked for"
grep -q "mean ± std over 2 splits" "$tmp/study/table.md" || fail "table: $(cat "$tmp/study/table.md")"
[ "$(wc -l <"$tmp/study/results.jsonl")" -eq 8 ] || fail "results.jsonl: $(cat "$tmp/study/results.jsonl")"
# the study's settings reached every run
for d in "$tmp"/study/fx-*/s*/*/; do
    grep -q "^seq *= 128$" "$d/config.txt" && grep -q "^lr *= 0.0001$" "$d/config.txt" &&
        grep -q "^rounds *= 200$" "$d/config.txt" && grep -q "^patience *= 0$" "$d/config.txt" ||
        fail "$d: $(cat "$d/config.txt")"
done
grep -q "^policy *= exp3:tscale=10$" "$tmp/study/fx-color/s1/exp3/config.txt" || fail "exp3 tscale"
grep -q "zero-shot (the base model, every split)" "$tmp/study/compare.log" ||
    fail "log: $(cat "$tmp/study/compare.log")"

# again: every run is found finished and only scored again
cp "$tmp/study/results.jsonl" "$tmp/r1"
cp "$tmp/study/fx-count/s1/exp3/log.jsonl" "$tmp/l1"
bash experiments/flad.sh "$tmp/base/checkpoint.bin" "$build" >"$tmp/out2" 2>"$tmp/err" ||
    fail "flad.sh again: $(cat "$tmp/err")"
cmp -s "$tmp/r1" "$tmp/study/results.jsonl" || fail "the resumed study's results differ"
cmp -s "$tmp/l1" "$tmp/study/fx-count/s1/exp3/log.jsonl" || fail "a finished run trained again"

bash experiments/flad.sh "$tmp/nosuch.bin" "$build" >/dev/null 2>"$tmp/err"
[ $? -eq 2 ] && grep -q "$tmp/nosuch.bin not found" "$tmp/err" || fail "missing base: $(cat "$tmp/err")"
exit 0
