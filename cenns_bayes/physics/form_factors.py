"""Nuclear form factors F(q) with F(0) = 1, for protons and neutrons separately.

A form factor is a callable of the momentum transfer ``q_inv_fm`` (fm^-1) returning
an array of the same shape. Models (closed registry, looked up by name):

``helm``
    Helm (1956) with the Lewin and Smith parameters (Astropart. Phys. 6 (1996) 87):
    F = 3 j1(q R0)/(q R0) exp(-q^2 s^2 / 2), R0^2 = c^2 + 7/3 pi^2 a^2 - 5 s^2,
    c = 1.23 A^(1/3) - 0.60 fm, a = 0.52 fm, s = 0.9 fm.
``klein-nystrand``
    Klein and Nystrand, PRC 60 (1999) 014903: a hard sphere of radius
    R_A = 1.2 A^(1/3) fm folded with a Yukawa of range a = 0.7 fm,
    F = 3 j1(q R_A)/(q R_A) / (1 + q^2 a^2).
``symmetrized-fermi``
    The analytic Fourier transform of the symmetrized Fermi density (Sprung and
    Martorell, J. Phys. A 30 (1997) 6525) with c = 1.23 A^(1/3) - 0.60 fm, a = 0.52 fm.
``unity``
    F = 1: the paper's "zero momentum transfer" curves.
``bcs``
    Proton and neutron form factors of a BCS ground state (Eq. 5 of the seed paper),
    from :mod:`cenns_bayes.physics.bcs`.

The phenomenological models give the same shape to protons and neutrons unless a
neutron skin is asked for: ``neutron_skin_fm`` = r_n - r_p (point rms radii)
stretches the neutron distribution of the same model to that rms radius.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .nuclei import Nucleus

__all__ = [
    "FORM_FACTOR_MODELS",
    "FormFactor",
    "Helm",
    "KleinNystrand",
    "SymmetrizedFermi",
    "Unity",
    "UnknownFormFactorError",
    "form_factor_pair",
    "spherical_j1_over_x",
]

FormFactorFn = Callable[[np.ndarray], np.ndarray]


class UnknownFormFactorError(ValueError):
    """A form-factor model name that is not registered."""


def spherical_j1_over_x(x: np.ndarray) -> np.ndarray:
    """Return 3 j1(x)/x, the hard-sphere form factor, stable at small x (limit 1)."""
    x = np.asarray(x, dtype=float)
    out = np.empty_like(x)
    small = np.abs(x) < 1e-3
    xs = x[small]
    # Taylor series 1 - x^2/10 + x^4/280 keeps full precision where the closed form cancels.
    out[small] = 1.0 - xs**2 / 10.0 + xs**4 / 280.0
    xl = x[~small]
    out[~small] = 3.0 * (np.sin(xl) - xl * np.cos(xl)) / xl**3
    return out


class FormFactor:
    """Base class: a callable of q (fm^-1) with a known point rms radius (fm)."""

    @property
    def rms_radius_fm(self) -> float:  # pragma: no cover - abstract
        """Root-mean-square radius of the density, fm."""
        raise NotImplementedError

    def __call__(self, q_inv_fm: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        """Evaluate the form factor at momentum transfer ``q_inv_fm`` (fm^-1)."""
        raise NotImplementedError


@dataclass(frozen=True)
class Helm(FormFactor):
    """Helm form factor with box radius ``r0_fm`` and surface thickness ``s_fm``."""

    r0_fm: float
    s_fm: float = 0.9

    @classmethod
    def lewin_smith(cls, mass_number: int) -> Helm:
        """Standard parameters (Lewin and Smith 1996) for mass number A."""
        c = 1.23 * mass_number ** (1 / 3) - 0.60
        a, s = 0.52, 0.9
        return cls(math.sqrt(c**2 + 7.0 / 3.0 * math.pi**2 * a**2 - 5.0 * s**2), s)

    @property
    def rms_radius_fm(self) -> float:
        """Root-mean-square radius: <r^2> = 3/5 R0^2 + 3 s^2."""
        return math.sqrt(0.6 * self.r0_fm**2 + 3.0 * self.s_fm**2)

    def with_rms_radius(self, rms_fm: float) -> Helm:
        """Same surface thickness, box radius changed to give rms radius ``rms_fm``."""
        r0_sq = (rms_fm**2 - 3.0 * self.s_fm**2) / 0.6
        if r0_sq <= 0:
            raise ValueError(f"rms radius {rms_fm} fm too small for Helm with s = {self.s_fm} fm")
        return Helm(math.sqrt(r0_sq), self.s_fm)

    def __call__(self, q_inv_fm: np.ndarray) -> np.ndarray:
        """Evaluate at ``q_inv_fm`` (fm^-1)."""
        q = np.asarray(q_inv_fm, dtype=float)
        return spherical_j1_over_x(q * self.r0_fm) * np.exp(-0.5 * (q * self.s_fm) ** 2)


@dataclass(frozen=True)
class KleinNystrand(FormFactor):
    """Klein-Nystrand form factor: a hard sphere folded with a Yukawa potential.

    The sphere has radius ``radius_fm`` and the Yukawa range ``a_fm``.
    """

    radius_fm: float
    a_fm: float = 0.7

    @classmethod
    def standard(cls, mass_number: int) -> KleinNystrand:
        """R_A = 1.2 A^(1/3) fm, a = 0.7 fm."""
        return cls(1.2 * mass_number ** (1 / 3), 0.7)

    @property
    def rms_radius_fm(self) -> float:
        """Root-mean-square radius: <r^2> = 3/5 R^2 + 6 a^2."""
        return math.sqrt(0.6 * self.radius_fm**2 + 6.0 * self.a_fm**2)

    def with_rms_radius(self, rms_fm: float) -> KleinNystrand:
        """Same Yukawa range, sphere radius changed to give rms radius ``rms_fm``."""
        r_sq = (rms_fm**2 - 6.0 * self.a_fm**2) / 0.6
        if r_sq <= 0:
            raise ValueError(f"rms radius {rms_fm} fm too small for Klein-Nystrand")
        return KleinNystrand(math.sqrt(r_sq), self.a_fm)

    def __call__(self, q_inv_fm: np.ndarray) -> np.ndarray:
        """Evaluate at ``q_inv_fm`` (fm^-1)."""
        q = np.asarray(q_inv_fm, dtype=float)
        return spherical_j1_over_x(q * self.radius_fm) / (1.0 + (q * self.a_fm) ** 2)


@dataclass(frozen=True)
class SymmetrizedFermi(FormFactor):
    """Symmetrized Fermi form factor with half-density radius ``c_fm`` and diffuseness ``a_fm``."""

    c_fm: float
    a_fm: float = 0.52

    @classmethod
    def standard(cls, mass_number: int) -> SymmetrizedFermi:
        """C = 1.23 A^(1/3) - 0.60 fm, a = 0.52 fm."""
        return cls(1.23 * mass_number ** (1 / 3) - 0.60, 0.52)

    @property
    def rms_radius_fm(self) -> float:
        """Root-mean-square radius: <r^2> = 3/5 c^2 + 7/5 pi^2 a^2."""
        return math.sqrt(0.6 * self.c_fm**2 + 1.4 * math.pi**2 * self.a_fm**2)

    def with_rms_radius(self, rms_fm: float) -> SymmetrizedFermi:
        """Same diffuseness, half-density radius changed to give rms radius ``rms_fm``."""
        c_sq = (rms_fm**2 - 1.4 * math.pi**2 * self.a_fm**2) / 0.6
        if c_sq <= 0:
            raise ValueError(f"rms radius {rms_fm} fm too small for symmetrized Fermi")
        return SymmetrizedFermi(math.sqrt(c_sq), self.a_fm)

    def __call__(self, q_inv_fm: np.ndarray) -> np.ndarray:
        """Evaluate at ``q_inv_fm`` (fm^-1)."""
        q = np.atleast_1d(np.asarray(q_inv_fm, dtype=float))
        c, a = self.c_fm, self.a_fm
        out = np.ones_like(q)
        nz = q > 1e-6
        qq = q[nz]
        pqa = math.pi * qq * a
        qc = qq * c
        norm = 3.0 / (qc * (qc**2 + pqa**2))
        out[nz] = norm * (pqa / np.sinh(pqa)) * (pqa / np.tanh(pqa) * np.sin(qc) - qc * np.cos(qc))
        # Below q = 1e-6 fm^-1 the series 1 - q^2 <r^2>/6 is exact to double precision.
        out[~nz] = 1.0 - q[~nz] ** 2 * self.rms_radius_fm**2 / 6.0
        return out.reshape(np.shape(q_inv_fm))


@dataclass(frozen=True)
class Unity(FormFactor):
    """F = 1 for all q: the point-like nucleus of the paper's zero-momentum-transfer curves."""

    @property
    def rms_radius_fm(self) -> float:
        """Zero: a point."""
        return 0.0

    def __call__(self, q_inv_fm: np.ndarray) -> np.ndarray:
        """Return ones shaped like ``q_inv_fm``."""
        return np.ones_like(np.asarray(q_inv_fm, dtype=float))


