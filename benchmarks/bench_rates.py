"""Timing of the physics core: exact coefficients against per-call quadrature.

Run:  .venv/bin/python benchmarks/bench_rates.py

Reports, in one run on this machine:
* wall time of the whole ``cenns-bayes reproduce`` process (median of 3);
* evaluating the counts of the 12 channels of the realistic preset at 1e6 parameter
  points from the exact coefficients (once-per-channel integrals included);
* the same count by a straightforward per-call adaptive quadrature of Eq. (9), timed on
  a few points and scaled to 1e6, and the ratio.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def time_reproduce(repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "cenns_bayes.cli.main", "reproduce", "--json"],
            check=True,
            capture_output=True,
            cwd=ROOT,
        )
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    from cenns_bayes.paper.reproduce import load_presets
    from cenns_bayes.rates.quadrature import direct_counts

    t_reproduce = time_reproduce()
    study = load_presets()["realistic"]
    t0 = time.perf_counter()
    study._coefficients.clear()
    model = study.rate_model()
    t_coeff = time.perf_counter() - t0
    rng = np.random.default_rng(1)
    n_points = 1_000_000
    params = {
        "sin2_theta_w": rng.uniform(0.2, 0.26, n_points),
        "mu_nu_mu": rng.uniform(0, 20, n_points),
        "mu_nu_e": rng.uniform(0, 20, n_points),
        "r2_nu_mu": rng.normal(0, 1, n_points),
    }
    t0 = time.perf_counter()
    counts = model.counts(params)
    t_eval = time.perf_counter() - t0
    assert counts.shape == (n_points, 12)

    n_direct = 3
    t0 = time.perf_counter()
    for i in range(n_direct):
        for det in study.detector_names:
            setup = study.setup(det)
            for flavor in study.flavors:
                mu = params["mu_nu_mu"][i] if flavor != "nue" else params["mu_nu_e"][i]
                r2 = params["r2_nu_mu"][i] if flavor != "nue" else 0.0
                direct_counts(setup, flavor, params["sin2_theta_w"][i], mu, r2, epsrel=1e-6)
    t_direct_point = (time.perf_counter() - t0) / n_direct
    t_direct = t_direct_point * n_points
    print(f"date: {time.strftime('%Y-%m-%d')}")
    print(f"reproduce, whole process (median of 3): {t_reproduce:.2f} s")
    print(f"coefficients of the 12 realistic channels: {t_coeff * 1e3:.1f} ms")
    print(f"counts of 12 channels at 1e6 parameter points from coefficients: {t_eval:.3f} s")
    print(
        f"per-call quadrature (epsrel 1e-6): {t_direct_point:.3f} s per point "
        f"-> {t_direct:.3g} s for 1e6 points (extrapolated)"
    )
    print(
        f"speed-up of coefficients over per-call quadrature: {t_direct / (t_eval + t_coeff):.3g}x"
    )


if __name__ == "__main__":
    main()
