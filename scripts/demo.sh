#!/usr/bin/env bash
# scripts/demo.sh BUILD_DIR - the main job on the built-in default (make demo).
# Until training exists, the main job is the policy simulator: every policy side by side on
# the learnable-domains environment, with a JSONL log and SVG plots under runs/demo/.
set -euo pipefail
build=${1:-build}
cd "$(dirname "$0")/.."
exec "$build"/bmx simulate --out runs/demo
