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

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

__all__ = [
    "NeymanBelt",
    "critical_value",
    "fc_point_task",
    "fc_poisson_interval",
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
    """t = -2 ln[P(n | s + b) / P(n | s_hat + b)], s_hat = max(0, n - b), for counts ``n``."""
    from ..stats.cost import poisson_deviance

    n = np.asarray(n, dtype=float)[..., None]  # one experiment per entry: deviance per entry
    lam_hat = np.maximum(0.0, n - background) + background
    return poisson_deviance(n, np.broadcast_to(signal + background, n.shape)) - poisson_deviance(n, lam_hat)


def fc_poisson_interval(n_obs: int, background: float, level: float = 0.9,
                        grid: np.ndarray | None = None) -> tuple[float, float]:
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
    accepted = []
    for s in grid:
        lam = s + background
        n = np.arange(int(lam + 12.0 * np.sqrt(lam) + 30.0))  # beyond: < 1e-12 of the probability
        t = poisson_lr_statistic(n, s, background)
        c = critical_value(t, level, stats.poisson.pmf(n, lam))
        accepted.append(poisson_lr_statistic(np.array([n_obs]), s, background)[0] <= c + _TIE)
    accepted = np.asarray(accepted)
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
    def from_samples(cls, parameter: str, grid: Sequence[float], samples: Sequence[np.ndarray],
                     levels: Sequence[float]) -> NeymanBelt:
        """Build from toy values of t at each grid point."""
        crit = {f"{lv:g}": np.array([critical_value(t, lv) for t in samples]) for lv in levels}
        return cls(parameter, np.asarray(grid, dtype=float), crit,
                   min(len(t) for t in samples), [np.asarray(t) for t in samples])

    def interval(self, t_grid: np.ndarray, level: float) -> tuple[float, float, bool]:
        """(lower, upper, open) of the accepted region for a data set's t on the grid.

        ``open`` is True when the largest grid point is accepted (the upper end lies
        beyond the grid and is reported as the grid's end).
        """
        ok = np.asarray(t_grid) <= self.critical[f"{level:g}"] + _TIE
        if not ok.any():
            return float("nan"), float("nan"), False
        return float(self.grid[ok].min()), float(self.grid[ok].max()), bool(ok[-1])

    def to_json(self) -> dict:
        """JSON-serialisable form (grid, critical values, toys per point)."""
        return {"parameter": self.parameter, "grid": self.grid.tolist(),
                "critical": {k: v.tolist() for k, v in self.critical.items()},
                "toys_per_point": self.toys_per_point}

    @classmethod
    def from_json(cls, doc: dict) -> NeymanBelt:
        """Inverse of :meth:`to_json`."""
        return cls(doc["parameter"], np.asarray(doc["grid"], dtype=float),
                   {k: np.asarray(v, dtype=float) for k, v in doc["critical"].items()},
                   int(doc["toys_per_point"]))


def profile_likelihood(counting, study, counts: np.ndarray, statistic: str):
    """The study's :class:`~cenns_bayes.stats.profile.ProfileFitter` on ``counts``.

    ``counting`` carries the study's constrained nuisances; ``statistic`` is the cost.
    """
    from ..stats.profile import ProfileFitter

    return ProfileFitter(counting, study.free_parameters, observed=np.asarray(counts, dtype=float),
                         cost=statistic)


def fc_point_task(ref, parameter: str, value: float, n_toys: int, *, seed) -> dict:
    """Toys at ``parameter = value`` (others at their true values); t(value) of each.

    A :class:`~cenns_bayes.parallel.Task` function: returns ``{"value", "t"}``.
    """
    from .common import counting_for

    rng = np.random.default_rng(seed)
    study = ref.load()
    counting = counting_for(ref)
    truth = {**study.true_parameters(), parameter: float(value)}
    t = np.empty(n_toys)
    for i in range(n_toys):
        counts, auxiliary = counting.sample(truth, rng)  # main and auxiliary pseudo-data
        like = profile_likelihood(counting.with_data(counts, auxiliary), study, counts, "poisson")
        t[i] = max(0.0, float(like.profile(parameter, np.array([float(value)]))[0]))
    return {"value": float(value), "t": [round(float(v), 10) for v in t]}
