"""The statistical model shared by the frequentist fits and the PyMC models.

A model gives expected counts in a flat vector of bins as a function of physics
parameters and nuisance parameters. The same function builds NumPy values (for fits,
profiles and toys) and PyTensor graphs (for NUTS): it receives the array module ``xp``
(``numpy`` or ``pytensor.tensor``) and uses only arithmetic and ``xp.exp``, ``xp.log``,
``xp.sqrt``, ``xp.stack``, ``xp.concatenate``, ``xp.sum``, ``xp.where`` on it.

Nuisance parameters are declared with their constraint, so that the frequentist side
adds the penalty -2 ln pi(theta) and the Bayesian side uses pi as the prior.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import numpy as np

__all__ = ["ExpectationModel", "NuisanceSpec", "constraint_neg2logpdf"]


@dataclass(frozen=True)
class NuisanceSpec:
    """A constrained nuisance parameter (possibly a vector of ``size`` entries).

    Attributes
    ----------
    name : str
        Identifier, e.g. ``"flux_norm"``.
    kind : {"lognormal", "normal", "poisson"}
        ``lognormal``: a positive scale exp(sigma z), z ~ N(0, 1), nominal 1 (use for
        normalisations: it cannot go negative). ``normal``: centre + sigma z.
        ``poisson``: a positive rate b measured by auxiliary counts m ~ Poisson(tau b)
        (e.g. a steady-state background measured off-beam); ``centre`` holds m and
        ``sigma`` holds tau. Frequentist fits add -2 ln Poisson(m | tau b); the PyMC
        model uses the same term as a likelihood with a flat prior on b > 0.
        ``auxiliary``: a vector theta = centre + sigma z constrained by the likelihood of
        auxiliary (control) data, ``auxiliary.control_neg2ll(theta, xp)``; ``centre`` is
        its maximum from the control data alone and ``sigma`` its standard errors (used
        only to scale z). Frequentist fits add that deviance (minus its value at the
        centre); the PyMC model adds it as a potential with the prior ``prior``.
    sigma : float or array
        Width (relative, for lognormal; absolute for normal).
    centre : float or array
        Nominal value of a ``normal`` nuisance (lognormal nuisances have nominal 1).
    size : int
        Number of entries (1: a scalar).
    description : str
        What it stands for, with units.
    auxiliary : object, optional
        For ``auxiliary`` nuisances: gives ``control_neg2ll(theta, xp)`` and
        ``log_rate_prior(theta, kind, xp)`` (e.g.
        :class:`cenns_bayes.detector.background.SmoothSteadyState`).
    prior : str
        Bayesian prior of ``poisson`` and ``auxiliary`` nuisances: ``"jeffreys"`` (default)
        or ``"uniform"`` in the rates.
    """

    name: str
    kind: Literal["lognormal", "normal", "poisson", "auxiliary"]
    sigma: float | np.ndarray
    centre: float | np.ndarray = 0.0
    size: int = 1
    description: str = ""
    auxiliary: Any = None
    prior: str = "jeffreys"

    def nominal(self) -> np.ndarray:
        """The value at z = 0, shape (size,)."""
        if self.kind == "lognormal":
            return np.ones(self.size)
        if self.kind == "poisson":
            m = np.broadcast_to(np.asarray(self.centre, dtype=float), (self.size,))
            return np.maximum(m, 0.5) / self.sigma
        return np.broadcast_to(np.asarray(self.centre, dtype=float), (self.size,)).copy()

    def from_z(self, z, xp=np):
        """Map standard-normal z to the nuisance value (works on NumPy and PyTensor).

        Not defined for ``poisson`` nuisances, which are sampled directly.
        """
        if self.kind == "poisson":
            raise TypeError(f"{self.name}: a poisson nuisance has no standard-normal form")
        if self.kind == "lognormal":
            return xp.exp(self.sigma * z)
        return self.centre + self.sigma * z


def constraint_neg2logpdf(spec: NuisanceSpec, value: np.ndarray) -> float:
    """-2 ln of the constraint at ``value``, zero at the nominal value.

    z^2 summed for lognormal and normal; the Poisson deviance 2 sum[tau b - m + m ln(m / tau b)]
    for poisson nuisances; for auxiliary ones the control-data deviance minus its value at
    the centre (its control-only maximum, so the term is >= 0 there).
    """
    value = np.asarray(value, dtype=float)
    if spec.kind == "poisson":
        if np.any(value <= 0):
            return np.inf
        m = np.asarray(spec.centre, dtype=float)
        lam = spec.sigma * value
        with np.errstate(divide="ignore", invalid="ignore"):
            log_term = np.where(m > 0, m * np.log(m / lam), 0.0)
        return float(2.0 * np.sum(lam - m + log_term))
    if spec.kind == "auxiliary":
        centre = np.asarray(spec.centre, dtype=float)
        value_at = float(spec.auxiliary.control_neg2ll(value))
        return value_at - float(spec.auxiliary.control_neg2ll(centre)) if np.isfinite(value_at) else np.inf
    if spec.kind == "lognormal":
        if np.any(value <= 0):
            return np.inf
        z = np.log(value) / spec.sigma
    else:
        z = (value - spec.centre) / spec.sigma
    return float(np.sum(z**2))


class ExpectationModel(Protocol):
    """What a statistical model exposes to fits, samplers and toys.

    Attributes
    ----------
    observed : np.ndarray
        Observed counts per bin (non-integer for Asimov data).
    parameter_names : list of str
        Physics parameters the expectation depends on (free ones come from the study).
    nuisances : list of NuisanceSpec
        Constrained nuisance parameters.
    bin_labels : list
        A label per bin, for reports.
    """

    observed: np.ndarray
    parameter_names: list[str]
    nuisances: list[NuisanceSpec]
    bin_labels: list

    def expected(self, params: Mapping[str, Any], nuisances: Mapping[str, Any], xp=np) -> Any:
        """Expected counts per bin for physics ``params`` and nuisance values."""
        ...
