#!/usr/bin/env bash
# bmx tasks build|show, bmx flad and bmx flad-compare on the fixture tasks (tests/fixtures/
# tasks) with a tiny random model: help, task-file checks, a run and its files, resume that
# reproduces an uninterrupted run byte for byte, errors that name what was wrong, the
# comparison table and report.
set -u
cd "${BMX_ROOT:-$(dirname "$0")/../..}"
bmx=${BMX_BUILD:-build}/bmx
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
fx=tests/fixtures/tasks

for sub in "tasks" "tasks build" "tasks show" flad flad-compare; do
    $bmx $sub --help >"$tmp/help" || fail "bmx $sub --help exits $?"
    grep -q usage "$tmp/help" || fail "bmx $sub --help prints no usage"
done

# task files from the raw fixtures (no extraction)
$bmx tasks build --skip-extract --raw $fx --out "$tmp/t" --tasks fx-color,fx-sound,fx-count \
    2>"$tmp/log" || fail "tasks build: $(cat "$tmp/log")"
grep -q '"aux_datasets":9' "$tmp/t/manifest.json" || fail "manifest: $(cat "$tmp/t/manifest.json")"
$bmx tasks show "$tmp/t/fx-sound.task" >"$tmp/show" || fail "tasks show"
grep -q "derived" "$tmp/show" || fail "tasks show does not say derived"
$bmx tasks build --out "$tmp/x" --tasks nosuch 2>"$tmp/err"
[ $? -eq 2 ] || fail "unknown task to build should exit 2"
grep -q "unknown task 'nosuch'" "$tmp/err" || fail "unknown task message: $(cat "$tmp/err")"

# corrupt task file: the error names the file
cp "$tmp/t/fx-count.task" "$tmp/bad.task"
printf 'Z' | dd of="$tmp/bad.task" bs=1 seek=100 conv=notrunc 2>/dev/null
$bmx tasks show "$tmp/bad.task" 2>"$tmp/err" && fail "corrupt task file accepted"
grep -q "$tmp/bad.task" "$tmp/err" || fail "corruption message names no file: $(cat "$tmp/err")"

# a tokenizer for the fixtures
cut -f4- $fx/*.raw | tr '\t' ' ' >"$tmp/text"
$bmx tok train --input "$tmp/text" --vocab-size 300 --out "$tmp/tok" 2>/dev/null || fail "tok train"

cmp_args=(--tasks "$tmp/t" --tok "$tmp/tok" --init-random 1,2,16,48 --batch 2 --seq 40
    --eval-every 2 --patience 0 --lr 3e-3 --threads 1 --blas 0)
common=("${cmp_args[@]}" --quiet --holdout fx-count)
$bmx flad "${common[@]}" --target fx-color --rounds 6 --out "$tmp/a" >"$tmp/out" 2>"$tmp/log" ||
    fail "flad: $(cat "$tmp/log")"
for f in config.json log.jsonl ckpt.bin result.json; do
    [ -s "$tmp/a/$f" ] || fail "run folder lacks $f"
done
[ "$(wc -l <"$tmp/a/log.jsonl")" -eq 6 ] || fail "log.jsonl should have 6 rounds"
grep -q '"aux":"fx-sound/' "$tmp/a/log.jsonl" || fail "log names no auxiliary dataset"
grep -q 'fx-count' "$tmp/a/config.json" && fail "held-out fx-count is in the auxiliary pool"
grep -q "test accuracy" "$tmp/out" || fail "no summary line"

# resume: 3 rounds, then on to 6, equals the straight run byte for byte
$bmx flad "${common[@]}" --target fx-color --rounds 3 --out "$tmp/b" >/dev/null 2>&1 || fail "flad 3"
$bmx flad "${common[@]}" --target fx-color --rounds 6 --out "$tmp/b" --resume >/dev/null 2>"$tmp/log" ||
    fail "resume: $(cat "$tmp/log")"
cmp -s "$tmp/a/ckpt.bin" "$tmp/b/ckpt.bin" || fail "resumed checkpoint differs from the straight run"
cmp -s "$tmp/a/log.jsonl" "$tmp/b/log.jsonl" || fail "resumed log differs from the straight run"
cmp -s "$tmp/a/result.json" "$tmp/b/result.json" || fail "resumed result differs"
# resume with other settings is refused
$bmx flad "${common[@]}" --target fx-color --rounds 6 --out "$tmp/b" --resume --seed 9 2>"$tmp/err"
[ $? -eq 2 ] || fail "resume with another seed should exit 2"
grep -q "other settings" "$tmp/err" || fail "message: $(cat "$tmp/err")"

# errors
$bmx flad "${common[@]}" --target nosuch --out "$tmp/c" 2>"$tmp/err"
[ $? -eq 2 ] || fail "unknown target should exit 2"
grep -q "unknown task 'nosuch'" "$tmp/err" && grep -q "fx-color" "$tmp/err" ||
    fail "unknown target message: $(cat "$tmp/err")"
$bmx flad "${common[@]}" --target fx-color --aux fx-count --out "$tmp/c" 2>"$tmp/err"
[ $? -eq 2 ] || fail "empty auxiliary pool should exit 2"
grep -q "auxiliary pool is empty" "$tmp/err" || fail "empty pool message: $(cat "$tmp/err")"
$bmx flad "${common[@]}" --target fx-color --policy exp9 --out "$tmp/c" 2>"$tmp/err" &&
    fail "unknown policy accepted"
grep -q "exp9" "$tmp/err" || fail "policy message: $(cat "$tmp/err")"

# comparison: 2 targets held out, 1 split, every method
$bmx flad-compare "${cmp_args[@]}" --targets fx-color,fx-count --splits 1 --rounds 4 \
    --out "$tmp/cmp" >"$tmp/out" 2>"$tmp/log" || fail "flad-compare: $(cat "$tmp/log")"
for row in target-only explore-only exploit-only EXP3-FLAD UCB1-FLAD; do
    grep -q "^| $row |" "$tmp/cmp/table.md" || fail "table lacks row $row: $(cat "$tmp/cmp/table.md")"
done
grep -q "| fx-color | fx-count | mean |" "$tmp/cmp/table.md" || fail "table columns"
[ "$(wc -l <"$tmp/cmp/results.jsonl")" -eq 10 ] || fail "results.jsonl should have 10 runs"
grep -q "<svg" "$tmp/cmp/report.html" || fail "report has no plot"
grep -q "fx-sound/" "$tmp/cmp/report.html" || fail "report names no auxiliary dataset"
$bmx flad-compare "${cmp_args[@]}" --targets fx-color --out "$tmp/cmp2" 2>"$tmp/err"
[ $? -eq 2 ] || fail "a single target should be refused"
exit 0
