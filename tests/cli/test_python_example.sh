#!/usr/bin/env bash
# examples/torch_odm.py: a short odm run (and a uniform one) on the fixture shards of
# rundata.sh; its log.jsonl read by 'bmx report' next to a recorded 'bmx train' run; the
# policy's distribution in the log replayed from its observations (tests/ref/mix_ref.py);
# a run stopped and resumed from checkpoint.pt writes the same log byte for byte.
set -euo pipefail
. "$BMX_ROOT/tests/cli/lib.sh"
need_torch
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bash "$BMX_ROOT/tests/cli/rundata.sh" "$tmp/data"
export BMX_LIB="$so" PYTHONDONTWRITEBYTECODE=1
ex=("$py" "$BMX_ROOT/examples/torch_odm.py" --data "$tmp/data/corpus" --steps 12 --accum 4
    --batch 4 --seq 32 --dim 32 --layers 1 --heads 2 --eval-every 4 --eval-windows 4 --lr 3e-3
    --warmup 3)
"${ex[@]}" --policy odm --out "$tmp/odm"
"${ex[@]}" --policy uniform --out "$tmp/uniform"
# stop at step 5, resume: the same bytes as the run that never stopped
"${ex[@]}" --policy odm --out "$tmp/odm-r" --stop-after 5 >/dev/null
[ "$(grep -c '"type":"step"' "$tmp/odm-r/log.jsonl")" = 5 ] || { echo "FAIL: stop-after 5"; exit 1; }
"${ex[@]}" --policy odm --out "$tmp/odm-r" --resume >/dev/null
cmp "$tmp/odm/log.jsonl" "$tmp/odm-r/log.jsonl" || { echo "FAIL: resumed log differs"; exit 1; }
echo "ok: stopped at step 5 and resumed: log.jsonl identical to the uninterrupted run"
# the logs replayed by the reference
PYTHONPATH="$BMX_ROOT/tests/ref" "$py" "$BMX_ROOT/tests/python/replay_log.py" \
    "$tmp/odm/log.jsonl" "$tmp/uniform/log.jsonl"
"$py" - "$tmp/odm/log.jsonl" <<'PY'
import json, sys
st = [json.loads(l) for l in open(sys.argv[1]) if '"type":"step"' in l]
assert st[-1]["probs"] != st[0]["probs"], "odm never left its first distribution"
assert sum(sum(r["domain_count"]) for r in st) == 12 * 4
PY
# bmx report reads them next to a 'bmx train' run (the recorded fixture has the same domains)
"$BMX_BUILD/bmx" report "$tmp/odm" "$tmp/uniform" "$BMX_ROOT/tests/fixtures/run/recorded/uniform-s1" \
    --out "$tmp/report.html" >"$tmp/report.out"
cat "$tmp/report.out"
grep -q '<svg' "$tmp/report.html" || { echo "FAIL: no plot in the report"; exit 1; }
grep -q "torch-odm" "$tmp/report.html" || { echo "FAIL: the odm run is not in the report"; exit 1; }
grep -q "uniform-s1" "$tmp/report.html" || { echo "FAIL: the bmx train run is not in the report"; exit 1; }
echo "ok: bmx report read the torch runs next to a bmx train run"
