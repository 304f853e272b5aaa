"""The joint COHERENT model against its members, built and evaluated independently."""

from __future__ import annotations

import numpy as np
import pytest

from cenns_bayes.rates.coefficients import differential_coefficients
from cenns_bayes.specs import load_study
from cenns_bayes.stats.binned import model_for_study
from cenns_bayes.stats.joint import build_joint_model, isotope_neutron_radius_fm, project_spectra
from cenns_bayes.stats.profile import ProfileFitter

from .conftest import MODELS, central_gradient

MEMBERS = {
    "csi2017": "coherent_csi_2017_sin2.toml",
    "csi2021": "coherent_csi_2021_sin2.toml",
    "lar2020": "coherent_lar_2020_sin2.toml",
}
RADII = ["neutron_radius_cs133_fm", "neutron_radius_i127_fm", "neutron_radius_ar40_fm"]


@pytest.fixture(scope="module")
def members():
    out = []
    for label, name in MEMBERS.items():
        study = load_study(MODELS / name)
        out.append((label, study, model_for_study(study)))
    return out


@pytest.fixture(scope="module")
def joint(members):
    return build_joint_model(members, ["sin2_theta_w", "mu_nu_mu", *RADII], {}, 0.10)


@pytest.mark.parametrize("label", list(MEMBERS))
def test_spectrum_projection_reproduces_the_members_rows(members, label):
    """The stored linear map of recoil spectra gives the rows the builder computed its own way."""
    _, study, model = next(m for m in members if m[0] == label)
    setup = study.setup(study.response_detector)
    grid = model.spectrum_projection[0]
    spectra = np.stack([differential_coefficients(setup, f, grid) for f in study.flavors])
    rows = project_spectra(model.spectrum_projection, spectra)
    assert rows == pytest.approx(model.rows, rel=1e-10, abs=1e-12 * np.abs(model.rows).max())


def test_joint_likelihood_is_the_sum_of_the_members(members, joint):
    """-2 ln L of the joint model = sum over members, at nominal and at moved shared values."""
    nominal = joint.nominal_nuisances()
    fitter = ProfileFitter(joint, ["sin2_theta_w"])
    total = fitter.neg2ll({}, nominal)[0]
    singles = [ProfileFitter(m, ["sin2_theta_w"]) for _, _, m in members]
    parts = [f.neg2ll({}, f.model.nominal_nuisances())[0] for f in singles]
    assert total == pytest.approx(sum(parts), rel=1e-12)
    # shared parameters moved: sin^2, mu_nu_mu and the one flux scale act on every member
    moved = {"sin2_theta_w": 0.25, "mu_nu_mu": 20.0}
    nuis = {**nominal, "flux_norm": 1.07}
    total = fitter.neg2ll(moved, nuis)[0]
    parts = [
        f.neg2ll(moved, {**f.model.nominal_nuisances(), "flux_norm": 1.07})[0] for f in singles
    ]
    # each single data set pays the flux constraint (ln 1.07 / 0.1)^2; the joint pays it once
    extra = 2 * (np.log(1.07) / 0.10) ** 2
    assert total == pytest.approx(sum(parts) - extra, rel=1e-12)
    # a member's own nuisance moves that member's bins only
    key = "csi2021.efficiency"
    expected = joint.expected(moved, {**nuis, key: 0.6})
    before = joint.expected(moved, nuis)
    sl = joint.member_slices()
    assert np.all(expected[sl["csi2017"]] == before[sl["csi2017"]])
    assert np.all(expected[sl["lar2020"]] == before[sl["lar2020"]])
    assert not np.allclose(expected[sl["csi2021"]], before[sl["csi2021"]])


def test_joint_nuisances_are_renamed_per_data_set(joint):
    names = [n.name for n in joint.nuisances]
    assert names.count("flux_norm") == 1
    assert "csi2017.qf_shift" in names and "csi2021.qf_eig0" in names and "lar2020.qf_a" in names
    assert not any(n.endswith(".flux_norm") for n in names)


