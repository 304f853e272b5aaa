"""Figs. 1-8 of Kosmas et al. 2015 (arXiv:1505.03202) as PNG files.

Every curve comes from the packaged paper presets
(:func:`cenns_bayes.paper.reproduce.load_presets`) and the exact count coefficients,
with the chi^2 of Eqs. (10)-(12) on Asimov data at sin^2(theta_W) = 0.23120.
Solid lines use the chosen form factor (default Helm), dashed lines F = 1 (the
paper's "zero momentum transfer" curves; the paper's solid lines are its BCS form
factors, available here as ``form_factor="bcs"``).

Channels per panel (the same conventions as the tables, ``docs/reproduction.md``):

* "prompt": the nu_mu line; "delayed": the anti-nu_mu channel, so that each curve
  crosses its threshold at the corresponding entry of Tables III, V and VI (for
  mu_nu and <r^2>, mu_nu_mu and r2_nu_mu act on nu_mu and anti-nu_mu);
* Fig. 2 (sin^2 theta_W, combined): nu_mu + anti-nu_mu + nu_e, the set that
  reproduces Table IV; Figs. 4 and 8 (combined): nu_mu + anti-nu_mu, as Tables V, VI;
* Fig. 5: two free parameters (sin^2 theta_W, mu_nu_mu) per channel (prompt nu_mu,
  delayed anti-nu_mu); Fig. 6: (mu_nu_mu on anti-nu_mu, mu_nu_e on nu_e) with
  sin^2 theta_W fixed. Both at 90 % C.L. for two parameters, Delta chi^2 = 4.61.

The paper's printed values are marked on the threshold lines of Figs. 1-4, 7 and 8
(crosses), so that the figures show the comparison the tables make.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..io import save_figure_atomic
from ..paper.reproduce import NUCLEI_ORDER, load_presets, paper_entries
from ..physics.constants import SIN2_THETA_W_PAPER
from ..stats.counting import CountingModel
from ..stats.profile import DELTA_CHI2, ProfileFitter

if TYPE_CHECKING:  # pragma: no cover - typing only
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from ..specs import Study

__all__ = ["FIGURE_NAMES", "save_png_atomic", "write_paper_figures"]

#: File names written by :func:`write_paper_figures`, in figure order.
FIGURE_NAMES: tuple[str, ...] = (
    "fig1_sin2_theta_w.png",
    "fig2_sin2_theta_w_combined.png",
    "fig3_mu_nu.png",
    "fig4_mu_nu_combined.png",
    "fig5_mu_nu_sin2_theta_w_contours.png",
    "fig6_mu_numubar_mu_nue_contours.png",
    "fig7_r2_nu.png",
    "fig8_r2_nu_combined.png",
)

SETUPS: tuple[str, str] = ("realistic", "optimistic")
_LABEL = {"Ne20": r"$^{20}$Ne", "Ar40": r"$^{40}$Ar", "Ge76": r"$^{76}$Ge", "Xe132": r"$^{132}$Xe"}
_COLOUR = {"Ne20": "#1f77b4", "Ar40": "#d62728", "Ge76": "#2ca02c", "Xe132": "#9467bd"}
_FF_NAME = {
    "helm": "Helm",
    "klein-nystrand": "Klein–Nystrand",
    "symmetrized-fermi": "symmetrized Fermi",
    "unity": "F = 1",
    "bcs": "BCS",
}
_CHANNEL_TEXT = {
    ("numu",): r"prompt $\nu_\mu$",
    ("numubar",): r"delayed $\bar\nu_\mu$",
    ("numu", "numubar"): r"$\nu_\mu + \bar\nu_\mu$",
    ("numu", "numubar", "nue"): r"$\nu_\mu + \bar\nu_\mu + \nu_e$",
}
_AXIS = {
    "sin2_theta_w": r"$\sin^2\theta_W$ (dimensionless)",
    "mu_nu_mu": r"$\mu_{\nu_\mu}$ ($10^{-10}\,\mu_B$)",
    "mu_nu_e": r"$\mu_{\nu_e}$ ($10^{-10}\,\mu_B$)",
    "r2_nu_mu": r"$\langle r^2_{\nu_\mu}\rangle$ ($10^{-32}$ cm$^2$)",
}
_MU_NUMUBAR_AXIS = r"$\mu_{\bar\nu_\mu}$ ($10^{-10}\,\mu_B$)"
_DCHI2_AXIS = r"$\Delta\chi^2$ (dimensionless)"
_PROMPT, _DELAYED = ("numu",), ("numubar",)
_DPI = 110


# -- files ---------------------------------------------------------------------------
def save_png_atomic(fig: Figure, target: str | os.PathLike, dpi: int = _DPI) -> Path:
    """Save ``fig`` as PNG at ``target`` atomically (see :mod:`cenns_bayes.io`)."""
    return save_figure_atomic(fig, target, dpi=dpi)


def _new_figure(
    nrows: int, ncols: int, width_in: float, height_in: float
) -> tuple[Figure, np.ndarray]:
    from matplotlib.figure import Figure  # lazily: Agg canvas, no pyplot state

    fig = Figure(figsize=(width_in, height_in), layout="constrained")
    axes = np.atleast_2d(np.asarray(fig.subplots(nrows, ncols, squeeze=False)))
    return fig, axes


# -- statistics ----------------------------------------------------------------------
#: Broad search windows for the plotting ranges (the curves are monotone on each side).
_SEARCH = {
    "sin2_theta_w": (0.10, 0.40),
    "mu_nu_mu": (0.0, 100.0),
    "mu_nu_e": (0.0, 100.0),
    "r2_nu_mu": (-5.0, 5.0),
}


def _likelihood(
    study: Study, nuclei: str, channels: Sequence[str], free: Sequence[str]
) -> ProfileFitter:
    model = study.rate_model([nuclei], list(channels), binned=False)
    truth = study.true_parameters()
    return ProfileFitter(
        CountingModel(model, model.counts(truth), fixed=truth), list(free), cost="chi2"
    )


def _dchi2(like: ProfileFitter, values: dict[str, np.ndarray]) -> np.ndarray:
    """Delta chi^2 at ``values`` (vectorised; no parameter is profiled).

    The data are the Asimov counts at the study's true parameters, where chi^2 = 0 is
    the global minimum, so Delta chi^2 = chi^2 - chi^2(truth) without a fit.
    """
    return like.neg2ll_grid(values) - like.neg2ll_grid({})


def _curve(
    study: Study, nuclei: str, channels: Sequence[str], parameter: str, grid: np.ndarray
) -> np.ndarray:
    """Delta chi^2 along ``parameter`` on ``grid``, the other parameters at their true values."""
    return _dchi2(_likelihood(study, nuclei, channels, [parameter]), {parameter: grid})


def _range(
    studies: Sequence[Study], channels: Sequence[str], parameter: str, top: float
) -> tuple[float, float]:
    """x-range over which the weakest curve of a panel rises to Delta chi^2 = ``top``."""
    grid = np.linspace(*_SEARCH[parameter], 40001)
    lo, hi = np.inf, -np.inf
    for study in studies:
        for nuc in NUCLEI_ORDER:
            inside = np.flatnonzero(_curve(study, nuc, channels, parameter, grid) <= top)
            lo, hi = min(lo, grid[inside[0]]), max(hi, grid[inside[-1]])
    if parameter.startswith("mu_nu"):
        lo = 0.0
    return float(lo), float(hi)


def _scan_2d(like: ProfileFitter, px: str, x: np.ndarray, py: str, y: np.ndarray) -> np.ndarray:
    """Delta chi^2 on the grid (len(y), len(x)); no other parameter is free."""
    xx, yy = np.meshgrid(x, y)
    return _dchi2(like, {px: xx, py: yy})


def _paper_marks(table: str, quantity: str, setup: str, channel: str) -> dict[str, list[float]]:
    """The paper's printed crossing points per nucleus for one panel."""
    out: dict[str, list[float]] = {}
    for row in paper_entries():
        key = (row["table"], row["quantity"], row["setup"], row["channel"])
        if key != (table, quantity, setup, channel):
            continue
        value = float(row["paper"])
        if row["bound"] == "half-width":
            marks = [SIN2_THETA_W_PAPER - value, SIN2_THETA_W_PAPER + value]
        else:
            marks = [value]
        out.setdefault(row["nuclei"], []).extend(marks)
    return out


