"""Block size of RateModel.counts: 10^6 points x 12 channels at three block sizes, side by side.

    .venv/bin/python benchmarks/block_size_counts.py

Each repetition runs the three block sizes one after the other (so machine load hits them
alike) into a preallocated result; min and median over 15 repetitions.
"""

import os
import time

import numpy as np
from bench_speed import counts_workload  # the same workload as its counts section

from cenns_bayes.parallel import single_threaded_blas
from cenns_bayes.rates.coefficients import RateModel

SIZES = (1 << 12, 1 << 14, 1 << 16)


def main() -> None:
    print(f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load {os.getloadavg()}")
    model, p = counts_workload()
    out = np.empty((len(p["sin2_theta_w"]), model.polynomial.shape[1]))
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
