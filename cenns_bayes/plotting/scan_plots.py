"""Figures of sensitivity scans (``cenns-bayes scan --out DIR``).

* 1-D scans: the limit against the scanned value, the Asimov chi^2 curve (black),
  the Brazil band of the toy limits (median dashed, +-1 sigma green, +-2 sigma yellow)
  and the posterior credible limit (blue), with logarithmic axes where the values span
  a factor of 20 or more;
* 2-D scans: a colour map of the limit with labelled contour lines of equal
  sensitivity, one panel per method.

matplotlib is imported inside the functions, through its object-oriented API with the
Agg canvas (no display, no global backend switch); files are written atomically.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pragma: no cover - typing only
    from matplotlib.figure import Figure

    from ..scans.run import ScanResult

__all__ = ["plot_scan_1d", "plot_scan_2d", "write_scan_plots"]

_GREEN, _YELLOW = "#00c000", "#ffdd00"


def _label(path: str) -> str:
    names = {
        "mass_kg": "mass (kg)",
        "distance_m": "distance (m)",
        "exposure_s": "exposure (s)",
        "flux_per_flavor": "flux per flavour (cm$^{-2}$ s$^{-1}$)",
        "efficiency": "efficiency",
        "recoil_window_kev.0": "threshold (keV)",
        "recoil_window_kev.1": "upper recoil edge (keV)",
    }
    for key, text in names.items():
        if path.endswith(key):
            owner = path[: -len(key)].rstrip(".")
            return f"{owner}: {text}" if owner and owner not in ("study", "source") else text
    return path


def _ylabel(result: ScanResult) -> str:
    t = result.target
    units = {"1e-10 mu_B": r" ($10^{-10}\,\mu_B$)", "1e-32 cm^2": r" ($10^{-32}$ cm$^2$)"}
    unit = units.get(t.unit, "")
    sym = {
        "mu_nu_mu": r"$\mu_{\nu_\mu}$",
        "mu_nu_e": r"$\mu_{\nu_e}$",
        "sin2_theta_w": r"$\sin^2\theta_W$",
        "r2_nu_mu": r"$\langle r^2_{\nu_\mu}\rangle$",
        "r2_nu_e": r"$\langle r^2_{\nu_e}\rangle$",
    }[t.parameter]
    what = f"{sym} upper limit" if t.kind == "upper" else f"{sym} half-width"
    return f"{what}, {100 * t.level:.3g} % CL{unit}"


def _new_figure(width: float = 6.4, height: float = 4.6) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _plain_log_ticks(axis) -> None:
    """Label a log axis spanning less than a few decades with plain numbers (2, 3, 5 ...)."""
    from matplotlib.ticker import FormatStrFormatter, LogLocator

    axis.set_major_locator(LogLocator(subs=(1.0, 2.0, 3.0, 5.0)))
    axis.set_minor_locator(LogLocator(subs=tuple(float(k) for k in range(1, 10))))
    axis.set_major_formatter(FormatStrFormatter("%g"))
    axis.set_minor_formatter(FormatStrFormatter(""))


def _nice_levels(lo: float, hi: float, log: bool, target: int = 8) -> list[float]:
    """About ``target`` round contour levels strictly inside (lo, hi)."""
    if log:
        mantissas = (1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0)
        decades = range(int(np.floor(np.log10(lo))), int(np.ceil(np.log10(hi))) + 1)
        cand = sorted(m * 10.0**d for d in decades for m in mantissas)
    else:
        from matplotlib.ticker import MaxNLocator

        cand = list(MaxNLocator(target).tick_values(lo, hi))
    inside = [float(f"{v:.6g}") for v in cand if lo < v < hi]
    if len(inside) > target:
        step = int(np.ceil(len(inside) / target))
        inside = inside[::step]
    return inside


def plot_scan_1d(result: ScanResult, goal: float | None = None) -> Figure:
    """Limit against the scanned value, with the Brazil band and the posterior curve.

    Parameters
    ----------
    result : ScanResult
        A one-axis scan.
    goal : float, optional
        A target sensitivity drawn as a horizontal line.
    """
    axis = result.axes[0]
    fig = _new_figure()
    ax = fig.add_subplot()
    if axis.numeric:
        x = np.array(axis.values, dtype=float)
    else:
        x = np.arange(len(axis.values), dtype=float)
        ax.set_xticks(x, [str(v) for v in axis.values])
    band = {k: result.grid(f"band.{k}") for k in ("minus2", "minus1", "median", "plus1", "plus2")}
    if np.isfinite(band["median"]).any():
        ax.fill_between(
            x, band["minus2"], band["plus2"], color=_YELLOW, lw=0, label=r"toys $\pm 2\sigma$"
        )
        ax.fill_between(
            x, band["minus1"], band["plus1"], color=_GREEN, lw=0, label=r"toys $\pm 1\sigma$"
        )
        ax.plot(x, band["median"], color="k", ls="--", lw=1.2, label="toys: median")
    chi2 = result.grid("chi2_limit")
    if np.isfinite(chi2).any():
        ax.plot(
            x,
            chi2,
            color="k",
            lw=1.8,
            marker="o" if x.size <= 12 else None,
            ms=4,
            label=rf"Asimov $\chi^2$ ({result.settings.statistic})",
        )
    post = result.grid("posterior_limit")
    if np.isfinite(post).any():
        ax.plot(x, post, color="tab:blue", lw=1.8, marker="s", ms=4, label="posterior (Asimov)")
    if goal is not None:
        ax.axhline(goal, color="tab:red", lw=1, ls=":", label=f"goal {goal:g}")
    if axis.log and axis.numeric:
        ax.set_xscale("log")
    curves = (chi2, post, band["minus2"], band["plus2"])
    finite = np.concatenate([v[np.isfinite(v)] for v in curves])
    if finite.size and finite.min() > 0 and finite.max() / finite.min() >= 5:
        ax.set_yscale("log")
        _plain_log_ticks(ax.yaxis)
    ax.set_xlabel(_label(axis.path))
    ax.set_ylabel(_ylabel(result))
    ax.set_title(f"{result.study}: expected sensitivity", fontsize=11)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    return fig


def plot_scan_2d(
    result: ScanResult, quantity: str = "chi2_limit", levels: Sequence[float] | None = None
) -> Figure:
    """Colour map of a two-axis scan with labelled contour lines of equal sensitivity.

    Parameters
    ----------
    result : ScanResult
        A two-axis scan with numeric values.
    quantity : str
        ``chi2_limit``, ``posterior_limit`` or ``band.median``.
    levels : sequence of float, optional
        Contour levels (default: about eight "nice" levels in the range).
    """
    from matplotlib.colors import LogNorm

    ax0, ax1 = result.axes
    z = result.grid(quantity).T  # rows: second axis (y), columns: first axis (x)
    x = np.array(ax0.values, dtype=float)
    y = np.array(ax1.values, dtype=float)
    fig = _new_figure(6.4, 5.0)
    ax = fig.add_subplot()
    finite = z[np.isfinite(z)]
    use_log = finite.size > 0 and finite.min() > 0 and finite.max() / finite.min() >= 5
    norm = LogNorm(finite.min(), finite.max()) if use_log else None
    mesh = ax.pcolormesh(x, y, z, shading="nearest", cmap="viridis_r", norm=norm)
    bar = fig.colorbar(mesh, ax=ax, label=_ylabel(result))
    if use_log:
        _plain_log_ticks(bar.ax.yaxis)
    if levels is None:
        levels = _nice_levels(finite.min(), finite.max(), use_log)
    if len(levels) and x.size > 1 and y.size > 1:
        cs = ax.contour(x, y, z, levels=sorted(levels), colors="white", linewidths=1.0)
        ax.clabel(cs, fmt="%g", fontsize=8)
    if ax0.log:
        ax.set_xscale("log")
    if ax1.log:
        ax.set_yscale("log")
    ax.set_xlabel(_label(ax0.path))
    ax.set_ylabel(_label(ax1.path))
    name = {
        "chi2_limit": r"Asimov $\chi^2$",
        "posterior_limit": "posterior",
        "band.median": "median of toys",
    }.get(quantity, quantity)
    ax.set_title(f"{result.study}: {name}", fontsize=11)
    return fig


def write_scan_plots(
    result: ScanResult, out_dir: str | Path, goal: float | None = None
) -> list[Path]:
    """Write the scan's figures as PNG into ``out_dir``; returns their paths.

    1-D: ``scan.png``. 2-D: ``scan_map_chi2.png`` and, when computed,
    ``scan_map_posterior.png`` and ``scan_map_toys_median.png``.
    """
    from .paper_figures import save_png_atomic

    out = Path(out_dir)
    figures: list[tuple[str, Figure]] = []
    if len(result.axes) == 1:
        figures.append(("scan.png", plot_scan_1d(result, goal)))
    elif all(a.numeric for a in result.axes):
        for quantity, name in (
            ("chi2_limit", "chi2"),
            ("posterior_limit", "posterior"),
            ("band.median", "toys_median"),
        ):
            if np.isfinite(result.grid(quantity)).any():
                figures.append((f"scan_map_{name}.png", plot_scan_2d(result, quantity)))
    paths = []
    out.mkdir(parents=True, exist_ok=True)
    for name, fig in figures:
        paths.append(save_png_atomic(fig, out / name, dpi=120))
    return paths
