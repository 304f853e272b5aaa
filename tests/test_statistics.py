"""Statistical properties of the profile-likelihood engine, measured on toys drawn by the model.

Pulls over 500 toys of a study with a constrained nuisance, and properties any correct
implementation must have: Delta(-2 ln L) >= 0, 68 % intervals inside 90 % ones, intervals
containing the best fit.
"""

from __future__ import annotations

import numpy as np
import pytest

from cenns_bayes.parallel import single_threaded_blas
from cenns_bayes.rates.coefficients import ChannelCoefficients, RateModel
from cenns_bayes.stats.counting import CountingModel
from cenns_bayes.stats.profile import DELTA_68, DELTA_90, ProfileFitter

N_TOYS = 500
N_INTERVALS = 60


def two_detector_model(flux_sigma: float, detector_sigma: float = 0.0) -> CountingModel:
    """Two detectors x one flavour, about 1000 counts each: a fast study with nuisances.

    Made-up coefficients with the structure of real ones (N = i_pp g_p^2 + 2 i_pn g_p g_n
    + i_nn g_n^2); the two detectors depend differently on sin^2 theta_W so that it and
    the signal strength are not degenerate. The test is of the statistics, not the physics.
    """
    channels = [
        ChannelCoefficients(
            name,
            "numu",
            None,
            np.array([w * 0.006]),
            np.array([w * i_pn]),
            np.array([w * 0.25]),
            np.array([w * 0.8]),
        )
        for name, w, i_pn in (("A", 16000.0, -0.02), ("B", 10000.0, -0.3))
    ]
    rm = RateModel(channels)
    truth = {"sin2_theta_w": 0.2312}
    return CountingModel(rm, rm.counts(truth), flux_sigma, detector_sigma, fixed=truth)


@pytest.fixture(scope="module")
def flux_toys():
    """500 toys of signal_strength with a 10 % log-normal flux nuisance, drawn by the model.

    Every toy gets its best fit and Delta(-2 ln L) at the truth; the first
    ``N_INTERVALS`` also their 68 % and 90 % intervals (each end costs a root search).
    """
    model = two_detector_model(0.10)
    rng = np.random.default_rng(20261129)
    best, delta_truth, intervals = [], [], []
    with single_threaded_blas():
        for i in range(N_TOYS):
            counts, aux = model.sample({"signal_strength": 1.0}, rng)
            fitter = ProfileFitter(model.with_data(counts, aux), ["signal_strength"])
            best.append(fitter.best_fit().parameters["signal_strength"])
            delta_truth.append(fitter.delta("signal_strength", 1.0))
            if i < N_INTERVALS:
                intervals.append(
                    [
                        *fitter.interval("signal_strength", DELTA_68),
                        *fitter.interval("signal_strength", DELTA_90),
                    ]
                )
    return np.array(best), np.array(delta_truth), np.array(intervals)


def test_pulls_with_a_flux_nuisance(flux_toys):
    """Signed-root likelihood-ratio pulls sign(s^ - 1) sqrt(Delta(1)): mean 0 +- 0.1, sd 1 +- 0.1.

    The pull of a fitted parameter in the likelihood sense (Wilks: N(0, 1) asymptotically).
    The flux constraint dominates the width (10 % against ~2.5 % statistics): if toys did
    not redraw its auxiliary measurement the pulls would have a spread of about 0.25.
    """
    best, delta_truth, _ = flux_toys
    pulls = np.sign(best - 1.0) * np.sqrt(np.maximum(delta_truth, 0.0))
    assert abs(pulls.mean()) < 0.1, pulls.mean()
    assert abs(pulls.std(ddof=1) - 1.0) < 0.1, pulls.std(ddof=1)
    # and the plain spread of the estimates is the combined 10 % (+) 2.4 % uncertainty
    assert best.std(ddof=1) == pytest.approx(np.hypot(0.10, 1 / np.sqrt(1059.5 + 749.4)), rel=0.1)


def test_delta_is_nonnegative_and_intervals_nest(flux_toys):
    best, delta_truth, iv = flux_toys
    assert np.all(delta_truth >= -1e-9)
    lo68, hi68, lo90, hi90 = iv.T
    b = best[: len(iv)]
    assert np.all(lo90 <= lo68) and np.all(hi68 <= hi90)
    assert np.all((lo68 <= b) & (b <= hi68))
    # the 68 % interval covers the truth exactly when Delta(truth) <= 1
    covers = (lo68 <= 1.0) & (1.0 <= hi68)
    np.testing.assert_array_equal(covers, delta_truth[: len(iv)] <= DELTA_68)


def test_coverage_of_the_68_percent_interval(flux_toys):
    """Fraction of toys with Delta(truth) <= 1 (the 68 % interval covers): 0.683 within 3.5 se."""
    _, delta_truth, _ = flux_toys
    c68 = np.mean(delta_truth <= DELTA_68)
    assert abs(c68 - 0.6827) < 3.5 * np.sqrt(0.6827 * 0.3173 / N_TOYS), c68


@pytest.mark.parametrize("free", [["sin2_theta_w"], ["signal_strength", "sin2_theta_w"]])
def test_profile_is_nonnegative_everywhere(free):
    """Delta(-2 ln L) >= 0 on a grid, for toys with flux and per-detector nuisances."""
    model = two_detector_model(0.08, 0.05)
    rng = np.random.default_rng(7)
    for _ in range(3):
        counts, aux = model.sample({}, rng)
        fitter = ProfileFitter(model.with_data(counts, aux), free)
        best = fitter.best_fit().parameters["sin2_theta_w"]
        grid = best + np.linspace(-0.05, 0.05, 7)
        assert np.all(fitter.profile("sin2_theta_w", grid) >= -1e-7)
        lo68, hi68 = fitter.interval("sin2_theta_w", DELTA_68)
        lo90, hi90 = fitter.interval("sin2_theta_w", DELTA_90)
        assert lo90 <= lo68 <= best <= hi68 <= hi90


def test_sample_returns_auxiliary_measurements_of_every_nuisance():
    model = two_detector_model(0.1, 0.05)
    rng = np.random.default_rng(1)
    draws = [model.sample({}, rng) for _ in range(4000)]
    flux = np.array([aux["flux_norm"][0] for _, aux in draws])
    det = np.array([aux["detector_norm"] for _, aux in draws])
    assert det.shape == (4000, 2)
    # ln-centres ~ N(0, sigma): sample standard deviations within 5 % (se ~1.1 %)
    assert flux.std() == pytest.approx(0.1, rel=0.05) and det.std(axis=0) == pytest.approx(
        [0.05] * 2, rel=0.05
    )
    counts = np.array([c for c, _ in draws])
    np.testing.assert_allclose(
        counts.mean(axis=0), model.expected({}, model.nominal_nuisances()), rtol=0.01
    )
