#!/usr/bin/env bash
# bmx tasks build|show, bmx flad and bmx flad-compare on the fixture tasks (tests/fixtures/
# tasks) with a tiny random model: help, task-file checks, a run and its files (the run folder
# of bmx train), resume that reproduces an uninterrupted run byte for byte, errors that name
# what was wrong, the comparison table and report. SIGKILL resume: test_flad_resume.sh.
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
# the run folder of bmx train: config.txt, lock, log.jsonl (a header, then one record a round),
# checkpoint.bin; and result.json
for f in config.txt lock log.jsonl checkpoint.bin result.json; do
    [ -s "$tmp/a/$f" ] || fail "run folder lacks $f"
done
[ "$(grep -c '^{"type":"round","round":' "$tmp/a/log.jsonl")" -eq 6 ] || fail "log.jsonl should have 6 rounds"
head -1 "$tmp/a/log.jsonl" | grep -q '^{"type":"header",.*"aux":\["fx-sound/0","fx-sound/1","fx-sound/2"\]' ||
    fail "log header: $(head -1 "$tmp/a/log.jsonl")"
grep -q '^target *= fx-color$' "$tmp/a/config.txt" && grep -q '^min_rounds *= 4$' "$tmp/a/config.txt" ||
    fail "config.txt: $(cat "$tmp/a/config.txt")"
grep -q '"aux":"fx-sound/' "$tmp/a/log.jsonl" || fail "log names no auxiliary dataset"
head -1 "$tmp/a/log.jsonl" | grep -q 'fx-count' && fail "held-out fx-count is in the auxiliary pool"
grep -q "test accuracy" "$tmp/out" || fail "no summary line"

# resume: 3 rounds, then on to 6, equals the straight run byte for byte
$bmx flad "${common[@]}" --target fx-color --rounds 3 --out "$tmp/b" >/dev/null 2>&1 || fail "flad 3"
$bmx flad "${common[@]}" --target fx-color --rounds 6 --out "$tmp/b" --resume >/dev/null 2>"$tmp/log" ||
    fail "resume: $(cat "$tmp/log")"
cmp -s "$tmp/a/checkpoint.bin" "$tmp/b/checkpoint.bin" || fail "resumed checkpoint differs from the straight run"
cmp -s "$tmp/a/log.jsonl" "$tmp/b/log.jsonl" || fail "resumed log differs from the straight run"
cmp -s "$tmp/a/result.json" "$tmp/b/result.json" || fail "resumed result differs"
# resume with other settings is refused
$bmx flad "${common[@]}" --target fx-color --rounds 6 --out "$tmp/b" --resume --seed 9 2>"$tmp/err"
[ $? -eq 2 ] || fail "resume with another seed should exit 2"
grep -q "other settings" "$tmp/err" && grep -q "in: seed" "$tmp/err" || fail "message: $(cat "$tmp/err")"
# a resume from the folder alone takes config.txt: the finished run ends with the same result
$bmx flad --resume --out "$tmp/b" --quiet >/dev/null 2>"$tmp/log" || fail "resume from config.txt: $(cat "$tmp/log")"
cmp -s "$tmp/a/result.json" "$tmp/b/result.json" || fail "resume from config.txt: result differs"
# config.txt read back by --config makes the same run, byte for byte
$bmx flad --config "$tmp/a/config.txt" --out "$tmp/cfg" --quiet >/dev/null 2>"$tmp/log" || fail "--config: $(cat "$tmp/log")"
cmp -s "$tmp/a/log.jsonl" "$tmp/cfg/log.jsonl" && cmp -s "$tmp/a/checkpoint.bin" "$tmp/cfg/checkpoint.bin" ||
    fail "the run from config.txt differs"
# a second process on the same folder is refused while the lock is held
flock "$tmp/b/lock" $bmx flad --resume --out "$tmp/b" --quiet 2>"$tmp/err" >/dev/null && fail "locked folder accepted"
grep -q "in use by another" "$tmp/err" || fail "lock message: $(cat "$tmp/err")"
# a fresh run into a folder that holds one is refused
$bmx flad "${common[@]}" --target fx-color --rounds 6 --out "$tmp/b" 2>"$tmp/err"
[ $? -eq 2 ] && grep -q "already holds a run" "$tmp/err" || fail "fresh run over a run: $(cat "$tmp/err")"

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
# the base model's row and the label prior's (fx-color's 9 test examples: 6 green, 3 red; the
# prior answers one of the three labels); every run's line carries the target's zero-shot
# score, and a run that kept theta_0 (best_round 0) scored exactly it
grep -q "^| zero-shot (base model) | [0-9.]* | [0-9.]* | [0-9.]* |$" "$tmp/cmp/table.md" ||
    fail "table lacks the zero-shot row: $(cat "$tmp/cmp/table.md")"
grep -Eq "^\| label prior \| (66\.7|33\.3|0\.0) ± 0\.0 \|" "$tmp/cmp/table.md" ||
    fail "table lacks the label prior row: $(cat "$tmp/cmp/table.md")"
