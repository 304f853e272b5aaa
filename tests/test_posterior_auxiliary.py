"""Posterior refits of toys are centred on the toy's auxiliary measurements.

The PyMC model holds each constraint's auxiliary measurement as ``pm.Data``
(``<nuisance>_centre``), so a compiled model swaps it with the main counts, as the toy's
profile-likelihood fit re-centres its constraint (``with_data``).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from cenns_bayes.specs import load_study

from .conftest import ROOT

FLUX_STUDY = ROOT / "models" / "calibration_ge76_sin2_flux.toml"


@pytest.fixture(scope="module")
def flux_study():
    return load_study(FLUX_STUDY)


def test_model_of_a_toy_is_centred_on_its_auxiliary_measurement(flux_study):
    pytest.importorskip("pymc")
    from cenns_bayes.bayes.model import auxiliary_data_names, build_model
    from cenns_bayes.stats.counting import CountingModel

    counting = CountingModel.from_study(flux_study)
    assert auxiliary_data_names(counting) == {"flux_norm": "flux_norm_centre"}
    ln_measured = math.log(1.2)  # the toy measured the flux 20 % above nominal
    toy = counting.with_data(counting.observed, {"flux_norm": np.array([ln_measured])})
    for model_of, centre in ((counting, 0.0), (toy, ln_measured)):
        model, _ = build_model(flux_study, counting=model_of)
        assert float(model["flux_norm_centre"].get_value()) == pytest.approx(centre, abs=1e-15)
        flux = model.replace_rvs_by_values([model["flux_norm"]])[0]
        flux_at = model.compile_fn(flux, inputs=model.value_vars, on_unused_input="ignore")
        point = model.initial_point()
        point["flux_norm_z"] = np.array(0.0)
        # at z = 0 the flux normalisation is the measured one, exp(centre)
        assert float(flux_at(point)) == pytest.approx(math.exp(centre), rel=1e-12)
        point["flux_norm_z"] = np.array(1.0)
        assert float(flux_at(point)) == pytest.approx(math.exp(centre + 0.10), rel=1e-12)


def test_refit_moves_with_the_auxiliary_flux_measurement(flux_study):
    """Same counts, flux measured 20 % high: the posterior of sin^2 theta_W moves down.

    N scales with flux x Q_W^2, Q_W = N - (1 - 4 sin^2) Z grows with sin^2, so a higher
    measured flux with unchanged counts asks for a smaller sin^2. The flux constraint
    (10 %) dominates the counts' error, so the shift is about ln(1.2) / 0.1 = 1.8 posterior
    widths; a refit that ignored the measurement would not move at all.
    """
    pytest.importorskip("nutpie")
    from cenns_bayes.calibration.common import PosteriorRefitter, SamplerSettings

    refitter = PosteriorRefitter(flux_study, SamplerSettings(draws=300, tune=300, chains=2))
    counts = np.asarray(refitter.counting.observed)
    nominal = refitter.fit(counts, seed=3)
    high = refitter.fit(counts, seed=3, auxiliary={"flux_norm": np.array([math.log(1.2)])})
    again = refitter.fit(counts, seed=3, auxiliary={"flux_norm": np.array([0.0])})
    mean = {k: float(np.mean(f.draws["sin2_theta_w"])) for k, f in (("n", nominal), ("h", high))}
    spread = float(np.std(nominal.draws["sin2_theta_w"]))
    assert mean["n"] - mean["h"] > 0.9 * spread
    # swapping back restores the nominal centre: the same draws as the first fit
    np.testing.assert_array_equal(again.draws["sin2_theta_w"], nominal.draws["sin2_theta_w"])
