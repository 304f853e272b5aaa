"""Timing of sensitivity scans and of the parallel engine (never run by the tests).

    .venv/bin/python benchmarks/bench_scan.py [--toys 200] [--repeat 5] [--json]

1. A 50-point Asimov chi^2 threshold scan (mu_nu_mu) after start-up: imports done,
   a fresh StudyScanner each repetition (so every integral is computed), on the
   one-detector study models/argon_1t_20m.toml, on the four-detector paper preset
   (statistics only; threshold of Ar40 scanned, the other detectors' integrals are
   computed once and reused) and, once, on models/paper_realistic.toml, whose flux
   and per-detector normalisations are profiled at every step (the slow path).
2. The wall time of N Brazil-band toys at one scan point with 1 and 2 workers, for
   cheap toys (statistics only, one fitted parameter) and for expensive ones (a 10 %
   flux normalisation profiled in every fit). The local cluster's start-up, including
   importing the package on each worker, is timed separately; the speed-up compares the
   runs themselves. The sum of the tasks' own times shows contention: on an otherwise idle
   machine it stays close to the one-worker run time.

Results go to docs/scans.md by hand, with the date and the machine's load.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def time_chi2_scan(model: str, path: str, values: str, repeat: int) -> dict:
    from cenns_bayes.scans import StudyScanner, parse_vary, run_scan

    axis = parse_vary(f"{path}={values}")
    times, integrations = [], 0
    for _ in range(repeat):
        scanner = StudyScanner.from_file(ROOT / model)
        t0 = time.perf_counter()
        run_scan(scanner, [axis], "mu_nu_mu")
        times.append(time.perf_counter() - t0)
        integrations = scanner.integrations
    return {
        "study": model,
        "points": len(axis.values),
        "integrals": integrations,
        "median_s": statistics.median(times),
        "min_s": min(times),
    }


def time_toys(toys: int, workers: int, flux_sigma: float) -> dict:
    from cenns_bayes.parallel import Engine, read_table
    from cenns_bayes.scans import ScanAxis, StudyScanner, run_scan

    overrides = {"nuisances.flux_sigma": flux_sigma} if flux_sigma else {}
    scanner = StudyScanner.from_file(ROOT / "models" / "argon_1t_20m.toml", overrides)
    axis = [ScanAxis("detectors.Ar.recoil_window_kev.0", (10.0,))]
    with tempfile.TemporaryDirectory() as tmp, Engine(workers=workers, progress=False) as engine:
        t0 = time.perf_counter()
        if not engine.in_process:  # start the cluster and import the package on every worker
            engine._get_client().run(importlib.import_module, "cenns_bayes.scans")
        t1 = time.perf_counter()
        res = run_scan(scanner, axis, "mu_nu_mu", toys=toys, seed=1, engine=engine, out_dir=tmp)
        t2 = time.perf_counter()
        task_s = sum(r["elapsed_s"] for r in read_table(Path(tmp) / "toys.jsonl"))
    return {
        "workers": workers,
        "flux_sigma": flux_sigma,
        "toys": toys,
        "startup_s": t1 - t0,
        "run_s": t2 - t1,
        "sum_task_s": task_s,
        "median_limit": res.points[0].band["median"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--toys", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    import cenns_bayes.scans  # noqa: F401 - start-up excluded from the timings

    out = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": (
            f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
        ),
        "load_average_1min": os.getloadavg()[0],
        "chi2_scans": [
            time_chi2_scan(
                "models/argon_1t_20m.toml",
                "detectors.Ar.recoil_window_kev.0",
                "1:40:50:log",
                args.repeat,
            ),
            time_chi2_scan(
                "cenns_bayes/paper/presets/realistic.toml",
                "detectors.Ar40.recoil_window_kev.0",
                "5:40:50",
                args.repeat,
            ),
            time_chi2_scan(
                "models/paper_realistic.toml", "detectors.Ar40.recoil_window_kev.0", "5:40:50", 1
            ),
        ],
        "toys": [time_toys(args.toys, w, fs) for fs in (0.0, 0.1) for w in (1, 2)],
    }
    out["load_average_1min_after"] = os.getloadavg()[0]
    for fs in (0.0, 0.1):
        one, two = (t["run_s"] for t in out["toys"] if t["flux_sigma"] == fs)
        out[f"speedup_flux_sigma_{fs}"] = one / two
    if args.json:
        print(json.dumps(out, indent=2))
        return
    print(f"{out['date']}  {out['machine']}  load {out['load_average_1min']:.2f}")
    for s in out["chi2_scans"]:
        print(
            f"chi2 scan {s['study']}: {s['points']} points, {s['integrals']} channel integrals, "
            f"median {1e3 * s['median_s']:.1f} ms, best {1e3 * s['min_s']:.1f} ms"
        )
    for t in out["toys"]:
        print(
            f"{t['toys']} toys, flux_sigma={t['flux_sigma']}, workers={t['workers']}: "
            f"run {t['run_s']:.2f} s (start-up and imports {t['startup_s']:.2f} s; sum of task "
            f"times {t['sum_task_s']:.2f} s), median limit {t['median_limit']:.3f}"
        )
    for fs in (0.0, 0.1):
        print(f"speed-up with 2 workers (flux_sigma={fs}): {out[f'speedup_flux_sigma_{fs}']:.2f}x")


if __name__ == "__main__":
    main()
