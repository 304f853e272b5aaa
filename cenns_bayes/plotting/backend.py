"""matplotlib's pyplot on the Agg backend, imported only when a figure is drawn."""

from __future__ import annotations


def pyplot():
    """Return ``matplotlib.pyplot`` with the non-interactive Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
