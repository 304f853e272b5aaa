"""Pooling of the per-detector normalisations judged on toys with real detector scatter.

Each toy of ``models/paper_realistic.toml`` draws the true per-detector normalisations from
the partial-pooling prior (tau ~ HalfNormal(sigma_det), A_d = exp(tau z_d)) and the flux
from its log-normal prior, then Poisson counts at the study's true physics point; the
posterior is sampled (nutpie, 2 chains x 500 draws, compiled once per pooling) with
partial, complete and no pooling. Reported per pooling: coverage of the 90 % HDI of
sin2_theta_w and of the 90 % upper limits of the moments (true value 0: trivially 1, so
their median is given instead), and median widths.

    .venv/bin/python benchmarks/pooling_toys.py --toys 100
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from cenns_bayes.bayes.summary import credible_hdi
from cenns_bayes.calibration.common import (
    SamplerSettings,
    StudyRef,
    clopper_pearson,
    counting_for,
    get_refitter,
)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--toys", type=int, default=100)
    parser.add_argument("--seed", type=int, default=20151)
    args = parser.parse_args()
    base = StudyRef.from_file("models/paper_realistic.toml")
    study = base.load()
    nuis = study.spec.nuisances
    counting = counting_for(base)
    truth = study.true_parameters()
    rng = np.random.default_rng(args.seed)
    toys = []
    for _ in range(args.toys):
        tau = abs(rng.normal(0.0, nuis.detector_sigma))
        det = np.exp(tau * rng.normal(size=len(counting.detector_names)))
        flux = float(np.exp(nuis.flux_sigma * rng.normal()))
        counts, _ = counting.sample(truth, rng, {"flux_norm": flux, "detector_norm": det})
        toys.append(counts)
    settings = SamplerSettings(draws=500, tune=500, chains=2)
    print(f"load {os.getloadavg()[0]:.2f}; {args.toys} toys; truth sin2 = {truth['sin2_theta_w']}")
    for pooling in ("partial", "complete", "none"):
        ref = base.with_tables(
            nuisances={
                "flux_sigma": nuis.flux_sigma,
                "detector_sigma": nuis.detector_sigma,
                "pooling": pooling,
            }
        )
        t0 = time.perf_counter()
        fitter = get_refitter(ref, settings)
        covered, widths, upper_mu, upper_e, divs = [], [], [], [], 0
        for i, counts in enumerate(toys):
            fit = fitter.fit(counts, seed=args.seed + i)
            lo, hi = credible_hdi(fit.draws["sin2_theta_w"], 0.9)
            covered.append(lo <= truth["sin2_theta_w"] <= hi)
            widths.append(hi - lo)
            upper_mu.append(float(np.quantile(fit.draws["mu_nu_mu"], 0.9)))
            upper_e.append(float(np.quantile(fit.draws["mu_nu_e"], 0.9)))
            divs += fit.divergences
        k = int(np.sum(covered))
        lo95, hi95 = clopper_pearson(k, len(covered))
        print(
            f"{pooling:8s} sin2 90% HDI coverage {k / len(covered):.3f} [{lo95:.3f}, {hi95:.3f}], "
            f"median width {np.median(widths):.4f}; "
            f"median 90% upper mu_nu_mu {np.median(upper_mu):.2f}, "
            f"mu_nu_e {np.median(upper_e):.2f}; divergences {divs}; "
            f"{time.perf_counter() - t0:.0f} s; "
            f"load {os.getloadavg()[0]:.2f}"
        )


if __name__ == "__main__":
    main()
