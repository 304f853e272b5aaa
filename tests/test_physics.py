"""Physics layer against independent values: closed forms, limits, numerical transforms."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate

from cenns_bayes.physics import constants as c
from cenns_bayes.physics.cross_sections import (
    em_differential_cm2_per_kev,
    max_recoil_kev,
    min_neutrino_energy_mev,
    neutron_vector_coupling,
    proton_vector_coupling,
    sm_differential_cm2_per_kev,
)
from cenns_bayes.physics.form_factors import (
    Helm,
    KleinNystrand,
    SymmetrizedFermi,
    Unity,
    UnknownFormFactorError,
    form_factor_pair,
)
from cenns_bayes.physics.nuclei import UnknownNucleusError, get_nucleus, get_target
from cenns_bayes.physics.sns import flux_at_distance, sns_spectrum


def test_charge_radius_shift_matches_paper():
    # The paper's Eq. (17) coefficient, sqrt(2) pi alpha / (3 G_F) per 1e-32 cm^2, is 0.0238
    # (PAPER_NOTES); recompute it here from textbook constants, independently of the module.
    alpha, gf_gev2, hbarc_gev_cm = 1 / 137.036, 1.16638e-5, 1.97327e-14
    shift = math.sqrt(2) * math.pi * alpha / (3 * gf_gev2) * 1e-32 / hbarc_gev_cm**2
    assert c.CHARGE_RADIUS_SHIFT == pytest.approx(shift, rel=1e-4)
    assert c.CHARGE_RADIUS_SHIFT == pytest.approx(0.0238, abs=5e-5)


def test_prompt_line_energy_from_pion_kinematics():
    assert c.PION_DAR_NU_ENERGY_MEV == pytest.approx(29.79, abs=0.01)


def test_nuclear_mass_is_atomic_mass_less_electrons():
    ar = get_nucleus("Ar40")
    # AME2020: Ar-40 atomic mass 39.9623831237 u; nuclear mass = M_atom - 18 m_e + B_e.
    expected = 39.9623831237 * 931.49410242 - 18 * 0.51099895 + 14.4381e-6 * 18**2.39
    assert ar.mass_mev == pytest.approx(expected, rel=2e-9)
    assert abs(ar.mass_mev - 40 * 931.494) > 5.0  # A*u would be wrong by ~10 MeV


def test_mixtures():
    ge = get_target("Ge-nat")
    fractions = {cmp.nucleus.name: cmp.atoms_per_formula_unit for cmp in ge.components}
    assert sum(fractions.values()) == pytest.approx(1.0, abs=1e-12)
    assert fractions["Ge74"] == pytest.approx(0.365, abs=0.005)  # IUPAC natural abundance
    csi = get_target("CsI")
    assert csi.formula_mass_kg == pytest.approx(
        get_nucleus("Cs133").atomic_mass_kg + get_nucleus("I127").atomic_mass_kg, rel=1e-12
    )
    with pytest.raises(UnknownNucleusError, match="did you mean"):
        get_target("Ar4O")


@pytest.mark.parametrize("mass_number", [20, 40, 76, 132])
@pytest.mark.parametrize("model", ["helm", "klein-nystrand", "symmetrized-fermi"])
def test_form_factor_normalised_and_small_q_slope(model, mass_number):
    f_z, f_n = form_factor_pair(
        model, get_nucleus({20: "Ne20", 40: "Ar40", 76: "Ge76", 132: "Xe132"}[mass_number])
    )
    assert f_z(np.array([0.0]))[0] == 1.0
    # F(q) = 1 - q^2 <r^2>/6 + O(q^4): the slope fixes the rms radius of the model.
    q = 1e-3
    slope_r2 = 6 * (1 - f_z(np.array([q]))[0]) / q**2
    assert slope_r2 == pytest.approx(f_z.rms_radius_fm**2, rel=1e-4)


@pytest.mark.parametrize("ff", [SymmetrizedFermi.standard(132), SymmetrizedFermi.standard(20)])
def test_symmetrized_fermi_against_numerical_fourier_transform(ff):
    c_fm, a_fm = ff.c_fm, ff.a_fm
    rho = lambda r: math.sinh(c_fm / a_fm) / (math.cosh(r / a_fm) + math.cosh(c_fm / a_fm))  # noqa: E731
    norm = integrate.quad(lambda r: r * r * rho(r), 0, 80)[0]
    for q in (0.2, 0.6, 1.1):
        num = (
            integrate.quad(
                lambda r, q=q: r * r * rho(r) * math.sin(q * r) / (q * r), 0, 80, limit=400
            )[0]
            / norm
        )
        assert ff(np.array([q]))[0] == pytest.approx(num, rel=1e-8, abs=1e-10)


def test_helm_against_numerical_fourier_transform_of_folded_density():
    # Helm density: a uniform sphere of radius R0 folded with a Gaussian of width s; its
    # Fourier transform is the product of the transforms. Fold numerically in r-space.
    h = Helm.lewin_smith(76)
    r = np.linspace(0, 15, 3001)
    # radial density of (sphere * Gaussian): closed-form 1D fold for spherical symmetry
    s, r0 = h.s_fm, h.r0_fm
    from scipy.special import erf

    def rho(x):
        x = np.maximum(x, 1e-9)
        g = lambda u: np.exp(-(u**2) / (2 * s**2))  # noqa: E731
        return 0.5 * (
            erf((r0 - x) / (math.sqrt(2) * s)) + erf((r0 + x) / (math.sqrt(2) * s))
        ) - s / (x * math.sqrt(2 * math.pi)) * (g(x - r0) - g(x + r0))

    dens = rho(r)
    norm = integrate.simpson(r**2 * dens, x=r)
    for q in (0.3, 0.8):
        num = integrate.simpson(r**2 * dens * np.sinc(q * r / np.pi), x=r) / norm
        assert h(np.array([q]))[0] == pytest.approx(num, abs=2e-6)


def test_neutron_skin_stretches_neutrons_only():
    nuc = get_nucleus("Xe132")
    for model in ("helm", "klein-nystrand", "symmetrized-fermi"):
        f_z, f_n = form_factor_pair(model, nuc, neutron_skin_fm=0.2)
        assert f_n.rms_radius_fm - f_z.rms_radius_fm == pytest.approx(0.2, abs=1e-12)
        assert f_z == form_factor_pair(model, nuc)[0]
    with pytest.raises(UnknownFormFactorError, match="did you mean 'helm'"):
        form_factor_pair("hlem", nuc)


def test_kn_and_unity():
    assert KleinNystrand.standard(40).rms_radius_fm == pytest.approx(
        math.sqrt(0.6 * (1.2 * 40 ** (1 / 3)) ** 2 + 6 * 0.49)
    )
    assert np.all(Unity()(np.linspace(0, 3, 7)) == 1.0)


def test_couplings_from_eq2():
    # Hand-evaluated Eq. (2): g_V^n = -rho/2 + lam_uL + lam_uR + 2 (lam_dL + lam_dR).
    assert neutron_vector_coupling(0.3) == pytest.approx(
        -1.0086 / 2 - 0.0031 + 3.75e-5 + 2 * (-0.0025 + 7.5e-5), abs=1e-15
    )
    s2 = 0.2312
    expected = 1.0086 * (0.5 - 2 * 0.9978 * s2) + 2 * (-0.0031 + 3.75e-5) + (-0.0025 + 7.5e-5)
    assert proton_vector_coupling(s2) == pytest.approx(expected, abs=1e-15)


def test_sm_cross_section_textbook_limit():
    # F = 1: dsigma/dT = G_F^2 M / (4 pi) Q_W^2 (1 - M T / 2E^2) with Q_W = 2 (Z g_p + N g_n).
    nuc = get_nucleus("Ge76")
    t_kev, e = 5.0, 30.0
    q_w = 2 * (nuc.Z * proton_vector_coupling(0.2312) + nuc.N * neutron_vector_coupling(0.2312))
    gf = 1.1663787e-11  # MeV^-2
    hbarc2 = (197.3269804e-13) ** 2  # MeV^2 cm^2
    m = nuc.mass_mev
    expected = (
        gf**2 * m / (4 * math.pi) * q_w**2 * (1 - m * t_kev * 1e-3 / (2 * e**2)) * hbarc2 * 1e-3
    )
    got = sm_differential_cm2_per_kev(t_kev, e, nuc, (Unity(), Unity()))
    assert got == pytest.approx(expected, rel=1e-6)


def test_em_cross_section_value_and_mu_squared_scaling():
    nuc = get_nucleus("Ar40")
    t_kev, e = 10.0, 30.0
    alpha, me = 1 / 137.035999, 0.51099895
    hbarc2 = (197.3269804e-13) ** 2
    expected = math.pi * alpha**2 * 1e-20 / me**2 * (1 / 0.010 - 1 / e) * 18**2 * hbarc2 * 1e-3
    assert em_differential_cm2_per_kev(t_kev, e, nuc, Unity(), 1.0) == pytest.approx(
        expected, rel=1e-6
    )
    assert em_differential_cm2_per_kev(t_kev, e, nuc, Unity(), 3.0) == pytest.approx(9 * expected)


def test_kinematics_inverse():
    m = get_nucleus("Xe132").mass_mev
    e = np.array([10.0, 29.9, 52.8])
    t = max_recoil_kev(e, m)
    assert min_neutrino_energy_mev(t, m) == pytest.approx(e, rel=1e-12)


@pytest.mark.parametrize("flavor", ["nue", "numubar"])
def test_delayed_spectra_normalised_and_moments(flavor):
    spec = sns_spectrum(flavor)
    e_max = spec.max_energy_mev
    assert e_max == pytest.approx(c.MUON_MASS_MEV / 2)
    for k in (0, -1, -2, 1):
        num = integrate.quad(
            lambda e, k=k: spec.density(e) * e**k, 7.0, e_max, epsabs=0, epsrel=1e-12
        )[0]
        assert spec.moment(k, 7.0) == pytest.approx(num, rel=1e-11)
    assert spec.moment(0, 0.0) == pytest.approx(1.0, rel=1e-13)
    # Michel spectra: mean energies 0.3 m_mu (nu_e) and 0.35 m_mu (anti-nu_mu)
    mean = {"nue": 0.3, "numubar": 0.35}[flavor] * c.MUON_MASS_MEV
    assert spec.moment(1, 0.0) == pytest.approx(mean, rel=1e-12)


def test_flux_scaling():
    assert flux_at_distance(2.5e7, 20.0, 40.0) == pytest.approx(6.25e6)
    with pytest.raises(ValueError):
        flux_at_distance(2.5e7, 20.0, 0.0)
