"""Measure every steady-state background model of the CsI 2017 study (docs/coherent_csi_2017.md §4.2).

For each model: the profile-likelihood fit (CEvNS events with their 68 % interval,
signal_strength, the no-CEvNS significance) and, with ``--sample``, the posterior median
of signal_strength under the Jeffreys and the flat prior on the background rates.

    python benchmarks/csi_background_models.py [--sample] [--draws 1000] [--only NAME]

Models whose background normalisation is fixed (the ``exact`` treatments) are not
measured: they are over-confident by construction.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from cenns_bayes.specs import load_study
from cenns_bayes.stats.fit import fit_study

ROOT = Path(__file__).resolve().parents[1]
CSI = ROOT / "models" / "coherent_csi_2017.toml"
KEY = "backgrounds.steady_state"
ALL = ["ac-beam-on", "c-beam-off", "ac-beam-off"]

#: name -> overrides of the shipped study (whose default is the first row)
MODELS: dict[str, dict] = {
    "smooth (default)": {},
    "smooth, no early-time term": {f"{KEY}.early_time_us": 0.0},
    "smooth, control PE spectrum x 1 amplitude": {f"{KEY}.pe_shape": "control"},
    "smooth, AC beam-on only": {f"{KEY}.control_samples": ["ac-beam-on"]},
    "per-bin, all control samples": {f"{KEY}.model": "per-bin"},
    "per-bin, AC beam-on only": {f"{KEY}.model": "per-bin", f"{KEY}.control_samples": ["ac-beam-on"]},
}


def measure(name: str, overrides: dict, sample: bool, draws: int) -> dict:
    study = load_study(CSI, overrides)
    t0 = time.perf_counter()
    fit = fit_study(study)
    row = {
        "model": name,
        "overrides": overrides,
        "events": fit["derived"]["cevns_events"]["best"],
        "events_68": fit["derived"]["cevns_events"]["interval_68"],
        "sm_expected": fit["derived"]["cevns_events"]["sm_expected"],
        "signal_strength": fit["parameters"]["signal_strength"]["best"],
        "signal_strength_68": fit["parameters"]["signal_strength"]["interval_68"],
        "significance_sigma": fit["significance_sigma"],
        "fit_seconds": time.perf_counter() - t0,
    }
    if sample:
        from cenns_bayes.bayes import sample_study, summarise_posterior

        for prior in ("jeffreys", "uniform"):
            st = load_study(CSI, {**overrides, f"{KEY}.rate_prior": prior})
            res = sample_study(st, draws=draws, tune=draws, chains=4, progressbar=False)
            s = summarise_posterior(res.idata, ["signal_strength"])["signal_strength"]
            div = int(res.idata["sample_stats"]["diverging"].values.sum())
            row[f"median_{prior}"] = s["median"]
            row[f"eti68_{prior}"] = s["eti_68"]
            row[f"divergences_{prior}"] = div
            row[f"r_hat_{prior}"] = s["r_hat"]
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", action="store_true", help="also sample both priors")
    parser.add_argument("--draws", type=int, default=1000, help="draws (and tuning steps) per chain")
    parser.add_argument("--only", default=None, help="measure only the model whose name starts so")
    args = parser.parse_args()
    print(f"# load average {os.getloadavg()}")
    for name, overrides in MODELS.items():
        if args.only and not name.startswith(args.only):
            continue
        row = measure(name, overrides, args.sample, args.draws)
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
