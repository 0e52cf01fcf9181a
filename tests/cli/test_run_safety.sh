#!/usr/bin/env bash
# The run commands against hostile input and unlucky users (issue 11, items 5-7 and 11-13):
#   config    config.txt round-trips a '#' in a path and a newline in a value; a NUL byte and
#             an endless --config are errors naming the file
#   lock      a second train, resume, compare or doremi on a folder in use is refused, naming
#             the process that holds it
#   resume    a checkpoint whose run state disagrees with its header or with log.jsonl (CRCs
#             recomputed, as anyone can) and hand edits of config.txt are refused, the run
#             folder left as it was
#   house     stale temporaries go on resume; the NaN stop says when no checkpoint exists
#   memory    a model no machine holds fails at once with the estimate; runs print theirs
#   reward    a reward transform is refused for odm, odm-smoothed-mean, ado, aioli and doremi
# `bash test_run_safety.sh SECTION...` runs only those sections.
set -euo pipefail
bmx="$BMX_BUILD/bmx"
t=$(mktemp -d /tmp/bmx_cli_safety_XXXXXX)
bg=()
cleanup() {
    for p in "${bg[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$t"
}
trap cleanup EXIT
. "$BMX_ROOT/tests/cli/lib.sh"
bash "$BMX_ROOT/tests/cli/rundata.sh" "$t/d" >/dev/null
data="$t/d/corpus"
tiny=(--layers 1 --width 32 --heads 2 --seq 16 --batch 2 --accum 3 --eval-windows 4 --threads 1
      --warmup 2)
sections=${*:-config lock resume house memory reward}

# wait_for FILE PATTERN: until FILE holds PATTERN (10 s at most)
wait_for() {
    for _ in $(seq 1 500); do
        grep -q -- "$2" "$1" 2>/dev/null && return 0
        sleep 0.02
    done
    fail "$1 never held '$2'"
}

for s in $sections; do
case $s in
config)
    ln -s "$data" "$t/d#1"
    "$bmx" train --data "$t/d#1" --out "$t/h" "${tiny[@]}" --steps 2 --method $'two\nsteps = 99' \
        2>"$t/err" || fail "train on d#1: $(tail -3 "$t/err")"
    ! grep -q "^steps *= 99" "$t/h/config.txt" || fail "a newline in --method injected a key"
    grep -q "^data *= \"$t/d#1\"$" "$t/h/config.txt" || fail "data not quoted: $(cat "$t/h/config.txt")"
    "$bmx" train --resume --out "$t/h" --steps 3 2>"$t/err" || fail "resume of d#1: $(tail -3 "$t/err")"
    [ "$(grep -c '"type":"step"' "$t/h/log.jsonl")" = 3 ] || fail "3 steps after resuming"
    grep -q '"method":"two\\nsteps = 99"' "$t/h/log.jsonl" || fail "method not kept exactly"
    printf 'steps = 5\nlr = 0.1\0 garbage\n' >"$t/nul.cfg"
    expect 2 "nul.cfg:2: a NUL byte at column 9" "$bmx" train --config "$t/nul.cfg"
    if [ -r /dev/zero ]; then
        expect 2 "/dev/zero" "$bmx" train --config /dev/zero
    fi
    ;;
