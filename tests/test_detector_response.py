"""Tests of the detector response, the beam source and the on/off background likelihood.

Reference values come from the release note REFERENCE.md (efficiency values
§3.1, prompt-neutron counts §3.3, POT and fluence §3.5), from closed forms
(flat recoil spectrum, Poisson/Gamma identity) and from direct Monte Carlo
and numerical maximisation.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import optimize, stats

from cenns_bayes.datasets.coherent import CoherentCsI2017Release, load_coherent_csi_2017
from cenns_bayes.detector.background import (
    on_off_log_likelihood,
    on_off_profile_deviance,
    on_off_profile_gradient,
    on_off_profile_log_likelihood,
    poisson_log_likelihood,
    profiled_background,
    steady_state_from_anticoincidence,
)
from cenns_bayes.detector.beam import (
    neutrino_fluence_per_cm2,
    proton_energy_gev_from_pot,
    protons_on_target_from_exposure,
    resolve_protons_on_target,
)
from cenns_bayes.detector.response import (
    DetectorResponse,
    PhotoelectronSmearing,
    ReleaseEfficiency,
    analysis_region_mask,
    counts_in_one_pe_bins,
    mean_photoelectrons,
    pe_bin_centre_of_count,
    pe_time_expectation,
    prompt_neutron_template,
    rebin,
    release_step_function,
    required_n_pe_max,
    time_pdf_by_flavour,
    trapezoid_weights_kev,
)


@pytest.fixture(scope="module")
def release() -> CoherentCsI2017Release:
    return load_coherent_csi_2017()


@pytest.fixture(scope="module")
def efficiency(release: CoherentCsI2017Release) -> ReleaseEfficiency:
    return ReleaseEfficiency(*release.efficiency_parameters)


# ------------------------------------------------------------------ light and quenching


def test_trapezoid_weights() -> None:
    grid = np.array([0.0, 0.5, 2.0, 2.1, 7.0])
    values = np.array([1.0, -2.0, 3.5, 0.25, 4.0])
    assert trapezoid_weights_kev(grid) @ values == pytest.approx(
        np.trapezoid(values, grid), rel=1e-14
    )
    assert trapezoid_weights_kev(grid).sum() == pytest.approx(7.0, rel=1e-14)
    with pytest.raises(ValueError):
        trapezoid_weights_kev([0.0, 1.0, 1.0])


def test_mean_photoelectrons_constant_and_callable() -> None:
    recoil = np.array([0.0, 1.0, 10.0, 25.6])
    np.testing.assert_allclose(
        mean_photoelectrons(recoil, 0.0878, 13.348), recoil * 0.0878 * 13.348
    )
    # REFERENCE.md §3.4: 1 keVnr gives 1.172 PE on average.
    assert mean_photoelectrons(1.0, 0.0878, 13.348) == pytest.approx(1.172, abs=5e-4)
    np.testing.assert_allclose(
        mean_photoelectrons(recoil, lambda t: 0.05 + 0.001 * t, 10.0),
        (0.05 + 0.001 * recoil) * recoil * 10.0,
    )
    with pytest.raises(ValueError):
        mean_photoelectrons(recoil, lambda t: -0.1 * np.ones_like(t), 10.0)


# ------------------------------------------------------------------ smearing


@settings(max_examples=60, deadline=None)
@given(
    n_points=st.integers(min_value=2, max_value=300),
    t_max_kev=st.floats(min_value=0.5, max_value=80.0),
    qf=st.floats(min_value=0.01, max_value=0.3),
    light_yield=st.floats(min_value=1.0, max_value=30.0),
    n_pe_max=st.integers(min_value=0, max_value=120),
    n_components=st.integers(min_value=1, max_value=4),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
)
def test_smearing_conserves_counts(
    n_points: int,
    t_max_kev: float,
    qf: float,
    light_yield: float,
    n_pe_max: int,
    n_components: int,
    seed: int,
) -> None:
    rng = np.random.default_rng(seed)
    recoil = np.sort(rng.uniform(0.0, t_max_kev, n_points))
    recoil = np.unique(np.concatenate([[0.0], recoil]))
    spectra = rng.exponential(1.0, size=(n_components, recoil.size)) * rng.uniform(0, 1e3)
    smearing = PhotoelectronSmearing.build(recoil, qf, light_yield, n_pe_max)
    counts, overflow = smearing.apply(spectra)
    assert counts.shape == (n_components, n_pe_max + 1)
    assert overflow.shape == (n_components,)
    integral = np.trapezoid(spectra, recoil, axis=-1)
    np.testing.assert_allclose(counts.sum(axis=-1) + overflow, integral, rtol=1e-10, atol=1e-12)
    assert np.all(counts >= 0) and np.all(overflow >= 0)


def test_smearing_truncation_is_reported() -> None:
    recoil = np.linspace(0.0, 40.0, 401)
    spectrum = np.ones_like(recoil)
    small = PhotoelectronSmearing.build(recoil, 0.0878, 13.348, 20).apply(spectrum)
    large = PhotoelectronSmearing.build(recoil, 0.0878, 13.348, 200).apply(spectrum)
    assert large.overflow < 1e-12
    assert small.overflow == pytest.approx(large.counts_per_pe[21:].sum(), rel=1e-10)
    np.testing.assert_allclose(small.counts_per_pe, large.counts_per_pe[:21], rtol=1e-12)


def test_smearing_flat_spectrum_closed_form() -> None:
    """For dN/dT = 1/keV on [0, T_max] and μ = κT: c_n = P(Poisson(κ T_max) > n) / κ."""
    kappa = 0.0878 * 13.348
    t_max = 30.0
    recoil = np.linspace(0.0, t_max, 20001)
    counts, overflow = PhotoelectronSmearing.build(recoil, 0.0878, 13.348, 60).apply(
        np.ones_like(recoil)
    )
    expected = stats.poisson.sf(np.arange(61), kappa * t_max) / kappa
    np.testing.assert_allclose(counts, expected, rtol=2e-6, atol=1e-9)
    assert counts.sum() + overflow == pytest.approx(t_max, rel=1e-12)


def test_smearing_is_linear_over_leading_axes() -> None:
    rng = np.random.default_rng(7)
    recoil = np.linspace(0.0, 50.0, 201)
    spectra = rng.uniform(0, 1, size=(2, 3, recoil.size))
    smearing = PhotoelectronSmearing.build(recoil, lambda t: 0.08 + 0.0005 * t, 13.348, 70)
    counts = smearing.apply(spectra).counts_per_pe
    assert counts.shape == (2, 3, 71)
    np.testing.assert_allclose(counts[1, 2], smearing.apply(spectra[1, 2]).counts_per_pe)
    np.testing.assert_allclose(
        smearing.apply(spectra.sum(axis=(0, 1))).counts_per_pe, counts.sum(axis=(0, 1)), rtol=1e-12
    )


def _sample_truncated_exponential(
    rng: np.random.Generator, scale_kev: float, t_max_kev: float, size: int
) -> np.ndarray:
    u = rng.uniform(size=size)
    return -scale_kev * np.log1p(-u * (1.0 - np.exp(-t_max_kev / scale_kev)))


def _exponential_spectrum(recoil: np.ndarray, scale_kev: float, t_max_kev: float) -> np.ndarray:
    """Normalised density of the truncated exponential (1/keV)."""
    return np.exp(-recoil / scale_kev) / (scale_kev * (1.0 - np.exp(-t_max_kev / scale_kev)))


def test_smearing_against_monte_carlo() -> None:
    rng = np.random.default_rng(20261125)
    n_events, scale, t_max = 100_000, 8.0, 40.0

    def qf(t: np.ndarray) -> np.ndarray:
        return 0.07 + 0.001 * t

    light_yield = 13.348
    recoil_samples = _sample_truncated_exponential(rng, scale, t_max, n_events)
    pe_samples = rng.poisson(mean_photoelectrons(recoil_samples, qf, light_yield))

    recoil = np.linspace(0.0, t_max, 8001)
    n_pe_max = 45
    counts, overflow = PhotoelectronSmearing.build(recoil, qf, light_yield, n_pe_max).apply(
        n_events * _exponential_spectrum(recoil, scale, t_max)
    )
    expected = np.append(counts, overflow)
    observed = np.bincount(np.minimum(pe_samples, n_pe_max + 1), minlength=n_pe_max + 2)
    assert expected.sum() == pytest.approx(n_events, rel=1e-6)
    keep = expected >= 5
    chi2 = np.sum((observed[keep] - expected[keep]) ** 2 / expected[keep])
    dof = int(keep.sum()) - 1
    assert stats.chi2.sf(chi2, dof) > 1e-3, (chi2, dof)
    assert np.all(np.abs(observed[keep] - expected[keep]) < 5 * np.sqrt(expected[keep]))


@pytest.mark.parametrize("convention", ["n_minus_half", "n_plus_half"])
def test_full_response_against_monte_carlo(convention: str, efficiency: ReleaseEfficiency) -> None:
    """Sampled recoils → Poisson PE → 1-PE bin by convention → efficiency weight → 2-PE bins."""
    rng = np.random.default_rng(1 if convention == "n_minus_half" else 2)
    n_events, scale, t_max = 100_000, 10.0, 45.0
    recoil_samples = _sample_truncated_exponential(rng, scale, t_max, n_events)
    pe_samples = rng.poisson(mean_photoelectrons(recoil_samples, 0.0878, 13.348))
    centres = pe_bin_centre_of_count(pe_samples, convention)  # type: ignore[arg-type]
    inside = (centres > 0) & (centres < 50)
    weights = efficiency(centres[inside])
    analysis_bin = np.floor(centres[inside] / 2).astype(int)
    observed = np.bincount(analysis_bin, weights=weights, minlength=25)
    variance = np.bincount(analysis_bin, weights=weights**2, minlength=25)

    recoil = np.linspace(0.0, t_max, 6001)
    response = DetectorResponse(0.0878, 13.348, efficiency, convention)  # type: ignore[arg-type]
    matrix = response.response_matrix(recoil)
    spectrum = n_events * _exponential_spectrum(recoil, scale, t_max)
    expected = matrix.apply(spectrum)
    assert expected.shape == (25,)
    populated = variance > 25
    z = (observed[populated] - expected[populated]) / np.sqrt(variance[populated])
    assert populated.sum() >= 12
    assert np.all(np.abs(z) < 4.5), z
    chi2 = float(np.sum(z**2))
    assert stats.chi2.sf(chi2, int(populated.sum())) > 1e-3
    # the other convention is clearly excluded by the same sample
    other = "n_plus_half" if convention == "n_minus_half" else "n_minus_half"
    wrong = (
        DetectorResponse(0.0878, 13.348, efficiency, other).response_matrix(recoil).apply(spectrum)
    )  # type: ignore[arg-type]
    assert np.sum((observed[populated] - wrong[populated]) ** 2 / variance[populated]) > 10 * max(
        chi2, 10.0
    )
    # bookkeeping: inside + outside of the histogram, before efficiency, is the whole spectrum
    total = matrix.apply_before_efficiency(spectrum).sum() + matrix.outside(spectrum)
    assert total == pytest.approx(np.trapezoid(spectrum, recoil), rel=1e-10)


# ------------------------------------------------------------------ PE bins and efficiency


@pytest.mark.parametrize(
    ("x", "value"), [(6.5, 0.069), (10.5, 0.304), (20.5, 0.660), (29.5, 0.665)]
)
def test_release_efficiency_values(efficiency: ReleaseEfficiency, x: float, value: float) -> None:
    assert round(float(efficiency(x)), 3) == value


def test_release_efficiency_formula(efficiency: ReleaseEfficiency) -> None:
    np.testing.assert_array_equal(
        release_step_function([0.5, 4.999, 5.0, 5.5, 5.999, 6.0, 40.0]), [0, 0, 0.5, 0.5, 0.5, 1, 1]
    )
    x = np.array([5.5, 7.3, 12.0, 49.5])
    a, k, x0 = 0.6655, 0.4942, 10.8507
    expected = a / (1.0 + np.exp(-k * (x - x0))) * np.array([0.5, 1, 1, 1])
    np.testing.assert_allclose(efficiency(x), expected, rtol=1e-13)
    assert efficiency(4.5) == 0.0


def test_pe_bin_conventions() -> None:
    counts = np.arange(10.0)  # counts[n] = n: the count with exactly n PE
    np.testing.assert_array_equal(counts_in_one_pe_bins(counts, 4, "n_minus_half"), [1, 2, 3, 4])
    np.testing.assert_array_equal(counts_in_one_pe_bins(counts, 4, "n_plus_half"), [0, 1, 2, 3])
    assert required_n_pe_max(50, "n_minus_half") == 50
    assert required_n_pe_max(50, "n_plus_half") == 49
    np.testing.assert_array_equal(pe_bin_centre_of_count([1, 6], "n_minus_half"), [0.5, 5.5])
    np.testing.assert_array_equal(pe_bin_centre_of_count([1, 6], "n_plus_half"), [1.5, 6.5])
    with pytest.raises(ValueError):
        counts_in_one_pe_bins(np.arange(50.0), 50, "n_minus_half")
    with pytest.raises(ValueError):
        counts_in_one_pe_bins(counts, 4, "n")  # type: ignore[arg-type]
    assert DetectorResponse(0.0878, 13.348).pe_bin_convention == "n_minus_half"


def test_response_matrix_applies_efficiency_at_bin_centres(efficiency: ReleaseEfficiency) -> None:
    recoil = np.linspace(0.0, 50.0, 501)
    for convention in ("n_minus_half", "n_plus_half"):
        response = DetectorResponse(0.0878, 13.348, efficiency, convention)  # type: ignore[arg-type]
        matrix = response.response_matrix(recoil)
        np.testing.assert_allclose(matrix.one_pe_efficiency, efficiency(np.arange(50) + 0.5))
        smeared = matrix.smearing.matrix
        start = 1 if convention == "n_minus_half" else 0
        one_pe = smeared[start : start + 50] * efficiency(np.arange(50) + 0.5)[:, None]
        np.testing.assert_allclose(matrix.matrix, one_pe.reshape(25, 2, -1).sum(axis=1), rtol=1e-13)
        np.testing.assert_array_equal(response.pe_edges, np.arange(0, 51, 2))


def test_rebin_and_mask() -> None:
    fine = np.arange(12.0).reshape(2, 6)
    np.testing.assert_array_equal(rebin(fine, 2), [[1, 5, 9], [13, 17, 21]])
    np.testing.assert_array_equal(rebin(fine, 2, axis=0), [[6, 8, 10, 12, 14, 16]])
    with pytest.raises(ValueError):
        rebin(fine, 4)
    pe_edges = np.arange(0, 51, 2.0)
    time_edges = np.arange(25) * 0.5
    mask = analysis_region_mask(pe_edges, time_edges)
    assert mask.shape == (25, 24) and mask.sum() == 12 * 24
    assert mask[3:15].all() and not mask[:3].any() and not mask[15:].any()
    early = analysis_region_mask(pe_edges, time_edges, (6.0, 30.0), (0.0, 6.0))
    assert early.sum() == 12 * 12 and early[3:15, :12].all()
    with pytest.raises(ValueError):
        analysis_region_mask(pe_edges, time_edges, (7.0, 30.0))


def test_mask_reproduces_release_totals(release: CoherentCsI2017Release) -> None:
    mask = analysis_region_mask(release.pe_edges, release.time_edges_us)
    assert [
        int(h[mask].sum())
        for h in (
            release.coincidence_beam_on,
            release.anticoincidence_beam_on,
            release.coincidence_beam_off,
            release.anticoincidence_beam_off,
        )
    ] == [855, 703, 358, 355]


def test_time_pdfs_per_component(release: CoherentCsI2017Release) -> None:
    pdfs = time_pdf_by_flavour(
        release.time_pdf_prompt_neutrinos, release.time_pdf_delayed_neutrinos
    )
    assert pdfs["numu"] is not pdfs["nue"]
    np.testing.assert_array_equal(pdfs["numu"], release.time_pdf_prompt_neutrinos)
    np.testing.assert_array_equal(pdfs["nue"], release.time_pdf_delayed_neutrinos)
    np.testing.assert_array_equal(pdfs["numubar"], release.time_pdf_delayed_neutrinos)
    pe = np.arange(50.0).reshape(2, 25)
    expectation = pe_time_expectation(pe, pdfs["nue"])
    assert expectation.shape == (2, 25, 24)
    np.testing.assert_allclose(expectation.sum(axis=-1), pe, rtol=1e-12)
    with pytest.raises(ValueError):
        pe_time_expectation(pe, 2 * pdfs["nue"])


# ------------------------------------------------------------------ prompt neutrons


def test_prompt_neutron_counts(
    release: CoherentCsI2017Release, efficiency: ReleaseEfficiency
) -> None:
    """REFERENCE.md §3.3: 29.9 before efficiency, 7.6 after, 5.4 in 6–30 PE, ~99 % below 1.5 µs."""
    args = (release.prompt_neutron_per_gwh, release.exposure_gwh, release.time_pdf_prompt_neutrons)
    before = prompt_neutron_template(*args, None)
    after = prompt_neutron_template(*args, efficiency)
    mask = analysis_region_mask(release.pe_edges, release.time_edges_us)
    assert before.shape == after.shape == (25, 24)
    assert round(before.sum(), 1) == 29.9
    assert round(after.sum(), 1) == 7.6
    assert round(after[mask].sum(), 1) == 5.4
    assert after[:, :3].sum() / after.sum() == pytest.approx(0.989, abs=5e-4)
    scaled = prompt_neutron_template(*args, efficiency, normalisation=1.25)
    assert scaled.sum() == pytest.approx(1.25 * after.sum(), rel=1e-12)


# ------------------------------------------------------------------ beam


def test_beam_exposure_and_fluence() -> None:
    """REFERENCE.md §3.5."""
    assert protons_on_target_from_exposure(7.47594, 0.954) == pytest.approx(1.76e23, rel=1e-3)
    assert protons_on_target_from_exposure(7.47594, 0.984) == pytest.approx(1.707e23, rel=5e-4)
    assert protons_on_target_from_exposure(13.99, 0.984) == pytest.approx(3.20e23, rel=2e-3)
    assert round(proton_energy_gev_from_pot(7.47594, 1.76e23), 3) == 0.954
    assert f"{neutrino_fluence_per_cm2(0.08, 1.76e23, 19.3):.2e}" == "3.01e+14"
    assert resolve_protons_on_target(protons_on_target=1.76e23) == 1.76e23
    assert resolve_protons_on_target(
        exposure_gwh=7.47594, proton_energy_gev=0.954
    ) == protons_on_target_from_exposure(7.47594, 0.954)
    with pytest.raises(ValueError):
        resolve_protons_on_target(protons_on_target=1e23, exposure_gwh=7.0)
    with pytest.raises(ValueError):
        resolve_protons_on_target(exposure_gwh=7.0)


# ------------------------------------------------------------------ on/off background


def _numerical_profile(n: float, m: float, s: float, tau: float) -> tuple[float, float]:
    """Maximise the joint on/off log-likelihood over b numerically (bounded Brent)."""
    upper = 10.0 * (n + m + s + 10.0)
    result = optimize.minimize_scalar(
        lambda b: -float(on_off_log_likelihood(n, m, s, b, tau)),
        bounds=(0.0, upper),
        method="bounded",
        options={"xatol": 1e-12},
    )
    candidates = [
        (float(result.x), -float(result.fun)),
        (0.0, float(on_off_log_likelihood(n, m, s, 0.0, tau))),
    ]
    return max(candidates, key=lambda pair: pair[1])


@pytest.mark.parametrize("tau", [1.0, 0.5, 3.0])
def test_on_off_profile_against_numerical_maximisation(tau: float) -> None:
    rng = np.random.default_rng(11)
    cases = [
        (0, 0, 0.0),
        (0, 0, 3.0),
        (5, 0, 1.0),
        (5, 0, 4.0),
        (0, 7, 2.0),
        (3, 4, 0.0),
        (100, 2, 300.0),
        (2, 100, 0.1),
    ]
    cases += [
        (int(rng.poisson(20)), int(rng.poisson(15)), float(rng.uniform(0, 30))) for _ in range(40)
    ]
    for n, m, s in cases:
        b_hat = float(profiled_background(n, m, s, tau))
        ell_hat = float(on_off_profile_log_likelihood(n, m, s, tau))
        b_num, ell_num = _numerical_profile(n, m, s, tau)
        assert ell_hat >= ell_num - 1e-9, (n, m, s)
        assert ell_hat == pytest.approx(ell_num, abs=1e-7), (n, m, s)
        assert b_hat == pytest.approx(b_num, abs=1e-4 * (1 + b_num)), (n, m, s)


def test_on_off_closed_form_special_cases() -> None:
    np.testing.assert_allclose(profiled_background([6, 3], [4, 9], [0.0, 0.0]), [5.0, 6.0])
    np.testing.assert_allclose(profiled_background([10, 3], [0, 0], [2.0, 4.0]), [3.0, 0.0])
    # τ = 1 formula of the documentation
    n, m, s = 17.0, 11.0, 4.5
    big_b = n + m - 2 * s
    assert profiled_background(n, m, s) == pytest.approx(
        (big_b + np.sqrt(big_b**2 + 8 * m * s)) / 4, rel=1e-14
    )
    # s >> n + m (B << 0): b̂ → m/(1 + τ); the textbook form (B + √D)/4 would lose most digits here
    n, m, s = 0.0, 1.0, 1e8
    b = float(profiled_background(n, m, s))
    assert b == pytest.approx(m * s / (2 * s), rel=1e-6)
    assert b > 0


def test_on_off_global_maximum_and_gradient() -> None:
    """Maximising the profile over s gives the joint maximum s = n − m/τ, b = m/τ."""
    rng = np.random.default_rng(5)
    for _ in range(20):
        m = int(rng.poisson(20))
        tau = float(rng.uniform(0.5, 2.0))
        n = int(np.ceil(m / tau)) + int(rng.poisson(15)) + 1
        result = optimize.minimize_scalar(
            lambda s, n=n, m=m, tau=tau: -float(on_off_profile_log_likelihood(n, m, s, tau)),
            bounds=(0.0, 3.0 * n),
            method="bounded",
            options={"xatol": 1e-10},
        )
        assert result.x == pytest.approx(n - m / tau, abs=1e-4)
        assert float(on_off_profile_deviance(n, m, n - m / tau, tau)) == pytest.approx(
            0.0, abs=1e-10
        )
        s = float(rng.uniform(0.1, 2 * n))
        h = 1e-5 * (1 + s)
        numeric = (
            float(on_off_profile_log_likelihood(n, m, s + h, tau))
            - float(on_off_profile_log_likelihood(n, m, s - h, tau))
        ) / (2 * h)
        assert float(on_off_profile_gradient(n, m, s, tau)) == pytest.approx(
            numeric, rel=1e-5, abs=1e-8
        )


def test_on_off_deviance_is_minus_twice_log_ratio() -> None:
    n = np.array([0, 4, 12, 30])
    m = np.array([2, 0, 9, 31])
    s = np.array([0.5, 3.0, 1.0, 0.0])
    saturated = poisson_log_likelihood(n, n) + poisson_log_likelihood(m, m)
    deviance = on_off_profile_deviance(n, m, s)
    np.testing.assert_allclose(
        deviance, -2 * (on_off_profile_log_likelihood(n, m, s) - saturated), atol=1e-10
    )
    assert np.all(deviance >= 0)


def test_steady_state_from_anticoincidence(release: CoherentCsI2017Release) -> None:
    background = steady_state_from_anticoincidence(release.anticoincidence_beam_on)
    np.testing.assert_array_equal(background.expected, release.anticoincidence_beam_on)
    np.testing.assert_allclose(background.sigma, np.sqrt(release.anticoincidence_beam_on))
    mask = analysis_region_mask(release.pe_edges, release.time_edges_us)
    assert background.expected[mask].sum() == 703
