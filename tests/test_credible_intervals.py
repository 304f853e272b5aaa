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
