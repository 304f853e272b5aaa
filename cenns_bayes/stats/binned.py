"""Binned expectation model of a detector with a response (PE x arrival time), e.g. CsI 2017.

The expected count in analysis bin i is

    mu_i = signal_strength * flux * sum_f sum_r w_{f r}(theta) R_{f r i}(z)
           + neutron_norm * P_i(z) + b_i

* f runs over the flavours (numu prompt; nue, numubar delayed), r over the four exact
  coefficient rows (pp, pn, nn, mag) of :mod:`cenns_bayes.rates.coefficients`, with
  weights w = (g_p^2, 2 g_p g_n, g_n^2, mu_f^2), g_p = P0 + P1 (sin^2 + k <r^2_f>). The
  count therefore stays an exact polynomial in sin^2(theta_W), <r^2> and mu^2.
* R_{f r i}(z) is the template of row r: the differential coefficient spectrum dI/dT on
  a recoil grid, mapped through quenching, light yield, Poisson photo-electron smearing,
  the efficiency (1-PE bins, at the bin centre, with the spec's bin convention), the PE
  rebinning and the flavour's arrival-time PDF, restricted to the analysis region.
* Nuisances that change the response's *shape* (the QF scale, the efficiency's a, k, x0)
  enter by template interpolation: templates are computed at z = 0, +-1, +-2 (the spec's
  ``template_sigmas``), and each nuisance adds Delta_r(z) = sum_k c_k z^k, the unique
  polynomial through the node differences (degree 4 for five nodes, so smooth, with
  Delta(0) = 0 exactly), continued linearly with the end slope beyond the outermost nodes.
  Several nuisances add their differences (pyhf-style "histosys"; cross terms of
  simultaneous QF and efficiency shifts are neglected).
* P_i is the prompt-neutron template of the release, with the efficiency nuisances acting
  on it in the same way; b_i the steady-state background measured by the release's control
  samples (AC beam-on, C and AC beam-off, pooled with their live times): a smooth
  PE x time shape with a few parameters
  (:class:`~cenns_bayes.detector.background.SmoothSteadyState`), or a ``poisson``
  nuisance per bin, or (alternatives) the control counts taken as exact.
* A free ``neutron_skin_fm`` (r_n - r_p of all target nuclei) enters the same way: the
  rows are recomputed on a grid of skin values and fitted per bin by a quartic in the
  skin (the fit's largest relative residual is kept in :attr:`ResponseModel.notes`).

:meth:`ResponseModel.expected` uses only arithmetic and ``xp.where`` on the parameters,
so the same code builds NumPy values and PyTensor graphs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..detector.background import CONTROL_SAMPLE_NAMES, SmoothSteadyState, pooled_control_counts
from ..detector.response import (
    ARRIVAL_TIME_COMPONENT,
    DetectorResponse,
    ReleaseEfficiency,
    rebin,
)
from ..physics.cross_sections import max_recoil_kev
from ..physics.sns import sns_spectrum
from ..rates.coefficients import (
    DetectorSetup,
    differential_coefficients,
)
from .model import (
    ModelBase,
    NuisanceSpec,
    normalisation_nuisances,
    smooth_steady_state_nuisance,
)
from .parameters import defaults

__all__ = [
    "ResponseModel",
    "ShapeTerm",
    "build_response_model",
    "interpolation_coefficients",
    "model_for_study",
]

#: Physics parameters the response model understands, with their SM / nominal values.
_DEFAULTS: dict[str, float] = defaults()

#: Smallest expectation per bin (keeps ln mu finite when a template interpolation undershoots).
_FLOOR = 1e-9


def interpolation_coefficients(
    nodes: np.ndarray, values: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Polynomial through template differences at nodes, and its end slopes.

    Parameters
    ----------
    nodes : array (n_nodes,)
        Nuisance values (in sigma), including 0.
    values : array (n_nodes, ...)
        Templates at the nodes.

    Returns
    -------
    coeffs : array (n_nodes, ...)
        c_k with Delta(z) = sum_k c_k z^k and Delta(z_j) = values_j - values_at_0; c_0 = 0.
    slopes : array (2, ...)
        dDelta/dz at the lowest and highest node (for linear continuation).
    """
    nodes = np.asarray(nodes, dtype=float)
    values = np.asarray(values, dtype=float)
    i0 = int(np.flatnonzero(nodes == 0.0)[0])
    delta = values - values[i0]
    vander = nodes[:, None] ** np.arange(nodes.size)[None, :]
    flat = delta.reshape(nodes.size, -1)
    coeffs = np.linalg.solve(vander, flat).reshape(values.shape)
    coeffs[0] = 0.0
    k = np.arange(1, nodes.size)
    slopes = np.stack(
        [
            np.tensordot(k * nodes.min() ** (k - 1), coeffs[1:], axes=1),
            np.tensordot(k * nodes.max() ** (k - 1), coeffs[1:], axes=1),
        ]
    )
    return coeffs, slopes


