#!/usr/bin/env bash
# Data-parallel runs under mpirun (bmx/dist.h, bmx/run.h "Data-parallel runs"), 2 ranks on
# this machine: tiny odm and exp3 trainings; 2 ranks x accum 2 against 1 process x accum 4
# (the same arms and windows in the same order, losses within 1e-6 relative, parameters
# within 1e-6 relative in L2 norm);
# the lockstep digests equal on both ranks at every step; a resume after SIGKILL of the whole
# job (on a progress marker) byte-identical to an uninterrupted 2-rank run, and a resume with
# another number of ranks or another --reduce refused; a killed rank ends the job with an error and the last
# checkpoint still resumes; a hung rank stops the job after --dist-timeout; doremi and
# compare run on 2 ranks (doremi's weights as 1 process). Skips (77) when bmx was built without MPI or mpirun is missing.
set -euo pipefail
bmx="$BMX_BUILD/bmx"
if ! ls "$BMX_BUILD"/.cuda*-mpi1 >/dev/null 2>&1; then
    echo "SKIP: bmx was built without MPI (no mpicc when it was built): apt-get install libopenmpi-dev openmpi-bin, then make"
    exit 77
fi
command -v mpirun >/dev/null || { echo "SKIP: no mpirun on PATH (apt-get install openmpi-bin)"; exit 77; }
t=$(mktemp -d /tmp/bmx_cli_dist_XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    rm -rf "$t"
}
trap cleanup EXIT
. "$BMX_ROOT/tests/cli/lib.sh"
# as root (CI) Open MPI wants both; Open MPI leaks at exit by design: no leak reports (ASan)
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
mpi=(mpirun --allow-run-as-root --oversubscribe --bind-to none -np 2)
bash "$BMX_ROOT/tests/cli/rundata.sh" "$t/d"
base=(--data "$t/d/corpus" --layers 1 --width 32 --heads 2 --seq 16 --batch 4 --eval-windows 8
      --threads 1 --warmup 2 --seed 7)

# wait (at most 20 s) until the given processes are gone (a SIGKILLed rank may still hold
# the run folder's lock for a moment after mpirun ended)
gone() {
    for p in "$@"; do
        for i in $(seq 1 400); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
    done
}
# start_job OUT STEP ARGS...: start a 2-rank bmx train with ARGS into OUT in the background
# (its pid in job, its output in OUT.out), wait until it has logged step STEP (it fails if
# the job ends first), then put its rank 1 process in r1
start_job() {
    local out=$1 step=$2 i p
    shift 2
    "${mpi[@]}" "$bmx" train "${base[@]}" "$@" --out "$out" >"$out.out" 2>&1 &
    job=$!
    pids+=($job)
    for i in $(seq 1 3000); do
        grep -q "\"type\":\"step\",\"step\":$step," "$out/log.jsonl" 2>/dev/null && break
        kill -0 $job 2>/dev/null || fail "the job ended early: $(cat "$out.out")"
        sleep 0.01
    done
    r1=""
    for p in $(pgrep -f -- "--out $out" || true); do
        tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx 'OMPI_COMM_WORLD_RANK=1' && r1=$p
    done
    [ -n "$r1" ] || fail "no rank 1 process found"
}
steps_of() { grep -c '"type":"step"' "$1/log.jsonl" 2>/dev/null || true; }

# 0. every collective of bmx/dist.h across 2 ranks, with known values (tests/test_dist.c)
"${mpi[@]}" "$BMX_BUILD/tests/test_dist" ranks >"$t/unit.out" 2>&1 || fail "test_dist ranks: $(cat "$t/unit.out")"
[ "$(grep -c '^ok ranks$' "$t/unit.out")" = 2 ] || fail "test_dist ranks on both ranks: $(cat "$t/unit.out")"
echo "collectives on 2 ranks (test_dist ranks): ok"

