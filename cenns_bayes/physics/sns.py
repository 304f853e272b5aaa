"""The neutrino source of a stopped-pion facility such as the SNS.

Three flavours per proton: a prompt nu_mu line from pi+ -> mu+ nu_mu at rest, and
the delayed nu_e and anti-nu_mu from mu+ -> e+ nu_e anti-nu_mu at rest with the
Michel spectra of Eq. (8) of the seed paper, each normalised to one on
0 <= E <= m_mu/2:

    eta_nue(E)     = 96 E^2 m_mu^-4 (m_mu - 2E)
    eta_numubar(E) = 16 E^2 m_mu^-4 (3 m_mu - 4E)

Spectra are stored as polynomial coefficients so that the energy moments the rate
integrals need, int_{E0}^{Emax} eta(E) E^k dE for k = 0, -1, -2, are exact.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .constants import MUON_MASS_MEV, PAPER_PROMPT_ENERGY_MEV

__all__ = [
    "FLAVORS",
    "DelayedSpectrum",
    "PromptLine",
    "flux_at_distance",
    "sns_spectrum",
]

#: Flavours of a stopped-pion source, in the order used everywhere.
FLAVORS: tuple[str, ...] = ("numu", "numubar", "nue")


@dataclass(frozen=True)
class PromptLine:
    """A monochromatic line at ``energy_mev`` (normalised to one neutrino)."""

    energy_mev: float

    @property
    def max_energy_mev(self) -> float:
        """Largest neutrino energy, MeV."""
        return self.energy_mev

    def moment(self, k: int, min_energy_mev: np.ndarray) -> np.ndarray:
        """Return int_{E_min}^{inf} delta(E - E0) E^k dE = E0^k [E0 >= E_min]."""
        e_min = np.asarray(min_energy_mev, dtype=float)
        return np.where(e_min <= self.energy_mev, self.energy_mev**k, 0.0)

    def density(self, energy_mev: np.ndarray) -> np.ndarray:
        """Not a function: a line has no density; raises to avoid silent misuse."""
        raise TypeError("a prompt line is a delta function; use moment()")


@dataclass(frozen=True)
class DelayedSpectrum:
    """A polynomial spectrum eta(E) = sum_k c_k E^k on [0, max_energy_mev], normalised to one.

    Attributes
    ----------
    coefficients : tuple of float
        c_k in MeV^-(k+1), lowest power first.
    max_energy_mev : float
        Upper end point, MeV.
    """

    coefficients: tuple[float, ...]
    max_energy_mev: float

    def density(self, energy_mev: np.ndarray) -> np.ndarray:
        """eta(E) in MeV^-1, zero outside [0, max_energy_mev]."""
        e = np.asarray(energy_mev, dtype=float)
        val = sum(c * e**k for k, c in enumerate(self.coefficients))
        return np.where((e >= 0) & (e <= self.max_energy_mev), val, 0.0)

    def moment(self, k: int, min_energy_mev: np.ndarray) -> np.ndarray:
        """Exact int_{E_min}^{E_max} eta(E) E^k dE for integer k (k >= -2 here).

        Parameters
        ----------
        k : int
            Power of E; the spectra start at E^2 so k >= -2 never meets a logarithm.
        min_energy_mev : array_like
            Lower limit(s), MeV; clipped to [0, E_max].
        """
        lo = np.clip(np.asarray(min_energy_mev, dtype=float), 0.0, self.max_energy_mev)
        hi = self.max_energy_mev
        total = np.zeros_like(lo)
        for power, c in enumerate(self.coefficients):
            if c == 0.0:
                continue
            p = power + k + 1
            if p == 0:
                total = total + c * (np.log(hi) - np.log(lo))
            else:
                total = total + c * (hi**p - lo**p) / p
        return total


def sns_spectrum(
    flavor: str,
    prompt_energy_mev: float = PAPER_PROMPT_ENERGY_MEV,
    muon_mass_mev: float = MUON_MASS_MEV,
) -> PromptLine | DelayedSpectrum:
    """Return the normalised energy spectrum of one flavour of a stopped-pion source.

    Parameters
    ----------
    flavor : {"numu", "numubar", "nue"}
        Prompt nu_mu, delayed anti-nu_mu or delayed nu_e.
    prompt_energy_mev : float
        Energy of the prompt line (the paper uses 29.9 MeV; pion kinematics give 29.79 MeV).
    muon_mass_mev : float
        Muon mass setting the Michel end point m_mu/2.
    """
    m = muon_mass_mev
    if flavor == "numu":
        return PromptLine(prompt_energy_mev)
    if flavor == "nue":
        return DelayedSpectrum((0.0, 0.0, 96.0 * m / m**4, -192.0 / m**4), m / 2.0)
    if flavor == "numubar":
        return DelayedSpectrum((0.0, 0.0, 48.0 * m / m**4, -64.0 / m**4), m / 2.0)
    raise ValueError(f"unknown flavour {flavor!r}: expected one of {', '.join(FLAVORS)}")


def flux_at_distance(
    flux_per_cm2_s: float, reference_distance_m: float, distance_m: float
) -> float:
    """Scale a per-flavour flux from ``reference_distance_m`` to ``distance_m`` as 1/r^2."""
    if reference_distance_m <= 0 or distance_m <= 0:
        raise ValueError("distances must be positive")
    return flux_per_cm2_s * (reference_distance_m / distance_m) ** 2
