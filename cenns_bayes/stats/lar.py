"""Binned model of the COHERENT CENNS-10 liquid-argon 2020 release: energy x F90 x time (960 bins).

The expected count in bin (e, f, t) is

    mu_eft = s * A_flux * A_mass * sum_fl sum_r w_{fl r}(theta)
                 * [R_{fl r e}(z_QF) P_eft + Delta_eft(z)]
             + n_p (B_eft + Delta^B_eft(z)) + n_d D_eft + n_ss S_eft

* R_{fl r e}: the exact coefficient rows (pp, pn, nn, mag) of :mod:`cenns_bayes.rates` for
  flavour fl, integrated over the recoil energy T with the argon response (QF(T) = a + b T,
  Gaussian resolution sigma/E = r/sqrt(E), the release's acceptance at the reconstructed
  energy) into the 12 energy bins. The weights w = (g_p^2, 2 g_p g_n, g_n^2, mu^2) keep the
  count an exact polynomial in sin^2(theta_W), <r^2> and mu^2.
* P_eft: the release's CEvNS template divided by its energy marginal, i.e. the F90 x time
  shape in each energy bin (energy bins holding less than 10^-6 of the template's events
  take the shape of the highest bin above that). The same shape serves every flavour
  (docs/coherent_lar_2020.md).
* QF a and b are nuisances entering through templates (recomputed rows at z = 0, +-1, +-2,
  interpolated as the CsI model's :class:`~cenns_bayes.stats.binned.ShapeTerm`); the
  release's 8 shape systematics enter the same way (5 nuisances: F90 and timing mean of
  CEvNS; energy, timing mean and timing width of the prompt neutrons; one-sided variations
  mirrored).
* B, D, S: the release's prompt-neutron, delayed-neutron and steady-state templates scaled
  to the spec's events, with Gaussian-constrained normalisations n = 1 + (sigma/events) z.

:meth:`LArModel.expected` uses only arithmetic and ``xp.where``, so the same code builds
NumPy values and PyTensor graphs (the :class:`~cenns_bayes.stats.model.ExpectationModel`
protocol).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..detector.energy_response import energy_bin_probabilities, trapezoid_weights
from ..physics.cross_sections import max_recoil_kev
from ..physics.sns import sns_spectrum
from ..rates.coefficients import (
    DetectorSetup,
    differential_coefficients,
)

# Couplings, parameter defaults and the expectation floor are the response model's own.
from .binned import _DEFAULTS, _FLOOR, interpolation_coefficients
from .model import ModelBase, NuisanceSpec, normalisation_nuisances

__all__ = ["LArModel", "TemplateShift", "build_lar_model", "energy_response_detector"]

#: Reconstructed-energy sub-bins for the acceptance, keVee (the acceptance file's 0.5-keVee bins).
_FINE_WIDTH_KEVEE = 0.5
#: Background templates and their normalisation nuisances.
_BACKGROUNDS = {
    "prompt_neutrons": "prompt_neutron_norm",
    "delayed_neutrons": "delayed_neutron_norm",
    "steady_state": "steady_state_norm",
}


@dataclass(frozen=True, eq=False)
class TemplateShift:
    """A template difference driven by one nuisance z: polynomial through the nodes, linear beyond.

    The same interpolation as :class:`~cenns_bayes.stats.binned.ShapeTerm` (coefficients from
    :func:`~cenns_bayes.stats.binned.interpolation_coefficients`), with the end values kept so
    a NumPy evaluation at a scalar computes one branch only.

    Attributes
    ----------
    name : str
        The nuisance.
    coeffs : ndarray (n_nodes, ...)
    slopes : ndarray (2, ...)
        Slopes at the lowest and highest node.
    lower, upper : float
        Outermost nodes.
    """

    name: str
    coeffs: np.ndarray
    slopes: np.ndarray
    lower: float
    upper: float

    @classmethod
    def from_nodes(cls, name: str, nodes: np.ndarray, values: np.ndarray) -> TemplateShift:
        """Interpolate ``values`` (n_nodes, ...) given at ``nodes`` (which include 0)."""
        c, s = interpolation_coefficients(nodes, values)
        return cls(name, c, s, float(nodes[0]), float(nodes[-1]))

    def _poly(self, z):
        out = 0.0
        for k in range(self.coeffs.shape[0] - 1, 0, -1):
            out = (out + self.coeffs[k]) * z
        return out

    @property
    def _ends(self) -> tuple[np.ndarray, np.ndarray]:
        cached = self.__dict__.get("_ends_cache")
        if cached is None:
            cached = (self._poly(self.lower), self._poly(self.upper))
            object.__setattr__(self, "_ends_cache", cached)
        return cached

    def evaluate(self, z, xp=np):
        """The difference at z (NumPy scalar or array, or a PyTensor scalar)."""
        at_lo, at_hi = self._ends
        if xp is np and np.ndim(z) == 0:
            z = float(z)
            if z < self.lower:
                return at_lo + self.slopes[0] * (z - self.lower)
            if z > self.upper:
                return at_hi + self.slopes[1] * (z - self.upper)
            return self._poly(z)
        below = at_lo + self.slopes[0] * (z - self.lower)
        above = at_hi + self.slopes[1] * (z - self.upper)
        return xp.where(z < self.lower, below, xp.where(z > self.upper, above, self._poly(z)))

    def take_flavour(self, i: int) -> TemplateShift:
        """The shift of flavour ``i`` only (arrays shaped (n_nodes, n_flavours, ...))."""
        return TemplateShift(
            self.name, self.coeffs[:, i : i + 1], self.slopes[:, i : i + 1], self.lower, self.upper
        )


@dataclass(eq=False)
class LArModel(ModelBase):
    """Expected counts of the LAr 2020 analysis in 12 x 8 x 10 bins (``ExpectationModel``).

    Attributes
    ----------
    observed : ndarray (960,)
    parameter_names : list of str
    nuisances : list of NuisanceSpec
    bin_labels : list of tuple
        ``(e_lo_kevee, e_hi_kevee, f90_lo, f90_hi, t_lo_us, t_hi_us)``, energy-major.
    flavors : list of str
    rows : ndarray (n_flavours, 4, 960)
        Nominal CEvNS coefficient templates (counts per unit weight).
    energy_rows : ndarray (n_flavours, 4, 12)
        The same summed over F90 and time (the physics-core energy spectrum).
    cevns_terms : list of TemplateShift
        Template differences of the CEvNS rows, (n_nodes, n_flavours, 4, 960).
    backgrounds : dict[str, ndarray (960,)]
        Nominal background templates.
    background_terms : dict[str, list of TemplateShift]
        Template differences of a background, (n_nodes, 960).
    fixed : dict
    notes : dict
    """

    observed: np.ndarray
    parameter_names: list[str]
    nuisances: list[NuisanceSpec]
    bin_labels: list
    flavors: list[str]
    rows: np.ndarray
    energy_rows: np.ndarray
    cevns_terms: list[TemplateShift]
    backgrounds: dict[str, np.ndarray]
    background_terms: dict[str, list[TemplateShift]]
    fixed: dict[str, float]
    notes: dict[str, Any] = field(default_factory=dict)
    detector_names: list[str] = field(default_factory=list)
    #: ``(recoil_grid_kev, A, B)``: the nominal response as a linear map of recoil spectra,
    #: rows[f, r] = (dI_{f r}/dT @ A.T) @ B[f] (:func:`~cenns_bayes.stats.joint.project_spectra`).
    spectrum_projection: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
    #: Use the exact :meth:`jacobian` in fits (False: numerical derivatives; see
    #: :attr:`has_jacobian`).
    exact_gradients: bool = True

    # ------------------------------------------------------------------ evaluation
    @staticmethod
    def _z(nuisances: Mapping[str, Any], name: str):
        return nuisances[name] if name in nuisances else 0.0

    def signal(self, params: Mapping[str, Any], nuisances: Mapping[str, Any], xp=np):
        """Expected CEvNS counts per bin (signal strength, flux and mass included)."""
        rows: Any = self.rows
        for term in self.cevns_terms:
            rows = rows + term.evaluate(self._z(nuisances, term.name), xp)
        return self._weighted_cevns(rows, params, nuisances)

    def background(self, name: str, nuisances: Mapping[str, Any], xp=np):
        """Expected counts per bin of one background template (0 when absent)."""
        if name not in self.backgrounds:
            return 0.0
        template: Any = self.backgrounds[name]
        for term in self.background_terms.get(name, []):
            template = template + term.evaluate(self._z(nuisances, term.name), xp)
        norm = self._background_norm(name)
        if norm in self._nuisance_names:
            template = template * nuisances[norm]
        return template

    @staticmethod
    def _background_norm(name: str) -> str:
        """Name of the normalisation nuisance of background ``name``."""
        return _BACKGROUNDS[name]

    def expected(self, params: Mapping[str, Any], nuisances: Mapping[str, Any], xp=np):
        """Expected counts per bin (NumPy array or PyTensor tensor)."""
        total = self.signal(params, nuisances, xp)
        for name in self.backgrounds:
            total = total + self.background(name, nuisances, xp)
        return xp.where(total > _FLOOR, total, _FLOOR)

    @property
    def has_jacobian(self) -> bool:
        """Whether :meth:`jacobian` covers every parameter and nuisance of this model.

        It does when the physics parameters are coupling parameters or ``signal_strength``
        (every nuisance is a normalisation, a template driver or the smooth steady state).
        Assign False to make the fitter use numerical derivatives.
        """
        from .jacobians import PHYSICS_PARAMETERS

        return self.exact_gradients and set(self.parameter_names) <= PHYSICS_PARAMETERS | {
            "signal_strength"
        }

    @has_jacobian.setter
    def has_jacobian(self, value: bool) -> None:
        self.exact_gradients = bool(value)

    def jacobian(
        self, params: Mapping[str, Any], nuisances: Mapping[str, Any], names: list[str]
    ) -> dict[str, Any]:
        """Exact d expected / d x (:func:`~cenns_bayes.stats.jacobians.lar_jacobian`).

        Also for :class:`~cenns_bayes.stats.csi2021.CsI2021Model`. Single-study fits and the
        joint model (:mod:`.joint`) use it where :attr:`has_jacobian` is True.
        """
        from .jacobians import lar_jacobian

        return lar_jacobian(self, params, nuisances, names)

    def components(
        self, params: Mapping[str, Any], nuisances: Mapping[str, Any]
    ) -> dict[str, np.ndarray]:
        """NumPy expectation per component: CEvNS per flavour and each background."""
        out = {}
        for i, flavor in enumerate(self.flavors):
            only = type(self)(
                **{
                    **self.__dict__,
                    "rows": self.rows[i : i + 1],
                    "flavors": [flavor],
                    "cevns_terms": [t.take_flavour(i) for t in self.cevns_terms],
                }
            )
            out[f"cevns_{flavor}"] = np.asarray(only.signal(params, nuisances), dtype=float)
        for name in self.backgrounds:
            out[name] = np.asarray(self.background(name, nuisances), dtype=float)
        return out


# ---------------------------------------------------------------------- building


def _energy_rows(
    setup: DetectorSetup,
    flavors: list[str],
    grid: np.ndarray,
    release,
    qf_a: float,
    qf_b: float,
    resolution: float,
) -> np.ndarray:
    """Coefficient rows per flavour in the release's energy bins, (n_flav, 4, n_energy)."""
    matrix = _energy_matrix(grid, release, qf_a, qf_b, resolution)  # (n_energy, n_T)
    spectra = np.stack(
        [differential_coefficients(setup, f, grid) for f in flavors]
    )  # (n_f, 4, n_T)
    return spectra @ matrix.T


