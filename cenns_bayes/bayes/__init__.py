"""Bayesian layer: PyMC models built from study specs, NUTS sampling, summaries.

The names below import PyMC and PyTensor on first use, not with the package: a check that
samples through the hand-written log-density (:mod:`.direct`) never needs them. The layers
below this one never import them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .model import build_model
    from .sampling import SamplingResult, sample_study
    from .summary import diagnostics, summarise_posterior

__all__ = ["SamplingResult", "build_model", "diagnostics", "sample_study", "summarise_posterior"]

#: public name -> the submodule that defines it
_SOURCES = {
    "SamplingResult": "sampling",
    "build_model": "model",
    "diagnostics": "summary",
    "sample_study": "sampling",
    "summarise_posterior": "summary",
}


def __getattr__(name: str) -> Any:
    """Import a public name from its submodule at first use (PEP 562)."""
    source = _SOURCES.get(name)
    if source is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{source}", __name__), name)
    globals()[name] = value  # later look-ups skip this function
    return value
