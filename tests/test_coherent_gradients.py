"""Single-data-set COHERENT fits with exact gradients against numerical derivatives.

CsI 2017 (:class:`ResponseModel`), CsI 2021 (:class:`CsI2021Model`) and LAr 2020
(:class:`LArModel`) hand the optimiser the gradient of :mod:`cenns_bayes.stats.jacobians`.
Checked here: it covers every free parameter and nuisance, equals central differences of
-2 ln L in the fitter's coordinates, and a fit with it reaches the minimum and the interval
ends of a fit with numerical derivatives (``has_jacobian = False``).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from cenns_bayes.specs import load_study
from cenns_bayes.stats.binned import model_for_study
from cenns_bayes.stats.parameters import step
from cenns_bayes.stats.profile import DELTA_68, ProfileFitter

from .conftest import MODELS, central_gradient

DATA_SETS = ["coherent_csi_2017", "coherent_csi_2021", "coherent_lar_2020"]
VARIANTS = ["", "_sin2", "_mu"]


@pytest.fixture(scope="module", params=[d + v for d in DATA_SETS for v in VARIANTS])
def study_and_model(request):
    study = load_study(MODELS / f"{request.param}.toml")
    return study, model_for_study(study)


def _names(free):
    return [f"{p}_squared" if p.startswith("mu_nu") else p for p in free]


def test_jacobian_covers_every_free_parameter_and_nuisance(study_and_model):
    study, model = study_and_model
    assert model.has_jacobian
    jac = model.jacobian(model.fixed, model.nominal_nuisances(), _names(study.free_parameters))
    wanted = {*_names(study.free_parameters), *(n.name for n in model.nuisances)}
    assert wanted <= set(jac)


def test_fit_objective_gradient_matches_central_differences(study_and_model):
    """The gradient of -2 ln L (incl. every constraint) in the fitter's coordinates, at a
    point with every nuisance moved by ~0.5 sigma, against central differences."""
    study, model = study_and_model
    free = study.free_parameters
    fitter = ProfileFitter(model, free)
    names = _names(free)
    start = {"sin2_theta_w": 0.24, "mu_nu_mu": 30.0, "mu_nu_e": 20.0, "signal_strength": 0.9}
    # the fitter's coordinates: physics / step (mu^2 / step^2 for magnetic moments)
    scale = np.array([step(p) ** (2 if p.startswith("mu_nu") else 1) for p in free])
    phys = np.array([start[p] ** 2 if p.startswith("mu_nu") else start[p] for p in free])
    u0 = fitter._nuisance_start()
    u0 = u0 + np.random.default_rng(11).normal(0.0, 0.5, u0.size)
    x0 = np.concatenate([phys / scale, u0])
    k = len(free)

    def value_and_gradient(x):
        vals = dict(zip(names, x[:k] * scale, strict=True))
        for p in free:  # the model takes mu, the fitter's coordinate is mu^2
            if p.startswith("mu_nu"):
                vals[p] = float(np.sqrt(vals.pop(f"{p}_squared")))
        nuis = fitter._nuisance_values(x[k:])
        fixed = dict(fitter.fixed or {})
        return fitter._value_and_gradient(names, scale, {**fixed, **vals}, nuis, x[k:])

    value, grad = value_and_gradient(x0)
    fd = central_gradient(lambda x: value_and_gradient(x)[0], x0, h=1e-5)
    # central differences err by h^2 f''' / 6 (negligible at h = 1e-5) plus the rounding
    # of -2 ln L (a sum of ~10^3 bins, ~1e-13 relative) over h: ~1e-8 |f|
    np.testing.assert_allclose(grad, fd, rtol=1e-5, atol=1e-8 * max(1.0, abs(value)))
    assert np.min(np.abs(fd)) > 0 and np.max(np.abs(fd)) > 1.0


def _fits(model, free, exact):
    fitter = ProfileFitter(replace(model, exact_gradients=exact), free)
    return fitter, fitter.best_fit()


@pytest.mark.parametrize("name", [d + "_sin2" for d in DATA_SETS])
def test_exact_gradient_fit_reaches_the_numerical_minimum(name):
    """Best fit of sin^2 with exact and with numerical derivatives: the exact one is at
    least as low, and both agree within what the numerical fit resolves (its forward
    differences locate the minimum to ~1e-4 sigma, i.e. -2 ln L to ~1e-8)."""
    study = load_study(MODELS / f"{name}.toml")
    model = model_for_study(study)
    _, exact = _fits(model, ["sin2_theta_w"], True)
    _, numeric = _fits(model, ["sin2_theta_w"], False)
    assert exact.neg2ll <= numeric.neg2ll + 1e-6
    assert exact.neg2ll == pytest.approx(numeric.neg2ll, abs=1e-4)
    assert exact.parameters["sin2_theta_w"] == pytest.approx(
        numeric.parameters["sin2_theta_w"], abs=1e-4
    )


@pytest.mark.slow
@pytest.mark.parametrize("name", [d + "_mu" for d in DATA_SETS])
def test_exact_gradient_intervals_equal_the_numerical_ones(name):
    """The 68 % interval ends of mu_nu_mu (profiled over mu_nu_e and every nuisance) with
    exact and with numerical derivatives agree to 1e-3 of the interval's width."""
    study = load_study(MODELS / f"{name}.toml")
    model = model_for_study(study)
    ends = []
    for exact in (True, False):
        fitter, _ = _fits(model, study.free_parameters, exact)
        ends.append(np.array(fitter.interval("mu_nu_mu", DELTA_68)))
    width = ends[0][1] - ends[0][0]
    assert width > 0
    np.testing.assert_allclose(ends[0], ends[1], rtol=0, atol=1e-3 * width)
