#!/usr/bin/env bash
# bmx corpus build end to end with fake extractors (no network): a good domain, a domain
# that fails, determinism (two builds give the same bytes), a valid manifest; then
# bmx data shard with a small trained vocabulary, bmx data inspect, and a decoded round trip.
set -euo pipefail
bmx="$BMX_BUILD/bmx"
. "$BMX_ROOT/tests/cli/lib.sh"
scratch corpus

mkdir -p "$t/scripts"
printf '# fixed order\nprose\nbroken\ncode  # trailing comment\n' >"$t/scripts/domains.txt"
cat >"$t/scripts/prose.sh" <<'SH'
set -euo pipefail
export LC_ALL=C
[ -d "$1" ] || { echo "prose: no cache dir $1" >&2; exit 1; }
doc() { printf 'DOC %d %s\n%s\n' "${#2}" "$1" "$2"; }
echo "PKG npm fake-prose 1.2.3 CC0-1.0"
for i in $(seq 1 120); do
    doc "prose/$i" "Paragraph $i: the quick brown fox jumps over the lazy dog, $((i * 7919 % 1000)) times. Caf$(printf '\303\251') na$(printf '\303\257')ve r$(printf '\303\251')sum$(printf '\303\251')."
done
doc prose/dup "Paragraph 1: the quick brown fox jumps over the lazy dog, 919 times. Caf$(printf '\303\251') na$(printf '\303\257')ve r$(printf '\303\251')sum$(printf '\303\251')."
printf 'DOC 42 prose/crlf\nwindows line one\r\nwindows line two\r\nend.\r\n\n'
SH
cat >"$t/scripts/broken.sh" <<'SH'
echo "broken: missing packages: fake-pkg; run as root: apt-get install -y fake-pkg" >&2
exit 1
SH
cat >"$t/scripts/code.sh" <<'SH'
set -euo pipefail
export LC_ALL=C
doc() { printf 'DOC %d %s\n%s\n' "${#2}" "$1" "$2"; }
echo "PKG deb fake-src 2.0-1 GPL-2+"
for i in $(seq 1 60); do
    doc "src/f$i.c" "int f$i(int x)
{
    return x * $i + $((i * i)); /* function number $i */
}"
done
SH

"$bmx" corpus build --help >/dev/null
"$bmx" corpus build --scripts "$t/scripts" --domains nope --out "$t/x" 2>"$t/err" && fail "unknown domain accepted"
grep -q "unknown domain 'nope'; the domains are: prose,broken,code" "$t/err" || fail "unknown domain message: $(cat "$t/err")"
"$bmx" corpus build --split 1/2 --scripts "$t/scripts" --out "$t/x" 2>"$t/err" && fail "bad split accepted"

# --domains in another order keeps the fixed order
# (one extractor at a time, then three at once: the same bytes)
for n in 1 3; do
    "$bmx" corpus build --scripts "$t/scripts" --cache "$t/cache" --out "$t/c$n" --jobs $n \
        --domains code,broken,prose --split 80/10/10 2>"$t/log$n" || fail "build $n: $(cat "$t/log$n")"
done
mv "$t/c3" "$t/c2"
[ -z "$(find "$t/c1" -name '*.stream' -o -name '*.tmp')" ] || fail "spool or temporary files left"
cat "$t/log1"
grep -q "broken FAILED and is left out: .*run as root: apt-get install -y fake-pkg" "$t/log1" || fail "no failure report"
diff -r "$t/c1" "$t/c2" >/dev/null || fail "two builds differ"
python3 -m json.tool "$t/c1/manifest.json" >/dev/null || fail "manifest is not valid JSON"
python3 - "$t/c1" <<'PY'
import json, sys, zlib, os
d = sys.argv[1]
m = json.load(open(d + "/manifest.json"))
assert m["format"] == "bmx-corpus" and m["version"] == 1
assert m["params"]["domains"] == ["prose", "broken", "code"], m["params"]["domains"]
assert m["params"]["split"] == [80, 10, 10]
assert list(m["domains"]) == ["prose", "code"], list(m["domains"])
assert "fake-pkg" in m["failed"]["broken"]
p = m["domains"]["prose"]
assert p["packages"] == [{"kind": "npm", "name": "fake-prose", "version": "1.2.3", "licence": "CC0-1.0"}]
assert p["dropped"]["duplicate"] == 1, p["dropped"]
docs = 0
for s, e in p["splits"].items():
    raw = open(os.path.join(d, e["file"]), "rb").read()
    assert "%08x" % zlib.crc32(raw) == e["crc32"], (s, e)
    assert len(raw) == e["file_bytes"]
    docs += e["documents"]
    assert e["tokens"] is None