def _energy_matrix(
    grid: np.ndarray, release, qf_a: float, qf_b: float, resolution: float
) -> np.ndarray:
    """Counts per energy bin per unit dN/dT on ``grid``, acceptance included, (n_energy, n_T)."""
    e_edges = np.asarray(release.energy_edges_kevee, dtype=float)
    fine_edges = np.arange(e_edges[0], e_edges[-1] + 0.5 * _FINE_WIDTH_KEVEE, _FINE_WIDTH_KEVEE)
    fine_centres = 0.5 * (fine_edges[1:] + fine_edges[:-1])
    acc_x = np.asarray(release.acceptance_kevee, float)
    acc_y = np.asarray(release.acceptance, float)
    # the file's 0.5-keVee bins coincide with the sub-bins; above its last bin (40 keVee) the
    # last value is kept (the acceptance is flat there, 0.95-0.96)
    acceptance = np.interp(fine_centres, acc_x, acc_y, left=0.0, right=float(acc_y[-1]))
    prob = energy_bin_probabilities(grid, fine_edges, qf_a, qf_b, resolution)  # (n_fine, n_T)
    per_fine = acceptance[:, None] * prob * trapezoid_weights(grid)[None, :]
    n_sub = int(round((e_edges[1] - e_edges[0]) / _FINE_WIDTH_KEVEE))
    return per_fine.reshape(e_edges.size - 1, n_sub, -1).sum(axis=1)


