"""How often the boundary-aware HDI rule decides wrongly, on densities with known answers.

For each density (mode at the boundary: the HDI is [0, q]; mode inside: the ordinary HDI)
and sample size, independent samples are drawn with seeds 0 ... N-1 and the decision of
``bayes.summary.boundary_evidence`` (bias-reduced reflected kernel, one-sided test at 1 %)
is compared with the right one; beside it the rule used before 2026-11-29 (plain reflected
kernel estimates compared without their error). For boundary modes the fraction of seeds
whose q lies within 3.5 Monte Carlo standard errors sqrt(p (1 - p) / n) / f(q) of the
closed-form quantile is given too.

    .venv/bin/python benchmarks/hdi_boundary_rule.py --seeds 1000

With ``--netcdf FILE.nc`` (a posterior written by ``sample --out`` or ``study``) it prints
instead, for each magnetic moment in it, the rule's evidence at 68 % and 90 % (density
at 0 and at q, their ratio, z, effective sample size), the interval the rule gives, the
plain HDI of the draws, and the number of draws per unit of mu (a histogram of the
marginal density).
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

import numpy as np
from scipy import special, stats

from cenns_bayes.bayes import summary

Sampler = Callable[[np.random.Generator, int], np.ndarray]

TRUNC_A = (0.0 - 1.0) / 1.0  # N(1, 1) truncated at 0


def _cases() -> list[tuple[str, Sampler, bool, Callable | None, Callable | None]]:
    """(name, sampler, mode at the boundary?, exact quantile, exact density)."""
    return [
        (
            "half-normal (sd 2)",
            lambda r, n: np.abs(r.normal(0.0, 2.0, n)),
            True,
            lambda p: 2.0 * stats.norm.ppf(0.5 + 0.5 * p),
            lambda x: 2.0 * stats.norm.pdf(x, 0.0, 2.0),
        ),
        (
            "exp(-mu^2/18) x flat on [0, 6]",
            lambda r, n: stats.truncnorm.rvs(0.0, 2.0, scale=3.0, size=n, random_state=r),
            True,
            lambda p: 3.0 * stats.norm.ppf(0.5 + p * (stats.norm.cdf(2.0) - 0.5)),
            lambda x: stats.truncnorm.pdf(x, 0.0, 2.0, scale=3.0),
        ),
        (
            "exp(-mu^4)",
            lambda r, n: r.gamma(0.25, size=n) ** 0.25,
            True,
            lambda p: special.gammaincinv(0.25, p) ** 0.25,
            lambda x: np.exp(-(x**4)) / special.gamma(1.25),
        ),
        (
            "exp(-mu^8) (flat top)",
            lambda r, n: r.gamma(0.125, size=n) ** 0.125,
            True,
            lambda p: special.gammaincinv(0.125, p) ** 0.125,
            lambda x: np.exp(-(x**8)) / special.gamma(1.125),
        ),
        (
            "N(3, 1)",
            lambda r, n: np.abs(r.normal(3.0, 1.0, n)),
            False,
            None,
            None,
        ),
    ]


def _old_rule(x: np.ndarray, prob: float) -> bool:
    """The rule before 2026-11-29: plain reflected kernel, f(0) >= f(q) as point estimates."""
    h = summary._silverman_bandwidth(x, 0.0)
    q = float(np.quantile(x, prob))
    f0 = summary._reflected_kernel(x, 0.0, 0.0, h).mean()
    fq = summary._reflected_kernel(x, 0.0, q, h).mean()
    return bool(f0 >= fq)


def _posterior(path: str) -> None:
    """The rule's evidence for the moments of a saved posterior."""
    import arviz as az

    idata = az.from_netcdf(path)
    for name in idata["posterior"].data_vars:
        if not (name.startswith("mu_nu") and name.count("_") == 2):
            continue
        x = np.asarray(idata["posterior"][name])
        per_unit, _ = np.histogram(x, bins=np.arange(0.0, 9.0))
        print(f"{name}: draws per unit of mu on [0, 1), ..., [7, 8): {per_unit.tolist()}")
        for level in (0.68, 0.9):
            ev = summary.boundary_evidence(x, level)
            rule = summary.credible_hdi(x, level, 0.0)
            plain = summary.hdi(x, level)
            print(
                f"{name} {level:g}: draws {x.shape}, f(0)/f(q) "
                f"{ev['density_at_bound'] / ev['density_at_quantile']:.3f}, z {ev['z']:+.2f}, "
                f"ESS {ev['effective_size']:.0f}; rule [{rule[0]:.4g}, {rule[1]:.4g}], "
                f"plain HDI [{plain[0]:.4g}, {plain[1]:.4g}]"
            )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=1000)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 4000])
    parser.add_argument("--netcdf", help="report the rule's evidence for this posterior")
    args = parser.parse_args()
    if args.netcdf:
        _posterior(args.netcdf)
        return
    t0 = time.perf_counter()
    print(f"load {os.getloadavg()[0]:.2f}; {args.seeds} seeds per row")
    print(
        "| density | right answer | level | draws | wrong decisions (rule) | "
        "wrong decisions (before) | q within 3.5 MC errors |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    cases = _cases()
    # N(1, 1) truncated at 0 at 68 %: f(0) / f(q) = 0.73, mode inside (a near case)
    cases.append(
        (
            "N(1, 1) truncated at 0",
            lambda r, n: stats.truncnorm.rvs(TRUNC_A, np.inf, loc=1.0, size=n, random_state=r),
            False,
            None,
            None,
        )
    )
    for name, draw, at_bound, quantile, pdf in cases:
        levels = (0.68,) if name.startswith("N(1, 1)") else (0.68, 0.9)
        for level in levels:
            for n in args.sizes:
                wrong = wrong_old = within = 0
                for seed in range(args.seeds):
                    x = draw(np.random.default_rng(seed), n)
                    ev = summary.boundary_evidence(x, level)
                    wrong += ev["at_bound"] != at_bound
                    wrong_old += _old_rule(x, level) != at_bound
                    if quantile is not None and pdf is not None:
                        qe = float(quantile(level))
                        err = np.sqrt(level * (1 - level) / n) / float(pdf(qe))
                        within += ev["at_bound"] and abs(ev["quantile"] - qe) <= 3.5 * err
                right = "[0, q]" if at_bound else "ordinary HDI"
                share = f"{within / args.seeds:.3f}" if quantile is not None else "n/a"
                print(
                    f"| {name} | {right} | {level:g} | {n} | {wrong / args.seeds:.3f} | "
                    f"{wrong_old / args.seeds:.3f} | {share} |",
                    flush=True,
                )
    print(f"{time.perf_counter() - t0:.0f} s; load {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
