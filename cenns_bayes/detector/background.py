"""Steady-state background measured in an anticoincidence (off) window: on/off Poisson likelihood.

In each analysis bin ``i`` the coincidence (on) window counts ``n_i`` events with
expectation ``s_i + b_i`` (``s_i``: CEvNS plus beam-related backgrounds; ``b_i``:
steady-state background), and the anticoincidence (off) window counts ``m_i``
events with expectation ``τ b_i``. For the COHERENT CsI 2017 release both
windows have the same length, ``τ = 1`` (REFERENCE.md §3.2). The joint
likelihood is

    L_i(s_i, b_i) = Pois(n_i; s_i + b_i) · Pois(m_i; τ b_i).

Profiling ``b_i`` analytically: ∂ln L_i/∂b_i = n_i/(s_i + b_i) − 1 + m_i/b_i − τ = 0
is the quadratic

    (1 + τ) b² − [n + m − (1 + τ) s] b − m s = 0,

whose non-negative root is

    b̂ = { B + √(B² + 4 (1 + τ) m s) } / (2 (1 + τ)),   B = n + m − (1 + τ) s,

i.e. for τ = 1:  b̂ = [n + m − 2s + √((n + m − 2s)² + 8 m s)] / 4.

ln L_i is concave in b_i (both terms are concave), so this stationary point is
the maximum for s ≥ 0. Special cases: s = 0 gives b̂ = (n + m)/(1 + τ); m = 0
gives b̂ = max(0, n/(1 + τ) − s). The root is evaluated in a form free of
cancellation when B < 0. By the envelope theorem the derivative of the profile
log-likelihood with respect to s is n/(s + b̂) − 1.

All functions work element-wise on arrays (bins); sum the result over the
analysis region. Only numpy and scipy are used.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import gammaln, xlogy

__all__ = [
    "MeasuredBackground",
    "on_off_log_likelihood",
    "on_off_profile_deviance",
    "on_off_profile_gradient",
    "on_off_profile_log_likelihood",
    "poisson_log_likelihood",
    "profiled_background",
    "steady_state_from_anticoincidence",
]


class MeasuredBackground(NamedTuple):
    """A background measured by counting, with its Poisson uncertainty.

    Attributes
    ----------
    expected : ndarray
        Estimate of the steady-state expectation per bin (the off counts divided by τ).
    sigma : ndarray
        Its Poisson standard error, √m / τ.

    """

    expected: NDArray[np.float64]
    sigma: NDArray[np.float64]


def steady_state_from_anticoincidence(ac_counts: ArrayLike, tau: float = 1.0) -> MeasuredBackground:
    """Steady-state background in the on window estimated from anticoincidence counts.

    Parameters
    ----------
    ac_counts : array_like
        Counts ``m`` in the anticoincidence window per bin.
    tau : float
        Ratio of the off-window to the on-window exposure (1 for the release).

    Returns
    -------
    MeasuredBackground
        ``m/τ`` and ``√m/τ``.

    """
    m = _counts(ac_counts, "ac_counts")
    if tau <= 0:
        raise ValueError("tau must be > 0")
    return MeasuredBackground(m / tau, np.sqrt(m) / tau)


def _counts(values: ArrayLike, name: str) -> NDArray[np.float64]:
    array = np.asarray(values, dtype=float)
    if np.any(array < 0) or np.any(array != np.round(array)):
        raise ValueError(f"{name} must be non-negative integers")
    return array


def _expectation(values: ArrayLike, name: str) -> NDArray[np.float64]:
    array = np.asarray(values, dtype=float)
    if np.any(~np.isfinite(array)) or np.any(array < 0):
        raise ValueError(f"{name} must be finite and >= 0")
    return array


def poisson_log_likelihood(counts: ArrayLike, expected: ArrayLike) -> NDArray[np.float64]:
    """Element-wise ``ln Pois(n; μ) = n ln μ − μ − ln n!`` (−inf where μ = 0 < n)."""
    n = _counts(counts, "counts")
    mu = _expectation(expected, "expected")
    with np.errstate(divide="ignore"):
        return xlogy(n, mu) - mu - gammaln(n + 1.0)


def on_off_log_likelihood(
    n_on: ArrayLike, m_off: ArrayLike, s: ArrayLike, b: ArrayLike, tau: float = 1.0
) -> NDArray[np.float64]:
    """Element-wise joint log-likelihood ``ln Pois(n; s + b) + ln Pois(m; τ b)``.

    Parameters
    ----------
    n_on : array_like
        Counts in the on (coincidence) window.
    m_off : array_like
        Counts in the off (anticoincidence) window.
    s : array_like
        Expectation of everything but the steady-state background in the on window (≥ 0).
    b : array_like
        Steady-state expectation in the on window (≥ 0).
    tau : float
        Off/on exposure ratio (default 1).

    Returns
    -------
    ndarray
        Log-likelihood per bin (normalised Poisson terms, factorials included).

    """
    s_arr = _expectation(s, "s")
    b_arr = _expectation(b, "b")
    return poisson_log_likelihood(n_on, s_arr + b_arr) + poisson_log_likelihood(m_off, tau * b_arr)


def profiled_background(
    n_on: ArrayLike, m_off: ArrayLike, s: ArrayLike, tau: float = 1.0
) -> NDArray[np.float64]:
    """Maximum-likelihood steady-state background ``b̂(s)`` per bin (closed form, module docstring).

    Parameters
    ----------
    n_on, m_off : array_like
        On- and off-window counts.
    s : array_like
        Non-steady-state expectation in the on window (≥ 0).
    tau : float
        Off/on exposure ratio (default 1).

    Returns
    -------
    ndarray
        ``b̂ ≥ 0``, broadcast shape of the inputs.

    """
    if tau <= 0:
        raise ValueError("tau must be > 0")
    n = _counts(n_on, "n_on")
    m = _counts(m_off, "m_off")
    s_arr = _expectation(s, "s")
    n, m, s_arr = np.broadcast_arrays(n, m, s_arr)
    a = 1.0 + tau
    big_b = n + m - a * s_arr
    c = m * s_arr
    root = np.sqrt(big_b * big_b + 4.0 * a * c)
    out = np.empty_like(root)
    positive = big_b >= 0
    out[positive] = (big_b[positive] + root[positive]) / (2.0 * a)
    negative = ~positive
    # (B + √D)/(2A) = 2C / (√D − B): no cancellation when B < 0.
    out[negative] = 2.0 * c[negative] / (root[negative] - big_b[negative])
    return out


def on_off_profile_log_likelihood(
    n_on: ArrayLike, m_off: ArrayLike, s: ArrayLike, tau: float = 1.0
) -> NDArray[np.float64]:
    """Element-wise ``max_b ln L(s, b)``, the joint on/off log-likelihood profiled over ``b``."""
    b_hat = profiled_background(n_on, m_off, s, tau)
    return on_off_log_likelihood(n_on, m_off, s, b_hat, tau)


def on_off_profile_gradient(
    n_on: ArrayLike, m_off: ArrayLike, s: ArrayLike, tau: float = 1.0
) -> NDArray[np.float64]:
    """Element-wise derivative ``n/(s + b̂) − 1`` of the profile log-likelihood in ``s``.

    Where ``s + b̂ = 0`` (only possible with n = m = s = 0) the value −1 is returned
    (the right derivative).
    """
    n = _counts(n_on, "n_on")
    total = _expectation(s, "s") + profiled_background(n_on, m_off, s, tau)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(total > 0, n / np.where(total > 0, total, 1.0), 0.0)
    return ratio - 1.0


def on_off_profile_deviance(
    n_on: ArrayLike, m_off: ArrayLike, s: ArrayLike, tau: float = 1.0
) -> NDArray[np.float64]:
    """Element-wise profiled deviance ``−2 [ln L(s, b̂) − ln L_saturated] ≥ 0``.

    The saturated model sets the on and off expectations to the observed ``n``
    and ``m``. Summed over bins this is a χ²-like statistic whose differences
    give profile-likelihood ratios.
    """
    n = _counts(n_on, "n_on")
    m = _counts(m_off, "m_off")
    b_hat = profiled_background(n, m, s, tau)
    mu_on = _expectation(s, "s") + b_hat
    mu_off = tau * b_hat
    with np.errstate(divide="ignore", invalid="ignore"):
        on = mu_on - n + xlogy(n, n) - xlogy(n, mu_on)
        off = mu_off - m + xlogy(m, m) - xlogy(m, mu_off)
    return 2.0 * (on + off)