grep -q "^Runs that kept the base model .*: target-only [0-9] of 2, explore-only [0-9] of 2," \
    "$tmp/cmp/table.md" || fail "table lacks the kept-theta_0 counts: $(cat "$tmp/cmp/table.md")"
[ "$(grep -c '"zero_shot_test_acc":' "$tmp/cmp/results.jsonl")" -eq 10 ] || fail "zero-shot in results.jsonl"
for tg in fx-color fx-count; do
    [ "$(grep "\"target\":\"$tg\"" "$tmp/cmp/results.jsonl" | grep -o '"zero_shot_test_acc":[^,]*' |
        sort -u | wc -l)" -eq 1 ] || fail "$tg: the runs disagree on the zero-shot score"
done
[ "$(grep -c '"best_round":0,' "$tmp/cmp/results.jsonl")" -gt 0 ] || fail "no run kept theta_0 here"
grep '"best_round":0,' "$tmp/cmp/results.jsonl" | sed 's/.*"test_acc":\([^,]*\),.*"zero_shot_test_acc":\([^,]*\),.*/\1 \2/' |
    awk '$1 != $2 { bad = 1 } END { exit bad }' || fail "a run that kept theta_0 scored other than zero-shot"
grep -q "fx-color zero-shot (the base model, every split) ... test 0\.[0-9]*$" "$tmp/log" ||
    fail "no zero-shot progress line: $(cat "$tmp/log")"
[ "$(wc -l <"$tmp/cmp/results.jsonl")" -eq 10 ] || fail "results.jsonl should have 10 runs"
grep -q "<svg" "$tmp/cmp/report.html" || fail "report has no plot"
grep -q "fx-sound/" "$tmp/cmp/report.html" || fail "report names no auxiliary dataset"
$bmx flad-compare "${cmp_args[@]}" --targets fx-color --out "$tmp/cmp2" 2>"$tmp/err"
[ $? -eq 2 ] || fail "a single target should be refused"
# K = 3 auxiliary datasets (fx-sound x 3 templates): EXP3 leaves uniform in round 4 = floor(3 ln 3) + 1
grep '"method":"exp3"' "$tmp/cmp/results.jsonl" | grep -q '"nonuniform_rounds":1,"min_rounds":4,' ||
    fail "results.jsonl: exp3 should have 1 non-uniform round of 4: $(cat "$tmp/cmp/results.jsonl")"
grep -q "identical to explore-only" "$tmp/cmp/table.md" && fail "K = 3, 4 rounds: EXP3 did leave uniform"
grep -q "fx-color/s0 1 of 4" "$tmp/cmp/table.md" || fail "table.md: $(cat "$tmp/cmp/table.md")"
[ "$(grep -c '"min_rounds":4,' "$tmp/cmp/results.jsonl")" -eq 10 ] ||
    fail "every method (target-only too) should wait for round 4: $(cat "$tmp/cmp/results.jsonl")"

$bmx flad-compare "${cmp_args[@]}" --targets fx-color,fx-count --methods exp3,exp4 --out "$tmp/cmp3" 2>"$tmp/err"
[ $? -eq 2 ] && grep -q "unknown method 'exp4'" "$tmp/err" || fail "--methods exp4: $(cat "$tmp/err")"
[ -e "$tmp/cmp3" ] && fail "--methods exp4: refused, yet it made $tmp/cmp3"
# a run folder of the older bmx flad (config.json, ckpt.bin) is named as such
mkdir -p "$tmp/old" && echo '{}' >"$tmp/old/config.json" && echo x >"$tmp/old/ckpt.bin"
$bmx flad "${common[@]}" --target fx-color --out "$tmp/old" --resume 2>"$tmp/err"
[ $? -eq 2 ] && grep -q "older bmx flad" "$tmp/err" || fail "old run folder: $(cat "$tmp/err")"

# G = 2 auxiliary draws per round: both in the log, 2 batches a round; bad values refused
$bmx flad "${common[@]}" --target fx-color --rounds 3 --aux-draws 2 --out "$tmp/g2" >/dev/null \
    2>"$tmp/log" || fail "flad --aux-draws 2: $(cat "$tmp/log")"
[ "$(grep -c '"arms":\[[0-9],[0-9]\],"rewards":\[' "$tmp/g2/log.jsonl")" -eq 3 ] ||
    fail "--aux-draws 2: log lacks the two arms: $(head -1 "$tmp/g2/log.jsonl")"
grep -q '"aux_batches":6,"aux_draws":2' "$tmp/g2/result.json" || fail "result: $(cat "$tmp/g2/result.json")"
$bmx flad "${common[@]}" --target fx-color --aux-draws 0 --out "$tmp/c" 2>"$tmp/err"
[ $? -eq 2 ] && grep -q -- "--aux-draws 0" "$tmp/err" || fail "--aux-draws 0: $(cat "$tmp/err")"
$bmx flad "${common[@]}" --target fx-color --min-rounds -2 --out "$tmp/c" 2>"$tmp/err"
[ $? -eq 2 ] && grep -q -- "--min-rounds -2" "$tmp/err" || fail "--min-rounds -2: $(cat "$tmp/err")"
$bmx flad "${common[@]}" --target fx-color --policy exp3:tscale=0 --out "$tmp/c" 2>"$tmp/err"
[ $? -ne 0 ] && grep -q "tscale = 0" "$tmp/err" || fail "exp3:tscale=0: $(cat "$tmp/err")"