lock)
    "$bmx" train --data "$data" --out "$t/l" "${tiny[@]}" --steps 100000 --eval-every 0 \
        --ckpt-every 0 2>/dev/null &
    pid=$!
    bg+=("$pid")
    wait_for "$t/l/log.jsonl" '"type":"step"'
    [ "$(cat "$t/l/lock")" = "$pid" ] || fail "RUN/lock does not hold the pid $pid"
    cp "$t/l/config.txt" "$t/l.cfg"
    expect 1 "$t/l is in use by another bmx run, process $pid" "$bmx" train --resume --out "$t/l"
    expect 1 "$t/l is in use by another bmx run, process $pid" \
        "$bmx" train --data "$data" --out "$t/l" "${tiny[@]}" --steps 3
    cmp "$t/l/config.txt" "$t/l.cfg" || fail "a refused run changed config.txt"
    kill -TERM "$pid"
    wait "$pid" || true
    # compare and doremi: their folders too (compare's and doremi's own lock)
    "$bmx" compare --data "$data" --out "$t/c" --methods uniform --steps 100000 --eval-every 0 \
        --ckpt-every 0 "${tiny[@]}" 2>/dev/null &
    pid=$!
    bg+=("$pid")
    wait_for "$t/c/uniform-s1/log.jsonl" '"type":"step"'
    expect 1 "$t/c is in use by another bmx run, process $pid" \
        "$bmx" compare --data "$data" --out "$t/c" --methods uniform --steps 3 "${tiny[@]}"
    expect 1 "uniform-s1 is in use by another bmx run, process $pid" \
        "$bmx" train --resume --out "$t/c/uniform-s1"
    kill -TERM "$pid"
    wait "$pid" || true
    "$bmx" doremi --data "$data" --out "$t/r" --steps 100000 --eval-every 0 --ckpt-every 0 \
        "${tiny[@]}" 2>/dev/null &
    pid=$!
    bg+=("$pid")
    wait_for "$t/r/reference/log.jsonl" '"type":"step"'
    expect 1 "$t/r is in use by another bmx run, process $pid" \
        "$bmx" doremi --data "$data" --out "$t/r" --steps 3 "${tiny[@]}"
    kill -TERM "$pid"
    wait "$pid" || true
    ;;
resume)
    "$bmx" train --data "$data" --out "$t/s" "${tiny[@]}" --steps 6 --eval-every 3 2>/dev/null ||
        fail "train for resume"
    cp "$t/s/checkpoint.bin" "$t/s.ck"
    cp "$t/s/log.jsonl" "$t/s.log"
    cp "$t/s/config.txt" "$t/s.cfg"
    # craft FIELD VALUE: the "run" section's field (8 step, 16 tokens, 24 log length; the
    # layout of bmx/checkpoint.h and bmx/run.h) set, its CRC and the table's CRC recomputed
    craft() {
        python3 - "$t/s.ck" "$t/s/checkpoint.bin" "$1" "$2" <<'PY'
import struct, sys, zlib
src, dst, off, val = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
b = bytearray(open(src, "rb").read())
assert b[:8] == b"BMXCKPT1" and struct.unpack_from("<I", b, 8)[0] == 2
n = struct.unpack_from("<I", b, 12)[0]
for i in range(n):
    e = 16 + 32 * i
    if b[e:e + 8].rstrip(b"\0") == b"run":
        o, ln = struct.unpack_from("<QQ", b, e + 8)
        assert ln == 32
        struct.pack_into("<q" if val < 0 else "<Q", b, o + off, val)
        struct.pack_into("<I", b, e + 24, zlib.crc32(bytes(b[o:o + ln])))
        break
else:
    sys.exit("no run section")
struct.pack_into("<I", b, 16 + 32 * n, zlib.crc32(bytes(b[:16 + 32 * n])))
open(dst, "wb").write(b)
PY
    }
    len=$(stat -c %s "$t/s.log")
    end5=$(grep -b '"type":"step","step":6,' "$t/s.log" | cut -d: -f1)
    for c in "24 0:log.jsonl held 0 bytes at step 6" "8 -1:its run state says step -1, its header step 6" \
        "8 -9223372036854775808:its run state says step -9223372036854775808" \
        "8 5:its run state says step 5, its header step 6" \
        "24 $end5:holds 5 step records up to the checkpoint's length" \
        "24 $((len - 1)):is not the end of a line" "24 $((len + 10)):held $((len + 10)) bytes"; do
        craft ${c%%:*}
        expect 1 "${c#*:}" "$bmx" train --resume --out "$t/s" --steps 8
        grep -q "checkpoint.bin" "$t/err" || fail "the message does not name the checkpoint"
        cmp "$t/s/log.jsonl" "$t/s.log" || fail "a refused resume (${c%%:*}) changed log.jsonl"
    done
    cp "$t/s.ck" "$t/s/checkpoint.bin"
    printf 'lr = 0.01\nweight_decay = 0\n' >>"$t/s/config.txt"
    expect 1 "lr 0.01 (checkpoint 0.003), weight_decay 0 (checkpoint 0.1)" \
        "$bmx" train --resume --out "$t/s" --steps 8
    cp "$t/s.cfg" "$t/s/config.txt"
    printf 'seed = 3\n' >>"$t/s/config.txt"
    expect 1 "differs from the configuration the run started with.* in: seed\." \
        "$bmx" train --resume --out "$t/s" --steps 8
    cp "$t/s.cfg" "$t/s/config.txt"
    cmp "$t/s/log.jsonl" "$t/s.log" || fail "a refused resume changed log.jsonl"
    "$bmx" train --resume --out "$t/s" --steps 8 2>"$t/err" || fail "resume: $(tail -3 "$t/err")"
    [ "$(grep -c '"type":"step"' "$t/s/log.jsonl")" = 8 ] || fail "8 steps after the resume"
    ;;
