"""Time ``cenns-bayes fit`` of the single COHERENT data sets: exact gradients vs numerical.

For each study the model is built once, then ``fit_study`` (best fit and the 68 % / 90 %
profile intervals of every free parameter, as ``cenns-bayes fit``) runs with the exact
Jacobian (:mod:`cenns_bayes.stats.jacobians`) and with numerical derivatives
(``exact_gradients=False``), side by side, and prints both results' minimum and interval
ends beside the times (CPU seconds of this process, and wall time)::

    nice .venv/bin/python benchmarks/bench_coherent_fits.py [models/coherent_csi_2021_mu.toml ...]
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import replace

from cenns_bayes.specs import load_study
from cenns_bayes.stats.binned import model_for_study
from cenns_bayes.stats.fit import fit_study

DEFAULT = [
    "models/coherent_csi_2017_mu.toml",
    "models/coherent_csi_2021_mu.toml",
    "models/coherent_lar_2020_mu.toml",
]


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f}"


def main(paths: list[str]) -> None:
    print(time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), load(), flush=True)
    for path in paths:
        study = load_study(path)
        model = model_for_study(study)
        for exact in (True, False):
            how = "exact gradient" if exact else "numerical derivatives"
            cpu, wall = time.process_time(), time.perf_counter()
            result = fit_study(study, replace(model, exact_gradients=exact))
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            ends = {
                p: [round(v, 6) for v in r["interval_90"]] for p, r in result["parameters"].items()
            }
            print(
                f"{study.name}, {how}: {cpu:.1f} s CPU, {wall:.1f} s wall [{load()}]\n"
                f"    -2 ln L {result['details']['minimum_neg2ll']:.8f}, 90 % intervals {ends}",
                flush=True,
            )


if __name__ == "__main__":
    main(sys.argv[1:] or DEFAULT)
