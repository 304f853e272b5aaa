"""Figs. 1-8 of the seed paper written as PNG files (``cenns-bayes reproduce --plots DIR``)."""

from __future__ import annotations

import os
import stat

from cenns_bayes.plotting.paper_figures import FIGURE_NAMES, write_paper_figures

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_write_paper_figures_writes_eight_pngs(tmp_path):
    outdir = tmp_path / "figures"  # created by the writer
    paths = write_paper_figures(outdir)
    assert [p.name for p in paths] == list(FIGURE_NAMES)
    assert len(paths) == 8
    for p in paths:
        assert p.parent == outdir
        data = p.read_bytes()
        assert data.startswith(PNG_SIGNATURE), p
        assert len(data) > 20_000, p  # eight drawn figures, not empty canvases
        assert stat.S_IMODE(os.stat(p).st_mode) & 0o044, p  # readable by others, not 0600
    # atomic writes leave no temporary files behind
    assert sorted(f.name for f in outdir.iterdir()) == sorted(FIGURE_NAMES)
