#!/usr/bin/env bash
# Create .venv with Python >= 3.11 and install the project (extras in $1, e.g. "test") when needed.
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
pick_python() {
    for candidate in "${PYTHON:-}" python3.11 python3.12 python3.13 python3; do
        [ -n "$candidate" ] || continue
        if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
            echo "$candidate"; return 0
        fi
    done
    echo "slo-assets needs Python >= 3.11 (set PYTHON=/path/to/python3.11)" >&2
    return 1
}
if [ ! -x .venv/bin/python ]; then
    python="$(pick_python)"
    if ! "$python" -m venv .venv 2>/dev/null; then
        rm -rf .venv
        if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
            apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
            "$python" -m venv .venv
        else
            echo "cannot create a virtual environment: install the python3-venv package" >&2
            exit 1
        fi
    fi
fi
spec="."
[ -n "$extras" ] && spec=".[$extras]"
stamp=".venv/.installed-$(echo "$extras" | tr ',' '-')-$(sha256sum pyproject.toml | cut -c1-16)"
if [ ! -f "$stamp" ]; then
    echo "installing slo-assets${extras:+[$extras]} into .venv (first run takes about a minute) ..." >&2
    if ! { .venv/bin/python -m pip install --quiet --upgrade pip && .venv/bin/python -m pip install --quiet -e "$spec"; } > .venv/install.log 2>&1; then
        cat .venv/install.log >&2
        exit 1
    fi
    touch "$stamp"
fi
