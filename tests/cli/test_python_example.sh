#!/usr/bin/env bash
# examples/torch_odm.py: a short odm run (and a uniform one) on the fixture shards of
# rundata.sh; its log.jsonl read by 'bmx report' next to a recorded 'bmx train' run; the
# policy's distribution in the log replayed from its observations (tests/ref/mix_ref.py);
# a run stopped and resumed from checkpoint.pt writes the same log byte for byte (also with
# 2 DataLoader workers).
set -euo pipefail
. "$BMX_ROOT/tests/cli/lib.sh"
need_torch
scratch python_example
bash "$BMX_ROOT/tests/cli/rundata.sh" "$t/data"
export BMX_LIB="$so" PYTHONDONTWRITEBYTECODE=1
ex=("$py" "$BMX_ROOT/examples/torch_odm.py" --data "$t/data/corpus" --steps 12 --accum 4
    --batch 4 --seq 32 --dim 32 --layers 1 --heads 2 --eval-every 4 --eval-windows 4 --lr 3e-3
    --warmup 3)
"${ex[@]}" --policy odm --out "$t/odm"
"${ex[@]}" --policy uniform --out "$t/uniform"
# stop at step 5, resume: the same bytes as the run that never stopped
"${ex[@]}" --policy odm --out "$t/odm-r" --stop-after 5 >/dev/null
[ "$(grep -c '"type":"step"' "$t/odm-r/log.jsonl")" = 5 ] || { echo "FAIL: stop-after 5"; exit 1; }
"${ex[@]}" --policy odm --out "$t/odm-r" --resume >/dev/null
cmp "$t/odm/log.jsonl" "$t/odm-r/log.jsonl" || { echo "FAIL: resumed log differs"; exit 1; }
echo "ok: stopped at step 5 and resumed: log.jsonl identical to the uninterrupted run"
# the same with 2 DataLoader workers (micro-batches in flight at the stop are in the checkpoint)
"${ex[@]}" --policy odm --workers 2 --out "$t/odm-w" >/dev/null
"${ex[@]}" --policy odm --workers 2 --out "$t/odm-wr" --stop-after 5 >/dev/null
"${ex[@]}" --policy odm --workers 2 --out "$t/odm-wr" --resume >/dev/null
cmp "$t/odm-w/log.jsonl" "$t/odm-wr/log.jsonl" || { echo "FAIL: resumed log differs (2 workers)"; exit 1; }
echo "ok: the same with 2 DataLoader workers"
# the logs replayed by the reference
PYTHONPATH="$BMX_ROOT/tests/ref" "$py" "$BMX_ROOT/tests/python/replay_log.py" \
    "$t/odm/log.jsonl" "$t/uniform/log.jsonl"
"$py" - "$t/odm/log.jsonl" <<'PY'
import json, sys
st = [json.loads(l) for l in open(sys.argv[1]) if '"type":"step"' in l]
assert st[-1]["probs"] != st[0]["probs"], "odm never left its first distribution"
assert sum(sum(r["domain_count"]) for r in st) == 12 * 4
PY
# bmx report reads them next to a 'bmx train' run (the recorded fixture has the same domains)
"$BMX_BUILD/bmx" report "$t/odm" "$t/uniform" "$BMX_ROOT/tests/fixtures/run/recorded/uniform-s1" \
    --out "$t/report.html" >"$t/report.out"
cat "$t/report.out"
grep -q '<svg' "$t/report.html" || { echo "FAIL: no plot in the report"; exit 1; }
grep -q "torch-odm" "$t/report.html" || { echo "FAIL: the odm run is not in the report"; exit 1; }
grep -q "uniform-s1" "$t/report.html" || { echo "FAIL: the bmx train run is not in the report"; exit 1; }
echo "ok: bmx report read the torch runs next to a bmx train run"
