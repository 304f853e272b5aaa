"""Every shipped study runs through ``rates --json`` and ``fit --json``: exit 0, valid JSON.

Parametrised over ``models/*.toml``, so a model added later is covered without editing
this file. The commands run in-process through :func:`cenns_bayes.cli.main.main` (the
installed entry point itself is exercised in ``test_cli.py``).
"""

from __future__ import annotations

import json
import math

import pytest

from cenns_bayes.cli.main import main

from .conftest import MODELS

MODEL_FILES = sorted(p.name for p in MODELS.glob("*.toml"))


def run_json(capsys, *argv) -> dict:
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert status == 0, err
    return json.loads(out)


def test_every_model_is_covered():
    assert len(MODEL_FILES) >= 18


@pytest.mark.parametrize("name", MODEL_FILES)
def test_rates_json(name, capsys):
    doc = run_json(capsys, "rates", MODELS / name, "--json")
    assert doc["counts"] and all(r["expected"] >= 0 for r in doc["counts"])


@pytest.mark.parametrize("name", MODEL_FILES)
def test_fit_json(name, capsys):
    doc = run_json(capsys, "fit", MODELS / name, "--json")
    assert doc["details"]["converged"]
    for p, row in doc["parameters"].items():
        lo68, hi68 = row["interval_68"]
        lo90, hi90 = row["interval_90"]
        assert all(math.isfinite(v) for v in (lo68, hi68, lo90, hi90)), p
        # the 68 % interval lies inside the 90 % one and contains the best fit
        assert lo90 <= lo68 <= row["best"] <= hi68 <= hi90, (p, row)
