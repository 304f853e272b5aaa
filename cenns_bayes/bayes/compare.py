"""Frequentist intervals beside Bayesian credible intervals, for the same study and data.

For each free parameter the profile of the other free parameters and of the
normalisation nuisances (as Gaussian penalties of the spec's widths; the frequentist
analogue of "no pooling") gives:

* ``chi2``: the seed paper's statistic (Eqs. 10-12, sigma^2 = n_obs);
* ``profile``: the Poisson profile likelihood ratio.

Intervals are {Delta <= 1} (68 %) and {Delta <= 2.71} (90 %), clipped at physical
boundaries; for magnetic moments the 90 % upper limit is the upper end at Delta = 2.71
(the paper's convention), and ``upper_90_one_sided`` uses Delta = 1.64, the one-sided
90 % threshold appropriate when mu_nu = 0 is the boundary (Chernoff).
"""

from __future__ import annotations

from ..stats.counting import CountingModel
from ..stats.frequentist import DELTA_CHI2, ProfileLikelihood, delta_chi2_for

__all__ = ["comparison_rows", "frequentist_intervals"]

METHODS = ("chi2", "profile")


def frequentist_intervals(study, counting) -> dict[str, dict[str, dict]]:
    """``{parameter: {method: {"interval_68", "interval_90", "upper_90", ...}}}``.

    Counting studies get both the paper's chi^2 and the Poisson profile; studies with a
    detector response (binned in PE and time, with background nuisances) get the Poisson
    profile likelihood of :class:`~cenns_bayes.stats.profile.ProfileFitter`.
    """
    if not isinstance(counting, CountingModel) or counting.radius_slopes is not None:
        return _profile_fitter_intervals(study, counting)
    nuis = study.spec.nuisances
    out: dict[str, dict[str, dict]] = {p: {} for p in study.free_parameters}
    for method in METHODS:
        like = ProfileLikelihood(
            counting.rate_model, counting.observed, study.free_parameters, study.true_parameters(),
            statistic="chi2" if method == "chi2" else "poisson",
            flux_sigma=nuis.flux_sigma, detector_sigma=nuis.detector_sigma,
        )
        _, best = like.global_fit()
        for p in study.free_parameters:
            row = {
                "best": best[p],
                "interval_68": list(like.interval(p, DELTA_CHI2["1sigma"])),
                "interval_90": list(like.interval(p, DELTA_CHI2["90cl_1dof"])),
            }
            if p.startswith("mu_nu"):
                row["upper_90"] = row["interval_90"][1]
                row["upper_90_one_sided"] = like.crossing(p, delta_chi2_for(0.9, one_sided=True), +1)
            out[p][method] = row
    return out


def comparison_rows(freq: dict, bayes: dict) -> list[dict]:
    """Flat rows (parameter, method, level, lower, upper) for tables and JSON."""
    rows = []
    for p, methods in freq.items():
        for method, r in methods.items():
            for level, key in ((0.68, "interval_68"), (0.9, "interval_90")):
                rows.append({"parameter": p, "method": method, "level": level,
                             "lower": r[key][0], "upper": r[key][1]})
        b = bayes[p]
        for level, suffix in ((0.68, "68"), (0.9, "90")):
            for kind in ("hdi", "eti"):
                lo, hi = b[f"{kind}_{suffix}"]
                rows.append({"parameter": p, "method": f"posterior-{kind}", "level": level,
                             "lower": lo, "upper": hi})
        if p.startswith("mu_nu"):
            rows.append({"parameter": p, "method": "posterior-upper", "level": 0.9,
                         "lower": 0.0, "upper": b["upper_90"]})
    return rows


def _profile_fitter_intervals(study, model) -> dict[str, dict[str, dict]]:
    from ..stats.profile import DELTA_68, DELTA_90, ProfileFitter

    fitter = ProfileFitter(model, study.free_parameters)
    best = fitter.best_fit()
    out: dict[str, dict[str, dict]] = {}
    for p in study.free_parameters:
        row = {
            "best": best.parameters[p],
            "interval_68": list(fitter.interval(p, DELTA_68)),
            "interval_90": list(fitter.interval(p, DELTA_90)),
        }
        if p.startswith("mu_nu"):
            row["upper_90"] = row["interval_90"][1]
            row["upper_90_one_sided"] = fitter.interval(p, delta_chi2_for(0.9, one_sided=True))[1]
        out[p] = {"profile": row}
    return out
