"""Bad command lines: one clean line and a non-zero exit, before any computation.

Most cases run ``cenns_bayes.cli.main.main`` in this process with the computations replaced
by a function that fails the test if it is reached, so "before any sampling" is checked
directly, not by timing.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cenns_bayes.cli.main import main
from cenns_bayes.io import OutputFolder

from .conftest import MODELS, ROOT

SPEC = MODELS / "single_ar40.toml"


def _reached(*args, **kwargs):
    raise AssertionError("a computation started before the arguments were checked")


@pytest.fixture
def no_computation(monkeypatch):
    """Every long computation of the commands fails the test if it is reached."""
    import cenns_bayes.bayes
    import cenns_bayes.paper.reproduce
    import cenns_bayes.parallel
    import cenns_bayes.reports.study
    import cenns_bayes.scans
    import cenns_bayes.stats.fit

    monkeypatch.setattr(cenns_bayes.bayes, "sample_study", _reached)
    monkeypatch.setattr(cenns_bayes.reports.study, "run_study", _reached)
    monkeypatch.setattr(cenns_bayes.parallel, "Engine", _reached)
    monkeypatch.setattr(cenns_bayes.scans, "run_scan", _reached)
    monkeypatch.setattr(cenns_bayes.stats.fit, "fit_study", _reached)
    monkeypatch.setattr(cenns_bayes.paper.reproduce, "reproduce", _reached)


def _run(argv, capsys):
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


def _cases(tmp: Path):
    (tmp / "afile").write_text("x")
    (tmp / "adir").mkdir()
    cov = ["check", SPEC, "--kind", "coverage"]
    scan = ["scan", SPEC, "--vary", "detectors.Ar40.mass_kg=100,200", "--target", "mu_nu_mu"]
    return [
        (["sample", SPEC, "--seed", "-1"], "--seed must be an integer from 0 to"),
        (["sample", SPEC, "--seed", str(2**64)], "--seed must be an integer from 0 to"),
        (["sample", SPEC, "--draws", "0"], "--draws must be an integer from 1"),
        (["sample", SPEC, "--out", tmp / "adir"], "is a directory; give a file name"),
        (["sample", SPEC, "--out", tmp / "afile" / "x.nc"], "is a file, not a folder"),
        (["sample", SPEC, "--out", "/proc/cenns.nc"], "cannot write there"),
        (["study", SPEC, "--draws", "0", "--out", tmp / "o"], "--draws must be an integer from 1"),
        (
            ["study", SPEC, "--chains", "0", "--out", tmp / "o"],
            "--chains must be an integer from 1",
        ),
        (["study", SPEC, "--draws", "-5", "--out", tmp / "o"], "--draws must be an integer from 1"),
        (
            ["study", SPEC, "--chains", "1000", "--out", tmp / "o"],
            "--chains must be an integer from 1 to 64",
        ),
        (["study", SPEC, "--out", tmp / "afile"], "is a file; give a folder"),
        (["study", SPEC, "--out", tmp / "afile" / "sub"], "is a file, not a folder"),
        (["study", SPEC, "--out", "/proc/cenns-out"], "cannot write there"),
        (["study", SPEC, "--out", tmp], "is not an output folder of cenns-bayes"),
        ([*cov, "--scheduler", "notanaddress"], "is not an address such as tcp://host:8786"),
        ([*cov, "--scheduler", "tcp://127.0.0.1:1"], "cannot reach the Dask scheduler"),
        ([*cov, "--scheduler", "tcp://127.0.0.1:99999"], "is not an address"),
        ([*cov, "--out", "/proc/cenns-out"], "cannot write there"),
        ([*cov, "--out", tmp / "afile"], "is a file; give a folder"),
        ([*cov, "--toys", "0"], "--toys must be an integer from 1"),
        ([*cov, "--seed", "-3"], "--seed must be an integer from 0"),
        ([*cov, "--workers", "0"], "--workers must be an integer from 1"),
        (
            [
                "scan",
                SPEC,
                "--vary",
                "detectors.Ar40.mass_kg=1:10:1000000000",
                "--target",
                "mu_nu_mu",
            ],
            "at most 10000 per axis",
        ),
        (
            [
                "scan",
                SPEC,
                "--vary",
                "detectors.Ar40.mass_kg=1:10:5000",
                "--vary",
                "study.exposure_s=1e7:1e8:5000",
                "--target",
                "mu_nu_mu",
            ],
            "points in all; at most",
        ),
        ([*scan, "--out", "/proc/cenns-out"], "cannot write there"),
        ([*scan, "--seed", "-1"], "--seed must be an integer from 0"),
        ([*scan, "--scheduler", "host:notaport"], "is not an address"),
        (["rates", SPEC, "--set", "study.name.x.y=3"], "cannot set a value inside a scalar"),
        (
            ["rates", SPEC, "--set", "detectors.Ar40.mass_kg.x=3"],
            "cannot set a value inside a scalar",
        ),
        (["rates", SPEC, "--set", "detectors.Ar40.mass_kg=inf"], "must be a finite number"),
        (["rates", SPEC, "--set", "detectors.Ar40.mass_kg=true"], "valid number (found true)"),
        (["fit", SPEC, "--set", "=3"], "has no NAME"),
        (["reproduce", "--plots", "/proc/cenns-figs"], "cannot write there"),
        (["reproduce", "--plots", tmp / "afile"], "is a file; give a folder"),
        (["rates", "/dev/zero"], "not a regular file"),
        (["check", "/dev/zero", "--kind", "asimov"], "not a regular file"),
        (
            ["scan", "/dev/zero", "--vary", "study.exposure_s=1,2", "--target", "mu_nu_mu"],
            "not a regular file",
        ),
        (["study", "/dev/zero", "--out", tmp / "o"], "not a regular file"),
    ]


def test_bad_arguments_fail_before_any_computation(tmp_path, capsys, no_computation):
    for argv, message in _cases(tmp_path):
        status, out, err = _run(argv, capsys)
        lines = err.strip().splitlines()
        assert status == 2, (argv, err)
        assert len(lines) == 1 and message in lines[0], (argv, err)
        assert len(lines[0]) <= 300 and "Traceback" not in err
        assert out == ""
        assert not (tmp_path / "o").exists()  # nothing made for a run that never started


def test_locked_output_is_refused_before_any_computation(tmp_path, capsys, no_computation):
    out = tmp_path / "out"
    holder = OutputFolder(out).acquire()
    try:
        for argv in (
            ["study", SPEC, "--out", out],
            ["check", SPEC, "--kind", "coverage", "--out", out],
            [
                "scan",
                SPEC,
                "--vary",
                "detectors.Ar40.mass_kg=100,200",
                "--target",
                "mu_nu_mu",
                "--out",
                out,
            ],
        ):
            status, _, err = _run(argv, capsys)
            assert status == 2 and "being written by another cenns-bayes run" in err, err
    finally:
        holder.release()


def test_unexpected_error_is_one_line_and_debug_shows_it(monkeypatch, capsys):
    import cenns_bayes.cli.rates_cmd as rates_cmd

    def boom(args):
        raise RuntimeError("something broke\nwith a second line")

    monkeypatch.setattr(rates_cmd, "run", boom)
    status, _, err = _run(["rates", SPEC], capsys)
    assert status == 1
    assert err.count("\n") == 1
    assert "RuntimeError: something broke with a second line" in err
    assert "run with --debug for the traceback" in err
    with pytest.raises(RuntimeError):
        main(["rates", str(SPEC), "--debug"])


def test_interrupt_is_one_line(monkeypatch, capsys, tmp_path):
    import cenns_bayes.cli.rates_cmd as rates_cmd

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(rates_cmd, "run", interrupted)
    status, _, err = _run(["rates", SPEC], capsys)
    assert (
        status == 130
        and err.strip() == "cenns-bayes rates: interrupted; no partial output was written"
    )


def test_study_output_is_swapped_in_whole_and_says_what_was_written(monkeypatch, capsys, tmp_path):
    import cenns_bayes.reports.study as report

    out = tmp_path / "out"
    out.mkdir()
    (out / "report.md").write_text("old")
    (out / "summary.json").write_text("{}")
    (out / "posterior.nc").write_text("old")
    seen = {}

    def fake_run_study(study, outdir, **kwargs):
        seen["outdir"] = Path(outdir)
        assert (out / "posterior.nc").read_text() == "old"  # old results stay until the end
        (Path(outdir) / "report.md").write_text("new")
        kwargs["progress"]("frequentist profiles")
        diag = {"divergences": 3, "max_r_hat": 1.027, "min_ess_bulk": 250.0, "min_ess_tail": 500.0}
        return {
            "diagnostics": diag,
            "wall_seconds": 1.0,
            "posterior": {},
            "frequentist": {},
            "warnings": report.sampler_warnings(diag),
        }

    monkeypatch.setattr(report, "run_study", fake_run_study)
    status, stdout, err = _run(["study", SPEC, "--out", out], capsys)
    assert status == 0, err
    assert seen["outdir"] != out and seen["outdir"].parent == out.parent
    assert (out / "report.md").read_text() == "new" and not (out / "posterior.nc").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    assert f"report in {out}/report.md" in stdout
    # progress as plain lines on a non-terminal stderr, and the sampler warnings
    assert "cenns-bayes study: single-ar40: frequentist profiles" in err
    assert "warning: R-hat 1.027 > 1.01" in err
    assert "warning: bulk ESS 250 < 400" in err
    assert "warning: 3 divergent transitions" in err

    def failing_run_study(study, outdir, **kwargs):
        (Path(outdir) / "posterior.nc").write_text("half")
        raise KeyboardInterrupt

    monkeypatch.setattr(report, "run_study", failing_run_study)
    status, _, err = _run(["study", SPEC, "--out", out], capsys)
    assert status == 130
    assert err.strip().endswith(f"{out} was not changed (the previous results are kept)")
    assert (out / "report.md").read_text() == "new" and not (out / "posterior.nc").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_sampler_warnings_thresholds():
    from cenns_bayes.reports.study import sampler_warnings

    good = {"divergences": 0, "max_r_hat": 1.005, "min_ess_bulk": 800.0, "min_ess_tail": 900.0}
    assert sampler_warnings(good) == []
    summary = {
        "mu_nu_mu": {"r_hat": 1.027, "ess_bulk": 350.0, "ess_tail": 900.0},
        "sin2_theta_w": {"r_hat": 1.001, "ess_bulk": 900.0, "ess_tail": 900.0},
    }
    bad = {"divergences": 2, "max_r_hat": 1.027, "min_ess_bulk": 350.0, "min_ess_tail": 900.0}
    text = " | ".join(sampler_warnings(bad, summary))
    assert "R-hat 1.027 > 1.01 (mu_nu_mu)" in text
    assert "bulk ESS 350 < 400 (mu_nu_mu)" in text
    assert "2 divergent transitions" in text
    assert "tail ESS" not in text and "sin2_theta_w" not in text


def test_non_local_scheduler_warns_about_tls(monkeypatch, capsys):
    import socket

    from cenns_bayes.cli.common import check_scheduler

    class _Connection:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(socket, "create_connection", lambda *a, **k: _Connection())
    check_scheduler("check", "tcp://10.1.2.3:8786")
    assert "TLS" in capsys.readouterr().err
    for quiet in ("tls://10.1.2.3:8786", "tcp://127.0.0.1:8786", "localhost:8786"):
        check_scheduler("check", quiet)
        assert capsys.readouterr().err == ""


def test_control_characters_never_reach_the_terminal(capsys):
    status, out, err = _run(
        ["rates", SPEC, "--set", 'study.name="\\u001b[2J\\u001b[31mred\\u0007"'], capsys
    )
    assert status == 0, err
    assert "\x1b" not in out and "\x07" not in out and "red: expected counts" in out


def test_piped_tables_are_full_width(capsys):
    import io

    from rich.console import Console
    from rich.table import Table

    from cenns_bayes.cli.common import plain_console

    table = Table(title="ten numeric columns")
    for i in range(10):
        table.add_column(f"column {i}", justify="right")
    table.add_row(*[f"{0.000123456 * (i + 1):.6g}" for i in range(10)])
    narrow = io.StringIO()
    Console(file=narrow, width=80).print(table)
    assert "…" in narrow.getvalue()  # what an 80-column default does to numbers
    plain_console().print(table)  # stdout is captured here: not a terminal
    out = capsys.readouterr().out
    assert "…" not in out and "0.00123456" in out and "\x1b" not in out


def test_broken_pipe_is_quiet():
    # the reader goes away before the command writes: no BrokenPipeError traceback
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cenns_bayes.cli.main",
            "rates",
            str(MODELS / "paper_realistic.toml"),
            "--json",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    )
    proc.stdout.close()
    err = proc.stderr.read().decode()
    proc.wait(timeout=120)
    proc.stderr.close()
    assert err == "" and proc.returncode == 141


def test_fit_shows_progress_when_not_a_terminal(capsys):
    status, out, err = _run(["fit", MODELS / "argon_1t_20m.toml", "--json"], capsys)
    assert status == 0, err
    assert (
        err == "cenns-bayes fit: argon-1t-20m: "
        "maximum-likelihood fit and profile intervals of mu_nu_mu\n"
    )
    json.loads(out)


def test_ctrl_c_swallowed_by_the_sampler_still_stops_the_study(monkeypatch, capsys, tmp_path):
    """nutpie and PyMC return the draws made so far on Ctrl-C; the study must not be written."""
    import signal

    import cenns_bayes.reports.study as report

    out = tmp_path / "out"

    def sampler_swallowing_ctrl_c(study, outdir, **kwargs):
        (Path(outdir) / "posterior.nc").write_text("truncated")
        try:
            # raise_signal runs the handler in this thread before it returns; os.kill to the
            # process may wake another thread, and the handler then ran after the try block
            signal.raise_signal(signal.SIGINT)
        except KeyboardInterrupt:
            pass  # what nutpie's sample() and PyMC's _sample() do
        diag = {"divergences": 0, "max_r_hat": 1.0, "min_ess_bulk": 1000.0, "min_ess_tail": 1000.0}
        return {
            "diagnostics": diag,
            "wall_seconds": 1.0,
            "posterior": {},
            "frequentist": {},
            "warnings": [],
        }

    monkeypatch.setattr(report, "run_study", sampler_swallowing_ctrl_c)
    status, stdout, err = _run(["study", SPEC, "--out", out], capsys)
    assert status == 130, err
    assert "interrupted" in err and err.count("\n") == 1
    assert stdout == "" and not out.exists()
    assert list(tmp_path.iterdir()) == []
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
