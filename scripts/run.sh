#!/usr/bin/env bash
# Set up the environment if needed, then run the cenns-bayes command line.
#   bash scripts/run.sh study models/paper_realistic.toml --out results/paper_realistic
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$here/scripts/bootstrap.sh"
exec "${CENNS_VENV:-$here/.venv}/bin/cenns-bayes" "$@"