@dataclass(frozen=True, eq=False)
class ShapeTerm:
    """An additive, polynomially interpolated template difference driven by one scalar.

    Attributes
    ----------
    name : str
        The nuisance (or parameter) that drives it.
    source : {"nuisance", "parameter"}
        Where its value is looked up in :meth:`ResponseModel.expected`.
    origin : float
        The value at which the difference vanishes (0 for nuisances in sigma).
    coeffs_rows : ndarray (n_nodes, n_flavours, 4, n_bins)
        Polynomial coefficients of the CEvNS rows' difference.
    slopes_rows : ndarray (2, n_flavours, 4, n_bins)
    coeffs_neutrons, slopes_neutrons : ndarray or None
        The same for the prompt-neutron template.
    lower, upper : float
        Outermost nodes (relative to ``origin``); linear continuation beyond them.
    """

    name: str
    source: str
    origin: float
    coeffs_rows: np.ndarray
    slopes_rows: np.ndarray
    coeffs_neutrons: np.ndarray | None
    slopes_neutrons: np.ndarray | None
    lower: float
    upper: float

    def evaluate(self, value, coeffs: np.ndarray, slopes: np.ndarray, xp=np):
        """Delta at ``value`` (NumPy or PyTensor scalar)."""
        z = value - self.origin
        poly = 0.0
        for k in range(coeffs.shape[0] - 1, 0, -1):
            poly = (poly + coeffs[k]) * z
        at_lo = self._poly_at(coeffs, self.lower)
        at_hi = self._poly_at(coeffs, self.upper)
        below = at_lo + slopes[0] * (z - self.lower)
        above = at_hi + slopes[1] * (z - self.upper)
        return xp.where(z < self.lower, below, xp.where(z > self.upper, above, poly))

    @staticmethod
    def _poly_at(coeffs: np.ndarray, z: float) -> np.ndarray:
        return np.tensordot(z ** np.arange(coeffs.shape[0]), coeffs, axes=1)