# K = 45 auxiliary datasets (fx-sound and 14 copies, 3 templates each). The first round t whose
# K eps(S t) < 1, from eps alone: K ln K = 171.30 -> 172 for S = 1, 18 for S = 10.
first_round() { awk -v K=45 -v S="$1" 'BEGIN { t = 1; while (K * sqrt(log(K) / (K * S * t)) >= 1) t++; print t }'; }
[ "$(first_round 1)" -eq 172 ] && [ "$(first_round 10)" -eq 18 ] || fail "first_round: $(first_round 1) $(first_round 10)"
mkdir -p "$tmp/raw45"
cp $fx/*.raw "$tmp/raw45/"
names=fx-color,fx-sound,fx-count
for i in $(seq -w 1 14); do
    sed "s/^name\tfx-sound/name\tcopy-$i/" $fx/fx-sound.raw >"$tmp/raw45/copy-$i.raw"
    names=$names,copy-$i
done
$bmx tasks build --skip-extract --raw "$tmp/raw45" --out "$tmp/t45" --tasks "$names" 2>"$tmp/log" ||
    fail "tasks build (45): $(cat "$tmp/log")"
k45=(--tasks "$tmp/t45" --tok "$tmp/tok" --init-random 1,2,16,48 --batch 2 --seq 40 --eval-every 50
    --patience 1 --lr 3e-3 --threads 1 --blas 0 --targets fx-color,fx-count --splits 1)
# tscale 1, 150 rounds: EXP3-FLAD is explore-only draw for draw, and the table says so
$bmx flad-compare "${k45[@]}" --methods explore-only,exp3 --rounds 150 --out "$tmp/c45" \
    >/dev/null 2>"$tmp/log" || fail "flad-compare K = 45: $(cat "$tmp/log")"
grep -q "never gets past them" "$tmp/log" || fail "no note that 150 rounds stay uniform: $(cat "$tmp/log")"
for tg in fx-color fx-count; do
    d=$tmp/c45/$tg/s0
    grep -o '"arm":[0-9]*' "$d/exp3/log.jsonl" >"$tmp/a.exp3"
    grep -o '"arm":[0-9]*' "$d/explore-only/log.jsonl" >"$tmp/a.explore"
    [ "$(wc -l <"$tmp/a.exp3")" -eq 150 ] || fail "$tg: exp3 ran $(wc -l <"$tmp/a.exp3") rounds, not 150"
    cmp -s "$tmp/a.exp3" "$tmp/a.explore" || fail "$tg: EXP3-FLAD drew other arms than explore-only"
    cmp -s "$d/exp3/checkpoint.bin" "$d/explore-only/checkpoint.bin" && fail "$tg: the checkpoints hold the policy too"
    grep -q '"pi_uniform":false' "$d/exp3/log.jsonl" && fail "$tg: exp3 left uniform"
    grep -q '"min_rounds":172,"nonuniform_rounds":0' "$d/exp3/result.json" ||
        fail "$tg result: $(cat "$d/exp3/result.json")"
done
grep -q "^| EXP3-FLAD | identical to explore-only: never left uniform in 150 rounds | identical to explore-only: never left uniform in 150 rounds | identical to explore-only: never left uniform in 150 rounds |" \
    "$tmp/c45/table.md" || fail "table.md does not mark EXP3-FLAD: $(cat "$tmp/c45/table.md")"
# tscale 10: leaves uniform in round 18, as the formula says; the minimum before early stopping follows
$bmx flad-compare "${k45[@]}" --methods exp3 --tscale 10 --rounds 20 --out "$tmp/c45s" \
    >/dev/null 2>"$tmp/log" || fail "flad-compare --tscale 10: $(cat "$tmp/log")"
d=$tmp/c45s/fx-color/s0/exp3
first=$(grep '^{"type":"round"' "$d/log.jsonl" | grep -n '"pi_uniform":false' | head -1 | cut -d: -f1)
[ "$first" = "$(first_round 10)" ] || fail "tscale 10 left uniform in round $first, not $(first_round 10)"
grep -q '^policy *= exp3:tscale=10$' "$d/config.txt" || fail "config: $(cat "$d/config.txt")"
grep -q '"min_rounds":18,"nonuniform_rounds":3' "$d/result.json" || fail "result: $(cat "$d/result.json")"
grep -q "identical to explore-only" "$tmp/c45s/table.md" && fail "tscale 10: marked as never leaving uniform"
grep -q "fx-color/s0 3 of 20" "$tmp/c45s/table.md" || fail "table.md: $(cat "$tmp/c45s/table.md")"
exit 0
