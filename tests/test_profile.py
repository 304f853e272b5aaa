"""The general profile-likelihood fitter against closed forms and direct computations."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest
from scipy import optimize

from cenns_bayes.detector.background import on_off_profile_deviance, profiled_background
from cenns_bayes.specs import load_study
from cenns_bayes.stats.counting import CountingModel
from cenns_bayes.stats.model import ModelBase, NuisanceSpec
from cenns_bayes.stats.profile import (
    DELTA_68,
    DELTA_90,
    ProfileFitter,
    poisson_deviance,
    profiled_rate,
)

from .conftest import MODELS


@dataclass(eq=False)
class OneBin(ModelBase):
    """mu = signal_strength * signal (* flux) + background (+ measured steady state)."""

    observed: np.ndarray
    signal_per_unit: np.ndarray
    background: np.ndarray
    nuisances: list = field(default_factory=list)
    parameter_names: list = field(default_factory=lambda: ["signal_strength"])
    additive_poisson: dict = field(default_factory=dict)
    fixed: dict = field(default_factory=lambda: {"signal_strength": 1.0})

    @property
    def bin_labels(self):
        return list(range(self.observed.size))

    def signal(self, params, nuisances, xp=np):
        s = params.get("signal_strength", 1.0) * self.signal_per_unit
        if "flux_norm" in nuisances:
            s = s * nuisances["flux_norm"]
        return s

    def expected(self, params, nuisances, xp=np):
        out = self.signal(params, nuisances, xp) + self.background
        if "steady_state" in nuisances:
            out = out + nuisances["steady_state"]
        return out


def test_wilks_interval_for_poisson_100():
    """One bin, n = 100, mu = 100 s: the interval solves 2[mu - n + n ln(n/mu)] = delta."""
    model = OneBin(np.array([100.0]), np.array([100.0]), np.array([0.0]))
    fitter = ProfileFitter(model, ["signal_strength"])
    assert fitter.best_fit().parameters["signal_strength"] == pytest.approx(1.0, abs=1e-6)
    for delta in (DELTA_68, DELTA_90):

        def g(mu, delta=delta):
            return 2.0 * (mu - 100.0 + 100.0 * np.log(100.0 / mu)) - delta

        lo = optimize.brentq(g, 50.0, 100.0) / 100.0
        hi = optimize.brentq(g, 100.0, 200.0) / 100.0
        got = fitter.interval("signal_strength", delta)
        np.testing.assert_allclose(got, (lo, hi), rtol=1e-6)
    # the well-known values: 90.5 and 110.5 for 68 %
    lo, hi = fitter.interval("signal_strength", DELTA_68)
    assert 100 * lo == pytest.approx(90.33, abs=0.05) and 100 * hi == pytest.approx(
        110.34, abs=0.05
    )


def test_significance_known_background_closed_form():
    """n observed over a known background b: Z = sqrt(2 [n ln(n/b) - n + b])."""
    n, b = 30.0, 12.0
    model = OneBin(np.array([n]), np.array([10.0]), np.array([b]))
    fitter = ProfileFitter(model, ["signal_strength"])
    expected = np.sqrt(2.0 * (n * np.log(n / b) - n + b))
    assert fitter.significance() == pytest.approx(expected, rel=1e-6)
    assert fitter.signal_events(fitter.best_fit()) == pytest.approx(n - b, rel=1e-6)


def test_lower_bound_respected():
    """Fewer counts than background: the best signal strength sits on its bound 0."""
    model = OneBin(np.array([5.0]), np.array([10.0]), np.array([8.0]))
    fitter = ProfileFitter(model, ["signal_strength"])
    assert fitter.best_fit().parameters["signal_strength"] == 0.0
    lo, hi = fitter.interval("signal_strength", DELTA_90)
    assert lo == 0.0 and 0.0 < hi < 1.0

    # upper end: 2[(10 hi + 8) - 5 + 5 ln(5/(10 hi + 8))] - (value at 0) = 2.706
    def g(s):
        return poisson_deviance([5.0], [10 * s + 8]) - poisson_deviance([5.0], [8.0]) - DELTA_90

    assert hi == pytest.approx(optimize.brentq(g, 0.0, 5.0), rel=1e-6)


def test_profiled_rate_matches_integer_closed_form_and_direct_maximum():
    rng = np.random.default_rng(7)
    n = rng.integers(0, 40, 200).astype(float)
    m = rng.integers(0, 40, 200).astype(float)
    s = rng.uniform(0, 30, 200)
    s[:5] = 0.0
    for tau in (0.5, 1.0, 2.0):
        np.testing.assert_allclose(
            profiled_rate(n, m, s, tau), profiled_background(n, m, s, tau), rtol=1e-12, atol=1e-12
        )
    # non-integer n (Asimov data): compare with a bounded numerical maximisation
    for n_i, m_i, s_i in ((12.3, 7.0, 3.1), (0.4, 0.0, 2.0), (55.5, 60.0, 0.0), (3.2, 9.0, 20.0)):

        def neg(b, n_i=n_i, m_i=m_i, s_i=s_i):
            return poisson_deviance([n_i], [s_i + b]) + poisson_deviance([m_i], [b])

        res = optimize.minimize_scalar(
            neg, bounds=(1e-12, 200.0), method="bounded", options={"xatol": 1e-10}
        )
        assert profiled_rate(n_i, m_i, s_i) == pytest.approx(res.x, abs=1e-5)


def test_background_likelihood_equals_direct_on_off_deviance():
    """The fitter's -2 ln L with the steady state profiled equals the summed on/off deviance."""
    rng = np.random.default_rng(3)
    m = rng.integers(0, 20, 30).astype(float)
    n = rng.integers(0, 30, 30).astype(float)
    sig = rng.uniform(0.0, 5.0, 30)
    model = OneBin(
        n,
        sig,
        np.zeros(30),
        nuisances=[NuisanceSpec("steady_state", "poisson", 1.0, m, size=30)],
        additive_poisson={"steady_state": 1.0},
    )
    fitter = ProfileFitter(model, ["signal_strength"])
    for strength in (0.0, 0.7, 1.3):
        got, _ = fitter.neg2ll({"signal_strength": strength}, {})
        direct = float(np.sum(on_off_profile_deviance(n, m, strength * sig)))
        assert got == pytest.approx(direct, rel=1e-12, abs=1e-10)


