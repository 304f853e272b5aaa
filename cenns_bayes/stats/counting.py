"""Counting studies (recoil windows or recoil bins) as an :class:`~.model.ExpectationModel`.

The expectation is the :class:`~cenns_bayes.rates.coefficients.RateModel` count of every
detector x flavour channel (x recoil bin), times ``signal_strength``, times the shared
flux normalisation and the detector's normalisation when ``[nuisances]`` gives them a
width. Both normalisations are log-normal (exp(sigma z)), so they stay positive. The
frequentist fit treats per-detector normalisations as independent (the Bayesian
``pooling`` options have no frequentist counterpart here).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..physics import constants as const
from ..rates.coefficients import RateModel
from .model import NuisanceSpec

__all__ = ["CountingModel"]

_RATE_PARAMETERS = ("sin2_theta_w", "mu_nu_mu", "mu_nu_e", "r2_nu_mu", "r2_nu_e", "signal_strength")


@dataclass(eq=False)
class CountingModel:
    """Expected counts per channel (and recoil bin) of a counting study.

    Attributes
    ----------
    rate_model : RateModel
    observed : ndarray (n_bins,)
    parameter_names : list of str
    nuisances : list of NuisanceSpec
    bin_labels : list of (detector, flavour, bin index)
    fixed : dict
        Values of the parameters that are not free.
    """

    rate_model: RateModel
    observed: np.ndarray
    nuisances: list[NuisanceSpec]
    fixed: dict[str, float] = field(default_factory=dict)
    parameter_names: list[str] = field(default_factory=lambda: list(_RATE_PARAMETERS))
    additive_poisson: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        labels = self.rate_model.labels
        self.bin_labels = list(labels)
        self._detectors = list(dict.fromkeys(d for d, _, _ in labels))
        self._det_index = np.array([self._detectors.index(d) for d, _, _ in labels])
        self._is_e = self.rate_model.mu_index == 1
        c0, c1, c2, cm = self.rate_model.polynomial
        self._c = (c0, c1, c2, cm)

    @classmethod
    def from_study(cls, study) -> CountingModel:
        """Build from a :class:`~cenns_bayes.specs.Study` (its data, nuisances and parameters)."""
        rate_model = study.rate_model()
        ns = study.spec.nuisances
        nuisances = []
        if ns.flux_sigma > 0:
            nuisances.append(NuisanceSpec("flux_norm", "lognormal", ns.flux_sigma,
                                          description="shared flux normalisation"))
        if ns.detector_sigma > 0:
            n_det = len(study.detector_names)
            nuisances.append(NuisanceSpec("detector_norm", "lognormal", ns.detector_sigma, size=n_det,
                                          description="per-detector normalisation, in spec order"))
        fixed = {k: v for k, v in study.true_parameters().items() if k in _RATE_PARAMETERS}
        return cls(rate_model, study.observed_counts(rate_model), nuisances, fixed)

    def _value(self, params: Mapping[str, Any], name: str):
        if name in params:
            return params[name]
        default = {"sin2_theta_w": const.SIN2_THETA_W_PAPER, "signal_strength": 1.0}.get(name, 0.0)
        return self.fixed.get(name, default)

    def signal(self, params: Mapping[str, Any], nuisances: Mapping[str, Any], xp=np):
        """All counts are signal (CEvNS) in a counting study."""
        return self.expected(params, nuisances, xp)

    def expected(self, params: Mapping[str, Any], nuisances: Mapping[str, Any], xp=np):
        """Expected counts per column (NumPy array or PyTensor tensor)."""
        k = const.CHARGE_RADIUS_SHIFT
        s2 = self._value(params, "sin2_theta_w")
        s = s2 + k * xp.where(self._is_e, self._value(params, "r2_nu_e"), self._value(params, "r2_nu_mu"))
        mu = xp.where(self._is_e, self._value(params, "mu_nu_e"), self._value(params, "mu_nu_mu"))
        c0, c1, c2, cm = self._c
        counts = self._value(params, "signal_strength") * (c0 + s * (c1 + s * c2) + cm * mu * mu)
        names = {n.name for n in self.nuisances}
        if "flux_norm" in names:
            counts = counts * nuisances["flux_norm"]
        if "detector_norm" in names:
            det = nuisances["detector_norm"]
            scale = 0.0
            for i in range(len(self._detectors)):
                scale = scale + xp.where(self._det_index == i, 1.0, 0.0) * det[i]
            counts = counts * scale
        return counts

    def nominal_nuisances(self) -> dict[str, Any]:
        """Nuisances at their nominal values."""
        return {n.name: (1.0 if n.size == 1 else np.ones(n.size)) for n in self.nuisances}