def _cevns_shape(template: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """F90 x time shape per energy bin: ``template`` over the energy marginal of ``reference``.

    Energy bins where ``reference`` is (nearly) empty take the shape of the highest non-empty bin.
    """
    marginal = reference.sum(axis=(1, 2))
    ok = marginal > 1e-6 * marginal.sum()
    last = int(np.flatnonzero(ok)[-1])
    shape = np.zeros_like(template)
    shape[ok] = template[ok] / marginal[ok, None, None]
    shape[~ok] = template[last] / marginal[last]
    return shape


def _expand(energy_rows: np.ndarray, shape: np.ndarray) -> np.ndarray:
    """(..., n_energy) rows x (n_energy, n_f90, n_time) shape -> (..., 960) flat bins."""
    full = energy_rows[..., :, None, None] * shape
    return full.reshape(*energy_rows.shape[:-1], -1)


def _recoil_grid(setup: DetectorSetup, flavors: list[str], n_points: int) -> np.ndarray:
    lo, hi = setup.recoil_window_kev
    if hi is None:
        e_max = max(sns_spectrum(f, setup.prompt_energy_mev).max_energy_mev for f in flavors)
        hi = float(max_recoil_kev(e_max, setup.target.min_nucleus_mass_mev))
    return np.geomspace(lo, hi, n_points)


def energy_response_detector(spec: Any, detector: str | None = None) -> Any:
    """The detector of ``spec`` with ``[detectors.energy_response]``.

    The one named ``detector``, or the first such detector when ``detector`` is None.
    """
    return next(
        d for d in spec.detectors if d.energy_response is not None and (detector in (None, d.name))
    )


def build_lar_model(study, detector: str | None = None) -> LArModel:
    """Build the :class:`LArModel` of a study's detector with ``[detectors.energy_response]``."""
    from ..datasets.coherent_lar import SHAPE_SYSTEMATICS, load_coherent_lar_2020

    spec = study.spec
    det = energy_response_detector(spec, detector)
    response = det.energy_response
    release = load_coherent_lar_2020()
    flavors = study.flavors
    setup = study.setup(det.name)
    grid = _recoil_grid(setup, flavors, response.recoil_grid_points)
    q = response.quenching
    res = response.resolution_sqrt_kevee
    hist = release.histograms
    cevns_template = np.asarray(hist["cevns"], float)
    shape = _cevns_shape(cevns_template, cevns_template)

    energy_rows = _energy_rows(setup, flavors, grid, release, q.a, q.b_per_kevnr, res)
    rows = _expand(energy_rows, shape)
    nuisances: list[NuisanceSpec] = []
    cevns_terms: list[TemplateShift] = []
    ns = spec.nuisances
    nuisances += normalisation_nuisances(
        ns.flux_sigma,
        ns.detector_sigma,
        detector_description="fiducial mass (detector normalisation)",
    )
    qf_nodes = np.array(
        sorted({0.0, *response.template_sigmas, *(-s for s in response.template_sigmas)})
    )
    if ns.quenching:
        for pname, sigma in (("a", q.a_sigma), ("b", q.b_sigma_per_kevnr)):
            if sigma <= 0:
                continue
            node_rows = []
            for z in qf_nodes:
                a = q.a + z * sigma if pname == "a" else q.a
                b = q.b_per_kevnr + z * sigma if pname == "b" else q.b_per_kevnr
                node_rows.append(
                    _expand(_energy_rows(setup, flavors, grid, release, a, b, res), shape)
                )
            cevns_terms.append(
                TemplateShift.from_nodes(f"qf_{pname}", qf_nodes, np.stack(node_rows))
            )
            unit = "" if pname == "a" else " per keVnr"
            nuisances.append(
                NuisanceSpec(
                    f"qf_{pname}",
                    "normal",
                    1.0,
                    0.0,
                    description=f"QF {pname} = {getattr(q, 'a' if pname == 'a' else 'b_per_kevnr')}"
                    f" + {sigma}{unit} z (z in sigma)",
                )
            )

    backgrounds: dict[str, np.ndarray] = {}
    background_terms: dict[str, list[TemplateShift]] = {}
    templates = spec.backgrounds.release_templates
    scales: dict[str, float] = {}
    if templates is not None:
        for name, norm_name in _BACKGROUNDS.items():
            entry = getattr(templates, name)
            if entry is None:
                continue
            nominal = np.asarray(hist[name], float)
            scales[name] = entry.events / nominal.sum()
            backgrounds[name] = (nominal * scales[name]).ravel()
            if entry.sigma > 0:
                nuisances.append(
                    NuisanceSpec(
                        norm_name,
                        "normal",
                        entry.sigma / entry.events,
                        1.0,
                        description=f"{name.replace('_', ' ')} normalisation, "
                        f"{entry.events:g} +- {entry.sigma:g} events",
                    )
                )

    if response.shape_systematics:
        sys_nodes = np.array([-1.0, 0.0, 1.0])
        for name, (component, plus, minus) in SHAPE_SYSTEMATICS.items():
            up = np.asarray(hist[plus], float)
            nominal = np.asarray(hist[component], float)
            down = (
                np.asarray(hist[minus], float) if minus is not None else 2.0 * nominal - up
            )  # mirrored
            if component == "cevns":
                values = np.stack(
                    [_expand(energy_rows, _cevns_shape(v, nominal)) for v in (down, nominal, up)]
                )
                cevns_terms.append(TemplateShift.from_nodes(name, sys_nodes, values))
            elif component in backgrounds:
                values = np.stack([(v * scales[component]).ravel() for v in (down, nominal, up)])
                background_terms.setdefault(component, []).append(
                    TemplateShift.from_nodes(name, sys_nodes, values)
                )
            else:
                continue
            sided = "two-sided" if minus is not None else "one-sided, mirrored"
            nuisances.append(
                NuisanceSpec(
                    name,
                    "normal",
                    1.0,
                    0.0,
                    description=f"release shape systematic ({sided}), z in sigma",
                )
            )

    e, f, t = release.energy_edges_kevee, release.f90_edges, release.time_edges_us
    labels = [
        (float(e[i]), float(e[i + 1]), float(f[j]), float(f[j + 1]), float(t[k]), float(t[k + 1]))
        for i in range(e.size - 1)
        for j in range(f.size - 1)
        for k in range(t.size - 1)
    ]
    free = study.free_parameters
    parameter_names = [p for p in _DEFAULTS if p in free or p in _DEFAULTS]
    fixed = {k: v for k, v in study.true_parameters().items() if k in parameter_names}
    notes = {
        "recoil_grid_points": int(grid.size),
        "recoil_grid_kevnr": (float(grid[0]), float(grid[-1])),
        "qf_template_nodes_sigma": qf_nodes.tolist(),
    }
    model = LArModel(
        observed=np.zeros(len(labels)),
        parameter_names=parameter_names,
        nuisances=nuisances,
        bin_labels=labels,
        flavors=list(flavors),
        rows=rows,
        energy_rows=energy_rows,
        cevns_terms=cevns_terms,
        backgrounds=backgrounds,
        background_terms=background_terms,
        fixed=fixed,
        notes=notes,
        detector_names=[det.name],
    )
    # the nominal response as a linear map of recoil spectra (per-isotope templates use it)
    n_e = energy_rows.shape[-1]
    model.spectrum_projection = (
        grid,
        _energy_matrix(grid, release, q.a, q.b_per_kevnr, res),
        np.broadcast_to(_expand(np.eye(n_e), shape), (len(flavors), n_e, rows.shape[-1])),
    )
    if spec.data.kind == "coherent-lar-2020":
        model.observed = np.asarray(hist["data"], float).ravel()
    else:  # asimov: the expectation at [parameters] with nominal nuisances
        model.observed = np.asarray(
            model.expected(study.true_parameters(), model.nominal_nuisances()), float
        )
    notes["sm_cevns"] = float(np.sum(model.signal(dict(_DEFAULTS), model.nominal_nuisances())))
    return model
