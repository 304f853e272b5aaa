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
from cenns_bayes.specs.joint import is_joint_spec

from .conftest import MODELS

# joint specs ([[members]]) have their own tests (tests/test_joint.py)
MODEL_FILES = sorted(p.name for p in MODELS.glob("*.toml") if not is_joint_spec(p))
#: Fits of a detector-response model with a free parameter the response model has no exact
#: gradient for (numerical gradients over 2 x 144 background rates): 30-100 s each on 2 busy cores.
SLOW_FITS = {
    "coherent_csi_2017_mu.toml",
    "coherent_csi_2017_r2.toml",
    # 648 PE x time bins, a 31-parameter steady state: ~1 min each; the data fit of
    # coherent_csi_2021.toml runs in the fast suite through tests/test_csi_2021.py
    "coherent_csi_2021.toml",
    "coherent_csi_2021_mu.toml",
    "coherent_csi_2021_sin2.toml",
}
_FITS: dict[str, dict] = {}


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


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=pytest.mark.slow) if n in SLOW_FITS else n for n in MODEL_FILES]
)
def test_fit_json(name, capsys):
    doc = run_json(capsys, "fit", MODELS / name, "--json")
    _FITS[name] = doc
    assert doc["details"]["converged"]
    for p, row in doc["parameters"].items():
        lo68, hi68 = row["interval_68"]
        lo90, hi90 = row["interval_90"]
        assert all(math.isfinite(v) for v in (lo68, hi68, lo90, hi90)), p
        # the 68 % interval lies inside the 90 % one and contains the best fit
        assert lo90 <= lo68 <= row["best"] <= hi68 <= hi90, (p, row)


@pytest.mark.parametrize("name", MODEL_FILES)
def test_fit_and_main_job_profile_intervals_agree(name, capsys):
    """``fit`` and the main job's frequentist ``profile`` rows: equal to 0.1 % of the width.

    Counting studies only (the main job of a response study takes its profile rows from
    ``fit`` itself). The fit is reused from :func:`test_fit_json` when it ran first.
    """
    from cenns_bayes.bayes.compare import frequentist_intervals
    from cenns_bayes.specs import load_study
    from cenns_bayes.stats.binned import model_for_study
    from cenns_bayes.stats.counting import CountingModel

    study = load_study(MODELS / name)
    model = model_for_study(study)
    if not isinstance(model, CountingModel):
        pytest.skip("not a counting study")
    fit = _FITS.get(name) or run_json(capsys, "fit", MODELS / name, "--json")
    main_job = frequentist_intervals(study, model)
    for p, row in fit["parameters"].items():
        prof = main_job[p]["profile"]
        for key in ("interval_68", "interval_90"):
            width = row[key][1] - row[key][0]
            assert width > 0
            for end in (0, 1):
                assert abs(prof[key][end] - row[key][end]) <= 1e-3 * width, (
                    p,
                    key,
                    prof[key],
                    row[key],
                )
