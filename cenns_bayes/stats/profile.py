"""Profile-likelihood fits of any :class:`~.model.ExpectationModel`.

The statistic is

    -2 ln L(theta, nu) = 2 sum_i [mu_i - n_i + n_i ln(n_i / mu_i)]   (Poisson, saturated form)
                         + sum_k C_k(nu_k)                            (constraint_neg2logpdf)

which is defined for non-integer (Asimov) counts n_i too. Normal and log-normal
nuisances are minimised in their standard-normal coordinate z (C = z^2). A ``poisson``
nuisance that a model lists in ``additive_poisson`` (a per-bin rate b_i added to the
expectation, measured by auxiliary counts m_i ~ Poisson(tau b_i)) is profiled in closed
form bin by bin: with s_i the rest of the expectation, the maximising

    b_i = [B + sqrt(B^2 + 4 (1 + tau) m_i s_i)] / (2 (1 + tau)),  B = n_i + m_i - (1 + tau) s_i

(:mod:`cenns_bayes.detector.background`, here for non-integer n_i as well). Other poisson
nuisances are minimised numerically in ln b.

Intervals are {theta: Delta(-2 ln L_profile) <= delta} with delta = 1 (68.27 %) and 2.706
(90 %) for one parameter (Wilks), clipped at physical bounds (mu_nu >= 0,
signal_strength >= 0). The significance of a signal is sqrt(Delta(-2 ln L)) between
signal_strength = 0 and the best fit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import optimize, stats

from .frequentist import PARAMETER_BOUNDS
from .model import ExpectationModel, constraint_neg2logpdf

__all__ = [
    "DELTA_68",
    "DELTA_90",
    "FIT_BOUNDS",
    "FitResult",
    "ProfileFitter",
    "nuisance_table",
    "poisson_deviance",
    "profiled_rate",
]

#: Delta(-2 ln L) of a two-sided 68.27 % and 90 % interval in one parameter.
DELTA_68 = float(stats.chi2.ppf(stats.chi2.cdf(1.0, 1), 1))
DELTA_90 = float(stats.chi2.ppf(0.90, 1))

#: Bounds of every parameter a fit can free (physical ranges).
FIT_BOUNDS: dict[str, tuple[float, float]] = {
    **PARAMETER_BOUNDS,
    "signal_strength": (0.0, 100.0),
    "neutron_skin_fm": (-0.5, 1.5),
}

_SCALE = {"sin2_theta_w": 0.01, "mu_nu_mu": 1.0, "mu_nu_e": 1.0, "r2_nu_mu": 0.3, "r2_nu_e": 0.3,
          "signal_strength": 0.1, "neutron_skin_fm": 0.1}
_Z_BOUND = 8.0


def poisson_deviance(observed: np.ndarray, expected: np.ndarray) -> float:
    """2 sum[mu - n + n ln(n / mu)] (0 for mu = n; +inf for mu <= 0 < n)."""
    n = np.asarray(observed, dtype=float)
    mu = np.asarray(expected, dtype=float)
    if np.any(mu < 0) or np.any((mu == 0) & (n > 0)):
        return np.inf
    with np.errstate(divide="ignore", invalid="ignore"):
        log_term = np.where(n > 0, n * np.log(np.where(n > 0, n, 1.0) / np.where(mu > 0, mu, 1.0)), 0.0)
    return float(2.0 * np.sum(mu - n + log_term))


def profiled_rate(n_on: np.ndarray, m_off: np.ndarray, s: np.ndarray, tau: float = 1.0) -> np.ndarray:
    """Per-bin maximum-likelihood rate b of Pois(n; s + b) Pois(m; tau b), non-integer n allowed.

    The closed form of :func:`cenns_bayes.detector.background.profiled_background`, evaluated
    without cancellation for B < 0.
    """
    n, m, s = (np.asarray(x, dtype=float) for x in (n_on, m_off, s))
    a = 1.0 + tau
    big_b = n + m - a * s
    c = m * s
    root = np.sqrt(big_b * big_b + 4.0 * a * c)
    with np.errstate(divide="ignore", invalid="ignore"):
        neg = np.where(root - big_b > 0, 2.0 * c / np.where(root - big_b > 0, root - big_b, 1.0), 0.0)
    return np.where(big_b >= 0, (big_b + root) / (2.0 * a), neg)


@dataclass
class FitResult:
    """A minimum of -2 ln L.

    Attributes
    ----------
    neg2ll : float
        The minimum.
    parameters : dict
        Every model parameter (free at its minimum, the others at their fixed values).
    nuisances : dict
        Nuisance values at the minimum (physical values, not z).
    success : bool
        The optimiser's convergence flag.
    """

    neg2ll: float
    parameters: dict[str, float]
    nuisances: dict[str, Any]
    success: bool = True


@dataclass
class ProfileFitter:
    """Maximum likelihood and profile-likelihood intervals for the free parameters of a model.

    Parameters
    ----------
    model : ExpectationModel
        Gives ``expected(params, nuisances)``, ``observed`` and ``nuisances``; optional
        ``signal(params, nuisances)`` (CEvNS counts, for derived quantities), ``fixed``
        (values of non-free parameters) and ``additive_poisson``.
    free : sequence of str
        Free physics parameters.
    fixed : mapping, optional
        Values of non-free parameters (default: ``model.fixed`` if present).
    observed : array, optional
        Data to fit (default ``model.observed``), e.g. a toy.
    bounds : mapping, optional
        Parameter bounds overriding :data:`FIT_BOUNDS`.
    """

    model: ExpectationModel
    free: Sequence[str]
    fixed: Mapping[str, float] | None = None
    observed: np.ndarray | None = None
    bounds: Mapping[str, tuple[float, float]] | None = None
    _best: FitResult | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.free = list(self.free)
        self.fixed = dict(getattr(self.model, "fixed", {}) if self.fixed is None else self.fixed)
        self.observed = np.asarray(self.model.observed if self.observed is None else self.observed, float)
        self.bounds = {**FIT_BOUNDS, **(self.bounds or {})}
        unknown = [p for p in self.free if p not in self.model.parameter_names]
        if unknown:
            raise ValueError(f"the model has no parameter(s) {unknown}; it has {self.model.parameter_names}")
        additive = dict(getattr(self.model, "additive_poisson", {}) or {})
        self._analytic = [n for n in self.model.nuisances if n.kind == "poisson" and n.name in additive]
        self._numeric = [n for n in self.model.nuisances if n not in self._analytic]
        self._sizes = [n.size for n in self._numeric]
        self._warm: dict[tuple, np.ndarray] = {}

    # ------------------------------------------------------------------ nuisances
    def _nuisance_values(self, u: np.ndarray) -> dict[str, Any]:
        out: dict[str, Any] = {}
        k = 0
        for spec, size in zip(self._numeric, self._sizes, strict=True):
            z = u[k : k + size]
            k += size
            if spec.kind == "poisson":
                value = np.exp(z)
            else:
                value = np.asarray(spec.from_z(z), dtype=float)
            out[spec.name] = float(value[0]) if size == 1 else value
        return out

    def _nuisance_start(self) -> np.ndarray:
        parts = []
        for spec in self._numeric:
            if spec.kind == "poisson":
                parts.append(np.log(spec.nominal()))
            else:
                parts.append(np.zeros(spec.size))
        return np.concatenate(parts) if parts else np.zeros(0)

    def _nuisance_bounds(self) -> list[tuple[float, float]]:
        out: list[tuple[float, float]] = []
        for spec in self._numeric:
            if spec.kind == "poisson":
                out += [(-30.0, 30.0)] * spec.size
            else:
                out += [(-_Z_BOUND, _Z_BOUND)] * spec.size
        return out

    # ------------------------------------------------------------------ likelihood
    def neg2ll(self, params: Mapping[str, float], nuisances: Mapping[str, Any]) -> tuple[float, dict]:
        """-2 ln L at physics ``params`` (merged with the fixed values) and nuisance values.

        Additive poisson nuisances missing from ``nuisances`` are profiled in closed form.
        Returns the value and the nuisances used (with the profiled rates filled in).
        """
        p = {**self.fixed, **params}
        nuis = dict(nuisances)
        penalty = 0.0
        for spec in self._numeric:
            penalty += constraint_neg2logpdf(spec, nuis[spec.name])
        if self._analytic:
            zeros = {spec.name: np.zeros(spec.size) for spec in self._analytic}
            s = np.asarray(self.model.expected(p, {**nuis, **zeros}), dtype=float)
            for spec in self._analytic:
                if spec.name not in nuisances:
                    nuis[spec.name] = profiled_rate(self.observed, spec.centre, s, spec.sigma)
                # a single additive rate per model is the supported case; several would add up
                s = s + nuis[spec.name]
                penalty += constraint_neg2logpdf(spec, np.maximum(nuis[spec.name], 1e-300))
            mu = s
        else:
            mu = np.asarray(self.model.expected(p, nuis), dtype=float)
        return poisson_deviance(self.observed, mu) + penalty, nuis

    # ------------------------------------------------------------------ minimisation
    def fit(self, fixed: Mapping[str, float] | None = None, *, signal_events: float | None = None,
            start: Mapping[str, float] | None = None) -> FitResult:
        """Minimise over the free parameters not in ``fixed`` and all nuisances.

        ``signal_events`` fixes the total signal count instead of ``signal_strength``
        (which must be free): signal_strength = N / (signal at strength 1). This gives the
        profile likelihood of the derived CEvNS count.
        """
        fixed = dict(fixed or {})
        names = [p for p in self.free if p not in fixed]
        if signal_events is not None:
            if "signal_strength" not in names:
                raise ValueError("signal_events needs signal_strength free and not fixed")
            names.remove("signal_strength")
        best0 = self._best
        start_vals = {p: self.fixed.get(p, 1.0 if p == "signal_strength" else
                                        (0.23120 if p == "sin2_theta_w" else 0.0)) for p in names}
        if best0 is not None:
            start_vals.update({p: best0.parameters[p] for p in names})
        start_vals.update({k: v for k, v in (start or {}).items() if k in names})
        scale = np.array([_SCALE.get(p, 1.0) for p in names])
        pbounds = [(self.bounds[p][0] / sc, self.bounds[p][1] / sc) for p, sc in zip(names, scale, strict=True)]
        key = (tuple(sorted(fixed)), signal_events is not None)
        u0 = self._warm.get(key, self._nuisance_start())

        def split(x):
            vals = dict(zip(names, x[: len(names)] * scale, strict=True))
            return vals, self._nuisance_values(x[len(names):])

        def objective(x):
            vals, nuis = split(x)
            params = {**fixed, **vals}
            if signal_events is not None:
                unit = float(np.sum(self.model.signal({**self.fixed, **params, "signal_strength": 1.0}, nuis)))
                if unit <= 0:
                    return 1e30
                params["signal_strength"] = signal_events / unit
            value = self.neg2ll(params, nuis)[0]
            return value if np.isfinite(value) else 1e30

        x_starts = [np.concatenate([np.array([start_vals[p] for p in names]) / scale, u0])]
        # mu_nu enters as mu^2: also start away from the flat point mu = 0.
        if any(p.startswith("mu_nu") for p in names):
            alt = x_starts[0].copy()
            for i, p in enumerate(names):
                if p.startswith("mu_nu"):
                    alt[i] = max(alt[i], 0.0) + 5.0 / scale[i]
            x_starts.append(alt)
        x_starts += self._mirror_starts(names, scale, x_starts[0], fixed, pbounds)
        bounds = pbounds + self._nuisance_bounds()
        best = None
        if not bounds:  # nothing to minimise over
            x_starts = []
            best = optimize.OptimizeResult(x=np.zeros(0), fun=objective(np.zeros(0)), success=True)
        for x0 in x_starts:
            x0 = np.clip(x0, [b[0] for b in bounds], [b[1] for b in bounds])
            res = optimize.minimize(objective, x0, method="L-BFGS-B", bounds=bounds,
                                    options={"ftol": 1e-13, "gtol": 1e-7, "maxiter": 5000, "maxfun": 200000})
            if best is None or res.fun < best.fun:
                best = res
        self._warm[key] = best.x[len(names):].copy()
        vals, nuis = split(best.x)
        params = {**self.fixed, **fixed, **vals}
        if signal_events is not None:
            unit = float(np.sum(self.model.signal({**params, "signal_strength": 1.0}, nuis)))
            params["signal_strength"] = signal_events / unit
        value, nuis = self.neg2ll(params, nuis)
        return FitResult(float(value), {k: float(v) for k, v in params.items()}, nuis, bool(best.success))

    def _mirror_starts(self, names, scale, x0, fixed, pbounds) -> list[np.ndarray]:
        """Extra starts on the other branch of parameters the count depends on quadratically.

        The CEvNS count is quadratic in s^2_eff = sin^2 + k <r^2>, so a value and its mirror
        image about the vertex of the total signal count give nearly the same count; the
        minimiser is started on both branches (every combination, for at most two such
        parameters) so that it does not stop in the wrong valley.
        """
        quad = [i for i, p in enumerate(names) if p.startswith("r2_nu") or p == "sin2_theta_w"][:2]
        if not quad or not hasattr(self.model, "signal"):
            return []
        nominal = self._nuisance_values(self._nuisance_start())
        base = {**self.fixed, **fixed, **dict(zip(names, x0[: len(names)] * scale, strict=True))}
        mirrored = {}
        for i in quad:
            p, x = names[i], x0[i] * scale[i]
            h = 10.0 * _SCALE.get(p, 1.0)
            y = [float(np.sum(self.model.signal({**base, p: x + d}, nominal))) for d in (-h, 0.0, h)]
            curvature = y[0] - 2.0 * y[1] + y[2]
            if curvature <= 0:
                continue
            vertex = x - h * (y[2] - y[0]) / (2.0 * curvature)
            m = (2.0 * vertex - x) / scale[i]
            if pbounds[i][0] < m < pbounds[i][1] and abs(m - x0[i]) > 1.0:
                mirrored[i] = m
        starts = []
        keys = list(mirrored)
        for mask in range(1, 2 ** len(keys)):
            alt = x0.copy()
            for bit, i in enumerate(keys):
                if mask >> bit & 1:
                    alt[i] = mirrored[i]
            starts.append(alt)
        return starts

    def best_fit(self) -> FitResult:
        """The global minimum (cached)."""
        if self._best is None:
            self._best = self.fit()
        return self._best

    # ------------------------------------------------------------------ profiles
    def delta(self, parameter: str, value: float) -> float:
        """Delta(-2 ln L) with ``parameter`` fixed at ``value``, everything else profiled."""
        return self.fit({parameter: value}).neg2ll - self.best_fit().neg2ll

    def profile(self, parameter: str, values: np.ndarray) -> np.ndarray:
        """Delta(-2 ln L) along ``parameter``."""
        return np.array([self.delta(parameter, float(v)) for v in np.asarray(values, float)])

    def _crossing(self, func, x_best: float, step: float, delta: float, direction: int,
                  lo: float, hi: float) -> float:
        x_prev = x_best
        for _ in range(60):
            x = x_best + direction * step
            if x <= lo or x >= hi:
                x = lo if direction < 0 else hi
                if func(x) < delta:
                    return x
            if func(x) >= delta:
                return float(optimize.brentq(lambda v: func(v) - delta, min(x_prev, x), max(x_prev, x),
                                             xtol=1e-7 * step, rtol=1e-12))
            x_prev = x
            step *= 1.5
        raise RuntimeError(f"no crossing of Delta = {delta} found")

    def _step(self, func, x_best: float, scale: float, lo: float, hi: float) -> float:
        """A first step of about one standard deviation, from the local curvature."""
        h = scale
        for _ in range(30):
            x = min(max(x_best + h, lo), hi) if x_best + h < hi else max(x_best - h, lo)
            d = func(x)
            if d > 0.05:
                break
            h *= 3.0
        return float(abs(x - x_best) / np.sqrt(max(d, 1e-6))) * 0.8 if d > 0 else h

    def interval(self, parameter: str, delta: float = DELTA_68) -> tuple[float, float]:
        """{Delta(-2 ln L) <= delta} for one free parameter, clipped at its bounds."""
        lo, hi = self.bounds[parameter]
        x_best = self.best_fit().parameters[parameter]

        def func(v):
            return self.delta(parameter, v)

        step = self._step(func, x_best, _SCALE.get(parameter, 1.0), lo, hi)
        low = lo if x_best <= lo else self._crossing(func, x_best, step, delta, -1, lo, hi)
        high = hi if x_best >= hi else self._crossing(func, x_best, step, delta, +1, lo, hi)
        return low, high

    # ------------------------------------------------------------------ derived quantities
    def signal_events(self, result: FitResult) -> float:
        """Total signal (CEvNS) count at a fit result."""
        return float(np.sum(self.model.signal(result.parameters, result.nuisances)))

    def signal_events_interval(self, delta: float = DELTA_68) -> tuple[float, float]:
        """Profile-likelihood interval of the total signal count (signal_strength free)."""
        best = self.best_fit()
        n_best = self.signal_events(best)

        def func(n):
            return self.fit(signal_events=n).neg2ll - best.neg2ll

        step = self._step(func, n_best, max(1.0, 0.05 * n_best), 0.0, 1e9)
        low = 0.0 if n_best <= 0 else self._crossing(func, n_best, step, delta, -1, 0.0, 1e9)
        high = self._crossing(func, n_best, step, delta, +1, 0.0, 1e9)
        return low, high

    def significance(self, parameter: str = "signal_strength", null_value: float = 0.0) -> float:
        """sqrt(Delta(-2 ln L)) of ``parameter = null_value`` against the best fit."""
        return float(np.sqrt(max(self.delta(parameter, null_value), 0.0)))


def nuisance_table(model: ExpectationModel, result: FitResult) -> list[dict[str, Any]]:
    """Pulls of the scalar nuisances at a fit: value and z = (value - nominal) / sigma in sigma units."""
    rows = []
    for spec in model.nuisances:
        if spec.size != 1 or spec.kind == "poisson":
            continue
        value = float(np.asarray(result.nuisances[spec.name]).ravel()[0])
        z = np.log(value) / spec.sigma if spec.kind == "lognormal" else (value - spec.centre) / spec.sigma
        rows.append({"name": spec.name, "kind": spec.kind, "value": value, "pull_sigma": float(z),
                     "description": spec.description})
    return rows
