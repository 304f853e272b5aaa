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
from dataclasses import dataclass, replace
from typing import Any, ClassVar, Literal, Protocol

import numpy as np

from ..rates.coefficients import flavour_summed_counts
from .cost import poisson_deviance
from .parameters import defaults

__all__ = [
    "ExpectationModel",
    "NuisanceSpec",
    "constraint_neg2logpdf",
    "draw_auxiliary",
    "draw_pseudo_data",
    "normalisation_nuisances",
    "with_auxiliary",
]


@dataclass(frozen=True)
class NuisanceSpec:
    """A constrained nuisance parameter (possibly a vector of ``size`` entries).

    Attributes
    ----------
    name : str
        Identifier, e.g. ``"flux_norm"``.
    kind : {"lognormal", "normal", "poisson"}
        ``lognormal``: a positive scale exp(centre + sigma z), z ~ N(0, 1), nominal 1 for
        centre 0 (use for normalisations: it cannot go negative); ``centre`` holds the
        auxiliary measurement of ln(scale). ``normal``: centre + sigma z, ``centre`` the
        auxiliary measurement.
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
        The auxiliary measurement the constraint is centred on: the nominal value of a
        ``normal`` nuisance, ln of the nominal scale of a ``lognormal`` one (0: nominal 1),
        the auxiliary counts m of a ``poisson`` one. Toys redraw it
        (:func:`draw_auxiliary`), so fits of toys see the systematic.
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
            return np.exp(np.broadcast_to(np.asarray(self.centre, dtype=float), (self.size,)))
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
            return xp.exp(self.centre + self.sigma * z)
        return self.centre + self.sigma * z

    def z_of(self, value) -> np.ndarray:
        """Standard-normal coordinate of a (normal or log-normal) nuisance value."""
        value = np.asarray(value, dtype=float)
        if self.kind == "lognormal":
            return (np.log(value) - self.centre) / self.sigma
        if self.kind == "normal":
            return (value - self.centre) / self.sigma
        raise TypeError(f"{self.name}: a poisson nuisance has no standard-normal form")


def smooth_steady_state_nuisance(
    smooth: Any, constraint: str, prior: str, what: str = "steady state"
) -> NuisanceSpec:
    """The ``steady_state_smooth`` nuisance of a smooth steady-state model.

    Centred on the control-sample fit of ``smooth`` (a
    :class:`~cenns_bayes.detector.background.SmoothSteadyState`), whose deviance is its
    constraint; the description reads "<what> (<parameters>), constrained by <constraint>".
    """
    centre, sigma = smooth.fit_control()
    return NuisanceSpec(
        "steady_state_smooth",
        "auxiliary",
        sigma,
        centre,
        size=smooth.size,
        description=f"{what} ({', '.join(smooth.parameter_names)}), constrained by " + constraint,
        auxiliary=smooth,
        prior=prior,
    )


def normalisation_nuisances(
    flux_sigma: float,
    detector_sigma: float,
    n_detectors: int = 1,
    flux_description: str = "neutrino flux normalisation (neutrinos per proton)",
    detector_description: str = "detector normalisation (mass, other efficiencies)",
) -> list[NuisanceSpec]:
    """The log-normal flux and detector normalisations of a study's ``[nuisances]`` table.

    ``flux_norm`` (one ratio, shared by every detector at the source) and ``detector_norm``
    (one ratio per detector), each left out when its relative width is 0.
    """
    out = []
    if flux_sigma > 0:
        out.append(NuisanceSpec("flux_norm", "lognormal", flux_sigma, description=flux_description))
    if detector_sigma > 0:
        out.append(
            NuisanceSpec(
                "detector_norm",
                "lognormal",
                detector_sigma,
                size=n_detectors,
                description=detector_description,
            )
        )
    return out


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
        m = np.atleast_1d(np.asarray(spec.centre, dtype=float))
        return float(poisson_deviance(m, spec.sigma * np.atleast_1d(value)))
    if spec.kind == "auxiliary":
        centre = np.asarray(spec.centre, dtype=float)
        value_at = float(spec.auxiliary.control_neg2ll(value))
        return (
            value_at - float(spec.auxiliary.control_neg2ll(centre))
            if np.isfinite(value_at)
            else np.inf
        )
    if spec.kind == "lognormal" and np.any(value <= 0):
        return np.inf
    return float(np.sum(spec.z_of(value) ** 2))


def draw_auxiliary(
    spec: NuisanceSpec, true_value, rng: np.random.Generator, batch: tuple[int, ...] = ()
) -> np.ndarray:
    """A pseudo auxiliary measurement of ``spec`` when the nuisance's true value is ``true_value``.

    normal: centre ~ N(value, sigma); log-normal: ln-centre ~ N(ln value, sigma);
    poisson: m ~ Poisson(tau b); auxiliary: the control-data centre, unchanged.
    Shape ``batch + (size,)``: one measurement per toy of a batch (``true_value`` may
    then hold one true value per toy).
    """
    shape = (*batch, spec.size)
    if spec.kind == "auxiliary":
        # The control samples stay as observed: their likelihood is not redrawn per toy.
        return np.broadcast_to(np.asarray(spec.centre, dtype=float), shape).copy()
    value = np.asarray(true_value, dtype=float)
    if spec.size == 1 and batch and value.shape == batch:
        value = value[..., None]  # one scalar true value per toy
    value = np.broadcast_to(value, shape)
    if spec.kind == "normal":
        return rng.normal(value, spec.sigma, size=shape)
    if spec.kind == "lognormal":
        return rng.normal(np.log(value), spec.sigma, size=shape)
    return rng.poisson(spec.sigma * value, size=shape).astype(float)


def draw_pseudo_data(
    expected,
    nuisances: list[NuisanceSpec],
    true_nuisances: Mapping[str, Any],
    rng: np.random.Generator,
    size: int | None = None,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Main counts n ~ Poisson(expected) and one auxiliary measurement per nuisance.

    The one toy generator: :meth:`ModelBase.sample` (coverage, Feldman-Cousins belts,
    Brazil bands), the posterior predictive check and the PyMC model's random draws (SBC)
    all draw through it.

    Parameters
    ----------
    expected : array, shape (n_bins,) or (n_toys, n_bins)
        Expected main counts; one row per toy when two-dimensional.
    nuisances : list of NuisanceSpec
        The constrained nuisances whose auxiliary measurements are drawn.
    true_nuisances : mapping
        True value of each nuisance: one value (shape (size,) or scalar) for every toy, or,
        for a batch, one per toy (shape (n_toys,) or (n_toys, size)).
    rng : numpy.random.Generator
    size : int, optional
        Number of toys drawn at one ``expected`` (n_bins,): the counts get shape
        (size, n_bins) and each auxiliary measurement (size, nuisance size).

    Returns
    -------
    (counts, auxiliary)
        Float counts; auxiliary measurements by nuisance name, shape ``batch + (size,)``.
    """
    mean = np.asarray(expected, dtype=float)
    shape = mean.shape if size is None else (size, *mean.shape)
    counts = rng.poisson(mean, size=shape).astype(float)
    batch = shape[:-1]
    auxiliary = {
        spec.name: draw_auxiliary(spec, true_nuisances[spec.name], rng, batch) for spec in nuisances
    }
    return counts, auxiliary


