#!/usr/bin/env bash
# scripts/fn-lengths.sh [N] [PATH...] - the N longest C functions (default 10, under src/):
# "lines  file:line  name", lines counted from the definition's first line to its closing
# brace. A brace counter for clang-formatted code: a definition is a line at column 0 that
# is not a comment, preprocessor line or declaration, followed (directly or after its
# continuation lines) by "{" alone at column 0; it ends at the next "}" at column 0.
set -euo pipefail
n=${1:-10}
shift || true
[ $# -gt 0 ] || set -- src
find "$@" -name '*.c' -o -name '*.inc' -o -name '*.cu' | sort | while read -r f; do
    awk -v file="$f" '
        /^[A-Za-z_]/ && !/;[[:space:]]*$/ && !/^(typedef|struct [A-Za-z_]* *\{|enum|union|#)/ {
            if (!inbody) { start = FNR; sig = $0 }
        }
        /^[ \t]/ && !inbody && start && !body { sig = sig " " $0 }
        /^\{[[:space:]]*$/ && start && !inbody { inbody = 1; next }
        /^\}/ && inbody {
            name = sig
            sub(/\(.*/, "", name)
            gsub(/.*[ *]/, "", name)
            printf "%6d  %s:%d  %s\n", FNR - start + 1, file, start, name
            inbody = 0; start = 0; next
        }
        /^$/ && !inbody { start = 0 }
    ' "$f"
done | sort -rn | head -n "$n"
