"""The one-pass counting objective (stats/fused.py) against the profile engine's generic one.

Value and gradient equal ``ProfileFitter._value_and_gradient`` (the model's expectation,
Jacobian and constraints) at random points, for both statistics, with auxiliary
measurements off nominal (a toy) and with moments minimised in mu^2; the intervals of a
study come out the same through either path.
"""

from __future__ import annotations

import numpy as np
import pytest

from cenns_bayes.specs import load_study
from cenns_bayes.stats import profile
from cenns_bayes.stats.binned import model_for_study
from cenns_bayes.stats.fused import counting_objective
from cenns_bayes.stats.profile import ProfileFitter

from .conftest import MODELS


def _generic(fitter: ProfileFitter, names, squared, scale, x):
    """The engine's own objective_and_gradient, as fit() builds it."""
    t = x[: len(names)] * scale
    vals = {
        p: (float(np.sqrt(max(v, 0.0))) if sq else float(v))
        for p, v, sq in zip(names, t, squared, strict=True)
    }
    nuis = fitter._nuisance_values(x[len(names) :])
    return fitter._value_and_gradient(
        [f"{p}_squared" if sq else p for p, sq in zip(names, squared, strict=True)],
        scale,
        {**fitter.fixed, **vals},
        nuis,
        x[len(names) :],
    )


@pytest.mark.parametrize("cost", ["poisson", "chi2"])
@pytest.mark.parametrize("toy", [False, True])
@pytest.mark.parametrize("compiled", [False, True])  # NumPy objective and Numba kernel
def test_fused_value_and_gradient_equal_the_generic_path(cost, toy, compiled):
    study = load_study(MODELS / "paper_realistic.toml")
    model = model_for_study(study)
    rng = np.random.default_rng(3)
    if toy:  # Poisson counts and auxiliary measurements away from nominal
        model = model.with_data(
            rng.poisson(model.observed).astype(float),
            {"flux_norm": 0.07, "detector_norm": rng.normal(0.0, 0.05, 4)},
        )
    names = ["sin2_theta_w", "mu_nu_mu", "mu_nu_e", "signal_strength"]
    fitter = ProfileFitter(model, names, cost=cost)
    squared = [p.startswith("mu_nu") for p in names]
    scale = np.array([0.01, 4.0, 4.0, 0.1])
    fused = counting_objective(
        model,
        cost,
        fitter.observed,
        fitter._numeric,
        names,
        squared,
        scale,
        fitter.fixed,
        compiled=compiled,
    )
    assert fused is not None
    for _ in range(5):
        x = np.concatenate([[23.0, 2.0, 1.0, 10.0] + rng.normal(0, 1, 4), rng.normal(0.0, 1.0, 5)])
        value, grad = fused(x)
        ref_value, ref_grad = _generic(fitter, names, squared, scale, x)
        assert value == pytest.approx(ref_value, rel=1e-13)
        np.testing.assert_allclose(grad, ref_grad, rtol=1e-10, atol=1e-10 * np.abs(ref_grad).max())


def test_models_it_does_not_cover_get_none():
    csi = load_study(MODELS / "coherent_csi_2017.toml")
    model = model_for_study(csi)
    fitter = ProfileFitter(model, csi.free_parameters)
    assert (
        counting_objective(
            model, "poisson", fitter.observed, fitter._numeric, [], [], np.ones(0), {}
        )
        is None
    )
    radius = load_study(MODELS / "single_ar40.toml", {"nuisances.neutron_radius_sigma_fm": 0.1})
    model = model_for_study(radius)
    fitter = ProfileFitter(model, ["sin2_theta_w"])
    args = (model, "poisson", fitter.observed, fitter._numeric, ["sin2_theta_w"], [False])
    assert counting_objective(*args, np.ones(1), {}) is None


def test_intervals_are_those_of_the_generic_path(monkeypatch):
    study = load_study(MODELS / "single_ge76.toml")
    model = model_for_study(study)

    def intervals():
        fitter = ProfileFitter(model, study.free_parameters)
        return [fitter.interval(p, 2.71) for p in study.free_parameters]

    fast = intervals()
    monkeypatch.setattr(profile, "counting_objective", lambda *a, **k: None)
    slow = intervals()
    np.testing.assert_allclose(fast, slow, rtol=1e-9, atol=1e-12)
