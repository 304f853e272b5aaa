"""Numba kernel of :mod:`.fused`: -2 ln L of a counting study and its gradient, compiled.

The formulas and their order are those of :func:`.fused.counting_objective`'s NumPy
objective (which documents them); only the sums run in a plain loop instead of NumPy's
pairwise summation, so values agree to rounding (tested). The kernel closes over no
Python object and Numba caches it on disk (``cache=True``): a warm process loads it.

Arguments (float64 unless said):

* ``x`` -- the fit coordinates (physics coordinates, then the nuisances' z);
* ``bins`` -- shape (7, n_bins): c0, c1, c2, c_mu (the count polynomial), observed counts,
  1.0 where the bin's magnetic moment is mu_nu_e, the bin's detector index;
* ``codes`` -- int64, shape (2, n_names): each minimised parameter's index in
  :data:`PHYSICS_ORDER`, and 1 where it is minimised in mu^2;
* ``scale`` -- the coordinates' scales; ``p0`` -- every physics value (PHYSICS_ORDER);
* ``nuis`` -- [flux first (0/1), has flux, flux centre, flux sigma, has detector
  normalisations, n_det, cost (0 Poisson, 1 chi^2), charge-radius shift], then the
  detector normalisations' centres (n_det) and sigmas (n_det).
"""

from __future__ import annotations

import math

import numba
import numpy as np

#: Physics parameters by kernel index.
PHYSICS_ORDER = (
    "sin2_theta_w",
    "signal_strength",
    "mu_nu_mu",
    "mu_nu_e",
    "r2_nu_mu",
    "r2_nu_e",
)

_MU_FLOOR = 1e-9


@numba.njit(cache=True)
def objective_kernel(x, bins, codes, scale, p0, nuis):  # pragma: no cover - compiled
    """(-2 ln L, gradient in x) of a counting study; see the module docstring."""
    n_names = codes.shape[1]
    n_bins = bins.shape[1]
    p = p0.copy()
    for i in range(n_names):
        t = x[i] * scale[i]
        if codes[1, i] == 1:
            p[codes[0, i]] = math.sqrt(max(t, 0.0))
        else:
            p[codes[0, i]] = t
    flux_first = nuis[0] > 0.5
    has_flux = nuis[1] > 0.5
    has_det = nuis[4] > 0.5
    n_det = int(nuis[5])
    chi2 = nuis[6] > 0.5
    shift = nuis[7]
    det_centre = nuis[8 : 8 + n_det]
    det_sigma = nuis[8 + n_det : 8 + 2 * n_det]

    k = n_names
    flux = 1.0
    z_flux = 0.0
    det = np.ones(max(n_det, 1))
    penalty = 0.0
    k_flux = -1
    k_det = -1
    for step in range(2):
        if (step == 0) == flux_first:
            if has_flux:
                z_flux = x[k]
                flux = math.exp(nuis[2] + nuis[3] * z_flux)
                penalty += ((math.log(flux) - nuis[2]) / nuis[3]) ** 2
                k_flux = k
                k += 1
        elif has_det:
            k_det = k
            pen = 0.0
            for j in range(n_det):
                det[j] = math.exp(det_centre[j] + det_sigma[j] * x[k + j])
                pen += ((math.log(det[j]) - det_centre[j]) / det_sigma[j]) ** 2
            penalty += pen
            k += n_det

    strength = p[1]
    value = 0.0
    grad = np.zeros(x.size)
    d_flux = 0.0
    d_det = np.zeros(max(n_det, 1))
    for b in range(n_bins):
        c0 = bins[0, b]
        c1 = bins[1, b]
        c2 = bins[2, b]
        cm = bins[3, b]
        n = bins[4, b]
        is_e = bins[5, b] > 0.5
        d = int(bins[6, b])
        mu2 = p[3] ** 2 if is_e else p[2] ** 2
        r2 = p[5] if is_e else p[4]
        s = p[0] + shift * r2
        weak = c0 + s * (c1 + s * c2)
        base = strength * weak + cm * mu2
        det_b = det[d] if has_det else 1.0
        mu = base * flux * det_b if has_det else base * flux
        if mu <= _MU_FLOOR and n > 0:
            mu = _MU_FLOOR
        if chi2:
            if n > 0:
                value += (n - mu) ** 2 / n
                d_mu = -2.0 * (n - mu) / n
            else:
                d_mu = 0.0
        else:
            if mu < 0 or (mu == 0 and n > 0):
                return 1e30, np.zeros(x.size)
            if n > 0:
                value += mu - n + n * math.log(n / mu)
                d_mu = 2.0 * (1.0 - n / mu)
            else:
                value += mu - n
                d_mu = 2.0
        scale_col = flux * det_b
        slope = strength * (c1 + 2.0 * c2 * s) * scale_col
        for i in range(n_names):
            code = codes[0, i]
            if code == 0:
                jac = slope
            elif code == 1:
                jac = weak * scale_col
            elif code == 2 or code == 3:
                if is_e == (code == 3):
                    jac = cm * scale_col if codes[1, i] == 1 else 2.0 * cm * p[code] * scale_col
                else:
                    jac = 0.0
            else:
                jac = shift * slope if is_e == (code == 5) else 0.0
            grad[i] += d_mu * jac
        d_flux += d_mu * (base * det_b)
        if has_det:
            d_det[d] += d_mu * (base * flux)
    if not chi2:
        value *= 2.0
    if not math.isfinite(value):
        return 1e30, np.zeros(x.size)
    value += penalty
    for i in range(n_names):
        grad[i] *= scale[i]
    if k_flux >= 0:
        grad[k_flux] = d_flux * nuis[3] * flux + 2.0 * z_flux
    if k_det >= 0:
        for j in range(n_det):
            grad[k_det + j] = d_det[j] * det_sigma[j] * det[j] + 2.0 * x[k_det + j]
    return value, grad