def _phenomenological(model: str, nucleus: Nucleus, neutron_skin_fm: float):
    proton: Helm | KleinNystrand | SymmetrizedFermi
    if model == "helm":
        proton = Helm.lewin_smith(nucleus.A)
    elif model == "klein-nystrand":
        proton = KleinNystrand.standard(nucleus.A)
    else:
        proton = SymmetrizedFermi.standard(nucleus.A)
    neutron = (
        proton
        if neutron_skin_fm == 0.0
        else proton.with_rms_radius(proton.rms_radius_fm + neutron_skin_fm)
    )
    return proton, neutron


def _bcs(nucleus: Nucleus, neutron_skin_fm: float):
    from . import bcs  # the nuclear-structure calculation is imported only when asked for

    if neutron_skin_fm != 0.0:
        raise ValueError("the BCS form factors fix the neutron skin; neutron_skin_fm must be 0")
    return bcs.bcs_form_factors(nucleus.Z, nucleus.A)


#: Registered form-factor models and a one-line description of each.
FORM_FACTOR_MODELS: dict[str, str] = {
    "helm": "Helm, Lewin-Smith parameters",
    "klein-nystrand": "Klein-Nystrand, R_A = 1.2 A^(1/3) fm, a = 0.7 fm",
    "symmetrized-fermi": "symmetrized Fermi, c = 1.23 A^(1/3) - 0.60 fm, a = 0.52 fm",
    "unity": "F = 1 (zero momentum transfer)",
    "bcs": "BCS nuclear ground state, separate proton and neutron form factors (Eq. 5)",
}


def form_factor_pair(
    model: str, nucleus: Nucleus, neutron_skin_fm: float = 0.0
) -> tuple[FormFactorFn, FormFactorFn]:
    """Return the proton and neutron form factors ``(F_Z, F_N)`` of ``nucleus``.

    Parameters
    ----------
    model : str
        A name in :data:`FORM_FACTOR_MODELS`.
    nucleus : Nucleus
        The isotope.
    neutron_skin_fm : float
        r_n - r_p of the point rms radii in fm (phenomenological models only).

    Raises
    ------
    UnknownFormFactorError
        With the registered names when ``model`` is unknown.
    """
    if model not in FORM_FACTOR_MODELS:
        near = difflib.get_close_matches(model, list(FORM_FACTOR_MODELS), n=1)
        hint = f"; did you mean {near[0]!r}?" if near else ""
        raise UnknownFormFactorError(
            f"unknown form factor {model!r}: expected one of {', '.join(FORM_FACTOR_MODELS)}{hint}"
        )
    if model == "unity":
        return Unity(), Unity()
    if model == "bcs":
        return _bcs(nucleus, neutron_skin_fm)
    return _phenomenological(model, nucleus, neutron_skin_fm)
