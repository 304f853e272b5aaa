"""The boundary-aware highest-density interval against closed forms."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from cenns_bayes.bayes.summary import credible_hdi, physical_lower_bound
from cenns_bayes.calibration.common import posterior_intervals


def _truncated_normal(mean: float, sd: float, size: int, seed: int) -> np.ndarray:
    a = (0.0 - mean) / sd
    return stats.truncnorm.rvs(a, np.inf, loc=mean, scale=sd, size=size, random_state=seed)


def test_half_normal_hdi_is_zero_to_the_quantile():
    x = np.abs(np.random.default_rng(0).normal(0.0, 2.0, size=20_000))
    lo, hi = credible_hdi(x, 0.9, 0.0)
    assert lo == 0.0  # exact, though no draw is 0
    assert hi == pytest.approx(2.0 * stats.norm.ppf(0.95), rel=0.02)
    assert credible_hdi(x, 0.9)[0] > 0.0  # without the boundary: the smallest draw


def test_truncated_normal_switches_rule_where_the_density_at_zero_equals_that_at_q():
    # N(1, 1) truncated at 0: f(0) = f(2), so [0, q] holds iff the level's quantile q >= 2.
    x = _truncated_normal(1.0, 1.0, 40_000, seed=1)
    mass = 1.0 - stats.norm.cdf(-1.0)
    # 90 %: q = 1 + Phi^-1(Phi(-1) + 0.9 mass) = 2.378 > 2 -> [0, q]
    q90 = 1.0 + stats.norm.ppf(stats.norm.cdf(-1.0) + 0.9 * mass)
    lo, hi = credible_hdi(x, 0.9, 0.0)
    assert lo == 0.0 and hi == pytest.approx(q90, abs=0.03)
    # 68 %: q = 1.616 < 2 -> the symmetric region 1 -/+ a with 2 Phi(a) - 1 = 0.68 mass
    a = stats.norm.ppf(0.5 + 0.5 * 0.68 * mass)
    lo, hi = credible_hdi(x, 0.68, 0.0)
    assert lo == pytest.approx(1.0 - a, abs=0.03) and hi == pytest.approx(1.0 + a, abs=0.03)


def test_density_vanishing_at_the_boundary_keeps_the_plain_hdi():
    # f(x) = 2x on [0, 1]: the 90 % HDI is [sqrt(0.1), 1]
    x = np.sqrt(np.random.default_rng(2).uniform(size=20_000))
    lo, hi = credible_hdi(x, 0.9, 0.0)
    assert lo == pytest.approx(np.sqrt(0.1), abs=0.01) and hi == pytest.approx(1.0, abs=0.01)


def test_calibration_uses_the_same_rule_and_bounds_are_named():
    x = _truncated_normal(1.0, 1.0, 20_000, seed=3)
    ivs = posterior_intervals("mu_nu_mu", x)
    assert ivs["posterior-hdi"]["0.9"] == list(credible_hdi(x, 0.9, 0.0))
    assert ivs["posterior-hdi"]["0.68"] == list(credible_hdi(x, 0.68, 0.0))
    assert physical_lower_bound("mu_nu_e") == 0.0 and physical_lower_bound("signal_strength") == 0.0
    assert physical_lower_bound("sin2_theta_w") is None


@pytest.mark.slow
def test_study_report_gives_boundary_hdis_and_no_asimov_predictive_pvalue(tmp_path):
    """paper_realistic (Asimov data, true moments 0): the report's 90 % moment HDIs are
    [0, q90] with an exact 0, every HDI follows the boundary rule on the saved draws, and
    the predictive check says n/a. (The 68 % HDI of mu_nu_mu need not start at 0: its
    marginal density, integrated over mu_nu_e and sin2_theta_w, rises slightly away from 0.)"""
    import json

    import arviz as az

    import cenns_bayes as cb
    from cenns_bayes.bayes.summary import boundary_density_ratio
    from cenns_bayes.reports.study import run_study

    from .conftest import MODELS

    study = cb.load_study(MODELS / "paper_realistic.toml")
    moments = [p for p in study.free_parameters if p.startswith("mu_nu")]
    assert moments
    run_study(study, tmp_path, draws=400, tune=400, chains=2, pooling_comparison=False)
    summary = json.loads((tmp_path / "summary.json").read_text())
    idata = az.from_netcdf(tmp_path / summary["netcdf"])
    for p in moments:
        assert summary["posterior"][p]["hdi_90"] == [0.0, summary["posterior"][p]["upper_90"]], p
        x = np.asarray(idata["posterior"][p]).reshape(-1)
        for key, level in (("hdi_68", 0.68), ("hdi_90", 0.9)):
            lo, hi = summary["posterior"][p][key]
            at_boundary = boundary_density_ratio(x, level) >= 1.0
            assert (lo == 0.0) == at_boundary, (p, key, lo, hi)
            if at_boundary:
                assert hi == pytest.approx(np.quantile(x, level))
    assert summary["posterior_predictive"]["pvalue"] is None
    assert "n/a (Asimov data)" in (tmp_path / "report.md").read_text()
