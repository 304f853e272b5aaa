#!/usr/bin/env bash
# Static checks over the whole repository (package, tests, benchmarks, notebooks):
# ruff check, ruff format --check, mypy (settings in pyproject.toml; mypy checks the
# package with the pydantic plugin). The tools come from the project's venv, pinned by
# constraints.txt, so nothing is downloaded. Runs them all and fails if any fails; .ci/run
# calls it before the tests. Extra arguments go to ruff check (e.g. --statistics).
#   bash scripts/lint.sh
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$here/scripts/bootstrap.sh" || exit 1
cd "$here"
bin="${CENNS_VENV:-$here/.venv}/bin"
status=0
echo "== ruff check" >&2
"$bin/ruff" check "$@" . || status=1
echo "== ruff format --check" >&2
"$bin/ruff" format --check . || status=1
echo "== mypy" >&2
"$bin/mypy" || status=1
exit $status
