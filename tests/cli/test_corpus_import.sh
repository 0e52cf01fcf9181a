#!/usr/bin/env bash
# bmx corpus import end to end: the committed folder corpus and bad.jsonl fixtures, a
# Pile-shaped .jsonl.zst and a .jsonl.gz made here (zstd and gzip), a truncated .zst; the
# report on standard error, the manifest (mapping, inputs, CRCs), the same bytes twice, then
# bmx data shard and a few steps of bmx train on the result.
set -euo pipefail
bmx="$BMX_BUILD/bmx"
fix="$BMX_ROOT/tests/fixtures/import"
command -v zstd >/dev/null || { echo "skip: zstd is not installed (apt-get install zstd)"; exit 77; }
. "$BMX_ROOT/tests/cli/lib.sh"
scratch import

python3 - "$t" <<'PY'
import json, random, sys
random.seed(5)
d = sys.argv[1]
words = {"Github": "int return void static struct char if else for while".split(),
         "Pile-CC": "the of and to in is that it was for on are with as".split(),
         "Wikipedia (en)": "born city river century population king war church".split()}
def doc(name, i):
    w = words[name]
    return " ".join(random.choice(w) for _ in range(60 + i % 40)) + " (%s %d)" % (name, i)
with open(d + "/00.jsonl", "w") as f:
    for i in range(360):
        name = list(words)[i % 3]
        f.write(json.dumps({"text": doc(name, i), "meta": {"pile_set_name": name}},
                           ensure_ascii=i % 2 == 0) + "\n")
with open(d + "/01.jsonl", "w") as f:
    for i in range(360, 480):
        name = list(words)[i % 3]
        f.write(json.dumps({"text": doc(name, i), "meta": {"pile_set_name": name}}) + "\n")
PY
zstd -q "$t/00.jsonl" -o "$t/00.jsonl.zst"
gzip -c "$t/01.jsonl" >"$t/01.jsonl.gz"
head -c $(($(stat -c %s "$t/00.jsonl.zst") / 2)) "$t/00.jsonl.zst" >"$t/cut.jsonl.zst"

"$bmx" corpus import --help >/dev/null
"$bmx" corpus import --jsonl "$t/00.jsonl.zst" 2>"$t/err" && fail "no --out accepted"
grep -q "give the output folder: --out DIR" "$t/err" || fail "no --out message: $(cat "$t/err")"
"$bmx" corpus import --out "$t/x" --jsonl "$t/00.jsonl.zst" 2>"$t/err" && fail "no domain accepted"
grep -q "00.jsonl.zst: no domain for its lines: give --domain-key PATH" "$t/err" || fail "no domain: $(cat "$t/err")"
"$bmx" corpus import --out "$t/x" --strict --domain-key meta.set --jsonl "$fix/bad.jsonl" 2>"$t/err" &&
    fail "--strict accepted bad lines"
grep -q "bad.jsonl line 3: malformed JSON: expected ',' or '}' in an object at byte" "$t/err" ||
    fail "strict message: $(cat "$t/err")"

# everything at once: a folder, JSONL with a domain key, a file with one --domain for all
imp() {
    "$bmx" corpus import --out "$1" --split 80/10/10 --dir "$fix/folder" \
        --jsonl "$t/00.jsonl.zst" "$t/01.jsonl.gz" "$t/cut.jsonl.zst" --domain-key meta.pile_set_name \
        --domain "Bad Lines" --jsonl "$fix/bad.jsonl"
}
imp "$t/c1" 2>"$t/log1" || fail "import: $(cat "$t/log1")"
imp "$t/c2" 2>"$t/log2" || fail "second import: $(cat "$t/log2")"
cat "$t/log1"
diff -r "$t/c1" "$t/c2" >/dev/null || fail "two imports differ"
[ -z "$(find "$t/c1" -name '*.tmp')" ] || fail "temporary files left"
grep -q "^import: .* MB of text (.* MB as stored), .* MB/s; .* documents (.*/s), .* kept, .* bad; done with .*00.jsonl.zst" "$t/log1" ||
    fail "no progress line"
