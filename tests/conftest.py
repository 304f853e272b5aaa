"""Shared fixtures and paths for the test suite."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "models"
BAD_SPECS = Path(__file__).parent / "specs_bad"


@pytest.fixture(scope="session")
def realistic():
    """The packaged realistic preset of the seed paper."""
    from cenns_bayes.paper.reproduce import load_presets

    return load_presets()["realistic"]
