"""Counting studies (detector x flavour channels, optionally recoil bins) as an ExpectationModel.

Expected counts per column j:

    N_j = A_flux * A_det(j) * [S (c0_j + c1_j s_j + c2_j s_j^2) + cmu_j mu_j^2]

with s_j = sin^2(theta_W) + k <r^2>_j (Eq. 17), mu_j and <r^2>_j the nu_mu or nu_e
parameters of the channel's flavour, and S the CEvNS signal strength (the weak count
as a ratio to its Standard-Model value; the magnetic-moment term is separate physics
and is not scaled). ``A_flux`` (shared by every detector at the source) and ``A_det``
(one per detector) are log-normal normalisation nuisances, exp(sigma z), declared by the
study's ``[nuisances]`` table. The frequentist fit treats per-detector normalisations as
independent; the PyMC model offers partial, complete or no pooling of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..physics.constants import CHARGE_RADIUS_SHIFT, SIN2_THETA_W_PAPER
from ..rates.coefficients import RateModel
from .model import NuisanceSpec

__all__ = ["CountingModel", "evaluate_polynomial"]

_DEFAULTS = {"sin2_theta_w": SIN2_THETA_W_PAPER, "mu_nu_mu": 0.0, "mu_nu_e": 0.0,
             "r2_nu_mu": 0.0, "r2_nu_e": 0.0, "signal_strength": 1.0}


def evaluate_polynomial(rate_model: RateModel, params: Mapping[str, Any], xp=np):
    """Counts per column of ``rate_model`` for scalar parameters (NumPy or PyTensor).

    ``params`` may carry ``mu_nu_mu_squared`` / ``mu_nu_e_squared`` in place of the
    moments themselves (the PyMC models sample mu^2 directly when the prior is flat in
    mu^2, which keeps the gradient finite at mu = 0).
    """
    p = {**_DEFAULTS, **params}
    for flavour in ("mu", "e"):
        if f"mu_nu_{flavour}_squared" not in p:
            p[f"mu_nu_{flavour}_squared"] = p[f"mu_nu_{flavour}"] ** 2
    is_e = rate_model.mu_index == 1
    c0, c1, c2, cm = (np.asarray(row) for row in rate_model.polynomial)
    if is_e.all() or not is_e.any():
        suffix = "e" if is_e.all() else "mu"
        mu2, r2 = p[f"mu_nu_{suffix}_squared"], p[f"r2_nu_{suffix}"]
    else:
        mu2 = xp.where(is_e, p["mu_nu_e_squared"], p["mu_nu_mu_squared"])
        r2 = xp.where(is_e, p["r2_nu_e"], p["r2_nu_mu"])
    s = p["sin2_theta_w"] + CHARGE_RADIUS_SHIFT * r2
    return p["signal_strength"] * (c0 + s * (c1 + s * c2)) + cm * mu2


@dataclass(eq=False)
class CountingModel:
    """A counting study as an :class:`~cenns_bayes.stats.model.ExpectationModel`.

    Parameters
    ----------
    rate_model : RateModel
        Channels and their exact count coefficients.
    observed : array
        Observed (or Asimov) counts per column.
    flux_sigma, detector_sigma : float
        Relative widths of the log-normal flux and per-detector normalisations (0: none).
    fixed : dict
        Values of the parameters that are not given to :meth:`expected`.
    """

    rate_model: RateModel
    observed: np.ndarray
    flux_sigma: float = 0.0
    detector_sigma: float = 0.0
    fixed: dict[str, float] = field(default_factory=dict)
    parameter_names: list[str] = field(default_factory=lambda: list(_DEFAULTS))
    nuisances: list[NuisanceSpec] = field(init=False)
    detector_names: list[str] = field(init=False)
    detector_index: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.observed = np.asarray(self.observed, dtype=float)
        dets = [d for d, _, _ in self.rate_model.labels]
        self.detector_names = list(dict.fromkeys(dets))
        self.detector_index = np.array([self.detector_names.index(d) for d in dets])
        self.nuisances = []
        if self.flux_sigma > 0:
            self.nuisances.append(NuisanceSpec(
                "flux_norm", "lognormal", self.flux_sigma,
                description="neutrino flux normalisation shared by all detectors (ratio)"))
        if self.detector_sigma > 0:
            self.nuisances.append(NuisanceSpec(
                "detector_norm", "lognormal", self.detector_sigma, size=len(self.detector_names),
                description="per-detector normalisation: efficiency, quenching, mass (ratio)"))

    @classmethod
    def from_study(cls, study, binned: bool | None = None) -> CountingModel:
        """Build from a :class:`~cenns_bayes.specs.Study` (its channels, data and nuisances)."""
        rate_model = study.rate_model(binned=binned)
        n = study.spec.nuisances
        fixed = {k: v for k, v in study.true_parameters().items() if k in _DEFAULTS}
        return cls(rate_model, study.observed_counts(rate_model), n.flux_sigma, n.detector_sigma,
                   fixed)

    @property
    def bin_labels(self) -> list[tuple[str, str, int]]:
        """(detector, flavour, bin) per column."""
        return self.rate_model.labels

    def expected(self, params: Mapping[str, Any], nuisances: Mapping[str, Any] | None = None, xp=np):
        """Expected counts per column (NumPy array or PyTensor tensor)."""
        counts = evaluate_polynomial(self.rate_model, {**self.fixed, **params}, xp)
        nuisances = nuisances or {}
        if "flux_norm" in nuisances:
            counts = counts * nuisances["flux_norm"]
        if "detector_norm" in nuisances:
            counts = counts * nuisances["detector_norm"][self.detector_index]
        return counts

    def signal(self, params: Mapping[str, Any], nuisances: Mapping[str, Any] | None = None, xp=np):
        """Counts from neutrino scattering: all counts, in a counting study."""
        return self.expected(params, nuisances, xp)

    def nominal_nuisances(self) -> dict[str, Any]:
        """Nuisances at their nominal values."""
        return {n.name: (1.0 if n.size == 1 else np.ones(n.size)) for n in self.nuisances}
