"""COHERENT LAr 2020: energy, F90 and time projections of data and fit, beside the release's own."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .backend import pyplot, save_and_close
from .data_plots import draw_stack

_COLOURS = {
    "steady_state": "0.75",
    "prompt_neutrons": "C3",
    "delayed_neutrons": "C5",
    "cevns_numu": "C0",
    "cevns_numubar": "C1",
    "cevns_nue": "C2",
}
_NAMES = {
    "steady_state": "steady state",
    "prompt_neutrons": "prompt BRN",
    "delayed_neutrons": "delayed BRN",
    "cevns_numu": r"CEvNS $\nu_\mu$",
    "cevns_numubar": r"CEvNS $\bar\nu_\mu$",
    "cevns_nue": r"CEvNS $\nu_e$",
}
_AXES = (
    ("energy", 0, "reconstructed energy (keVee)"),
    ("f90", 1, "F90"),
    ("time", 2, r"arrival time ($\mu$s)"),
)


def _project(values: np.ndarray, axis: int) -> np.ndarray:
    cube = np.asarray(values, float).reshape(12, 8, 10)
    return cube.sum(axis=tuple(k for k in range(3) if k != axis))


def plot_lar_projections(
    model, components: dict[str, np.ndarray], release, path: str | Path, title: str = ""
) -> Path:
    """Three rows of energy / F90 / time panels.

    Row 1: observed counts over the stacked best-fit components. Row 2: (data - fit)/sqrt(fit).
    Row 3: steady-state-subtracted data (data minus the fitted steady state) and the fitted
    CEvNS + BRN, beside the release's own projections (``energydata1d.txt`` etc.: its
    subtracted data with statistical errors, its CEvNS + BRN and its systematic band).
    """
    plt = pyplot()
    fig, axes = plt.subplots(3, 3, figsize=(13.5, 8.4), gridspec_kw={"height_ratios": [3, 1, 3]})
    edges = {
        "energy": release.energy_edges_kevee,
        "f90": release.f90_edges,
        "time": release.time_edges_us,
    }
    order = [
        k
        for k in (
            "steady_state",
            "delayed_neutrons",
            "prompt_neutrons",
            "cevns_nue",
            "cevns_numubar",
            "cevns_numu",
        )
        if k in components
    ]
    observed = np.asarray(model.observed, float)
    for col, (name, axis, xlabel) in enumerate(_AXES):
        e = np.asarray(edges[name], float)
        lo, width, centres = e[:-1], np.diff(e), 0.5 * (e[:-1] + e[1:])
        ax, rax, sax = axes[0, col], axes[1, col], axes[2, col]
        obs = _project(observed, axis)
        stacked = [(k, _project(components[k], axis)) for k in order]
        bottom = draw_stack(ax, rax, lo, width, obs, stacked, _COLOURS, _NAMES)
        # steady-state-subtracted: this fit and the release's projection
        ss = _project(components.get("steady_state", np.zeros_like(observed)), axis)
        beam = bottom - ss
        pub = np.asarray(release.projections[name], float)
        sax.step(
            e, np.append(beam, beam[-1]), where="post", color="C0", label="this fit: CEvNS + BRN"
        )
        sax.errorbar(
            centres - 0.12 * width,
            obs - ss,
            yerr=np.sqrt(np.maximum(obs, 1.0)),
            fmt="o",
            color="k",
            ms=3,
            label="data $-$ fitted steady state",
        )
        sax.errorbar(
            centres + 0.12 * width,
            pub[:, 1],
            yerr=pub[:, 2],
            fmt="s",
            mfc="none",
            color="C3",
            ms=3,
            label="release: SS-subtracted data",
        )
        sax.step(
            e,
            np.append(pub[:, 5], pub[-1, 5]),
            where="post",
            color="C3",
            ls="--",
            label="release: CEvNS + BRN",
        )
        sax.fill_between(
            e,
            np.append(pub[:, 6], pub[-1, 6]),
            np.append(pub[:, 7], pub[-1, 7]),
            step="post",
            color="C3",
            alpha=0.15,
            label="release: systematic band",
        )
        sax.axhline(0, color="0.5", lw=0.6)
        sax.set_xlabel(xlabel)
        sax.set_ylabel("events per bin")
        if col == 0:
            ax.legend(fontsize=7, frameon=False)
            sax.legend(fontsize=7, frameon=False)
    fig.suptitle(title, fontsize=10)
    return save_and_close(fig, path)
