#!/usr/bin/env bash
# --device / --precision from the command line. Everywhere: bad values are refused naming
# them (bmx flad's too: tests/cli/test_flad_device.sh runs FLAD on the devices), config.txt
# stores the resolved device and precision, and --device cuda without a usable GPU (or without
# CUDA in the build) fails with
# the reason. With a GPU: a SIGKILLed and resumed GPU run ends with the same log.jsonl and
# checkpoint.bin bytes as one that never stopped; a GPU checkpoint resumes on the CPU; and
# bmx compare runs two policies with --device cuda. Without a GPU those parts are skipped,
# saying so (the test still checks everything else).
set -euo pipefail
bmx="$BMX_BUILD/bmx"
. "$BMX_ROOT/tests/cli/lib.sh"
scratch cuda
bash "$BMX_ROOT/tests/cli/rundata.sh" "$t/d"
data="$t/d/corpus"
tiny=(--data "$data" --layers 1 --width 32 --heads 2 --seq 16 --batch 4 --accum 3
      --eval-windows 8 --threads 1 --warmup 5 --policy odm --seed 7)

expect 2 "device 'tpu': give cpu or cuda" "$bmx" train "${tiny[@]}" --out "$t/x" --device tpu
expect 2 "precision bf16 is for --device cuda" "$bmx" train "${tiny[@]}" --out "$t/x" --precision bf16
expect 2 "precision 'fp8': give fp32 or bf16" "$bmx" train "${tiny[@]}" --out "$t/x" --device cuda --precision fp8
expect 2 "device 'tpu': give cpu or cuda" "$bmx" flad --target x --out "$t/f" --device tpu
"$bmx" train "${tiny[@]}" --out "$t/cpu" --steps 3 2>"$t/err" || fail "cpu run: $(cat "$t/err")"
grep -q "^device *= cpu$" "$t/cpu/config.txt" || fail "device not stored: $(cat "$t/cpu/config.txt")"
grep -q "^precision *= fp32$" "$t/cpu/config.txt" || fail "precision not stored"

# --device cuda: runs on a GPU, or fails saying why
set +e
"$bmx" train "${tiny[@]}" --out "$t/probe" --steps 1 --device cuda 2>"$t/probe.err"
rc=$?
set -e
if [ $rc != 0 ]; then
    grep -q "built without CUDA\|no CUDA\|CUDA device\|GPU\|driver" "$t/probe.err" ||
        fail "--device cuda failed without a reason: $(cat "$t/probe.err")"
    [ ! -f "$t/probe/checkpoint.bin" ] || fail "a failed --device cuda run left a checkpoint"
    echo "the GPU parts are skipped: --device cuda says: $(tail -1 "$t/probe.err")"
    exit 0
fi
grep -q "^device *= cuda$" "$t/probe/config.txt" || fail "cuda not stored"
grep -q "^precision *= bf16$" "$t/probe/config.txt" || fail "bf16 is the default on cuda"

# SIGKILL + resume on the GPU: byte-identical log and checkpoint
args=("${tiny[@]}" --steps 200 --eval-every 20 --ckpt-every 7 --device cuda)
t0=$(date +%s%N)
"$bmx" train "${args[@]}" --out "$t/a" 2>"$t/a.err" || fail "GPU run: $(cat "$t/a.err")"
dur_ms=$((($(date +%s%N) - t0) / 1000000 + 1))
echo "an uninterrupted GPU run takes $dur_ms ms"
RANDOM=$$
seed=$RANDOM
echo "kill schedule seed $seed"
RANDOM=$seed
kills=0
started=0
for round in $(seq 1 30); do
    if [ $started = 0 ] || [ ! -f "$t/b/config.txt" ]; then
        rm -rf "$t/b"
        "$bmx" train "${args[@]}" --out "$t/b" 2>"$t/b.err" &
        started=1
    else
        "$bmx" train --resume --out "$t/b" 2>"$t/b.err" &
    fi
    pid=$!
    ms=$((dur_ms / 4 + RANDOM % (dur_ms * 7 / 10 + 1)))
    sleep "$((ms / 1000)).$(printf '%03d' $((ms % 1000)))"
    if kill -0 $pid 2>/dev/null && [ $kills -lt 4 ]; then
        kill -9 $pid 2>/dev/null || true
        wait $pid 2>/dev/null || true
        kills=$((kills + 1))
        continue
    fi
    wait $pid || fail "resumed GPU run failed: $(cat "$t/b.err")"
    break
done
echo "killed $kills times"
[ $kills -ge 1 ] || fail "no kill landed inside the GPU run"
cmp "$t/a/log.jsonl" "$t/b/log.jsonl" || fail "GPU logs differ after SIGKILL + resume"
cmp "$t/a/checkpoint.bin" "$t/b/checkpoint.bin" || fail "GPU weights differ after SIGKILL + resume"

# the GPU checkpoint resumes on the CPU (and is extended there)
cp -r "$t/a" "$t/oncpu"
"$bmx" train --resume --out "$t/oncpu" --steps 205 --device cpu 2>"$t/c.err" ||
    fail "GPU checkpoint on the CPU: $(cat "$t/c.err")"
grep -q "^device *= cpu$" "$t/oncpu/config.txt" || fail "the CPU resume did not switch device"
[ "$(grep -c '"type":"step"' "$t/oncpu/log.jsonl")" = 205 ] || fail "205 steps after the CPU resume"
python3 - "$t/a/log.jsonl" "$t/oncpu/log.jsonl" <<'PY'
import json, sys
a = [json.loads(l) for l in open(sys.argv[1]) if '"type":"step"' in l]
b = [json.loads(l) for l in open(sys.argv[2]) if '"type":"step"' in l]
# the CPU continues where the GPU stopped: the first CPU steps' losses near the last GPU ones
la, lb = sum(r["loss"] for r in a[-5:]) / 5, sum(r["loss"] for r in b[-5:]) / 5
print(f"last 5 GPU steps mean loss {la:.4f}, 5 CPU steps after the resume {lb:.4f}")
assert abs(la - lb) < 0.25 * la, (la, lb)
PY

# bmx compare of two policies on the GPU
"$bmx" compare --data "$data" --out "$t/cmp" --methods uniform,odm --seeds 1 --steps 20 \
    --layers 1 --width 32 --heads 2 --seq 16 --batch 4 --accum 3 --eval-windows 8 --warmup 5 \
    --device cuda 2>"$t/cmp.err" || fail "compare --device cuda: $(cat "$t/cmp.err")"
[ -f "$t/cmp/report.html" ] || fail "no report"
for m in uniform odm; do
    grep -q "^device *= cuda$" "$t/cmp/$m-s1/config.txt" || fail "$m did not run on cuda"
    [ "$(grep -c '"type":"step"' "$t/cmp/$m-s1/log.jsonl")" = 20 ] || fail "$m: 20 steps"
done
echo "GPU: resume exact, CPU resume of a GPU checkpoint, compare on cuda: ok"
