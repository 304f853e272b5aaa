"""Reconstructed electron-equivalent energy of a nuclear recoil: linear QF and Gaussian resolution.

For a recoil of T keVnr the visible energy is E = QF(T) T keVee with QF(T) = a + b T, and the
reconstructed energy is Gaussian around E with sigma = r sqrt(E / keVee) keVee (that is
sigma / E = r / sqrt(E / keVee)), as in the COHERENT CENNS-10 argon analysis. Reconstructed
values below zero are lost (they fall outside every bin).
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr

__all__ = ["electron_equivalent_kevee", "energy_bin_probabilities", "trapezoid_weights"]


def electron_equivalent_kevee(
    recoil_kevnr: np.ndarray, qf_a: float, qf_b_per_kevnr: float
) -> np.ndarray:
    """Visible energy QF(T) T in keVee for recoils in keVnr (QF clipped at zero)."""
    t = np.asarray(recoil_kevnr, dtype=float)
    return np.clip(qf_a + qf_b_per_kevnr * t, 0.0, None) * t


def energy_bin_probabilities(
    recoil_kevnr: np.ndarray,
    edges_kevee: np.ndarray,
    qf_a: float,
    qf_b_per_kevnr: float,
    resolution_sqrt_kevee: float,
) -> np.ndarray:
    """Probability that a recoil of T keVnr is reconstructed in each keVee bin.

    Parameters
    ----------
    recoil_kevnr : array (n_T,)
    edges_kevee : array (n_bins + 1,)
        Increasing reconstructed-energy edges, keVee.
    qf_a, qf_b_per_kevnr : float
        QF(T) = a + b T.
    resolution_sqrt_kevee : float
        r in sigma = r sqrt(E / keVee).

    Returns
    -------
    ndarray (n_bins, n_T)
        Gaussian bin probabilities (columns sum to at most 1).
    """
    energy = electron_equivalent_kevee(recoil_kevnr, qf_a, qf_b_per_kevnr)
    sigma = resolution_sqrt_kevee * np.sqrt(np.maximum(energy, 1e-12))
    edges = np.asarray(edges_kevee, dtype=float)[:, None]
    cdf = ndtr((edges - energy[None, :]) / sigma[None, :])
    return np.diff(cdf, axis=0)


def trapezoid_weights(x: np.ndarray) -> np.ndarray:
    """Weights w with sum_j w_j f(x_j) the trapezoid integral of f over [x_0, x_-1]."""
    x = np.asarray(x, dtype=float)
    w = np.zeros_like(x)
    dx = np.diff(x)
    w[:-1] += dx / 2
    w[1:] += dx / 2
    return w
