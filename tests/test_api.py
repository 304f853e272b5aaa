"""The Python interface: load_study, expected_counts, fit, sample, load_posterior."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import cenns_bayes as cb
from cenns_bayes.specs import SpecError

from .conftest import MODELS, ROOT

SINGLE = MODELS / "single_channel_mu.toml"
REALISTIC = MODELS / "paper_realistic.toml"


def _detector(study, name):
    return next(d for d in study.spec.detectors if d.name == name)


def test_import_stays_light_and_exports_the_five_calls():
    code = (
        "import sys, cenns_bayes as cb\n"
        "names = [cb.load_study, cb.expected_counts, cb.fit, cb.sample, cb.load_posterior]\n"
        "bad = [m for m in ('pymc', 'pytensor', 'arviz', 'nutpie') if m in sys.modules]\n"
        "print(','.join(bad))\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert res.stdout.strip() == ""
    with pytest.raises(AttributeError, match="no attribute 'nonexistent'"):
        cb.nonexistent  # noqa: B018


def test_load_study_applies_overrides_and_changes_the_hash():
    base = cb.load_study(REALISTIC)
    heavier = cb.load_study(REALISTIC, {"detectors.Ar40.mass_kg": 2000})
    assert _detector(heavier, "Ar40").mass_kg == 2000
    assert heavier.sha256 != base.sha256
    with pytest.raises(SpecError, match="no detector named 'Ar4'"):
        cb.load_study(REALISTIC, {"detectors.Ar4.mass_kg": 2000})


def test_expected_counts_obey_exposure_and_magnetic_scaling():
    """Counts are proportional to the target mass; the magnetic term grows as mu^2."""
    study = cb.load_study(REALISTIC)
    base = cb.expected_counts(study)
    mass = _detector(study, "Ar40").mass_kg
    double = cb.expected_counts(cb.load_study(REALISTIC, {"detectors.Ar40.mass_kg": 2 * mass}))
    for flavor, counts in base["Ar40"].items():
        assert double["Ar40"][flavor] == pytest.approx(2 * counts, rel=1e-12)
    assert double["Ne20"] == base["Ne20"]  # the other detectors are untouched
    n0 = cb.expected_counts(study, mu_nu_mu=0.0)["Ar40"]["numu"]
    n1 = cb.expected_counts(study, mu_nu_mu=1.0)["Ar40"]["numu"]
    n3 = cb.expected_counts(study, mu_nu_mu=3.0)["Ar40"]["numu"]
    assert n1 > n0
    assert n3 - n0 == pytest.approx(9.0 * (n1 - n0), rel=1e-9)
    # mu_nu_mu does not touch the electron-neutrino channel
    assert cb.expected_counts(study, mu_nu_mu=3.0)["Ar40"]["nue"] == base["Ar40"]["nue"]


def test_expected_counts_agree_with_the_rates_command():
    res = subprocess.run(
        [sys.executable, "-m", "cenns_bayes.cli.main", "rates", str(REALISTIC), "--json"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    doc = json.loads(res.stdout)
    counts = cb.expected_counts(REALISTIC)
    for row in doc["counts"]:
        assert counts[row["detector"]][row["flavor"]] == pytest.approx(row["expected"], rel=1e-12)
    binned = cb.expected_counts(REALISTIC, binned=True)
    for det, flavors in binned.items():
        for flavor, per_bin in flavors.items():
            assert np.sum(per_bin) == pytest.approx(counts[det][flavor], rel=1e-9)


def test_expected_counts_refuses_unknown_parameters():
    with pytest.raises(ValueError, match=r"unknown parameter\(s\) \['mu_nu'\]"):
        cb.expected_counts(REALISTIC, mu_nu=1.0)


def test_fit_is_the_fit_command_plus_provenance():
    study = cb.load_study(SINGLE)
    result = cb.fit(study)
    res = subprocess.run(
        [sys.executable, "-m", "cenns_bayes.cli.main", "fit", str(SINGLE), "--json"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    assert json.loads(res.stdout) == json.loads(json.dumps(result))
    assert result["spec_sha256"] == study.sha256
    assert result["cenns_bayes_version"] == cb.__version__
    lo, hi = result["parameters"]["mu_nu_mu"]["interval_90"]
    assert lo == pytest.approx(0.0, abs=1e-6) and hi > 0
    with pytest.raises(ValueError, match="no free parameters"):
        cb.fit(MODELS.parent / "cenns_bayes" / "paper" / "presets" / "realistic.toml")


def test_sample_and_load_posterior_refuse_another_spec(mock_sampling, tmp_path):
    study = cb.load_study(SINGLE)
    idata = cb.sample(study, draws=50, tune=10, chains=2, seed=4)
    assert mock_sampling == [{"draws": 50, "tune": 10, "chains": 2, "seed": 4}]
    assert np.asarray(idata["posterior"]["mu_nu_mu"]).shape == (2, 50)
    assert idata.attrs["spec_sha256"] == study.sha256
    path = tmp_path / "post.nc"
    idata.to_netcdf(str(path), engine="h5netcdf")

    back = cb.load_posterior(path, study=SINGLE)
    np.testing.assert_array_equal(
        np.asarray(back["posterior"]["mu_nu_mu"]), np.asarray(idata["posterior"]["mu_nu_mu"])
    )
    assert cb.load_posterior(path)  # no study: no check
    other = cb.load_study(SINGLE, {"detectors.Ge76.mass_kg": 200.0})
    with pytest.raises(cb.SpecHashMismatchError, match="made from another spec"):
        cb.load_posterior(path, study=other)
    del idata.attrs["spec_sha256"]
    unhashed = tmp_path / "unhashed.nc"
    idata.to_netcdf(str(unhashed), engine="h5netcdf")
    with pytest.raises(cb.SpecHashMismatchError, match="no spec hash"):
        cb.load_posterior(unhashed, study=study)
    with pytest.raises(FileNotFoundError):
        cb.load_posterior(tmp_path / "missing.nc")
    with pytest.raises(ValueError, match="draws must be a positive integer"):
        cb.sample(study, draws=0)


def test_sample_study_plumbing_without_nuts(mock_sampling, tmp_path):
    """What the long NUTS test checked besides the numbers: attributes, groups, atomic output."""
    import arviz as az

    from cenns_bayes.bayes import diagnostics, sample_study, summarise_posterior
    from cenns_bayes.bayes.sampling import write_netcdf

    study = cb.load_study(SINGLE)
    result = sample_study(study, progressbar=False, prior_draws=20)
    cfg = study.spec.sampling
    assert mock_sampling == [
        {"draws": cfg.draws, "tune": cfg.tune, "chains": cfg.chains, "seed": cfg.seed}
    ]
    attrs = result.idata.attrs
    assert attrs["spec_sha256"] == study.sha256 and attrs["cenns_bayes_version"] == cb.__version__
    assert attrs["study"] == "single-channel-mu" and attrs["sampler"] == "mock"
    summary = summarise_posterior(result.idata, ["mu_nu_mu"])["mu_nu_mu"]
    # prior draws of a flat prior on [0, 40]: the summaries must say so
    assert summary["mean"] == pytest.approx(20.0, abs=1.0)
    assert summary["upper_90"] == pytest.approx(36.0, abs=1.0)
    assert diagnostics(result.idata, ["mu_nu_mu"])["divergences"] == 0
    path = write_netcdf(result.idata, tmp_path / "post.nc")
    assert [p.name for p in tmp_path.iterdir()] == ["post.nc"]
    back = az.from_netcdf(path)
    assert {"posterior", "sample_stats", "prior", "observed_data"} <= set(back.children)


def test_five_calls_run_as_a_user_would(tmp_path):
    """The README's quick start, in a fresh process outside the repository (real NUTS)."""
    script = tmp_path / "quick_start.py"
    script.write_text(
        textwrap.dedent(f"""
        import cenns_bayes as cb

        study = cb.load_study({str(SINGLE)!r}, {{"detectors.Ge76.mass_kg": 200.0}})
        counts = cb.expected_counts(study, mu_nu_mu=5.0)
        result = cb.fit(study)
        idata = cb.sample(study, draws=200, tune=200, chains=2, seed=1)
        idata.to_netcdf("posterior.nc")
        back = cb.load_posterior("posterior.nc", study=study)
        print(counts["Ge76"]["numu"], result["parameters"]["mu_nu_mu"]["interval_90"][1],
              float(back["posterior"]["mu_nu_mu"].quantile(0.9)))
    """)
    )
    res = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, cwd=tmp_path, timeout=600
    )
    assert res.returncode == 0, res.stderr
    counts, chi2_limit, credible_limit = (float(x) for x in res.stdout.split())
    assert counts > 0
    # docs/bayes.md: with a flat prior in mu the credible limit sits near the Delta chi^2 = 1.5
    # crossing, below the 90 % (Delta = 2.706) profile limit, and far above zero
    assert 0.3 * chi2_limit < credible_limit < chi2_limit


@pytest.mark.parametrize(
    ("args", "spec"),
    [
        (["rates", str(REALISTIC), "--json", "--set", "detectors.Ar40.mass_kg=500"], REALISTIC),
        (["reproduce", "--json"], None),
    ],
)
def test_json_outputs_carry_version_and_spec_hash(args, spec):
    res = subprocess.run(
        [sys.executable, "-m", "cenns_bayes.cli.main", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    doc = json.loads(res.stdout)
    assert doc["cenns_bayes_version"] == cb.__version__
    if spec is None:
        assert doc["spec_sha256"] is None  # made from the packaged presets, not a spec
    else:
        assert doc["spec_sha256"] == cb.load_study(spec, {"detectors.Ar40.mass_kg": 500}).sha256
