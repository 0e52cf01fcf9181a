#!/usr/bin/env bash
# bmx train --resume is exact: a run killed with SIGKILL at varied points (during a step, during
# a validation, during a checkpoint write, before a checkpoint is renamed into place) and once
# stopped by SIGTERM, resumed each time until done, ends with the same checkpoint.bin and
# log.jsonl bytes as a run that never stopped. Also: a NaN loss stops the run with a message
# and leaves the last good checkpoint intact.
#
# The kills are not timed: tests/killpoint.c (LD_PRELOAD) raises the signal when the run
# reaches a chosen point of its progress (the record of step S, the W-th write of the
# checkpoint after step S, ...), so every kill lands inside the run whatever the machine's
# load, and the schedule, drawn from the printed seed, replays exactly:
#   BMX_TEST_SEED=N bash tests/cli/test_run_resume.sh
set -euo pipefail
root=${BMX_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
export BMX_ROOT=$root BMX_BUILD=${BMX_BUILD:-$root/build}
bmx="$BMX_BUILD/bmx"
. "$root/tests/cli/killsched.sh"
. "$root/tests/cli/lib.sh"
scratch resume
bash "$BMX_ROOT/tests/cli/rundata.sh" "$t/d"
common=(--data "$t/d/corpus" --steps 60 --layers 1 --width 32 --heads 2 --seq 16 --batch 4
      --accum 3 --eval-every 10 --ckpt-every 7 --eval-windows 8 --threads 1 --warmup 5
      --seed 7)

# the kill points library, built here (not a product of `make`)
${CC:-cc} -std=c11 -O1 -Wall -Wextra -Werror -shared -fPIC -o "$t/killpoint.so" \
    "$BMX_ROOT/tests/killpoint.c" -ldl 2>"$t/cc.err" || fail "cannot build tests/killpoint.c: $(cat "$t/cc.err")"
kp_env=(LD_PRELOAD="$t/killpoint.so")
# an ASan build needs its runtime first in the library list; a preloaded library comes first
if ldd "$bmx" 2>/dev/null | grep -q libasan; then
    kp_env+=(ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0")
fi

# the SIGKILL part runs with each policy whose state grows or waits on the engine: ado (a
# history and refits at t = 40: W = 10, U = 20) and aioli (validation on demand, probe
# rounds of 3 domains x 2 steps in rounds of 20 steps); the rest with odm
for pol in ado:warmup=10,interval=20 aioli:interval=20,rounds=1,probe=2 odm; do
args=("${common[@]}" --policy "$pol")

# the uninterrupted run, tracing every point it passes
env "${kp_env[@]}" BMX_KILLPOINT_TRACE="$t/points" "$bmx" train "${args[@]}" --out "$t/a" \
    2>"$t/a.err" || fail "uninterrupted run: $(cat "$t/a.err")"
grep -q "^policy *= ${pol%%:*}" "$t/a/config.txt" || fail "config.txt"
[ "$(grep -c '"type":"step"' "$t/a/log.jsonl")" = 60 ] || fail "60 step records"
mapfile -t points <"$t/points"
for kind in step eval ckpt commit; do
    grep -q "^$kind " "$t/points" || fail "the run passed no '$kind' point (tests/killpoint.c): $(head -c 300 "$t/points")"
done
echo "an uninterrupted run passes ${#points[@]} kill points"

# the schedule: one point of each kind and two more, in the order the run passes them (a
# resumed run starts again at its last checkpoint, before the point of the kill that
# stopped it, so it passes every later point)
seed=${BMX_TEST_SEED:-$(((RANDOM << 15 | RANDOM) % 1000000))}
echo "kill schedule seed $seed (replay: BMX_TEST_SEED=$seed BMX_BUILD=$BMX_BUILD bash tests/cli/test_run_resume.sh)"
RANDOM=$seed
kill_schedule step eval ckpt commit
echo "kill points: $(printf '%s, ' "${schedule[@]}" | sed 's/, $//')"

kills=0
for p in "${schedule[@]}" ""; do # the last round runs to the end
    if [ ! -f "$t/b/config.txt" ]; then
        rm -rf "$t/b"
        cmd=("$bmx" train "${args[@]}" --out "$t/b")
    else
        cmd=("$bmx" train --resume --out "$t/b")
    fi
    set +e
    if [ -n "$p" ]; then # (the outer 2>/dev/null: no "Killed" line from bash)
        { env "${kp_env[@]}" BMX_KILLPOINT="$p" "${cmd[@]}" 2>"$t/b.err"; } 2>/dev/null
    else
        "${cmd[@]}" 2>"$t/b.err"
    fi
    rc=$?
    set -e
    if [ -n "$p" ]; then
        [ $rc = 137 ] || fail "the run did not die at kill point '$p' (exit $rc): $(tail -3 "$t/b.err")"
        kills=$((kills + 1))
    else
        [ $rc = 0 ] || fail "resumed run failed (exit $rc): $(cat "$t/b.err")"
    fi
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
[ $pol = odm ] || rm -rf "$t/a" "$t/b" "$t/points"
done

# SIGTERM during a step (drawn from the seed, before the last): a checkpoint at that step's
# end, exit 143, then resume to the end
stop=$((1 + RANDOM % 59))
echo "SIGTERM during step $stop"
set +e
env "${kp_env[@]}" BMX_KILLPOINT="step $stop" BMX_KILLPOINT_SIG=15 "$bmx" train "${args[@]}" \
    --out "$t/c" 2>"$t/c.err"
rc=$?
set -e
[ $rc = 143 ] || fail "SIGTERM exit status $rc: $(cat "$t/c.err")"
grep -q "stopped by signal.*--resume --out" "$t/c.err" || fail "stop message: $(cat "$t/c.err")"
[ "$(grep -c '"type":"step"' "$t/c/log.jsonl")" = $stop ] || fail "SIGTERM during step $stop: the log does not end at step $stop"
"$bmx" train --resume --out "$t/c" 2>"$t/c.err" || fail "resume after SIGTERM: $(cat "$t/c.err")"
cmp "$t/a/log.jsonl" "$t/c/log.jsonl" || fail "logs differ after SIGTERM + resume"
cmp "$t/a/checkpoint.bin" "$t/c/checkpoint.bin" || fail "weights differ after SIGTERM + resume"

# extending a finished run: --resume --steps 70 continues from step 60
"$bmx" train --resume --out "$t/c" --steps 70 2>"$t/c.err" || fail "extend: $(cat "$t/c.err")"
[ "$(grep -c '"type":"step"' "$t/c/log.jsonl")" = 70 ] || fail "70 step records after extending"
grep -q "^steps *= 70$" "$t/c/config.txt" || fail "config.txt does not record the new --steps"
"$bmx" train --resume --out "$t/c" 2>"$t/c.err" || fail "resume of a finished, extended run: $(cat "$t/c.err")"

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
echo "resume exactness: ok"
