"""Data against the fitted model: PE and arrival-time projections with stacked components."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .backend import pyplot, save_and_close

_COLOURS = {
    "steady_state": "0.75",
    "prompt_neutrons": "C3",
    "cevns_numu": "C0",
    "cevns_numubar": "C1",
    "cevns_nue": "C2",
    "neutrino_induced_neutrons": "C4",
}
_NAMES = {
    "steady_state": "steady-state background",
    "prompt_neutrons": "prompt neutrons",
    "cevns_numu": r"CEvNS prompt $\nu_\mu$",
    "cevns_numubar": r"CEvNS $\bar\nu_\mu$",
    "cevns_nue": r"CEvNS $\nu_e$",
    "neutrino_induced_neutrons": "neutrino-induced neutrons",
}


def _project(values: np.ndarray, labels: list, axis: str):
    """Sum a flat per-bin array onto PE (axis='pe') or time (axis='time') bins."""
    keys = [(b[0], b[1]) if axis == "pe" else (b[2], b[3]) for b in labels]
    edges = sorted(set(keys))
    index = {k: i for i, k in enumerate(edges)}
    out = np.zeros(len(edges))
    np.add.at(out, [index[k] for k in keys], values)
    return np.array(edges), out


def draw_stack(
    ax,
    rax,
    lo: np.ndarray,
    width: np.ndarray,
    observed: np.ndarray,
    stacked: Sequence[tuple[str, np.ndarray]],
    colours: dict[str, str],
    names: dict[str, str],
    data_label: str = "data",
) -> np.ndarray:
    """Stacked component bars and the data with Poisson errors on ``ax``; residuals on ``rax``.

    ``stacked`` is (component key, counts per bin) from the bottom up. The residual panel
    shows (data - fit) / sqrt(fit). Returns the stacked total (the fit) per bin.
    """
    centres = lo + 0.5 * width
    bottom = np.zeros_like(observed)
    for key, comp in stacked:
        ax.bar(
            lo,
            comp,
            width=width,
            bottom=bottom,
            align="edge",
            color=colours.get(key, "C4"),
            label=names.get(key, key),
            alpha=0.85,
        )
        bottom = bottom + comp
    yerr = np.sqrt(np.maximum(observed, 1.0))
    ax.errorbar(centres, observed, yerr=yerr, fmt="o", color="k", ms=3, label=data_label)
    ax.set_ylabel("events per bin")
    rax.axhline(0, color="0.5", lw=0.8)
    rax.plot(centres, (observed - bottom) / np.sqrt(np.maximum(bottom, 1e-9)), "o", color="k", ms=3)
    rax.set_ylabel(r"(data $-$ fit)/$\sqrt{\rm fit}$", fontsize=8)
    return bottom


def plot_projections(
    model, components: dict[str, np.ndarray], path: str | Path, title: str = ""
) -> Path:
    """Observed counts with Poisson errors over the stacked expectation, in PE and in time.

    The lower panels show (observed - expected) / sqrt(expected).
    """
    plt = pyplot()
    labels = model.bin_labels
    has_time = len(labels[0]) >= 4 and len({(b[2], b[3]) for b in labels}) > 1
    axes_kinds = ["pe", "time"] if has_time else ["pe"]
    fig, axes = plt.subplots(
        2,
        len(axes_kinds),
        figsize=(5.2 * len(axes_kinds), 5.2),
        gridspec_kw={"height_ratios": [3, 1]},
        sharex="col",
        squeeze=False,
    )
    order = [
        k
        for k in (
            "steady_state",
            "prompt_neutrons",
            "neutrino_induced_neutrons",
            "cevns_nue",
            "cevns_numubar",
            "cevns_numu",
        )
        if k in components
    ]
    for col, kind in enumerate(axes_kinds):
        ax, rax = axes[0, col], axes[1, col]
        edges, obs = _project(np.asarray(model.observed, float), labels, kind)
        lo, hi = edges[:, 0], edges[:, 1]
        stacked = [(k, _project(np.asarray(components[k], float), labels, kind)[1]) for k in order]
        draw_stack(ax, rax, lo, hi - lo, obs, stacked, _COLOURS, _NAMES, "data (C, beam on)")
        rax.set_xlabel("photo-electrons (PE)" if kind == "pe" else r"arrival time ($\mu$s)")
        if col == 0:
            ax.legend(fontsize=7, frameon=False)
    fig.suptitle(title, fontsize=10)
    return save_and_close(fig, path)
