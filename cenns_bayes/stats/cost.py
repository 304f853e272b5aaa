"""The two costs a fit can minimise, each written once, with their gradients.

Which one to use
----------------
``poisson`` -- the Poisson deviance in its saturated form,

    D(mu; n) = 2 sum_i [mu_i - n_i + n_i ln(n_i / mu_i)],

is -2 ln of the likelihood ratio of the model to the saturated model. It is exact for
counts of any size, including empty bins, and defined for non-integer (Asimov) n_i, where
its minimum is 0 at mu = n. Use it for every fit of data or toys, for limits and for
coverage: differences of D are the profile-likelihood-ratio statistic of Wilks' theorem.

``chi2`` -- the seed paper's statistic (Kosmas et al. 2015, Eqs. 10-12),

    chi2(mu; n) = sum_i (n_i - mu_i)^2 / n_i      (sigma_i^2 = n_i, bins with n_i = 0 left out),

is the large-count Gaussian approximation of D. Use it only to reproduce the paper's
numbers (``reproduce``, the paper figures and the ``chi2`` method of the comparison
tables); with few counts per bin it misplaces interval ends.

Both functions accept ``mu`` with extra leading axes (a grid of expectations) and sum
over the last axis.
"""

from __future__ import annotations

import numpy as np

from ..poisson import poisson_deviance_terms

__all__ = [
    "COSTS",
    "chi2",
    "chi2_gradient",
    "cost",
    "cost_gradient",
    "poisson_deviance",
    "poisson_deviance_gradient",
]

COSTS = ("poisson", "chi2")


def poisson_deviance(observed, expected) -> np.ndarray:
    """2 sum[mu - n + n ln(n / mu)] over the last axis; +inf where mu <= 0 < n or mu < 0.

    The sum of :func:`cenns_bayes.poisson.poisson_deviance_terms` (the per-bin primitive,
    shared with the detector layer's on/off likelihood).
    """
    return np.sum(poisson_deviance_terms(observed, expected), axis=-1)[()]


def poisson_deviance_gradient(observed, expected) -> np.ndarray:
    """D D / d mu_i = 2 (1 - n_i / mu_i), per bin."""
    n = np.asarray(observed, dtype=float)
    mu = np.asarray(expected, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return 2.0 * (1.0 - np.where(n > 0, n / mu, 0.0))


def chi2(observed, expected) -> np.ndarray:
    """Sum (n - mu)^2 / n over the last axis, bins with n = 0 left out (the paper's Eq. 10)."""
    n = np.asarray(observed, dtype=float)
    mu = np.asarray(expected, dtype=float)
    keep = n > 0
    return np.sum(np.where(keep, (n - mu) ** 2 / np.where(keep, n, 1.0), 0.0), axis=-1)[()]


def chi2_gradient(observed, expected) -> np.ndarray:
    """D chi2 / d mu_i = -2 (n_i - mu_i) / n_i (0 for empty bins)."""
    n = np.asarray(observed, dtype=float)
    mu = np.asarray(expected, dtype=float)
    keep = n > 0
    return np.where(keep, -2.0 * (n - mu) / np.where(keep, n, 1.0), 0.0)


_TABLE = {"poisson": (poisson_deviance, poisson_deviance_gradient), "chi2": (chi2, chi2_gradient)}


def _lookup(name: str):
    try:
        return _TABLE[name]
    except KeyError:
        raise ValueError(
            f"unknown statistic {name!r}: expected one of {', '.join(COSTS)}"
        ) from None


def cost(name: str, observed, expected) -> np.ndarray:
    """The cost ``name`` ("poisson" or "chi2") of ``expected`` given ``observed``."""
    return _lookup(name)[0](observed, expected)


def cost_gradient(name: str, observed, expected) -> np.ndarray:
    """Per-bin derivative of the cost ``name`` with respect to the expectation."""
    return _lookup(name)[1](observed, expected)
