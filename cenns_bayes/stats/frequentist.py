"""Chi-squared and Poisson likelihoods over counting channels, with profiles and limits.

The statistic of the seed paper (Eqs. 10-12) is

    chi2 = sum_i (n_i - N_i(theta))^2 / n_i          ("chi2")

with n_i the observed (Asimov) counts. The Poisson alternative is the likelihood-ratio

    -2 ln lambda = 2 sum_i [N_i - n_i + n_i ln(n_i / N_i)]   ("poisson")

which is defined for non-integer (Asimov) n_i too. Normalisation nuisances (a shared flux
scale, per-detector scales) enter as multiplicative factors with Gaussian penalties
((a - 1)/sigma)^2 and are profiled.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import optimize  # scipy.stats (0.4 s to import) only where needed

from ..physics.constants import CHARGE_RADIUS_SHIFT
from ..rates.coefficients import RateModel

__all__ = [
    "DELTA_CHI2",
    "PARAMETER_BOUNDS",
    "ProfileLikelihood",
    "delta_chi2_for",
    "neg2_log_likelihood",
]

#: Delta chi^2 thresholds used by the paper: 1 sigma (1 dof), 90 % (1 dof), 90 % (2 dof).
DELTA_CHI2 = {"1sigma": 1.0, "90cl_1dof": 2.705543454095404, "90cl_2dof": 4.605170185988091}

#: Physical ranges of the parameters (mu >= 0; sin^2 in (0, 1)).
PARAMETER_BOUNDS: dict[str, tuple[float, float]] = {
    "sin2_theta_w": (1e-6, 1.0 - 1e-6),
    "mu_nu_mu": (0.0, 1e4),
    "mu_nu_e": (0.0, 1e4),
    "r2_nu_mu": (-1e3, 1e3),
    "r2_nu_e": (-1e3, 1e3),
    "signal_strength": (0.0, 1e3),
}

#: Typical scale of each parameter, used to start searches.
_SCALE = {"sin2_theta_w": 0.01, "mu_nu_mu": 1.0, "mu_nu_e": 1.0, "r2_nu_mu": 0.3, "r2_nu_e": 0.3,
          "signal_strength": 0.1}


def delta_chi2_for(level: float, dof: int = 1, one_sided: bool = False) -> float:
    """Delta chi^2 threshold for a confidence ``level`` (two-sided by Wilks' theorem).

    ``one_sided=True`` gives the threshold of a one-sided 1-dof limit at ``level``
    ((z_level)^2, e.g. 1.64 for 90 %), used where a boundary makes only one side count.
    """
    from scipy import stats

    if one_sided:
        return float(stats.norm.ppf(level) ** 2)
    return float(stats.chi2.ppf(level, dof))


def neg2_log_likelihood(expected: np.ndarray, observed: np.ndarray, statistic: str = "chi2",
                        sigma2: np.ndarray | None = None) -> np.ndarray:
    """Sum over the last axis of the chosen statistic.

    Parameters
    ----------
    expected : array (..., n)
        Model expectations N_i.
    observed : array (n,)
        Observed counts n_i (may be non-integer Asimov values).
    statistic : {"chi2", "poisson"}
    sigma2 : array (n,), optional
        Variances for "chi2"; default the observed counts (Eqs. 10-12).
    """
    n = np.asarray(observed, dtype=float)
    mu = np.asarray(expected, dtype=float)
    if statistic == "chi2":
        var = n if sigma2 is None else np.asarray(sigma2, dtype=float)
        return np.sum((n - mu) ** 2 / var, axis=-1)
    if statistic == "poisson":
        with np.errstate(divide="ignore", invalid="ignore"):
            log_term = np.where(n > 0, n * np.log(n / mu), 0.0)
        return 2.0 * np.sum(mu - n + log_term, axis=-1)
    raise ValueError(f"unknown statistic {statistic!r}: expected 'chi2' or 'poisson'")


@dataclass
class ProfileLikelihood:
    """-2 ln L of a counting experiment as a function of the free physics parameters.

    Parameters
    ----------
    model : RateModel
        Channels and their count coefficients.
    observed : array
        Observed counts per column of ``model``.
    free : sequence of str
        Free physics parameters (others fixed at ``fixed`` or their SM values).
    fixed : mapping
        Values of the parameters that are not free.
    statistic : {"chi2", "poisson"}
    flux_sigma : float
        Relative Gaussian uncertainty of a normalisation shared by all columns (0: none).
    detector_sigma : float
        Relative Gaussian uncertainty of each detector's normalisation (0: none).
    """

    model: RateModel
    observed: np.ndarray
    free: Sequence[str]
    fixed: Mapping[str, float] = field(default_factory=dict)
    statistic: str = "chi2"
    flux_sigma: float = 0.0
    detector_sigma: float = 0.0

    def __post_init__(self) -> None:
        self.observed = np.asarray(self.observed, dtype=float)
        self.free = list(self.free)
        detectors = [d for d, _, _ in self.model.labels]
        self._detector_names = list(dict.fromkeys(detectors))
        self._det_index = np.array([self._detector_names.index(d) for d in detectors])
        self._n_nuis = (1 if self.flux_sigma > 0 else 0) + (
            len(self._detector_names) if self.detector_sigma > 0 else 0
        )

    # -- evaluation -------------------------------------------------------------------
    def expected(self, values: Mapping[str, float | np.ndarray],
                 nuisances: np.ndarray | None = None) -> np.ndarray:
        """Expected counts for physics ``values`` (and nuisance scales, if any)."""
        params = {**self.fixed, **values}
        mu = self.model.counts(params)
        if nuisances is None or self._n_nuis == 0:
            return mu
        return mu * self._scale(nuisances)

    def _penalty(self, nuisances: np.ndarray) -> float:
        out, k = 0.0, 0
        if self.flux_sigma > 0:
            out += ((nuisances[0] - 1.0) / self.flux_sigma) ** 2
            k = 1
        if self.detector_sigma > 0:
            out += float(np.sum(((nuisances[k:] - 1.0) / self.detector_sigma) ** 2))
        return out

    def neg2ll(self, values: Mapping[str, float | np.ndarray]) -> np.ndarray:
        """-2 ln L (or chi^2) at ``values`` with nuisances profiled; vectorised when none."""
        if self._n_nuis == 0:
            return neg2_log_likelihood(self.expected(values), self.observed, self.statistic)
        arrays = {k: np.asarray(v, dtype=float) for k, v in values.items()}
        shape = np.broadcast_shapes(*(a.shape for a in arrays.values())) if arrays else ()
        out = np.empty(shape)
        for idx in np.ndindex(shape):
            point = {k: float(np.broadcast_to(a, shape)[idx]) for k, a in arrays.items()}
            out[idx] = self._profile_nuisances(point)[0]
        return out

    def _profile_nuisances(self, point: Mapping[str, float]) -> tuple[float, np.ndarray]:
        """Minimum over the nuisances at fixed physics ``point``: (value, nuisances)."""
        def f(nu):
            return self._value_and_gradient([], point, nu)

        res = optimize.minimize(f, np.ones(self._n_nuis), method="L-BFGS-B", jac=True,
                                bounds=[(1e-3, 10.0)] * self._n_nuis,
                                options={"ftol": 1e-15, "gtol": 1e-10, "maxiter": 5000})
        return float(res.fun), np.atleast_1d(res.x)

    def _scale(self, nu: np.ndarray) -> np.ndarray:
        scale = np.ones(self.observed.size)
        k = 0
        if self.flux_sigma > 0:
            scale = scale * nu[0]
            k = 1
        if self.detector_sigma > 0:
            scale = scale * nu[k:][self._det_index]
        return scale

    # -- fits and profiles ---------------------------------------------------------------
    def _value_and_gradient(self, names: list[str], fixed_free: Mapping[str, float],
                            y: np.ndarray) -> tuple[float, np.ndarray]:
        """-2 ln L (with penalties) and its exact gradient in (physics ``names``, nuisances).

        The expectation is N_j = A [S P_j(s_j) + c_mu,j m_j^2] with P_j quadratic, so the
        derivatives are closed-form; exact gradients let L-BFGS-B converge in few steps.
        """
        n_phys = len(names)
        params = {**_DEFAULTS, **self.fixed, **fixed_free, **dict(zip(names, y[:n_phys], strict=True))}
        nu = y[n_phys:]
        c0, c1, c2, cm = self.model.polynomial
        is_e = self.model.mu_index == 1
        mu = np.where(is_e, params["mu_nu_e"], params["mu_nu_mu"])
        r2 = np.where(is_e, params["r2_nu_e"], params["r2_nu_mu"])
        s2 = params["sin2_theta_w"] + CHARGE_RADIUS_SHIFT * r2
        strength = params["signal_strength"]
        poly = c0 + s2 * (c1 + s2 * c2)
        base = strength * poly + cm * mu**2
        scale = self._scale(nu) if self._n_nuis else np.ones_like(base)
        expected = base * scale
        n = self.observed
        if self.statistic == "chi2":
            value = float(np.sum((n - expected) ** 2 / n))
            d_expected = -2.0 * (n - expected) / n
        else:
            with np.errstate(divide="ignore", invalid="ignore"):
                log_term = np.where(n > 0, n * np.log(n / expected), 0.0)
            value = float(2.0 * np.sum(expected - n + log_term))
            d_expected = 2.0 * (1.0 - n / expected)
        grad = np.zeros(y.size)
        dslope = strength * (c1 + 2.0 * c2 * s2) * scale
        for i, name in enumerate(names):
            if name == "sin2_theta_w":
                grad[i] = np.sum(d_expected * dslope)
            elif name == "signal_strength":
                grad[i] = np.sum(d_expected * poly * scale)
            elif name.startswith("mu_nu"):
                cols = is_e if name == "mu_nu_e" else ~is_e
                grad[i] = np.sum((d_expected * cm * 2.0 * mu * scale)[cols])
            elif name.startswith("r2_nu"):
                cols = is_e if name == "r2_nu_e" else ~is_e
                grad[i] = np.sum((d_expected * dslope * CHARGE_RADIUS_SHIFT)[cols])
            else:
                raise KeyError(f"no gradient for parameter {name!r}")
        if self._n_nuis:
            weighted = d_expected * expected
            k = 0
            if self.flux_sigma > 0:
                grad[n_phys] = np.sum(weighted) / nu[0] + 2.0 * (nu[0] - 1.0) / self.flux_sigma**2
                k = 1
            if self.detector_sigma > 0:
                det = nu[k:]
                per_det = np.bincount(self._det_index, weights=weighted, minlength=det.size)
                grad[n_phys + k:] = per_det / det + 2.0 * (det - 1.0) / self.detector_sigma**2
            value += self._penalty(nu)
        return value, grad

    def best_fit(self, fixed_free: Mapping[str, float] | None = None,
                 start: Mapping[str, float] | None = None) -> tuple[float, dict[str, float]]:
        """Minimise over the free parameters not in ``fixed_free`` and the nuisances.

        Returns the minimum of -2 ln L (penalties included) and the physics values there.
        """
        fixed_free = dict(fixed_free or {})
        names = [p for p in self.free if p not in fixed_free]
        start = {**{p: self.fixed.get(p, _default(p)) for p in names}, **(start or {})}
        if not names and self._n_nuis == 0:
            return float(self.neg2ll(fixed_free)), dict(fixed_free)
        n_phys = len(names)
        scale = np.array([_SCALE[p] for p in names] + [0.1] * self._n_nuis)
        bounds = [PARAMETER_BOUNDS[p] for p in names] + [(1e-3, 10.0)] * self._n_nuis
        x0 = np.array([start[p] for p in names] + [1.0] * self._n_nuis, dtype=float)

        def f(x):
            value, grad = self._value_and_gradient(names, fixed_free, x * scale)
            return value, grad * scale

        best = None
        # mu_nu enters as mu^2: also start away from the flat point at mu = 0.
        starts = [x0 / scale]
        if any(p.startswith("mu_nu") for p in names):
            starts.append(x0 / scale + np.array(
                [1.0 if p.startswith("mu_nu") else 0.0 for p in names] + [0.0] * self._n_nuis))
        for s0 in starts:
            res = optimize.minimize(
                f, s0, method="L-BFGS-B", jac=True,
                bounds=[(lo / sc, hi / sc) for (lo, hi), sc in zip(bounds, scale, strict=True)],
                options={"ftol": 1e-15, "gtol": 1e-10, "maxiter": 5000},
            )
            if best is None or res.fun < best.fun:
                best = res
        vals = dict(zip(names, best.x[:n_phys] * scale[:n_phys], strict=True))
        return float(best.fun), {**fixed_free, **{k: float(v) for k, v in vals.items()}}

    def profile(self, parameter: str, values: np.ndarray) -> np.ndarray:
        """Delta(-2 ln L) along ``parameter``, the other free parameters profiled."""
        values = np.asarray(values, dtype=float)
        minimum, best = self.global_fit()
        others = [p for p in self.free if p != parameter]
        if not others and self._n_nuis == 0:
            return self.neg2ll({parameter: values}) - minimum
        out = np.empty(values.shape)
        start = {k: v for k, v in best.items() if k != parameter}
        for i, v in np.ndenumerate(values):
            m, fit = self.best_fit({parameter: float(v)}, start)
            start = {k: fit[k] for k in others}
            out[i] = m - minimum
        return out

    def _delta_at(self, parameter: str, value: float, minimum: float) -> float:
        others = [p for p in self.free if p != parameter]
        if not others and self._n_nuis == 0:
            return float(self.neg2ll({parameter: value})) - minimum
        return self.best_fit({parameter: value})[0] - minimum

    def global_fit(self) -> tuple[float, dict[str, float]]:
        """The unconstrained best fit (cached)."""
        if getattr(self, "_global", None) is None:
            self._global = self.best_fit()
        return self._global

    def crossing(self, parameter: str, delta: float, direction: int) -> float:
        """Where Delta(-2 ln L) first reaches ``delta`` moving from the best fit in ``direction``.

        Returns the physical boundary when it is reached first (e.g. mu = 0).
        """
        minimum, best = self.global_fit()
        x_best = best[parameter]
        lo_b, hi_b = PARAMETER_BOUNDS[parameter]
        step = _SCALE[parameter] * 0.1
        x_prev = x_best
        for _ in range(200):
            x = x_best + direction * step
            if x <= lo_b or x >= hi_b:
                x = lo_b if direction < 0 else hi_b
                if self._delta_at(parameter, x, minimum) < delta:
                    return x
            if self._delta_at(parameter, x, minimum) >= delta:
                return float(optimize.brentq(
                    lambda v: self._delta_at(parameter, v, minimum) - delta,
                    min(x_prev, x), max(x_prev, x), xtol=1e-12 * max(1.0, abs(x)), rtol=1e-12,
                ))
            x_prev = x
            step *= 1.6
        raise RuntimeError(f"no crossing of delta = {delta} for {parameter}")

    def interval(self, parameter: str, delta: float) -> tuple[float, float]:
        """Two-sided interval {Delta(-2 ln L) <= delta} (clipped at physical boundaries)."""
        return self.crossing(parameter, delta, -1), self.crossing(parameter, delta, +1)

    def upper_limit(self, parameter: str, delta: float = DELTA_CHI2["90cl_1dof"]) -> float:
        """Upper end of {Delta(-2 ln L) <= delta}, e.g. the paper's mu_nu limits at 2.71."""
        return self.crossing(parameter, delta, +1)

    def scan_2d(self, px: str, x: np.ndarray, py: str, y: np.ndarray) -> np.ndarray:
        """Delta(-2 ln L) on the grid (len(y), len(x)), other free parameters profiled."""
        minimum, _ = self.global_fit()
        xx, yy = np.meshgrid(np.asarray(x, float), np.asarray(y, float))
        others = [p for p in self.free if p not in (px, py)]
        if not others and self._n_nuis == 0:
            return self.neg2ll({px: xx, py: yy}) - minimum
        out = np.empty(xx.shape)
        for idx in np.ndindex(xx.shape):
            out[idx] = self.best_fit({px: float(xx[idx]), py: float(yy[idx])})[0] - minimum
        return out


_DEFAULTS = {"sin2_theta_w": 0.23120, "mu_nu_mu": 0.0, "mu_nu_e": 0.0, "r2_nu_mu": 0.0,
             "r2_nu_e": 0.0, "signal_strength": 1.0}


def _default(name: str) -> float:
    return _DEFAULTS[name]