def test_lognormal_nuisance_profiled_against_direct_minimisation():
    model = OneBin(
        np.array([120.0]),
        np.array([100.0]),
        np.array([5.0]),
        nuisances=[NuisanceSpec("flux_norm", "lognormal", 0.1)],
    )
    fitter = ProfileFitter(model, ["signal_strength"])
    for strength in (0.6, 1.0, 1.4):
        got = fitter.fit({"signal_strength": strength}).neg2ll

        def f(z, strength=strength):
            return (
                poisson_deviance([120.0], [strength * 100 * np.exp(0.1 * z[0]) + 5.0]) + z[0] ** 2
            )

        direct = optimize.minimize(
            f, [0.0], method="Nelder-Mead", options={"xatol": 1e-10, "fatol": 1e-12}
        ).fun
        assert got == pytest.approx(direct, abs=1e-6)


def test_counting_adapter_matches_rate_model_and_recovers_asimov_truth():
    study = load_study(MODELS / "paper_realistic.toml", {"mu_nu_mu": 4.0})
    model = CountingModel.from_study(study)
    rates = study.rate_model()
    params = {
        "sin2_theta_w": 0.24,
        "mu_nu_mu": 3.0,
        "mu_nu_e": 1.0,
        "r2_nu_mu": 0.4,
        "r2_nu_e": -0.2,
    }
    nominal = model.nominal_nuisances()
    np.testing.assert_allclose(model.expected(params, nominal), rates.counts(params), rtol=1e-13)
    fitter = ProfileFitter(model, ["mu_nu_mu"])
    assert fitter.best_fit().parameters["mu_nu_mu"] == pytest.approx(4.0, rel=1e-3)
    assert fitter.delta("mu_nu_mu", 4.0) == pytest.approx(0.0, abs=1e-6)