@dataclass(eq=False)
class ResponseModel(ModelBase):
    """Expected counts in PE x time bins of one detector with a response (``ExpectationModel``).

    Build with :func:`build_response_model`. Bins are the analysis region's (PE, time)
    cells flattened PE-major, or PE bins only when timing is not used.

    Attributes
    ----------
    observed : ndarray (n_bins,)
    parameter_names : list of str
    nuisances : list of NuisanceSpec
    bin_labels : list of tuple
        ``(pe_lo, pe_hi, t_lo_us, t_hi_us)`` per bin.
    flavors : list of str
    rows : ndarray (n_flavours, 4, n_bins)
        Nominal CEvNS coefficient templates (counts per unit weight).
    neutrons : ndarray (n_bins,) or None
        Nominal prompt-neutron template.
    steady_state : ndarray (n_bins,) or None
        Pooled control counts per bin (the steady-state measurement; for the smooth
        model its expectation at the control-only fit), if any.
    steady_state_treatment : {"smooth", "measured", "exact", "flat-measured", "flat-exact", \
"factorised-exact"} or None
    steady_state_smooth : SmoothSteadyState or None
        The smooth steady-state shape, driven by the ``auxiliary`` nuisance
        ``steady_state_smooth``.
    shape_terms : list of ShapeTerm
    fixed : dict
        Values of the parameters that are not free (from ``[parameters]``).
    additive_poisson : dict
        Poisson nuisances that enter the expectation additively, one per bin
        (name -> tau); fitters may profile them in closed form.
    notes : dict
        Build diagnostics (grid size, interpolation residuals, totals).
    """

    observed: np.ndarray
    parameter_names: list[str]
    nuisances: list[NuisanceSpec]
    bin_labels: list
    flavors: list[str]
    rows: np.ndarray
    neutrons: np.ndarray | None
    steady_state: np.ndarray | None
    steady_state_treatment: str | None
    shape_terms: list[ShapeTerm]
    fixed: dict[str, float]
    additive_poisson: dict[str, float] = field(default_factory=dict)
    notes: dict[str, Any] = field(default_factory=dict)
    steady_state_spread: np.ndarray | None = None
    steady_state_smooth: SmoothSteadyState | None = None
    #: ``(recoil_grid_kev, A, B)``: the nominal response as a linear map of recoil spectra,
    #: rows[f, r] = (dI_{f r}/dT @ A.T) @ B[f] (:func:`~cenns_bayes.stats.joint.project_spectra`).
    spectrum_projection: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
    #: Use the exact :meth:`jacobian` in fits where it covers the model (False: numerical
    #: derivatives; see :attr:`has_jacobian`).
    exact_gradients: bool = True

    # ------------------------------------------------------------------ evaluation
    def _rows(self, params: Mapping[str, Any], nuisances: Mapping[str, Any], xp=np):
        rows: Any = self.rows
        for term in self.shape_terms:
            if term.source == "nuisance":
                value = nuisances[term.name] if term.name in nuisances else 0.0
            elif term.name in params:
                value = params[term.name]
            else:
                value = self.fixed.get(term.name, term.origin)
            rows = rows + term.evaluate(value, term.coeffs_rows, term.slopes_rows, xp)
        return rows

    def signal(self, params: Mapping[str, Any], nuisances: Mapping[str, Any], xp=np):
        """Expected CEvNS counts per bin (signal strength and flux included)."""
        rows = self._rows(params, nuisances, xp)
        return self._weighted_cevns(rows, params, nuisances)

    def neutron_counts(self, nuisances: Mapping[str, Any], xp=np):
        """Expected prompt-neutron counts per bin (0 when the study has none)."""
        if self.neutrons is None:
            return 0.0
        template: Any = self.neutrons
        for term in self.shape_terms:
            if term.coeffs_neutrons is not None and term.slopes_neutrons is not None:
                value = nuisances[term.name] if term.name in nuisances else 0.0
                template = template + term.evaluate(
                    value, term.coeffs_neutrons, term.slopes_neutrons, xp
                )
        if "neutron_norm" in self._nuisance_names:
            template = template * nuisances["neutron_norm"]
        return template

    def steady_state_counts(self, nuisances: Mapping[str, Any], xp=np):
        """Steady-state expectation per bin: the nuisance, or the AC counts when taken as exact."""
        if self.steady_state is None:
            return 0.0
        if self.steady_state_treatment == "measured":
            return nuisances["steady_state"]
        if self.steady_state_treatment == "flat-measured":
            return xp.sum(self.steady_state_spread * nuisances["steady_state"], axis=1)
        if self.steady_state_treatment == "smooth":
            assert self.steady_state_smooth is not None  # the "smooth" treatment sets it
            return self.steady_state_smooth.counts(nuisances["steady_state_smooth"], xp)
        return self.steady_state

    def expected(self, params: Mapping[str, Any], nuisances: Mapping[str, Any], xp=np):
        """Expected counts per bin (NumPy array or PyTensor tensor)."""
        beam = self.signal(params, nuisances, xp) + self.neutron_counts(nuisances, xp)
        beam = xp.where(beam > _FLOOR, beam, _FLOOR)
        return beam + self.steady_state_counts(nuisances, xp)

    @property
    def has_jacobian(self) -> bool:
        """Whether :meth:`jacobian` covers every parameter and nuisance of this model.

        It does for the steady-state treatments ``"smooth"`` and ``"exact"`` (or none), no
        additive Poisson nuisances, and physics parameters that are coupling parameters,
        ``signal_strength`` or drive a shape term (``neutron_skin_fm``). Assign False to make
        the fitter use numerical derivatives.
        """
        from .jacobians import PHYSICS_PARAMETERS

        covered = PHYSICS_PARAMETERS | {"signal_strength"} | {t.name for t in self.shape_terms}
        return (
            self.exact_gradients
            and (self.steady_state is None or self.steady_state_treatment in ("smooth", "exact"))
            and not self.additive_poisson
            and set(self.parameter_names) <= covered
        )

    @has_jacobian.setter
    def has_jacobian(self, value: bool) -> None:
        self.exact_gradients = bool(value)

    def jacobian(
        self, params: Mapping[str, Any], nuisances: Mapping[str, Any], names: list[str]
    ) -> dict[str, Any]:
        """Exact d expected / d x (:func:`~cenns_bayes.stats.jacobians.response_jacobian`).

        Single-study fits and the joint model (:mod:`.joint`) use it where
        :attr:`has_jacobian` is True.
        """
        from .jacobians import response_jacobian

        return response_jacobian(self, params, nuisances, names)

    # ------------------------------------------------------------------ helpers
    def nominal_nuisances(self) -> dict[str, np.ndarray | float]:
        """Nuisances at their nominal values (scalars as floats; steady state at the AC counts)."""
        out: dict[str, Any] = {}
        for n in self.nuisances:
            if n.kind == "poisson":
                out[n.name] = np.asarray(n.centre, dtype=float) / n.sigma
            else:
                value = n.nominal()
                out[n.name] = float(value[0]) if n.size == 1 else value
        return out

    def components(
        self, params: Mapping[str, Any], nuisances: Mapping[str, Any]
    ) -> dict[str, np.ndarray]:
        """NumPy expectation per component: CEvNS per flavour, prompt neutrons, steady state."""
        out = {}
        for i, flavor in enumerate(self.flavors):
            only = ResponseModel(
                **{
                    **self.__dict__,
                    "rows": self.rows[i : i + 1],
                    "flavors": [flavor],
                    "shape_terms": [_slice_term(t, i) for t in self.shape_terms],
                }
            )
            out[f"cevns_{flavor}"] = np.asarray(only.signal(params, nuisances), dtype=float)
        n_bins = self.observed.size
        out["prompt_neutrons"] = np.broadcast_to(
            np.asarray(self.neutron_counts(nuisances), float), (n_bins,)
        ).copy()
        out["steady_state"] = np.broadcast_to(
            np.asarray(self.steady_state_counts(nuisances), float), (n_bins,)
        ).copy()
        return out


