"""The command line, run as the installed ``cenns-bayes`` entry point in a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from .conftest import BAD_SPECS, MODELS, ROOT


def run_cli(*args, cwd=ROOT):
    return subprocess.run(
        [sys.executable, "-m", "cenns_bayes.cli.main", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
    )


def test_rates_json_schema():
    res = run_cli("rates", MODELS / "paper_realistic.toml", "--json", "--set", "mu_nu_mu=5")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["study"] == "paper-realistic"
    assert out["parameters"]["mu_nu_mu"] == 5.0
    assert {r["detector"] for r in out["counts"]} == {"Ne20", "Ar40", "Ge76", "Xe132"}
    assert {r["flavor"] for r in out["counts"]} == {"numu", "numubar", "nue"}
    assert all(r["expected"] > 0 for r in out["counts"])


def test_rates_table():
    res = run_cli("rates", MODELS / "paper_optimistic.toml")
    assert res.returncode == 0, res.stderr
    assert "Xe132" in res.stdout and "expected counts" in res.stdout


@pytest.mark.parametrize("fixture", sorted(p.name for p in BAD_SPECS.glob("*.toml")))
def test_bad_input_is_one_line_without_traceback(fixture, tmp_path):
    res = run_cli("rates", BAD_SPECS / fixture, "--json", cwd=tmp_path)
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert "Traceback" not in res.stderr
    assert fixture in lines[0]
    assert res.stdout == ""
    assert list(tmp_path.iterdir()) == []  # nothing half-written


def test_bad_override_and_missing_file(tmp_path):
    res = run_cli("rates", MODELS / "paper_realistic.toml", "--set", "detectors.Ar40.mass_kg=-3")
    assert (
        res.returncode == 2
        and "mass_kg" in res.stderr
        and len(res.stderr.strip().splitlines()) == 1
    )
    res = run_cli("rates", tmp_path / "nope.toml")
    assert res.returncode == 2 and "no such file" in res.stderr
    res = run_cli("reproduce", "--form-factor", "helmm")
    assert res.returncode == 2 and "unknown form factor" in res.stderr


def test_reproduce_json_schema():
    res = run_cli("reproduce", "--json")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    entries = out["entries"]
    assert len(entries) == 132
    keys = {"table", "quantity", "setup", "nuclei", "channel", "bound", "paper", "computed"}
    assert all(keys <= set(e) for e in entries)
    assert {e["table"] for e in entries} == {"III", "IV", "V", "VI", "eq13", "eq14"}
    assert {e["bound"] for e in entries} == {"half-width", "lower", "upper"}
    assert {e["nuclei"] for e in entries if e["table"] == "eq14"} == {"Ne20+Ar40+Ge76+Xe132"}
