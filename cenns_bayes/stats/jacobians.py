"""Exact derivatives of the binned COHERENT expectations (NumPy).

The expectations of :class:`~cenns_bayes.stats.binned.ResponseModel` (CsI 2017),
:class:`~cenns_bayes.stats.lar.LArModel` (LAr 2020) and
:class:`~cenns_bayes.stats.csi2021.CsI2021Model` (CsI 2021) are

    mu = max(S A_flux A_det N(rows + sum_k Delta_k(z_k); theta) + sum_b n_b (B_b + sum Delta),
             floor) + b_ss(theta_ss)

with N linear in the rows and a polynomial in the physics parameters theta
(:func:`~cenns_bayes.rates.coefficients.flavour_summed_counts`), each template difference
Delta_k a polynomial in its nuisance continued linearly beyond the outermost nodes, and the
steady state b_ss that of :class:`~cenns_bayes.detector.background.SmoothSteadyState`. So
every derivative has a closed form; this module evaluates them for the profile fits, which
otherwise take ~70 numerical derivatives per gradient in a joint fit.

Each ``*_jacobian`` function returns d mu / d x for the physics parameters in ``names``
(``"mu_nu_mu_squared"`` etc. for the derivative in mu^2) and for every nuisance the
expectation depends on: arrays of shape (n_bins,), or (size, n_bins) for vector nuisances.
Bins held at the floor have zero derivative, as the expectation there is constant.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..physics.constants import CHARGE_RADIUS_SHIFT
from ..rates.coefficients import (
    parameter_for_flavor,
    polynomial_coefficients,
)

__all__ = [
    "PHYSICS_PARAMETERS",
    "lar_jacobian",
    "response_jacobian",
    "template_value_and_derivative",
]


#: Parameters entering the flavour-summed polynomial (and the mu^2 coordinates of the fits).
PHYSICS_PARAMETERS = frozenset(
    {
        "sin2_theta_w",
        "r2_nu_mu",
        "r2_nu_e",
        "mu_nu_mu",
        "mu_nu_e",
        "mu_nu_mu_squared",
        "mu_nu_e_squared",
    }
)


def template_value_and_derivative(
    coeffs: np.ndarray, slopes: np.ndarray, lower: float, upper: float, z: float
) -> tuple[np.ndarray, np.ndarray]:
    """Delta(z) and dDelta/dz of a template difference in one Horner pass (NumPy scalar z).

    The same function as ``ShapeTerm.evaluate`` / ``TemplateShift.evaluate``: the polynomial
    sum_{k>=1} coeffs[k] z^k inside [lower, upper], its value at the end plus the end slope
    times the distance beyond.
    """
    z = float(z)
    end = lower if z < lower else upper if z > upper else None
    at = z if end is None else end
    value: Any = 0.0
    slope: Any = 0.0
    for k in range(coeffs.shape[0] - 1, 0, -1):
        inner = value + coeffs[k]
        slope = slope * at + inner
        value = inner * at
    if end is None:
        return np.asarray(value, dtype=float), np.asarray(slope, dtype=float)
    edge = slopes[0] if z < lower else slopes[1]
    return np.asarray(value + edge * (z - end), dtype=float), np.asarray(edge, dtype=float)


def _row_weights(flavors: Sequence[str], value) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-flavour weights of the four coupling rows: N = sum_fr W_fr rows_fr.

    Returns W, dW/ds (s the flavour's effective sin^2) and dW/d(mu^2), each (n_flavours, 4),
    from the polynomial coefficients of unit rows (N is linear in the rows).
    """
    unit = [polynomial_coefficients(*np.eye(4)[r]) for r in range(4)]  # (c0, c1, c2, c_mu)
    s2 = float(value("sin2_theta_w"))
    w, dw_ds, dw_dmu2 = (np.empty((len(flavors), 4)) for _ in range(3))
    for i, flavor in enumerate(flavors):
        mu_name, r2_name = parameter_for_flavor(flavor)
        s = s2 + CHARGE_RADIUS_SHIFT * float(value(r2_name))
        mu2 = float(value(mu_name)) ** 2
        for r, (c0, c1, c2, cm) in enumerate(unit):
            w[i, r] = c0 + s * (c1 + s * c2) + cm * mu2
            dw_ds[i, r] = c1 + 2.0 * c2 * s
            dw_dmu2[i, r] = cm
    return w, dw_ds, dw_dmu2


def _add(out: dict[str, Any], name: str, value: Any) -> None:
    out[name] = out[name] + value if name in out else value


def _cevns_part(
    model,
    rows: np.ndarray,
    d_rows: Mapping[str, np.ndarray],
    params: Mapping[str, Any],
    nuisances: Mapping[str, Any],
    names: Sequence[str],
) -> tuple[np.ndarray, dict[str, Any]]:
    """The CEvNS counts and their derivatives (physics, template drivers, normalisations).

    N and every derivative are contractions of rows (or row derivatives) with the rows'
    weights (:func:`_row_weights`).
    """
    value = lambda name: model._value(params, name)  # noqa: E731
    w, dw_ds, dw_dmu2 = _row_weights(model.flavors, value)
    unit = np.einsum("fr,frb->b", w, rows)
    strength = float(value("signal_strength"))
    norms = {
        name: float(nuisances[name])
        for name in ("flux_norm", "detector_norm")
        if name in model._nuisance_names
    }
    scale = strength * _prod_norms(norms)
    out: dict[str, Any] = {}
    wanted = [n for n in names if n in PHYSICS_PARAMETERS]
    if wanted:
        per_flavour_s = np.einsum("fr,frb->fb", dw_ds, rows)
        per_flavour_mu2 = np.einsum("fr,frb->fb", dw_dmu2, rows)
        for name in wanted:
            d = np.zeros(rows.shape[-1])
            for i, flavor in enumerate(model.flavors):
                mu_name, r2_name = parameter_for_flavor(flavor)
                if name == "sin2_theta_w":
                    d += per_flavour_s[i]
                elif name == r2_name:
                    d += CHARGE_RADIUS_SHIFT * per_flavour_s[i]
                elif name == mu_name:
                    d += 2.0 * float(value(mu_name)) * per_flavour_mu2[i]
                elif name == f"{mu_name}_squared":
                    d += per_flavour_mu2[i]
            out[name] = scale * d
    if "signal_strength" in names:
        out["signal_strength"] = unit * _prod_norms(norms)
    for name in norms:
        others = _prod_norms({k: v for k, v in norms.items() if k != name})
        out[name] = strength * others * unit
    if d_rows:
        stacked = np.einsum("fr,kfrb->kb", w, np.stack(list(d_rows.values())))
        for name, d in zip(d_rows, stacked, strict=True):
            _add(out, name, scale * d)
    return scale * unit, out


