"""Wall time of 200 coverage toys with 1 and 2 workers (never run by the tests).

Each toy of ``models/calibration_ar40_sin2.toml`` draws Poisson counts, fits the chi^2 and
Poisson profile intervals and refits the posterior (nutpie, 2 chains x 500 draws, model
compiled once per worker). Every run starts from an empty output directory, so the times
include starting the Dask cluster (workers = 2) and compiling the model in each worker.

    .venv/bin/python benchmarks/bench_toys.py [--toys 200] [--repeat 1] [--study PATH]

Prints one JSON line per run and a summary with the machine's load averages, which
matter on a shared machine: compare runs made under similar load only.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_once(study: Path, toys: int, workers: int, seed: int) -> dict:
    """One coverage run in a fresh directory; wall time and load averages."""
    from cenns_bayes.calibration.common import SamplerSettings, StudyRef
    from cenns_bayes.calibration.coverage import CoverageSettings, run_coverage
    from cenns_bayes.parallel import Engine

    ref = StudyRef.from_file(study)
    settings = CoverageSettings(toys=toys, sampler=SamplerSettings(target_accept=0.95))
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        with Engine(workers=workers, progress=False) as engine:
            result = run_coverage(ref, settings, seed=seed, engine=engine, out_dir=tmp)
        wall = time.perf_counter() - t0
    per_toy = sorted(r["elapsed_s"] for r in result.rows)
    return {
        "workers": workers,
        "toys": toys,
        "wall_s": round(wall, 2),
        "median_toy_s": round(per_toy[len(per_toy) // 2], 4),
        "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--toys", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument(
        "--study", type=Path, default=ROOT / "models" / "calibration_ar40_sin2.toml"
    )
    parser.add_argument("--seed", type=int, default=20151)
    args = parser.parse_args()
    runs = []
    for _ in range(args.repeat):
        for workers in (1, 2):
            row = run_once(args.study, args.toys, workers, args.seed)
            print(json.dumps(row), flush=True)
            runs.append(row)
    best = {w: min(r["wall_s"] for r in runs if r["workers"] == w) for w in (1, 2)}
    print(
        json.dumps(
            {
                "cpu_count": os.cpu_count(),
                "best_wall_s": best,
                "speedup": round(best[1] / best[2], 2),
            }
        )
    )


if __name__ == "__main__":
    main()