def test_counting_adapter_numpy_and_pytensor_agree():
    pytensor = pytest.importorskip("pytensor")
    pt = pytest.importorskip("pytensor.tensor")
    study = load_study(MODELS / "paper_realistic.toml")
    model = CountingModel.from_study(study)
    names = ["sin2_theta_w", "mu_nu_mu", "mu_nu_e", "r2_nu_mu", "r2_nu_e", "signal_strength"]
    sym = {n: pt.dscalar(n) for n in names}
    nz = {"flux_norm": pt.dscalar("flux_norm"), "detector_norm": pt.dvector("detector_norm")}
    fn = pytensor.function(
        [*sym.values(), *nz.values()], model.expected(sym, nz, xp=pt), mode="FAST_COMPILE"
    )
    values = {
        "sin2_theta_w": 0.235,
        "mu_nu_mu": 2.0,
        "mu_nu_e": 3.0,
        "r2_nu_mu": 0.3,
        "r2_nu_e": -0.4,
        "signal_strength": 0.9,
    }
    nuis = {"flux_norm": 1.07, "detector_norm": np.array([0.9, 1.1, 1.05, 0.97])}
    got = fn(*values.values(), *nuis.values())
    np.testing.assert_allclose(got, model.expected(values, nuis), rtol=1e-12)


def test_brent_root_matches_scipy_brentq_and_closed_forms():
    """The engine's own Brent iteration: the roots scipy's brentq gives, and exact roots."""
    from cenns_bayes.stats.profile import _brent_root

    cases = [
        (lambda x: x**2 - 2.0, 0.0, 3.0, np.sqrt(2.0)),
        (lambda x: np.cos(x) - x, 0.0, 1.0, None),
        (lambda x: np.exp(x) - 5.0, -3.0, 4.0, np.log(5.0)),
        (lambda x: (x - 0.3) ** 3, -1.0, 2.0, 0.3),
        (lambda x: np.tanh(20.0 * (x - 0.71)), 0.0, 1.0, 0.71),
    ]
    for f, a, b, exact in cases:
        mine = _brent_root(f, a, b, xtol=1e-12, rtol=1e-14, maxiter=200)
        assert mine == optimize.brentq(f, a, b, xtol=1e-12, rtol=1e-14, maxiter=200)
        if exact is not None:
            assert mine == pytest.approx(exact, abs=1e-5 if exact == 0.3 else 1e-11)
    with pytest.raises(ValueError):
        _brent_root(lambda x: x**2 + 1.0, -1.0, 1.0, 1e-12, 1e-14, 200)


def test_one_coordinate_minimiser_finds_interior_and_boundary_minima():
    """x -> (x - c)^2 on [lo, hi]: the minimum at c inside, at the nearer bound outside."""
    from cenns_bayes.stats.profile import _minimize_1d

    def make(c):
        return lambda x: (float((x[0] - c) ** 2), np.array([2.0 * (x[0] - c)]))

    for c, x0, lo, hi, expected in (
        (0.37, 5.0, -10.0, 10.0, 0.37),
        (0.37, -9.0, -10.0, 10.0, 0.37),
        (-3.0, 0.5, 0.0, 4.0, 0.0),
        (12.0, 0.5, 0.0, 4.0, 4.0),
        (2.5, 2.5, 0.0, 4.0, 2.5),
    ):
        res = _minimize_1d(make(c), x0, lo, hi)
        assert res is not None and res.x[0] == pytest.approx(expected, abs=1e-10)
    # a non-finite value on the way: declined, so that the caller uses L-BFGS-B
    assert _minimize_1d(lambda x: (np.inf, np.zeros(1)), 0.0, -1.0, 1.0) is None


def test_delta_90_is_the_chi2_quantile():
    """The written-out 90 % threshold equals the chi^2 (1 dof) quantile."""
    from scipy import special

    assert DELTA_90 == float(special.chdtri(1, 0.10))


def test_walked_profile_equals_independent_fits():
    """``profile(..., follow=True)`` (the report's curves): each point started at its
    neighbour's minimum gives the curve of independent fits with every start, on both sides
    of the best fit, for a moment (minimum on the boundary) and for sin^2 theta_W."""
    from cenns_bayes.stats.binned import model_for_study

    study = load_study(MODELS / "paper_realistic.toml")
    model = model_for_study(study)
    for parameter, grid in (
        ("mu_nu_e", np.linspace(0.0, 12.0, 7)),
        ("sin2_theta_w", np.linspace(0.20, 0.26, 7)),
    ):
        independent = ProfileFitter(model, study.free_parameters).profile(parameter, grid)
        walked = ProfileFitter(model, study.free_parameters).profile(parameter, grid, follow=True)
        assert independent.max() > 2.0  # the grid reaches beyond the 90 % interval
        np.testing.assert_allclose(walked, independent, rtol=0, atol=1e-8)