@pytest.mark.parametrize(
    ("label", "detector", "skin_fm"), [("lar2020", "LAr", 0.503), ("csi2017", "CsI", 0.37)]
)
def test_radius_template_matches_a_rebuilt_member_off_grid(
    members, joint, label, detector, skin_fm
):
    """Radii moved off the template grid reproduce a member rebuilt with that neutron skin.

    The rebuilt member computes its rows directly from the physics core with
    ``neutron_skin_fm`` = R_n - R_p for every isotope; the joint model gets there through
    the polynomial radius templates.
    """
    _, study, model = next(m for m in members if m[0] == label)
    setup = study.setup(study.response_detector)
    radii = {}
    for k, comp in enumerate(setup.target.components):
        rp, _ = isotope_neutron_radius_fm(setup, k)
        radii[f"neutron_radius_{comp.nucleus.symbol.lower()}{comp.nucleus.A}_fm"] = rp + skin_fm
    rebuilt = model_for_study(
        load_study(MODELS / MEMBERS[label], {f"detectors.{detector}.neutron_skin_fm": skin_fm})
    )
    params = {"sin2_theta_w": 0.24, "mu_nu_mu": 15.0}
    sl = joint.member_slices()[label]
    got = joint.signal(params, joint.nominal_nuisances())[sl]
    direct = np.asarray(rebuilt.signal({**rebuilt.fixed, **params}, rebuilt.nominal_nuisances()))
    nominal = np.asarray(model.signal({**model.fixed, **params}, model.nominal_nuisances()))
    assert direct.sum() < 0.99 * nominal.sum()  # the move matters: a larger radius lowers the count
    got = joint.signal({**params, **radii}, joint.nominal_nuisances())[sl]
    assert got == pytest.approx(direct, rel=1e-5, abs=1e-6 * direct.max())


def test_flux_pooling_none_keeps_each_members_flux(members):
    joint = build_joint_model(members, ["sin2_theta_w"], {}, 0.10, flux_pooling="none")
    names = [n.name for n in joint.nuisances]
    assert "flux_norm" not in names
    assert {"csi2017.flux_norm", "csi2021.flux_norm", "lar2020.flux_norm"} <= set(names)


# ---------------------------------------------------------------------- specs


def _joint_text(**replace: str) -> str:
    text = (MODELS / "coherent_joint.toml").read_text()
    for old, new in replace.items():
        assert old in text
        text = text.replace(old, new)
    return text


def test_joint_spec_loads_members_and_fits():
    from cenns_bayes.specs.joint import is_joint_spec, load_joint_study

    study = load_joint_study(MODELS / "coherent_joint.toml")
    assert is_joint_spec(MODELS / "coherent_joint.toml")
    assert not is_joint_spec(MODELS / "coherent_csi_2021.toml")
    assert list(study.members) == ["csi2017", "csi2021", "lar2020"]
    assert study.free_parameters == ["sin2_theta_w"]
    radii = study.for_fit("neutron_radii")
    assert radii.free_parameters == RADII
    assert radii.true_parameters()["sin2_theta_w"] == pytest.approx(0.23120)


@pytest.mark.parametrize(
    ("old", "new", "key", "problem"),
    [
        (
            'free = ["sin2_theta_w"]',
            'free = ["sin2_theta_w"]\nbogus = 1',
            "fits[0].bogus",
            "unknown",
        ),
        (
            "sin2_theta_w = { dist",
            "#sin2_theta_w = { dist",
            "fits[0].free",
            "no [priors] entry",
        ),
        (
            'neutron_radius_ar40_fm = { dist = "uniform", lower = 2.6',
            'neutron_radius_ar40_fm = { dist = "uniform", lower = 1.0',
            "priors.neutron_radius_ar40_fm",
            "template range",
        ),
        ('spec = "coherent_lar_2020.toml"', 'spec = "missing.toml"', "members[2].spec", "no such"),
        ('label = "lar2020"', 'label = "csi2021"', "members", "unique"),
        (
            "sin2_theta_w = { dist",
            'neutron_radius_xe_fm = { dist = "uniform", lower = 4, upper = 6 }\n'
            "sin2_theta_w = { dist",
            "priors.neutron_radius_xe_fm",
            # the joint schema's names, not a single study's
            "mu_nu_e, r2_nu_mu, r2_nu_e, neutron_radius_cs133_fm, neutron_radius_i127_fm",
        ),
    ],
)
def test_joint_spec_errors_name_file_and_key(tmp_path, old, new, key, problem):
    from cenns_bayes.specs import SpecError
    from cenns_bayes.specs.joint import load_joint_study

    text = _joint_text(**{old: new}).replace('spec = "coherent_', f'spec = "{MODELS}/coherent_')
    path = tmp_path / "joint.toml"
    path.write_text(text)
    with pytest.raises(SpecError) as err:
        load_joint_study(path)
    assert err.value.path == str(path)
    assert err.value.key == key
    assert problem in err.value.problem


