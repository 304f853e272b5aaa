"""Asimov posterior checks: the posterior on the expected data at the true parameters.

On Asimov data the likelihood peaks exactly at the truth, so with a flat prior the
posterior mode must sit at the truth (for a magnetic moment whose truth is the boundary
mu = 0: at 0), and the credible intervals should be close to the profile-likelihood ones
where the likelihood is Gaussian. The same study is sampled under several priors side by
side, which shows how much of a credible interval the prior makes:

* magnetic moments: flat in mu on [0, U] (``flat-mu``), flat in mu^2 on [0, U^2]
  (``flat-mu2``), half-normal with sigma = U / 3 (``half-normal``); U is the upper end of
  the spec's prior (30 if the spec's prior has none);
* otherwise: the spec's priors (``spec``) and uniform priors twice as wide about the same
  centre (``wide-uniform``).

The mode is that of a Gaussian kernel density estimate of the draws (reflected at mu = 0
for moments, so the boundary does not pull the density down). ``mode_at_truth`` holds when
|mode - truth| <= 0.2 posterior standard deviations.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .common import LEVELS, SamplerSettings, StudyRef, is_moment, posterior_intervals

__all__ = ["AsimovResult", "kde_mode", "prior_variants", "run_asimov"]

#: Tolerance of the mode check, in posterior standard deviations.
MODE_TOLERANCE_SD = 0.2


def kde_mode(
    draws: np.ndarray, bounded_below_at_zero: bool = False, grid_points: int = 2001
) -> float:
    """Mode of a Gaussian KDE of ``draws`` (reflected at 0 when bounded below there)."""
    from scipy import stats

    x = np.asarray(draws, dtype=float).reshape(-1)
    data = np.concatenate([x, -x]) if bounded_below_at_zero else x
    kde = stats.gaussian_kde(data)
    if bounded_below_at_zero:
        kde.set_bandwidth(kde.factor * np.sqrt(2.0))  # bandwidth of the unreflected sample size
    lo = 0.0 if bounded_below_at_zero else x.min()
    grid = np.linspace(lo, x.max(), grid_points)
    return float(grid[np.argmax(kde(grid))])


def prior_variants(study) -> dict[str, dict[str, dict]]:
    """``{variant name: {parameter: prior table}}`` for the side-by-side comparison."""
    from ..specs import schema

    priors = study.spec.priors
    moments = [p for p in study.free_parameters if is_moment(p)]
    if moments:
        out: dict[str, dict[str, dict]] = {"flat-mu": {}, "flat-mu2": {}, "half-normal": {}}
        for p in moments:
            prior = priors[p]
            upper = float(getattr(prior, "upper", 30.0))
            out["flat-mu"][p] = {"dist": "uniform", "lower": 0.0, "upper": upper}
            out["flat-mu2"][p] = {"dist": "uniform", "lower": 0.0, "upper": upper, "on": "square"}
            out["half-normal"][p] = {"dist": "half-normal", "sigma": upper / 3.0}
        return out
    wide: dict[str, dict] = {}
    for p in study.free_parameters:
        prior = priors[p]
        if isinstance(prior, schema.UniformPrior):
            c, w = (prior.lower + prior.upper) / 2, prior.upper - prior.lower
            lo, hi = c - w, c + w
            if p == "sin2_theta_w":
                lo, hi = max(lo, 1e-3), min(hi, 0.999)
            wide[p] = {"dist": "uniform", "lower": lo, "upper": hi}
        elif isinstance(prior, schema.NormalPrior | schema.TruncatedNormalPrior):
            wide[p] = {**prior.model_dump(), "sigma": 2 * prior.sigma}
    return {"spec": {}, "wide-uniform": wide}


@dataclass
class AsimovResult:
    """Posterior summaries under each prior variant beside the frequentist intervals."""

    study: str
    parameters: list[str]
    truth: dict[str, float]
    frequentist: dict[str, dict[str, dict]]
    posterior: dict[str, dict[str, dict[str, Any]]]
    priors: dict[str, dict[str, dict]]
    draws: dict[str, dict[str, np.ndarray]] = field(repr=False, default_factory=dict)

    def to_json(self) -> dict:
        """JSON summary: truth, frequentist intervals, posterior summaries per prior."""
        return {
            "kind": "asimov",
            "study": self.study,
            "truth": {p: self.truth[p] for p in self.parameters},
            "frequentist": self.frequentist,
            "posterior": self.posterior,
            "priors": self.priors,
        }

    def markdown(self) -> str:
        """A Markdown report: one table per parameter, priors and methods as rows."""
        lines = [f"# Asimov posterior check: {self.study}", ""]
        for p in self.parameters:
            ref = self.frequentist[p]["profile"]["interval_90"]
            ref_w = ref[1] - ref[0]
            lines += [
                f"## {p} (truth {self.truth[p]:g})",
                "",
                "| prior / method | mode | median | 68 % interval | 90 % interval | "
                "90 % width / profile | mode at truth | divergences |",
                "| --- | --- | --- | --- | --- | --- | --- | --- |",
            ]
            for variant, summ in self.posterior.items():
                s = summ[p]
                for kind in ("hdi", "eti"):
                    iv68, iv90 = s[f"posterior-{kind}"]["0.68"], s[f"posterior-{kind}"]["0.9"]
                    lines.append(
                        f"| {variant} ({kind.upper()}) | {s['mode']:.4g} | {s['median']:.4g} | "
                        f"[{iv68[0]:.4g}, {iv68[1]:.4g}] | [{iv90[0]:.4g}, {iv90[1]:.4g}] | "
                        f"{(iv90[1] - iv90[0]) / ref_w:.3f} | "
                        f"{'yes' if s['mode_at_truth'] else 'no'} | {s['divergences']} |"
                    )
                if "posterior-upper" in s:
                    lines.append(
                        f"| {variant} (upper) | | | [0, {s['posterior-upper']['0.68'][1]:.4g}] | "
                        f"[0, {s['posterior-upper']['0.9'][1]:.4g}] | | | |"
                    )
            for method, r in self.frequentist[p].items():
                iv68, iv90 = r["interval_68"], r["interval_90"]
                lines.append(
                    f"| {method} (Δ = 0.99 / 2.71) | {r['best']:.4g} | | "
                    f"[{iv68[0]:.4g}, {iv68[1]:.4g}] | [{iv90[0]:.4g}, {iv90[1]:.4g}] | "
                    f"{(iv90[1] - iv90[0]) / ref_w:.3f} | | |"
                )
                if "upper_90_one_sided" in r:
                    lines.append(
                        f"| {method} (one-sided, Δ = 1.64) | | | | "
                        f"[0, {r['upper_90_one_sided']:.4g}] | | | |"
                    )
            lines.append("")
        lines += ["Priors:", ""] + [
            f"* `{v}`: {pr or 'as in the spec'}" for v, pr in self.priors.items()
        ]
        return "\n".join(lines) + "\n"


def _frequentist(study, counting, levels) -> dict:
    from ..stats.profile import delta_chi2_for
    from .feldman_cousins import profile_likelihood

    out: dict[str, dict] = {p: {} for p in study.free_parameters}
    for statistic, method in (("chi2", "chi2"), ("poisson", "profile")):
        like = profile_likelihood(counting, study, counting.observed, statistic)
        best = like.best_fit().parameters
        for p in study.free_parameters:
            row = {"best": best[p]}
            for lv in levels:
                row[f"interval_{round(lv * 100)}"] = list(like.interval(p, delta_chi2_for(lv)))
            if is_moment(p):
                row["upper_90_one_sided"] = like.crossing(
                    p, delta_chi2_for(0.9, one_sided=True), +1
                )
            out[p][method] = row
    return out


def run_asimov(
    ref: StudyRef, sampler: SamplerSettings, *, seed: int, progress: bool = False, levels=LEVELS
) -> AsimovResult:
    """Sample the Asimov posterior of ``ref`` under each prior variant and summarise."""
    from .common import PosteriorRefitter, counting_for

    ref = ref.with_tables(data={"kind": "asimov"})
    study = ref.load()
    counting = counting_for(ref)
    truth = study.true_parameters()
    params = study.free_parameters
    variants = prior_variants(study)
    posterior: dict[str, dict] = {}
    draws: dict[str, dict] = {}
    for k, (variant, priors) in enumerate(variants.items()):
        vstudy = ref.with_tables(priors=priors).load() if priors else study
        fitter = PosteriorRefitter(vstudy, sampler)
        fit = fitter.fit(counting.observed, seed=seed + k)
        draws[variant] = fit.draws
        posterior[variant] = {}
        for p in params:
            x = fit.draws[p].reshape(-1)
            sd = float(x.std(ddof=1))
            mode = kde_mode(x, bounded_below_at_zero=is_moment(p))
            posterior[variant][p] = {
                "mean": float(x.mean()),
                "sd": sd,
                "median": float(np.median(x)),
                "mode": mode,
                "mode_at_truth": bool(abs(mode - truth[p]) <= MODE_TOLERANCE_SD * sd),
                **posterior_intervals(p, fit.draws[p], levels),
                "divergences": fit.divergences,
                "max_r_hat": fit.max_r_hat,
                "min_ess_bulk": fit.min_ess_bulk,
            }
        if progress:
            import sys

            print(
                f"asimov: sampled prior variant {variant} ({fit.sampling_s:.1f} s)", file=sys.stderr
            )
    freq = _frequentist(study, counting, levels)
    return AsimovResult(
        study.name, params, {p: truth[p] for p in params}, freq, posterior, variants, draws
    )
