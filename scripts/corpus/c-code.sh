#!/usr/bin/env bash
# c-code: the Linux 6.1 kernel (linux-source-6.1) and GNU C library 2.36 (glibc-source)
# sources: their .c and .h files, untarred once into the cache; one file a document,
# files over 1 MB (generated register tables) left out.
source "$(dirname "$0")/lib.sh"
corpus_init "$@"
deb_prefetch linux-source-6.1 glibc-source
l=$(deb_fetch linux-source-6.1 GPL-2)
g=$(deb_fetch glibc-source LGPL-2.1+)
out=$CACHE/data/c-code

_untar() { # _untar TARBALL NAME: the .c/.h files of TARBALL into $out/NAME
    [ -f "$out/$2/.bmx-done" ] && return 0
    rm -rf "$out/$2.tmp"
    mkdir -p "$out/$2.tmp"
    tar -xJf "$1" -C "$out/$2.tmp" --wildcards '*.c' '*.h' ||
        die "cannot untar the .c/.h files of $1"
    touch "$out/$2.tmp/.bmx-done"
    rm -rf "$out/$2"
    mv "$out/$2.tmp" "$out/$2"
}
lt=$(ls "$l"/usr/src/linux-source-*.tar.xz 2>/dev/null | head -n 1)
gt=$(ls "$g"/usr/src/glibc/glibc-*.tar.xz 2>/dev/null | head -n 1)
[ -n "$lt" ] && [ -n "$gt" ] || die "no source tarball in linux-source-6.1 or glibc-source"
with_lock c-code-linux _untar "$lt" linux
with_lock c-code-glibc _untar "$gt" glibc
emit_py "$out" <<'PY'
import sys, corpuslib as c
out = sys.argv[1]
docs = c.file_docs(out + "/linux", "linux-source-6.1", include=("*.c", "*.h"), max_file=1000000)
docs += c.file_docs(out + "/glibc", "glibc-source", include=("*.c", "*.h"), max_file=1000000)
c.emit(docs)
PY