def _slice_term(term: ShapeTerm, i: int) -> ShapeTerm:
    return ShapeTerm(
        term.name,
        term.source,
        term.origin,
        term.coeffs_rows[:, i : i + 1],
        term.slopes_rows[:, i : i + 1],
        term.coeffs_neutrons,
        term.slopes_neutrons,
        term.lower,
        term.upper,
    )


# ---------------------------------------------------------------------- building


@dataclass(frozen=True)
class _Binning:
    pe_edges: np.ndarray
    time_edges_us: np.ndarray
    pdfs: dict[str, np.ndarray]  # "prompt", "delayed", "neutrons" (may be absent)
    pe_slice: slice
    time_slice: slice
    use_timing: bool

    def project(self, pe_counts: np.ndarray, pdf: np.ndarray) -> np.ndarray:
        """(..., n_pe) PE spectrum x time PDF -> (..., n_bins) in the analysis region."""
        full = np.asarray(pe_counts)[..., :, None] * pdf
        return self.region(full)

    def region(self, full: np.ndarray) -> np.ndarray:
        """(..., n_pe, n_time) -> (..., n_bins)."""
        cut = full[..., self.pe_slice, self.time_slice]
        if self.use_timing:
            return cut.reshape(*cut.shape[:-2], -1)
        return cut.sum(axis=-1)

    def labels(self) -> list[tuple[float, float, float, float]]:
        pe = self.pe_edges
        t = self.time_edges_us
        i_range = range(self.pe_slice.start, self.pe_slice.stop)
        j_range = range(self.time_slice.start, self.time_slice.stop)
        if self.use_timing:
            return [(pe[i], pe[i + 1], t[j], t[j + 1]) for i in i_range for j in j_range]
        return [(pe[i], pe[i + 1], t[j_range.start], t[j_range.stop]) for i in i_range]


def _edge(edges: np.ndarray, value: float) -> int:
    return int(np.flatnonzero(np.isclose(edges, value))[0])


