#!/usr/bin/env bash
# bmx flad --device / --precision (the trainer backend, bmx/backend.h). Everywhere: bad values
# are refused naming them (exit 2), config.txt stores the device resolved and the precision as
# given; --device cuda without a usable GPU (or without CUDA in the build) fails with the
# backend's reason (exit 1) and leaves no checkpoint or log; a resume may change the device (the
# checkpoint holds the host state): not refused as other settings, and a failed switch to cuda
# leaves the run folder as it was. With a GPU: fp32 on cuda scores theta_0 as the CPU does and
# its first round's losses are the CPU's within 1e-4; bf16 runs; two cuda runs write the same
# bytes; a CPU run resumes on the GPU and ends with every round logged; flad-compare runs on cuda.
# Without a GPU those parts are skipped, saying so.
set -u
cd "${BMX_ROOT:-$(dirname "$0")/../..}"
. tests/cli/lib.sh
bmx=${BMX_BUILD:-build}/bmx
scratch flad_device
tmp=$t
fx=tests/fixtures/tasks

$bmx tasks build --skip-extract --raw $fx --out "$tmp/t" --tasks fx-color,fx-sound,fx-count \
    >/dev/null 2>"$tmp/log" || fail "tasks build: $(cat "$tmp/log")"
cut -f4- $fx/*.raw | tr '\t' ' ' >"$tmp/text"
$bmx tok train --input "$tmp/text" --vocab-size 300 --out "$tmp/tok" 2>/dev/null || fail "tok train"
common=(--tasks "$tmp/t" --tok "$tmp/tok" --init-random 1,2,16,48 --batch 2 --seq 40
    --eval-every 2 --lr 3e-3 --threads 1 --quiet --holdout fx-count --target fx-color)

# the help names both options with train's wording
$bmx flad --help >"$tmp/help"
grep -q -- "--device S .*trainer: cpu or cuda" "$tmp/help" && grep -q -- "--precision S .*fp32 or bf16" "$tmp/help" ||
    fail "flad --help: $(grep -e device -e precision "$tmp/help")"
$bmx train --help | grep -- "--device S" >"$tmp/th"
grep -q -- "--device S .*trainer: cpu or cuda" "$tmp/th" || fail "train --help: $(cat "$tmp/th")"
$bmx flad-compare --help | grep -q -- "--device S .*trainer: cpu or cuda" || fail "flad-compare --help"

# bad values: exit 2, the value named
$bmx flad "${common[@]}" --out "$tmp/x" --device tpu 2>"$tmp/err"
[ $? -eq 2 ] && grep -q "device 'tpu': give cpu or cuda" "$tmp/err" || fail "--device tpu: $(cat "$tmp/err")"
$bmx flad "${common[@]}" --out "$tmp/x" --precision bf16 2>"$tmp/err"
[ $? -eq 2 ] && grep -q "precision bf16 is for --device cuda" "$tmp/err" || fail "cpu bf16: $(cat "$tmp/err")"
$bmx flad "${common[@]}" --out "$tmp/x" --device cuda --precision fp8 2>"$tmp/err"
[ $? -eq 2 ] && grep -q "precision 'fp8': give fp32 or bf16" "$tmp/err" || fail "fp8: $(cat "$tmp/err")"
[ -e "$tmp/x" ] && fail "a refused configuration made $tmp/x"

# a CPU run: device stored resolved, precision as given
$bmx flad "${common[@]}" --rounds 4 --out "$tmp/cpu" >/dev/null 2>"$tmp/log" || fail "cpu run: $(cat "$tmp/log")"
grep -q "^device *= cpu$" "$tmp/cpu/config.txt" && grep -q "^precision *= *$" "$tmp/cpu/config.txt" ||
    fail "config.txt: $(tail -3 "$tmp/cpu/config.txt")"
cp -r "$tmp/cpu" "$tmp/cpu0"

# --device cuda: runs on a GPU, or fails with the backend's reason
$bmx flad "${common[@]}" --rounds 4 --out "$tmp/probe" --device cuda >/dev/null 2>"$tmp/probe.err"
rc=$?
if [ $rc != 0 ]; then
    [ $rc = 1 ] || fail "--device cuda without a GPU should exit 1 (BMX_ESTATE), not $rc: $(cat "$tmp/probe.err")"
    grep -q "built without CUDA\|no CUDA\|CUDA device\|GPU\|driver" "$tmp/probe.err" ||
        fail "--device cuda failed without a reason: $(cat "$tmp/probe.err")"
    [ ! -e "$tmp/probe/checkpoint.bin" ] && [ ! -e "$tmp/probe/log.jsonl" ] ||
        fail "a failed --device cuda run left a checkpoint or a log"
    # a resume on cuda is not refused as other settings; it fails the same way, the folder intact
    $bmx flad --resume --out "$tmp/cpu" --rounds 6 --device cuda --quiet >/dev/null 2>"$tmp/err"
    [ $? = 1 ] && ! grep -q "other settings" "$tmp/err" && grep -q "CUDA\|GPU\|driver" "$tmp/err" ||
        fail "resume on cuda without a GPU: $(cat "$tmp/err")"
    for f in log.jsonl checkpoint.bin result.json; do
        cmp -s "$tmp/cpu/$f" "$tmp/cpu0/$f" || fail "a failed resume on cuda changed $f"
    done
    echo "the GPU parts are skipped: --device cuda says: $(tail -1 "$tmp/probe.err")"
    exit 0
fi
grep -q "^device *= cuda$" "$tmp/probe/config.txt" || fail "cuda not stored"
[ "$(grep -c '"type":"round"' "$tmp/probe/log.jsonl")" = 4 ] || fail "4 rounds on cuda (bf16)"

# fp32 on cuda against the CPU: theta_0's validation (the first best) and round 1's losses
$bmx flad "${common[@]}" --rounds 4 --out "$tmp/g32" --device cuda --precision fp32 >/dev/null \
    2>"$tmp/log" || fail "cuda fp32: $(cat "$tmp/log")"
python3 - "$tmp/cpu0/log.jsonl" "$tmp/g32/log.jsonl" <<'PY' || fail "cuda fp32 against the CPU"
import json, sys
c = [json.loads(l) for l in open(sys.argv[1]) if '"type":"round"' in l]
g = [json.loads(l) for l in open(sys.argv[2]) if '"type":"round"' in l]
assert c[0]["best_val"] == g[0]["best_val"], (c[0], g[0])  # theta_0 scored alike
for k in ("target_loss", "aux_loss", "reward"):
    assert abs(c[0][k] - g[0][k]) <= 1e-4 * abs(c[0][k]), (k, c[0][k], g[0][k])
print("round 1 cpu/cuda fp32:", [(k, c[0][k], g[0][k]) for k in ("target_loss", "reward")])
PY
# deterministic on the GPU
$bmx flad "${common[@]}" --rounds 4 --out "$tmp/g32b" --device cuda --precision fp32 >/dev/null 2>&1 ||
    fail "cuda fp32 again"
cmp -s "$tmp/g32/log.jsonl" "$tmp/g32b/log.jsonl" && cmp -s "$tmp/g32/checkpoint.bin" "$tmp/g32b/checkpoint.bin" ||
    fail "two cuda runs differ"
# the CPU run resumes on the GPU
$bmx flad --resume --out "$tmp/cpu" --rounds 8 --device cuda --quiet >/dev/null 2>"$tmp/err" ||
    fail "resume on cuda: $(cat "$tmp/err")"
grep -q "^device *= cuda$" "$tmp/cpu/config.txt" || fail "the resume did not switch device"
[ "$(grep -c '"type":"round"' "$tmp/cpu/log.jsonl")" = 8 ] || fail "8 rounds after the resume on cuda"
head -c "$(stat -c %s "$tmp/cpu0/log.jsonl")" "$tmp/cpu/log.jsonl" | cmp -s - "$tmp/cpu0/log.jsonl" ||
    fail "the resume changed the CPU rounds"
# flad-compare on cuda
$bmx flad-compare --tasks "$tmp/t" --tok "$tmp/tok" --init-random 1,2,16,48 --batch 2 --seq 40 \
    --eval-every 2 --threads 1 --targets fx-color,fx-count --splits 1 --rounds 2 \
    --methods target-only,exp3 --device cuda --out "$tmp/cmp" >/dev/null 2>"$tmp/err" ||
    fail "flad-compare on cuda: $(cat "$tmp/err")"
grep -q "^device *= cuda$" "$tmp/cmp/fx-color/s0/exp3/config.txt" || fail "flad-compare did not run on cuda"
echo "GPU: flad on cuda (bf16, fp32 against the CPU, deterministic), CPU -> cuda resume, flad-compare: ok"
