#!/usr/bin/env bash
# bmx train / compare / doremi / report from the command line: --help, clear errors for bad
# values and missing corpora, config file + flags (flags win, config stored), a tiny compare
# of uniform, odm and doremi with its report, and bmx report rebuilding the same page from
# the logs alone.
set -euo pipefail
bmx="$BMX_BUILD/bmx"
. "$BMX_ROOT/tests/cli/lib.sh"
scratch run
for c in train compare doremi report; do "$bmx" $c --help >/dev/null || fail "$c --help"; done

expect 2 "data is not set: give --data DIR" "$bmx" train --out "$t/x"
expect 2 "--steps wants an integer, got 'many'" "$bmx" train --steps many
expect 2 "heads must divide width" "$bmx" train --data "$t" --out "$t/x" --heads 3 --width 32
expect 1 "the data folder $t/none does not exist" "$bmx" train --data "$t/none" --out "$t/x"
expect 1 "holds no domain" "$bmx" train --data "$t" --out "$t/x"
expect 2 "reward = 'agg'" "$bmx" train --data "$t" --out "$t/x" --reward agg
printf 'steps = 5\nbogus = 1\n' >"$t/bad.cfg"
expect 2 "bad.cfg:2: unknown key 'bogus'" "$bmx" train --config "$t/bad.cfg"
expect 2 "method 'odm:alpha=2'" "$bmx" compare --data "$t" --out "$t/x" --methods uniform,odm:alpha=2
expect 1 "cannot open the run log" "$bmx" report "$t/nothing"

bash "$BMX_ROOT/tests/cli/rundata.sh" "$t/d"
data="$t/d/corpus"
tiny=(--layers 1 --width 32 --heads 2 --seq 16 --batch 2 --accum 3 --eval-windows 4 --threads 1
      --warmup 2)
# config file, flags win; the full configuration is printed and stored
printf '# tiny\nsteps = 9\nlr = 0.002\neval-every = 3\npolicy = odm:alpha=0.5\n' >"$t/run.cfg"
"$bmx" train --config "$t/run.cfg" --data "$data" --out "$t/r" "${tiny[@]}" --steps 6 2>"$t/err" ||
    fail "train: $(cat "$t/err")"
grep -q "^steps *= 6$" "$t/r/config.txt" || fail "flag did not win: $(cat "$t/r/config.txt")"
grep -q "^lr *= 0.002$" "$t/r/config.txt" || fail "config file value lost"
grep -q "^policy *= odm:alpha=0.5$" "$t/err" || fail "configuration not printed"
grep -q "step 6/6 loss" "$t/err" || fail "no progress line"
[ "$(grep -c '"type":"eval"' "$t/r/log.jsonl")" = 3 ] || fail "evals at 0, 3, 6"
expect 1 "already holds a run" "$bmx" train --config "$t/run.cfg" --data "$data" --out "$t/r" "${tiny[@]}"
expect 1 "domains 'code,code' names 'code' twice" "$bmx" train --data "$data" --out "$t/y" --domains code,code
# a run of train can be trained further as another run's config: config.txt is a config file
"$bmx" train --config "$t/r/config.txt" --out "$t/r2" --steps 2 2>/dev/null || fail "config.txt as --config"

# compare: uniform, odm, doremi on two seeds, report
"$bmx" compare --data "$data" --out "$t/c" --methods uniform,odm,doremi --seeds 1,2 --steps 8 \
    --eval-every 4 "${tiny[@]}" 2>"$t/cmp.err" || fail "compare: $(tail "$t/cmp.err")"
for s in 1 2; do
    for m in uniform odm; do [ -f "$t/c/$m-s$s/checkpoint.bin" ] || fail "$m-s$s missing"; done
    [ -f "$t/c/doremi-s$s/final/checkpoint.bin" ] || fail "doremi final s$s missing"
    [ ! -e "$t/c/doremi-s$s/reference" ] || fail "doremi trained a reference despite uniform's run"
    grep -q "\"reference\|reference *= $t/c/uniform-s$s" "$t/c/doremi-s$s/proxy/config.txt" ||
        fail "proxy's reference is not uniform's run"
    python3 - "$t/c/doremi-s$s/weights.txt" <<'PY'
import sys
w = [float(x) for x in open(sys.argv[1]).read().strip().split(",")]
assert len(w) == 3 and abs(sum(w) - 1) < 1e-9 and min(w) > 0, w
PY
done
grep -q '"method":"doremi","policy":"weights"' "$t/c/doremi-s1/final/log.jsonl" || fail "final run's header"
grep -q "<svg" "$t/c/report.html" || fail "no plot in the report"
grep -q "Steps to reach the best static baseline" "$t/c/report.html" || fail "no headline"
# the report from the logs alone is the same page
runs=()
for s in 1 2; do runs+=("$t/c/uniform-s$s" "$t/c/odm-s$s" "$t/c/doremi-s$s/final"); done
"$bmx" report "${runs[@]}" --out "$t/again.html" 2>/dev/null || fail "report"
cmp "$t/c/report.html" "$t/again.html" || fail "bmx report differs from compare's report"
# an interrupted compare continues: running it again retrains nothing
cp "$t/c/odm-s1/checkpoint.bin" "$t/odm.bin"
"$bmx" compare --data "$data" --out "$t/c" --methods uniform,odm,doremi --seeds 1,2 --steps 8 \
    --eval-every 4 "${tiny[@]}" 2>/dev/null || fail "compare again"
cmp "$t/odm.bin" "$t/c/odm-s1/checkpoint.bin" || fail "compare again changed a finished run"

# bmx doremi on its own (trains its reference)
"$bmx" doremi --data "$data" --out "$t/dr" --steps 4 --eval-every 2 "${tiny[@]}" 2>"$t/err" ||
    fail "doremi: $(tail "$t/err")"
for s in reference proxy final; do [ -f "$t/dr/$s/checkpoint.bin" ] || fail "doremi $s"; done
grep -q "DoReMi weights (alpha_bar" "$t/err" || fail "weights not printed"
grep -q '"policy":"doremi:eta=1,c=0.001,vocab=320"' "$t/dr/proxy/log.jsonl" || fail "proxy policy: $(head -c 300 "$t/dr/proxy/log.jsonl")"
echo "run CLI: ok"
