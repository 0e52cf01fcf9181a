#!/usr/bin/env bash
# The bmx Python package (python/bmx, ctypes over libbmx_mix.so) against the library and the
# independent reference tests/ref/mix_ref.py: tests/python/test_api.py.
set -euo pipefail
. "$BMX_ROOT/tests/cli/lib.sh"
need_python_mix
cd "$BMX_ROOT"
BMX_LIB="$so" PYTHONPATH="$BMX_ROOT/python:$BMX_ROOT/tests/ref" PYTHONDONTWRITEBYTECODE=1 \
    "$py" tests/python/test_api.py
