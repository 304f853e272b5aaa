"""-2 ln L of a counting study and its gradient in one pass, for the profile engine's fits.

:meth:`ProfileFitter._value_and_gradient <cenns_bayes.stats.profile.ProfileFitter>` is
generic: it asks the model for its expectation and Jacobian as dictionaries and adds each
nuisance's constraint through :func:`~.model.constraint_neg2logpdf`. For a counting study
with log-normal flux and detector normalisations that costs ~20 small NumPy calls per
evaluation, and a fit makes hundreds of evaluations. This module evaluates the same
formulas -- the counts of :func:`~.counting.evaluate_polynomial` times the normalisations,
the cost of :mod:`.cost`, z^2 constraints -- on arrays prepared once per fit, with the
same operations in the same order, so the values equal the generic path's to rounding
(tested) and the fits land on the same minima.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from ..physics.constants import CHARGE_RADIUS_SHIFT
from .counting import CountingModel
from .parameters import defaults

__all__ = ["counting_objective"]

_MU_FLOOR = 1e-9  # as in profile.py: an empty expectation under observed counts
_PHYSICS = ("sin2_theta_w", "signal_strength", "mu_nu_mu", "mu_nu_e", "r2_nu_mu", "r2_nu_e")


def counting_objective(
    model: Any,
    cost: str,
    observed: Any,
    numeric: Sequence[Any],
    names: Sequence[str],
    squared: Sequence[bool],
    scale: np.ndarray,
    fixed: Mapping[str, float],
    compiled: bool | None = None,
) -> Callable[[np.ndarray], tuple[float, np.ndarray]] | None:
    """The fit objective x -> (-2 ln L, gradient) of a counting study, or None if not one.

    Parameters mirror :meth:`ProfileFitter.fit`: ``names`` the minimised physics
    parameters, ``squared`` which are minimised in mu^2, ``scale`` their coordinate scales,
    ``fixed`` every other parameter value, ``numeric`` the nuisances minimised numerically
    (in z); x = (physics coordinates, z of each nuisance).

    ``compiled`` selects the Numba kernel of :mod:`._fused_kernel` (True) or the NumPy
    objective below (False). By default fits with nuisances use the kernel (each
    evaluation ~2 us instead of ~70 us; such fits make hundreds) and fits without keep
    NumPy, whose few evaluations do not pay for importing Numba (~0.5 s, e.g. in
    ``reproduce``).
    """
    if not isinstance(model, CountingModel) or model.radius_slopes is not None:
        return None
    if cost not in ("poisson", "chi2") or any(p not in _PHYSICS for p in names):
        return None
    sizes = {"flux_norm": 1, "detector_norm": len(model.detector_names)}
    if any(s.kind != "lognormal" or sizes.get(s.name) != s.size for s in numeric):
        return None
    rm = model.rate_model
    c0, c1, c2, cm = (np.asarray(row, dtype=float) for row in rm.polynomial)
    is_e = rm.mu_index == 1
    n = np.asarray(observed, dtype=float)
    positive = n > 0
    safe_n = np.where(positive, n, 1.0)
    det_index = model.detector_index
    n_det = len(model.detector_names)
    n_names = len(names)
    base_params = {**defaults(), **model.fixed, **fixed}
    flux_spec = next((s for s in numeric if s.name == "flux_norm"), None)
    det_spec = next((s for s in numeric if s.name == "detector_norm"), None)
    order = [s.name for s in numeric]
    if compiled is None:
        compiled = bool(numeric)
    if compiled:
        from . import _fused_kernel

        bins = np.stack([c0, c1, c2, cm, n, is_e.astype(float), np.asarray(det_index, dtype=float)])
        codes = np.array(
            [[_fused_kernel.PHYSICS_ORDER.index(p) for p in names], [int(q) for q in squared]],
            dtype=np.int64,
        ).reshape(2, n_names)
        p0 = np.array([float(base_params[p]) for p in _fused_kernel.PHYSICS_ORDER])
        header = [
            float(bool(order) and order[0] == "flux_norm"),
            float(flux_spec is not None),
            float(flux_spec.centre) if flux_spec is not None else 0.0,
            float(flux_spec.sigma) if flux_spec is not None else 1.0,
            float(det_spec is not None),
            float(n_det),
            float(cost == "chi2"),
            CHARGE_RADIUS_SHIFT,
        ]
        det_centre = np.broadcast_to(det_spec.centre if det_spec else 0.0, (n_det,))
        det_sigma = np.broadcast_to(det_spec.sigma if det_spec else 1.0, (n_det,))
        nuis = np.concatenate([header, det_centre, det_sigma]).astype(float)
        scale_arr = np.ascontiguousarray(scale, dtype=float)
        kernel = _fused_kernel.objective_kernel

        def compiled_objective(x: np.ndarray) -> tuple[float, np.ndarray]:
            return kernel(np.asarray(x, dtype=float), bins, codes, scale_arr, p0, nuis)

        return compiled_objective

    def objective(x: np.ndarray) -> tuple[float, np.ndarray]:
        t = x[:n_names] * scale
        p = dict(base_params)
        for name, value, sq in zip(names, t, squared, strict=True):
            p[name] = float(np.sqrt(max(value, 0.0))) if sq else float(value)
        mu2 = np.where(is_e, p["mu_nu_e"] ** 2, p["mu_nu_mu"] ** 2)
        r2 = np.where(is_e, p["r2_nu_e"], p["r2_nu_mu"])
        s = p["sin2_theta_w"] + CHARGE_RADIUS_SHIFT * r2
        strength = p["signal_strength"]
        weak = c0 + s * (c1 + s * c2)
        base = strength * weak + cm * mu2
        k = n_names
        z_flux = z_det = None
        flux, det, penalty = 1.0, np.ones(n_det), 0.0
        for name in order:
            if name == "flux_norm" and flux_spec is not None:
                z_flux = x[k : k + 1]
                flux_arr = np.exp(flux_spec.centre + flux_spec.sigma * z_flux)
                flux = float(flux_arr[0])
                penalty += float(
                    np.sum(((np.log(flux_arr) - flux_spec.centre) / flux_spec.sigma) ** 2)
                )
                k += 1
            elif det_spec is not None:
                z_det = x[k : k + n_det]
                det = np.exp(det_spec.centre + det_spec.sigma * z_det)
                penalty += float(np.sum(((np.log(det) - det_spec.centre) / det_spec.sigma) ** 2))
                k += n_det
        counts = base * flux
        mu = counts * det[det_index] if det_spec is not None else counts
        mu = np.where((mu <= _MU_FLOOR) & positive, _MU_FLOOR, mu)
        if cost == "poisson":
            safe_mu = np.where(mu > 0, mu, 1.0)
            log_term = np.where(positive, n * np.log(safe_n / safe_mu), 0.0)
            value = 2.0 * float(np.sum(mu - n + log_term))
            if np.any((mu < 0) | ((mu == 0) & positive)):
                value = np.inf
            d_mu = 2.0 * (1.0 - np.where(positive, n / mu, 0.0))
        else:
            value = float(np.sum(np.where(positive, (n - mu) ** 2 / safe_n, 0.0)))
            d_mu = np.where(positive, -2.0 * (n - mu) / safe_n, 0.0)
        if not np.isfinite(value):
            return 1e30, np.zeros(x.size)
        value += penalty
        scale_col = flux * det[det_index]
        grad = np.empty(x.size)
        for i, name in enumerate(names):
            if name == "sin2_theta_w":
                jac = strength * (c1 + 2.0 * c2 * s) * scale_col
            elif name == "signal_strength":
                jac = (c0 + s * (c1 + s * c2)) * scale_col
            elif name in ("mu_nu_mu", "mu_nu_e"):
                mine = is_e == (name == "mu_nu_e")
                if squared[i]:
                    jac = np.where(mine, cm * scale_col, 0.0)
                else:
                    jac = np.where(mine, 2.0 * cm * p[name] * scale_col, 0.0)
            else:  # r2_nu_mu, r2_nu_e
                slope = strength * (c1 + 2.0 * c2 * s) * scale_col
                jac = np.where(is_e == (name == "r2_nu_e"), CHARGE_RADIUS_SHIFT * slope, 0.0)
            grad[i] = float(np.sum(d_mu * jac)) * scale[i]
        k = n_names
        for name in order:
            if name == "flux_norm" and flux_spec is not None and z_flux is not None:
                d_value = float(np.sum(d_mu * (base * det[det_index])))
                grad[k] = d_value * flux_spec.sigma * flux + 2.0 * z_flux[0]
                k += 1
            elif det_spec is not None and z_det is not None:
                d_det = np.bincount(det_index, weights=d_mu * (base * flux), minlength=n_det)
                grad[k : k + n_det] = d_det * det_spec.sigma * det + 2.0 * z_det
                k += n_det
        return value, grad

    return objective
