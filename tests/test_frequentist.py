"""Frequentist statistics against closed forms and scipy.stats."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from cenns_bayes.physics.constants import CHARGE_RADIUS_SHIFT
from cenns_bayes.stats.frequentist import DELTA_CHI2, ProfileLikelihood, delta_chi2_for, neg2_log_likelihood


def test_thresholds():
    assert DELTA_CHI2["90cl_1dof"] == pytest.approx(2.7055, abs=1e-4)
    assert DELTA_CHI2["90cl_2dof"] == pytest.approx(4.6052, abs=1e-4)
    assert delta_chi2_for(0.9, one_sided=True) == pytest.approx(1.2816**2, rel=1e-4)


def test_poisson_statistic_is_likelihood_ratio():
    rng = np.random.default_rng(1)
    n = rng.poisson(50, size=6).astype(float)
    mu = n * 1.1 + 0.5
    expected = -2 * (stats.poisson.logpmf(n, mu).sum() - stats.poisson.logpmf(n, n).sum())
    assert neg2_log_likelihood(mu, n, "poisson") == pytest.approx(expected, rel=1e-12)


def test_mu_limit_closed_form(realistic):
    """Counts N_i = N0_i + b_i mu^2: chi2 = mu^4 sum b_i^2/N0_i, so mu^4 = Delta / sum(b^2/N0)."""
    model = realistic.rate_model(["Ar40", "Ge76"], ["numu", "numubar"])
    n0 = model.counts({})
    b = model.polynomial[3]
    like = ProfileLikelihood(model, n0, ["mu_nu_mu"], realistic.true_parameters())
    limit = like.upper_limit("mu_nu_mu", 2.71)
    assert limit == pytest.approx((2.71 / np.sum(b**2 / n0)) ** 0.25, rel=1e-9)


def test_sin2_interval_closed_form(realistic):
    """One channel: chi2 = 1 where c0 + c1 s + c2 s^2 = N0 +- sqrt(N0): roots of quadratics."""
    model = realistic.rate_model(["Xe132"], ["nue"])
    n0 = model.counts({})[0]
    c0, c1, c2, _ = model.polynomial[:, 0]
    like = ProfileLikelihood(model, [n0], ["sin2_theta_w"], realistic.true_parameters())
    lo, hi = like.interval("sin2_theta_w", 1.0)

    def root(target):
        disc = c1**2 - 4 * c2 * (c0 - target)
        return [(-c1 + sgn * math.sqrt(disc)) / (2 * c2) for sgn in (-1, 1)]

    s0 = 0.2312
    candidates = root(n0 + math.sqrt(n0)) + root(n0 - math.sqrt(n0))
    near = sorted(candidates, key=lambda s: abs(s - s0))[:2]
    assert sorted(near) == pytest.approx([lo, hi], rel=1e-9)


def test_r2_interval_is_shifted_sin2_interval(realistic):
    model = realistic.rate_model(["Ge76"], ["numu"])
    n0 = model.counts({})
    s_like = ProfileLikelihood(model, n0, ["sin2_theta_w"], realistic.true_parameters())
    r_like = ProfileLikelihood(model, n0, ["r2_nu_mu"], realistic.true_parameters())
    s_lo, s_hi = s_like.interval("sin2_theta_w", 2.71)
    r_lo, r_hi = r_like.interval("r2_nu_mu", 2.71)
    assert r_lo == pytest.approx((s_lo - 0.2312) / CHARGE_RADIUS_SHIFT, rel=1e-8)
    assert r_hi == pytest.approx((s_hi - 0.2312) / CHARGE_RADIUS_SHIFT, rel=1e-8)


def test_flux_nuisance_profile_closed_form(realistic):
    """chi2 with one shared scale a: min over a of sum (n - a N)^2/n + ((a-1)/sigma)^2 is analytic."""
    model = realistic.rate_model(["Ar40"], ["numu", "numubar", "nue"])
    n = model.counts({})
    sigma = 0.1
    like = ProfileLikelihood(model, n, ["mu_nu_mu"], realistic.true_parameters(), flux_sigma=sigma)
    mu = 6.0
    big_n = model.counts({"mu_nu_mu": mu})
    a = (np.sum(big_n) + 1 / sigma**2) / (np.sum(big_n**2 / n) + 1 / sigma**2)
    expected = np.sum((n - a * big_n) ** 2 / n) + ((a - 1) / sigma) ** 2
    assert like.neg2ll({"mu_nu_mu": mu}) == pytest.approx(expected, rel=1e-7)
    # the systematic weakens the limit
    free = ProfileLikelihood(model, n, ["mu_nu_mu"], realistic.true_parameters())
    assert like.upper_limit("mu_nu_mu") > free.upper_limit("mu_nu_mu")


def test_two_parameter_profile_and_scan(realistic):
    model = realistic.rate_model(["Ge76"], ["numu", "numubar", "nue"])
    n = model.counts({})
    like = ProfileLikelihood(model, n, ["sin2_theta_w", "mu_nu_mu"], realistic.true_parameters())
    m, best = like.best_fit()
    assert m == pytest.approx(0.0, abs=1e-8)
    assert best["sin2_theta_w"] == pytest.approx(0.2312, abs=1e-5)
    single = ProfileLikelihood(model, n, ["mu_nu_mu"], realistic.true_parameters())
    # profiling sin^2 can only widen the mu limit
    assert like.upper_limit("mu_nu_mu") >= single.upper_limit("mu_nu_mu") - 1e-9
    grid = like.scan_2d("sin2_theta_w", np.linspace(0.22, 0.24, 5), "mu_nu_mu", np.linspace(0, 10, 4))
    assert grid.shape == (4, 5) and grid.min() >= -1e-9


@pytest.mark.parametrize("statistic", ["chi2", "poisson"])
def test_analytic_gradient_matches_finite_differences(realistic, statistic):
    model = realistic.rate_model()
    n = model.counts({"mu_nu_mu": 2.0}) * 1.03
    like = ProfileLikelihood(model, n, ["sin2_theta_w", "mu_nu_mu", "mu_nu_e", "r2_nu_e",
                                        "signal_strength"],
                             realistic.true_parameters(), statistic, flux_sigma=0.1, detector_sigma=0.05)
    names = list(like.free)
    y = np.array([0.236, 3.0, 1.5, 0.2, 0.97, 1.02, 0.98, 1.01, 0.99, 1.03])
    value, grad = like._value_and_gradient(names, {}, y)
    for i in range(y.size):
        h = 1e-6 * max(1.0, abs(y[i]))
        up, dn = y.copy(), y.copy()
        up[i] += h
        dn[i] -= h
        fd = (like._value_and_gradient(names, {}, up)[0] - like._value_and_gradient(names, {}, dn)[0]) / (2 * h)
        assert grad[i] == pytest.approx(fd, rel=1e-5, abs=1e-4)
