"""Sensitivity scans: expected limits over one or two spec values, with Brazil bands.

At each scan point the study is rebuilt from the raw spec with the point's values set
by dotted path (validated like any study), and

* ``chi2``: the Asimov limit of the target (:func:`~.limits.expected_limit`), in process;
* Brazil band (``toys > 0``): Poisson pseudo-experiments under the study's
  ``[parameters]``, each fitted for its limit, run through :mod:`cenns_bayes.parallel`;
  quantiles at Phi(-2, -1, 0, 1, 2) = 2.3, 15.9, 50, 84.1, 97.7 %;
* ``posterior``: a per-point sampling task run through the same engine (needs
  :mod:`cenns_bayes.bayes`).

Count coefficients are cached across points: a detector's integrals are computed once
per distinct recoil window, binning, form factor and target, for unit mass, fluence and
efficiency, and scaled (the counts are linear in all three). A mass, exposure, flux or
distance scan therefore integrates nothing after its first point, and a threshold scan
only the scanned detector.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import itertools
import json
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from ..parallel import Engine, Task, engine_or_local, single_threaded_blas
from ..rates.coefficients import (
    ChannelCoefficients,
    RateModel,
    channel_coefficients,
    parameter_for_flavor,
)
from ..specs import SpecError, SpecStructureError, Study, parse_study
from .limits import FitSettings, TargetSpec, expected_limit, target_spec, toy_limit_task
from .values import ScanAxis

__all__ = [
    "BAND_QUANTILES",
    "PosteriorUnavailableError",
    "ScanPoint",
    "ScanResult",
    "ScanSetupError",
    "StudyScanner",
    "band_from_limits",
    "crossing_value",
    "posterior_backend",
    "run_scan",
]

#: Quantiles of the Brazil band: Phi(k) for k = -2, -1, 0, 1, 2.
BAND_QUANTILES: dict[str, float] = {
    "minus2": float(stats.norm.cdf(-2)),
    "minus1": float(stats.norm.cdf(-1)),
    "median": 0.5,
    "plus1": float(stats.norm.cdf(1)),
    "plus2": float(stats.norm.cdf(2)),
}


class ScanSetupError(ValueError):
    """A scan that cannot run as asked (bad method, axes, toys, profile or a missing prior)."""


class PosteriorUnavailableError(RuntimeError):
    """The Bayesian layer offers no sampling function a posterior scan can use."""


class StudyScanner:
    """Builds the study at each scan point from a raw spec, sharing coefficient integrals.

    Parameters
    ----------
    raw : dict
        The parsed TOML of the study.
    path : str
        Where it came from (for error messages).
    overrides : mapping
        Fixed overrides applied at every point (``--set``).
    """

    def __init__(
        self,
        raw: Mapping[str, Any],
        path: str = "<string>",
        overrides: Mapping[str, Any] | None = None,
    ) -> None:
        self.raw = copy.deepcopy(dict(raw))
        self.path = str(path)
        self.overrides = dict(overrides or {})
        self._cache: dict[tuple, ChannelCoefficients] = {}
        self.integrations = 0  # number of channel integrals computed (for tests/benchmarks)

    @classmethod
    def from_file(
        cls, path: str | Path, overrides: Mapping[str, Any] | None = None
    ) -> StudyScanner:
        """Read a study file."""
        p = Path(path)
        try:
            raw = tomllib.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise SpecStructureError(str(p), "", "no such file") from None
        except (OSError, UnicodeDecodeError) as err:
            raise SpecStructureError(str(p), "", f"cannot read: {err}") from None
        except tomllib.TOMLDecodeError as err:
            raise SpecStructureError(str(p), "", f"not valid TOML: {err}") from None
        return cls(raw, str(p), overrides)

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the raw spec and the fixed overrides."""
        text = json.dumps([self.raw, sorted(self.overrides.items())], sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()

    def study(self, values: Mapping[str, Any] | None = None) -> Study:
        """The validated study with ``values`` (dotted path -> value) set."""
        overrides = {**self.overrides, **dict(values or {})}
        return parse_study(self.raw, self.path, overrides or None)

    def rate_model(self, study: Study) -> RateModel:
        """The study's rate model (all detectors and analysed flavours), from cached integrals."""
        binned = study.spec.analysis.binned
        channels = []
        for det in study.detector_names:
            setup = study.setup(det)
            if not binned:
                setup = dataclasses.replace(setup, bin_edges_kev=None)
            unit = dataclasses.replace(
                setup,
                mass_kg=1.0,
                fluence_per_cm2=1.0,
                efficiency=setup.efficiency if callable(setup.efficiency) else 1.0,
            )
            factor = (
                setup.mass_kg
                * setup.fluence_per_cm2
                * (1.0 if callable(setup.efficiency) else float(setup.efficiency))
            )
            for flavor in study.flavors:
                key = (unit, flavor)
                ch = self._cache.get(key)
                if ch is None:
                    ch = channel_coefficients(unit, flavor)
                    self._cache[key] = ch
                    self.integrations += 1
                channels.append(
                    ChannelCoefficients(
                        ch.detector,
                        ch.flavor,
                        ch.bin_edges_kev,
                        ch.i_pp * factor,
                        ch.i_pn * factor,
                        ch.i_nn * factor,
                        ch.i_mag * factor,
                    )
                )
        return RateModel(channels)


def fit_settings(study: Study, profile: Sequence[str] = ()) -> FitSettings:
    """The :class:`FitSettings` of a study (its statistic and normalisation nuisances)."""
    nuis = study.spec.nuisances
    return FitSettings(
        statistic=study.spec.analysis.statistic,
        flux_sigma=nuis.flux_sigma,
        detector_sigma=nuis.detector_sigma,
        profile=tuple(profile),
    )


@dataclass
class ScanPoint:
    """Results at one scan point (``None``: not computed).

    Attributes
    ----------
    index : int
    values : dict
        Scanned path -> value.
    expected_counts : float
        Total expected counts at the truth, all channels.
    chi2_limit : float
        Asimov figure (upper limit or half-width).
    chi2_interval : (float, float)
        Asimov interval (interval targets).
    posterior_limit : float
    posterior_interval : (float, float)
    band : dict
        Brazil band of the toy limits: median, minus1, plus1, minus2, plus2, toys,
        failed, median_stderr.
    """

    index: int
    values: dict[str, Any]
    expected_counts: float | None = None
    chi2_limit: float | None = None
    chi2_interval: tuple[float, float] | None = None
    posterior_limit: float | None = None
    posterior_interval: tuple[float, float] | None = None
    band: dict[str, float] | None = None

    def to_json(self) -> dict:
        """JSON-ready dict with the keys of computed quantities only."""
        out: dict[str, Any] = {"values": dict(self.values)}
        for name in (
            "expected_counts",
            "chi2_limit",
            "chi2_interval",
            "posterior_limit",
            "posterior_interval",
            "band",
        ):
            v = getattr(self, name)
            if v is not None:
                out[name] = list(v) if isinstance(v, tuple) else v
        return out


@dataclass
class ScanResult:
    """A whole scan: its axes, target and points (row-major over the axes)."""

    study: str
    target: TargetSpec
    axes: list[ScanAxis]
    points: list[ScanPoint]
    method: str
    toys: int
    seed: int
    settings: FitSettings = field(default_factory=FitSettings)

    def to_json(self) -> dict:
        """``{"target": ..., "points": [...]}`` plus a description of the scan."""
        return {
            "target": self.target.parameter,
            "study": self.study,
            "figure": self.target.to_json(),
            "method": self.method,
            "statistic": self.settings.statistic,
            "toys": self.toys,
            "seed": self.seed,
            "axes": [a.to_json() for a in self.axes],
            "points": [p.to_json() for p in self.points],
        }

    def grid(self, quantity: str = "chi2_limit") -> np.ndarray:
        """A quantity on the scan grid, shape (len(axis 0),) or (len(axis 0), len(axis 1))."""
        vals = []
        for p in self.points:
            v = (
                getattr(p, quantity)
                if not quantity.startswith("band.")
                else ((p.band or {}).get(quantity.split(".", 1)[1]))
            )
            vals.append(np.nan if v is None else float(v))
        return np.array(vals).reshape([len(a.values) for a in self.axes])


def band_from_limits(limits: Sequence[float | None]) -> dict[str, float] | None:
    """Brazil-band quantiles of toy limits (``None`` entries are failed fits, left out).

    ``median_stderr`` is the Monte-Carlo error of the median from order statistics:
    half the distance between the order statistics sqrt(n)/2 ranks either side.
    """
    good = np.sort(np.array([x for x in limits if x is not None], dtype=float))
    n = good.size
    if n == 0:
        return None
    out = {k: float(np.quantile(good, q)) for k, q in BAND_QUANTILES.items()}
    half = 0.5 * np.sqrt(n)
    lo = int(np.clip(np.floor(n / 2 - half), 0, n - 1))
    hi = int(np.clip(np.ceil(n / 2 + half), 0, n - 1))
    out["median_stderr"] = float(0.5 * (good[hi] - good[lo]))
    out["toys"] = int(n)
    out["failed"] = int(len(limits) - n)
    return out


def crossing_value(result: ScanResult, goal: float, quantity: str = "chi2_limit") -> float | None:
    """Scanned value at which a 1-D scan's ``quantity`` first reaches ``goal``.

    Interpolates between the two scan points that bracket ``goal``, linearly in the
    logarithm of both the value (on a log axis) and the limit. Returns ``None`` when the
    scan never crosses ``goal`` (refine or widen the scan range).
    """
    if len(result.axes) != 1 or not result.axes[0].numeric:
        raise ValueError("crossing_value needs a one-axis numeric scan")
    axis = result.axes[0]
    x = np.array(axis.values, dtype=float)
    y = result.grid(quantity)
    fx = np.log if axis.log else (lambda v: v)
    inv = np.exp if axis.log else (lambda v: v)
    side = np.sign(y - goal)
    for i in range(x.size - 1):
        if not (np.isfinite(y[i]) and np.isfinite(y[i + 1])):
            continue
        if side[i] == 0:
            return float(x[i])
        if side[i] != side[i + 1]:
            ya, yb = np.log(y[i]), np.log(y[i + 1])
            t = (np.log(goal) - ya) / (yb - ya)
            return float(inv(fx(x[i]) + t * (fx(x[i + 1]) - fx(x[i]))))
    return float(x[-1]) if side[-1] == 0 else None


def posterior_backend() -> Callable[..., Any]:
    """The Bayesian layer's sampling function, or :class:`PosteriorUnavailableError`."""
    try:
        from .. import bayes
    except ImportError as err:
        raise PosteriorUnavailableError(
            "posterior scans need the Bayesian layer (cenns_bayes.bayes), which failed to "
            f"import: {err}"
        ) from None
    fn = getattr(bayes, "sample_study", None)
    if not callable(fn):
        raise PosteriorUnavailableError(
            "posterior scans need cenns_bayes.bayes.sample_study(study, ...), which this "
            "installation does not provide yet; use --method chi2"
        )
    return fn


def posterior_point_task(
    raw: Mapping[str, Any],
    path: str,
    overrides: Mapping[str, Any],
    target: TargetSpec,
    point: int,
    *,
    seed: np.random.SeedSequence,
) -> dict:
    """Sample the posterior on Asimov data at one scan point and return the credible figure.

    mu_nu: the ``level`` quantile of the marginal posterior (one-sided upper credible
    limit); other targets: half-width of the central (equal-tailed) credible interval.
    """
    sample = posterior_backend()
    raw = {**dict(raw), "data": {"kind": "asimov"}}  # expected limits: Asimov data always
    study = parse_study(raw, path, dict(overrides) or None)
    if target.parameter not in study.free_parameters:
        raise ValueError(f"posterior scans need a prior on {target.parameter} in [priors]")
    random_seed = int(seed.generate_state(1, np.uint32)[0] >> 1)
    # one compile per process: later points swap their coefficients into the same model
    result = sample(study, seed=random_seed, progressbar=False, prior_draws=0, reuse_compiled=True)
    idata = getattr(result, "idata", result)
    draws = np.asarray(idata.posterior[target.parameter]).ravel()
    if target.kind == "upper":
        upper = float(np.quantile(draws, target.level))
        return {"point": point, "posterior_limit": upper, "lower": 0.0, "upper": upper}
    lo, hi = np.quantile(draws, [0.5 - target.level / 2, 0.5 + target.level / 2])
    return {
        "point": point,
        "posterior_limit": float(0.5 * (hi - lo)),
        "lower": float(lo),
        "upper": float(hi),
    }


def _grid(axes: Sequence[ScanAxis]) -> list[dict[str, Any]]:
    return [
        dict(zip([a.path for a in axes], combo, strict=True))
        for combo in itertools.product(*[a.values for a in axes])
    ]


def run_scan(
    scanner: StudyScanner,
    axes: Sequence[ScanAxis],
    target: str | TargetSpec,
    *,
    method: str = "chi2",
    toys: int = 0,
    seed: int = 20151,
    engine: Engine | None = None,
    out_dir: str | Path | None = None,
    profile: Sequence[str] = (),
    level: float | None = None,
) -> ScanResult:
    """Run a scan.

    Parameters
    ----------
    scanner : StudyScanner
        The study and fixed overrides.
    axes : one or two ScanAxis
    target : str or TargetSpec
        Parameter name (default level per target) or a full spec.
    method : {"chi2", "posterior", "both"}
        Asimov chi^2 limits, posterior credible limits, or both.
    toys : int
        Pseudo-experiments per point for the Brazil band (0: none).
    seed : int
        Master seed of toys and posterior sampling.
    engine : Engine, optional
        Where toys and posterior tasks run (default: in process).
    out_dir : path, optional
        Where the resumable per-task tables go (``toys.jsonl``, ``posterior.jsonl``).
    profile : sequence of str
        Further physics parameters profiled in the chi^2 fits.
    level : float, optional
        Confidence level when ``target`` is a name.

    Raises
    ------
    SpecError
        When a scan point gives an invalid study (the message names the point).
    ScanSetupError
        For a bad method, axes, toys, level or profile, or a posterior scan of a
        target without a prior.
    PosteriorUnavailableError
        For ``method`` posterior/both without a usable Bayesian layer (checked before
        any computation).
    """
    if method not in ("chi2", "posterior", "both"):
        raise ScanSetupError(f"method must be chi2, posterior or both, got {method!r}")
    if not 1 <= len(axes) <= 2:
        raise ScanSetupError("a scan varies one or two spec values")
    if len({a.path for a in axes}) != len(axes):
        raise ScanSetupError("the two scanned paths must differ")
    if toys < 0:
        raise ScanSetupError(f"toys must be >= 0, got {toys}")
    try:
        spec = target if isinstance(target, TargetSpec) else target_spec(target, level)
    except ValueError as err:
        raise ScanSetupError(str(err)) from None
    unknown = set(profile) - {"sin2_theta_w", "mu_nu_mu", "mu_nu_e", "r2_nu_mu", "r2_nu_e"}
    if unknown:
        raise ScanSetupError(f"cannot profile unknown parameter(s) {sorted(unknown)}")
    grid = _grid(axes)
    studies: list[Study] = []
    for values in grid:
        try:
            studies.append(scanner.study(values))
        except SpecError as err:
            at = ", ".join(f"{k} = {v}" for k, v in values.items())
            raise type(err)(err.path, err.key, f"{err.problem} (at scan point {at})") from None
    if spec.parameter != "sin2_theta_w" and not any(
        spec.parameter in parameter_for_flavor(f) for f in studies[0].flavors
    ):
        raise ScanSetupError(
            f"no analysed flavour depends on {spec.parameter} "
            f"(analysis.flavors = {studies[0].flavors})"
        )
    if method != "chi2" and spec.parameter not in studies[0].free_parameters:
        raise ScanSetupError(
            f"posterior scans need a prior on {spec.parameter} in the study's [priors] table"
        )
    if method != "chi2":
        posterior_backend()
    settings = fit_settings(studies[0], profile)
    points = [ScanPoint(i, v) for i, v in enumerate(grid)]
    models: list[RateModel] = []
    with single_threaded_blas():  # minimisers on tiny arrays: extra BLAS threads only contend
        for point, study in zip(points, studies, strict=True):
            model = scanner.rate_model(study)
            models.append(model)
            truth = study.true_parameters()
            point.expected_counts = float(model.counts(truth).sum())
            if method in ("chi2", "both"):
                res = expected_limit(model, truth, spec, fit_settings(study, profile))
                point.chi2_limit = res.figure
                if spec.kind == "interval":
                    point.chi2_interval = (res.lower, res.upper)
    out = Path(out_dir) if out_dir is not None else None
    with engine_or_local(engine) as engine:
        meta = {
            "kind": "scan",
            "study": scanner.fingerprint,
            "target": spec.to_json(),
            "axes": [a.to_json() for a in axes],
            "profile": list(profile),
        }
        if toys > 0:
            tasks = [
                Task(
                    (p.index, k),
                    toy_limit_task,
                    (
                        models[p.index],
                        studies[p.index].true_parameters(),
                        spec,
                        fit_settings(studies[p.index], profile),
                        studies[p.index].detector_names,
                        p.index,
                        k,
                    ),
                )
                for p in points
                for k in range(toys)
            ]
            rows = engine.run(
                tasks,
                seed=seed,
                table=None if out is None else out / "toys.jsonl",
                meta={**meta, "task": "toys"},
                description=f"toys ({spec.parameter})",
            )
            by_point: dict[int, list] = {}
            for r in rows:
                by_point.setdefault(int(r["point"]), []).append(r["limit"])
            for p in points:
                p.band = band_from_limits(by_point.get(p.index, []))
        if method in ("posterior", "both"):
            tasks = [
                Task(
                    (p.index,),
                    posterior_point_task,
                    (scanner.raw, scanner.path, {**scanner.overrides, **p.values}, spec, p.index),
                )
                for p in points
            ]
            rows = engine.run(
                tasks,
                seed=seed,
                table=None if out is None else out / "posterior.jsonl",
                meta={**meta, "task": "posterior"},
                description="posterior",
            )
            for r in rows:
                p = points[int(r["point"])]
                p.posterior_limit = r["posterior_limit"]
                if spec.kind == "interval":
                    p.posterior_interval = (r["lower"], r["upper"])
    return ScanResult(studies[0].name, spec, list(axes), points, method, toys, seed, settings)