def with_auxiliary(
    nuisances: list[NuisanceSpec], auxiliary: Mapping[str, Any]
) -> list[NuisanceSpec]:
    """The nuisances with their constraints centred on new auxiliary measurements.

    A scalar nuisance keeps a scalar centre.
    """
    out = []
    for spec in nuisances:
        if spec.name in auxiliary:
            aux = np.asarray(auxiliary[spec.name], dtype=float)
            spec = replace(
                spec,
                centre=float(aux.ravel()[0]) if spec.size == 1 and spec.kind != "poisson" else aux,
            )
        out.append(spec)
    return out


class ExpectationModel(Protocol):
    """What a statistical model exposes to fits, samplers and toys.

    Counting and response models implement :meth:`expected` (NumPy and PyTensor) and
    inherit the rest from :class:`ModelBase`; the fitter, the PyMC builder and every toy
    generator use only these members.

    Attributes
    ----------
    observed : np.ndarray
        Observed counts per bin (non-integer for Asimov data).
    parameter_names : list of str
        Physics parameters the expectation depends on (free ones come from the study).
    nuisances : list of NuisanceSpec
        Constrained nuisance parameters, centred on their auxiliary measurements.
    bin_labels : list
        A label per bin, for reports.
    fixed : dict
        Values of the physics parameters a fit does not free.
    additive_poisson : dict
        Poisson nuisances added to the expectation bin by bin (name -> tau); the fitter
        profiles them in closed form. Empty for most models.
    has_jacobian : bool
        Whether :meth:`jacobian` gives exact derivatives (the fitter then uses them).
    """

    observed: np.ndarray
    parameter_names: list[str]
    nuisances: list[NuisanceSpec]
    fixed: dict[str, float]
    additive_poisson: dict[str, float]
    has_jacobian: bool

    @property
    def bin_labels(self) -> list:
        """A label per bin (read-only: a model may compute it)."""
        ...

    def expected(self, params: Mapping[str, Any], nuisances: Mapping[str, Any], xp=np) -> Any:
        """Expected counts per bin for physics ``params`` and nuisance values."""
        ...

    def signal(self, params: Mapping[str, Any], nuisances: Mapping[str, Any], xp=np) -> Any:
        """The neutrino-scattering part of :meth:`expected`."""
        ...

    def nominal_nuisances(self) -> dict[str, Any]:
        """Nuisances at the centres of their constraints."""
        ...

    def jacobian(
        self, params: Mapping[str, Any], nuisances: Mapping[str, Any], names: list[str]
    ) -> dict[str, np.ndarray]:
        """D expected / d (each parameter in ``names`` and each nuisance value)."""
        ...

    def sample(
        self,
        params: Mapping[str, Any],
        rng: np.random.Generator,
        nuisances: Mapping[str, Any] | None = None,
        size: int | None = None,
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Pseudo-data: main counts and auxiliary measurements, drawn at the true values.

        ``size`` toys at once give arrays with a leading toy axis.
        """
        ...

    def with_data(
        self, observed: np.ndarray, auxiliary: Mapping[str, Any] | None = None
    ) -> ExpectationModel:
        """The same model with other main data and auxiliary measurements (a toy)."""
        ...


class ModelBase:
    """What every statistical model shares: toys, data swaps and nominal nuisances.

    A subclass (a dataclass with ``observed``, ``nuisances``, ``fixed``) implements
    :meth:`expected` and :meth:`signal`, and :meth:`jacobian` if it can.
    """

    # Fields every subclass defines; declared here so that the shared methods type-check
    # (``__dataclass_fields__`` lets ``dataclasses.replace`` accept ``self``).
    __dataclass_fields__: ClassVar[dict[str, Any]]
    observed: np.ndarray
    nuisances: list[NuisanceSpec]
    fixed: dict[str, float]
    additive_poisson: dict[str, float] = {}
    has_jacobian = False
    flavors: list[str]  # response models: the flavours of the coupling rows

    @property
    def _nuisance_names(self) -> set[str]:
        return {n.name for n in self.nuisances}

    def _value(self, params: Mapping[str, Any], name: str):
        """Physics parameter ``name``: given, else fixed by the study, else its SM value."""
        if name in params:
            return params[name]
        return self.fixed.get(name, defaults().get(name, 0.0))

    def _weighted_cevns(self, rows, params: Mapping[str, Any], nuisances: Mapping[str, Any]):
        """CEvNS counts of coupling rows (n_flavours, 4, n_bins) of :attr:`flavors`.

        The polynomial of :func:`cenns_bayes.rates.coefficients.flavour_summed_counts`,
        times the signal strength and the flux and detector normalisations present.
        """
        total = flavour_summed_counts(rows, self.flavors, lambda name: self._value(params, name))
        scale = self._value(params, "signal_strength")
        for name in ("flux_norm", "detector_norm"):
            if name in self._nuisance_names:
                scale = scale * nuisances[name]
        return scale * total

    def expected(self, params: Mapping[str, Any], nuisances: Mapping[str, Any], xp=np) -> Any:
        """Expected counts per bin: each model defines it."""
        raise NotImplementedError(f"{type(self).__name__} defines no expectation")

    def nominal_nuisances(self) -> dict[str, Any]:
        """Nuisances at the centres of their constraints (scalars as floats)."""
        out: dict[str, Any] = {}
        for n in self.nuisances:
            value = n.nominal()
            out[n.name] = value if n.kind == "poisson" or n.size > 1 else float(value[0])
        return out

    def jacobian(self, params, nuisances, names):
        """Not available: fits use numerical derivatives."""
        raise NotImplementedError(f"{type(self).__name__} has no exact derivatives")

    def sample(
        self,
        params: Mapping[str, Any],
        rng: np.random.Generator,
        nuisances: Mapping[str, Any] | None = None,
        size: int | None = None,
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Main counts n ~ Poisson(expected) and one auxiliary measurement per nuisance.

        The nuisances' true values default to their nominal ones; the auxiliary
        measurements scatter around them (:func:`draw_pseudo_data`), so a toy fitted through
        :meth:`with_data` carries the systematic uncertainty as the real data do. With
        ``size`` the counts have shape (size, n_bins) and each auxiliary measurement
        (size, nuisance size): one toy per row.
        """
        true = self.nominal_nuisances() if nuisances is None else dict(nuisances)
        mean = self.expected({**self.fixed, **params}, true)
        return draw_pseudo_data(mean, self.nuisances, true, rng, size)

    def with_data(self, observed, auxiliary=None):
        """The same model with main data ``observed`` and constraints centred on ``auxiliary``."""
        return replace(
            self,
            observed=np.asarray(observed, dtype=float),
            nuisances=with_auxiliary(self.nuisances, auxiliary or {}),
        )
