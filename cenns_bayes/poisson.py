"""The per-bin Poisson deviance: the one primitive under every Poisson cost of the package.

It sits below the physics layer so that both the detector layer (the on/off likelihood and
the control-sample constraint of :mod:`cenns_bayes.detector.background`, the latter also as
a PyTensor graph) and the statistics layer (:mod:`cenns_bayes.stats.cost`,
which sums it and says when to use it) call the same code.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["poisson_deviance_terms"]


def poisson_deviance_terms(observed: ArrayLike, expected: Any, xp: Any = np) -> Any:
    """Per-bin saturated Poisson deviance 2 [mu - n + n ln(n / mu)] (n = 0 gives 2 mu).

    Non-integer (Asimov) ``n`` are allowed; each term is >= 0 and vanishes at mu = n. The
    term is +inf where mu < 0, or mu = 0 < n (the counts are impossible there).

    Parameters
    ----------
    observed : array_like
        Counts n per bin (NumPy data, also in a PyTensor graph).
    expected : array_like or tensor
        Expectations mu per bin, broadcast against ``observed``.
    xp : module
        ``numpy`` (default) or ``pytensor.tensor``: with a symbolic ``expected`` the terms
        are the graph 2 [mu - n ln mu + (n ln n - n)], the constant in brackets taken from
        the data; samplers keep mu > 0, so the impossible cases need no guard there.
    """
    n = np.asarray(observed, dtype=float)
    safe_n = np.where(n > 0, n, 1.0)
    if xp is not np:
        saturated = np.where(n > 0, n * np.log(safe_n), 0.0) - n
        return 2.0 * (expected - n * xp.log(expected) + saturated)
    mu = np.asarray(expected, dtype=float)
    safe_mu = np.where(mu > 0, mu, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_term = np.where(n > 0, n * np.log(safe_n / safe_mu), 0.0)
    impossible = (mu < 0) | ((mu == 0) & (n > 0))
    return np.where(impossible, np.inf, 2.0 * (mu - n + log_term))