house)
    "$bmx" train --data "$data" --out "$t/k" "${tiny[@]}" --steps 2 2>/dev/null || fail "train"
    for f in checkpoint.bin.tmp.Xy12Zq config.txt.tmp checkpoint.bin.tmp.Xy12Z keep.tmp; do
        echo x >"$t/k/$f"
    done
    "$bmx" train --resume --out "$t/k" --steps 3 2>"$t/err" || fail "resume: $(tail -3 "$t/err")"
    grep -q "removed $t/k/checkpoint.bin.tmp.Xy12Zq, a temporary file" "$t/err" ||
        fail "no word of the removal: $(cat "$t/err")"
    [ ! -e "$t/k/checkpoint.bin.tmp.Xy12Zq" ] && [ ! -e "$t/k/config.txt.tmp" ] ||
        fail "stale temporaries stayed"
    [ -e "$t/k/checkpoint.bin.tmp.Xy12Z" ] && [ -e "$t/k/keep.tmp" ] || fail "removed too much"
    expect 1 "stopped (no checkpoint was written yet, the first was due at step 20;" \
        "$bmx" train --data "$data" --out "$t/n" "${tiny[@]}" --steps 20 --lr 1e30 --clip 0 \
        --warmup 0 --ckpt-every 0
    ! grep -q "is intact" "$t/err" || fail "claims a checkpoint: $(cat "$t/err")"
    [ ! -e "$t/n/checkpoint.bin" ] || fail "a checkpoint exists after all"
    ;;
memory)
    t0=$(date +%s)
    expect 1 "the run needs about [0-9.]* PiB of memory (parameters" \
        "$bmx" train --data "$data" --out "$t/m" --layers 4096 --width 65536
    grep -q "is available now: lower --layers, --width, --batch or --seq" "$t/err" ||
        fail "memory message: $(cat "$t/err")"
    [ $(($(date +%s) - t0)) -lt 20 ] || fail "the refusal took $(($(date +%s) - t0)) s"
    [ ! -e "$t/m" ] || fail "a refused run created its folder"
    "$bmx" train --data "$data" --out "$t/m2" "${tiny[@]}" --steps 1 2>"$t/err" || fail "train"
    grep -q "bmx: memory: the run needs about [0-9.]* KiB (parameters" "$t/err" ||
        fail "no memory estimate printed: $(cat "$t/err")"
    ;;
reward)
    for p in odm odm-smoothed-mean:alpha=0.5 ado aioli; do
        expect 2 "reward = 'exp-loss' with policy ${p%%:*}: odm, odm-smoothed-mean, ado, aioli and doremi observe" \
            "$bmx" train --data "$data" --out "$t/w" --policy $p --reward exp-loss "${tiny[@]}" --steps 2
    done
    expect 2 "reward = 'exp-loss' with policy doremi" \
        "$bmx" doremi --data "$data" --out "$t/w" --reward exp-loss "${tiny[@]}" --steps 2
    expect 2 "method 'odm': reward = 'exp-loss' with policy odm" \
        "$bmx" compare --data "$data" --out "$t/w" --methods exp3,odm --reward exp-loss "${tiny[@]}" --steps 2
    [ ! -e "$t/w" ] || fail "a refused run created its folder"
    ;;
*) fail "unknown section $s" ;;
esac
echo "$s: ok"
done
