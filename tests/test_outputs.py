"""Output folders: checked and locked before any work, written whole, no debris after a kill."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from cenns_bayes.io import OUTPUT_MARKER, OutputError, OutputFile, OutputFolder

from .conftest import ROOT


def _old_results(folder):
    folder.mkdir()
    (folder / OUTPUT_MARKER).write_text("x")
    (folder / "report.md").write_text("old report")
    (folder / "posterior.nc").write_text("old posterior")


def test_folder_is_swapped_in_whole(tmp_path):
    out = tmp_path / "out"
    _old_results(out)
    with OutputFolder(out) as work:
        assert work != out and work.parent == out.parent
        (work / "report.md").write_text("new report")
        # until the end, the old complete results are in place
        assert (out / "posterior.nc").read_text() == "old posterior"
    assert (out / "report.md").read_text() == "new report"
    assert not (out / "posterior.nc").exists()  # nothing of the old run mixed in
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no temporaries, no lock


def test_failed_run_leaves_the_old_results(tmp_path):
    out = tmp_path / "out"
    _old_results(out)
    with pytest.raises(RuntimeError):
        with OutputFolder(out) as work:
            (work / "posterior.nc").write_text("new posterior")
            raise RuntimeError("sampling failed")
    assert (out / "posterior.nc").read_text() == "old posterior"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_second_writer_is_refused(tmp_path):
    out = tmp_path / "out"
    first = OutputFolder(out).acquire()
    try:
        with pytest.raises(OutputError, match="being written by another cenns-bayes run"):
            OutputFolder(out).acquire()
        with pytest.raises(OutputError, match="being written by another"):
            OutputFolder(out, whole=False).acquire()
    finally:
        first.release()
    OutputFolder(out).acquire().release()  # free again once the first is done


def test_second_writer_of_one_file_is_refused(tmp_path):
    target = tmp_path / "posterior.nc"
    first = OutputFile(target).acquire()
    try:
        with pytest.raises(OutputError, match="being written by another"):
            OutputFile(target).acquire()
    finally:
        first.release()


@pytest.mark.parametrize(
    "setup, message",
    [
        (lambda p: p.write_text("a file"), "is a file; give a folder"),
        (
            lambda p: (p.mkdir(), (p / "notes.txt").write_text("mine")),
            "is not an output folder of cenns-bayes",
        ),
    ],
)
def test_wrong_kind_of_folder_is_refused(tmp_path, setup, message):
    out = tmp_path / "out"
    setup(out)
    with pytest.raises(OutputError, match=message):
        OutputFolder(out).acquire()


def test_folder_under_a_file_and_unwritable_places(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(OutputError, match="is a file, not a folder"):
        OutputFolder(tmp_path / "f" / "out").acquire()
    with pytest.raises(OutputError, match="is a file, not a folder"):
        OutputFile(tmp_path / "f" / "post.nc").acquire()
    with pytest.raises(OutputError, match="cannot write there"):
        OutputFolder("/proc/cenns-bayes-out").acquire()
    with pytest.raises(OutputError, match="is a directory"):
        OutputFile(tmp_path).acquire()


def test_resumable_folder_keeps_its_files_and_removes_killed_temporaries(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "toys.jsonl").write_text('{"k": 1}\n')
    (out / ".summary.json.abc.part").write_text("half")
    with OutputFolder(out, whole=False) as work:
        assert work == out
    assert (out / "toys.jsonl").read_text() == '{"k": 1}\n'
    assert not (out / ".summary.json.abc.part").exists()


def test_swap_cut_short_is_completed_backwards(tmp_path):
    # killed between "old results moved aside" and "new ones moved in"
    out = tmp_path / "out"
    _old_results(tmp_path / ".out.old-12345")
    (tmp_path / ".out.tmp-12345").mkdir()
    OutputFolder(out).acquire().release()
    assert (out / "posterior.nc").read_text() == "old posterior"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


_WRITER = """
import sys, time
from cenns_bayes.io import OutputFolder
with OutputFolder(sys.argv[1]) as work:
    (work / "posterior.nc").write_text("new posterior")
    print("written", flush=True)
    time.sleep(60)
"""


def test_sigkill_mid_write_leaves_old_results_and_next_run_cleans(tmp_path):
    out = tmp_path / "out"
    _old_results(out)
    proc = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(out)], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    try:
        assert proc.stdout.readline().strip() == "written"
        # the second writer is refused while the first holds the lock
        with pytest.raises(OutputError, match="being written by another"):
            OutputFolder(out).acquire()
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stdout.close()
    assert (out / "posterior.nc").read_text() == "old posterior"
    debris = sorted(p.name for p in tmp_path.iterdir() if p.name != "out")
    assert any(name.startswith(".out.tmp-") for name in debris)
    OutputFolder(out).acquire().release()  # the next run: the kernel dropped the lock
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    assert (out / "posterior.nc").read_text() == "old posterior"


def test_sigkill_of_the_command_line_mid_write(tmp_path):
    """``reproduce --plots`` killed while it draws: DIR keeps the old figures, nothing else."""
    out = tmp_path / "figs"
    out.mkdir()
    (out / "fig1_sin2_theta_w.png").write_bytes(b"old figure")
    proc = subprocess.Popen(
        [sys.executable, "-m", "cenns_bayes.cli.main", "reproduce", "--plots", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    )
    try:
        deadline = time.monotonic() + 120
        while not list(tmp_path.glob(".figs.tmp-*")) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert list(tmp_path.glob(".figs.tmp-*")), "the command never started writing"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stderr.close()
    assert [p.name for p in out.iterdir()] == ["fig1_sin2_theta_w.png"]
    assert (out / "fig1_sin2_theta_w.png").read_bytes() == b"old figure"
    OutputFolder(out, option="--plots").acquire().release()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["figs"]
