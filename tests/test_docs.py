"""The documentation site, API reference included, builds in mkdocs' strict mode."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from .conftest import ROOT

pytest.importorskip("mkdocs", reason="the dev extra (scripts/bootstrap.sh installs it)")
pytest.importorskip("mkdocstrings_handlers.python")


def test_docs_build_in_strict_mode(tmp_path):
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    res = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=600,
    )
    assert res.returncode == 0, res.stdout + res.stderr
    api = (tmp_path / "site" / "reference" / "api" / "index.html").read_text(encoding="utf-8")
    for name in ("load_study", "expected_counts", "fit", "sample", "load_posterior"):
        assert f"cenns_bayes.api.{name}" in api
    hepdata = (tmp_path / "site" / "reference" / "hepdata" / "index.html").read_text(
        encoding="utf-8"
    )
    assert "cenns_bayes.export.hepdata.write_submission" in hepdata
