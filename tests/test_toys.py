"""Toys come from the model: main counts and the auxiliary measurements of every nuisance.

Every toy consumer (coverage, Feldman-Cousins belts, Brazil bands, the posterior
predictive check, the PyMC model's random draws used by SBC) draws through
``draw_pseudo_data``, directly or through ``ExpectationModel.sample``. These tests would
fail for a toy that leaves out the auxiliary data: its fit would stay centred on the
nominal constraint, and the statistic would not follow its chi-square distribution.
"""

from __future__ import annotations

import numpy as np
import pytest

from cenns_bayes.calibration.common import StudyRef
from cenns_bayes.stats.model import NuisanceSpec, draw_pseudo_data
from cenns_bayes.stats.profile import ProfileFitter

from .conftest import MODELS
from .test_statistics import two_detector_model

FLUX_STUDY = MODELS / "calibration_ge76_sin2_flux.toml"


def test_batched_sample_draws_main_and_auxiliary_data():
    model = two_detector_model(0.1, 0.05)
    counts, aux = model.sample({}, np.random.default_rng(3), size=4000)
    assert counts.shape == (4000, 2)
    assert aux["flux_norm"].shape == (4000, 1) and aux["detector_norm"].shape == (4000, 2)
    expected = model.expected({}, model.nominal_nuisances())
    # Poisson means within 5 standard errors (sqrt(1000 / 4000) ~ 0.5 count)
    assert np.all(np.abs(counts.mean(axis=0) - expected) < 5 * np.sqrt(expected / 4000))
    # variance equal to the mean (Poisson), not 0 or doubled: se of a variance ~ 2.2 %
    np.testing.assert_allclose(counts.var(axis=0), expected, rtol=0.1)
    # log-centres ~ N(0, sigma), independent across toys and detectors
    assert aux["flux_norm"].std() == pytest.approx(0.1, rel=0.05)
    assert aux["detector_norm"].std(axis=0) == pytest.approx([0.05, 0.05], rel=0.05)
    assert abs(np.corrcoef(aux["detector_norm"].T)[0, 1]) < 0.06


def test_one_toy_draws_the_same_numbers_as_before_batching():
    """size=None keeps the draw order: counts first, then each nuisance's measurement."""
    model = two_detector_model(0.1, 0.05)
    counts, aux = model.sample({}, np.random.default_rng(11))
    rng = np.random.default_rng(11)
    mean = model.expected({}, model.nominal_nuisances())
    np.testing.assert_array_equal(counts, rng.poisson(mean).astype(float))
    np.testing.assert_array_equal(aux["flux_norm"], rng.normal(np.zeros(1), 0.1))
    np.testing.assert_array_equal(aux["detector_norm"], rng.normal(np.zeros(2), 0.05))


def test_batched_auxiliary_measurements_follow_per_toy_true_values():
    """One true value per toy (e.g. posterior draws): each measurement scatters around its own."""
    specs = [
        NuisanceSpec("b", "poisson", sigma=4.0, centre=np.array([20.0, 8.0]), size=2),
        NuisanceSpec("shift", "normal", sigma=0.5),
        NuisanceSpec("ctl", "auxiliary", sigma=np.ones(2), centre=np.array([1.5, 2.5]), size=2),
    ]
    n = 20000
    true_b = np.column_stack([np.full(n, 5.0), np.full(n, 2.0)])
    true_shift = np.where(np.arange(n) % 2 == 0, -3.0, 3.0)
    counts, aux = draw_pseudo_data(
        np.array([10.0, 1.0]),
        specs,
        {"b": true_b, "shift": true_shift, "ctl": None},
        np.random.default_rng(5),
        size=n,
    )
    assert counts.shape == (n, 2) and aux["b"].shape == (n, 2) and aux["shift"].shape == (n, 1)
    # m ~ Poisson(tau b): means 20 and 8, within 5 standard errors
    np.testing.assert_allclose(aux["b"].mean(axis=0), [20.0, 8.0], atol=5 * np.sqrt(20.0 / n))
    assert aux["shift"][0::2].mean() == pytest.approx(-3.0, abs=5 * 0.5 / np.sqrt(n / 2))
    assert aux["shift"][1::2].mean() == pytest.approx(3.0, abs=5 * 0.5 / np.sqrt(n / 2))
    # control samples are not redrawn
    np.testing.assert_array_equal(aux["ctl"], np.broadcast_to([1.5, 2.5], (n, 2)))