# -- drawing -------------------------------------------------------------------------
def _style_legend(fig: Figure, form_factor: str, threshold_text: str, marks: bool) -> None:
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=_COLOUR[n], lw=2, label=_LABEL[n]) for n in NUCLEI_ORDER]
    handles += [
        Line2D(
            [],
            [],
            color="k",
            lw=1.6,
            label=f"solid: {_FF_NAME.get(form_factor, form_factor)} form factor",
        ),
        Line2D([], [], color="k", lw=1.6, ls="--", label="dashed: F = 1 (zero momentum transfer)"),
        Line2D([], [], color="0.4", lw=1, ls=":", label=threshold_text),
    ]
    if marks:
        handles.append(
            Line2D(
                [], [], color="k", marker="x", ls="none", ms=7, mew=2, label="paper's printed value"
            )
        )
    fig.legend(handles=handles, loc="outside lower center", ncol=4, fontsize=9, frameon=False)


def _profile_panel(
    ax: Axes,
    pair: dict[str, Study],
    channels: Sequence[str],
    parameter: str,
    threshold: float,
    top: float,
    marks: dict[str, list[float]],
) -> None:
    lo, hi = _range([pair["chosen"], pair["unity"]], channels, parameter, top)
    pad = 0.04 * (hi - lo)
    grid = np.linspace(
        max(lo - pad, 0.0) if parameter.startswith("mu_nu") else lo - pad, hi + pad, 600
    )
    for nuc in NUCLEI_ORDER:
        ax.plot(
            grid, _curve(pair["chosen"], nuc, channels, parameter, grid), color=_COLOUR[nuc], lw=1.8
        )
        ax.plot(
            grid,
            _curve(pair["unity"], nuc, channels, parameter, grid),
            color=_COLOUR[nuc],
            lw=1.3,
            ls="--",
        )
        for x in marks.get(nuc, []):
            ax.plot(
                [x], [threshold], marker="x", ms=7, mew=2, color=_COLOUR[nuc], ls="none", zorder=5
            )
    ax.axhline(threshold, color="0.4", lw=1, ls=":")
    ax.set_xlim(grid[0], grid[-1])
    ax.set_ylim(0.0, top)
    ax.set_xlabel(_AXIS[parameter])
    ax.set_ylabel(_DCHI2_AXIS)
    ax.grid(alpha=0.25)
    if parameter == "sin2_theta_w":
        ax.ticklabel_format(axis="x", useOffset=False)


