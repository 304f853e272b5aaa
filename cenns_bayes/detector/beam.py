"""Neutrino source from beam exposure: protons on target and time-integrated fluence.

The SNS produces decay-at-rest neutrinos isotropically; with ``r`` neutrinos per
flavour per proton on target (POT) the time-integrated fluence per flavour at a
distance ``L`` is ``r · POT / (4π L²)``.

Protons on target follow from the delivered beam energy: an exposure of
``E`` GW·h at an average kinetic energy ``E_p`` per proton gives
``POT = E [J] / (E_p [J])``. For the COHERENT CsI 2017 data the published
1.76 × 10²³ POT for 7.47594 GW·h imply an effective 0.954 GeV per proton
(REFERENCE.md §3.5); either give the POT directly or the exposure and the
proton energy.
"""

from __future__ import annotations

import math

__all__ = [
    "ELEMENTARY_CHARGE_C",
    "neutrino_fluence_per_cm2",
    "proton_energy_gev_from_pot",
    "protons_on_target_from_exposure",
    "resolve_protons_on_target",
]

#: Elementary charge (C), exact in the 2019 SI; converts GeV to joule.
ELEMENTARY_CHARGE_C = 1.602176634e-19
_JOULE_PER_GWH = 1.0e9 * 3600.0
_JOULE_PER_GEV = 1.0e9 * ELEMENTARY_CHARGE_C


def protons_on_target_from_exposure(exposure_gwh: float, proton_energy_gev: float) -> float:
    """Return the number of protons on target delivered by a beam exposure.

    Parameters
    ----------
    exposure_gwh : float
        Integrated beam energy on target (GW·h).
    proton_energy_gev : float
        Average kinetic energy per proton (GeV).

    Returns
    -------
    float
        Protons on target, ``exposure_gwh · 3.6e12 J / (proton_energy_gev · 1.602e-10 J)``.

    """
    if exposure_gwh < 0 or proton_energy_gev <= 0:
        raise ValueError("exposure_gwh must be >= 0 and proton_energy_gev > 0")
    return exposure_gwh * _JOULE_PER_GWH / (proton_energy_gev * _JOULE_PER_GEV)


def proton_energy_gev_from_pot(exposure_gwh: float, protons_on_target: float) -> float:
    """Average proton energy (GeV) implied by an exposure and a POT count.

    Parameters
    ----------
    exposure_gwh : float
        Integrated beam energy on target (GW·h).
    protons_on_target : float
        Number of protons on target.

    Returns
    -------
    float
        Average kinetic energy per proton (GeV).

    """
    if exposure_gwh <= 0 or protons_on_target <= 0:
        raise ValueError("exposure_gwh and protons_on_target must be > 0")
    return exposure_gwh * _JOULE_PER_GWH / (protons_on_target * _JOULE_PER_GEV)


def resolve_protons_on_target(
    *,
    protons_on_target: float | None = None,
    exposure_gwh: float | None = None,
    proton_energy_gev: float | None = None,
) -> float:
    """Protons on target from either a POT count or an exposure and a proton energy.

    Exactly one of the two forms must be given: ``protons_on_target`` alone, or
    ``exposure_gwh`` together with ``proton_energy_gev``.

    Returns
    -------
    float
        Protons on target.

    """
    if protons_on_target is not None:
        if exposure_gwh is not None or proton_energy_gev is not None:
            raise ValueError(
                "give protons_on_target, or exposure_gwh and proton_energy_gev, not both"
            )
        if protons_on_target < 0:
            raise ValueError("protons_on_target must be >= 0")
        return float(protons_on_target)
    if exposure_gwh is None or proton_energy_gev is None:
        raise ValueError("give protons_on_target, or both exposure_gwh and proton_energy_gev")
    return protons_on_target_from_exposure(exposure_gwh, proton_energy_gev)


def neutrino_fluence_per_cm2(
    neutrinos_per_proton: float, protons_on_target: float, distance_m: float
) -> float:
    """Time-integrated fluence of one flavour at the detector (ν/cm²).

    Parameters
    ----------
    neutrinos_per_proton : float
        Neutrinos of this flavour per proton on target, emitted isotropically.
    protons_on_target : float
        Number of protons on target.
    distance_m : float
        Source-to-detector distance (m).

    Returns
    -------
    float
        ``neutrinos_per_proton · protons_on_target / (4π (100 distance_m)²)`` in ν/cm².

    """
    if distance_m <= 0:
        raise ValueError("distance_m must be > 0")
    distance_cm = 100.0 * distance_m
    return neutrinos_per_proton * protons_on_target / (4.0 * math.pi * distance_cm**2)
