#!/usr/bin/env bash
# bmx flad --resume is exact, as bmx train's (tests/cli/test_run_resume.sh): a run killed with
# SIGKILL at varied points (during a round, during a checkpoint write, before a checkpoint is
# renamed into place) and once stopped by SIGTERM, resumed each time until done, ends with the
# same checkpoint.bin, log.jsonl and result.json bytes as a run that never stopped.
#
# The kills land at points of the run's progress (tests/killpoint.c, LD_PRELOAD: "step S" is
# the log record of round S), not at moments on the clock; the schedule is drawn from the
# printed seed and replays exactly:
#   BMX_TEST_SEED=N bash tests/cli/test_flad_resume.sh
set -euo pipefail
root=${BMX_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
export BMX_ROOT=$root BMX_BUILD=${BMX_BUILD:-$root/build}
bmx="$BMX_BUILD/bmx"
. "$root/tests/cli/killsched.sh"
t=$(mktemp -d /tmp/bmx_cli_flad_resume_XXXXXX)
trap 'rm -rf "$t"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
fx=$root/tests/fixtures/tasks

"$bmx" tasks build --skip-extract --raw "$fx" --out "$t/tasks" --tasks fx-color,fx-sound,fx-count \
    2>"$t/log" || fail "tasks build: $(cat "$t/log")"
cut -f4- "$fx"/*.raw | tr '\t' ' ' >"$t/text"
"$bmx" tok train --input "$t/text" --vocab-size 300 --out "$t/tok" 2>/dev/null || fail "tok train"

${CC:-cc} -std=c11 -O1 -Wall -Wextra -Werror -shared -fPIC -o "$t/killpoint.so" \
    "$BMX_ROOT/tests/killpoint.c" -ldl 2>"$t/cc.err" || fail "cannot build tests/killpoint.c: $(cat "$t/cc.err")"
kp_env=(LD_PRELOAD="$t/killpoint.so")
if ldd "$bmx" 2>/dev/null | grep -q libasan; then
    kp_env+=(ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0")
fi

common=(--tasks "$t/tasks" --tok "$t/tok" --init-random 1,2,16,48 --batch 2 --seq 40
    --target fx-color --holdout fx-count --rounds 24 --eval-every 3 --ckpt-every 5 --lr 3e-3
    --threads 1 --blas 0 --seed 3 --quiet)
seed=${BMX_TEST_SEED:-$(((RANDOM << 15 | RANDOM) % 1000000))}
echo "kill schedule seed $seed (replay: BMX_TEST_SEED=$seed BMX_BUILD=$BMX_BUILD bash tests/cli/test_flad_resume.sh)"
RANDOM=$seed

# each policy's state: exp3 with G = 2 draws (weights, the generator mid-round), exploit-only
# (the scoring pass before round 1, then a fixed pi), ucb1 with early stopping (patience 2 from
# round 6: the run ends before --rounds, and the stop must survive a kill)
for setting in "exp3 --aux-draws 2 --patience 0" "exploit-only --patience 0" \
    "ucb1 --patience 2 --min-rounds 6"; do
    read -r pol extra <<<"$setting"
    args=("${common[@]}" --policy "$pol" $extra)
    rm -rf "$t/a" "$t/b" "$t/points"
    env "${kp_env[@]}" BMX_KILLPOINT_TRACE="$t/points" "$bmx" flad "${args[@]}" --out "$t/a" \
        >"$t/a.out" 2>"$t/a.err" || fail "$pol: uninterrupted run: $(cat "$t/a.err")"
    rounds=$(grep -c '^{"type":"round"' "$t/a/log.jsonl")
    mapfile -t points <"$t/points"
    for kind in step ckpt commit; do
        grep -q "^$kind " "$t/points" || fail "$pol: the run passed no '$kind' point: $(head -c 300 "$t/points")"
    done
    echo "$pol: $rounds rounds, ${#points[@]} kill points"
    kill_schedule step ckpt commit
    echo "$pol: kill points: $(printf '%s, ' "${schedule[@]}" | sed 's/, $//')"
    kills=0
    for p in "${schedule[@]}" ""; do # the last one runs to the end
        if [ ! -f "$t/b/config.txt" ]; then
            rm -rf "$t/b"
            cmd=("$bmx" flad "${args[@]}" --out "$t/b")
        else
            cmd=("$bmx" flad --resume --out "$t/b" --quiet) # config.txt holds the rest
        fi
        set +e
        if [ -n "$p" ]; then
            { env "${kp_env[@]}" BMX_KILLPOINT="$p" "${cmd[@]}" >"$t/b.out" 2>"$t/b.err"; } 2>/dev/null
        else
            "${cmd[@]}" >"$t/b.out" 2>"$t/b.err"
        fi
        rc=$?
        set -e
        if [ -n "$p" ]; then
            [ $rc = 137 ] || fail "$pol: the run did not die at kill point '$p' (exit $rc): $(tail -3 "$t/b.err")"
            kills=$((kills + 1))
        else
            [ $rc = 0 ] || fail "$pol: resumed run failed (exit $rc): $(cat "$t/b.err")"
        fi
    done
    [ $kills -ge 3 ] || fail "$pol: only $kills kills landed inside the run"
    for f in log.jsonl checkpoint.bin result.json; do
        cmp "$t/a/$f" "$t/b/$f" || fail "$pol: $f differs after $kills kills + resume"
    done
    cmp "$t/a.out" "$t/b.out" || fail "$pol: the summary differs: $(cat "$t/a.out") / $(cat "$t/b.out")"
    case $pol in
    ucb1) grep -q '"stopped_early":true' "$t/a/result.json" && [ "$rounds" -lt 24 ] ||
        fail "ucb1: the run should stop early (patience 2 from round 6): $(cat "$t/a/result.json")" ;;
    *) [ "$rounds" = 24 ] || fail "$pol: $rounds rounds, not 24" ;;
    esac
done

# SIGTERM during round S (before the last): a checkpoint at that round's end, exit 143, then
# resume to the end (the exp3 run of the loop above is $t/a no more: make it again)
args=("${common[@]}" --policy exp3 --patience 0)
"$bmx" flad "${args[@]}" --out "$t/s" >/dev/null 2>"$t/s.err" || fail "straight run: $(cat "$t/s.err")"
stop=$((1 + RANDOM % 23))
echo "SIGTERM during round $stop"
set +e
env "${kp_env[@]}" BMX_KILLPOINT="step $stop" BMX_KILLPOINT_SIG=15 "$bmx" flad "${args[@]}" \
    --out "$t/c" 2>"$t/c.err" >/dev/null
rc=$?
set -e
[ $rc = 143 ] || fail "SIGTERM exit status $rc: $(cat "$t/c.err")"
grep -q "stopped by signal.*--resume --out" "$t/c.err" || fail "stop message: $(cat "$t/c.err")"
[ "$(grep -c '^{"type":"round"' "$t/c/log.jsonl")" = $stop ] || fail "SIGTERM during round $stop: the log does not end at round $stop"
"$bmx" flad --resume --out "$t/c" --quiet >/dev/null 2>"$t/c.err" || fail "resume after SIGTERM: $(cat "$t/c.err")"
for f in log.jsonl checkpoint.bin result.json; do
    cmp "$t/s/$f" "$t/c/$f" || fail "$f differs after SIGTERM + resume"
done

# a log cut short by hand (not at the checkpoint's length) is refused, naming the file
head -c 100 "$t/c/log.jsonl" >"$t/c/log.tmp" && mv "$t/c/log.tmp" "$t/c/log.jsonl"
set +e
"$bmx" flad --resume --out "$t/c" --quiet >/dev/null 2>"$t/c.err"
rc=$?
set -e
[ $rc = 1 ] && grep -q "changed by hand" "$t/c.err" && grep -q "$t/c/log.jsonl" "$t/c.err" ||
    fail "a cut log: exit $rc, $(cat "$t/c.err")"
echo "flad resume exactness: ok"
