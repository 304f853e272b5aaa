#!/usr/bin/env bash
# Set up the environment if needed, then run the test suite.
#   bash scripts/test.sh            fast tests and notebooks (a few minutes on 2 cores)
#   bash scripts/test.sh --slow     only the long MCMC tests (slow marker)
# Other arguments are passed on to pytest.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$here/scripts/bootstrap.sh"
cd "$here"
export MPLBACKEND=Agg
py="${CENNS_VENV:-$here/.venv}/bin/python"
if [ "${1:-}" = "--slow" ]; then
    shift
    exec "$py" -m pytest -m slow "$@"
fi
exec "$py" -m pytest -m "not slow" "$@"
