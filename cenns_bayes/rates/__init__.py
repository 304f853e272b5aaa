"""Event rates: exact count coefficients per detector, flavour and recoil bin.

Counts are exactly quadratic in sin^2(theta_W) (hence in <r^2>) and linear in mu_nu^2,
so the recoil and neutrino-energy integrals of Eq. (9) are done once per channel and
every later evaluation is a handful of multiplications (:mod:`.coefficients`).
:mod:`.quadrature` integrates Eq. (9) directly, for cross-checks and benchmarks.
"""

from .coefficients import (
    PARAMETER_NAMES,
    ChannelCoefficients,
    DetectorSetup,
    RateModel,
    channel_coefficients,
    differential_coefficients,
    parameter_for_flavor,
)

__all__ = [
    "PARAMETER_NAMES",
    "ChannelCoefficients",
    "DetectorSetup",
    "RateModel",
    "channel_coefficients",
    "differential_coefficients",
    "parameter_for_flavor",
]