assert docs == 121, docs
# the CRLF document became LF-only
allp = b"".join(open(os.path.join(d, e["file"]), "rb").read() for e in p["splits"].values())
assert b"windows line one\nwindows line two\nend.\n" in allp and b"\r" not in allp
c = m["domains"]["code"]
assert sum(e["documents"] for e in c["splits"].values()) == 60
# an independent implementation of the split rule (bmx/corpus.h): FNV-1a 64 of the
# document, splitmix64's finaliser, mod the weight sum 80+10+10; and no hash twice
M = (1 << 64) - 1
def fnv(b):
    h = 0xcbf29ce484222325
    for x in b:
        h = ((h ^ x) * 0x100000001b3) & M
    return h
def mix(z):
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M
    return z ^ (z >> 31)
seen, used = set(), set()
for name, dom in m["domains"].items():
    for s, e in dom["splits"].items():
        data = open(os.path.join(d, e["file"]), "rb").read()
        pos = len(b"#bmx-corpus 1\n")
        while pos < len(data):
            nl = data.index(b"\n", pos)
            size = int(data[pos:nl].split(b" ")[1])
            h = fnv(data[nl + 1:nl + 1 + size])
            r = mix(h) % 100
            assert s == ("train" if r < 80 else "val" if r < 90 else "test"), (name, s, r)
            assert h not in seen
            seen.add(h)
            used.add(s)
            pos = nl + 1 + size + 1
assert used == {"train", "val", "test"} and len(seen) == 181, (used, len(seen))
PY
[ ! -e "$t/c1/broken" ] || fail "the failed domain left files"

# all domains failing: exit 1
"$bmx" corpus build --scripts "$t/scripts" --cache "$t/cache" --out "$t/c3" --domains broken 2>/dev/null &&
    fail "a build with no domain built exited 0"

# shards with a small trained vocabulary (16-bit tokens)
"$bmx" tok train --input "$t/c1/prose/train.txt" "$t/c1/code/train.txt" --vocab-size 300 --out "$t/v.tok" 2>/dev/null
"$bmx" data shard --corpus "$t/c1" --vocab "$t/v.tok" --threads 2 2>"$t/shardlog" || fail "shard: $(cat "$t/shardlog")"
for s in train val test; do
    "$bmx" data inspect "$t/c1/code/$s.bin" >"$t/insp" || fail "inspect $s"
done
"$bmx" data inspect "$t/c1/code/train.bin" --vocab "$t/v.tok" --tokens 100000 >"$t/insp"
grep -q "^token_width 2 bytes" "$t/insp" || fail "width"
grep -q "^vocab_size  300" "$t/insp" || fail "vocab size"
python3 - "$t/c1" "$t/insp" <<'PY'
import json, sys, os, struct, zlib
d, insp = sys.argv[1], sys.argv[2]
m = json.load(open(d + "/manifest.json"))
assert m["tokenizer"]["vocab_size"] == 300
for name, dom in m["domains"].items():
    for s, e in dom["splits"].items():
        raw = open(os.path.join(d, e["shard"]["file"]), "rb").read()
        assert "%08x" % zlib.crc32(raw) == e["shard"]["crc32"]
        magic, ver, width, vocab, eot, ntok, ndocs = struct.unpack("<8sIIIIQQ", raw[:40])
        assert magic == b"BMXSHARD" and ver == 1 and width == 2 and vocab == 300
        assert ntok == e["tokens"] and ndocs == e["documents"], (ntok, e)
        assert len(raw) == 64 + 2 * ntok
# the decoded sample is exactly the first document of code/train.txt
text = open(d + "/code/train.txt", "rb").read()
first = text.split(b"\n", 1)[1]
hdr, rest = first.split(b"\n", 1)
n = int(hdr.split(b" ")[1])
doc = rest[:n]
out = open(insp, "rb").read()
dec = out.split(b"decoded:\n", 1)[1]
assert dec == doc + b"\n", (dec[:80], doc[:80])
PY
# a damaged shard is refused with its name
cp "$t/c1/code/train.bin" "$t/bad.bin"
printf 'X' | dd of="$t/bad.bin" bs=1 seek=100 conv=notrunc 2>/dev/null
"$bmx" data inspect "$t/bad.bin" 2>"$t/err" && fail "damaged shard accepted"
grep -q "$t/bad.bin" "$t/err" || fail "error does not name the file: $(cat "$t/err")"
# a stale text file is refused by data shard
printf 'x' >>"$t/c1/code/val.txt"
"$bmx" data shard --corpus "$t/c1" --vocab "$t/v.tok" 2>"$t/err" && fail "stale corpus accepted"
grep -q "does not match the manifest\|bad record" "$t/err" || fail "stale message: $(cat "$t/err")"
echo "corpus build + data shard end to end: ok"
