#!/usr/bin/env bash
# Static checks over the package and tests: ruff check, ruff format --check, mypy
# (settings in pyproject.toml; mypy uses the pydantic plugin). Runs them all and fails
# if any fails. Extra arguments go to ruff check (e.g. --statistics).
#   bash scripts/lint.sh
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$here/scripts/bootstrap.sh" || exit 1
cd "$here"
bin="${CENNS_VENV:-$here/.venv}/bin"
status=0
echo "== ruff check" >&2
"$bin/ruff" check "$@" cenns_bayes tests benchmarks || status=1
echo "== ruff format --check" >&2
"$bin/ruff" format --check cenns_bayes tests benchmarks || status=1
echo "== mypy cenns_bayes" >&2
"$bin/mypy" || status=1
exit $status
