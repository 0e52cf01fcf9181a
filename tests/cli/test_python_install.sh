#!/usr/bin/env bash
# python/README.md's two ways to use the package without network on Debian 12:
#  1. plain PYTHONPATH=python (the library found at ../build/libbmx_mix.so, no BMX_LIB);
#  2. a venv with --system-site-packages and pip install --no-build-isolation --no-index of
#     a copy of python/ (Debian's setuptools and wheel): the installed package carries
#     libbmx_mix.so and works from another folder without PYTHONPATH or BMX_LIB.
set -euo pipefail
. "$BMX_ROOT/tests/cli/lib.sh"
need_python_mix
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
unset BMX_LIB
check='import bmx, sys
p = bmx.Policy("odm", 3, alpha=0.5, seed=1)
for t in range(5):
    for g in range(3):
        a = p.draw(); p.observe(a, 1.0 + a)
    p.step()
assert p.probs()[2] > p.probs()[0], p.probs()
print(bmx.library_path(), bmx.__file__)'

# 1. PYTHONPATH, from the source tree (build/ is the default build folder)
if [ "$(cd "$BMX_BUILD" && pwd)" = "$BMX_ROOT/build" ]; then
    out=$(cd "$tmp" && PYTHONPATH="$BMX_ROOT/python" PYTHONDONTWRITEBYTECODE=1 "$py" -c "$check")
    echo "PYTHONPATH: $out"
    case $out in "$BMX_ROOT/build/libbmx_mix.so "*) ;; *) echo "FAIL: loaded $out"; exit 1 ;; esac
else
    echo "(PYTHONPATH part needs the default build/ folder: not run for $BMX_BUILD)"
fi

# 2. venv + pip, offline
if ! "$py" -c 'import ensurepip, setuptools, wheel' 2>/dev/null; then
    echo "skip: the venv install needs python3-venv, python3-setuptools and python3-wheel"
    exit 77
fi
cp -r "$BMX_ROOT/python" "$tmp/src"
"$py" -m venv --system-site-packages "$tmp/venv"
BMX_LIB="$so" "$tmp/venv/bin/pip" install --no-build-isolation --no-index -q "$tmp/src" \
    >"$tmp/pip.log" 2>&1 || { cat "$tmp/pip.log"; echo "FAIL: pip install"; exit 1; }
out=$(cd "$tmp" && PYTHONDONTWRITEBYTECODE=1 "$tmp/venv/bin/python" -c "$check")
echo "venv: $out"
case $out in
"$tmp/venv/lib/"*"/site-packages/bmx/libbmx_mix.so $tmp/venv/lib/"*) ;;
*) echo "FAIL: the installed package did not load its own library: $out"; exit 1 ;;
esac
cmp "$so" "$tmp/venv/lib/"*/site-packages/bmx/libbmx_mix.so
if "$tmp/venv/bin/python" -c 'import torch' 2>/dev/null; then
    (cd "$tmp" && "$tmp/venv/bin/python" -c 'import bmx.torch; print("bmx.torch imports in the venv")')
fi
echo "ok: PYTHONPATH and an offline venv install"
