"""Data against the fitted model: PE and arrival-time projections with stacked components."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..io import save_figure_atomic
from .backend import pyplot

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
        centres = 0.5 * (lo + hi)
        bottom = np.zeros_like(obs)
        for key in order:
            _, comp = _project(np.asarray(components[key], float), labels, kind)
            ax.bar(
                lo,
                comp,
                width=hi - lo,
                bottom=bottom,
                align="edge",
                color=_COLOURS.get(key, "C4"),
                label=_NAMES.get(key, key),
                alpha=0.85,
            )
            bottom = bottom + comp
        ax.errorbar(
            centres,
            obs,
            yerr=np.sqrt(np.maximum(obs, 1.0)),
            fmt="o",
            color="k",
            ms=3,
            label="data (C, beam on)",
        )
        ax.set_ylabel("events per bin")
        resid = (obs - bottom) / np.sqrt(np.maximum(bottom, 1e-9))
        rax.axhline(0, color="0.5", lw=0.8)
        rax.plot(centres, resid, "o", color="k", ms=3)
        rax.set_ylabel(r"(data $-$ fit)/$\sqrt{\rm fit}$", fontsize=8)
        rax.set_xlabel("photo-electrons (PE)" if kind == "pe" else r"arrival time ($\mu$s)")
        if col == 0:
            ax.legend(fontsize=7, frameon=False)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path = save_figure_atomic(fig, path, dpi=110)
    plt.close(fig)
    return path