@pytest.mark.parametrize(
    "override",
    ["template_sigmas=[1.0]", "resolution_sqrt_kevee=0.5", "shape_systematics=false"],
)
def test_lar_only_keys_refused_for_the_csi_2021_release(override):
    from cenns_bayes.specs import SpecStructureError

    name, value = override.split("=")
    with pytest.raises(SpecStructureError) as err:
        load_study(
            MODELS / "coherent_csi_2021.toml",
            {f"detectors.CsI.energy_response.{name}": eval(value.replace("false", "False"))},
        )
    assert err.value.key == "detectors[0].energy_response"
    assert name in err.value.problem and "coherent-lar-2020" in err.value.problem


def test_commands_without_joint_support_refuse_a_joint_spec_in_one_line():
    from .test_cli import run_cli

    proc = run_cli("rates", str(MODELS / "coherent_joint.toml"))
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "joint study" in lines[0] and "use fit, sample or study" in lines[0]


def test_joint_expectation_is_the_same_on_pytensor(joint):
    """The graph the PyMC builder uses gives the NumPy values (radii and nuisances moved)."""
    pytensor = pytest.importorskip("pytensor")
    pt = pytensor.tensor

    names = ["sin2_theta_w", "mu_nu_mu", *RADII]
    values = [0.245, 12.0, 5.3, 4.2, 3.9]
    symbols = {n: pt.dscalar(n) for n in names}
    nominal = joint.nominal_nuisances()
    moved = {**nominal, "flux_norm": 0.93, "csi2021.qf_eig1": -0.7, "lar2020.qf_a": 1.4}
    as_tensors = {k: pt.as_tensor_variable(np.asarray(v, float)) for k, v in moved.items()}
    graph = joint.expected(symbols, as_tensors, xp=pt)
    f = pytensor.function(list(symbols.values()), graph, mode="FAST_COMPILE")
    got = f(*values)
    want = joint.expected(dict(zip(names, values, strict=True)), moved)
    assert got == pytest.approx(want, rel=1e-10)


def test_fit_refuses_an_unknown_joint_fit_name_in_one_line():
    from .test_cli import run_cli

    proc = run_cli("fit", str(MODELS / "coherent_joint.toml"), "--fit", "nope")
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "--fit nope" in lines[0] and "weak_mixing" in lines[0]


PHYSICS_POINT = {
    "sin2_theta_w": 0.24,
    "mu_nu_mu": 8.0,
    "mu_nu_e": 5.0,
    "r2_nu_mu": -3.0,
    "r2_nu_e": 2.0,
    "signal_strength": 1.1,
    "neutron_radius_cs133_fm": 5.3,
    "neutron_radius_i127_fm": 4.4,
    "neutron_radius_ar40_fm": 3.7,
}


def _moved_nuisances(model, seed: int = 1) -> dict:
    """Every nuisance off its nominal value (0.7 sigma scatter), physical values."""
    rng = np.random.default_rng(seed)
    out = {}
    for spec in model.nuisances:
        value = np.asarray(spec.from_z(rng.normal(0.0, 0.7, spec.size)), dtype=float)
        out[spec.name] = float(value[0]) if spec.size == 1 else value
    return out


def test_joint_jacobian_matches_central_differences(joint):
    """D expected / d (every physics parameter and every nuisance entry), all three members.

    At a point away from the nominal one (every nuisance moved, mu_nu and <r^2> non-zero,
    radii off their template origins). Central differences with a relative step of 1e-5
    agree with the exact derivatives to ~1e-8 of each column's largest entry; a missing
    term or factor (e.g. a normalisation left out, a template slope of the wrong sign)
    is O(1).
    """
    assert joint.has_jacobian
    names = list(PHYSICS_POINT)
    params = {**joint.fixed, **PHYSICS_POINT}
    nuis = _moved_nuisances(joint)
    jac = joint.jacobian(params, nuis, [*names, "mu_nu_mu_squared", "mu_nu_e_squared"])

    def expected(p, n):
        return np.asarray(joint.expected(p, n), dtype=float)

    checked = 0
    for name in names:
        h = 1e-5 * max(1.0, abs(params[name]))
        fd = (
            expected({**params, name: params[name] + h}, nuis)
            - expected({**params, name: params[name] - h}, nuis)
        ) / (2 * h)
        assert np.max(np.abs(fd)) > 0, name
        np.testing.assert_allclose(jac[name], fd, rtol=0, atol=1e-6 * np.max(np.abs(fd)))
        checked += 1
    for mu in ("mu_nu_mu", "mu_nu_e"):  # d/d(mu^2) = (d/d mu) / (2 mu)
        np.testing.assert_allclose(
            jac[f"{mu}_squared"], jac[mu] / (2 * params[mu]), rtol=1e-12, atol=0
        )
    for spec in joint.nuisances:
        v = np.atleast_1d(np.asarray(nuis[spec.name], dtype=float))
        for i in range(spec.size):
            h = 1e-5 * max(1.0, abs(v[i]))
            up, down = v.copy(), v.copy()
            up[i] += h
            down[i] -= h
            one = (lambda x: x) if spec.size > 1 else (lambda x: float(x[0]))
            fd = (
                expected(params, {**nuis, spec.name: one(up)})
                - expected(params, {**nuis, spec.name: one(down)})
            ) / (2 * h)
            exact = np.atleast_2d(jac[spec.name])[i]
            assert np.max(np.abs(fd)) > 0, spec.name
            np.testing.assert_allclose(exact, fd, rtol=0, atol=1e-6 * np.max(np.abs(fd)))
            checked += 1
    assert checked == len(names) + sum(s.size for s in joint.nuisances)


