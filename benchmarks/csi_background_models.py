"""Measure every steady-state background model of the CsI 2017 study.

The models are those of docs/coherent_csi_2017.md §4.2.

For each model: the profile-likelihood fit (CEvNS events with their 68 % interval,
signal_strength, the no-CEvNS significance) and, with ``--sample``, the posterior median
of signal_strength under the Jeffreys and the flat prior on the background rates.

    python benchmarks/csi_background_models.py [--sample] [--draws 1000] [--only NAME]
    python benchmarks/csi_background_models.py --pooling   # are the control samples alike?

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
    "per-bin, AC beam-on only": {
        f"{KEY}.model": "per-bin",
        f"{KEY}.control_samples": ["ac-beam-on"],
    },
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


def pooling_checks() -> dict:
    """Do the control samples share the steady state's rate and shape (6-30 PE, 0-12 us)?

    Totals: binomial tests with the live-time ratio. Shapes: chi^2 homogeneity tests of the
    PE and arrival-time marginals (scipy.stats.chi2_contingency). Then the smooth model's
    control-only fit with and without the early-time factor, and each sample's 0-1 us
    counts against the pure exponential.
    """
    import numpy as np
    from scipy import stats

    from cenns_bayes.datasets.coherent import load_coherent_csi_2017
    from cenns_bayes.detector.background import SmoothSteadyState

    release = load_coherent_csi_2017()
    cut = slice(3, 15)
    ac_on, c_off, ac_off = (
        np.asarray(getattr(release, k), float)[cut]
        for k in ("anticoincidence_beam_on", "coincidence_beam_off", "anticoincidence_beam_off")
    )

    def homogeneity(a, b, axis):
        chi2, p, dof, _ = stats.chi2_contingency(np.stack([a.sum(axis=axis), b.sum(axis=axis)]))
        return {"chi2": round(float(chi2), 2), "dof": int(dof), "p": round(float(p), 3)}

    off = c_off + ac_off
    frac_on = 308.1 / (308.1 + 2 * 153.5)
    out = {
        "counts": {"ac_on": ac_on.sum(), "c_off": c_off.sum(), "ac_off": ac_off.sum()},
        "c_off_vs_ac_off": {
            "total_p": stats.binomtest(int(c_off.sum()), int(off.sum()), 0.5).pvalue,
            "pe": homogeneity(c_off, ac_off, 1),
            "time": homogeneity(c_off, ac_off, 0),
        },
        "ac_on_vs_off": {
            "per_day": [ac_on.sum() / 308.1, off.sum() / (2 * 153.5)],
            "total_p": stats.binomtest(
                int(ac_on.sum()), int(ac_on.sum() + off.sum()), frac_on
            ).pvalue,
            "pe": homogeneity(ac_on, off, 1),
            "time": homogeneity(ac_on, off, 0),
        },
    }
    tau = 1 + 2 * 153.5 / 308.1
    t_lo = np.arange(24) * 0.5
    for early in (0.0, 1.0):
        model = SmoothSteadyState(ac_on + off, tau, t_lo, early_time_us=early)
        theta, sigma = model.fit_control()
        q = model.time_shape(theta)
        total = float(np.exp(theta[:12]).sum())
        out[f"control_fit_early_{early:g}us"] = {
            "deviance": float(model.control_neg2ll(theta)),
            "lambda_per_us": [float(theta[12]), float(sigma[12])],
            **({"ln_early_factor": [float(theta[13]), float(sigma[13])]} if early else {}),
            "0_1us_observed_expected": {
                "ac_on": [ac_on[:, :2].sum(), total * q[:2].sum()],
                "off": [off[:, :2].sum(), (tau - 1) * total * q[:2].sum()],
            },
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", action="store_true", help="also sample both priors")
    parser.add_argument(
        "--draws", type=int, default=1000, help="draws (and tuning steps) per chain"
    )
    parser.add_argument("--only", default=None, help="measure only the model whose name starts so")
    parser.add_argument("--pooling", action="store_true", help="only the control-sample checks")
    args = parser.parse_args()
    print(f"# load average {os.getloadavg()}")
    if args.pooling:
        print(json.dumps(pooling_checks(), indent=1, default=float))
        return
    for name, overrides in MODELS.items():
        if args.only and not name.startswith(args.only):
            continue
        row = measure(name, overrides, args.sample, args.draws)
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