def _prod_norms(norms: Mapping[str, float]) -> float:
    return float(np.prod(list(norms.values()))) if norms else 1.0


def _hold_floor(total: np.ndarray, floor: float, out: dict[str, Any]) -> None:
    """Zero the derivatives of bins where the expectation is held at ``floor``."""
    held = ~(total > floor)
    if np.any(held):
        for name, d in out.items():
            out[name] = np.where(held, 0.0, d)


def response_jacobian(
    model, params: Mapping[str, Any], nuisances: Mapping[str, Any], names: Sequence[str]
) -> dict[str, Any]:
    """D expected / d x of a :class:`~cenns_bayes.stats.binned.ResponseModel` (NumPy).

    Supports the steady-state treatments ``"smooth"`` and ``"exact"`` (and none).
    """
    from .binned import _FLOOR

    treatment = model.steady_state_treatment if model.steady_state is not None else None
    if treatment not in (None, "smooth", "exact"):
        raise NotImplementedError(f"no exact derivatives for steady state {treatment!r}")
    rows: Any = model.rows
    d_rows: dict[str, Any] = {}
    for term in model.shape_terms:
        if term.source == "nuisance":
            v = float(nuisances[term.name]) if term.name in nuisances else 0.0
        elif term.name in params:
            v = float(params[term.name])
        else:
            v = float(model.fixed.get(term.name, term.origin))
        delta, d = template_value_and_derivative(
            term.coeffs_rows, term.slopes_rows, term.lower, term.upper, v - term.origin
        )
        rows = rows + delta
        _add(d_rows, term.name, d)
    total, out = _cevns_part(model, rows, d_rows, params, nuisances, names)
    if model.neutrons is not None:
        template: Any = model.neutrons
        d_template: dict[str, Any] = {}
        for term in model.shape_terms:
            if term.coeffs_neutrons is not None and term.slopes_neutrons is not None:
                v = float(nuisances[term.name]) if term.name in nuisances else 0.0
                delta, d = template_value_and_derivative(
                    term.coeffs_neutrons,
                    term.slopes_neutrons,
                    term.lower,
                    term.upper,
                    v - term.origin,
                )
                template = template + delta
                _add(d_template, term.name, d)
        norm = 1.0
        if "neutron_norm" in model._nuisance_names:
            norm = float(nuisances["neutron_norm"])
            out["neutron_norm"] = np.asarray(template, dtype=float)
        for name, d in d_template.items():
            _add(out, name, norm * d)
        total = total + norm * template
    _hold_floor(np.asarray(total, dtype=float), _FLOOR, out)
    if treatment == "smooth":
        theta = np.asarray(nuisances["steady_state_smooth"], dtype=float)
        out["steady_state_smooth"] = model.steady_state_smooth.counts_jacobian(theta)
    return out


def lar_jacobian(
    model, params: Mapping[str, Any], nuisances: Mapping[str, Any], names: Sequence[str]
) -> dict[str, Any]:
    """D expected / d x of a :class:`~cenns_bayes.stats.lar.LArModel` or ``CsI2021Model``.

    Template drivers absent from ``nuisances`` sit at 0, as in ``expected``; a driver that
    is present gets its derivative even if it is not one of the model's nuisances (the
    joint model drives neutron-radius templates that way).
    """
    from .binned import _FLOOR

    rows: Any = model.rows
    d_rows: dict[str, Any] = {}
    for term in model.cevns_terms:
        z = float(model._z(nuisances, term.name))
        delta, d = template_value_and_derivative(
            term.coeffs, term.slopes, term.lower, term.upper, z
        )
        rows = rows + delta
        _add(d_rows, term.name, d)
    total, out = _cevns_part(model, rows, d_rows, params, nuisances, names)
    for name in model.backgrounds:
        template: Any = model.backgrounds[name]
        d_template: dict[str, Any] = {}
        for term in model.background_terms.get(name, []):
            z = float(model._z(nuisances, term.name))
            delta, d = template_value_and_derivative(
                term.coeffs, term.slopes, term.lower, term.upper, z
            )
            template = template + delta
            _add(d_template, term.name, d)
        norm_name = model._background_norm(name)
        norm = 1.0
        if norm_name in model._nuisance_names:
            norm = float(nuisances[norm_name])
            _add(out, norm_name, np.asarray(template, dtype=float))
        for term_name, d in d_template.items():
            _add(out, term_name, norm * d)
        total = total + norm * template
    _hold_floor(np.asarray(total, dtype=float), _FLOOR, out)
    smooth = getattr(model, "steady_state_smooth", None)
    if smooth is not None:
        theta = np.asarray(nuisances["steady_state_smooth"], dtype=float)
        out["steady_state_smooth"] = smooth.counts_jacobian(theta)
    return out