# 1. tiny trainings with odm and exp3 on 2 ranks
for pol in odm exp3; do
    "${mpi[@]}" "$bmx" train "${base[@]}" --policy $pol --steps 6 --accum 2 --eval-every 3 \
        --ckpt-every 3 --out "$t/$pol" >"$t/$pol.out" 2>&1 || fail "2-rank $pol run: $(cat "$t/$pol.out")"
    [ "$(steps_of "$t/$pol")" = 6 ] || fail "$pol: 6 step records"
    grep -q '"tokens_per_step":256,"ranks":2,' "$t/$pol/log.jsonl" || fail "$pol: header ranks/tokens_per_step: $(head -c 400 "$t/$pol/log.jsonl")"
    grep -q '"step":6,.*"tokens":1536,' "$t/$pol/log.jsonl" || fail "$pol: 1536 tokens after 6 steps"
    [ "$(grep -c 'bmx train: done' "$t/$pol.out")" = 1 ] || fail "$pol: rank 0 alone reports"
    echo "2-rank $pol run: ok"
done

# 2. equivalence: 2 ranks x accum 2 == 1 process x accum 4 (odm ordered; exp3 allreduce)
compare_runs() { # one-process run, 2-rank run
    python3 - "$1" "$2" <<'PY'
import json, struct, sys, math
a_dir, b_dir = sys.argv[1], sys.argv[2]
la = [json.loads(l) for l in open(a_dir + "/log.jsonl")][1:]
lb = [json.loads(l) for l in open(b_dir + "/log.jsonl")][1:]
assert len(la) == len(lb) and len(la) > 0, "record counts %d %d" % (len(la), len(lb))
worst = 0.0
for x, y in zip(la, lb):
    assert x["type"] == y["type"] and x["step"] == y["step"], (x["type"], y["type"])
    if x["type"] == "step":
        # the same arms in the same order: counts per domain and tokens exactly
        assert x["domain_count"] == y["domain_count"], ("arms", x["step"], x["domain_count"], y["domain_count"])
        assert x["tokens"] == y["tokens"]
        for k in ("loss", "grad_norm"):
            worst = max(worst, abs(x[k] - y[k]) / abs(x[k]))
        for u, v in zip(x["domain_loss"], y["domain_loss"]):
            assert (u is None) == (v is None)
            if u is not None:
                worst = max(worst, abs(u - v) / abs(u))
    else:
        for u, v in zip(x["loss"], y["loss"]):
            worst = max(worst, abs(u - v) / abs(u))
def params(d):  # the "params" section (bmx/checkpoint.h)
    b = open(d + "/checkpoint.bin", "rb").read()
    for i in range(struct.unpack_from("<I", b, 12)[0]):
        e = 16 + 32 * i
        if b[e:e + 8].rstrip(b"\0") == b"params":
            off, n = struct.unpack_from("<QQ", b, e + 8)
            return struct.unpack_from("<%df" % (n // 4), b, off)
    raise SystemExit("no params section in " + d)
pa, pb = params(a_dir), params(b_dir)
assert len(pa) == len(pb)
num = math.sqrt(sum((u - v) ** 2 for u, v in zip(pa, pb)))
den = math.sqrt(sum(u * u for u in pa))
pmax = max(abs(u - v) for u, v in zip(pa, pb)) / max(abs(u) for u in pa)
print("records: worst relative difference %.3g; parameters: relative L2 %.3g, max|diff|/max|p| %.3g (%d floats)" % (worst, num / den, pmax, len(pa)))
assert worst <= 1e-6, "loss differs by %.3g relative" % worst
# relative on the parameter vector (L2); the largest single-element difference is printed
# (the float sums of the gradient are grouped differently, and AdamW's division by
# sqrt(v) amplifies that rounding in elements whose gradient nearly cancels)
assert num / den <= 1e-6, "parameters differ by %.3g relative (L2)" % (num / den)
PY
}
for pr in "odm ordered 7" "exp3 allreduce 11"; do
    set -- $pr
    "$bmx" train "${base[@]}" --seed $3 --policy $1 --steps 8 --accum 4 --eval-every 4 --out "$t/one-$1" \
        2>"$t/one-$1.err" || fail "1-process $1 run: $(cat "$t/one-$1.err")"
    "${mpi[@]}" "$bmx" train "${base[@]}" --seed $3 --policy $1 --steps 8 --accum 2 --eval-every 4 \
        --reduce $2 --out "$t/two-$1" >"$t/two-$1.out" 2>&1 || fail "2-rank $1 run: $(cat "$t/two-$1.out")"
    echo -n "$1, --reduce $2: "
    compare_runs "$t/one-$1" "$t/two-$1" || fail "2 ranks x 2 != 1 x 4 for $1"
done

# 2b. doremi (three stages) and compare on 2 ranks; doremi's weights as 1 process x accum 4
small=(--steps 4 --eval-every 2 --ckpt-every 2)
"$bmx" doremi "${base[@]}" "${small[@]}" --accum 4 --out "$t/dor1" >"$t/dor1.out" 2>&1 || fail "1-process doremi: $(cat "$t/dor1.out")"
"${mpi[@]}" "$bmx" doremi "${base[@]}" "${small[@]}" --accum 2 --out "$t/dor2" >"$t/dor2.out" 2>&1 || fail "2-rank doremi: $(cat "$t/dor2.out")"
python3 - "$t/dor1/weights.txt" "$t/dor2/weights.txt" <<'PY' || fail "doremi weights differ"
import sys
a = [float(x) for x in open(sys.argv[1]).read().split(",")]
b = [float(x) for x in open(sys.argv[2]).read().split(",")]
worst = max(abs(u - v) / abs(u) for u, v in zip(a, b))
print("doremi weights, 2 ranks x 2 against 1 x 4: %s, worst relative difference %.3g" % (b, worst))
assert len(a) == len(b) == 3 and worst <= 1e-6
PY
[ "$(grep -c 'bmx doremi: done' "$t/dor2.out")" = 1 ] || fail "doremi: rank 0 alone reports"
"${mpi[@]}" "$bmx" compare "${base[@]:0:${#base[@]}-2}" "${small[@]}" --accum 2 --methods uniform,odm --seeds 1 \
    --out "$t/cmp" >"$t/cmp.out" 2>&1 || fail "2-rank compare: $(cat "$t/cmp.out")"
[ -s "$t/cmp/report.html" ] && grep -q '"ranks":2' "$t/cmp/odm-s1/log.jsonl" || fail "compare's report and runs"
echo "doremi and compare on 2 ranks: ok"

# 3. the lockstep digests, every step, equal on both ranks
"${mpi[@]}" "$bmx" train "${base[@]}" --policy odm --steps 5 --accum 2 --eval-every 0 \
    --dist-check-every-step --out "$t/dig" >"$t/dig.out" 2>&1 || fail "digest run: $(cat "$t/dig.out")"
for what in "the policy and generator state" "the model parameters"; do
    r0=$(grep "bmx: rank 0: step [0-9]*: $what digest" "$t/dig.out" | sed 's/.*step \([0-9]*\):.* digest /\1 /' | sort -n)
    r1=$(grep "bmx: rank 1: step [0-9]*: $what digest" "$t/dig.out" | sed 's/.*step \([0-9]*\):.* digest /\1 /' | sort -n)
    [ "$(echo "$r0" | wc -l)" -ge 5 ] || fail "digests of $what at every step: $(cat "$t/dig.out")"
    [ "$r0" = "$r1" ] || fail "digests of $what differ: rank 0: $r0 rank 1: $r1"
done
[ "$(grep 'step 3: the policy' "$t/dig.out" | sed 's/.*digest //' | sort -u | wc -l)" = 1 ] || fail "step 3 digest"
echo "digests equal on both ranks at every step: ok ($(grep -c 'digest' "$t/dig.out") lines)"

# 4. SIGKILL of the whole job on a progress marker, resume: byte-identical to no kill
run=(--policy odm --steps 40 --accum 2 --eval-every 10 --ckpt-every 3)
"${mpi[@]}" "$bmx" train "${base[@]}" "${run[@]}" --out "$t/a" >"$t/a.out" 2>&1 || fail "uninterrupted 2-rank run: $(cat "$t/a.out")"
"${mpi[@]}" "$bmx" train "${base[@]}" "${run[@]}" --out "$t/b" >"$t/b.out" 2>&1 &
job=$!
pids+=($job)
for i in $(seq 1 3000); do # the marker: the record of step 7 (a checkpoint was due at 6)
    grep -q '"type":"step","step":7,' "$t/b/log.jsonl" 2>/dev/null && break
    kill -0 $job 2>/dev/null || break
    sleep 0.01
done
ranks=$(pgrep -f -- "--out $t/b" || true)
kill -9 $job $ranks 2>/dev/null || true
wait $job 2>/dev/null || true
gone $ranks
n=$(steps_of "$t/b")
echo "killed the whole job (mpirun and ranks $(echo $ranks)) after $n step records"
[ "$n" -ge 7 ] && [ "$n" -lt 40 ] || fail "the kill did not land inside the run ($n step records)"
set +e
"$bmx" train --resume --out "$t/b" >"$t/b1.out" 2>&1
rc=$?
set -e
[ $rc = 1 ] || fail "a 1-process resume of a 2-rank run exited $rc"
grep -q "started on 2 ranks and this is 1; an exact resume needs the same number: run it again with mpirun -np 2" "$t/b1.out" || fail "ranks message: $(cat "$t/b1.out")"
grep -q '"ranks":2,"reduce":"allreduce"' "$t/b/log.jsonl" || fail "the header does not name the reduction: $(head -c 400 "$t/b/log.jsonl")"
set +e
"${mpi[@]}" "$bmx" train --resume --reduce ordered --out "$t/b" >"$t/b3.out" 2>&1
rc=$?
set -e
[ $rc != 0 ] || fail "a resume with another --reduce was accepted"
grep -q "started with --reduce allreduce and this is --reduce ordered; an exact resume needs the same reduction: run it again with --reduce allreduce" "$t/b3.out" || fail "reduce message: $(cat "$t/b3.out")"
"${mpi[@]}" "$bmx" train --resume --out "$t/b" >"$t/b2.out" 2>&1 || fail "2-rank resume: $(cat "$t/b2.out")"
cmp "$t/a/log.jsonl" "$t/b/log.jsonl" || fail "logs differ after SIGKILL + resume"
cmp "$t/a/checkpoint.bin" "$t/b/checkpoint.bin" || fail "checkpoints differ after SIGKILL + resume"
echo "resume after SIGKILL of the job: byte-identical"

# 5. a killed rank ends the job with an error; the last checkpoint resumes
start_job "$t/k" 5 --policy exp3 --steps 100000 --accum 2 --eval-every 0 --ckpt-every 2 \
    --dist-timeout 30
t0=$(date +%s)
kill -9 "$r1"
ranks=$(pgrep -f -- "--out $t/k" || true)
set +e
timeout 120 tail --pid=$job -f /dev/null
wait $job
rc=$?
set -e
dt=$(($(date +%s) - t0))
gone $ranks
echo "rank 1 (pid $r1) killed: the job ended in ${dt} s with status $rc; it said:"
grep -iE "rank|signal|killed" "$t/k.out" | grep -v ' step ' | head -5
[ $rc -ne 0 ] || fail "the job exited 0 after a rank was killed"
[ $dt -le 60 ] || fail "the job took ${dt} s to end"
grep -qiE "rank 1 .*(exited on signal 9|killed)|rank 1.*signal 9|no answer from the other ranks|MPI failed" "$t/k.out" || fail "no clear message: $(tail -20 "$t/k.out")"
last=$(grep -o '"type":"step","step":[0-9]*' "$t/k/log.jsonl" | tail -1 | sed 's/.*://')
"${mpi[@]}" "$bmx" train --resume --out "$t/k" --steps $((last + 2)) >"$t/k2.out" 2>&1 || fail "the last checkpoint does not resume: $(cat "$t/k2.out")"
grep -q "resuming" "$t/k2.out" || fail "resume message: $(cat "$t/k2.out")"
echo "a killed rank: ok"

# 6. a rank that hangs (SIGSTOP: mpirun sees nothing) stops the job after --dist-timeout
start_job "$t/h" 3 --policy odm --steps 100000 --accum 2 --eval-every 0 --ckpt-every 0 \
    --dist-timeout 3
pids+=($r1)
t0=$(date +%s)
kill -STOP "$r1"
set +e
timeout 120 tail --pid=$job -f /dev/null
wait $job
rc=$?
set -e
kill -9 "$r1" 2>/dev/null || true
dt=$(($(date +%s) - t0))
echo "rank 1 stopped (SIGSTOP): the job ended in ${dt} s with status $rc; rank 0 said:"
grep "no answer" "$t/h.out" | head -2
[ $rc -ne 0 ] || fail "the job exited 0 with a hung rank"
[ $dt -le 60 ] || fail "the job took ${dt} s to end with --dist-timeout 3"
grep -q "rank 0: .*no answer from the other ranks after [0-9]* s: a rank died, hangs or was stopped" "$t/h.out" || fail "no timeout message: $(tail -20 "$t/h.out")"
echo "a hung rank: ok"
