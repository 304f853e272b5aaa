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

import numpy as np
from scipy import optimize, stats

from ..rates.coefficients import RateModel
from ..stats.frequentist import PARAMETER_BOUNDS, ProfileLikelihood, neg2_log_likelihood

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
_STEP = {"sin2_theta_w": 1e-4, "mu_nu_mu": 1e-3, "mu_nu_e": 1e-3, "r2_nu_mu": 1e-3, "r2_nu_e": 1e-3}


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
        return (f"{self.parameter}: {what} at {100 * self.level:.4g} % CL "
                f"(Delta chi^2 = {self.delta:.4g}){unit}")

    def to_json(self) -> dict:
        """JSON-ready description."""
        return {"parameter": self.parameter, "kind": self.kind, "level": self.level,
                "delta_chi2": self.delta, "unit": self.unit, "description": self.description}


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
        Gaussian normalisation uncertainties, profiled (0: none).
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


def _asimov_crossing(f, x0: float, parameter: str, delta: float, direction: int) -> float:
    """Where f (a vectorised Delta with f(x0) = 0) reaches delta moving from x0."""
    lo_b, hi_b = PARAMETER_BOUNDS[parameter]
    bound = lo_b if direction < 0 else hi_b
    ladder = x0 + direction * _STEP[parameter] * 1.5 ** np.arange(90)
    ladder = ladder[(ladder > lo_b) & (ladder < hi_b)]
    ladder = np.append(ladder, bound)
    values = f(ladder)
    above = np.nonzero(values >= delta)[0]
    if above.size == 0:
        return float(bound)
    k = int(above[0])
    a = x0 if k == 0 else float(ladder[k - 1])
    b = float(ladder[k])
    return float(optimize.brentq(lambda v: float(f(np.array([v]))[0]) - delta,
                                 min(a, b), max(a, b), xtol=1e-13 * max(1.0, abs(b)), rtol=1e-13))


def expected_limit(model: RateModel, truth: Mapping[str, float], target: TargetSpec,
                   settings: FitSettings = FitSettings()) -> LimitResult:
    """The Asimov (expected) limit: data = expectation at ``truth``.

    With one free parameter and no nuisances the minimum of the Asimov statistic is 0
    at the truth, so only the crossings are searched, on the exact vectorised counts
    (no minimiser); otherwise :class:`~cenns_bayes.stats.ProfileLikelihood` profiles.
    """
    truth = dict(truth)
    observed = model.counts(truth)
    if not settings.simple:
        return fit_limit(model, observed, truth, target, settings, settings.statistic)
    keep = observed > 0 if settings.statistic == "chi2" else np.ones(observed.size, bool)
    n = observed[keep]
    p = target.parameter

    def delta_of(x: np.ndarray) -> np.ndarray:
        return neg2_log_likelihood(model.counts({**truth, p: x})[..., keep], n, settings.statistic)

    x0 = float(truth[p])
    upper = _asimov_crossing(delta_of, x0, p, target.delta, +1)
    if target.kind == "upper":
        lower = (PARAMETER_BOUNDS[p][0] if x0 == 0
                 else _asimov_crossing(delta_of, x0, p, target.delta, -1))
        return LimitResult(upper, lower, upper, x0)
    lower = _asimov_crossing(delta_of, x0, p, target.delta, -1)
    return LimitResult(0.5 * (upper - lower), lower, upper, x0)


def fit_limit(model: RateModel, observed: np.ndarray, truth: Mapping[str, float],
              target: TargetSpec, settings: FitSettings = FitSettings(),
              statistic: str = "poisson") -> LimitResult:
    """Fit ``observed`` counts and return the limit or interval of the target.

    The target and ``settings.profile`` are free (other parameters fixed at ``truth``);
    normalisation nuisances are profiled.
    """
    observed = np.asarray(observed, dtype=float)
    if statistic == "chi2":
        keep = observed > 0
        model_cols = _select_columns(model, keep)
        observed = observed[keep]
    else:
        model_cols = model
    free = [target.parameter, *[q for q in settings.profile if q != target.parameter]]
    like = ProfileLikelihood(model_cols, observed, free, dict(truth), statistic=statistic,
                             flux_sigma=settings.flux_sigma, detector_sigma=settings.detector_sigma)
    _, best = like.best_fit()
    p = target.parameter
    upper = like.crossing(p, target.delta, +1)
    lower = like.crossing(p, target.delta, -1)
    figure = upper if target.kind == "upper" else 0.5 * (upper - lower)
    return LimitResult(float(figure), float(lower), float(upper), float(best[p]))


def _select_columns(model: RateModel, keep: np.ndarray) -> RateModel:
    """A RateModel restricted to the columns ``keep`` (whole bins of channels)."""
    if keep.all():
        return model
    from ..rates.coefficients import ChannelCoefficients

    channels, start = [], 0
    for ch in model.channels:
        n = ch.i_pp.size
        k = keep[start:start + n]
        start += n
        if k.any():
            channels.append(ChannelCoefficients(ch.detector, ch.flavor, ch.bin_edges_kev,
                                                ch.i_pp[k], ch.i_pn[k], ch.i_nn[k], ch.i_mag[k]))
    return RateModel(channels)


def toy_limit_task(model: RateModel, truth: Mapping[str, float], target: TargetSpec,
                   settings: FitSettings, detector_names: Sequence[str], point: int, toy: int,
                   *, seed: np.random.SeedSequence) -> dict:
    """One pseudo-experiment under ``truth``, fitted with the Poisson likelihood ratio.

    Normalisation nuisances, when the study has them, are drawn from their Gaussian
    constraints (truncated at a tenth of nominal) before the Poisson draw; the fit
    profiles them with the constraint centred at nominal.

    Returns
    -------
    dict
        ``point``, ``toy``, ``limit`` (the target's figure; None if the fit failed),
        ``lower``, ``upper``, ``best_fit``, ``n_observed`` (total counts) and ``error``
        (None, or why the fit failed).
    """
    rng = np.random.default_rng(seed)
    expected = model.counts(dict(truth))
    scale = np.ones(expected.size)
    if settings.flux_sigma > 0:
        scale *= max(0.1, rng.normal(1.0, settings.flux_sigma))
    if settings.detector_sigma > 0:
        dets = [d for d, _, _ in model.labels]
        draws = np.maximum(0.1, rng.normal(1.0, settings.detector_sigma, len(detector_names)))
        scale *= draws[[list(detector_names).index(d) for d in dets]]
    observed = rng.poisson(expected * scale).astype(float)
    row = {"point": point, "toy": toy, "n_observed": int(observed.sum())}
    try:
        res = fit_limit(model, observed, truth, target, settings, statistic="poisson")
    except (RuntimeError, ValueError) as err:
        return {**row, "limit": None, "lower": None, "upper": None, "best_fit": None,
                "error": str(err)}
    return {**row, "limit": res.figure, "lower": res.lower, "upper": res.upper,
            "best_fit": res.best_fit, "error": None}
