"""matplotlib's pyplot on the Agg backend, imported only when a figure is drawn."""

from __future__ import annotations

import os
from pathlib import Path


def pyplot():
    """Return ``matplotlib.pyplot``, on the non-interactive Agg backend unless one is in use.

    When pyplot is already imported (a notebook or an interactive session chose its
    backend) that backend is kept, so figures still show inline in Jupyter.
    """
    import sys

    import matplotlib

    if "matplotlib.pyplot" not in sys.modules:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_and_close(fig, path: str | os.PathLike, dpi: int = 110) -> Path:
    """Lay ``fig`` out, write it as PNG at ``path`` atomically and close it; returns the path."""
    from ..io import save_figure_atomic

    fig.tight_layout()
    out = save_figure_atomic(fig, path, dpi=dpi)
    pyplot().close(fig)
    return out
