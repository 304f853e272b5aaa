"""Rough Standard-Model CEvNS expectation for the COHERENT CsI[Na] 2017 data (cross-check only).

A small, self-contained cross section (not the package's physics layer) fed
through the package's detector response (`cenns_bayes.detector`) and the
shipped release (`cenns_bayes.datasets.coherent`):

* dσ/dT = G_F² M / (4π) · Q_W² · F²(q) · (1 − M T / (2 E²)),
  Q_W = N − (1 − 4 sin²θ_W) Z, q = √(2 M T + T²) (ħc = 1);
* Helm form factor with the Lewin–Smith parameters
  c = 1.23 A^{1/3} − 0.60 fm, a = 0.52 fm, s = 0.9 fm,
  R² = c² + (7/3) π² a² − 5 s², F = 3 j₁(qR)/(qR) · exp(−q² s²/2),
  the same F for protons and neutrons;
* SNS decay-at-rest spectra, each normalised to one neutrino:
  prompt ν_μ line at E = (m_π² − m_μ²)/(2 m_π) = 29.79 MeV,
  ν_e: 96 E²/m_μ⁴ (m_μ − 2E), ν̄_μ: 16 E²/m_μ⁴ (3 m_μ − 4E), 0 ≤ E ≤ m_μ/2;
* fluence per flavour r · POT / (4π L²), r = 0.08, L = 19.3 m;
* targets: CsI formula units in the detector mass (atomic masses of ¹³³Cs and
  ¹²⁷I), one Cs and one I nucleus each; nuclear mass = atomic mass − Z mₑ.

Usage::

    PYTHONPATH=. python benchmarks/coherent_sm_crosscheck.py \
        [--pot 1.76e23] [--mass-kg 14.6] [--sin2 0.2386] [--qf 0.0878]
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.special import spherical_jn

from cenns_bayes.datasets.coherent import load_coherent_csi_2017
from cenns_bayes.detector.beam import neutrino_fluence_per_cm2, proton_energy_gev_from_pot
from cenns_bayes.detector.response import (
    DetectorResponse,
    ReleaseEfficiency,
    analysis_region_mask,
    pe_time_expectation,
    time_pdf_by_flavour,
)

G_F_PER_MEV2 = 1.1663787e-11  # Fermi constant (MeV⁻²), PDG
HBARC_MEV_CM = 197.3269804e-13  # ħc (MeV cm)
HBARC_MEV_FM = 197.3269804  # ħc (MeV fm)
ATOMIC_MASS_UNIT_MEV = 931.49410242
ELECTRON_MASS_MEV = 0.51099895
MUON_MASS_MEV = 105.6583755
PION_MASS_MEV = 139.57039
AVOGADRO_PER_MOL = 6.02214076e23


@dataclass(frozen=True)
class Nucleus:
    """Target isotope: charge, neutron number and atomic mass (u)."""

    name: str
    z: int
    n: int
    atomic_mass_u: float

    @property
    def mass_mev(self) -> float:
        """Nuclear mass (MeV), electron binding neglected."""
        return self.atomic_mass_u * ATOMIC_MASS_UNIT_MEV - self.z * ELECTRON_MASS_MEV


CS133 = Nucleus("Cs-133", 55, 78, 132.905451961)
I127 = Nucleus("I-127", 53, 74, 126.9044719)


def helm_form_factor(q_inv_fm: NDArray[np.float64], mass_number: int) -> NDArray[np.float64]:
    """Helm form factor with the Lewin–Smith parameters (F(0) = 1)."""
    c_fm = 1.23 * mass_number ** (1.0 / 3.0) - 0.60
    a_fm, s_fm = 0.52, 0.9
    radius_fm = np.sqrt(c_fm**2 + 7.0 / 3.0 * np.pi**2 * a_fm**2 - 5.0 * s_fm**2)
    x = np.asarray(q_inv_fm, dtype=float) * radius_fm
    small = x < 1e-6
    safe_x = np.where(small, 1.0, x)
    bessel_term = np.where(small, 1.0 - x**2 / 10.0, 3.0 * spherical_jn(1, safe_x) / safe_x)
    return bessel_term * np.exp(-((q_inv_fm * s_fm) ** 2) / 2.0)


def dsigma_dt_cm2_per_kev(
    energy_mev: NDArray[np.float64],
    recoil_kev: NDArray[np.float64],
    nucleus: Nucleus,
    sin2_theta_w: float,
) -> NDArray[np.float64]:
    """Return dσ/dT (cm²/keV) at ``energy_mev``, ``recoil_kev``; zero beyond the kinematic limit."""
    mass = nucleus.mass_mev
    recoil_mev = np.asarray(recoil_kev, dtype=float) * 1e-3
    q_inv_fm = np.sqrt(2.0 * mass * recoil_mev + recoil_mev**2) / HBARC_MEV_FM
    weak_charge = nucleus.n - (1.0 - 4.0 * sin2_theta_w) * nucleus.z
    kinematic = 1.0 - mass * recoil_mev / (2.0 * np.asarray(energy_mev, dtype=float) ** 2)
    per_mev3 = (
        G_F_PER_MEV2**2
        * mass
        / (4.0 * np.pi)
        * weak_charge**2
        * helm_form_factor(q_inv_fm, nucleus.z + nucleus.n) ** 2
    )
    return np.where(kinematic > 0, per_mev3 * kinematic, 0.0) * HBARC_MEV_CM**2 * 1e-3


def minimum_energy_mev(recoil_kev: NDArray[np.float64], mass_mev: float) -> NDArray[np.float64]:
    """Smallest neutrino energy (MeV) that can give a recoil ``recoil_kev``."""
    t = np.asarray(recoil_kev, dtype=float) * 1e-3
    return 0.5 * (t + np.sqrt(t * t + 2.0 * mass_mev * t))


def delayed_spectrum_per_mev(energy_mev: NDArray[np.float64], flavour: str) -> NDArray[np.float64]:
    """Normalised μ⁺ decay-at-rest spectra (1/MeV) for ``nu_e`` and ``nu_mu_bar``."""
    e = np.asarray(energy_mev, dtype=float)
    m = MUON_MASS_MEV
    shape = (
        96.0 * e**2 / m**4 * (m - 2.0 * e)
        if flavour == "nu_e"
        else 16.0 * e**2 / m**4 * (3.0 * m - 4.0 * e)
    )
    return np.where((e >= 0) & (e <= m / 2.0), shape, 0.0)


def differential_rates_per_kev(
    recoil_kev: NDArray[np.float64],
    targets: dict[Nucleus, float],
    fluence_per_cm2: float,
    sin2_theta_w: float,
) -> dict[str, NDArray[np.float64]]:
    """dN/dT (events/keV) per flavour, summed over isotopes."""
    prompt_energy_mev = (PION_MASS_MEV**2 - MUON_MASS_MEV**2) / (2.0 * PION_MASS_MEV)
    nodes, weights = np.polynomial.legendre.leggauss(48)
    rates = {flavour: np.zeros_like(recoil_kev) for flavour in ("nu_mu", "nu_e", "nu_mu_bar")}
    for nucleus, n_targets in targets.items():
        scale = fluence_per_cm2 * n_targets
        rates["nu_mu"] += scale * dsigma_dt_cm2_per_kev(
            np.array(prompt_energy_mev), recoil_kev, nucleus, sin2_theta_w
        )
        e_lo = np.minimum(minimum_energy_mev(recoil_kev, nucleus.mass_mev), MUON_MASS_MEV / 2.0)
        e_hi = MUON_MASS_MEV / 2.0
        half = 0.5 * (e_hi - e_lo)[:, None]
        energies = 0.5 * (e_hi + e_lo)[:, None] + half * nodes[None, :]
        sigma = dsigma_dt_cm2_per_kev(energies, recoil_kev[:, None], nucleus, sin2_theta_w)
        for flavour in ("nu_e", "nu_mu_bar"):
            rates[flavour] += scale * np.sum(
                half * weights * delayed_spectrum_per_mev(energies, flavour) * sigma, axis=1
            )
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--pot", type=float, default=1.76e23, help="protons on target (default 1.76e23)"
    )
    parser.add_argument("--mass-kg", type=float, default=14.6, help="CsI mass in kg (default 14.6)")
    parser.add_argument("--sin2", type=float, default=0.2386, help="sin²θ_W (default 0.2386)")
    parser.add_argument(
        "--qf", type=float, default=None, help="quenching factor (default: the release's 0.0878)"
    )
    parser.add_argument(
        "--points", type=int, default=6001, help="recoil grid points (default 6001)"
    )
    args = parser.parse_args()

    release = load_coherent_csi_2017()
    fluence = neutrino_fluence_per_cm2(release.neutrinos_per_proton, args.pot, release.distance_m)
    formula_units = (
        args.mass_kg * 1e3 / (CS133.atomic_mass_u + I127.atomic_mass_u) * AVOGADRO_PER_MOL
    )
    targets = {CS133: formula_units, I127: formula_units}

    t_max_kev = max(
        2e3 * (MUON_MASS_MEV / 2) ** 2 / (nuc.mass_mev + MUON_MASS_MEV) for nuc in targets
    )
    recoil_kev = np.linspace(0.0, 1.001 * t_max_kev, args.points)
    rates = differential_rates_per_kev(recoil_kev, targets, fluence, args.sin2)
    flavours = list(rates)
    spectra = np.stack([rates[f] for f in flavours])

    time_pdfs = time_pdf_by_flavour(
        release.time_pdf_prompt_neutrinos, release.time_pdf_delayed_neutrinos
    )
    region = analysis_region_mask(release.pe_edges, release.time_edges_us)
    region_0_6 = analysis_region_mask(
        release.pe_edges, release.time_edges_us, time_range_us=(0.0, 6.0)
    )
    efficiency = ReleaseEfficiency(*release.efficiency_parameters)
    qf = release.qf if args.qf is None else args.qf

    proton_energy_gev = proton_energy_gev_from_pot(release.exposure_gwh, args.pot)
    print(
        f"POT {args.pot:.4g} (effective {proton_energy_gev:.4f} GeV/proton "
        f"for {release.exposure_gwh} GWh), fluence {fluence:.4g} nu/cm^2 per flavour"
    )
    print(
        f"CsI {args.mass_kg} kg = {formula_units:.5g} formula units; sin2 {args.sin2}; "
        f"QF {qf}, LY {release.light_yield_pe_per_kevee} PE/keVee"
    )
    print(
        "recoils (integral of dN/dT, no detector): "
        + ", ".join(f"{f} {np.trapezoid(rates[f], recoil_kev):.1f}" for f in flavours)
        + f", total {np.trapezoid(spectra.sum(0), recoil_kev):.1f}"
    )
    for convention in ("n_minus_half", "n_plus_half"):
        response = DetectorResponse(qf, release.light_yield_pe_per_kevee, efficiency, convention)
        matrix = response.response_matrix(recoil_kev)
        pe_counts = matrix.apply(spectra)  # (flavour, 25)
        pe_time = np.stack(
            [pe_time_expectation(pe_counts[i], time_pdfs[f]) for i, f in enumerate(flavours)]
        )
        in_region = pe_time[:, region].sum(axis=1)
        before_efficiency = matrix.apply_before_efficiency(spectra)[:, 3:15].sum()
        print(
            f"[{convention}] 6-30 PE, 0-12 us: "
            + ", ".join(f"{f} {v:.1f}" for f, v in zip(flavours, in_region, strict=True))
            + f", total {in_region.sum():.1f}; 0-6 us: {pe_time[:, region_0_6].sum():.1f}; "
            f"all PE (0-50) after efficiency: {pe_counts.sum():.1f}; "
            f"6-30 PE before efficiency: {before_efficiency:.1f}"
        )


if __name__ == "__main__":
    main()
