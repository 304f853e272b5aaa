"""Target nuclei and detector targets (single isotopes, compounds, natural mixtures).

Atomic masses and natural abundances come from :mod:`periodictable` (NIST atomic
weights and isotopic compositions). Nuclear masses are the measured atomic masses
less the electron masses plus the total electron binding energy (Lunney, Pearson
and Thibault, Rev. Mod. Phys. 75 (2003) 1021, Eq. A4), not A times u.

Names: a single isotope is written element symbol + mass number (``"Ar40"``,
``"Xe132"``, ``"Cs133"``); mixtures have registered names (``"CsI"``, ``"Ge-nat"``,
``"Xe-nat"``, ``"Ar-nat"``, ``"NaI"``).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from functools import cache

import periodictable

from .constants import ATOMIC_MASS_UNIT_KG, ATOMIC_MASS_UNIT_MEV, ELECTRON_MASS_MEV

__all__ = [
    "Nucleus",
    "Target",
    "TargetComponent",
    "UnknownNucleusError",
    "get_nucleus",
    "get_target",
    "target_names",
]


class UnknownNucleusError(ValueError):
    """A nucleus or target name that the package does not know."""


@dataclass(frozen=True)
class Nucleus:
    """One isotope.

    Attributes
    ----------
    symbol : str
        Element symbol, e.g. ``"Ar"``.
    Z, A : int
        Proton and mass numbers.
    atomic_mass_u : float
        Measured atomic mass in unified atomic mass units.
    """

    symbol: str
    Z: int
    A: int
    atomic_mass_u: float

    @property
    def N(self) -> int:  # noqa: N802 - physics notation
        """Neutron number."""
        return self.A - self.Z

    @property
    def name(self) -> str:
        """Canonical name, symbol + mass number (``"Ar40"``)."""
        return f"{self.symbol}{self.A}"

    @property
    def mass_mev(self) -> float:
        """Nuclear mass in MeV/c^2 (atomic mass less electrons plus their binding)."""
        binding_ev = 14.4381 * self.Z**2.39 + 1.55468e-6 * self.Z**5.35
        return (
            self.atomic_mass_u * ATOMIC_MASS_UNIT_MEV
            - self.Z * ELECTRON_MASS_MEV
            + binding_ev * 1e-6
        )

    @property
    def atomic_mass_kg(self) -> float:
        """Atomic mass in kg (what a detector's mass counts)."""
        return self.atomic_mass_u * ATOMIC_MASS_UNIT_KG


@dataclass(frozen=True)
class TargetComponent:
    """An isotope and how many of it each formula unit of a target holds."""

    nucleus: Nucleus
    atoms_per_formula_unit: float


@dataclass(frozen=True)
class Target:
    """A detector target: one isotope, a compound or a natural mixture.

    Attributes
    ----------
    name : str
        The name used in study specs.
    components : tuple of TargetComponent
        Isotopes and their multiplicities per formula unit (for natural mixtures
        the multiplicity is the isotopic abundance, as a number fraction).
    """

    name: str
    components: tuple[TargetComponent, ...]

    @property
    def formula_mass_kg(self) -> float:
        """Mass of one formula unit in kg."""
        return sum(c.atoms_per_formula_unit * c.nucleus.atomic_mass_kg for c in self.components)

    def atoms_per_kg(self) -> dict[str, float]:
        """Number of atoms of each isotope per kg of target, keyed by isotope name."""
        units_per_kg = 1.0 / self.formula_mass_kg
        out: dict[str, float] = {}
        for c in self.components:
            out[c.nucleus.name] = (
                out.get(c.nucleus.name, 0.0) + c.atoms_per_formula_unit * units_per_kg
            )
        return out

    @property
    def max_mass_number(self) -> int:
        """Largest A among the components."""
        return max(c.nucleus.A for c in self.components)

    @property
    def min_nucleus_mass_mev(self) -> float:
        """Lightest nuclear mass among the components in MeV (gives the largest recoil)."""
        return min(c.nucleus.mass_mev for c in self.components)


_ISOTOPE_RE = re.compile(r"^([A-Z][a-z]?)-?(\d{1,3})$")


@cache
def get_nucleus(name: str) -> Nucleus:
    """Return the isotope named like ``"Ar40"`` (or ``"Ar-40"``).

    Parameters
    ----------
    name : str
        Element symbol followed by the mass number.

    Returns
    -------
    Nucleus

    Raises
    ------
    UnknownNucleusError
        If the name is malformed or no such isotope has a measured mass.
    """
    m = _ISOTOPE_RE.match(name.strip())
    if not m:
        raise UnknownNucleusError(
            f"unknown nucleus {name!r}: expected an isotope such as 'Ar40' or one of "
            f"{', '.join(_MIXTURES)}"
        )
    symbol, a_str = m.group(1), int(m.group(2))
    try:
        element = getattr(periodictable, symbol)
        iso = element[a_str]
    except (AttributeError, KeyError):
        raise UnknownNucleusError(
            f"unknown nucleus {name!r}: no isotope {symbol}-{a_str}"
        ) from None
    if iso.mass is None or iso.mass <= 0:
        raise UnknownNucleusError(f"unknown nucleus {name!r}: no measured mass")
    return Nucleus(symbol=symbol, Z=int(element.number), A=a_str, atomic_mass_u=float(iso.mass))


def _natural(symbol: str) -> tuple[TargetComponent, ...]:
    element = getattr(periodictable, symbol)
    comps = []
    for iso in element:
        if iso.abundance and iso.abundance > 0:
            comps.append(
                TargetComponent(get_nucleus(f"{symbol}{iso.isotope}"), iso.abundance / 100.0)
            )
    total = sum(c.atoms_per_formula_unit for c in comps)
    # Tabulated abundances sum to 1 within rounding; renormalise so the mixture is exact.
    return tuple(TargetComponent(c.nucleus, c.atoms_per_formula_unit / total) for c in comps)


_MIXTURES: dict[str, tuple[tuple[str, float], ...] | str] = {
    "CsI": (("Cs133", 1.0), ("I127", 1.0)),
    "NaI": (("Na23", 1.0), ("I127", 1.0)),
    "Ge-nat": "Ge",
    "Xe-nat": "Xe",
    "Ar-nat": "Ar",
    "Ne-nat": "Ne",
}


def target_names() -> list[str]:
    """Names of the registered compound and natural-mixture targets."""
    return list(_MIXTURES)


@cache
def get_target(name: str) -> Target:
    """Return a detector target by name: an isotope (``"Ar40"``) or a mixture (``"CsI"``).

    Raises
    ------
    UnknownNucleusError
        With the nearest known names when the name is unknown.
    """
    spec = _MIXTURES.get(name)
    if isinstance(spec, str):
        return Target(name, _natural(spec))
    if spec is not None:
        return Target(name, tuple(TargetComponent(get_nucleus(n), k) for n, k in spec))
    try:
        nucleus = get_nucleus(name)
    except UnknownNucleusError as err:
        near = difflib.get_close_matches(name, [*_MIXTURES, "Ne20", "Ar40", "Ge76", "Xe132"], n=3)
        hint = f" (did you mean {', '.join(near)}?)" if near else ""
        raise UnknownNucleusError(f"{err}{hint}") from None
    return Target(nucleus.name, (TargetComponent(nucleus, 1.0),))