def test_fit_objective_gradient_matches_central_differences(joint):
    """The gradient handed to the optimiser: -2 ln L with every constraint (incl. the
    steady states' control deviances), in the fitter's coordinates (z of each nuisance)."""
    fitter = ProfileFitter(joint, ["sin2_theta_w", "neutron_radius_ar40_fm"])
    names = ["sin2_theta_w", "neutron_radius_ar40_fm"]
    scale = np.array([0.01, 0.1])
    u0 = fitter._nuisance_start() + np.random.default_rng(2).normal(
        0.0, 0.5, fitter._nuisance_start().size
    )
    x0 = np.concatenate([[0.24 / scale[0], 3.7 / scale[1]], u0])

    def value_and_gradient(x):
        vals = dict(zip(names, x[:2] * scale, strict=True))
        nuis = fitter._nuisance_values(x[2:])
        return fitter._value_and_gradient(names, scale, {**joint.fixed, **vals}, nuis, x[2:])

    value, grad = value_and_gradient(x0)
    assert value == pytest.approx(
        fitter.neg2ll(
            dict(zip(names, x0[:2] * scale, strict=True)), fitter._nuisance_values(x0[2:])
        )[0],
        rel=1e-12,
    )
    fd = central_gradient(lambda x: value_and_gradient(x)[0], x0, h=1e-5)
    np.testing.assert_allclose(grad, fd, rtol=1e-5, atol=1e-4)
    assert np.max(np.abs(fd)) > 1.0


def test_exact_gradient_fit_reaches_the_numerical_minimum(members):
    """The joint best fit of sin^2 with exact gradients and with numerical ones agree."""
    model = build_joint_model(members, ["sin2_theta_w"], {}, 0.10)
    assert model.has_jacobian
    exact = ProfileFitter(model, ["sin2_theta_w"]).best_fit()
    model.has_jacobian = False
    numeric = ProfileFitter(model, ["sin2_theta_w"]).best_fit()
    model.has_jacobian = True
    assert exact.neg2ll <= numeric.neg2ll + 1e-6
    assert exact.neg2ll == pytest.approx(numeric.neg2ll, abs=1e-4)
    assert exact.parameters["sin2_theta_w"] == pytest.approx(
        numeric.parameters["sin2_theta_w"], abs=1e-4
    )


@pytest.mark.parametrize("z", [-3.7, -2.0, -0.4, 0.0, 1.3, 2.0, 4.2])
def test_template_value_and_derivative_beyond_the_nodes(z):
    """One-pass value and slope equal the interpolation's own evaluation, inside and beyond
    the outermost nodes (where it continues linearly), and the slope is its derivative."""
    from cenns_bayes.stats.jacobians import template_value_and_derivative
    from cenns_bayes.stats.lar import TemplateShift

    nodes = np.array([-2.0, -1.0, 0.0, 1.0, 2.0])
    values = np.random.default_rng(5).normal(size=(nodes.size, 3, 7))
    shift = TemplateShift.from_nodes("x", nodes, values)
    args = (shift.coeffs, shift.slopes, shift.lower, shift.upper)
    value, slope = template_value_and_derivative(*args, z)
    np.testing.assert_allclose(value, shift.evaluate(z), rtol=1e-13, atol=1e-13)
    h = 1e-6
    fd = (shift.evaluate(z + h) - shift.evaluate(z - h)) / (2 * h)
    # at a join the curvature jumps, so a central difference there is only first-order
    if abs(abs(z) - 2.0) > 1e-9:
        np.testing.assert_allclose(slope, fd, rtol=0, atol=1e-7 * np.abs(fd).max())


def test_joint_fc_command_refuses_an_unknown_fit_in_one_line(capsys):
    from cenns_bayes.calibration.joint_fc import main

    assert main([str(MODELS / "coherent_joint.toml"), "--fit", "nope", "--parameter", "x"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no [[fits]] entry 'nope'" in err[0]
