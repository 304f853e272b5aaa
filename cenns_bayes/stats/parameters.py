"""The one table of physics parameters: unit, Standard-Model default, physical bounds, step.

Every other module (count evaluation, fits, limits, toys, reports) reads defaults, bounds
and step scales from here, so a parameter means the same thing everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..physics.constants import SIN2_THETA_W_PAPER

__all__ = ["PARAMETERS", "Parameter", "bounds", "defaults", "step"]


@dataclass(frozen=True)
class Parameter:
    """A physics parameter of the expectation.

    Attributes
    ----------
    name : str
        Identifier used in specs, fits and output (``sin2_theta_w``, ``mu_nu_mu``, ...).
    unit : str
        Unit of the value ("" for dimensionless).
    default : float
        Standard-Model value (the value of a parameter a study does not free or fix).
    lower, upper : float
        Physical range searched by fits and interval ends (mu_nu >= 0, 0 < sin^2 < 1).
    step : float
        Typical scale of a change that matters, used to scale minimisers and to start
        interval searches.
    """

    name: str
    unit: str
    default: float
    lower: float
    upper: float
    step: float


PARAMETERS: dict[str, Parameter] = {
    p.name: p
    for p in (
        Parameter("sin2_theta_w", "", SIN2_THETA_W_PAPER, 1e-6, 1.0 - 1e-6, 0.01),
        Parameter("mu_nu_mu", "1e-10 mu_B", 0.0, 0.0, 1e4, 1.0),
        Parameter("mu_nu_e", "1e-10 mu_B", 0.0, 0.0, 1e4, 1.0),
        Parameter("r2_nu_mu", "1e-32 cm^2", 0.0, -1e3, 1e3, 0.3),
        Parameter("r2_nu_e", "1e-32 cm^2", 0.0, -1e3, 1e3, 0.3),
        Parameter("signal_strength", "ratio to SM", 1.0, 0.0, 100.0, 0.1),
        Parameter("neutron_skin_fm", "fm", 0.0, -0.5, 1.5, 0.1),
    )
}


def defaults() -> dict[str, float]:
    """Standard-Model values of the parameters of the count polynomial."""
    return {k: p.default for k, p in PARAMETERS.items() if k != "neutron_skin_fm"}


def bounds(name: str) -> tuple[float, float]:
    """Physical (lower, upper) bounds of ``name``."""
    p = PARAMETERS[name]
    return p.lower, p.upper


def step(name: str) -> float:
    """Typical scale of ``name`` (1 for an unknown name)."""
    p = PARAMETERS.get(name)
    return p.step if p is not None else 1.0
