"""Long MCMC checks (run with ``bash scripts/test.sh --slow``)."""

from __future__ import annotations

import pytest

pytest.importorskip("pymc")

from cenns_bayes.bayes import diagnostics, sample_study, summarise_posterior  # noqa: E402
from cenns_bayes.specs import load_study  # noqa: E402
from cenns_bayes.specs.joint import is_joint_spec  # noqa: E402

from .conftest import MODELS  # noqa: E402

SAMPLED = sorted(
    p for p in MODELS.glob("*.toml") if not is_joint_spec(p) and load_study(p).free_parameters
)


@pytest.mark.slow
@pytest.mark.parametrize("path", SAMPLED, ids=lambda p: p.name)
def test_every_model_samples_cleanly(path):
    study = load_study(path)
    result = sample_study(study, progressbar=False, prior_draws=10)
    d = diagnostics(result.idata, study.free_parameters)
    assert d["divergences"] == 0, d
    assert d["max_r_hat"] <= 1.01, d
    assert d["min_ess_bulk"] >= 400, d


@pytest.mark.slow
def test_four_nucleus_combination_beats_every_single_nucleus():
    def limit(name):
        study = load_study(MODELS / name)
        result = sample_study(study, progressbar=False, prior_draws=10)
        return summarise_posterior(result.idata, ["mu_nu_mu"])["mu_nu_mu"]["upper_90"]

    combined = limit("paper_realistic.toml")
    singles = {n: limit(f"single_{n}.toml") for n in ("ne20", "ar40", "ge76", "xe132")}
    assert all(combined < v for v in singles.values()), (combined, singles)
