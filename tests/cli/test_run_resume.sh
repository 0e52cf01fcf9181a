#!/usr/bin/env bash
# bmx train --resume is exact: a run killed with SIGKILL at random moments (and once stopped
# by SIGTERM), resumed each time until done, ends with the same checkpoint.bin and
# log.jsonl bytes as a run that never stopped. Also: a NaN loss stops the run with a
# message and leaves the last good checkpoint intact.
set -euo pipefail
bmx="$BMX_BUILD/bmx"
t=$(mktemp -d /tmp/bmx_cli_resume_XXXXXX)
trap 'rm -rf "$t"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
bash "$BMX_ROOT/tests/cli/rundata.sh" "$t/d"
common=(--data "$t/d/corpus" --steps 60 --layers 1 --width 32 --heads 2 --seq 16 --batch 4
      --accum 3 --eval-every 10 --ckpt-every 7 --eval-windows 8 --threads 1 --warmup 5
      --seed 7)
# the SIGKILL part runs with each policy whose state grows or waits on the engine: ado (a
# history and refits at t = 40: W = 10, U = 20) and aioli (validation on demand, probe
# rounds of 3 domains x 2 steps in rounds of 20 steps); the rest with odm
for pol in ado:warmup=10,interval=20 aioli:interval=20,rounds=1,probe=2 odm; do
args=("${common[@]}" --policy "$pol")

t0=$(date +%s%N)
"$bmx" train "${args[@]}" --out "$t/a" 2>"$t/a.err" || fail "uninterrupted run: $(cat "$t/a.err")"
dur_ms=$((($(date +%s%N) - t0) / 1000000 + 1))
echo "an uninterrupted run takes $dur_ms ms"
grep -q "^policy *= ${pol%%:*}" "$t/a/config.txt" || fail "config.txt"
[ "$(grep -c '"type":"step"' "$t/a/log.jsonl")" = 60 ] || fail "60 step records"

# kill -9 at random moments (seeded so a failure can be replayed), resume until done
RANDOM=$$
seed=$RANDOM
echo "kill schedule seed $seed"
RANDOM=$seed
kills=0
started=0
for round in $(seq 1 40); do
    if [ $started = 0 ] || [ ! -f "$t/b/config.txt" ]; then
        rm -rf "$t/b"
        "$bmx" train "${args[@]}" --out "$t/b" 2>"$t/b.err" &
        started=1
    else
        "$bmx" train --resume --out "$t/b" 2>"$t/b.err" &
    fi
    pid=$!
    # a random moment within the run's duration (the first kill always lands within it)
    ms=$((RANDOM % (kills == 0 ? dur_ms * 8 / 10 + 1 : dur_ms + 1)))
    sleep "$((ms / 1000)).$(printf '%03d' $((ms % 1000)))"
    if kill -0 $pid 2>/dev/null && [ $kills -lt 6 ]; then
        kill -9 $pid 2>/dev/null || true
        wait $pid 2>/dev/null || true
        kills=$((kills + 1))
        continue
    fi
    wait $pid || fail "resumed run failed: $(cat "$t/b.err")"
    break
done
echo "$pol: killed $kills times"
[ $kills -ge 1 ] || fail "$pol: no kill landed inside the run"
[ -f "$t/b/checkpoint.bin" ] || fail "$pol: no final checkpoint"
cmp "$t/a/log.jsonl" "$t/b/log.jsonl" || fail "$pol: logs differ after SIGKILL + resume"
cmp "$t/a/checkpoint.bin" "$t/b/checkpoint.bin" || fail "$pol: weights differ after SIGKILL + resume"
case $pol in
aioli*)
    [ "$(grep -c '"probe":1' "$t/a/log.jsonl")" = 18 ] || fail "aioli: 3 rounds x 6 probe steps logged"
    "$bmx" report "$t/a" --out "$t/r.html" 2>/dev/null || fail "aioli: bmx report"
    grep -q "18 of its 60 steps were probe steps" "$t/r.html" || fail "aioli: the report does not count the probe steps"
    ;;
esac
[ $pol = odm ] || rm -rf "$t/a" "$t/b"
done