def _profile_figure(
    studies: dict[str, dict[str, Study]],
    form_factor: str,
    *,
    parameter: str,
    panels: Sequence[Sequence[str]],
    threshold: float,
    top: float,
    table: str,
    quantity: str,
    threshold_text: str,
    suptitle: str,
) -> Figure:
    """Rows realistic / optimistic, one column per channel set in ``panels``.

    A single channel set (the combined figures) is drawn as one row, realistic left.
    """
    if len(panels) == 1:
        fig, axes = _new_figure(1, 2, 10.8, 5.2)
        where = {(i, 0): (0, i) for i in range(2)}
    else:
        fig, axes = _new_figure(2, len(panels), 5.4 * len(panels), 9.0)
        where = {(i, j): (i, j) for i in range(2) for j in range(len(panels))}
    for i, setup in enumerate(SETUPS):
        pair = {"chosen": studies["chosen"][setup], "unity": studies["unity"][setup]}
        for j, channels in enumerate(panels):
            ax = axes[where[i, j]]
            channel = channels[0] if len(channels) == 1 else "comb"
            marks = _paper_marks(table, quantity, setup, channel)
            _profile_panel(ax, pair, channels, parameter, threshold, top, marks)
            ax.set_title(f"{setup}: {_CHANNEL_TEXT[tuple(channels)]}", fontsize=11)
            if parameter == "mu_nu_mu" and tuple(channels) == _DELAYED:
                ax.set_xlabel(_MU_NUMUBAR_AXIS)
    fig.suptitle(suptitle, fontsize=12)
    _style_legend(fig, form_factor, threshold_text, marks=True)
    return fig


