"""The one table of physics parameters: unit, Standard-Model default, physical bounds, step.

Every other module (count evaluation, fits, limits, toys, reports) reads defaults, bounds
and step scales from here, so a parameter means the same thing everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..physics.constants import SIN2_THETA_W_PAPER

__all__ = ["PARAMETERS", "ROW_PARAMETERS", "Parameter", "bounds", "defaults", "step"]


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
        # rms radii of the neutron distributions (Helm, surface thickness 0.9 fm) of the joint
        # COHERENT study; defaults are the proton rms radii of the Lewin-Smith Helm form
        # factor (no skin); bounds are the ranges of their templates (stats/joint.py)
        Parameter("neutron_radius_cs133_fm", "fm", 4.8045, 3.8, 7.3, 0.2),
        Parameter("neutron_radius_i127_fm", "fm", 4.7348, 3.8, 7.3, 0.2),
        Parameter("neutron_radius_ar40_fm", "fm", 3.4012, 2.6, 5.2, 0.2),
    )
}

#: Parameters that change the coefficient rows themselves, not the count polynomial's weights.
ROW_PARAMETERS = (
    "neutron_skin_fm",
    "neutron_radius_cs133_fm",
    "neutron_radius_i127_fm",
    "neutron_radius_ar40_fm",
)


def defaults() -> dict[str, float]:
    """Standard-Model values of the parameters of the count polynomial."""
    return {k: p.default for k, p in PARAMETERS.items() if k not in ROW_PARAMETERS}


def bounds(name: str) -> tuple[float, float]:
    """Physical (lower, upper) bounds of ``name``."""
    p = PARAMETERS[name]
    return p.lower, p.upper


def step(name: str) -> float:
    """Typical scale of ``name`` (1 for an unknown name)."""
    p = PARAMETERS.get(name)
    return p.step if p is not None else 1.0
