"""Binned model of the COHERENT CsI[Na] 2021 data: reconstructed PE x arrival time.

The analysis space is 0-60 PE x 0-6 µs.

The expected count in bin (p, t) is

    mu_pt = s * A_flux * A_det * sum_fl sum_r w_{fl r}(theta) [R_{fl r p}(z) T_{fl t}]
            + n_BRN B_pt + n_NIN N_pt + b_pt(theta_ss)

* R: the exact coefficient rows (pp, pn, nn, mag) of :mod:`cenns_bayes.rates` through the
  release's scintillation response, Gamma PE smearing and efficiency
  (:mod:`cenns_bayes.detector.csi_2021`); the weights keep the count an exact polynomial
  in sin^2(theta_W), <r^2> and mu^2 (the same evaluation as
  :class:`~cenns_bayes.stats.lar.LArModel`, whose code this model inherits).
* T: the fraction of each flavour's neutrinos accepted in time bin t (prompt nu_mu or
  delayed nu_e, anti-nu_mu; pulse measured from the NIN time shape, timing acceptance).
* The scintillation response's two eigen-variations and the efficiency's +-1 sigma set are
  three nuisances acting through templates (:class:`~cenns_bayes.stats.lar.TemplateShift`,
  nodes -1, 0, +1).
* B, N: the release's BRN and NIN shapes (PE x time, efficiency included) scaled to the
  spec's events, Gaussian-constrained normalisations.
* PE bins lying wholly below the lowest PE where any efficiency set is positive (6.3 PE)
  are left out: they can hold no beam event, and neither data sample has events there.
* b: the steady state, a :class:`~cenns_bayes.detector.background.SmoothSteadyState` (an
  amplitude per PE bin and an exponential in time) constrained by the beam-on
  anticoincidence events binned like the data (tau = 1).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..detector.background import SmoothSteadyState
from ..detector.csi_2021 import (
    electron_equivalent_kevee,
    fit_pulse_to_delayed_shape,
    gamma_pe_bin_probabilities,
    logistic_efficiency,
    time_bin_fractions,
)
from ..detector.energy_response import trapezoid_weights
from ..detector.response import ARRIVAL_TIME_COMPONENT
from ..rates.coefficients import differential_coefficients
from .lar import (
    _DEFAULTS,
    _FLOOR,
    LArModel,
    TemplateShift,
    _recoil_grid,
    energy_response_detector,
)
from .model import NuisanceSpec, normalisation_nuisances, smooth_steady_state_nuisance

__all__ = ["CsI2021Model", "build_csi_2021_model", "histogram_events"]

#: Analysis region of the release (REFERENCE.md §3).
PE_RANGE = (0.0, 60.0)
TIME_RANGE_US = (0.0, 6.0)
#: Reconstructed-PE sub-bins on which the efficiency is evaluated.
_FINE_PE = 0.1
#: Background name -> normalisation nuisance.
_NORMS = {"prompt_neutrons": "brn_norm", "neutrino_induced_neutrons": "nin_norm"}


@dataclass(eq=False)
class CsI2021Model(LArModel):
    """Expected counts of the CsI 2021 analysis in PE x time bins (``ExpectationModel``).

    Inherits signal and template evaluation from :class:`~cenns_bayes.stats.lar.LArModel`;
    adds the steady state driven by the auxiliary nuisance ``steady_state_smooth``.
    ``bin_labels`` are ``(pe_lo, pe_hi, t_lo_us, t_hi_us)``, PE-major.
    """

    steady_state_smooth: SmoothSteadyState | None = None

    @staticmethod
    def _background_norm(name: str) -> str:
        return _NORMS[name]

    def steady_state_counts(self, nuisances: Mapping[str, Any], xp=np):
        """Steady-state expectation per bin (0 without a steady state)."""
        if self.steady_state_smooth is None:
            return 0.0
        return self.steady_state_smooth.counts(nuisances["steady_state_smooth"], xp)

    def expected(self, params: Mapping[str, Any], nuisances: Mapping[str, Any], xp=np):
        """Expected counts per bin (NumPy array or PyTensor tensor)."""
        beam = self.signal(params, nuisances, xp)
        for name in self.backgrounds:
            beam = beam + self.background(name, nuisances, xp)
        beam = xp.where(beam > _FLOOR, beam, _FLOOR)
        return beam + self.steady_state_counts(nuisances, xp)

    def components(
        self, params: Mapping[str, Any], nuisances: Mapping[str, Any]
    ) -> dict[str, np.ndarray]:
        """NumPy expectation per component: CEvNS per flavour, BRN, NIN, steady state."""
        out = super().components(params, nuisances)
        out["steady_state"] = np.broadcast_to(
            np.asarray(self.steady_state_counts(nuisances), float), (self.observed.size,)
        ).copy()
        return out


def histogram_events(
    events: np.ndarray, pe_edges: np.ndarray, time_edges_us: np.ndarray
) -> np.ndarray:
    """Counts (n_pe, n_t) of unbinned (PE, µs) events in bins [lo, hi), last edge included."""
    counts, _, _ = np.histogram2d(events[:, 0], events[:, 1], bins=[pe_edges, time_edges_us])
    return counts


def _shape_in_bins(centres: np.ndarray, values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Sum a finely binned shape (bin centres) into analysis bins and normalise over them."""
    inside = (centres > edges[0]) & (centres < edges[-1])
    index = np.searchsorted(edges, centres[inside], side="right") - 1
    summed = np.bincount(index, weights=values[inside], minlength=edges.size - 1)
    return summed / summed.sum()


