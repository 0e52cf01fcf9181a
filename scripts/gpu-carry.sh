#!/usr/bin/env bash
# scripts/gpu-carry.sh - make .gpu/blas.tar.xz, what scripts/gpu-check.sh carries to the lent GPU
# machine: Debian's OpenBLAS (OpenMP build) with libgfortran, libquadmath and the headers, since
# that machine has no network and may lack them. .gpu/ must be ignored (it is listed in
# .git/info/exclude by this script) and named in the device run's `carry`.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=/usr/lib/x86_64-linux-gnu
blas=$dir/openblas-openmp
[ -f "$blas/libopenblas.so.0" ] || { echo "no $blas/libopenblas.so.0: apt-get install libopenblas-openmp-dev" >&2; exit 1; }
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
mkdir -p "$t/lib" "$t/include" .gpu
cp -L "$blas/libopenblas.so.0" "$dir/libgfortran.so.5" "$dir/libquadmath.so.0" "$t/lib/"
ln -s libopenblas.so.0 "$t/lib/libopenblas.so"
inc=/usr/include/x86_64-linux-gnu/openblas-openmp
cp -L "$inc/cblas.h" "$inc/openblas_config.h" "$inc/f77blas.h" "$t/include/"
tar -C "$t" -cJf .gpu/blas.tar.xz lib include
grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || echo '/.gpu/' >>.git/info/exclude
ls -l .gpu/blas.tar.xz
