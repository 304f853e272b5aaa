"""The profile-likelihood engine: every command's fits, profiles, intervals and limits.

``fit``, ``study``, ``reproduce``, ``scan`` and ``check`` all go through
:class:`ProfileFitter`, so a nuisance and an interval mean the same thing everywhere.
The statistic is

    -2 ln L(theta, nu) = cost(n; mu(theta, nu)) + sum_k C_k(nu_k)    (constraint_neg2logpdf)

with ``cost`` the Poisson deviance (saturated form; defined for non-integer Asimov counts)
or the seed paper's chi^2, both from :mod:`.cost` (which says when to use which). Normal
and log-normal nuisances are minimised in their standard-normal coordinate z (C = z^2).
A ``poisson`` nuisance that a model lists in ``additive_poisson`` (a per-bin rate b_i added
to the expectation, measured by auxiliary counts m_i ~ Poisson(tau b_i)) is profiled in
closed form bin by bin (Poisson cost only): with s_i the rest of the expectation, the
maximising

    b_i = [B + sqrt(B^2 + 4 (1 + tau) m_i s_i)] / (2 (1 + tau)),  B = n_i + m_i - (1 + tau) s_i

(:mod:`cenns_bayes.detector.background`, here for non-integer n_i as well). Other poisson
nuisances are minimised numerically in ln b.

What each statistic is for:

* best fit -- the minimum of -2 ln L over free parameters and nuisances;
* profile -- Delta(-2 ln L) along one parameter, everything else re-minimised;
* two-sided interval -- {theta: Delta <= delta}; delta = 1 (68.27 %) and 2.706 (90 %) by
  Wilks' theorem, clipped at physical bounds (mu_nu >= 0, signal_strength >= 0);
* upper limit -- the upper end of that set (the paper's mu_nu limits use delta = 2.706;
  ``delta_chi2_for(0.9, one_sided=True)`` = 1.64 is the one-sided threshold at a boundary);
* significance -- sqrt(Delta) of a null value (signal_strength = 0) against the best fit;
* 2-D scan -- Delta on a grid of two parameters (contours at 4.61 for 90 %, 2 dof).

Every interval end is found by one routine, :func:`find_crossing`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..detector.background import profiled_rate
from . import parameters as _par
from .cost import cost as _cost
from .cost import cost_gradient as _cost_gradient
from .cost import poisson_deviance
from .fused import counting_objective
from .model import ExpectationModel, constraint_neg2logpdf

__all__ = [
    "DELTA_68",
    "DELTA_90",
    "DELTA_CHI2",
    "FIT_BOUNDS",
    "FitResult",
    "ProfileFitter",
    "delta_chi2_for",
    "find_crossing",
    "nuisance_table",
    "poisson_deviance",
    "profiled_rate",
]

#: Delta(-2 ln L) of a two-sided 68.27 % and 90 % interval in one parameter.
DELTA_68 = 1.0  # chi2 quantile (1 dof) at the 1-sigma probability 0.6827
DELTA_90 = 2.70554345409542  # chi2 quantile (1 dof) at 0.90, = scipy.special.chdtri(1, 0.1)

#: Delta chi^2 thresholds used by the paper: 1 sigma (1 dof), 90 % (1 dof), 90 % (2 dof).
DELTA_CHI2 = {"1sigma": 1.0, "90cl_1dof": 2.705543454095404, "90cl_2dof": 4.605170185988091}

#: Bounds of every parameter a fit can free (physical ranges, from :mod:`.parameters`).
FIT_BOUNDS: dict[str, tuple[float, float]] = {
    k: (p.lower, p.upper) for k, p in _par.PARAMETERS.items()
}

_Z_BOUND = 8.0
_MU_FLOOR = 1e-9


_BLAS = threading.local()


_CONTROLLER: list[Any] = []


def _blas_controller():
    """One threadpoolctl controller for the process, made at the first fit.

    Making one scans the process's loaded libraries (~15 ms), which toys calling the engine
    a thousand times paid on every call. The BLAS libraries are loaded by NumPy and SciPy,
    both imported before any fit.
    """
    if not _CONTROLLER:
        from threadpoolctl import ThreadpoolController

        _CONTROLLER.append(ThreadpoolController())
    return _CONTROLLER[0]


def _one_blas_thread(method):
    """Run ``method`` with BLAS limited to one thread (outermost call only).

    A fit is thousands of tiny L-BFGS-B steps; on a busy machine a multi-threaded BLAS
    only contends for the cores and makes each step tens of times slower.
    """
    import functools

    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        if getattr(_BLAS, "inside", False):
            return method(*args, **kwargs)
        _BLAS.inside = True
        try:
            with _blas_controller().limit(limits=1):
                return method(*args, **kwargs)
        finally:
            _BLAS.inside = False

    return wrapper


def delta_chi2_for(level: float, dof: int = 1, one_sided: bool = False) -> float:
    """Delta(-2 ln L) threshold for a confidence ``level`` (two-sided by Wilks' theorem).

    ``one_sided=True`` gives the threshold of a one-sided 1-dof limit at ``level``
    ((z_level)^2, e.g. 1.64 for 90 %), used where a boundary makes only one side count.
    """
    from scipy import special  # here: importing scipy costs ~0.4 s, reproduce needs none

    if one_sided:
        return float(special.ndtri(level) ** 2)
    return float(special.chdtri(dof, 1.0 - level))


def find_crossing(
    func: Callable[[float], float],
    x_best: float,
    step: float,
    delta: float,
    direction: int,
    lo: float,
    hi: float,
) -> float:
    """Where ``func`` (with func(x_best) = 0) first reaches ``delta`` moving in ``direction``.

    Steps out from ``x_best`` by ``step`` growing 1.5-fold, then refines by Brent's method
    to 1e-10 of the step. Returns the bound (``lo`` or ``hi``) when it is reached with
    ``func`` still below ``delta`` (e.g. mu_nu = 0).
    """
    x_prev = x_best
    for _ in range(90):
        x = x_best + direction * step
        if x <= lo or x >= hi:
            x = lo if direction < 0 else hi
            if func(x) < delta:
                return float(x)
        if func(x) >= delta:
            return _brent_root(
                lambda v: func(v) - delta,
                min(x_prev, x),
                max(x_prev, x),
                xtol=1e-10 * step,
                rtol=1e-14,
                maxiter=200,
            )
        x_prev = x
        step *= 1.5
    raise RuntimeError(f"no crossing of Delta = {delta} found")


def _brent_root(
    f: Callable[[float], float], a: float, b: float, xtol: float, rtol: float, maxiter: int
) -> float:
    """A root of ``f`` in [a, b] (signs differ at the ends) by Brent's method.

    The iteration of scipy's ``brentq`` (Brent 1973, "Algorithms for Minimization without
    Derivatives", ch. 4: inverse quadratic interpolation or secant step, else bisection),
    written out so that the profile engine's interval searches need no ``scipy.optimize``
    import (0.45 s, a third of ``reproduce``); same iterates, same result.
    """
    x_pre, x_cur = float(a), float(b)
    f_pre, f_cur = f(x_pre), f(x_cur)
    if f_pre * f_cur > 0:
        raise ValueError("f(a) and f(b) must have different signs")
    if f_pre == 0:
        return x_pre
    if f_cur == 0:
        return x_cur
    x_blk = f_blk = s_pre = s_cur = 0.0
    for _ in range(maxiter):
        if f_pre != 0 and f_cur != 0 and (np.signbit(f_pre) != np.signbit(f_cur)):
            x_blk, f_blk = x_pre, f_pre
            s_pre = s_cur = x_cur - x_pre
        if abs(f_blk) < abs(f_cur):
            x_pre, x_cur, x_blk = x_cur, x_blk, x_cur
            f_pre, f_cur, f_blk = f_cur, f_blk, f_cur
        tol = (xtol + rtol * abs(x_cur)) / 2
        s_bis = (x_blk - x_cur) / 2
        if f_cur == 0 or abs(s_bis) < tol:
            return x_cur
        if abs(s_pre) > tol and abs(f_cur) < abs(f_pre):
            if x_pre == x_blk:  # secant
                s_try = -f_cur * (x_cur - x_pre) / (f_cur - f_pre)
            else:  # inverse quadratic
                d_pre = (f_pre - f_cur) / (x_pre - x_cur)
                d_blk = (f_blk - f_cur) / (x_blk - x_cur)
                s_try = -f_cur * (f_blk * d_blk - f_pre * d_pre) / (d_blk * d_pre * (f_blk - f_pre))
            if 2 * abs(s_try) < min(abs(s_pre), 3 * abs(s_bis) - tol):
                s_pre, s_cur = s_cur, s_try
            else:
                s_pre = s_cur = s_bis
        else:
            s_pre = s_cur = s_bis
        x_pre, f_pre = x_cur, f_cur
        x_cur += s_cur if abs(s_cur) > tol else (tol if s_bis > 0 else -tol)
        f_cur = f(x_cur)
    raise RuntimeError(f"Brent's method did not converge in {maxiter} iterations")


@dataclass
class _Minimum:
    """A minimiser's result with the fields the engine reads from scipy's OptimizeResult."""

    x: np.ndarray
    fun: float
    success: bool = True
    status: int = 0


def _minimize_1d(
    fun_and_gradient: Callable[[np.ndarray], tuple[float, np.ndarray]],
    x0: float,
    lo: float,
    hi: float,
    xtol: float = 1e-12,
) -> _Minimum | None:
    """A local minimum of a smooth function of one coordinate on [lo, hi], from its slope.

    Steps downhill from ``x0`` (1, 2, 4, ... coordinate units) until the slope changes
    sign, then finds the slope's zero by :func:`_brent_root` to ``xtol``; a bound where the
    slope still points outwards is the minimum. None if a non-finite value is met (the
    caller then uses L-BFGS-B). Used for fits of one parameter without nuisances, e.g.
    every best fit of ``reproduce``, which then need no ``scipy.optimize``.
    """

    def slope(x: float) -> float:
        value, grad = fun_and_gradient(np.array([x]))
        if not np.isfinite(value) or value >= 1e30:
            raise _NonFinite
        return float(grad[0])

    try:
        x = min(max(x0, lo), hi)
        g = slope(x)
        if g != 0:
            direction = -1.0 if g > 0 else 1.0
            step, prev = 1.0, x
            for _ in range(1100):  # 2^1100 coordinate units: past any finite bound
                nxt = min(max(prev + direction * step, lo), hi)
                g_next = slope(nxt)
                if direction * g_next >= 0:
                    x = _brent_root(slope, min(prev, nxt), max(prev, nxt), xtol, 1e-14, 200)
                    break
                if nxt in (lo, hi):
                    x = nxt  # still downhill at the bound
                    break
                prev, step = nxt, 2.0 * step
            else:
                return None
    except _NonFinite:
        return None
    return _Minimum(np.array([x]), float(fun_and_gradient(np.array([x]))[0]))


class _NonFinite(Exception):
    """A non-finite objective value met by :func:`_minimize_1d`."""


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
    cost : {"poisson", "chi2"}
        The statistic of the main measurement (:mod:`.cost`): the Poisson deviance
        (default) or the seed paper's chi^2 (sigma^2 = n).
    """

    model: ExpectationModel
    free: Sequence[str]
    fixed: Mapping[str, float] | None = None
    observed: np.ndarray | None = None
    bounds: Mapping[str, tuple[float, float]] | None = None
    cost: str = "poisson"
    _best: FitResult | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.free = list(self.free)
        self.fixed = dict(self.model.fixed if self.fixed is None else self.fixed)
        self.observed = np.asarray(
            self.model.observed if self.observed is None else self.observed, float
        )
        self.bounds = {**FIT_BOUNDS, **(self.bounds or {})}
        unknown = [p for p in self.free if p not in self.model.parameter_names]
        if unknown:
            raise ValueError(
                f"the model has no parameter(s) {unknown}; it has {self.model.parameter_names}"
            )
        _cost(self.cost, np.zeros(0), np.zeros(0))  # rejects an unknown statistic early
        additive = dict(self.model.additive_poisson) if self.cost == "poisson" else {}
        self._analytic = [
            n for n in self.model.nuisances if n.kind == "poisson" and n.name in additive
        ]
        self._numeric = [n for n in self.model.nuisances if n not in self._analytic]
        self._sizes = [n.size for n in self._numeric]
        self._warm: dict[tuple, np.ndarray] = {}
        self._steps: dict[str, float] = {}

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
    def neg2ll(
        self, params: Mapping[str, float], nuisances: Mapping[str, Any]
    ) -> tuple[float, dict]:
        """-2 ln L at physics ``params`` (merged with the fixed values) and nuisance values.

        Additive poisson nuisances missing from ``nuisances`` are profiled in closed form.
        Returns the value and the nuisances used (with the profiled rates filled in).
        """
        assert self.fixed is not None and self.observed is not None  # set by __post_init__
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
        return float(_cost(self.cost, self.observed, mu)) + penalty, nuis

    def _value_and_gradient(
        self,
        names: list[str],
        scale: np.ndarray,
        params: Mapping[str, float],
        nuis: Mapping[str, Any],
        u: np.ndarray,
    ) -> tuple[float, np.ndarray]:
        """-2 ln L and its exact gradient in (physics / scale, nuisance coordinates u).

        Uses the model's ``jacobian`` (d expected / d parameter or nuisance value), the
        cost's per-bin derivative, and the chain rule through each nuisance's coordinate
        (z for normal and log-normal, ln b for poisson).
        """
        assert self.observed is not None  # set by __post_init__
        mu = np.asarray(self.model.expected(params, nuis), dtype=float)
        # an empty expectation under observed counts has infinite cost; a tiny floor keeps
        # value and gradient finite and steep, so that line searches step back from it
        mu = np.where((mu <= _MU_FLOOR) & (self.observed > 0), _MU_FLOOR, mu)
        value = float(_cost(self.cost, self.observed, mu))
        if not np.isfinite(value):
            return 1e30, np.zeros(len(names) + u.size)
        d_mu = _cost_gradient(self.cost, self.observed, mu)
        jac = self.model.jacobian(params, nuis, names)
        grad = np.empty(len(names) + u.size)
        for i, name in enumerate(names):
            grad[i] = float(np.sum(d_mu * jac[name])) * scale[i]
        k = len(names)
        for spec, size in zip(self._numeric, self._sizes, strict=True):
            z = u[k - len(names) : k - len(names) + size]
            v = np.atleast_1d(np.asarray(nuis[spec.name], dtype=float))
            d_value = np.atleast_2d(jac[spec.name]) @ d_mu
            value += constraint_neg2logpdf(spec, v)
            if spec.kind == "poisson":  # u = ln b
                grad[k : k + size] = d_value * v + 2.0 * (
                    spec.sigma * v - np.asarray(spec.centre, float)
                )
            elif spec.kind == "auxiliary":  # value = centre + sigma z, penalty: control deviance
                d_penalty = spec.auxiliary.control_neg2ll_gradient(v)
                grad[k : k + size] = (d_value + d_penalty) * np.asarray(spec.sigma, float)
            else:  # u = z, penalty z^2
                dv_dz = (
                    spec.sigma * v
                    if spec.kind == "lognormal"
                    else np.broadcast_to(spec.sigma, v.shape)
                )
                grad[k : k + size] = d_value * dv_dz + 2.0 * z
            k += size
        return value, grad

    def neg2ll_grid(self, values: Mapping[str, np.ndarray]) -> np.ndarray:
        """-2 ln L on a grid of physics ``values`` (arrays of one shape), nothing profiled.

        For models without nuisances, where this is the whole statistic; vectorised over
        the grid (the model's ``expected`` broadcasts array parameters over a leading axis).
        """
        if self.model.nuisances:
            raise ValueError("neg2ll_grid needs a model without nuisances; use profile()")
        assert self.fixed is not None  # set by __post_init__
        mu = np.asarray(self.model.expected({**self.fixed, **values}, {}), dtype=float)
        return np.asarray(_cost(self.cost, self.observed, mu))

    def _nothing_to_profile(self, scanned: Sequence[str]) -> bool:
        return not self.model.nuisances and all(p in scanned for p in self.free)

    # ------------------------------------------------------------------ minimisation
    def fit(
        self,
        fixed: Mapping[str, float] | None = None,
        *,
        signal_events: float | None = None,
        start: Mapping[str, float] | None = None,
        single_start: bool = False,
    ) -> FitResult:
        """Minimise over the free parameters not in ``fixed`` and all nuisances.

        ``signal_events`` fixes the total signal count instead of ``signal_strength``
        (which must be free): signal_strength = N / (signal at strength 1). This gives the
        profile likelihood of the derived CEvNS count. ``single_start`` minimises from
        ``start`` (and the last nuisances of a fit with the same fixed names) only, without
        the extra starts that guard against a wrong valley: for walks along a profile,
        where the neighbour's minimum is the start.
        """
        assert self.fixed is not None and self.bounds is not None  # set by __post_init__
        model_fixed = self.fixed  # bound here: the closures below do not see the narrowing
        fixed = dict(fixed or {})
        names = [p for p in self.free if p not in fixed]
        if not names and not self._numeric and signal_events is None:
            # nothing to minimise (e.g. every point of a one-parameter profile without
            # nuisances): the value itself, as the general path below would give it
            value, nuis = self.neg2ll({**self.fixed, **fixed}, {})
            return FitResult(
                float(value), {k: float(v) for k, v in {**self.fixed, **fixed}.items()}, nuis
            )
        if signal_events is not None:
            if "signal_strength" not in names:
                raise ValueError("signal_events needs signal_strength free and not fixed")
            names.remove("signal_strength")
        best0 = self._best
        start_vals = {
            p: self.fixed.get(p, _par.PARAMETERS[p].default if p in _par.PARAMETERS else 0.0)
            for p in names
        }
        if best0 is not None:
            start_vals.update({p: best0.parameters[p] for p in names})
        start_vals.update({k: v for k, v in (start or {}).items() if k in names})
        # mu_nu enters the counts only as mu^2, whose derivative vanishes at mu = 0: a
        # minimiser in mu can stop on that stationary point. Magnetic moments are therefore
        # minimised in t = mu^2, where the cost is smooth and has no spurious stationary point.
        squared = [p.startswith("mu_nu") for p in names]
        scale = np.array(
            [_par.step(p) ** (2 if sq else 1) for p, sq in zip(names, squared, strict=True)]
        )
        pbounds = [
            (max(lo, 0.0) ** 2 / sc, hi**2 / sc) if sq else (lo / sc, hi / sc)
            for (lo, hi), sc, sq in zip(
                (self.bounds[p] for p in names), scale, squared, strict=True
            )
        ]

        def coordinate(p, value):
            return (max(value, 0.0) ** 2 if p.startswith("mu_nu") else value) / _par.step(p) ** (
                2 if p.startswith("mu_nu") else 1
            )

        key = (tuple(sorted(fixed)), signal_events is not None)
        u0 = self._warm.get(key, self._nuisance_start())

        def split(x):
            t = x[: len(names)] * scale
            vals = {
                p: (float(np.sqrt(max(v, 0.0))) if sq else float(v))
                for p, v, sq in zip(names, t, squared, strict=True)
            }
            return vals, self._nuisance_values(x[len(names) :])

        def objective(x):
            vals, nuis = split(x)
            params = {**fixed, **vals}
            if signal_events is not None:
                unit = float(
                    np.sum(
                        self.model.signal({**model_fixed, **params, "signal_strength": 1.0}, nuis)
                    )
                )
                if unit <= 0:
                    return 1e30
                params["signal_strength"] = signal_events / unit
            value = self.neg2ll(params, nuis)[0]
            return value if np.isfinite(value) else 1e30

        use_gradient = self.model.has_jacobian and not self._analytic and signal_events is None

        def objective_and_gradient(x):
            vals, nuis = split(x)
            return self._value_and_gradient(
                [f"{p}_squared" if sq else p for p, sq in zip(names, squared, strict=True)],
                scale,
                {**model_fixed, **fixed, **vals},
                nuis,
                x[len(names) :],
            )

        # counting studies: the same objective evaluated in one pass (stats/fused.py)
        fused = (
            counting_objective(
                self.model,
                self.cost,
                self.observed,
                self._numeric,
                names,
                squared,
                scale,
                {**(self.fixed or {}), **fixed},
            )
            if use_gradient
            else None
        )

        x_starts = [np.concatenate([np.array([coordinate(p, start_vals[p]) for p in names]), u0])]
        # mu_nu enters as mu^2: also start away from the flat point mu = 0.
        if single_start:
            pass
        elif any(p.startswith("mu_nu") for p in names):
            alt = x_starts[0].copy()
            for i, p in enumerate(names):
                if p.startswith("mu_nu"):
                    alt[i] = coordinate(p, np.sqrt(max(alt[i] * scale[i], 0.0)) + 5.0)
            x_starts.append(alt)
        if not single_start:
            x_starts += self._mirror_starts(names, scale, x_starts[0], fixed, pbounds, split)
        bounds = pbounds + self._nuisance_bounds()
        best: Any = None
        if not bounds:  # nothing to minimise over
            x_starts = []
            best = _Minimum(np.zeros(0), objective(np.zeros(0)))
        for x0 in x_starts:
            x0 = np.clip(x0, [b[0] for b in bounds], [b[1] for b in bounds])
            res = None
            if use_gradient and len(bounds) == 1:  # one coordinate: no scipy.optimize needed
                res = _minimize_1d(fused or objective_and_gradient, float(x0[0]), *bounds[0])
            if res is None and use_gradient:
                from scipy import optimize  # here: importing it costs ~0.45 s

                res = optimize.minimize(
                    fused or objective_and_gradient,
                    x0,
                    method="L-BFGS-B",
                    jac=True,
                    bounds=bounds,
                    options={"ftol": 1e-15, "gtol": 1e-10, "maxiter": 5000},
                )
            elif res is None:
                from scipy import optimize

                res = optimize.minimize(
                    objective,
                    x0,
                    method="L-BFGS-B",
                    bounds=bounds,
                    options={"ftol": 1e-13, "gtol": 1e-7, "maxiter": 5000, "maxfun": 200000},
                )
            if best is None or res.fun < best.fun:
                best = res
        if best is not None and not best.success and best.status == 2:
            best = self._confirm_line_search_stop(
                best,
                (fused or objective_and_gradient) if use_gradient else objective,
                bounds,
                with_gradient=use_gradient,
            )
        assert best is not None  # x_starts is never empty
        self._warm[key] = best.x[len(names) :].copy()
        vals, nuis = split(best.x)
        params = {**self.fixed, **fixed, **vals}
        if signal_events is not None:
            unit = float(np.sum(self.model.signal({**params, "signal_strength": 1.0}, nuis)))
            params["signal_strength"] = signal_events / unit
        value, nuis = self.neg2ll(params, nuis)
        return FitResult(
            float(value), {k: float(v) for k, v in params.items()}, nuis, bool(best.success)
        )

    @staticmethod
    def _confirm_line_search_stop(
        res, objective, bounds, tolerance: float = 1e-9, with_gradient: bool = False
    ):
        """Judge an L-BFGS-B stop in the line search (status 2), common at an exact optimum.

        Near the floating-point floor of -2 ln L the line search finds no decrease and
        L-BFGS-B reports failure although it sits at the minimum. A restart from that point
        (fresh curvature; the exact gradient when ``with_gradient``, i.e. ``objective``
        returns value and gradient, else finite differences) settles it: when it lowers
        -2 ln L by no more than ``tolerance`` the stop is a converged minimum; otherwise the
        better point is kept and the fit stays unconverged.
        """
        from scipy import optimize

        again = optimize.minimize(
            objective,
            res.x,
            method="L-BFGS-B",
            jac=with_gradient,
            bounds=bounds,
            options={"ftol": 1e-13, "gtol": 1e-7, "maxiter": 5000, "maxfun": 200000},
        )
        if again.fun >= res.fun - tolerance:
            res.success = True
            res.message = (
                f"line-search stop confirmed as a minimum by a restart ({again.fun - res.fun:+.1e})"
            )
            return res
        return again

    def _mirror_starts(self, names, scale, x0, fixed, pbounds, split) -> list[np.ndarray]:
        """Extra starts on the other branch of parameters the count depends on quadratically.

        The CEvNS count is quadratic in s^2_eff = sin^2 + k <r^2>, so a value and its mirror
        image about the vertex of the total signal count give nearly the same count; the
        minimiser is started on both branches (every combination, for at most two such
        parameters) so that it does not stop in the wrong valley.
        """
        quad = [i for i, p in enumerate(names) if p.startswith("r2_nu") or p == "sin2_theta_w"][:2]
        if not quad:
            return []
        nominal = self._nuisance_values(self._nuisance_start())
        assert self.fixed is not None  # set by __post_init__
        base = {**self.fixed, **fixed, **split(x0)[0]}
        mirrored = {}
        for i in quad:
            p, x = names[i], x0[i] * scale[i]
            h = 10.0 * _par.step(p)
            y = [
                float(np.sum(self.model.signal({**base, p: x + d}, nominal))) for d in (-h, 0.0, h)
            ]
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

    @_one_blas_thread
    def best_fit(self) -> FitResult:
        """The global minimum (cached)."""
        if self._best is None:
            self._best = self.fit()
        return self._best

    # ------------------------------------------------------------------ profiles
    @_one_blas_thread
    def delta(self, parameter: str, value: float) -> float:
        """Delta(-2 ln L) with ``parameter`` fixed at ``value``, everything else profiled."""
        return self.fit({parameter: value}).neg2ll - self.best_fit().neg2ll

    @_one_blas_thread
    def profile(self, parameter: str, values: np.ndarray, *, follow: bool = False) -> np.ndarray:
        """Delta(-2 ln L) along ``parameter`` (vectorised when nothing else is profiled).

        By default every value is an independent fit with all its starts. ``follow=True``
        walks out from the best fit on each side instead, each point started at its
        neighbour's minimum with no other start: several times cheaper, for curves drawn
        in figures (it can follow a valley the full fit would leave where two valleys of a
        parameter meet; the reported intervals never use it).
        """
        values = np.asarray(values, float)
        if self._nothing_to_profile([parameter]):
            return self.neg2ll_grid({parameter: values}) - self.best_fit().neg2ll
        if not follow:
            return np.array([self.delta(parameter, float(v)) for v in values.ravel()]).reshape(
                values.shape
            )
        best = self.best_fit()
        flat = values.ravel()
        out = np.empty(flat.size)
        x_best = best.parameters[parameter]
        others = {p: best.parameters[p] for p in self.free if p != parameter}
        key = ((parameter,), False)
        order = np.argsort(flat)
        for side in (order[flat[order] >= x_best], order[flat[order] < x_best][::-1]):
            self._warm[key] = self._warm[((), False)].copy()  # best fit's nuisances
            start = dict(others)
            for i in side:
                res = self.fit({parameter: float(flat[i])}, start=start, single_start=True)
                out[i] = res.neg2ll - best.neg2ll
                start = {p: res.parameters[p] for p in others}
        return out.reshape(values.shape)

    @_one_blas_thread
    def scan_2d(self, px: str, x: np.ndarray, py: str, y: np.ndarray) -> np.ndarray:
        """Delta(-2 ln L) on the grid (len(y), len(x)), the other free parameters profiled."""
        xx, yy = np.meshgrid(np.asarray(x, float), np.asarray(y, float))
        minimum = self.best_fit().neg2ll
        if self._nothing_to_profile([px, py]):
            return self.neg2ll_grid({px: xx, py: yy}) - minimum
        out = np.empty(xx.shape)
        for idx in np.ndindex(xx.shape):
            out[idx] = self.fit({px: float(xx[idx]), py: float(yy[idx])}).neg2ll - minimum
        return out

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

    @_one_blas_thread
    def crossing(self, parameter: str, delta: float, direction: int) -> float:
        """Where Delta(-2 ln L) first reaches ``delta`` from the best fit in ``direction`` (+1/-1).

        The physical bound when it is reached first (e.g. mu_nu = 0).
        """
        assert self.bounds is not None  # set by __post_init__
        lo, hi = self.bounds[parameter]
        x_best = self.best_fit().parameters[parameter]
        if (direction < 0 and x_best <= lo) or (direction > 0 and x_best >= hi):
            return float(x_best)

        def func(v):
            return self.delta(parameter, v)

        if parameter not in self._steps:
            self._steps[parameter] = self._step(func, x_best, _par.step(parameter), lo, hi)
        return find_crossing(func, x_best, self._steps[parameter], delta, direction, lo, hi)

    def interval(self, parameter: str, delta: float = DELTA_68) -> tuple[float, float]:
        """{Delta(-2 ln L) <= delta} for one free parameter, clipped at its bounds."""
        return self.crossing(parameter, delta, -1), self.crossing(parameter, delta, +1)

    def upper_limit(self, parameter: str, delta: float = DELTA_90) -> float:
        """Upper end of {Delta(-2 ln L) <= delta} (the paper's mu_nu limits use 2.706)."""
        return self.crossing(parameter, delta, +1)

    # ------------------------------------------------------------------ derived quantities
    def signal_events(self, result: FitResult) -> float:
        """Total signal (CEvNS) count at a fit result."""
        return float(np.sum(self.model.signal(result.parameters, result.nuisances)))

    @_one_blas_thread
    def signal_events_interval(self, delta: float = DELTA_68) -> tuple[float, float]:
        """Profile-likelihood interval of the total signal count (signal_strength free)."""
        best = self.best_fit()
        n_best = self.signal_events(best)

        def func(n):
            return self.fit(signal_events=n).neg2ll - best.neg2ll

        step = self._step(func, n_best, max(1.0, 0.05 * n_best), 0.0, 1e9)
        low = 0.0 if n_best <= 0 else find_crossing(func, n_best, step, delta, -1, 0.0, 1e9)
        high = find_crossing(func, n_best, step, delta, +1, 0.0, 1e9)
        return low, high

    @_one_blas_thread
    def significance(self, parameter: str = "signal_strength", null_value: float = 0.0) -> float:
        """sqrt(Delta(-2 ln L)) of ``parameter = null_value`` against the best fit."""
        return float(np.sqrt(max(self.delta(parameter, null_value), 0.0)))


def nuisance_table(model: ExpectationModel, result: FitResult) -> list[dict[str, Any]]:
    """Pulls of the scalar nuisances at a fit: value and z = (value - nominal) / sigma."""
    rows = []
    for spec in model.nuisances:
        if spec.size != 1 or spec.kind == "poisson":
            continue
        value = float(np.asarray(result.nuisances[spec.name]).ravel()[0])
        z = spec.z_of(value)
        rows.append(
            {
                "name": spec.name,
                "kind": spec.kind,
                "value": value,
                "pull_sigma": float(z),
                "description": spec.description,
            }
        )
    return rows
