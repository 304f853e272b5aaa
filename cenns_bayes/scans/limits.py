"""Expected limits and intervals for one target parameter, from exact count coefficients.

Targets and the figure reported for each (``chi2_limit`` in a scan):

=================  =========================================================  =============
target             figure (default level)                                     Delta chi^2
=================  =========================================================  =============
``mu_nu_mu/e``     upper end of {Delta chi^2 <= 2.71}: the 90 % CL upper       2.706
                   limit of the seed paper (Table V), 1e-10 mu_B
``sin2_theta_w``   half-width of {Delta chi^2 <= 1}: the 1 sigma error of      1.0
                   Tables III-IV (``level=0.9``: of the 90 % interval)
``r2_nu_mu/e``     half-width of the 90 % interval {Delta chi^2 <= 2.71}        2.706
                   (Table VI), 1e-32 cm^2; the interval is reported too
=================  =========================================================  =============

Delta chi^2 = ``chi2.ppf(level, 1)`` (Wilks, one parameter). The other physics
parameters stay at the study's ``[parameters]`` unless named in ``profile``; the
study's normalisation nuisances (``flux_sigma``, ``detector_sigma``) are profiled.

Asimov limits use the study's statistic (``chi2`` of Eqs. 10-12, or ``poisson``). The
chi^2 with sigma^2 = n is undefined for empty bins, so columns with no expected counts
are dropped for it. Pseudo-experiments are always fitted with the Poisson likelihood
ratio: with sigma^2 = n a toy with few counts gets a tiny variance and an absurdly tight
(or, with n = 0, undefined) limit, while the Poisson ratio is exact for any n.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats

from ..rates.coefficients import RateModel
from ..stats.counting import CountingModel
from ..stats.profile import ProfileFitter

__all__ = [
    "TARGETS",
    "FitSettings",
    "LimitResult",
    "TargetSpec",
    "expected_limit",
    "fit_limit",
    "target_spec",
    "toy_limit_task",
]

#: Parameters a scan can target, with their unit.
TARGETS: dict[str, str] = {
    "mu_nu_mu": "1e-10 mu_B",
    "mu_nu_e": "1e-10 mu_B",
    "sin2_theta_w": "",
    "r2_nu_mu": "1e-32 cm^2",
    "r2_nu_e": "1e-32 cm^2",
}

_ONE_SIGMA = float(stats.chi2.cdf(1.0, 1))  # 0.6827: Delta chi^2 = 1 exactly


@dataclass(frozen=True)
class TargetSpec:
    """What is computed for a target parameter.

    Attributes
    ----------
    parameter : str
    kind : {"upper", "interval"}
        An upper limit (mu_nu) or a two-sided interval whose half-width is the figure.
    level : float
        Confidence level.
    delta : float
        Delta chi^2 threshold, ``chi2.ppf(level, 1)``.
    """

    parameter: str
    kind: str
    level: float
    delta: float

    @property
    def unit(self) -> str:
        """Unit of the parameter ("" for sin^2 theta_W)."""
        return TARGETS[self.parameter]

    @property
    def description(self) -> str:
        """One-line description of the figure of merit."""
        what = "upper limit" if self.kind == "upper" else "half-width of the interval"
        unit = f", {self.unit}" if self.unit else ""
        return (
            f"{self.parameter}: {what} at {100 * self.level:.4g} % CL "
            f"(Delta chi^2 = {self.delta:.4g}){unit}"
        )

    def to_json(self) -> dict:
        """JSON-ready description."""
        return {
            "parameter": self.parameter,
            "kind": self.kind,
            "level": self.level,
            "delta_chi2": self.delta,
            "unit": self.unit,
            "description": self.description,
        }


def target_spec(parameter: str, level: float | None = None) -> TargetSpec:
    """The :class:`TargetSpec` of ``parameter`` at ``level`` (default: per target, module doc)."""
    if parameter not in TARGETS:
        raise ValueError(f"unknown target {parameter!r}: expected one of {', '.join(TARGETS)}")
    if level is None:
        level = _ONE_SIGMA if parameter == "sin2_theta_w" else 0.9
    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), got {level}")
    delta = 1.0 if level == _ONE_SIGMA else float(stats.chi2.ppf(level, 1))
    kind = "upper" if parameter.startswith("mu_nu") else "interval"
    return TargetSpec(parameter, kind, float(level), delta)


@dataclass(frozen=True)
class FitSettings:
    """How a point is fitted.

    Attributes
    ----------
    statistic : {"chi2", "poisson"}
        For Asimov limits (toys always use "poisson").
    flux_sigma, detector_sigma : float
        Relative widths of the log-normal normalisation nuisances, profiled (0: none).
    profile : tuple of str
        Further physics parameters profiled besides the target.
    """

    statistic: str = "chi2"
    flux_sigma: float = 0.0
    detector_sigma: float = 0.0
    profile: tuple[str, ...] = ()

    @property
    def simple(self) -> bool:
        """One free parameter and no nuisances: the Asimov profile is a 1-D function."""
        return not self.profile and self.flux_sigma == 0 and self.detector_sigma == 0


@dataclass(frozen=True)
class LimitResult:
    """A limit or interval of one fit.

    Attributes
    ----------
    figure : float
        Upper limit (kind "upper") or half-width (kind "interval").
    lower, upper : float
        Ends of {Delta <= delta} (``lower`` is the physical boundary 0 for mu_nu).
    best_fit : float
    """

    figure: float
    lower: float
    upper: float
    best_fit: float
    extra: dict = field(default_factory=dict)


def expected_limit(
    model: RateModel,
    truth: Mapping[str, float],
    target: TargetSpec,
    settings: FitSettings = FitSettings(),
) -> LimitResult:
    """The Asimov (expected) limit: data = expectation at ``truth``, the study's statistic."""
    truth = dict(truth)
    return fit_limit(model, model.counts(truth), truth, target, settings, settings.statistic)


