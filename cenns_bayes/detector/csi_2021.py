"""Response of the COHERENT CsI[Na] 2021 analysis.

Scintillation, Gamma PE smearing, efficiency and timing.

What differs from the 2017 chain of :mod:`cenns_bayes.detector.response` (Poisson PE, constant
QF, release time PDFs), with the conventions of the release's files (REFERENCE.md §2-3):

* visible energy E_ee(T) = a T + b T^2 + c T^3 + d T^4 (T in MeVnr, E_ee in MeVee);
* reconstructed PE x ~ Gamma with mean LY E_ee: a = 0.0749 / E_ee, b = 9.56 E_ee (E_ee in
  keVee), shape 1 + b, scale 1 / (a (1 + b)), so the mean is E_ee / 0.0749 = 13.35 E_ee PE;
* efficiency eps(x) = a / (1 + exp(-b (x - c))) + d at the reconstructed PE, clipped to [0, 1];
* timing acceptance 1 up to t_knee, exp(-k (t - t_knee)) beyond;
* arrival times: the proton pulse (a Gaussian of centre t0 and width sigma) convolved with
  the pion lifetime (prompt nu_mu) or with the pion and muon lifetimes (delayed nu_e,
  anti-nu_mu), then the acceptance. Without the flux file the pulse is measured from the
  release's neutrino-induced-neutron time shape (NIN come from delayed nu_e):
  :func:`fit_pulse_to_delayed_shape`.

Units: recoil energies in keVnr (as the rates layer), PE dimensionless, times in µs.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import optimize, special

__all__ = [
    "MUON_LIFETIME_US",
    "PION_LIFETIME_US",
    "arrival_time_density",
    "electron_equivalent_kevee",
    "fit_pulse_to_delayed_shape",
    "gamma_pe_bin_probabilities",
    "logistic_efficiency",
    "time_bin_fractions",
    "timing_acceptance",
]

#: Charged-pion and muon lifetimes at rest (PDG), µs.
PION_LIFETIME_US = 0.026033
MUON_LIFETIME_US = 2.1969811
#: Gamma smearing constants of the release's fitting convention (REFERENCE.md §3).
_GAMMA_A_KEVEE = 0.0749
_GAMMA_B_PER_KEVEE = 9.56


def electron_equivalent_kevee(
    recoil_kevnr: ArrayLike, coefficients: ArrayLike
) -> NDArray[np.float64]:
    """E_ee in keVee of recoils in keVnr from the release polynomial (in MeV), clipped at 0."""
    t_mev = np.asarray(recoil_kevnr, dtype=float) * 1e-3
    a, b, c, d = np.asarray(coefficients, dtype=float)
    return np.clip(t_mev * (a + t_mev * (b + t_mev * (c + t_mev * d))), 0.0, None) * 1e3


def logistic_efficiency(x_pe: ArrayLike, coefficients: ArrayLike) -> NDArray[np.float64]:
    """eps(x) = a / (1 + exp(-b (x - c))) + d at ``x_pe``, clipped to [0, 1]."""
    a, b, c, d = np.asarray(coefficients, dtype=float)
    x = np.asarray(x_pe, dtype=float)
    return np.clip(a * special.expit(b * (x - c)) + d, 0.0, 1.0)


def gamma_pe_bin_probabilities(energy_kevee: ArrayLike, edges_pe: ArrayLike) -> NDArray[np.float64]:
    """Probability that a deposit of ``energy_kevee`` is reconstructed in each PE bin.

    Returns
    -------
    ndarray (n_bins, n_E)
        Gamma(shape 1 + b, scale 1 / (a (1 + b))) bin probabilities; a zero deposit gives zero.
    """
    e = np.maximum(np.asarray(energy_kevee, dtype=float), 1e-12)
    a = _GAMMA_A_KEVEE / e
    b = _GAMMA_B_PER_KEVEE * e
    shape = 1.0 + b
    scale = 1.0 / (a * shape)
    edges = np.asarray(edges_pe, dtype=float)[:, None]
    cdf = special.gammainc(shape[None, :], np.maximum(edges, 0.0) / scale[None, :])
    prob = np.diff(cdf, axis=0)
    return np.where(np.asarray(energy_kevee)[None, :] > 0, prob, 0.0)


def timing_acceptance(
    time_us: ArrayLike, knee_us: float, slope_per_us: float
) -> NDArray[np.float64]:
    """1 up to ``knee_us``, exp(-slope (t - knee)) beyond."""
    t = np.asarray(time_us, dtype=float)
    return np.where(t < knee_us, 1.0, np.exp(-slope_per_us * (t - knee_us)))


def _gauss_exp(t: NDArray[np.float64], t0: float, sigma: float, tau: float) -> NDArray[np.float64]:
    """Gaussian (t0, sigma) convolved with exp(-t / tau) / tau (a normalised density in t)."""
    x = t - t0
    z = x / sigma - sigma / tau
    # exp(-x/tau + sigma^2/(2 tau^2)) Phi(z); for z < 0 the same as
    # exp(-x^2 / 2 sigma^2) erfcx(-z/sqrt 2) / 2, which cannot overflow when tau << sigma
    late = np.exp(np.minimum(-x / tau + 0.5 * (sigma / tau) ** 2, 700.0)) * special.ndtr(z)
    early = (
        np.exp(-0.5 * (x / sigma) ** 2) * 0.5 * special.erfcx(-np.minimum(z, 0.0) / np.sqrt(2.0))
    )
    return np.where(z >= 0, late, early) / tau


def arrival_time_density(
    time_us: ArrayLike, component: str, pulse_centre_us: float, pulse_width_us: float
) -> NDArray[np.float64]:
    """Arrival-time density (per µs, before acceptance) of ``"prompt"`` or ``"delayed"`` neutrinos.

    Prompt: pulse * pion decay. Delayed: pulse * pion decay * muon decay, i.e.
    (tau_mu g_mu - tau_pi g_pi) / (tau_mu - tau_pi) with g_tau the pulse convolved with one
    exponential.
    """
    t = np.asarray(time_us, dtype=float)
    prompt = _gauss_exp(t, pulse_centre_us, pulse_width_us, PION_LIFETIME_US)
    if component == "prompt":
        return prompt
    if component != "delayed":
        raise ValueError(f"component must be 'prompt' or 'delayed', not {component!r}")
    slow = _gauss_exp(t, pulse_centre_us, pulse_width_us, MUON_LIFETIME_US)
    return (MUON_LIFETIME_US * slow - PION_LIFETIME_US * prompt) / (
        MUON_LIFETIME_US - PION_LIFETIME_US
    )


def time_bin_fractions(
    edges_us: ArrayLike,
    component: str,
    pulse_centre_us: float,
    pulse_width_us: float,
    knee_us: float,
    slope_per_us: float,
    step_us: float = 0.001,
) -> NDArray[np.float64]:
    """Fraction of all neutrinos of ``component`` accepted in each time bin (acceptance included).

    Not normalised to the bins: arrivals after the last edge and the acceptance losses are lost.
    Midpoint rule on ``step_us``.
    """
    edges = np.asarray(edges_us, dtype=float)
    n = int(round((edges[-1] - edges[0]) / step_us))
    fine = edges[0] + (np.arange(n) + 0.5) * step_us
    density = arrival_time_density(fine, component, pulse_centre_us, pulse_width_us)
    weight = density * timing_acceptance(fine, knee_us, slope_per_us) * step_us
    index = np.clip(np.searchsorted(edges, fine, side="right") - 1, 0, edges.size - 2)
    return np.bincount(index, weights=weight, minlength=edges.size - 1)


def fit_pulse_to_delayed_shape(
    centres_us: ArrayLike,
    shape: ArrayLike,
    knee_us: float,
    slope_per_us: float,
    window_us: tuple[float, float] = (0.0, 6.0),
) -> tuple[float, float, float]:
    """Pulse centre and width (µs) making the delayed density times the acceptance match ``shape``.

    Least squares between the normalised shapes inside ``window_us``.

    Returns
    -------
    (centre_us, width_us, max_abs_residual_rel)
        The residual is relative to the shape's maximum.
    """
    t = np.asarray(centres_us, dtype=float)
    keep = (t > window_us[0]) & (t < window_us[1])
    t = t[keep]
    data = np.asarray(shape, dtype=float)[keep]
    data = data / data.sum()
    acc = timing_acceptance(t, knee_us, slope_per_us)

    def model(p):
        m = arrival_time_density(t, "delayed", p[0], abs(p[1]) + 1e-4) * acc
        return m / m.sum()

    res = optimize.minimize(
        lambda p: float(np.sum((model(p) - data) ** 2)),
        [0.5, 0.15],
        method="Nelder-Mead",
        options={"xatol": 1e-7, "fatol": 1e-14, "maxiter": 4000},
    )
    centre, width = float(res.x[0]), float(abs(res.x[1]) + 1e-4)
    return centre, width, float(np.abs(model(res.x) - data).max() / data.max())
