#!/usr/bin/env bash
# libbmx_mix on its own: the shared library needs libc and libm alone (ldd, and every
# undefined dynamic symbol is a glibc one: no BLAS, no OpenMP, no other bmx module), and a
# program written against its header set alone (bmx/core.h, bmx/rng.h, bmx/mix.h copied into
# an empty folder) builds with libbmx_mix.a -lm and runs a policy.
set -euo pipefail
so="$BMX_BUILD/libbmx_mix.so"
ar="$BMX_BUILD/libbmx_mix.a"
for f in "$so" "$ar"; do [ -f "$f" ] || { echo "missing $f (run make)"; exit 1; }; done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

san=0
if ldd "$so" 2>/dev/null | grep libasan >/dev/null; then san=1; fi

# 1. dynamic dependencies: libc, libm (and the loader, the vdso; the sanitizer runtimes in
#    the ASan build)
bad=$(ldd "$so" | awk '{print $1}' | grep -vE '^(linux-vdso\.so|/lib64/ld-linux|libc\.so|libm\.so)' || true)
if [ "$san" = 1 ]; then bad=$(echo "$bad" | grep -vE '^(libasan|libubsan|libstdc\+\+|libgcc_s|libdl|libpthread|librt)' || true); fi
if [ -n "$bad" ]; then echo "FAIL: libbmx_mix.so needs more than libc and libm: $bad"; exit 1; fi
ldd "$so" | grep 'libm\.so' >/dev/null || { echo "FAIL: libbmx_mix.so does not link libm"; exit 1; }
if [ "$san" = 0 ]; then
    und=$(nm -D --undefined-only "$so" | awk '$1 == "U" {print $2}')
    other=$(echo "$und" | grep -v '@GLIBC_' || true)
    [ -z "$other" ] || { echo "FAIL: undefined symbols outside glibc: $other"; exit 1; }
    echo "$und" | grep -E '^(exp|log|sqrt)@' >/dev/null || { echo "FAIL: expected libm symbols in: $und"; exit 1; }
fi
# every exported function is bmx_; every bmx_ module in it is mix, rng, core
exp=$(nm -D --defined-only "$so" | awk '$2 == "T" {print $3}')
nonbmx=$(echo "$exp" | grep -v '^bmx_' | grep -vE '^(_init|_fini)$' || true)
[ -z "$nonbmx" ] || { echo "FAIL: exports without the bmx_ prefix: $nonbmx"; exit 1; }
echo "$exp" | grep -x bmx_mix_observes >/dev/null || { echo "FAIL: bmx_mix_observes not exported"; exit 1; }
for sym in bmx_shard_open bmx_model_create bmx_run_open bmx_trainer_create; do
    if echo "$exp" | grep -x "$sym" >/dev/null; then echo "FAIL: $sym (another module) is in libbmx_mix"; exit 1; fi
done
echo "ok: libbmx_mix.so needs libc and libm only, exports $(echo "$exp" | wc -l) bmx_ functions"

# 2. its header set alone
mkdir -p "$tmp/inc/bmx"
cp "$BMX_ROOT"/include/bmx/{core,rng,mix}.h "$tmp/inc/bmx/"
cat >"$tmp/use.c" <<'C'
#include "bmx/mix.h"
#include <stdio.h>
int main(void)
{
    bmx_mix *m;
    bmx_err e;
    if (bmx_mix_create(&m, "odm", 3, NULL, 1, &e)) { puts(e.msg); return 1; }
    if (bmx_mix_observes(m) != BMX_MIX_OBS_LOSS) return 2;
    for (int t = 0; t < 20; t++) {
        for (int g = 0; g < 4; g++) {
            int a = bmx_mix_draw(m);
            if (bmx_mix_observe(m, a, a == 2 ? 3.0 : 1.0, &e)) { puts(e.msg); return 1; }
        }
        if (bmx_mix_step(m, &e)) { puts(e.msg); return 1; }
    }
    const double *p = bmx_mix_probs(m);
    printf("%.6f %.6f %.6f\n", p[0], p[1], p[2]);
    int rc = p[2] > p[0] && p[2] > p[1] ? 0 : 3; /* the high-loss arm gains weight */
    bmx_mix_free(m);
    return rc;
}
C
flags=()
[ "$san" = 1 ] && flags=(-fsanitize=address,undefined)
cc -std=c11 -Wall -Werror "${flags[@]}" -I"$tmp/inc" -o "$tmp/use" "$tmp/use.c" "$ar" -lm
out=$("$tmp/use") || { echo "FAIL: the program on libbmx_mix.a: $out"; exit 1; }
echo "ok: a program on bmx/{core,rng,mix}.h and libbmx_mix.a -lm alone: pi = $out"