# SIGTERM: a checkpoint at a step boundary, exit 143, then resume to the end
"$bmx" train "${args[@]}" --out "$t/c" 2>"$t/c.err" &
pid=$!
for i in $(seq 1 100); do
    [ -f "$t/c/log.jsonl" ] && grep -q '"step":3,' "$t/c/log.jsonl" && break
    sleep 0.01
done
kill -TERM $pid 2>/dev/null || true
set +e
wait $pid
rc=$?
set -e
if [ $rc -ne 0 ]; then
    [ $rc = 143 ] || fail "SIGTERM exit status $rc: $(cat "$t/c.err")"
    grep -q "stopped by signal.*--resume --out" "$t/c.err" || fail "stop message: $(cat "$t/c.err")"
    "$bmx" train --resume --out "$t/c" 2>"$t/c.err" || fail "resume after SIGTERM: $(cat "$t/c.err")"
fi
cmp "$t/a/log.jsonl" "$t/c/log.jsonl" || fail "logs differ after SIGTERM + resume"
cmp "$t/a/checkpoint.bin" "$t/c/checkpoint.bin" || fail "weights differ after SIGTERM + resume"

# extending a finished run: --resume --steps 70 continues from step 60
"$bmx" train --resume --out "$t/c" --steps 70 2>"$t/c.err" || fail "extend: $(cat "$t/c.err")"
[ "$(grep -c '"type":"step"' "$t/c/log.jsonl")" = 70 ] || fail "70 step records after extending"
grep -q "^steps *= 70$" "$t/c/config.txt" || fail "config.txt does not record the new --steps"
"$bmx" train --resume --out "$t/c" 2>"$t/c.err" || fail "resume of a finished, extended run: $(cat "$t/c.err")"

# max-epochs: the drawn-token counts live in the checkpoint. Training tokens 26189, 22405,
# 20079, 64 tokens a draw, E = 0.02: caps after 9, 8 and 7 draws, so every domain is capped
# after 24 one-draw steps and the run stops there; stopped at step 10 and resumed, it stops
# at the same step with the same log.
cap=("${common[@]}" --policy uniform:max-epochs=0.02 --accum 1 --steps 200 --schedule 200)
"$bmx" train "${cap[@]}" --out "$t/cap1" 2>"$t/cap1.err" || fail "max-epochs run: $(cat "$t/cap1.err")"
grep -q "step 24 of 200: every domain has been drawn max-epochs times" "$t/cap1.err" ||
    fail "max-epochs stop message: $(cat "$t/cap1.err")"
"$bmx" train "${cap[@]}" --steps 10 --out "$t/cap2" 2>"$t/cap2.err" || fail "max-epochs, 10 steps"
"$bmx" train --resume --out "$t/cap2" --steps 200 2>"$t/cap2.err" || fail "max-epochs resume"
[ "$(grep -c '"type":"step"' "$t/cap2/log.jsonl")" = 24 ] || fail "max-epochs: resumed run did not stop at 24"
cmp <(grep '"type":"step"' "$t/cap1/log.jsonl") <(grep '"type":"step"' "$t/cap2/log.jsonl") ||
    fail "max-epochs: the resumed run's steps differ"

# a NaN/Inf loss stops the run; the last good checkpoint stays.
set +e
"$bmx" train "${args[@]}" --out "$t/n" --lr 1e30 --clip 0 --warmup 0 --ckpt-every 1 2>"$t/n.err"
rc=$?
set -e
[ $rc = 1 ] || fail "a diverging run exited $rc: $(cat "$t/n.err")"
grep -q "stopped (the last good checkpoint, step [0-9]*, is intact" "$t/n.err" || fail "NaN message: $(cat "$t/n.err")"
cat "$t/n.err" | tail -1
good=$(sed -E 's/.*checkpoint, step ([0-9]+),.*/\1/' <(tail -1 "$t/n.err"))
if [ "$good" -gt 0 ]; then
    "$bmx" train --resume --out "$t/n" --steps "$good" 2>"$t/n2.err" || fail "the last good checkpoint does not load: $(cat "$t/n2.err")"
fi
echo "resume exactness: ok"