def _contour_panel(
    ax: Axes,
    pair: dict[str, Study],
    channels: Sequence[str],
    px: str,
    x_range: tuple[float, float],
    py: str,
    y_range: tuple[float, float],
    level: float,
    n: int = 320,
) -> None:
    """Delta chi^2 = ``level`` contours of every nucleus; solid-curve regions lightly shaded."""
    x = np.linspace(*x_range, n)
    y = np.linspace(*y_range, n)
    for nuc in NUCLEI_ORDER:
        for key, ls, lw in (("chosen", "solid", 1.8), ("unity", "dashed", 1.3)):
            like = _likelihood(pair[key], nuc, channels, [px, py])
            dchi2 = _scan_2d(like, px, x, py, y)
            if key == "chosen":  # shade the allowed region of the solid curve lightly
                ax.contourf(x, y, dchi2, levels=[-1.0, level], colors=[_COLOUR[nuc]], alpha=0.08)
            ax.contour(
                x, y, dchi2, levels=[level], colors=[_COLOUR[nuc]], linestyles=ls, linewidths=lw
            )
    ax.set_xlim(*x_range)
    ax.set_ylim(*y_range)
    ax.set_xlabel(_AXIS[px])
    ax.set_ylabel(_AXIS[py])
    ax.grid(alpha=0.25)
    if px == "sin2_theta_w":
        ax.ticklabel_format(axis="x", useOffset=False)
        ax.axvline(SIN2_THETA_W_PAPER, color="0.5", lw=0.8, ls=":")


def _band_extent(
    pair: dict[str, Study], channels: Sequence[str], mu_max: float, level: float
) -> tuple[float, float]:
    """sin^2 range of the allowed (sin^2, mu_nu_mu) region for mu in [0, mu_max], all nuclei."""
    s = np.linspace(0.05, 0.45, 4001)  # 1e-4 steps: finer than the optimistic bands (~1e-3)
    mu = np.linspace(0.0, mu_max, 81)
    lo, hi = np.inf, -np.inf
    for study in pair.values():
        for nuc in NUCLEI_ORDER:
            like = _likelihood(study, nuc, channels, ["sin2_theta_w", "mu_nu_mu"])
            inside = _scan_2d(like, "sin2_theta_w", s, "mu_nu_mu", mu) <= level
            cols = np.flatnonzero(inside.any(axis=0))
            if cols.size:
                lo, hi = min(lo, s[cols[0]]), max(hi, s[cols[-1]])
    return lo, hi


def _fig5(studies: dict[str, dict[str, Study]], form_factor: str) -> Figure:
    level = DELTA_CHI2["90cl_2dof"]
    fig, axes = _new_figure(2, 2, 10.8, 8.8)
    for j, setup in enumerate(SETUPS):  # columns: realistic, optimistic (as in the paper)
        pair = {"chosen": studies["chosen"][setup], "unity": studies["unity"][setup]}
        for i, channels in enumerate((_PROMPT, _DELAYED)):
            mu_1d = _range([pair["chosen"]], channels, "mu_nu_mu", level)[1]
            mu_max = 1.6 * mu_1d
            s_lo, s_hi = _band_extent(pair, channels, mu_max, level)
            pad = 0.05 * (s_hi - s_lo)
            _contour_panel(
                axes[i, j],
                pair,
                channels,
                "sin2_theta_w",
                (s_lo - pad, s_hi + pad),
                "mu_nu_mu",
                (0.0, mu_max),
                level,
            )
            if channels == _DELAYED:
                axes[i, j].set_ylabel(_MU_NUMUBAR_AXIS)
            axes[i, j].set_title(f"{setup}: {_CHANNEL_TEXT[channels]}", fontsize=11)
    fig.suptitle(
        r"Fig. 5: 90 % C.L. regions ($\Delta\chi^2 = 4.61$, two parameters) in "
        r"($\sin^2\theta_W$, $\mu_\nu$)",
        fontsize=12,
    )
    _style_legend(fig, form_factor, r"dotted vertical: $\sin^2\theta_W = 0.23120$", marks=False)
    return fig


