"""Feldman-Cousins unified intervals by a Neyman construction with likelihood-ratio ordering.

For a parameter mu >= 0 (a magnetic moment) the ordering statistic of Feldman & Cousins
(Phys. Rev. D 57, 3873 (1998)) is

    t(mu) = -2 ln [ L(mu, theta_hat(mu)) / L(mu_hat, theta_hat) ],   mu_hat >= 0,

with the other free parameters theta profiled (for a study with no other free parameter
and no nuisances, t is the plain Poisson likelihood ratio). At each point mu_k of a grid
the critical value c_alpha(mu_k) is the smallest c with P(t(mu_k) <= c | mu_k) >= alpha,
estimated from pseudo-experiments generated at mu_k (the other parameters at the study's
true values; the "profile construction" with nuisances at their conditional values of the
Asimov data set). The alpha-level interval of a data set is {mu_k : t_data(mu_k) <= c_alpha(mu_k)}.

:func:`fc_poisson_interval` builds the same belt exactly for a single Poisson count with
known background by summing Poisson probabilities instead of drawing toys (the textbook
case of FC's Table IV), using the same :func:`critical_value`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

__all__ = [
    "NeymanBelt",
    "critical_value",
    "fc_point_task",
    "fc_poisson_interval",
    "feldman_cousins_of_data",
    "linear_in_square",
    "poisson_t_vectorised",
    "poisson_lr_statistic",
]

#: Slack when comparing a statistic with a critical value (ties of a discrete statistic).
_TIE = 1e-9


def critical_value(t: np.ndarray, level: float, weights: np.ndarray | None = None) -> float:
    """Smallest c with P(t <= c) >= ``level`` for a sample (or weighted support) of ``t``.

    Parameters
    ----------
    t : array
        Toy values of the ordering statistic, or the support points of its distribution.
    level : float
        Confidence level alpha, e.g. 0.9.
    weights : array, optional
        Probabilities of the support points (exact constructions); equal weights if None.
    """
    t = np.asarray(t, dtype=float)
    w = np.ones_like(t) if weights is None else np.asarray(weights, dtype=float)
    order = np.argsort(t, kind="stable")
    cum = np.cumsum(w[order]) / w.sum()
    idx = int(np.searchsorted(cum, level - 1e-12, side="left"))
    return float(t[order][min(idx, t.size - 1)])


def poisson_lr_statistic(n: np.ndarray, signal: float, background: float) -> np.ndarray:
    """T = -2 ln[P(n | s + b) / P(n | s_hat + b)], s_hat = max(0, n - b), for counts ``n``."""
    from ..stats.cost import poisson_deviance

    n = np.asarray(n, dtype=float)[..., None]  # one experiment per entry: deviance per entry
    lam_hat = np.maximum(0.0, n - background) + background
    return poisson_deviance(n, np.broadcast_to(signal + background, n.shape)) - poisson_deviance(
        n, lam_hat
    )


def fc_poisson_interval(
    n_obs: int, background: float, level: float = 0.9, grid: np.ndarray | None = None
) -> tuple[float, float]:
    """Exact Feldman-Cousins interval for a Poisson signal with known background.

    The belt is built on ``grid`` (default 0 to 20 in steps of 0.005) by summing Poisson
    probabilities of n = 0 ... n_max, n_max = lambda + 12 sqrt(lambda) + 30 (the rest of
    the distribution holds less than 1e-12 of the probability).

    Returns
    -------
    (lower, upper)
        The smallest and largest accepted grid values.
    """
    grid = np.arange(0.0, 20.0 + 1e-9, 0.005) if grid is None else np.asarray(grid, dtype=float)
    is_accepted = []
    for s in grid:
        lam = s + background
        n = np.arange(int(lam + 12.0 * np.sqrt(lam) + 30.0))  # beyond: < 1e-12 of the probability
        t = poisson_lr_statistic(n, s, background)
        c = critical_value(t, level, stats.poisson.pmf(n, lam))
        is_accepted.append(poisson_lr_statistic(np.array([n_obs]), s, background)[0] <= c + _TIE)
    accepted = np.asarray(is_accepted)
    if not accepted.any():
        raise ValueError("no grid point accepted; extend the grid")
    return float(grid[accepted].min()), float(grid[accepted].max())


@dataclass
class NeymanBelt:
    """Critical values of the FC ordering statistic on a grid of one parameter.

    Attributes
    ----------
    parameter : str
    grid : array
        Parameter values mu_k (ascending; includes the true value of a coverage run).
    critical : dict
        ``{level key ("0.68", "0.9"): array of c_alpha(mu_k)}``.
    toys_per_point : int
        Pseudo-experiments behind each critical value.
    """

    parameter: str
    grid: np.ndarray
    critical: dict[str, np.ndarray]
    toys_per_point: int = 0
    t_samples: list[np.ndarray] = field(default_factory=list, repr=False)

    @classmethod
    def from_samples(
        cls,
        parameter: str,
        grid: Sequence[float] | np.ndarray,
        samples: Sequence[np.ndarray],
        levels: Sequence[float],
    ) -> NeymanBelt:
        """Build from toy values of t at each grid point."""
        crit = {f"{lv:g}": np.array([critical_value(t, lv) for t in samples]) for lv in levels}
        return cls(
            parameter,
            np.asarray(grid, dtype=float),
            crit,
            min(len(t) for t in samples),
            [np.asarray(t) for t in samples],
        )

    def critical_at(self, value: float, level: float) -> float:
        """c_alpha at ``value``, linearly interpolated between grid points (flat beyond)."""
        return float(np.interp(value, self.grid, self.critical[f"{level:g}"]))

    def interval(
        self, t_grid: np.ndarray, level: float, t_of: Callable[[float], float] | None = None
    ) -> tuple[float, float, bool]:
        """(lower, upper, open) of the accepted region {mu : t_data(mu) <= c_alpha(mu)}.

        ``t_grid`` is the data's statistic at the grid points. With ``t_of`` (t_data at any
        mu) each end is the root of t_data(mu) - c_alpha(mu), c_alpha interpolated linearly
        between grid points, bracketed by the last rejected and first accepted grid point
        (Brent's method to 1e-6 of the grid's range); without it, the outermost accepted
        grid points (ends rounded inwards by up to one grid step). An accepted grid point
        0 gives lower = 0 exactly. ``open`` is True when the largest grid point is accepted:
        the upper end then lies beyond the grid and is reported as the grid's end.
        """
        crit = self.critical[f"{level:g}"]
        t_grid = np.asarray(t_grid, dtype=float)
        ok = t_grid <= crit + _TIE
        if not ok.any():
            return float("nan"), float("nan"), False
        accepted = np.flatnonzero(ok)
        first, last = int(accepted[0]), int(accepted[-1])
        lower, upper = float(self.grid[first]), float(self.grid[last])
        if t_of is not None:
            from scipy.optimize import brentq

            def excess(mu: float) -> float:
                return float(t_of(mu)) - self.critical_at(mu, level)

            xtol = 1e-6 * float(self.grid[-1] - self.grid[0])

            def root(rejected: float, accepted: float) -> float:
                # the grid test allows a tie of _TIE: a bracket without a sign change
                # (|excess| at the accepted end below the tie) ends at that grid point
                f_rej, f_acc = excess(rejected), excess(accepted)
                if f_acc > 0.0 or f_rej <= 0.0:
                    return accepted if f_acc <= _TIE or f_rej > 0.0 else rejected
                return float(
                    brentq(excess, min(rejected, accepted), max(rejected, accepted), xtol=xtol)
                )

            if first > 0:
                lower = root(float(self.grid[first - 1]), float(self.grid[first]))
            if last < self.grid.size - 1:
                upper = root(float(self.grid[last + 1]), float(self.grid[last]))
        return lower, upper, bool(ok[-1])

    def acceptance_stderr(self) -> dict[str, float]:
        """Monte Carlo error of the belt as a probability: sqrt(alpha (1 - alpha) / N_toys).

        The acceptance P(t <= c_hat) of a critical value estimated from N toys scatters by
        this much around alpha; a coverage measured with this belt carries it on top of its
        own binomial error (add in quadrature).
        """
        n = max(self.toys_per_point, 1)
        return {k: float(np.sqrt(float(k) * (1.0 - float(k)) / n)) for k in self.critical}

    def critical_band(self, level: float, z: float = 1.0) -> np.ndarray:
        """Order-statistic band of c_alpha per grid point, shape (points, 2).

        The toy values of rank N alpha -/+ z sqrt(N alpha (1 - alpha)): the range of critical
        values compatible with the toys at about z binomial sigma (needs the toy samples).
        """
        out = []
        for t in self.t_samples:
            srt = np.sort(np.asarray(t, dtype=float))
            n = srt.size
            half = z * np.sqrt(n * level * (1.0 - level))
            lo = int(np.clip(np.floor(n * level - half), 0, n - 1))
            hi = int(np.clip(np.ceil(n * level + half), 0, n - 1))
            out.append((srt[lo], srt[hi]))
        return np.asarray(out, dtype=float)

    def to_json(self) -> dict:
        """JSON-serialisable form (grid, critical values, toys per point)."""
        doc = {
            "parameter": self.parameter,
            "grid": self.grid.tolist(),
            "critical": {k: v.tolist() for k, v in self.critical.items()},
            "toys_per_point": self.toys_per_point,
            "acceptance_stderr": self.acceptance_stderr(),
        }
        if self.t_samples:
            doc["critical_band_1sigma"] = {
                k: self.critical_band(float(k)).tolist() for k in self.critical
            }
        return doc

    @classmethod
    def from_json(cls, doc: dict) -> NeymanBelt:
        """Inverse of :meth:`to_json`."""
        return cls(
            doc["parameter"],
            np.asarray(doc["grid"], dtype=float),
            {k: np.asarray(v, dtype=float) for k, v in doc["critical"].items()},
            int(doc["toys_per_point"]),
        )


def profile_likelihood(counting, study, counts: np.ndarray, statistic: str):
    """The study's :class:`~cenns_bayes.stats.profile.ProfileFitter` on ``counts``.

    ``counting`` carries the study's constrained nuisances; ``statistic`` is the cost.
    """
    from ..stats.profile import ProfileFitter

    return ProfileFitter(
        counting, study.free_parameters, observed=np.asarray(counts, dtype=float), cost=statistic
    )


def linear_in_square(counting, study, parameter: str) -> tuple[np.ndarray, np.ndarray] | None:
    """(a, b) with expected(mu) = a + b mu^2 when that is the whole model, else None.

    True for a counting study whose only free parameter is the moment ``parameter`` and that
    has no nuisances: the profile is then a one-dimensional convex problem in s = mu^2 that
    :func:`poisson_t_vectorised` solves for many toys at once. Checked numerically at mu = 2.
    """
    from ..stats.counting import CountingModel

    if not isinstance(counting, CountingModel) or counting.nuisances:
        return None
    if list(study.free_parameters) != [parameter]:
        return None
    truth = study.true_parameters()
    a = np.asarray(counting.expected({**truth, parameter: 0.0}), dtype=float)
    b = np.asarray(counting.expected({**truth, parameter: 1.0}), dtype=float) - a
    two = np.asarray(counting.expected({**truth, parameter: 2.0}), dtype=float)
    if np.any(a <= 0) or np.any(b < 0) or not np.allclose(two, a + 4.0 * b, rtol=1e-9, atol=0.0):
        return None
    return a, b


def poisson_t_vectorised(
    counts: np.ndarray, a: np.ndarray, b: np.ndarray, value: float, iterations: int = 60
) -> np.ndarray:
    """FC statistic t(value) for many toys of the model expected = a + b mu^2, mu >= 0.

    ``counts`` has one toy per row. The best fit s_hat = mu_hat^2 >= 0 minimises the
    Poisson deviance D(s), convex in s: D'(0) >= 0 gives s_hat = 0, otherwise a safeguarded
    Newton iteration (bisection fallback) on D'(s) = 2 sum b (1 - n / (a + b s)) inside a
    bracket [0, s_hi] with D'(s_hi) > 0. Returns t = D(value^2) - D(s_hat) >= 0 per toy.
    """
    from ..stats.cost import poisson_deviance

    n = np.asarray(counts, dtype=float)
    total_b = b.sum()

    def slope(s):
        return 2.0 * np.sum(b * (1.0 - n / (a + b * s[:, None])), axis=1)

    def curvature(s):
        lam = a + b * s[:, None]
        return 2.0 * np.sum(b * b * n / (lam * lam), axis=1)

    s_hat = np.zeros(n.shape[0])
    free = slope(s_hat) < 0.0
    if free.any():
        nf = n[free]
        # D'(s) > 0 once sum b (n / lam) < sum b: s_hi = sum(n) / min(b>0) is far enough
        lo = np.zeros(nf.shape[0])
        hi = np.full(nf.shape[0], 2.0 * nf.sum(axis=1).max() / b[b > 0].min() + 1.0)
        s = np.maximum(0.0, (nf.sum(axis=1) - a.sum()) / total_b)
        saved_n = n
        n = nf
        fitted = np.empty_like(s)
        rows = np.arange(s.size)  # the toys still iterated, as rows of nf
        for _ in range(iterations):
            g = slope(s)
            lo = np.where(g < 0.0, s, lo)
            hi = np.where(g >= 0.0, s, hi)
            step = s - g / curvature(s)
            new = np.where((step > lo) & (step < hi), step, 0.5 * (lo + hi))
            moving = new != s
            if not moving.all():
                # a toy whose iterate repeats exactly has reached its fixed point: the
                # remaining passes would give it the same number, so it leaves the loop
                fitted[rows[~moving]] = new[~moving]
                rows, lo, hi, n = rows[moving], lo[moving], hi[moving], n[moving]
            s = new[moving]
            if not rows.size:
                break
        fitted[rows] = s
        n = saved_n
        s_hat[free] = fitted
    d_hat = poisson_deviance(n, a + b * s_hat[:, None])
    d_val = poisson_deviance(n, np.broadcast_to(a + b * value**2, n.shape))
    return np.maximum(0.0, d_val - d_hat)


_MODELS: dict[str, object] = {}


def model_for_ref(ref):
    """The study's :class:`~cenns_bayes.stats.model.ExpectationModel` (cached per process)."""
    model = _MODELS.get(ref.key)
    if model is None:
        from ..stats.binned import model_for_study

        model = _MODELS[ref.key] = model_for_study(ref.load())
    return model