def _binning(study, response, release) -> _Binning:
    pe_edges = np.arange(0, response.pe_max + 1, response.pe_bin_width, dtype=float)
    if response.timing == "explicit":
        t_edges = np.asarray(response.time_edges_us, dtype=float)
        pdfs = {
            "prompt": np.asarray(response.time_pdf_prompt, float),
            "delayed": np.asarray(response.time_pdf_delayed, float),
        }
    else:
        t_edges = np.asarray(release.time_edges_us, dtype=float)
        pdfs = {
            "prompt": np.asarray(release.time_pdf_prompt_neutrinos, float),
            "delayed": np.asarray(release.time_pdf_delayed_neutrinos, float),
            "neutrons": np.asarray(release.time_pdf_prompt_neutrons, float),
        }
    a = study.spec.analysis
    pe_slice = slice(_edge(pe_edges, a.pe_range[0]), _edge(pe_edges, a.pe_range[1]))
    t_slice = slice(_edge(t_edges, a.time_range_us[0]), _edge(t_edges, a.time_range_us[1]))
    return _Binning(pe_edges, t_edges, pdfs, pe_slice, t_slice, a.use_timing)


def _qf_model(quenching, scale: float):
    if quenching.model == "constant":
        return quenching.value * scale
    coefficients = np.asarray(quenching.coefficients, dtype=float)

    def qf(recoil_kev: np.ndarray) -> np.ndarray:
        t = np.asarray(recoil_kev, dtype=float)
        return np.clip(np.polynomial.polynomial.polyval(t, coefficients), 0.0, None) * scale

    return qf


def _efficiency_values(eff_section, shifts: Mapping[str, float], centres: np.ndarray) -> np.ndarray:
    """Efficiency at the 1-PE bin centres with parameters shifted by ``shifts`` (in sigma)."""
    if eff_section.model == "none":
        return np.ones_like(centres)
    values = {}
    for name in ("a", "k_per_pe", "x0_pe"):
        p = getattr(eff_section, name)
        z = shifts.get(name, 0.0)
        values[name] = p.value + z * (p.error_hi if z >= 0 else p.error_lo)
    eff = ReleaseEfficiency(values["a"], values["k_per_pe"], values["x0_pe"])
    return np.clip(eff(centres), 0.0, 1.0)


def _recoil_grid(setup: DetectorSetup, flavors: list[str], n_points: int) -> np.ndarray:
    lo = setup.recoil_window_kev[0]
    hi = setup.recoil_window_kev[1]
    if hi is None:
        e_max = max(sns_spectrum(f, setup.prompt_energy_mev).max_energy_mev for f in flavors)
        hi = float(max_recoil_kev(e_max, setup.target.min_nucleus_mass_mev))
    return np.geomspace(lo, hi, n_points)


def _one_pe_rows(setup, flavors, grid, quenching, response, qf_scale: float) -> np.ndarray:
    """Coefficient rows per flavour in 1-PE bins before efficiency, (n_flav, 4, n_one_pe)."""
    matrix = _one_pe_matrix(grid, quenching, response, qf_scale)  # (n_one_pe, n_T)
    spectra = np.stack(
        [differential_coefficients(setup, f, grid) for f in flavors]
    )  # (n_f, 4, n_T)
    return spectra @ matrix.T


def _one_pe_matrix(grid, quenching, response, qf_scale: float) -> np.ndarray:
    """1-PE counts per unit dN/dT on ``grid`` before efficiency, (n_one_pe, n_T)."""
    det_response = DetectorResponse(
        qf=_qf_model(quenching, qf_scale),
        light_yield_pe_per_kevee=response.light_yield_pe_per_kevee,
        efficiency=None,
        pe_bin_convention=response.efficiency.pe_bin_convention,
        n_one_pe_bins=response.pe_max,
        rebin_factor=1,
    )
    return det_response.response_matrix(grid).matrix_before_efficiency


