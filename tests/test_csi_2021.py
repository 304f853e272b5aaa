"""COHERENT CsI 2021: shipped files, Gamma / timing response, the PE x time model and its fit."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from scipy import integrate, stats

from cenns_bayes.datasets.coherent_csi_2021 import (
    CSI_2021_DATA_FILES,
    ReleaseFileError,
    csi_2021_directory,
    load_coherent_csi_2021,
)
from cenns_bayes.detector.csi_2021 import (
    MUON_LIFETIME_US,
    PION_LIFETIME_US,
    arrival_time_density,
    electron_equivalent_kevee,
    gamma_pe_bin_probabilities,
    time_bin_fractions,
)
from cenns_bayes.specs import SpecError, load_study
from cenns_bayes.stats.binned import model_for_study
from cenns_bayes.stats.csi2021 import CsI2021Model
from cenns_bayes.stats.fit import fit_study

from .conftest import MODELS

CSI21 = MODELS / "coherent_csi_2021.toml"


@pytest.fixture(scope="module")
def csi21() -> CsI2021Model:
    return model_for_study(load_study(CSI21))


# ----------------------------------------------------------------------------- release


def test_release_event_counts_in_the_analysis_region():
    r = load_coherent_csi_2021()
    assert r.events_c.shape == (5142, 2) and r.events_ac.shape == (4890, 2)  # REFERENCE.md §2
    for events, n in ((r.events_c, 1578), (r.events_ac, 1295)):  # REFERENCE.md §1
        inside = (events[:, 0] <= 60) & (events[:, 1] >= 0) & (events[:, 1] <= 6)
        assert inside.sum() == n
    assert set(r.scintillation) == {"nominal", "eig0_plus", "eig0_minus", "eig1_plus", "eig1_minus"}
    assert r.efficiency["plus"][2] < r.efficiency["nominal"][2] < r.efficiency["minus"][2]


def test_altered_file_is_refused_with_one_line(tmp_path):
    folder = tmp_path / "release"
    shutil.copytree(str(csi_2021_directory()), folder)
    target = folder / "dataBeamOnC.txt"
    target.chmod(0o644)
    target.write_bytes(target.read_bytes().replace(b"111.189", b"111.188", 1))
    with pytest.raises(ReleaseFileError) as err:
        load_coherent_csi_2021(folder)
    assert "dataBeamOnC.txt" in str(err.value) and "\n" not in str(err.value)
    (folder / "brnPE.txt").unlink()
    with pytest.raises(ReleaseFileError, match="missing"):
        load_coherent_csi_2021(folder)
    assert len(CSI_2021_DATA_FILES) == 8


# ----------------------------------------------------------------------------- response pieces


def test_gamma_smearing_is_normalised_with_the_light_yield_mean():
    energy = np.array([0.3, 1.0, 2.5, 4.0])  # keVee
    edges = np.linspace(0.0, 400.0, 40001)
    prob = gamma_pe_bin_probabilities(energy, edges)
    assert np.allclose(prob.sum(axis=0), 1.0, atol=1e-9)
    centres = 0.5 * (edges[1:] + edges[:-1])
    # mean 1 / a = E / 0.0749 = 13.35 E PE; variance shape * scale^2 (closed form of the Gamma law)
    assert np.allclose(centres @ prob, energy / 0.0749, rtol=1e-6)
    shape = 1 + 9.56 * energy
    scale = 1.0 / (0.0749 / energy * shape)
    var = (centres**2) @ prob - (centres @ prob) ** 2
    assert np.allclose(var, shape * scale**2 + 0.01**2 / 12, rtol=1e-4)
    assert np.allclose(
        prob[:, 2], np.diff(stats.gamma.cdf(edges, shape[2], scale=scale[2])), atol=1e-12
    )


def test_scintillation_polynomial_units():
    # E_ee = a T + b T^2 + ... with T in MeVnr: 10 keVnr -> 0.01 MeVnr
    coeffs = [0.0554628, 4.30681, -111.707, 840.384]
    t = 0.01
    expected = 1e3 * (coeffs[0] * t + coeffs[1] * t**2 + coeffs[2] * t**3 + coeffs[3] * t**4)
    assert electron_equivalent_kevee(np.array([10.0]), coeffs)[0] == pytest.approx(
        expected, rel=1e-12
    )


def test_arrival_time_densities_integrate_to_one_with_the_lifetime_means():
    centre, width = 0.5, 0.17
    for component, mean in (
        ("prompt", centre + PION_LIFETIME_US),
        ("delayed", centre + PION_LIFETIME_US + MUON_LIFETIME_US),
    ):
        total = integrate.quad(
            lambda t, c=component: arrival_time_density(t, c, centre, width), -2, 60, limit=400
        )[0]
        first = integrate.quad(
            lambda t, c=component: t * arrival_time_density(t, c, centre, width), -2, 60, limit=400
        )[0]
        assert total == pytest.approx(1.0, abs=1e-6)
        assert first == pytest.approx(mean, abs=1e-5)
    # without acceptance, the binned fractions over a long window are the density's integral
    frac = time_bin_fractions(np.linspace(-2.0, 40.0, 43), "delayed", centre, width, 1e9, 0.0)
    assert frac.sum() == pytest.approx(1.0 - np.exp(-(40.0 - centre) / MUON_LIFETIME_US), abs=1e-4)


# ----------------------------------------------------------------------------- model


def test_model_bins_and_components(csi21):
    n_pe = len({b[:2] for b in csi21.bin_labels})
    n_t = len({b[2:] for b in csi21.bin_labels})
    assert csi21.observed.size == n_pe * n_t
    assert csi21.bin_labels[-1][1] == 60.0 and csi21.bin_labels[-1][3] == 6.0
    # the bins left out below the efficiency's zero hold no C event
    assert csi21.observed.sum() == 1578
    nominal = csi21.nominal_nuisances()
    comps = csi21.components({}, nominal)
    total = sum(comps.values())
    assert np.allclose(total, csi21.expected({}, nominal))
    assert comps["prompt_neutrons"].sum() == pytest.approx(18.4, rel=1e-9)
    assert comps["neutrino_induced_neutrons"].sum() == pytest.approx(5.6, rel=1e-9)
    # steady state from the anticoincidence sample: its total equals the AC count (tau = 1)
    assert comps["steady_state"].sum() == pytest.approx(1295.0, rel=1e-3)
    # the measured pulse (from the NIN time shape) is a sub-microsecond pulse
    assert 0.3 < csi21.notes["pulse_centre_us"] < 0.7 and 0.05 < csi21.notes["pulse_width_us"] < 0.3


def test_asimov_fit_returns_the_standard_model(tmp_path):
    # coarser bins (4 PE x 0.5 us) keep the fast suite fast; the data fit below uses the spec's
    text = (
        CSI21.read_text()
        .replace('kind = "coherent-csi-2021"  #', 'kind = "asimov"  #')
        .replace("pe_bin_width = 2.0", "pe_bin_width = 4.0")
        .replace("time_bin_width_us = 0.25", "time_bin_width_us = 0.5")
    )
    path = tmp_path / "asimov.toml"
    path.write_text(text)
    fit = fit_study(load_study(path))
    assert fit["parameters"]["signal_strength"]["best"] == pytest.approx(1.0, abs=2e-3)


def test_real_data_fit_meets_the_published_comparison(csi21):
    fit = fit_study(load_study(CSI21), csi21)
    events = fit["derived"]["cevns_events"]
    assert abs(events["sm_expected"] / 341.0 - 1) < 0.15  # published 341 +- 11 +- 42
    assert abs(events["best"] - 306.0) < 30.0  # published 306 +- 20
    assert fit["significance_sigma"] >= 10.0  # published 11.6
    xs = fit["derived"]["flux_averaged_cross_section_cm2"]
    assert 135e-40 < xs["best"] < 195e-40  # published 165 (+30 / -25) x 1e-40 cm^2


def test_spec_errors_are_one_line(tmp_path):
    text = CSI21.read_text()
    for old, new in (
        ('nucleus = "CsI"', 'nucleus = "Ar40"'),
        ("light_yield_pe_per_kevee = 13.35", "quenching = { a = 0.08 }"),
        ("pe_bin_width = 2.0", "pe_bin_width = 7.0"),
        ("prompt_neutrons = {", "steady_state = { events = 1.0 }\nprompt_neutrons = {"),
    ):
        bad = tmp_path / "bad.toml"
        bad.write_text(text.replace(old, new))
        with pytest.raises(SpecError) as err:
            load_study(bad)
        assert "\n" not in str(err.value).strip()


@pytest.mark.slow
def test_posterior_agrees_with_the_profile_fit(csi21):
    pytest.importorskip("pymc")
    from cenns_bayes.bayes import diagnostics, sample_study, summarise_posterior

    study = load_study(CSI21)
    result = sample_study(study, draws=500, tune=500, chains=2, progressbar=False, prior_draws=10)
    d = diagnostics(result.idata, ["signal_strength"])
    assert d["divergences"] == 0 and d["max_r_hat"] <= 1.01, d
    median = summarise_posterior(result.idata, ["signal_strength"])["signal_strength"]["median"]
    lo, hi = fit_study(study, csi21)["parameters"]["signal_strength"]["interval_68"]
    assert lo < median < hi
