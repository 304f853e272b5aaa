"""Scan axes: a spec path and the values it takes (``--vary PATH=VALUES``).

VALUES is one of

* a comma list: ``5,10,20`` (numbers; words such as ``helm,klein-nystrand`` are kept
  as strings, for categorical scans);
* ``start:stop:count``: ``count`` values evenly spaced from ``start`` to ``stop``
  inclusive;
* ``start:stop:count:log``: ``count`` values evenly spaced in the logarithm
  (``start``, ``stop`` > 0).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

__all__ = ["ScanAxis", "ScanValueError", "parse_values", "parse_vary"]

_PATH = re.compile(r"^[A-Za-z_][\w-]*(\.[\w-]+)*$")


class ScanValueError(ValueError):
    """A ``--vary`` argument that cannot be parsed (the message says why)."""


@dataclass(frozen=True)
class ScanAxis:
    """One scanned spec value.

    Attributes
    ----------
    path : str
        Dotted spec path, e.g. ``detectors.Ar40.recoil_window_kev.0``.
    values : tuple
        The values, floats (or strings for a categorical scan).
    log : bool
        Whether a logarithmic axis suits the values (log ranges, or positive lists
        spanning a factor of 20 or more).
    """

    path: str
    values: tuple[float | str, ...]
    log: bool = False

    @property
    def numeric(self) -> bool:
        """True when every value is a number."""
        return all(isinstance(v, float) for v in self.values)

    def to_json(self) -> dict:
        """JSON-ready description."""
        return {"path": self.path, "values": list(self.values), "log": self.log}


def _number(text: str, what: str, whole: str) -> float:
    try:
        x = float(text)
    except ValueError:
        raise ScanValueError(f"{whole!r}: {what} {text!r} is not a number") from None
    if not math.isfinite(x):
        raise ScanValueError(f"{whole!r}: {what} {text!r} is not finite")
    return x


def parse_values(text: str) -> tuple[tuple[float | str, ...], bool]:
    """Parse VALUES; returns (values, log-axis suggested).

    Raises
    ------
    ScanValueError
        For empty items, a bad range (non-numeric bounds, count not an integer >= 2,
        a log range touching zero or negative values, an unknown fourth field) or
        repeated values.
    """
    text = text.strip()
    if not text:
        raise ScanValueError("empty VALUES: give a comma list or start:stop:count[:log]")
    if ":" in text:
        parts = [p.strip() for p in text.split(":")]
        if len(parts) not in (3, 4):
            raise ScanValueError(f"{text!r}: a range is start:stop:count or start:stop:count:log")
        log = len(parts) == 4
        if log and parts[3] != "log":
            raise ScanValueError(
                f"{text!r}: the fourth field of a range can only be 'log', got {parts[3]!r}"
            )
        start = _number(parts[0], "start", text)
        stop = _number(parts[1], "stop", text)
        if not re.fullmatch(r"\d+", parts[2]) or int(parts[2]) < 2:
            raise ScanValueError(f"{text!r}: count {parts[2]!r} must be an integer >= 2")
        count = int(parts[2])
        if start == stop:
            raise ScanValueError(f"{text!r}: start and stop are equal")
        if log:
            if start <= 0 or stop <= 0:
                raise ScanValueError(f"{text!r}: a log range needs start > 0 and stop > 0")
            grid = np.geomspace(start, stop, count)
        else:
            grid = np.linspace(start, stop, count)
        return tuple(float(x) for x in grid), log
    items = [p.strip() for p in text.split(",")]
    if any(not p for p in items):
        raise ScanValueError(f"{text!r}: empty item in the comma list")
    values: list[float | str] = []
    for item in items:
        try:
            x = float(item)
        except ValueError:
            values.append(item)
            continue
        if not math.isfinite(x):
            raise ScanValueError(f"{text!r}: value {item!r} is not finite")
        values.append(x)
    if len(set(values)) != len(values):
        raise ScanValueError(f"{text!r}: repeated values")
    kinds = {isinstance(v, float) for v in values}
    if len(kinds) > 1:
        raise ScanValueError(f"{text!r}: mixes numbers and words")
    nums = [v for v in values if isinstance(v, float)]
    log = (
        len(nums) == len(values) and len(nums) > 1 and min(nums) > 0 and max(nums) / min(nums) >= 20
    )
    return tuple(values), log


def parse_vary(text: str) -> ScanAxis:
    """Parse ``PATH=VALUES`` into a :class:`ScanAxis`."""
    if "=" not in text:
        raise ScanValueError(f"--vary {text!r} is not PATH=VALUES")
    path, values = (s.strip() for s in text.split("=", 1))
    if not _PATH.match(path):
        raise ScanValueError(f"--vary {text!r}: {path!r} is not a dotted spec path")
    vals, log = parse_values(values)
    return ScanAxis(path, vals, log)