def build_response_model(study, detector: str | None = None) -> ResponseModel:
    """Build the :class:`ResponseModel` of a study's detector with a response.

    Parameters
    ----------
    study : cenns_bayes.specs.Study
    detector : str, optional
        Detector name (default: the one with a ``[detectors.response]``).
    """
    from ..datasets.coherent import load_coherent_csi_2017

    spec = study.spec
    name = detector or study.response_detector
    det = next(d for d in spec.detectors if d.name == name)
    response = det.response
    flavors = study.flavors
    free = study.free_parameters
    release = load_coherent_csi_2017()
    binning = _binning(study, response, release)
    setup = study.setup(name)
    grid = _recoil_grid(setup, flavors, response.recoil_grid_points)
    nodes = np.array(
        sorted({0.0, *response.template_sigmas, *(-s for s in response.template_sigmas)})
    )
    n_one_pe = response.pe_max
    centres = np.arange(n_one_pe, dtype=float) + 0.5
    width = response.pe_bin_width
    pdf_of = [binning.pdfs[ARRIVAL_TIME_COMPONENT[f]] for f in flavors]

    def project_rows(one_pe_rows: np.ndarray, eff: np.ndarray) -> np.ndarray:
        pe = rebin(one_pe_rows * eff, width, axis=-1)  # (n_f, 4, n_pe)
        return np.stack([binning.project(pe[i], pdf_of[i]) for i in range(len(flavors))])

    with_neutrons = spec.backgrounds.prompt_neutrons is not None

    def project_neutrons(eff: np.ndarray) -> np.ndarray:
        per_bin = np.asarray(release.prompt_neutron_per_gwh) * release.exposure_gwh * eff
        return binning.project(rebin(per_bin, width), binning.pdfs["neutrons"])

    base_one_pe = _one_pe_rows(setup, flavors, grid, response.quenching, response, 1.0)
    eff0 = _efficiency_values(response.efficiency, {}, centres)
    rows = project_rows(base_one_pe, eff0)
    neutrons = project_neutrons(eff0) if with_neutrons else None

    nuisances: list[NuisanceSpec] = []
    terms: list[ShapeTerm] = []
    ns = spec.nuisances
    nuisances += normalisation_nuisances(ns.flux_sigma, ns.detector_sigma)
    qf_rel = response.quenching.relative_width()
    if ns.quenching and qf_rel > 0:
        values = np.stack(
            [
                project_rows(
                    _one_pe_rows(
                        setup, flavors, grid, response.quenching, response, 1.0 + z * qf_rel
                    ),
                    eff0,
                )
                for z in nodes
            ]
        )
        c, s = interpolation_coefficients(nodes, values)
        terms.append(ShapeTerm("qf_shift", "nuisance", 0.0, c, s, None, None, nodes[0], nodes[-1]))
        nuisances.append(
            NuisanceSpec(
                "qf_shift",
                "normal",
                1.0,
                0.0,
                description=f"QF scale 1 + {qf_rel:.4f} z (z in sigma)",
            )
        )
    if ns.efficiency and response.efficiency.model != "none":
        for pname in ("a", "k_per_pe", "x0_pe"):
            p = getattr(response.efficiency, pname)
            if p.error_hi == 0 and p.error_lo == 0:
                continue
            effs = [_efficiency_values(response.efficiency, {pname: z}, centres) for z in nodes]
            c, s = interpolation_coefficients(
                nodes, np.stack([project_rows(base_one_pe, e) for e in effs])
            )
            cn = sn = None
            if with_neutrons:
                cn, sn = interpolation_coefficients(
                    nodes, np.stack([project_neutrons(e) for e in effs])
                )
            nname = f"efficiency_{pname}"
            terms.append(ShapeTerm(nname, "nuisance", 0.0, c, s, cn, sn, nodes[0], nodes[-1]))
            nuisances.append(
                NuisanceSpec(
                    nname,
                    "normal",
                    1.0,
                    0.0,
                    description=f"efficiency {pname} shift in sigma "
                    f"(+{p.error_hi} / -{p.error_lo})",
                )
            )
    if with_neutrons and spec.backgrounds.prompt_neutrons.normalisation_sigma > 0:
        nuisances.append(
            NuisanceSpec(
                "neutron_norm",
                "lognormal",
                spec.backgrounds.prompt_neutrons.normalisation_sigma,
                description="prompt-neutron normalisation",
            )
        )
    notes: dict[str, Any] = {
        "recoil_grid_points": int(grid.size),
        "recoil_grid_kev": (float(grid[0]), float(grid[-1])),
        "template_nodes_sigma": nodes.tolist(),
    }
    if "neutron_skin_fm" in free:
        terms.append(_skin_term(study, name, flavors, grid, response, project_rows, eff0, notes))

    steady = None
    steady_spread = None
    treatment = None
    additive: dict[str, float] = {}
    ss = spec.backgrounds.steady_state
    smooth = None
    if ss is not None:
        control, tau = _pooled_control(ss, release)
        steady = binning.region(control)
        treatment = ss.effective_model()
        if treatment == "smooth":
            cut = control[binning.pe_slice, binning.time_slice]
            t_lo = binning.time_edges_us[binning.time_slice.start : binning.time_slice.stop]
            try:
                smooth = SmoothSteadyState(
                    cut if binning.use_timing else cut.sum(axis=1),
                    tau,
                    t_lo if binning.use_timing else None,
                    early_time_us=ss.early_time_us,
                    pe_shape=ss.pe_shape,
                )
            except ValueError as err:  # e.g. a PE bin without control counts: a spec problem
                from ..specs.errors import SpecPhysicsError

                raise SpecPhysicsError(study.path, "backgrounds.steady_state", str(err)) from None
            nuisances.append(
                smooth_steady_state_nuisance(
                    smooth,
                    f"the control samples {ss.samples()} (tau = {tau:.4f})",
                    prior=ss.rate_prior,
                    what="smooth steady-state background",
                )
            )
            centre = np.asarray(nuisances[-1].centre, dtype=float)
            notes["steady_state_smooth_control_fit"] = dict(
                zip(smooth.parameter_names, centre.tolist(), strict=True)
            )
            steady = smooth.counts(centre)
        elif treatment == "measured":
            nuisances.append(
                NuisanceSpec(
                    "steady_state",
                    "poisson",
                    tau,
                    steady.copy(),
                    size=steady.size,
                    description="steady-state background per bin (events), "
                    f"measured by the control samples {ss.samples()}",
                    prior=ss.rate_prior,
                )
            )
            additive["steady_state"] = tau
        elif treatment.startswith("flat"):
            # (n_bins, n_pe): bin i belongs to PE bin p with weight 1 / n_time (flat in time)
            n_pe = binning.pe_slice.stop - binning.pe_slice.start
            n_t = binning.time_slice.stop - binning.time_slice.start
            cut = control[binning.pe_slice, binning.time_slice]
            per_pe = cut.sum(axis=1)
            eye = np.eye(n_pe)
            spread = np.repeat(eye, n_t, axis=0) / n_t if binning.use_timing else eye
            if treatment == "flat-measured":
                steady_spread = spread
                nuisances.append(
                    NuisanceSpec(
                        "steady_state",
                        "poisson",
                        tau,
                        per_pe,
                        size=n_pe,
                        description="steady-state background per PE bin over the "
                        "region's time span (events), flat in time",
                        prior=ss.rate_prior,
                    )
                )
                steady = spread @ per_pe
            else:
                steady = spread @ per_pe / tau
        elif treatment == "factorised-exact":
            cut = control[binning.pe_slice, binning.time_slice]
            factorised = np.outer(cut.sum(axis=1), cut.sum(axis=0)) / cut.sum()
            steady = (factorised.ravel() if binning.use_timing else factorised.sum(axis=1)) / tau
        else:
            steady = steady / tau
        notes["steady_state_control"] = {
            "samples": ss.samples(),
            "tau": tau,
            "counts_in_region": float(binning.region(control).sum()),
        }

    parameter_names = [p for p in (*_DEFAULTS, "neutron_skin_fm") if p in free or p in _DEFAULTS]
    fixed = {k: v for k, v in study.true_parameters().items() if k in parameter_names}
    model = ResponseModel(
        observed=np.zeros(rows.shape[-1]),
        parameter_names=parameter_names,
        nuisances=nuisances,
        bin_labels=binning.labels(),
        flavors=list(flavors),
        rows=rows,
        neutrons=neutrons,
        steady_state=steady,
        steady_state_treatment=treatment,
        shape_terms=terms,
        fixed=fixed,
        additive_poisson=additive,
        notes=notes,
        steady_state_spread=steady_spread,
        steady_state_smooth=smooth,
    )
    # the nominal response as a linear map of recoil spectra (per-isotope templates use it)
    n_one = base_one_pe.shape[-1]
    model.spectrum_projection = (
        grid,
        _one_pe_matrix(grid, response.quenching, response, 1.0),
        project_rows(np.broadcast_to(np.eye(n_one), (len(flavors), n_one, n_one)), eff0),
    )
    if spec.data.kind == "coherent-csi-2017":
        model.observed = binning.region(np.asarray(release.coincidence_beam_on, dtype=float))
    else:  # asimov: the expectation at [parameters] with nominal nuisances
        model.observed = np.asarray(
            model.expected(study.true_parameters(), model.nominal_nuisances()), float
        )
    notes["sm_cevns_in_region"] = float(
        np.sum(model.signal(dict(_DEFAULTS), model.nominal_nuisances()))
    )
    return model


