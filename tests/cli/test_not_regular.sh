#!/usr/bin/env bash
# Issue 11 item 10: where a regular file is expected, a FIFO blocked forever (data inspect,
# tok, tasks show, report, --config, --resume) and a directory gave a misleading message.
# Each command must now refuse it at once (well within the 20 s timeout), by name.
set -euo pipefail
bmx="$BMX_BUILD/bmx"
t=$(mktemp -d /tmp/bmx_cli_nonreg_XXXXXX)
trap 'rm -rf "$t"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
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
echo "ok: FIFOs, directories and devices refused by name"
