"""The per-nucleus neutron-radius nuisance of counting studies."""

from __future__ import annotations

import numpy as np
import pytest

from cenns_bayes.specs import SpecPhysicsError, load_study
from cenns_bayes.stats.counting import CountingModel

from .conftest import MODELS

SIGMA = 0.2  # fm


@pytest.fixture(scope="module")
def study():
    return load_study(
        MODELS / "ne_ge_hierarchical.toml", {"nuisances.neutron_radius_sigma_fm": SIGMA}
    )


def test_interpolation_exact_at_nodes_and_close_between(study):
    model = CountingModel.from_study(study)
    assert model.radius_groups == ["Ne20", "Ge76"]
    params = {"sin2_theta_w": 0.24, "mu_nu_mu": 4.0, "mu_nu_e": 2.0}
    for z in (-1.0, 1.0, 0.5, -1.7):
        got = model.expected(params, {"neutron_radius": np.array([0.0, z])})
        direct = []
        for ch in model.rate_model.channels:
            shift = z * SIGMA if ch.detector == "Ge76" else 0.0
            c = study.channel_with_skin_shift(ch.detector, ch.flavor, shift)
            mu = params["mu_nu_e"] if ch.flavor == "nue" else params["mu_nu_mu"]
            direct.append(c.counts(params["sin2_theta_w"], mu)[0])
        tol = 1e-12 if abs(z) == 1.0 else 2e-4  # a parabola in z: exact at the nodes
        assert got == pytest.approx(np.array(direct), rel=tol)
    # a larger neutron radius lowers the coherent count (form factor falls faster)
    up = model.expected(params, {"neutron_radius": np.array([1.0, 1.0])})
    assert np.all(up < model.expected(params, {"neutron_radius": np.zeros(2)}))


def test_radius_nuisance_widens_the_frequentist_limit(study):
    from cenns_bayes.stats.profile import ProfileFitter

    base = load_study(MODELS / "ne_ge_hierarchical.toml")
    with_radius = ProfileFitter(CountingModel.from_study(study), ["mu_nu_mu"])
    without = ProfileFitter(CountingModel.from_study(base), ["mu_nu_mu"])
    assert with_radius.interval("mu_nu_mu", 2.71)[1] > without.interval("mu_nu_mu", 2.71)[1]


def test_bayesian_model_has_one_radius_per_nucleus(study):
    pytest.importorskip("pymc")
    from cenns_bayes.bayes.model import build_model

    model, counting = build_model(study)
    rv = {r.name: r for r in model.free_RVs}
    # non-centred like every normal nuisance: z per nucleus, the radius shift centre + sigma z
    assert "neutron_radius_z" in rv
    assert model.initial_point()["neutron_radius_z"].shape == (2,)
    assert "neutron_radius" in model.named_vars and "neutron_radius" not in rv


def test_radius_nuisance_needs_a_stretchable_form_factor(tmp_path):
    text = (
        (MODELS / "single_ge76.toml")
        .read_text()
        .replace('form_factor = "helm"', 'form_factor = "unity"')
    )
    path = tmp_path / "x.toml"
    path.write_text(text)
    with pytest.raises(SpecPhysicsError, match="nuisances.neutron_radius_sigma_fm"):
        load_study(path, {"nuisances.neutron_radius_sigma_fm": 0.1})