grep -q "folder: 1 bad: 1 no domain string (stray.txt)" "$t/log1" || fail "folder report"
grep -q "cut.jsonl.zst: 1 bad: 1 truncated stream (line [0-9]*)" "$t/log1" || fail "truncation report"
grep -q "bad.jsonl: 6 bad: 4 malformed JSON (line 3, 7, 11, 12; first: " "$t/log1" || fail "bad.jsonl report"
grep -q "^bmx corpus import: 7 domain(s) written, 0 left out; " "$t/log1" || fail "summary line"

python3 - "$t/c1" "$fix" "$t" <<'PY'
import json, sys, zlib, os
d, fix, t = sys.argv[1:4]
m = json.load(open(d + "/manifest.json"))
assert m["format"] == "bmx-corpus" and m["version"] == 1 and m["params"]["source"] == "import"
names = m["domain_names"]
assert names["Legal Texts"] == "legal-texts" and names["Poésie"] == "po-sie", names
assert names["Wikipedia (en)"] == "wikipedia-en" and names["Bad Lines"] == "bad-lines", names
assert sorted(m["domains"]) == sorted(["legal-texts", "po-sie", "code", "github", "pile-cc",
                                       "wikipedia-en", "bad-lines"]), list(m["domains"])
ins = m["inputs"]
assert [i["kind"] for i in ins] == ["folder", "jsonl", "jsonl", "jsonl", "jsonl"]
assert [i.get("compression") for i in ins[1:]] == ["zstd", "gzip", "zstd", "none"]
for i in ins[1:]:
    raw = open(i["path"], "rb").read()
    assert i["bytes"] == len(raw) and i["crc32"] == "%08x" % zlib.crc32(raw), i["path"]
assert ins[1]["documents"] == 360 and ins[1]["lines"] == 360 and ins[2]["documents"] == 120
assert ins[3]["bad"]["truncated"] == 1 and ins[3]["kept"] == 0  # all duplicates of 00
assert ins[3]["first_bad_lines"]["truncated"] == [ins[3]["lines"] + 1]
b = ins[4]
assert b["domain"] == "Bad Lines" and b["bad"]["malformed"] == 4 and b["bad"]["no_text"] == 2
assert b["bad"]["no_domain"] == 0  # --domain names the domain of every line
assert b["first_bad_lines"]["no_text"] == [4, 6]
kept = 0
for name, dom in m["domains"].items():
    for s, e in dom["splits"].items():
        raw = open(os.path.join(d, e["file"]), "rb").read()
        assert "%08x" % zlib.crc32(raw) == e["crc32"] and len(raw) == e["file_bytes"]
        kept += e["documents"]
assert sum(i["kept"] for i in ins) == kept, (kept, [i["kept"] for i in ins])
PY

# shards and a few training steps on the imported corpus
"$bmx" tok train --input "$t/c1/github/train.txt" "$t/c1/pile-cc/train.txt" \
    "$t/c1/wikipedia-en/train.txt" --vocab-size 300 --out "$t/v.tok" 2>/dev/null
"$bmx" data shard --corpus "$t/c1" --vocab "$t/v.tok" --threads 1 2>"$t/shard.log" ||
    fail "shard: $(cat "$t/shard.log")"
python3 - "$t/c1" <<'PY'
import json, sys
m = json.load(open(sys.argv[1] + "/manifest.json"))
assert m["tokenizer"]["vocab_size"] == 300
for name, dom in m["domains"].items():
    for s, e in dom["splits"].items():
        assert e["tokens"] is not None and "shard" in e, (name, s)
PY
"$bmx" train --data "$t/c1" --domains github,pile-cc,wikipedia-en --out "$t/run" --steps 6 \
    --layers 1 --width 32 --heads 2 --seq 16 --batch 4 --accum 3 --eval-every 3 --eval-windows 4 \
    --threads 1 --warmup 2 --policy odm --seed 3 2>"$t/train.log" || fail "train: $(cat "$t/train.log")"
python3 - "$t/run" <<'PY'
import json, sys, math
rows = [json.loads(l) for l in open(sys.argv[1] + "/log.jsonl")]
steps = [r for r in rows if "step" in r]
assert steps and max(r["step"] for r in steps) == 6, rows[-1]
vals = [v for r in rows for k, v in r.items() if "loss" in k and isinstance(v, (int, float))]
assert vals and all(math.isfinite(v) for v in vals), vals[:5]
PY
echo "corpus import + data shard + train end to end: ok"
