"""The boundary HDI rule on coverage toys, against the exact HDI of each toy's posterior.

For a coverage run of ``models/calibration_ge76_mu.toml`` (one free moment, flat prior on
[0, 30], no nuisances: expected counts a + b mu^2), each toy's posterior is computed on a
grid of 60 001 points by direct evaluation of the Poisson likelihood (no sampling), and
its exact highest-density region at 68 % and 90 % found by thresholding the density.
Printed per level: how often the exact HDI starts at 0, the coverage of the exact HDI
and of the rule's HDI (from the NUTS draws, as stored in the run), how often the rule
and the exact HDI disagree on starting at 0, and where the rule says [0, q] but the exact
HDI does not, how much longer the exact [0, q] is than the exact HDI.

    cenns-bayes check models/calibration_ge76_mu.toml --kind coverage --toys 1000 \\
        --workers 1 --seed 20151 --out DIR
    .venv/bin/python benchmarks/boundary_hdi_toys.py DIR
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

SPEC = "models/calibration_ge76_mu.toml"
PARAMETER = "mu_nu_mu"


def exact_hdi(mu: np.ndarray, log_post: np.ndarray, level: float) -> tuple[float, float]:
    """Highest-density region of a gridded density (an interval for a unimodal one)."""
    dens = np.exp(log_post - log_post.max())
    w = dens * np.gradient(mu)
    order = np.argsort(dens)[::-1]
    k = int(np.searchsorted(np.cumsum(w[order]) / w.sum(), level)) + 1
    inside = order[:k]
    return float(mu[inside].min()), float(mu[inside].max())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("coverage_dir", type=Path)
    args = parser.parse_args()
    import cenns_bayes as cb
    from cenns_bayes.calibration.feldman_cousins import linear_in_square
    from cenns_bayes.stats.binned import model_for_study

    study = cb.load_study(SPEC)
    prior = study.spec.priors[PARAMETER]
    ab = linear_in_square(model_for_study(study), study, PARAMETER)
    assert ab is not None, "expected a + b mu^2 with no nuisances"
    a, b = ab
    mu = np.linspace(prior.lower, prior.upper, 60_001)
    lam = a[None, :] + b[None, :] * mu[:, None] ** 2
    lines = (args.coverage_dir / "coverage_toys.jsonl").read_text().splitlines()
    rows = [json.loads(line) for line in lines if '"task"' in line]
    truth = study.true_parameters()[PARAMETER]
    print(f"{len(rows)} toys, true {PARAMETER} = {truth}")
    for level in ("0.68", "0.9"):
        exact_zero = rule_zero = disagree = exact_cov = rule_cov = 0
        excess = []  # exact [0, q] length over exact HDI length, where the rule says [0, q]
        for r in rows:
            n = np.asarray(r["counts"], dtype=float)
            log_post = (n[None, :] * np.log(lam) - lam).sum(axis=1)
            lo, hi = exact_hdi(mu, log_post, float(level))
            rlo, rhi = r["intervals"][PARAMETER]["posterior-hdi"][level]
            e0, r0 = lo == mu[0], rlo == 0.0
            exact_zero += e0
            rule_zero += r0
            disagree += e0 != r0
            if r0 and not e0:
                dens = np.exp(log_post - log_post.max())
                cdf = np.cumsum(dens) / dens.sum()
                q = float(mu[np.searchsorted(cdf, float(level))])
                excess.append(q / (hi - lo) - 1.0)
            exact_cov += lo <= truth <= hi
            rule_cov += rlo <= truth <= rhi
        k = len(rows)
        print(
            f"{float(level):.0%}: exact HDI starts at 0 in {exact_zero / k:.3f} of toys, "
            f"the rule in {rule_zero / k:.3f}; they disagree in {disagree / k:.3f}; coverage "
            f"exact HDI {exact_cov / k:.3f}, rule {rule_cov / k:.3f}"
        )
        if excess:
            print(
                f"  where the rule gives [0, q] and the exact HDI does not: exact [0, q] longer "
                f"than the exact HDI by {np.median(excess):.2%} (median), {max(excess):.2%} (max)"
            )


if __name__ == "__main__":
    main()
