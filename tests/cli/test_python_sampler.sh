#!/usr/bin/env bash
# bmx.torch's sampler over real shards (tests/python/test_sampler.py): the checked reader,
# chi-square of drawn domains, windows, DataLoader workers, exact resume (with workers too). Needs torch.
set -euo pipefail
. "$BMX_ROOT/tests/cli/lib.sh"
need_torch
scratch python_sampler
bash "$BMX_ROOT/tests/cli/rundata.sh" "$t/data"
cd "$BMX_ROOT"
BMX_LIB="$so" PYTHONPATH="$BMX_ROOT/python" PYTHONDONTWRITEBYTECODE=1 \
    "$py" tests/python/test_sampler.py "$t/data/corpus"
