"""CEvNS differential cross sections: Standard Model (Eqs. 2-4), magnetic moment (Eq. 6).

All functions take the recoil energy ``recoil_kev`` (keV) and neutrino energy
``energy_mev`` (MeV) and return d(sigma)/dT in cm^2/keV per nucleus.

Standard Model, with the radiative-corrected couplings of Eq. (2):

    dsigma/dT = G_F^2 M / pi (1 - M T / (2 E^2)) [g_V^p Z F_Z(q) + g_V^n N F_N(q)]^2

Magnetic moment (mu in units of 1e-10 Bohr magnetons):

    dsigma/dT = pi alpha^2 mu^2 Z^2 / m_e^2 (1/T - 1/E) F_Z(q)^2

The neutrino charge radius enters through Eq. (17) as a shift of sin^2(theta_W):
s^2 -> s^2 + CHARGE_RADIUS_SHIFT * <r^2> (<r^2> in 1e-32 cm^2).
"""

from __future__ import annotations

import math

import numpy as np

from . import constants as c
from .form_factors import FormFactorFn
from .nuclei import Nucleus

__all__ = [
    "effective_sin2",
    "em_differential_cm2_per_kev",
    "em_prefactor_cm2_per_kev",
    "max_recoil_kev",
    "min_neutrino_energy_mev",
    "momentum_transfer_inv_fm",
    "neutron_vector_coupling",
    "proton_vector_coupling",
    "sm_differential_cm2_per_kev",
    "sm_prefactor_cm2_per_kev",
]


def effective_sin2(sin2_theta_w: np.ndarray | float, r2_nu: np.ndarray | float = 0.0):
    """sin^2(theta_W) shifted by the neutrino charge radius ``r2_nu`` (1e-32 cm^2), Eq. (17)."""
    return np.asarray(sin2_theta_w) + c.CHARGE_RADIUS_SHIFT * np.asarray(r2_nu)


def proton_vector_coupling(sin2_theta_w: np.ndarray | float) -> np.ndarray:
    """g_V^p = 2(g^{uL} + g^{uR}) + (g^{dL} + g^{dR}) with the couplings of Eq. (2).

    Linear in sin^2(theta_W): rho (1/2 - 2 kappa s^2) + 2 lambda^{uL} + 2 lambda^{uR}
    + lambda^{dL} + lambda^{dR}.
    """
    s2 = np.asarray(sin2_theta_w, dtype=float)
    g_ul = c.RHO_NU_N * (0.5 - 2.0 / 3.0 * c.KAPPA_NU_N * s2) + c.LAMBDA_U_L
    g_dl = c.RHO_NU_N * (-0.5 + 1.0 / 3.0 * c.KAPPA_NU_N * s2) + c.LAMBDA_D_L
    g_ur = c.RHO_NU_N * (-2.0 / 3.0 * c.KAPPA_NU_N * s2) + c.LAMBDA_U_R
    g_dr = c.RHO_NU_N * (1.0 / 3.0 * c.KAPPA_NU_N * s2) + c.LAMBDA_D_R
    return 2.0 * (g_ul + g_ur) + (g_dl + g_dr)


def neutron_vector_coupling(sin2_theta_w: np.ndarray | float) -> np.ndarray:
    """g_V^n = (g^{uL} + g^{uR}) + 2(g^{dL} + g^{dR}); the s^2 terms cancel exactly."""
    s2 = np.asarray(sin2_theta_w, dtype=float)
    g_ul = c.RHO_NU_N * (0.5 - 2.0 / 3.0 * c.KAPPA_NU_N * s2) + c.LAMBDA_U_L
    g_dl = c.RHO_NU_N * (-0.5 + 1.0 / 3.0 * c.KAPPA_NU_N * s2) + c.LAMBDA_D_L
    g_ur = c.RHO_NU_N * (-2.0 / 3.0 * c.KAPPA_NU_N * s2) + c.LAMBDA_U_R
    g_dr = c.RHO_NU_N * (1.0 / 3.0 * c.KAPPA_NU_N * s2) + c.LAMBDA_D_R
    return (g_ul + g_ur) + 2.0 * (g_dl + g_dr)


