"""Flux-averaged CEvNS cross section (rates.flux_average) against closed forms."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate

from cenns_bayes.physics import constants as c
from cenns_bayes.physics.cross_sections import neutron_vector_coupling, proton_vector_coupling
from cenns_bayes.physics.nuclei import get_target
from cenns_bayes.physics.sns import sns_spectrum
from cenns_bayes.rates.coefficients import DetectorSetup
from cenns_bayes.rates.flux_average import flux_averaged_cross_section_cm2


def _sigma_unity_cm2(energy_mev: float, nucleus) -> float:
    """Total SM cross section, no form factor: (G_F^2 M / pi) Q^2 [T_max - M T_max^2 / (4 E^2)]."""
    m = nucleus.mass_mev
    q = (
        proton_vector_coupling(c.SIN2_THETA_W_PAPER) * nucleus.Z
        + neutron_vector_coupling(c.SIN2_THETA_W_PAPER) * nucleus.N
    )
    t_max = 2 * energy_mev**2 / (m + 2 * energy_mev)
    return (
        c.FERMI_COUPLING_MEV2**2
        * m
        / math.pi
        * q**2
        * (t_max - m * t_max**2 / (4 * energy_mev**2))
        * c.HBARC2_MEV2_CM2
    )


def _setup(target: str, mass_kg: float = 3.0, fluence: float = 1e14) -> DetectorSetup:
    return DetectorSetup(
        "d",
        get_target(target),
        mass_kg,
        fluence,
        efficiency=0.3,
        recoil_window_kev=(5.0, None),
        form_factor="unity",
        prompt_energy_mev=c.PION_DAR_NU_ENERGY_MEV,
    )


def test_prompt_line_equals_the_closed_form():
    """nu_mu is a line: <sigma> = sigma(E_prompt); the setup's efficiency and window are ignored."""
    nucleus = get_target("Ar40").components[0].nucleus
    got = flux_averaged_cross_section_cm2(_setup("Ar40"), ["numu"])
    assert got == pytest.approx(_sigma_unity_cm2(c.PION_DAR_NU_ENERGY_MEV, nucleus), rel=1e-5)


def test_delayed_flavours_average_over_their_spectra():
    nucleus = get_target("Ar40").components[0].nucleus
    expected = 0.0
    for flavor in ("nue", "numubar"):
        spec = sns_spectrum(flavor, c.PION_DAR_NU_ENERGY_MEV)
        e_max = spec.max_energy_mev
        num = integrate.quad(
            lambda e, s=spec: s.density(e) * _sigma_unity_cm2(e, nucleus), 0, e_max, limit=200
        )[0]
        den = integrate.quad(lambda e, s=spec: s.density(e), 0, e_max, limit=200)[0]
        expected += num / den / 2
    got = flux_averaged_cross_section_cm2(_setup("Ar40"), ["nue", "numubar"])
    assert got == pytest.approx(expected, rel=1e-5)


def test_per_nucleus_independent_of_mass_and_fluence_and_averaged_over_a_compound():
    csi = flux_averaged_cross_section_cm2(_setup("CsI"), ["numu"])
    assert flux_averaged_cross_section_cm2(_setup("CsI", 14.6, 3e15), ["numu"]) == pytest.approx(
        csi, rel=1e-12
    )
    parts = [
        _sigma_unity_cm2(c.PION_DAR_NU_ENERGY_MEV, comp.nucleus)
        for comp in get_target("CsI").components
    ]
    assert csi == pytest.approx(np.mean(parts), rel=1e-5)
