#!/usr/bin/env bash
# Issue 11 item 10: where a regular file is expected, a FIFO blocked forever (data inspect,
# tok, tasks show, report, --config, --resume) and a directory gave a misleading message.
# Each command must now refuse it at once (well within the 20 s timeout), by name.
set -euo pipefail
bmx="$BMX_BUILD/bmx"
. "$BMX_ROOT/tests/cli/lib.sh"
scratch nonreg
refused() { # refused PATH KIND CMD...: exits 1 or 2 within 20 s, names PATH and KIND
    local path=$1 kind=$2
    shift 2
    set +e
    timeout 20 "$@" </dev/null >/dev/null 2>"$t/err"
    local rc=$?
    set -e
    [ $rc = 124 ] && fail "$* blocked on $path"
    [ $rc = 1 ] || [ $rc = 2 ] || fail "$* exited $rc: $(cat "$t/err")"
    grep -qF -- "$path is $kind, not a regular file" "$t/err" ||
        fail "$*: no '$path is $kind' in: $(cat "$t/err")"
}
mkfifo "$t/fifo.bin" "$t/fifo.jsonl" "$t/fifo.task" "$t/fifo.cfg" "$t/fifo.vocab"
mkdir "$t/dir.bin" "$t/run" "$t/run2"
echo hello >"$t/text.txt"
fifo="a FIFO (named pipe)"
refused "$t/fifo.bin" "$fifo" "$bmx" data inspect "$t/fifo.bin"
refused "$t/dir.bin" "a directory" "$bmx" data inspect "$t/dir.bin"
refused "$t/fifo.vocab" "$fifo" "$bmx" tok encode --vocab "$t/fifo.vocab" "$t/text.txt"
refused "$t/fifo.task" "$fifo" "$bmx" tasks show "$t/fifo.task"
refused "$t/fifo.jsonl" "$fifo" "$bmx" report "$t/fifo.jsonl" --out "$t/r.html"
mkfifo "$t/run/log.jsonl"
refused "$t/run/log.jsonl" "$fifo" "$bmx" report "$t/run" --out "$t/r.html"
refused "$t/fifo.cfg" "$fifo" "$bmx" train --config "$t/fifo.cfg"
refused "$t/dir.bin" "a directory" "$bmx" train --config "$t/dir.bin"
refused /dev/zero "a character device" "$bmx" train --config /dev/zero
mkfifo "$t/run2/config.txt"
refused "$t/run2/config.txt" "$fifo" "$bmx" train --resume --out "$t/run2"
# --resume of a real run whose checkpoint.bin or timing.jsonl became a FIFO
bash "$BMX_ROOT/tests/cli/rundata.sh" "$t/d"
"$bmx" train --data "$t/d/corpus" --out "$t/r" --steps 2 --layers 1 --width 16 --heads 2 \
    --seq 8 --batch 2 --accum 1 --eval-every 2 --eval-windows 2 --threads 1 --warmup 1 \
    2>"$t/train.err" || fail "train: $(cat "$t/train.err")"
mv "$t/r/timing.jsonl" "$t/timing.jsonl"
mkfifo "$t/r/timing.jsonl"
refused "$t/r/timing.jsonl" "$fifo" "$bmx" train --resume --out "$t/r" --steps 3
rm "$t/r/timing.jsonl"
mv "$t/timing.jsonl" "$t/r/timing.jsonl"
mv "$t/r/checkpoint.bin" "$t/ckpt.bin"
mkfifo "$t/r/checkpoint.bin"
refused "$t/r/checkpoint.bin" "$fifo" "$bmx" train --resume --out "$t/r" --steps 3
rm "$t/r/checkpoint.bin"
mkdir "$t/r/checkpoint.bin"
refused "$t/r/checkpoint.bin" "a directory" "$bmx" train --resume --out "$t/r" --steps 3
echo "ok: FIFOs, directories and devices refused by name"
