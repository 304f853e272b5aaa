#!/usr/bin/env bash
# Create (or refresh) the project's virtual environment in .venv.
#
# Finds a Python >= 3.12 by itself: first on PATH (python3.14 ... python3.12,
# python3, python), then under pyenv's versions. Installs the package in
# editable mode with its test and dev extras (the dev extra: ruff, mypy, pre-commit,
# mkdocs; docs/dependencies.md), pinned by constraints.txt, and skips the
# install when pyproject.toml and constraints.txt have not changed since the
# last successful one.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${CENNS_VENV:-$here/.venv}"

is_ok() {  # is_ok PYTHON -> 0 when it runs and is >= 3.12
    "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' 2>/dev/null
}

find_python() {
    local c
    for c in python3.14 python3.13 python3.12 python3 python; do
        if command -v "$c" >/dev/null 2>&1 && is_ok "$(command -v "$c")"; then
            command -v "$c"; return 0
        fi
    done
    local root="${PYENV_ROOT:-}"
    if [ -z "$root" ] && command -v pyenv >/dev/null 2>&1; then root="$(pyenv root)"; fi
    [ -n "$root" ] || root="$HOME/.pyenv"
    for c in $(ls -d "$root"/versions/3.1[2-9]*/bin/python3 2>/dev/null | sort -V -r); do
        if is_ok "$c"; then echo "$c"; return 0; fi
    done
    return 1
}

if [ ! -x "$venv/bin/python" ] || ! is_ok "$venv/bin/python"; then
    if ! py="$(find_python)"; then
        echo "cenns_bayes needs Python >= 3.12 (PyMC 6 and ArviZ 1 require it)." >&2
        echo "None was found on PATH or under pyenv. Install one, e.g. 'pyenv install 3.12'," >&2
        echo "or put a python3.12 on PATH, then run this again." >&2
        exit 1
    fi
    echo "bootstrap: creating $venv with $py ($("$py" --version))" >&2
    rm -rf "$venv"
    "$py" -m venv "$venv"
fi

stamp="$venv/.cenns-bayes-installed"
want="$(cat "$here/pyproject.toml" "$here/constraints.txt" | sha256sum | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "bootstrap: installing cenns-bayes and its pinned dependencies (about a minute)" >&2
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip >&2
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
        -c "$here/constraints.txt" -e "$here[test,dev]" >&2
    echo "$want" > "$stamp"
fi
