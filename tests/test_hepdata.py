"""HEPData submissions of scans, fits and studies: written, validated, values carried over."""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import pytest
import yaml

from cenns_bayes.export import hepdata
from cenns_bayes.specs import load_study

from .conftest import MODELS, ROOT

pytest.importorskip("hepdata_lib")
FullSubmissionValidator = pytest.importorskip(
    "hepdata_validator.full_submission_validator"
).FullSubmissionValidator


def run_cli(*args, cwd=ROOT):
    return subprocess.run(
        [sys.executable, "-m", "cenns_bayes.cli.main", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=600,
    )


def assert_valid(folder):
    """hepdata-validator accepts the archive (what is uploaded) and the YAML files."""
    with (
        tempfile.TemporaryDirectory() as unpacked,
        tarfile.open(folder / "submission.tar.gz") as tar,
    ):
        tar.extractall(unpacked, filter="data")
        assert {p.name for p in Path(unpacked).iterdir()} == {p.name for p in folder.glob("*.yaml")}
        validator = FullSubmissionValidator(autoload_remote_schemas=False)
        assert validator.validate(directory=unpacked), validator.get_messages()


def tables(folder):
    """``{table name: parsed YAML}`` of a submission folder."""
    docs = list(yaml.safe_load_all((folder / "submission.yaml").read_text()))
    return {
        d["name"]: yaml.safe_load((folder / d["data_file"]).read_text())
        for d in docs
        if "data_file" in d
    }, docs[0]


def column(table, name):
    var = next(v for v in table["dependent_variables"] if v["header"]["name"] == name)
    return var


def test_fit_submission_validates_and_carries_the_fit(tmp_path):
    spec = MODELS / "single_channel_mu.toml"
    out = tmp_path / "hepdata"
    res = run_cli("fit", spec, "--json", "--hepdata", out, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    fit = json.loads(res.stdout)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hepdata"]  # no stray tarball
    assert_valid(out)
    by_name, head = tables(out)
    assert load_study(spec).sha256 in head["comment"]
    assert fit["cenns_bayes_version"] in head["comment"]
    table = by_name["Profile-likelihood fit"]
    assert table["independent_variables"][0]["values"] == [{"value": "mu_nu_mu [1e-10 mu_B]"}]
    row = fit["parameters"]["mu_nu_mu"]
    # hepdata_lib keeps five significant digits
    assert column(table, "Best fit")["values"][0]["value"] == pytest.approx(
        row["best"], rel=1e-4, abs=1e-9
    )
    upper90 = column(table, "Upper end, 90 %")["values"][0]["value"]
    assert upper90 == pytest.approx(row["interval_90"][1], rel=1e-4)
    limits = by_name["Upper limits"]
    assert column(limits, "Upper limit")["values"][0]["value"] == pytest.approx(upper90, rel=1e-12)


def test_scan_submission_holds_the_brazil_band(tmp_path):
    out = tmp_path / "hepdata"
    res = run_cli(
        "scan",
        MODELS / "argon_1t_20m.toml",
        "--vary",
        "detectors.Ar.recoil_window_kev.0=2,20",
        "--target",
        "mu_nu_mu",
        "--toys",
        "6",
        "--workers",
        "1",
        "--json",
        "--hepdata",
        out,
    )
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["spec_sha256"] == load_study(MODELS / "argon_1t_20m.toml").sha256
    assert_valid(out)
    table = tables(out)[0]["Expected limits"]
    axis = table["independent_variables"][0]
    assert axis["header"] == {"name": "detectors.Ar.recoil_window_kev.0", "units": "keV"}
    assert [v["value"] for v in axis["values"]] == [2.0, 20.0]
    chi2 = column(table, "Expected limit (Asimov, Delta chi^2)")
    assert [v["value"] for v in chi2["values"]] == pytest.approx(
        [p["chi2_limit"] for p in doc["points"]], rel=1e-4
    )
    band = column(table, "Expected limit (toys, median)")
    for entry, point in zip(band["values"], doc["points"], strict=True):
        b = point["band"]
        assert entry["value"] == pytest.approx(b["median"], rel=1e-4)
        errors = {e["label"]: e["asymerror"] for e in entry["errors"]}
        assert errors["1 sigma"]["minus"] == pytest.approx(
            b["minus1"] - b["median"], rel=1e-4, abs=1e-6
        )
        assert errors["2 sigma"]["plus"] == pytest.approx(
            b["plus2"] - b["median"], rel=1e-4, abs=1e-6
        )


def _study_summary():
    """A summary.json of ``cenns-bayes study`` reduced to what the export reads."""
    return {
        "study": "example",
        "cenns_bayes_version": "0.1.0",
        "spec_sha256": "ab" * 32,
        "free_parameters": ["sin2_theta_w", "mu_nu_mu"],
        "frequentist": {
            "sin2_theta_w": {
                "chi2": {"best": 0.2312, "interval_68": [0.22, 0.24], "interval_90": [0.21, 0.25]}
            },
            "mu_nu_mu": {
                "chi2": {
                    "best": 0.0,
                    "interval_68": [0.0, 1.5],
                    "interval_90": [0.0, float("inf")],
                    "upper_90": float("inf"),
                    "upper_90_one_sided": 2.2,
                }
            },
        },
        "posterior": {
            p: {
                "hdi_68": [0.1, 0.2],
                "hdi_90": [0.05, 0.3],
                "eti_68": [0.11, 0.21],
                "eti_90": [0.06, 0.31],
                "upper_90": 0.25,
            }
            for p in ("sin2_theta_w", "mu_nu_mu")
        },
    }


def test_study_submission_writes_every_interval_and_open_ends(tmp_path):
    out = hepdata.write_submission(hepdata.study_submission(_study_summary()), tmp_path / "h")
    assert_valid(out)
    by_name, head = tables(out)
    assert "ab" * 32 in head["comment"]
    assert set(by_name) == {"Intervals sin2_theta_w", "Intervals mu_nu_mu", "Upper limits"}
    mu = by_name["Intervals mu_nu_mu"]
    methods = [v["value"] for v in mu["independent_variables"][0]["values"]]
    assert methods == ["chi2", "posterior HDI", "posterior ETI"]
    assert [v["value"] for v in column(mu, "Upper end, 90 %")["values"]] == ["inf", 0.3, 0.31]
    limits = column(by_name["Upper limits"], "Upper limit")["values"]
    assert [v["value"] for v in limits] == ["inf", 2.2, 0.25]


def test_refuses_to_replace_a_folder_with_other_files(tmp_path):
    (tmp_path / "notes.txt").write_text("keep me")
    res = run_cli("fit", MODELS / "single_channel_mu.toml", "--hepdata", tmp_path)
    assert res.returncode == 2
    assert res.stderr.count("\n") == 1 and "Traceback" not in res.stderr
    assert "not an earlier HEPData submission" in res.stderr
    assert (tmp_path / "notes.txt").read_text() == "keep me"
    # an earlier submission is replaced
    first = hepdata.write_submission(hepdata.study_submission(_study_summary()), tmp_path / "h")
    assert (first / "intervals_mu_nu_mu.yaml").exists()
    res = run_cli("fit", MODELS / "single_channel_mu.toml", "--hepdata", first)
    assert res.returncode == 0, res.stderr
    assert not (first / "intervals_mu_nu_mu.yaml").exists()
    assert_valid(first)


def test_invalid_submission_is_refused(tmp_path):
    sub = hepdata.study_submission(_study_summary())
    sub.tables[0].variables[1].values = []  # a column shorter than the table
    with pytest.raises(hepdata.HepdataExportError, match="does not validate"):
        hepdata.write_submission(sub, tmp_path / "bad")
    assert not (tmp_path / "bad").exists()
    assert [p.name for p in tmp_path.iterdir()] == []


def test_study_export_of_a_real_summary(mock_sampling, tmp_path):
    """The main job's summary (sampling mocked) goes through the export the CLI uses."""
    from cenns_bayes.cli.common import write_hepdata
    from cenns_bayes.reports.study import run_study

    study = load_study(MODELS / "single_channel_mu.toml")
    summary = run_study(
        study, tmp_path / "report", draws=100, tune=10, chains=2, pooling_comparison=False
    )
    assert mock_sampling  # no NUTS ran
    write_hepdata("study", summary, str(tmp_path / "hepdata"))
    assert_valid(tmp_path / "hepdata")
    by_name, head = tables(tmp_path / "hepdata")
    assert study.sha256 in head["comment"]
    mu = by_name["Intervals mu_nu_mu"]
    methods = [v["value"] for v in mu["independent_variables"][0]["values"]]
    assert methods == [*summary["frequentist"]["mu_nu_mu"], "posterior HDI", "posterior ETI"]
    hdi_upper = column(mu, "Upper end, 90 %")["values"][methods.index("posterior HDI")]["value"]
    assert hdi_upper == pytest.approx(summary["posterior"]["mu_nu_mu"]["hdi_90"][1], rel=1e-4)
