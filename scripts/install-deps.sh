#!/usr/bin/env bash
# Install what bmx needs on a fresh Debian 12 machine: the Debian packages listed in
# scripts/deps-apt.txt (apt-get) and the npm packages in scripts/deps-npm.txt (into
# ./node_modules). Packages already present are left alone, so this is quick to re-run.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

want() { { grep -vE '^[[:space:]]*(#|$)' "$1" || true; } | awk '{print $1}'; }

missing=()
for p in $(want scripts/deps-apt.txt); do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "bmx: missing Debian packages: ${missing[*]}" >&2
        echo "bmx: install them as root: apt-get update && apt-get install -y ${missing[*]}" >&2
        exit 1
    fi
    echo "bmx: installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get -o DPkg::Lock::Timeout=900 update -qq
    apt-get -o DPkg::Lock::Timeout=900 install -y -qq --no-install-recommends "${missing[@]}"
fi

# npm prunes what it was not asked for, so when one package is missing all are installed.
npm_all=($(want scripts/deps-npm.txt))
npm_missing=()
for spec in "${npm_all[@]}"; do
    name=${spec%@*}
    ver=${spec##*@}
    have=$(node -e "try{console.log(require('./node_modules/$name/package.json').version)}catch(e){}" 2>/dev/null || true)
    [ "$have" = "$ver" ] || npm_missing+=("$spec")
done
if [ ${#npm_missing[@]} -gt 0 ]; then
    # Machines whose Node.js comes with its own npm have no Debian npm package (it would
    # conflict); Debian's nodejs alone needs Debian's npm.
    if ! command -v npm >/dev/null; then
        [ "$(id -u)" -eq 0 ] || { echo "bmx: npm is needed for: ${npm_missing[*]} (as root: apt-get install -y npm)" >&2; exit 1; }
        apt-get -o DPkg::Lock::Timeout=900 install -y -qq --no-install-recommends npm
    fi
    echo "bmx: installing npm packages: ${npm_all[*]}"
    npm install --no-save --no-audit --no-fund --loglevel=error "${npm_all[@]}"
fi
echo "bmx: dependencies present"