def _pe_matrix(
    grid: np.ndarray, pe_edges: np.ndarray, scint: np.ndarray, eff: np.ndarray
) -> np.ndarray:
    """Counts per analysis PE bin per unit dN/dT (keVnr), efficiency included, (n_pe, n_T)."""
    fine_edges = np.arange(pe_edges[0], pe_edges[-1] + 0.5 * _FINE_PE, _FINE_PE)
    centres = 0.5 * (fine_edges[1:] + fine_edges[:-1])
    prob = gamma_pe_bin_probabilities(electron_equivalent_kevee(grid, scint), fine_edges)
    per_fine = logistic_efficiency(centres, eff)[:, None] * prob * trapezoid_weights(grid)[None, :]
    index = np.clip(np.searchsorted(pe_edges, centres, side="right") - 1, 0, pe_edges.size - 2)
    out = np.zeros((pe_edges.size - 1, grid.size))
    np.add.at(out, index, per_fine)
    return out


def build_csi_2021_model(study, detector: str | None = None) -> CsI2021Model:
    """Build the :class:`CsI2021Model` of a detector with a coherent-csi-2021 energy response."""
    from ..datasets.coherent_csi_2021 import load_coherent_csi_2021

    spec = study.spec
    det = energy_response_detector(spec, detector)
    response = det.energy_response
    release = load_coherent_csi_2021()
    flavors = list(study.flavors)
    setup = study.setup(det.name)
    grid = _recoil_grid(setup, flavors, response.recoil_grid_points)
    pe_edges = np.arange(PE_RANGE[0], PE_RANGE[1] + 1e-9, response.pe_bin_width)
    t_edges = np.arange(TIME_RANGE_US[0], TIME_RANGE_US[1] + 1e-9, response.time_bin_width_us)
    # PE bins below the lowest PE at which any efficiency set is positive hold no beam events
    # (and the anticoincidence sample has none there to measure a steady state): left out
    probe = np.arange(0.0, PE_RANGE[1], 0.01)
    first_positive = min(
        float(probe[np.argmax(logistic_efficiency(probe, e) > 0)])
        for e in release.efficiency.values()
    )
    pe_edges = pe_edges[max(0, int(np.searchsorted(pe_edges, first_positive, side="right")) - 1) :]
    knee, slope = response.timing_acceptance
    pulse_centre, pulse_width, pulse_residual = fit_pulse_to_delayed_shape(
        release.nin_time[:, 0], release.nin_time[:, 1], knee, slope, TIME_RANGE_US
    )
    time_fractions = {
        c: time_bin_fractions(t_edges, c, pulse_centre, pulse_width, knee, slope)
        for c in ("prompt", "delayed")
    }
    spectra = np.stack(
        [differential_coefficients(setup, f, grid) for f in flavors]
    )  # (n_f, 4, n_T)
    per_time = np.stack([time_fractions[ARRIVAL_TIME_COMPONENT[f]] for f in flavors])  # (n_f, n_t)

    def rows_for(scint: np.ndarray, eff: np.ndarray) -> np.ndarray:
        pe = spectra @ _pe_matrix(grid, pe_edges, scint, eff).T  # (n_f, 4, n_pe)
        full = pe[..., :, None] * per_time[:, None, None, :]
        return full.reshape(*full.shape[:-2], -1)

    scint, effs = release.scintillation, release.efficiency
    rows = rows_for(scint["nominal"], effs["nominal"])
    nodes = np.array([-1.0, 0.0, 1.0])
    nuisances: list[NuisanceSpec] = []
    cevns_terms: list[TemplateShift] = []
    ns = spec.nuisances
    nuisances += normalisation_nuisances(ns.flux_sigma, ns.detector_sigma)
    if ns.quenching:
        for k in (0, 1):
            values = np.stack(
                [
                    rows_for(scint[f"eig{k}_minus"], effs["nominal"]),
                    rows,
                    rows_for(scint[f"eig{k}_plus"], effs["nominal"]),
                ]
            )
            cevns_terms.append(TemplateShift.from_nodes(f"qf_eig{k}", nodes, values))
            nuisances.append(
                NuisanceSpec(
                    f"qf_eig{k}",
                    "normal",
                    1.0,
                    0.0,
                    description=f"scintillation response eigen-variation {k}, z in sigma",
                )
            )
    if ns.efficiency:
        values = np.stack(
            [
                rows_for(scint["nominal"], effs["minus"]),
                rows,
                rows_for(scint["nominal"], effs["plus"]),
            ]
        )
        cevns_terms.append(TemplateShift.from_nodes("efficiency", nodes, values))
        nuisances.append(
            NuisanceSpec(
                "efficiency",
                "normal",
                1.0,
                0.0,
                description="efficiency curve between its -1 and +1 sigma sets, z in sigma",
            )
        )

    backgrounds: dict[str, np.ndarray] = {}
    templates = spec.backgrounds.release_templates
    shapes = {
        "prompt_neutrons": (release.brn_pe, release.brn_time),
        "neutrino_induced_neutrons": (release.nin_pe, release.nin_time),
    }
    if templates is not None:
        for name, (pe_shape, time_shape) in shapes.items():
            entry = getattr(templates, name)
            if entry is None:
                continue
            pe = _shape_in_bins(pe_shape[:, 0], pe_shape[:, 1], pe_edges)
            t = _shape_in_bins(time_shape[:, 0], time_shape[:, 1], t_edges)
            backgrounds[name] = entry.events * np.outer(pe, t).ravel()
            if entry.sigma > 0:
                nuisances.append(
                    NuisanceSpec(
                        _NORMS[name],
                        "normal",
                        entry.sigma / entry.events,
                        1.0,
                        description=f"{name.replace('_', ' ')} normalisation, "
                        f"{entry.events:g} +- {entry.sigma:g} events",
                    )
                )

    ac = histogram_events(np.asarray(release.events_ac), pe_edges, t_edges)
    try:
        smooth = SmoothSteadyState(ac, 1.0, t_edges[:-1], early_time_us=0.0, pe_shape="free")
    except ValueError as err:  # a PE bin without anticoincidence events: the binning is too fine
        from ..specs.errors import SpecPhysicsError

        raise SpecPhysicsError(
            study.path,
            "detectors.energy_response.pe_bin_width",
            f"{err} (the anticoincidence sample); use wider PE bins",
        ) from None
    nuisances.append(
        smooth_steady_state_nuisance(
            smooth,
            f"the {int(ac.sum())} beam-on anticoincidence events (tau = 1)",
            prior="jeffreys",
        )
    )

    labels = [
        (float(pe_edges[i]), float(pe_edges[i + 1]), float(t_edges[j]), float(t_edges[j + 1]))
        for i in range(pe_edges.size - 1)
        for j in range(t_edges.size - 1)
    ]
    parameter_names = list(_DEFAULTS)
    fixed = {k: v for k, v in study.true_parameters().items() if k in parameter_names}
    notes = {
        "recoil_grid_points": int(grid.size),
        "recoil_grid_kevnr": (float(grid[0]), float(grid[-1])),
        "pulse_centre_us": pulse_centre,
        "pulse_width_us": pulse_width,
        "pulse_fit_max_residual_rel": pulse_residual,
        "time_acceptance_fraction": {c: float(v.sum()) for c, v in time_fractions.items()},
        "steady_state_ac_events": float(ac.sum()),
        "pe_range_modelled": (float(pe_edges[0]), float(pe_edges[-1])),
        "efficiency_zero_below_pe": first_positive,
        "steady_state_norm_rel_sigma": float(1.0 / np.sqrt(ac.sum())),
    }
    model = CsI2021Model(
        observed=np.zeros(len(labels)),
        parameter_names=parameter_names,
        nuisances=nuisances,
        bin_labels=labels,
        flavors=flavors,
        rows=rows,
        energy_rows=rows.reshape(len(flavors), 4, pe_edges.size - 1, t_edges.size - 1).sum(axis=-1),
        cevns_terms=cevns_terms,
        backgrounds=backgrounds,
        background_terms={},
        fixed=fixed,
        notes=notes,
        detector_names=[det.name],
        steady_state_smooth=smooth,
    )
    # the nominal response as a linear map of recoil spectra (per-isotope templates use it)
    n_pe, n_t = pe_edges.size - 1, t_edges.size - 1
    model.spectrum_projection = (
        grid,
        _pe_matrix(grid, pe_edges, scint["nominal"], effs["nominal"]),
        (np.eye(n_pe)[None, :, :, None] * per_time[:, None, None, :]).reshape(
            len(flavors), n_pe, n_pe * n_t
        ),
    )
    if spec.data.kind == "coherent-csi-2021":
        model.observed = histogram_events(np.asarray(release.events_c), pe_edges, t_edges).ravel()
    else:  # asimov: the expectation at [parameters] with nominal nuisances
        model.observed = np.asarray(
            model.expected(study.true_parameters(), model.nominal_nuisances()), float
        )
    notes["sm_cevns"] = float(np.sum(model.signal(dict(_DEFAULTS), model.nominal_nuisances())))
    notes["observed_events"] = float(model.observed.sum())
    return model