def _fig6(studies: dict[str, dict[str, Study]], form_factor: str) -> Figure:
    level = DELTA_CHI2["90cl_2dof"]
    channels = ("numubar", "nue")
    fig, axes = _new_figure(1, 2, 10.8, 5.4)
    for j, setup in enumerate(SETUPS):
        pair = {"chosen": studies["chosen"][setup], "unity": studies["unity"][setup]}
        x_max = 1.12 * _range(list(pair.values()), ("numubar",), "mu_nu_mu", level)[1]
        y_max = 1.12 * _range(list(pair.values()), ("nue",), "mu_nu_e", level)[1]
        ax = axes[0, j]
        _contour_panel(ax, pair, channels, "mu_nu_mu", (0.0, x_max), "mu_nu_e", (0.0, y_max), level)
        ax.set_xlabel(_MU_NUMUBAR_AXIS)
        ax.set_title(rf"{setup}: delayed $\bar\nu_\mu$ and $\nu_e$", fontsize=11)
    fig.suptitle(
        r"Fig. 6: 90 % C.L. regions ($\Delta\chi^2 = 4.61$, two parameters) in "
        r"($\mu_{\bar\nu_\mu}$, $\mu_{\nu_e}$), $\sin^2\theta_W$ fixed",
        fontsize=12,
    )
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=_COLOUR[n], lw=2, label=_LABEL[n]) for n in NUCLEI_ORDER]
    handles += [
        Line2D([], [], color="k", lw=1.6, label=f"solid: {_FF_NAME.get(form_factor, form_factor)}"),
        Line2D([], [], color="k", lw=1.6, ls="--", label="dashed: F = 1"),
    ]
    fig.legend(handles=handles, loc="outside lower center", ncol=6, fontsize=9, frameon=False)
    return fig


# -- public --------------------------------------------------------------------------
def write_paper_figures(outdir: str | os.PathLike, form_factor: str | None = None) -> list[Path]:
    """Write PNG versions of Figs. 1-8 of the seed paper into ``outdir``.

    Parameters
    ----------
    outdir : path
        Directory to write into (created if missing). File names are
        :data:`FIGURE_NAMES`.
    form_factor : str, optional
        Form factor of the solid curves for every detector (a name registered in
        :data:`cenns_bayes.physics.form_factors.FORM_FACTOR_MODELS`); default the
        presets' Helm. Dashed curves always use F = 1.

    Returns
    -------
    list of Path
        The eight files written, in figure order. Each is written atomically.
    """
    form_factor = form_factor or "helm"
    studies = {"chosen": load_presets(form_factor), "unity": load_presets("unity")}
    outdir = Path(outdir)
    one, two = DELTA_CHI2["1sigma"], DELTA_CHI2["90cl_1dof"]
    t1 = r"$\Delta\chi^2 = 1$ (1$\sigma$, Tables III, IV)"
    t90 = r"$\Delta\chi^2 = 2.71$ (90 % C.L., Tables V, VI)"
    single = (_PROMPT, _DELAYED)
    both, moment_pair = (("numu", "numubar", "nue"),), (("numu", "numubar"),)
    mu_title = r"Fig. 3: $\Delta\chi^2$ profile in the magnetic moment $\mu_{\nu_\mu}$ "
    # parameter, panels, threshold, top, table, quantity, threshold text, title
    rows: list[tuple[str, Sequence[Sequence[str]], float, float, str, str, str, str]] = [
        ("sin2_theta_w", single, one, 4.0, "III", "sin2_theta_w", t1,
         r"Fig. 1: $\Delta\chi^2$ profile in $\sin^2\theta_W$"),
        ("sin2_theta_w", both, one, 4.0, "IV", "sin2_theta_w", t1,
         r"Fig. 2: $\sin^2\theta_W$, prompt and delayed combined"),
        ("mu_nu_mu", single, two, 6.0, "V", "mu_nu", t90,
         mu_title + r"($\mu_{\bar\nu_\mu}$ for delayed)"),
        ("mu_nu_mu", moment_pair, two, 6.0, "V", "mu_nu", t90,
         r"Fig. 4: $\mu_{\nu_\mu}$, prompt and delayed combined"),
        ("r2_nu_mu", single, two, 6.0, "VI", "r2_nu", t90,
         r"Fig. 7: $\Delta\chi^2$ profile in the charge radius $\langle r^2_{\nu_\mu}\rangle$"),
        ("r2_nu_mu", moment_pair, two, 6.0, "VI", "r2_nu", t90,
         r"Fig. 8: $\langle r^2_{\nu_\mu}\rangle$, prompt and delayed combined"),
    ]  # fmt: skip
    profiles = [
        _profile_figure(studies, form_factor, parameter=p, panels=pn, threshold=th, top=top,
                        table=tb, quantity=q, threshold_text=tt, suptitle=title)
        for p, pn, th, top, tb, q, tt, title in rows
    ]  # fmt: skip
    figures = [
        *profiles[:4],
        _fig5(studies, form_factor),
        _fig6(studies, form_factor),
        *profiles[4:],
    ]
    return [
        save_png_atomic(fig, outdir / name) for fig, name in zip(figures, FIGURE_NAMES, strict=True)
    ]
