#!/usr/bin/env bash
# bmx.torch's sampler over real shards (tests/python/test_sampler.py): the checked reader,
# chi-square of drawn domains, windows, DataLoader workers, exact resume. Needs torch.
set -euo pipefail
py=/usr/bin/python3
[ -x "$py" ] || { echo "skip: no /usr/bin/python3"; exit 77; }
so="$BMX_BUILD/libbmx_mix.so"
[ -f "$so" ] || { echo "missing $so (run make)"; exit 1; }
if ldd "$so" 2>/dev/null | grep libasan >/dev/null; then echo "skip: sanitizer build (ASan library)"; exit 77; fi
if ! "$py" -c 'import torch, numpy' 2>/dev/null; then
    echo "skip: python3-torch (and python3-numpy) not installed: apt-get install python3-torch"
    exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bash "$BMX_ROOT/tests/cli/rundata.sh" "$tmp/data"
cd "$BMX_ROOT"
BMX_LIB="$so" PYTHONPATH="$BMX_ROOT/python" PYTHONDONTWRITEBYTECODE=1 \
    "$py" tests/python/test_sampler.py "$tmp/data/corpus"
