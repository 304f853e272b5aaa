"""Figures of Bayesian results: Delta chi^2 profiles over marginal posteriors, pair plots."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .backend import pyplot as _pyplot
from .backend import save_and_close

LABELS = {
    "sin2_theta_w": r"$\sin^2\theta_W$",
    "mu_nu_mu": r"$\mu_{\nu_\mu}$ [$10^{-10}\,\mu_B$]",
    "mu_nu_e": r"$\mu_{\nu_e}$ [$10^{-10}\,\mu_B$]",
    "r2_nu_mu": r"$\langle r^2_{\nu_\mu}\rangle$ [$10^{-32}$ cm$^2$]",
    "r2_nu_e": r"$\langle r^2_{\nu_e}\rangle$ [$10^{-32}$ cm$^2$]",
    "signal_strength": "CEvNS signal strength (ratio to SM)",
}


def plot_profile_vs_posterior(
    parameter: str,
    samples: np.ndarray,
    profiles: dict[str, tuple],
    intervals: dict[str, tuple[float, float]],
    path: str | Path,
    title: str = "",
) -> Path:
    """Overlay Delta chi^2 profiles (left axis) and the marginal posterior (right axis).

    Parameters
    ----------
    profiles : dict
        ``{label: (x, delta)}`` curves.
    intervals : dict
        ``{label: (lo, hi)}`` 90 % intervals drawn as horizontal bars.
    """
    plt = _pyplot()

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for (label, (x, d)), ls in zip(profiles.items(), ("-", "--", ":"), strict=False):
        ax.plot(x, d, ls, color="k", label=label)
    x_left = min(float(np.min(x)) for x, _ in profiles.values())
    for lvl, txt in ((1.0, r"$\Delta\chi^2=1$"), (2.71, r"$\Delta\chi^2=2.71$")):
        ax.axhline(lvl, color="0.6", lw=0.8)
        ax.text(x_left, lvl + 0.05, txt, fontsize=8, color="0.4")
    ax.set_ylim(0, 6)
    ax.set_xlabel(LABELS.get(parameter, parameter))
    ax.set_ylabel(r"$\Delta\chi^2$ (profile)")
    ax2 = ax.twinx()
    ax2.hist(samples, bins=60, density=True, color="C0", alpha=0.35, label="posterior")
    ax2.set_ylabel("posterior density", color="C0")
    ax2.set_ylim(bottom=0)
    y0 = 0.2
    for i, (label, (lo, hi)) in enumerate(intervals.items()):
        ax.plot([lo, hi], [y0 + 0.25 * i] * 2, lw=3, color=f"C{i + 1}", label=label)
    ax.legend(loc="upper center", fontsize=8, frameon=False)
    ax.set_title(title, fontsize=10)
    return save_and_close(fig, path)


def plot_pair(
    samples: dict[str, np.ndarray], path: str | Path, title: str = "", density: bool = False
) -> Path:
    """Pairwise plot of posterior draws of the free parameters (the Fig. 5 ridge).

    Scatter plots below the diagonal, or with ``density`` 2-D histograms (a corner plot,
    for many draws of several parameters); 1-D histograms on the diagonal.
    """
    plt = _pyplot()

    names = list(samples)
    k = len(names)
    fig, axes = plt.subplots(k, k, figsize=(2.6 * k, 2.6 * k), squeeze=False)
    for i, yi in enumerate(names):
        for j, xj in enumerate(names):
            ax = axes[i, j]
            if j > i:
                ax.axis("off")
                continue
            if i == j and density:
                ax.hist(samples[xj], bins=40, color="0.35", histtype="stepfilled")
                ax.set_yticks([])
            elif i == j:
                ax.hist(samples[xj], bins=50, color="C0", alpha=0.6)
            elif density:
                ax.hist2d(samples[xj], samples[yi], bins=40, cmap="Greys")
            else:
                ax.plot(samples[xj], samples[yi], ".", ms=1.5, alpha=0.3, color="C0")
            if i == k - 1:
                ax.set_xlabel(LABELS.get(xj, xj), fontsize=8)
            if j == 0 and i > 0:
                ax.set_ylabel(LABELS.get(yi, yi), fontsize=8)
            ax.tick_params(labelsize=7)
    fig.suptitle(title, fontsize=10)
    return save_and_close(fig, path, dpi=100)