def max_recoil_kev(energy_mev: np.ndarray | float, mass_mev: float) -> np.ndarray:
    """Largest recoil energy 2E^2/(M + 2E) for neutrino energy E, keV."""
    e = np.asarray(energy_mev, dtype=float)
    return 2.0 * e**2 / (mass_mev + 2.0 * e) * 1e3


def min_neutrino_energy_mev(recoil_kev: np.ndarray | float, mass_mev: float) -> np.ndarray:
    """Smallest neutrino energy that can give recoil T: (T + sqrt(T^2 + 2MT))/2, MeV."""
    t = np.asarray(recoil_kev, dtype=float) * 1e-3
    return 0.5 * (t + np.sqrt(t**2 + 2.0 * mass_mev * t))


def momentum_transfer_inv_fm(recoil_kev: np.ndarray | float, mass_mev: float) -> np.ndarray:
    """Momentum transfer q = sqrt(2MT + T^2)/(hbar c) in fm^-1 for recoil T (keV)."""
    t = np.asarray(recoil_kev, dtype=float) * 1e-3
    return np.sqrt(2.0 * mass_mev * t + t**2) / c.HBARC_MEV_FM


def sm_prefactor_cm2_per_kev(mass_mev: float) -> float:
    """G_F^2 M / pi in cm^2/keV (the coefficient of Eq. 3)."""
    return c.FERMI_COUPLING_MEV2**2 * mass_mev / math.pi * c.HBARC2_MEV2_CM2 * 1e-3


def em_prefactor_cm2_per_kev() -> float:
    """Pi alpha^2 (1e-10 mu_B)^2 / m_e^2 in cm^2 MeV/keV: multiply by (1/T - 1/E) in MeV^-1."""
    return (
        math.pi
        * c.ALPHA_EM**2
        * c.MU_NU_UNIT_MU_B**2
        / c.ELECTRON_MASS_MEV**2
        * c.HBARC2_MEV2_CM2
        * 1e-3
    )


def sm_differential_cm2_per_kev(
    recoil_kev: np.ndarray | float,
    energy_mev: np.ndarray | float,
    nucleus: Nucleus,
    form_factors: tuple[FormFactorFn, FormFactorFn],
    sin2_theta_w: float = c.SIN2_THETA_W_PAPER,
    r2_nu: float = 0.0,
) -> np.ndarray:
    """Standard-Model CEvNS cross section dsigma/dT (Eqs. 3-4), cm^2/keV.

    Zero where the recoil is kinematically forbidden.
    """
    t_kev = np.asarray(recoil_kev, dtype=float)
    e = np.asarray(energy_mev, dtype=float)
    m = nucleus.mass_mev
    s2 = effective_sin2(sin2_theta_w, r2_nu)
    q = momentum_transfer_inv_fm(t_kev, m)
    f_z, f_n = form_factors
    amplitude = proton_vector_coupling(s2) * nucleus.Z * f_z(q) + neutron_vector_coupling(
        s2
    ) * nucleus.N * f_n(q)
    kin = 1.0 - m * t_kev * 1e-3 / (2.0 * e**2)
    allowed = t_kev <= max_recoil_kev(e, m)
    return np.where(allowed, sm_prefactor_cm2_per_kev(m) * kin * amplitude**2, 0.0)


def em_differential_cm2_per_kev(
    recoil_kev: np.ndarray | float,
    energy_mev: np.ndarray | float,
    nucleus: Nucleus,
    proton_form_factor: FormFactorFn,
    mu_nu: float,
) -> np.ndarray:
    """Magnetic-moment cross section dsigma/dT (Eq. 6), cm^2/keV; ``mu_nu`` in 1e-10 mu_B."""
    t_kev = np.asarray(recoil_kev, dtype=float)
    e = np.asarray(energy_mev, dtype=float)
    m = nucleus.mass_mev
    q = momentum_transfer_inv_fm(t_kev, m)
    kin = 1.0 / (t_kev * 1e-3) - 1.0 / e
    allowed = t_kev <= max_recoil_kev(e, m)
    val = em_prefactor_cm2_per_kev() * mu_nu**2 * kin * nucleus.Z**2 * proton_form_factor(q) ** 2
    return np.where(allowed, val, 0.0)