def _pooled_control(ss, release) -> tuple[np.ndarray, float]:
    """The release's control histograms named in the spec, summed, and their tau (25 x 24 grid)."""
    histograms = dict(
        zip(
            CONTROL_SAMPLE_NAMES,
            (
                release.anticoincidence_beam_on,
                release.coincidence_beam_off,
                release.anticoincidence_beam_off,
            ),
            strict=True,
        )
    )
    live = {
        "ac-beam-on": ss.beam_on_live_days,
        "c-beam-off": ss.beam_off_live_days,
        "ac-beam-off": ss.beam_off_live_days,
    }
    counts, _ = pooled_control_counts(histograms, ss.samples(), live, ss.beam_on_live_days)
    return counts, ss.exposure_ratio()


def _skin_term(study, name, flavors, grid, response, project_rows, eff0, notes) -> ShapeTerm:
    """Rows as a quartic in the neutron skin, fitted on a grid across the prior's range."""
    spec = study.spec
    prior = spec.priors["neutron_skin_fm"]
    origin = study.setup(name).neutron_skin_fm
    lo = getattr(prior, "lower", origin - 0.5)
    hi = getattr(prior, "upper", origin + 1.0)
    lo, hi = max(lo, -0.5), min(hi, 1.5)
    skins = np.linspace(lo, hi, 9)
    base = study.setup(name)
    rows_per_skin = []
    for skin in skins:
        setup = DetectorSetup(**{**base.__dict__, "neutron_skin_fm": float(skin)})
        rows_per_skin.append(
            project_rows(
                _one_pe_rows(setup, flavors, grid, response.quenching, response, 1.0), eff0
            )
        )
    values = np.stack(rows_per_skin)
    setup0 = DetectorSetup(**{**base.__dict__, "neutron_skin_fm": float(origin)})
    at_origin = project_rows(
        _one_pe_rows(setup0, flavors, grid, response.quenching, response, 1.0), eff0
    )
    x = skins - origin
    degree = 4
    vander = x[:, None] ** np.arange(1, degree + 1)[None, :]
    flat = (values - at_origin).reshape(skins.size, -1)
    sol, *_ = np.linalg.lstsq(vander, flat, rcond=None)
    coeffs = np.concatenate([np.zeros((1, flat.shape[1])), sol]).reshape(
        degree + 1, *at_origin.shape
    )
    fitted = at_origin + np.tensordot(x[:, None] ** np.arange(degree + 1)[None, :], coeffs, axes=1)
    scale = np.maximum(np.abs(values).max(), 1e-300)
    notes["neutron_skin_fit_max_residual_rel"] = float(np.abs(fitted - values).max() / scale)
    notes["neutron_skin_grid_fm"] = (float(lo), float(hi))
    k = np.arange(1, degree + 1)
    slopes = np.stack(
        [
            np.tensordot(k * x.min() ** (k - 1), coeffs[1:], axes=1),
            np.tensordot(k * x.max() ** (k - 1), coeffs[1:], axes=1),
        ]
    )
    # The skin shifts the nominal rows (origin): rows(origin) must equal the model's nominal rows.
    return ShapeTerm(
        "neutron_skin_fm",
        "parameter",
        float(origin),
        coeffs,
        slopes,
        None,
        None,
        float(x.min()),
        float(x.max()),
    )


def model_for_study(study):
    """The :class:`~cenns_bayes.stats.model.ExpectationModel` of any study.

    A study with an energy response gives a :class:`~cenns_bayes.stats.lar.LArModel`
    (COHERENT LAr 2020) or a :class:`~cenns_bayes.stats.csi2021.CsI2021Model` (CsI 2021);
    one with a detector response a :class:`ResponseModel`; an ordinary counting study
    (recoil windows or bins) gives a :class:`~cenns_bayes.stats.counting.CountingModel`.
    """
    if any(
        d.energy_response is not None and d.energy_response.release == "coherent-csi-2021"
        for d in study.spec.detectors
    ):
        from .csi2021 import build_csi_2021_model

        return build_csi_2021_model(study)
    if any(d.energy_response is not None for d in study.spec.detectors):
        from .lar import build_lar_model

        return build_lar_model(study)
    if study.response_detector is not None:
        return build_response_model(study)
    from .counting import CountingModel

    return CountingModel.from_study(study)
