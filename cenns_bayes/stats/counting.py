"""Counting studies (detector x flavour channels, optionally recoil bins) as an ExpectationModel.

Expected counts per column j:

    N_j = A_flux * A_det(j) * [S (c0_j + c1_j s_j + c2_j s_j^2) + cmu_j mu_j^2]

with s_j = sin^2(theta_W) + k <r^2>_j (Eq. 17), mu_j and <r^2>_j the nu_mu or nu_e
parameters of the channel's flavour, and S the CEvNS signal strength (the weak count
as a ratio to its Standard-Model value; the magnetic-moment term is separate physics
and is not scaled). ``A_flux`` (shared by every detector at the source) and ``A_det``
(one per detector) are log-normal normalisation nuisances, exp(sigma z), declared by the
study's ``[nuisances]`` table. With ``neutron_radius_sigma_fm`` the coefficients of every
channel also depend on z_A, the shift of its nucleus's neutron rms radius in units of
that sigma, through the parabola through the coefficients computed at z = -1, 0, +1:
c(z) = c(0) + z (c+ - c-)/2 + z^2 (c+ + c- - 2 c(0))/2 (exact at the nodes; the
coefficients are smooth in the radius, see tests). The frequentist fit treats per-detector
normalisations as independent; the PyMC model offers partial, complete or no pooling of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..physics.constants import CHARGE_RADIUS_SHIFT
from ..rates.coefficients import RateModel, polynomial_counts
from .model import ModelBase, NuisanceSpec, normalisation_nuisances, with_auxiliary
from .parameters import defaults

__all__ = ["CountingModel", "evaluate_polynomial"]

_DEFAULTS = defaults()


def evaluate_polynomial(rate_model: RateModel, params: Mapping[str, Any], xp=np, coefficients=None):
    """Counts per column of ``rate_model`` for scalar parameters (NumPy or PyTensor).

    ``params`` may carry ``mu_nu_mu_squared`` / ``mu_nu_e_squared`` in place of the
    moments themselves (the PyMC models sample mu^2 directly when the prior is flat in
    mu^2, which keeps the gradient finite at mu = 0). ``coefficients`` replaces the rate
    model's (c0, c1, c2, c_mu) rows, e.g. with rows interpolated in a nuisance.
    """
    p = {**_DEFAULTS, **params}
    if xp is np:  # a grid of parameter values: one leading axis per grid axis, columns last
        p = {  # Python floats (the usual scalar fit) skip np.ndim, a slow call per value
            k: (
                v
                if isinstance(v, float | int) or np.ndim(v) == 0
                else np.asarray(v, dtype=float)[..., None]
            )
            for k, v in p.items()
        }
    for flavour in ("mu", "e"):
        if f"mu_nu_{flavour}_squared" not in p:
            p[f"mu_nu_{flavour}_squared"] = p[f"mu_nu_{flavour}"] ** 2
    is_e = rate_model.mu_index == 1
    if coefficients is None:
        coefficients = [np.asarray(row) for row in rate_model.polynomial]
    if is_e.all() or not is_e.any():
        suffix = "e" if is_e.all() else "mu"
        mu2, r2 = p[f"mu_nu_{suffix}_squared"], p[f"r2_nu_{suffix}"]
    else:
        mu2 = xp.where(is_e, p["mu_nu_e_squared"], p["mu_nu_mu_squared"])
        r2 = xp.where(is_e, p["r2_nu_e"], p["r2_nu_mu"])
    return polynomial_counts(coefficients, p["sin2_theta_w"], r2, mu2, p["signal_strength"])


def _per_column(value, index):
    """A per-group nuisance spread over columns; a scalar (one group given as a float) as is."""
    scalar = isinstance(value, (float, int, np.number)) or (
        isinstance(value, np.ndarray) and value.ndim == 0
    )
    return value if scalar else value[index]


@dataclass(eq=False)
class CountingModel(ModelBase):
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
    auxiliary : dict
        Auxiliary measurements the constraints are centred on (empty: the nominal ones;
        toys set them, see :meth:`~cenns_bayes.stats.model.ModelBase.sample`).
    """

    has_jacobian = True

    rate_model: RateModel
    observed: np.ndarray
    flux_sigma: float = 0.0
    detector_sigma: float = 0.0
    fixed: dict[str, float] = field(default_factory=dict)
    radius_slopes: tuple[np.ndarray, np.ndarray] | None = None
    radius_groups: list[str] = field(default_factory=list)
    radius_index: np.ndarray | None = None
    neutron_radius_sigma_fm: float = 0.0
    parameter_names: list[str] = field(default_factory=lambda: list(_DEFAULTS))
    auxiliary: dict[str, Any] = field(default_factory=dict)
    nuisances: list[NuisanceSpec] = field(init=False)
    detector_names: list[str] = field(init=False)
    detector_index: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.observed = np.asarray(self.observed, dtype=float)
        dets = [d for d, _, _ in self.rate_model.labels]
        self.detector_names = list(dict.fromkeys(dets))
        self.detector_index = np.array([self.detector_names.index(d) for d in dets])
        self.nuisances = normalisation_nuisances(
            self.flux_sigma,
            self.detector_sigma,
            len(self.detector_names),
            "neutrino flux normalisation shared by all detectors (ratio)",
            "per-detector normalisation: efficiency, quenching, mass (ratio)",
        )
        if self.radius_slopes is not None:
            self.nuisances.append(
                NuisanceSpec(
                    "neutron_radius",
                    "normal",
                    1.0,
                    0.0,
                    size=len(self.radius_groups),
                    description=f"shift of each nucleus's neutron rms radius in units of "
                    f"{self.neutron_radius_sigma_fm} fm ({', '.join(self.radius_groups)})",
                )
            )
        self.nuisances = with_auxiliary(self.nuisances, self.auxiliary)

    def with_data(self, observed, auxiliary=None) -> CountingModel:
        """The same study with other main data and auxiliary measurements (a toy)."""
        from dataclasses import replace

        return replace(
            self,
            observed=np.asarray(observed, dtype=float),
            auxiliary={**self.auxiliary, **(auxiliary or {})},
        )

    @classmethod
    def from_study(cls, study, binned: bool | None = None) -> CountingModel:
        """Build from a :class:`~cenns_bayes.specs.Study` (its channels, data and nuisances)."""
        rate_model = study.rate_model(binned=binned)
        n = study.spec.nuisances
        fixed = {k: v for k, v in study.true_parameters().items() if k in _DEFAULTS}
        extra = {}
        sigma = n.neutron_radius_sigma_fm
        if sigma > 0:
            plus = np.concatenate(
                [
                    study.channel_with_skin_shift(ch.detector, ch.flavor, sigma, binned).polynomial
                    for ch in rate_model.channels
                ],
                axis=1,
            )
            minus = np.concatenate(
                [
                    study.channel_with_skin_shift(ch.detector, ch.flavor, -sigma, binned).polynomial
                    for ch in rate_model.channels
                ],
                axis=1,
            )
            base = rate_model.polynomial
            nucleus_of = {d.name: d.nucleus for d in study.spec.detectors}
            groups = list(dict.fromkeys(nucleus_of[d] for d, _, _ in rate_model.labels))
            extra = dict(
                radius_slopes=(0.5 * (plus - minus), 0.5 * (plus + minus - 2.0 * base)),
                radius_groups=groups,
                radius_index=np.array(
                    [groups.index(nucleus_of[d]) for d, _, _ in rate_model.labels]
                ),
                neutron_radius_sigma_fm=sigma,
            )
        return cls(
            rate_model,
            study.observed_counts(rate_model),
            n.flux_sigma,
            n.detector_sigma,
            fixed,
            **extra,
        )

    @property
    def bin_labels(self) -> list[tuple[str, str, int]]:
        """(detector, flavour, bin) per column."""
        return self.rate_model.labels

    def expected(
        self,
        params: Mapping[str, Any],
        nuisances: Mapping[str, Any] | None = None,
        xp=np,
        polynomial=None,
        radius_slopes=None,
    ):
        """Expected counts per column (NumPy array or PyTensor tensor).

        ``polynomial`` (4, n_columns) and ``radius_slopes`` (2, 4, n_columns) replace the
        rate model's coefficients and :attr:`radius_slopes`, e.g. by PyTensor shared
        variables, so that one compiled model serves studies differing only in them.
        """
        nuisances = nuisances or {}
        poly = self.rate_model.polynomial if polynomial is None else polynomial
        coefficients = None if polynomial is None else [poly[k] for k in range(4)]
        if self.radius_slopes is not None and "neutron_radius" in nuisances:
            z = _per_column(nuisances["neutron_radius"], self.radius_index)
            slopes = self.radius_slopes if radius_slopes is None else radius_slopes
            first, second = slopes[0], slopes[1]  # indexing also works on a tensor
            coefficients = [poly[k] + z * first[k] + z * z * second[k] for k in range(4)]
        counts = evaluate_polynomial(self.rate_model, {**self.fixed, **params}, xp, coefficients)
        if "flux_norm" in nuisances:
            counts = counts * nuisances["flux_norm"]
        if "detector_norm" in nuisances:
            counts = counts * _per_column(nuisances["detector_norm"], self.detector_index)
        return counts

    def jacobian(
        self, params: Mapping[str, Any], nuisances: Mapping[str, Any], names: list[str]
    ) -> dict[str, np.ndarray]:
        """Exact derivatives of :meth:`expected` (NumPy, scalar parameters).

        Returns d expected / d x per column for every physics parameter in ``names`` and
        for every nuisance value present in ``nuisances`` (shape (size, n_columns) for
        vector nuisances); the fits use them for exact gradients.
        """
        p = {**_DEFAULTS, **self.fixed, **params}
        rm = self.rate_model
        is_e = rm.mu_index == 1
        mu = np.where(is_e, p["mu_nu_e"], p["mu_nu_mu"])
        r2 = np.where(is_e, p["r2_nu_e"], p["r2_nu_mu"])
        s = p["sin2_theta_w"] + CHARGE_RADIUS_SHIFT * r2
        strength = p["signal_strength"]
        coefficients: Any = rm.polynomial
        z = None
        if self.radius_slopes is not None and "neutron_radius" in nuisances:
            z = np.atleast_1d(np.asarray(nuisances["neutron_radius"], dtype=float))[
                self.radius_index
            ]
            first, second = self.radius_slopes
            coefficients = [rm.polynomial[k] + z * first[k] + z * z * second[k] for k in range(4)]
        _, c1, c2, cm = coefficients
        weak = polynomial_counts(coefficients, p["sin2_theta_w"], r2)  # S = 1, mu = 0
        base = strength * weak + cm * mu**2
        flux = float(nuisances.get("flux_norm", 1.0))
        det = (
            np.atleast_1d(np.asarray(nuisances["detector_norm"], dtype=float))[self.detector_index]
            if "detector_norm" in nuisances
            else np.ones(base.size)
        )
        scale = flux * det
        slope = strength * (c1 + 2.0 * c2 * s) * scale
        out: dict[str, np.ndarray] = {}
        for name in names:
            if name == "sin2_theta_w":
                out[name] = slope
            elif name == "signal_strength":
                out[name] = weak * scale
            elif name in ("mu_nu_mu", "mu_nu_e"):
                out[name] = np.where(is_e == (name == "mu_nu_e"), 2.0 * cm * mu * scale, 0.0)
            elif name in ("mu_nu_mu_squared", "mu_nu_e_squared"):
                out[name] = np.where(is_e == (name == "mu_nu_e_squared"), cm * scale, 0.0)
            elif name in ("r2_nu_mu", "r2_nu_e"):
                out[name] = np.where(is_e == (name == "r2_nu_e"), CHARGE_RADIUS_SHIFT * slope, 0.0)
            else:
                raise KeyError(f"no derivative for parameter {name!r}")
        if "flux_norm" in nuisances:
            out["flux_norm"] = base * det
        if "detector_norm" in nuisances:
            onehot = self.detector_index[None, :] == np.arange(len(self.detector_names))[:, None]
            out["detector_norm"] = onehot * (base * flux)
        if z is not None:
            # z is set only when the model has radius slopes and a radius index
            assert self.radius_slopes is not None and self.radius_index is not None
            first, second = self.radius_slopes
            d_coeff = [first[k] + 2.0 * z * second[k] for k in range(4)]
            d_base = polynomial_counts(d_coeff, p["sin2_theta_w"], r2, mu**2, strength)
            onehot = self.radius_index[None, :] == np.arange(len(self.radius_groups))[:, None]
            out["neutron_radius"] = onehot * (d_base * scale)
        return out

    def signal(self, params: Mapping[str, Any], nuisances: Mapping[str, Any] | None = None, xp=np):
        """Counts from neutrino scattering: all counts, in a counting study."""
        return self.expected(params, nuisances, xp)