def fc_point_task(
    ref, parameter: str, value: float, n_toys: int, conditional: dict | None = None, *, seed
) -> dict:
    """Toys at ``parameter = value``; t(value) of each.

    A :class:`~cenns_bayes.parallel.Task` function: returns ``{"value", "t"}``. The other
    parameters and the nuisances take ``conditional`` = ``{"parameters", "nuisances"}``
    (the profile construction: their conditional best fit to the data at ``value``) or, by
    default, the study's true values and the nominal nuisances. A study whose expectation
    is a + b mu^2 with no nuisances (:func:`linear_in_square`) draws all toys at once and
    profiles them vectorised; any other runs one profile fit per toy.
    """
    rng = np.random.default_rng(seed)
    study = ref.load()
    model = model_for_ref(ref)
    conditional = conditional or {}
    truth = {
        **study.true_parameters(),
        **conditional.get("parameters", {}),
        parameter: float(value),
    }
    coefficients = linear_in_square(model, study, parameter)
    if coefficients is not None:
        # every toy at once, from the model; it has no nuisances, so no auxiliary data
        counts, _ = model.sample(truth, rng, size=n_toys)
        t = poisson_t_vectorised(counts, *coefficients, float(value))
    else:
        t = np.empty(n_toys)
        for i in range(n_toys):
            # main and auxiliary pseudo-data
            counts, auxiliary = model.sample(truth, rng, conditional.get("nuisances"))
            like = profile_likelihood(model.with_data(counts, auxiliary), study, counts, "poisson")
            t[i] = max(0.0, float(like.profile(parameter, np.array([float(value)]))[0]))
    return {"value": float(value), "t": [round(v, 10) for v in t.tolist()]}  # Python floats


