#!/usr/bin/env bash
# The bmx Python package (python/bmx, ctypes over libbmx_mix.so) against the library and the
# independent reference tests/ref/mix_ref.py: tests/python/test_api.py.
set -euo pipefail
py=/usr/bin/python3
[ -x "$py" ] || { echo "skip: no /usr/bin/python3"; exit 77; }
so="$BMX_BUILD/libbmx_mix.so"
[ -f "$so" ] || { echo "missing $so (run make)"; exit 1; }
# an ASan library cannot be loaded into an uninstrumented python
if ldd "$so" 2>/dev/null | grep libasan >/dev/null; then echo "skip: sanitizer build (ASan library)"; exit 77; fi
cd "$BMX_ROOT"
BMX_LIB="$so" PYTHONPATH="$BMX_ROOT/python:$BMX_ROOT/tests/ref" PYTHONDONTWRITEBYTECODE=1 \
    "$py" tests/python/test_api.py
