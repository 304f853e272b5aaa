"""Block size of RateModel.counts: 10^6 points x 12 channels at three block sizes, side by side.

    .venv/bin/python benchmarks/block_size_counts.py

Each repetition runs the three block sizes one after the other (so machine load hits them
alike) into a preallocated result; min and median over 15 repetitions.
"""

import os
import time

import numpy as np

from cenns_bayes.paper.reproduce import load_presets
from cenns_bayes.parallel import single_threaded_blas
from cenns_bayes.rates.coefficients import RateModel

SIZES = (1 << 12, 1 << 14, 1 << 16)


def main() -> None:
    print(f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load {os.getloadavg()}")
    model = load_presets()["realistic"].rate_model()
    rng = np.random.default_rng(1)
    n = 1_000_000
    p = {
        "sin2_theta_w": rng.uniform(0.2, 0.26, n),
        "mu_nu_mu": rng.uniform(0, 20, n),
        "mu_nu_e": rng.uniform(0, 20, n),
        "r2_nu_mu": rng.normal(0, 1, n),
        "r2_nu_e": rng.normal(0, 1, n),
        "signal_strength": rng.uniform(0.5, 1.5, n),
    }
    out = np.empty((n, model.polynomial.shape[1]))
    times: dict[int, list[float]] = {size: [] for size in SIZES}
    default = RateModel.BLOCK_POINTS
    try:
        with single_threaded_blas():
            for _ in range(15):
                for size in SIZES:
                    RateModel.BLOCK_POINTS = size
                    t = time.perf_counter()
                    model.counts(p, out=out)
                    times[size].append(time.perf_counter() - t)
    finally:
        RateModel.BLOCK_POINTS = default
    for size, ts in times.items():
        mark = " (default)" if size == default else ""
        print(
            f"block {size:6d}{mark}: min {1e3 * min(ts):.1f} ms, "
            f"median {1e3 * np.median(ts):.1f} ms"
        )
    print(f"# after: load {os.getloadavg()}")


if __name__ == "__main__":
    main()