def feldman_cousins_of_data(
    ref,
    parameter: str,
    levels: Sequence[float] = (0.68, 0.9),
    *,
    points: int = 25,
    toys: int | None = None,
    seed: int = 20151,
    max_factor: float = 2.5,
    engine=None,
) -> dict:
    """The FC intervals of ``parameter`` for the study's own data (Asimov, toy or real).

    Grid: ``points`` values from 0 to ``max_factor`` times the larger of the data's and the
    Asimov data's 90 % profile upper limits. At each grid point mu_k, toys are generated with
    the other free parameters and the nuisances at their conditional best fit to the data
    at mu_k (the "profile construction"; nuisance auxiliary measurements are drawn per toy);
    ``toys`` per point default to 10^4 when vectorised (:func:`linear_in_square`), else 1000.

    Returns
    -------
    dict
        ``{"interval_68": [lo, hi], "interval_90": ..., "open": {level: bool}, "grid": [...],
        "critical": {...}, "toys_per_point": N, "acceptance_stderr": {...}}``.
    """
    from ..parallel import Task, engine_or_local
    from ..stats.profile import ProfileFitter, delta_chi2_for

    study = ref.load()
    model = model_for_ref(ref)
    free = list(study.free_parameters)
    data_fit = ProfileFitter(model, free)
    upper = data_fit.crossing(parameter, delta_chi2_for(0.9), +1)
    asimov = np.asarray(
        model.expected(study.true_parameters(), model.nominal_nuisances()), dtype=float
    )
    upper_asimov = ProfileFitter(model, free, observed=asimov).crossing(
        parameter, delta_chi2_for(0.9), +1
    )
    grid = np.round(np.linspace(0.0, max_factor * max(upper, upper_asimov), points), 10)
    fast = linear_in_square(model, study, parameter) is not None
    n_toys = int(toys) if toys is not None else (10_000 if fast else 1000)
    tasks = []
    for k, v in enumerate(grid):
        conditional = None
        if not fast:
            res = data_fit.fit({parameter: float(v)})
            conditional = {
                "parameters": {p: float(x) for p, x in res.parameters.items() if p in free},
                "nuisances": res.nuisances,
            }
        tasks.append(
            Task((1, 0, k), fc_point_task, (ref, parameter, float(v), n_toys, conditional))
        )
    with engine_or_local(engine) as engine:
        rows = engine.run(tasks, seed=seed, description="Feldman-Cousins belt")
    samples = [np.asarray(r["t"]) for r in sorted(rows, key=lambda r: r["key"][2])]
    belt = NeymanBelt.from_samples(parameter, grid, samples, levels)
    t_grid = data_fit.profile(parameter, grid)

    def t_of(value: float) -> float:
        return float(data_fit.profile(parameter, np.array([value]))[0])

    out: dict = {"parameter": parameter, "open": {}}
    for lv in levels:
        lo, hi, is_open = belt.interval(t_grid, lv, t_of)
        out[f"interval_{round(100 * lv)}"] = [lo, hi]
        out["open"][f"{lv:g}"] = is_open
    out.update(belt.to_json())
    return out
