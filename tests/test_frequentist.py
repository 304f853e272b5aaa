"""The profile-likelihood engine on counting studies against closed forms and scipy.stats."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import optimize, stats

from cenns_bayes.physics.constants import CHARGE_RADIUS_SHIFT
from cenns_bayes.stats.cost import chi2, chi2_gradient, poisson_deviance, poisson_deviance_gradient
from cenns_bayes.stats.counting import CountingModel
from cenns_bayes.stats.profile import DELTA_CHI2, ProfileFitter, delta_chi2_for


def fitter(rate_model, observed, free, truth, cost="chi2", **nuisances):
    return ProfileFitter(
        CountingModel(rate_model, np.asarray(observed, float), fixed=truth, **nuisances),
        free,
        cost=cost,
    )


def test_thresholds():
    assert DELTA_CHI2["90cl_1dof"] == pytest.approx(2.7055, abs=1e-4)
    assert DELTA_CHI2["90cl_2dof"] == pytest.approx(4.6052, abs=1e-4)
    assert delta_chi2_for(0.9, one_sided=True) == pytest.approx(1.2816**2, rel=1e-4)


def test_poisson_statistic_is_likelihood_ratio():
    rng = np.random.default_rng(1)
    n = rng.poisson(50, size=6).astype(float)
    mu = n * 1.1 + 0.5
    expected = -2 * (stats.poisson.logpmf(n, mu).sum() - stats.poisson.logpmf(n, n).sum())
    assert poisson_deviance(n, mu) == pytest.approx(expected, rel=1e-12)
    # a grid of expectations: one value per row
    grid = np.stack([mu, n, 2 * mu])
    np.testing.assert_allclose(
        poisson_deviance(n, grid), [expected, 0.0, poisson_deviance(n, 2 * mu)]
    )


@pytest.mark.parametrize(
    "cost,grad", [(poisson_deviance, poisson_deviance_gradient), (chi2, chi2_gradient)]
)
def test_cost_gradients_match_finite_differences(cost, grad):
    n = np.array([0.0, 3.0, 12.5, 40.0])
    mu = np.array([0.7, 2.5, 14.0, 38.0])
    g = grad(n, mu)
    for i in range(n.size):
        up, dn = mu.copy(), mu.copy()
        up[i] += 1e-6
        dn[i] -= 1e-6
        assert g[i] == pytest.approx((cost(n, up) - cost(n, dn)) / 2e-6, rel=1e-6, abs=1e-8)


def test_chi2_leaves_out_empty_bins():
    assert chi2([0.0, 4.0], [3.0, 2.0]) == pytest.approx((4.0 - 2.0) ** 2 / 4.0)


def test_mu_limit_closed_form(realistic):
    """Counts N_i = N0_i + b_i mu^2: chi2 = mu^4 sum b_i^2/N0_i, so mu^4 = Delta / sum(b^2/N0)."""
    model = realistic.rate_model(["Ar40", "Ge76"], ["numu", "numubar"])
    n0 = model.counts({})
    b = model.polynomial[3]
    like = fitter(model, n0, ["mu_nu_mu"], realistic.true_parameters())
    limit = like.upper_limit("mu_nu_mu", 2.71)
    assert limit == pytest.approx((2.71 / np.sum(b**2 / n0)) ** 0.25, rel=1e-9)


def test_sin2_interval_closed_form(realistic):
    """One channel: chi2 = 1 where c0 + c1 s + c2 s^2 = N0 +- sqrt(N0): roots of quadratics."""
    model = realistic.rate_model(["Xe132"], ["nue"])
    n0 = model.counts({})[0]
    c0, c1, c2, _ = model.polynomial[:, 0]
    like = fitter(model, [n0], ["sin2_theta_w"], realistic.true_parameters())
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
    s_like = fitter(model, n0, ["sin2_theta_w"], realistic.true_parameters())
    r_like = fitter(model, n0, ["r2_nu_mu"], realistic.true_parameters())
    s_lo, s_hi = s_like.interval("sin2_theta_w", 2.71)
    r_lo, r_hi = r_like.interval("r2_nu_mu", 2.71)
    assert r_lo == pytest.approx((s_lo - 0.2312) / CHARGE_RADIUS_SHIFT, rel=1e-8)
    assert r_hi == pytest.approx((s_hi - 0.2312) / CHARGE_RADIUS_SHIFT, rel=1e-8)


@pytest.mark.parametrize("cost", ["chi2", "poisson"])
def test_flux_nuisance_profile_equals_direct_minimisation(realistic, cost):
    """One log-normal flux scale a = exp(sigma z): the profile equals min_z [cost(a N) + z^2]."""
    model = realistic.rate_model(["Ar40"], ["numu", "numubar", "nue"])
    n = model.counts({})
    sigma = 0.1
    like = fitter(model, n, ["mu_nu_mu"], realistic.true_parameters(), cost, flux_sigma=sigma)
    f = chi2 if cost == "chi2" else poisson_deviance
    mu = 6.0
    big_n = model.counts({"mu_nu_mu": mu})
    direct = optimize.minimize_scalar(
        lambda z: f(n, np.exp(sigma * z) * big_n) + z**2,
        bounds=(-5, 5),
        method="bounded",
        options={"xatol": 1e-10},
    )
    assert like.fit({"mu_nu_mu": mu}).neg2ll == pytest.approx(direct.fun, rel=1e-7)
    # the systematic weakens the limit
    free = fitter(model, n, ["mu_nu_mu"], realistic.true_parameters(), cost)
    assert like.upper_limit("mu_nu_mu") > free.upper_limit("mu_nu_mu")


def test_two_parameter_profile_and_scan(realistic):
    model = realistic.rate_model(["Ge76"], ["numu", "numubar", "nue"])
    n = model.counts({})
    like = fitter(model, n, ["sin2_theta_w", "mu_nu_mu"], realistic.true_parameters())
    best = like.best_fit()
    assert best.neg2ll == pytest.approx(0.0, abs=1e-8)
    assert best.parameters["sin2_theta_w"] == pytest.approx(0.2312, abs=1e-5)
    single = fitter(model, n, ["mu_nu_mu"], realistic.true_parameters())
    # profiling sin^2 can only widen the mu limit
    assert like.upper_limit("mu_nu_mu") >= single.upper_limit("mu_nu_mu") - 1e-9
    x, y = np.linspace(0.22, 0.24, 5), np.linspace(0, 10, 4)
    grid = like.scan_2d("sin2_theta_w", x, "mu_nu_mu", y)
    assert grid.shape == (4, 5) and grid.min() >= -1e-9
    # nothing profiled: the vectorised grid equals point-by-point evaluation
    assert grid[2, 3] == pytest.approx(
        like.fit({"sin2_theta_w": x[3], "mu_nu_mu": y[2]}).neg2ll, rel=1e-12
    )


@pytest.mark.parametrize("cost", ["chi2", "poisson"])
def test_engine_gradient_matches_finite_differences(realistic, cost):
    """The exact gradient (model jacobian x cost derivative, chain rule through z) vs numbers."""
    model = realistic.rate_model()
    n = model.counts({"mu_nu_mu": 2.0}) * 1.03
    like = fitter(
        model,
        n,
        ["sin2_theta_w", "mu_nu_mu", "mu_nu_e", "r2_nu_e", "signal_strength"],
        realistic.true_parameters(),
        cost,
        flux_sigma=0.1,
        detector_sigma=0.05,
    )
    names = ["sin2_theta_w", "mu_nu_mu_squared", "mu_nu_e_squared", "r2_nu_e", "signal_strength"]
    scale = np.array([0.01, 1.0, 1.0, 0.3, 0.1])
    x = np.array([23.6, 9.0, 2.25, 0.2 / 0.3, 9.7, 0.2, -0.3, 0.1, 0.4, -0.2])

    def value_and_grad(x):
        t = x[:5] * scale
        params = {
            "sin2_theta_w": t[0],
            "mu_nu_mu": math.sqrt(t[1]),
            "mu_nu_e": math.sqrt(t[2]),
            "r2_nu_e": t[3],
            "signal_strength": t[4],
        }
        return like._value_and_gradient(
            names, scale, {**like.fixed, **params}, like._nuisance_values(x[5:]), x[5:]
        )

    _, grad = value_and_grad(x)
    for i in range(x.size):
        h = 1e-6 * max(1.0, abs(x[i]))
        up, dn = x.copy(), x.copy()
        up[i] += h
        dn[i] -= h
        fd = (value_and_grad(up)[0] - value_and_grad(dn)[0]) / (2 * h)
        assert grad[i] == pytest.approx(fd, rel=1e-5, abs=1e-4)


def test_mu_best_fit_leaves_the_flat_point(realistic):
    """Counts above the mu = 0 expectation: best fit mu > 0 though d(counts)/d mu = 0 at 0."""
    model = realistic.rate_model(["Ar40"], ["numu"])
    n = model.counts({"mu_nu_mu": 3.0})
    best = fitter(model, n, ["mu_nu_mu"], realistic.true_parameters(), "poisson").best_fit()
    assert best.parameters["mu_nu_mu"] == pytest.approx(3.0, rel=1e-5)


def test_counting_jacobian_with_neutron_radius_matches_finite_differences():
    """CountingModel.jacobian with one nucleus and one detector: every nuisance a float."""
    from cenns_bayes.specs import load_study

    from .conftest import MODELS

    model = CountingModel.from_study(
        load_study(MODELS / "single_ar40.toml", {"nuisances.neutron_radius_sigma_fm": 0.1})
    )
    assert "neutron_radius" in {n.name for n in model.nuisances}
    params = {"sin2_theta_w": 0.24, "mu_nu_mu": 3.0, "mu_nu_e": 2.0, "signal_strength": 0.9}
    nuis = {**model.nominal_nuisances(), "neutron_radius": 0.7, "detector_norm": 1.03}
    names = list(params)
    jac = model.jacobian(params, nuis, names)
    for name in names:
        h = 1e-6
        up = model.expected({**params, name: params[name] + h}, nuis)
        dn = model.expected({**params, name: params[name] - h}, nuis)
        np.testing.assert_allclose(jac[name], (up - dn) / (2 * h), rtol=1e-6)
    for name in nuis:
        h = 1e-6
        up = model.expected(params, {**nuis, name: nuis[name] + h})
        dn = model.expected(params, {**nuis, name: nuis[name] - h})
        np.testing.assert_allclose(np.ravel(jac[name]), (up - dn) / (2 * h), rtol=1e-6)
