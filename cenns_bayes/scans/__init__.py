"""Sensitivity scans: expected limits against any spec value, with Brazil bands.

* :mod:`.values` -- ``--vary PATH=VALUES`` parsing into :class:`ScanAxis`;
* :mod:`.limits` -- Asimov limits from exact count coefficients and toy fits;
* :mod:`.run` -- :func:`run_scan`, building each point's study and running toys and
  posterior tasks through :mod:`cenns_bayes.parallel`.

See ``docs/scans.md``.
"""

from .limits import (
    TARGETS,
    FitSettings,
    LimitResult,
    TargetSpec,
    expected_limit,
    fit_limit,
    target_spec,
)
from .run import (
    BAND_QUANTILES,
    PosteriorUnavailableError,
    ScanPoint,
    ScanResult,
    ScanSetupError,
    StudyScanner,
    band_from_limits,
    crossing_value,
    run_scan,
)
from .values import ScanAxis, ScanValueError, parse_values, parse_vary

__all__ = [
    "BAND_QUANTILES",
    "TARGETS",
    "FitSettings",
    "LimitResult",
    "PosteriorUnavailableError",
    "ScanAxis",
    "ScanPoint",
    "ScanResult",
    "ScanSetupError",
    "ScanValueError",
    "StudyScanner",
    "TargetSpec",
    "band_from_limits",
    "crossing_value",
    "expected_limit",
    "fit_limit",
    "parse_values",
    "parse_vary",
    "run_scan",
    "target_spec",
]