def fit_limit(
    model: RateModel,
    observed: np.ndarray,
    truth: Mapping[str, float],
    target: TargetSpec,
    settings: FitSettings = FitSettings(),
    statistic: str = "poisson",
    auxiliary: Mapping[str, Any] | None = None,
) -> LimitResult:
    """Fit ``observed`` counts and return the limit or interval of the target.

    The target and ``settings.profile`` are free (other parameters fixed at ``truth``);
    normalisation nuisances (log-normal, as in every other command) are profiled by
    :class:`~cenns_bayes.stats.profile.ProfileFitter`, their constraints centred on
    ``auxiliary`` (a toy's auxiliary measurements; default nominal). The chi^2 leaves out
    empty bins.
    """
    counting = CountingModel(
        model,
        np.asarray(observed, dtype=float),
        settings.flux_sigma,
        settings.detector_sigma,
        fixed=dict(truth),
        auxiliary=dict(auxiliary or {}),
    )
    free = [target.parameter, *[q for q in settings.profile if q != target.parameter]]
    fitter = ProfileFitter(counting, free, cost=statistic)
    p = target.parameter
    best = fitter.best_fit().parameters[p]
    upper = fitter.crossing(p, target.delta, +1)
    lower = fitter.crossing(p, target.delta, -1)
    figure = upper if target.kind == "upper" else 0.5 * (upper - lower)
    return LimitResult(float(figure), float(lower), float(upper), float(best))


def toy_limit_task(
    model: RateModel,
    truth: Mapping[str, float],
    target: TargetSpec,
    settings: FitSettings,
    detector_names: Sequence[str],
    point: int,
    toy: int,
    *,
    seed: np.random.SeedSequence,
) -> dict:
    """One pseudo-experiment under ``truth``, fitted with the Poisson likelihood ratio.

    Drawn by the model's ``sample``: Poisson counts at the truth (normalisations at their
    nominal values) and, when the study has normalisation nuisances, their auxiliary
    measurements, on which the fit centres the log-normal constraints. ``detector_names``
    is not needed any more (the model knows its detectors) and kept for the call signature.

    Returns
    -------
    dict
        ``point``, ``toy``, ``limit`` (the target's figure; None if the fit failed),
        ``lower``, ``upper``, ``best_fit``, ``n_observed`` (total counts) and ``error``
        (None, or why the fit failed).
    """
    rng = np.random.default_rng(seed)
    counting = CountingModel(
        model,
        model.counts(dict(truth)),
        settings.flux_sigma,
        settings.detector_sigma,
        fixed=dict(truth),
    )
    observed, auxiliary = counting.sample(dict(truth), rng)
    row = {"point": point, "toy": toy, "n_observed": int(observed.sum())}
    try:
        res = fit_limit(
            model, observed, truth, target, settings, statistic="poisson", auxiliary=auxiliary
        )
    except (RuntimeError, ValueError) as err:
        return {
            **row,
            "limit": None,
            "lower": None,
            "upper": None,
            "best_fit": None,
            "error": str(err),
        }
    return {
        **row,
        "limit": res.figure,
        "lower": res.lower,
        "upper": res.upper,
        "best_fit": res.best_fit,
        "error": None,
    }
