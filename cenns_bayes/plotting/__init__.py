"""Figures of the package, written as PNG files.

Modules
-------
``paper_figures``
    :func:`~cenns_bayes.plotting.paper_figures.write_paper_figures`: Figs. 1-8 of
    Kosmas et al. 2015 (arXiv:1505.03202) from the packaged paper presets, as used by
    ``cenns-bayes reproduce --plots DIR``.
``form_factor_plots``
    :func:`~cenns_bayes.plotting.form_factor_plots.plot_bcs_comparison`: BCS proton and
    neutron form factors against Helm and Klein-Nystrand (``docs/bcs.md``).

matplotlib is imported inside the functions that draw (Agg backend, no display needed),
so importing this package, the paper layer or the command line never loads it. Files
are written atomically: a failed or interrupted write leaves no partial PNG behind.
"""

from __future__ import annotations

__all__: list[str] = []
