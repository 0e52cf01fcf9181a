# tests/cli/lib.sh - sourced by the shell tests (`. "$BMX_ROOT/tests/cli/lib.sh"`): the
# helpers several of them need. Sourced helpers are not tests: this file is not named test_*.

# scratch NAME: a new scratch folder in t (/tmp/bmx_cli_NAME_XXXXXX), removed when the test
# exits.
scratch() {
    t=$(mktemp -d "/tmp/bmx_cli_$1_XXXXXX")
    trap 'rm -rf "$t"' EXIT
}

# fail WHAT: the test fails, saying WHAT.
fail() { echo "FAIL: $*" >&2; exit 1; }

# expect STATUS PATTERN CMD...: CMD exits with STATUS (within 60 s) and says PATTERN on its
# standard error, which stays in "$t/err" for further checks.
expect() {
    local want=$1 pat=$2 rc=0
    shift 2
    timeout 60 "$@" 2>"$t/err" >/dev/null || rc=$?
    [ $rc = "$want" ] || fail "$* exited $rc, not $want: $(tail -3 "$t/err")"
    grep -q -- "$pat" "$t/err" || fail "$*: no '$pat' in: $(tail -3 "$t/err")"
}

# need_python_mix: the Python tests' interpreter in $py and the mixing library in $so, or the
# test is skipped (no /usr/bin/python3, a sanitizer build) or fails (the library is not built).
need_python_mix() {
    py=/usr/bin/python3
    [ -x "$py" ] || { echo "skip: no /usr/bin/python3"; exit 77; }
    so="$BMX_BUILD/libbmx_mix.so"
    [ -f "$so" ] || { echo "missing $so (run make)"; exit 1; }
    # an ASan library cannot be loaded into an uninstrumented python
    if ldd "$so" 2>/dev/null | grep libasan >/dev/null; then
        echo "skip: sanitizer build (ASan library)"
        exit 77
    fi
}

# need_torch: need_python_mix, and $py imports torch and numpy, or the test is skipped.
need_torch() {
    need_python_mix
    if ! "$py" -c 'import torch, numpy' 2>/dev/null; then
        echo "skip: python3-torch (and python3-numpy) not installed: apt-get install python3-torch"
        exit 77
    fi
}