@pytest.fixture
def fitted_centres(monkeypatch):
    """The flux-constraint centre of every model a ProfileFitter is built on."""
    centres: list[float | None] = []
    original = ProfileFitter.__post_init__

    def spy(self):
        flux = [n for n in self.model.nuisances if n.name == "flux_norm"]
        centres.append(float(np.ravel(flux[0].centre)[0]) if flux else None)
        original(self)

    monkeypatch.setattr(ProfileFitter, "__post_init__", spy)
    return centres


def _coverage_toy(seed):
    from cenns_bayes.calibration.coverage import coverage_toy_task

    coverage_toy_task(StudyRef.from_file(FLUX_STUDY), (0.68,), None, {}, seed=seed)


def _fc_toys(seed):
    from cenns_bayes.calibration.feldman_cousins import fc_point_task

    fc_point_task(StudyRef.from_file(FLUX_STUDY), "sin2_theta_w", 0.2312, 2, seed=seed)


def _brazil_toy(seed):
    from cenns_bayes.scans.limits import FitSettings, target_spec, toy_limit_task
    from cenns_bayes.specs import load_study

    study = load_study(FLUX_STUDY)
    toy_limit_task(
        study.rate_model(),
        study.true_parameters(),
        target_spec("sin2_theta_w"),
        FitSettings(flux_sigma=0.1),
        [],
        0,
        0,
        seed=np.random.SeedSequence(seed),
    )


@pytest.mark.parametrize("run_toy", [_coverage_toy, _fc_toys, _brazil_toy])
def test_every_toy_consumer_fits_its_own_auxiliary_measurement(run_toy, fitted_centres):
    """Each toy's fit is centred on a freshly drawn flux measurement, not on the nominal 0."""
    run_toy(seed=4)
    assert fitted_centres, "no fit was made"
    # every fit is of a toy; its ln-centre ~ N(0, 0.1) is never exactly the nominal 0
    assert all(c is not None and c != 0.0 and abs(c) < 0.6 for c in fitted_centres), fitted_centres


def test_feldman_cousins_toys_carry_the_flux_systematic():
    """t(truth) of the belt's toys is chi-square(1) distributed: mean 1, P(t > 2.71) = 0.1.

    The flux constraint (10 %) dominates the sin^2 theta_W uncertainty of this study:
    toys that kept the auxiliary measurement at its nominal value would give t a mean
    of about 0.1 (the statistical share of the variance), far outside these bounds.
    """
    from cenns_bayes.calibration.feldman_cousins import fc_point_task

    n = 300
    row = fc_point_task(StudyRef.from_file(FLUX_STUDY), "sin2_theta_w", 0.2312, n, seed=17)
    t = np.asarray(row["t"])
    # the mean of chi2(1) over 300 toys has standard error sqrt(2 / 300) = 0.08
    assert abs(t.mean() - 1.0) < 4 * np.sqrt(2.0 / n), t.mean()
    assert abs(np.mean(t > 2.706) - 0.1) < 4 * np.sqrt(0.09 / n)


def test_prior_predictive_counts_are_drawn_by_the_toy_generator():
    """The PyMC model's random draws (used by SBC's pm.draw) equal draw_pseudo_data's."""
    from cenns_bayes.bayes.model import poisson_random

    mean = np.array([3.0, 40.0, 0.5])
    got = poisson_random(mean, np.random.default_rng(2), size=(5, 3))
    want = np.random.default_rng(2).poisson(mean, size=(5, 3))
    np.testing.assert_array_equal(got, want)
