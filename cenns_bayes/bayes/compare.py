"""Frequentist intervals beside Bayesian credible intervals, for the same study and data.

For each free parameter the profile of the other free parameters and of the study's
nuisances (the same constrained nuisances as ``fit``: log-normal normalisations, the
neutron-radius shifts, background rates) gives:

* ``chi2``: the seed paper's statistic (Eqs. 10-12, sigma^2 = n_obs), counting studies only;
* ``profile``: the Poisson profile likelihood ratio -- the same numbers as ``cenns-bayes fit``.

Both come from the one engine, :class:`~cenns_bayes.stats.profile.ProfileFitter`.
Intervals are {Delta <= 1} (68 %) and {Delta <= 2.71} (90 %), clipped at physical
boundaries; for magnetic moments the 90 % upper limit is the upper end at Delta = 2.71
(the paper's convention), and ``upper_90_one_sided`` uses Delta = 1.64, the one-sided
90 % threshold appropriate when mu_nu = 0 is the boundary (Chernoff).
"""

from __future__ import annotations

from ..stats.counting import CountingModel
from ..stats.profile import DELTA_68, DELTA_90, ProfileFitter, delta_chi2_for

__all__ = ["comparison_rows", "frequentist_intervals"]

METHODS = ("chi2", "profile")


def frequentist_intervals(study, counting) -> dict[str, dict[str, dict]]:
    """``{parameter: {method: {"best", "interval_68", "interval_90", "upper_90", ...}}}``.

    Counting studies without neutron-radius nuisances get both the paper's chi^2 and the
    Poisson profile; the others (detector response, radius nuisances) the Poisson profile.
    """
    paper_like = isinstance(counting, CountingModel) and counting.radius_slopes is None
    methods = METHODS if paper_like else ("profile",)
    out: dict[str, dict[str, dict]] = {p: {} for p in study.free_parameters}
    for method in methods:
        fitter = ProfileFitter(
            counting, study.free_parameters, cost="chi2" if method == "chi2" else "poisson"
        )
        best = fitter.best_fit()
        for p in study.free_parameters:
            row = {
                "best": best.parameters[p],
                "interval_68": list(fitter.interval(p, DELTA_68)),
                "interval_90": list(fitter.interval(p, DELTA_90)),
            }
            if p.startswith("mu_nu"):
                row["upper_90"] = row["interval_90"][1]
                row["upper_90_one_sided"] = fitter.upper_limit(
                    p, delta_chi2_for(0.9, one_sided=True)
                )
            out[p][method] = row
    return out


def comparison_rows(freq: dict, bayes: dict) -> list[dict]:
    """Flat rows (parameter, method, level, lower, upper) for tables and JSON."""
    rows = []
    for p, methods in freq.items():
        for method, r in methods.items():
            for level, key in ((0.68, "interval_68"), (0.9, "interval_90")):
                rows.append(
                    {
                        "parameter": p,
                        "method": method,
                        "level": level,
                        "lower": r[key][0],
                        "upper": r[key][1],
                    }
                )
        b = bayes[p]
        for level, suffix in ((0.68, "68"), (0.9, "90")):
            for kind in ("hdi", "eti"):
                lo, hi = b[f"{kind}_{suffix}"]
                rows.append(
                    {
                        "parameter": p,
                        "method": f"posterior-{kind}",
                        "level": level,
                        "lower": lo,
                        "upper": hi,
                    }
                )
        if p.startswith("mu_nu"):
            rows.append(
                {
                    "parameter": p,
                    "method": "posterior-upper",
                    "level": 0.9,
                    "lower": 0.0,
                    "upper": b["upper_90"],
                }
            )
    return rows
