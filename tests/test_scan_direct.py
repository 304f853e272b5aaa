"""Posterior scans on the hand-written log-density: buffers per point, same limits as PyTensor.

A posterior scan of a counting study builds the direct model (:mod:`cenns_bayes.bayes.direct`)
once and swaps each point's count coefficients and Asimov counts into its buffer; these
tests check that buffer against a fresh build, and the credible limits against the PyTensor
path's within Monte Carlo error.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pymc")
pytest.importorskip("nutpie")

from cenns_bayes.bayes import direct, sampling  # noqa: E402
from cenns_bayes.scans import ScanAxis, StudyScanner, run_scan  # noqa: E402
from cenns_bayes.specs import parse_study  # noqa: E402
from cenns_bayes.stats.binned import model_for_study  # noqa: E402

from .conftest import MODELS  # noqa: E402

ARGON = MODELS / "argon_1t_20m.toml"
THRESHOLD = "detectors.Ar.recoil_window_kev.0"


def _point_study(scanner: StudyScanner, threshold_kev: float, log_density: str = "auto"):
    """The study a posterior scan samples at one point (Asimov data, as the scan task)."""
    raw = {**scanner.raw, "data": {"kind": "asimov"}}
    overrides = {THRESHOLD: threshold_kev, "sampling.log_density": log_density}
    return parse_study(raw, scanner.path, overrides)


def test_each_scan_point_buffer_equals_a_fresh_build():
    """Swapped buffers are, number for number, those of a DirectModel built at each point."""
    scanner = StudyScanner.from_file(ARGON)
    sampling._DIRECT_COMPILED.clear()
    first = None
    for threshold_kev in (0.5, 3.0, 12.0, 40.0):
        study = _point_study(scanner, threshold_kev)
        counting = model_for_study(study)
        compiled = sampling._direct_reused(study, counting, None)
        fresh = direct.DirectModel(study, counting)
        np.testing.assert_array_equal(np.asarray(compiled.user_data), fresh.buffer)
        if first is None:
            first = sampling._DIRECT_COMPILED[0]
        # built once: later points reuse the first model, only the buffer changes
        assert sampling._DIRECT_COMPILED == [first]
    # the points differ in their coefficients, so the swap did change the buffer
    a = sampling._direct_reused(
        _point_study(scanner, 0.5), model_for_study(_point_study(scanner, 0.5)), None
    )
    b = sampling._direct_reused(
        _point_study(scanner, 40.0), model_for_study(_point_study(scanner, 40.0)), None
    )
    assert not np.array_equal(np.asarray(a.user_data), np.asarray(b.user_data))


def test_another_prior_builds_a_new_direct_model():
    """A change outside the swapped columns (the prior) is not served by the old buffer."""
    scanner = StudyScanner.from_file(ARGON)
    sampling._DIRECT_COMPILED.clear()
    study = _point_study(scanner, 5.0)
    sampling._direct_reused(study, model_for_study(study), None)
    raw = {**scanner.raw, "data": {"kind": "asimov"}}
    raw["priors"] = {"mu_nu_mu": {"dist": "uniform", "lower": 0.0, "upper": 20.0}}
    other = parse_study(raw, scanner.path, {THRESHOLD: 5.0})
    compiled = sampling._direct_reused(other, model_for_study(other), None)
    fresh = direct.DirectModel(other, model_for_study(other))
    np.testing.assert_array_equal(np.asarray(compiled.user_data), fresh.buffer)


def test_run_scan_takes_the_direct_path_and_builds_once(monkeypatch):
    builds = []
    real = direct.DirectModel

    class Counted(real):  # type: ignore[misc, valid-type]
        def __init__(self, *args, **kwargs):
            builds.append(1)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(direct, "DirectModel", Counted)
    sampling._DIRECT_COMPILED.clear()
    scanner = StudyScanner.from_file(ARGON, {"sampling.draws": 200, "sampling.tune": 200})
    res = run_scan(
        scanner, [ScanAxis(THRESHOLD, (2.0, 10.0, 30.0))], "mu_nu_mu", method="posterior"
    )
    assert len(builds) == 1
    limits = [p.posterior_limit for p in res.points]
    assert limits[0] < limits[2]  # a lower threshold gives a tighter limit


def _limit_and_mcse(study, seed: int) -> tuple[float, float, str]:
    """90 % quantile of mu_nu_mu (the scan's upper limit), its MC standard error, the path."""
    import arviz as az

    result = sampling.sample_study(
        study,
        draws=1000,
        tune=1000,
        chains=2,
        seed=seed,
        progressbar=False,
        prior_draws=0,
        reuse_compiled=True,
    )
    idata = result.idata
    q = float(np.quantile(np.asarray(idata.posterior["mu_nu_mu"]).ravel(), 0.9))
    se = float(az.mcse(idata, var_names=["mu_nu_mu"], method="quantile", prob=0.9)["mu_nu_mu"])
    return q, se, idata.attrs["log_density"]


def test_direct_and_pytensor_scans_give_the_same_limits():
    """Per point, the 90 % upper limits agree within 4 combined Monte Carlo standard errors.

    The two paths sample the same posterior with other rounding and initial points, so
    their draws differ; the difference of two independent quantile estimates has standard
    deviation sqrt(se_a^2 + se_b^2) (ArviZ's quantile MCSE, which accounts for
    autocorrelation; 2-4 % of the limit here with 2 x 1000 draws). 4 sigma fails by chance
    about once in 16 000 per point. The second point is sampled on the buffer swapped from
    the first: a swap that left the first point's numbers would give a limit about 45 %
    lower (2.5 against 4.4), about 9 combined standard errors away.
    """
    scanner = StudyScanner.from_file(ARGON)
    sampling._DIRECT_COMPILED.clear()
    for threshold_kev in (1.0, 20.0):
        a, se_a, path_a = _limit_and_mcse(_point_study(scanner, threshold_kev), 11)
        b, se_b, path_b = _limit_and_mcse(_point_study(scanner, threshold_kev, "pytensor"), 12)
        assert (path_a, path_b) == ("analytic", "pytensor")
        assert abs(a - b) < 4.0 * np.hypot(se_a, se_b), (threshold_kev, a, b, se_a, se_b)
