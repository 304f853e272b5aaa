"""matplotlib's pyplot on the Agg backend, imported only when a figure is drawn."""

from __future__ import annotations


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
