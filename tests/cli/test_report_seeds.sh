#!/usr/bin/env bash
# bmx report over seeds (issue 16 item 1): a tiny bmx compare of uniform and odm on seeds 1,2,3
# writes report.html with the t-bands, report.json with every figure (3 seeds per method, a
# paired comparison on seeds 1,2,3 whose numbers agree with the logs) and report.md; bmx
# report on the same runs writes X.json and X.md beside X.html, byte for byte the same.
set -euo pipefail
bmx="$BMX_BUILD/bmx"
. "$BMX_ROOT/tests/cli/lib.sh"
scratch seeds

bash "$BMX_ROOT/tests/cli/rundata.sh" "$t/d"
tiny=(--layers 1 --width 32 --heads 2 --seq 16 --batch 2 --accum 2 --eval-windows 4 --threads 1
      --warmup 2)
"$bmx" compare --data "$t/d/corpus" --out "$t/c" --methods uniform,odm --seeds 1,2,3 --steps 6 \
    --eval-every 3 "${tiny[@]}" 2>"$t/cmp.err" || fail "compare: $(tail "$t/cmp.err")"
for f in report.html report.json report.md; do [ -s "$t/c/$f" ] || fail "compare wrote no $f"; done
grep -q "summary over seeds (95% t-intervals) written to $t/c/report.json" "$t/cmp.err" ||
    fail "compare did not say where the summary is: $(tail -5 "$t/cmp.err")"

runs=()
for s in 1 2 3; do runs+=("$t/c/uniform-s$s" "$t/c/odm-s$s"); done
"$bmx" report "${runs[@]}" --out "$t/r/x.html" 2>"$t/rep.err" && fail "report into a missing folder"
mkdir "$t/r"
"$bmx" report "${runs[@]}" --out "$t/r/x.html" 2>"$t/rep.err" || fail "report: $(cat "$t/rep.err")"
for f in html json md; do
    cmp "$t/c/report.$f" "$t/r/x.$f" || fail "bmx report's x.$f differs from compare's report.$f"
done
grep -q "odm .*3 seeds, final [0-9.]* +- [0-9.]*, vs uniform" "$t/rep.err" ||
    fail "no interval on stderr: $(cat "$t/rep.err")"

h="$t/r/x.html"
grep -q "Over seeds: means with 95% t-intervals" "$h" || fail "no table over seeds"
[ "$(grep -c '<polygon class="ci-band"' "$h")" -ge 2 ] || fail "no t-bands in the report"
grep -q '<line class="zero"' "$h" || fail "no zero line in the paired plot"
grep -q "Relative to uniform, paired by seed" "$h" || fail "no paired plot"
grep -q "Student t-interval" "$t/r/x.md" || fail "the Markdown does not say which interval"
grep -q "^| odm | 3 | " "$t/r/x.md" || fail "no odm row in the Markdown: $(cat "$t/r/x.md")"

# the JSON's figures against the logs themselves (Python's statistics, the t value from a table)
python3 - "$t/r/x.json" "$t/c" <<'PY'
import json, math, statistics, sys
s = json.load(open(sys.argv[1]))
assert "Student t-interval" in s["interval"], s["interval"]
assert s["reference"] == "uniform" and s["baseline"] == "uniform", (s["reference"], s["baseline"])
def final(run):
    ev = [json.loads(l) for l in open(f"{sys.argv[2]}/{run}/log.jsonl") if '"type":"eval"' in l]
    return ev[-1]["avg_ppl"]
T2 = 4.302652729749464  # t_{0.975,2}
m = {x["method"]: x for x in s["methods"]}
assert set(m) == {"uniform", "odm"}, m.keys()
for name, x in m.items():
    assert x["seeds"] == [1, 2, 3], x["seeds"]
    v = [final(f"{name}-s{k}") for k in (1, 2, 3)]
    f = x["final_ppl"]
    assert f["n"] == 3 and all(abs(a - b) < 1e-9 * b for a, b in zip(f["values"], v)), (f, v)
    half = T2 * statistics.stdev(v) / math.sqrt(3)
    assert abs(f["mean"] - statistics.mean(v)) < 1e-9 * f["mean"], f
    assert abs(f["half"] - half) < 1e-9 * max(half, 1e-9), (f["half"], half)
    assert f["lo"] <= f["mean"] <= f["hi"]
    assert len(x["curve"]["step"]) == 3 and x["curve"]["step"] == [0, 3, 6], x["curve"]["step"]
vs = m["odm"]["vs_uniform"]
assert m["uniform"]["vs_uniform"] is None
d = [final(f"odm-s{k}") - final(f"uniform-s{k}") for k in (1, 2, 3)]
assert vs["seeds"] == [1, 2, 3] and vs["step"] == [6, 6, 6], vs
assert all(abs(a - b) < 1e-9 for a, b in zip(vs["diff"]["values"], d)), (vs["diff"], d)
assert vs["wins"] == sum(x < 0 for x in d)
assert vs["diff"]["excludes_zero"] == (vs["diff"]["lo"] > 0 or vs["diff"]["hi"] < 0)
assert set(vs["domain_diff"]) == {"code", "legal", "man"}
assert len(vs["rel_curve"]["step"]) == 3
print("summary JSON agrees with the logs")
PY
echo "report over seeds: ok"
