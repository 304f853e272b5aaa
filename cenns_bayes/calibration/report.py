"""Reports of the calibration checks: Markdown with PNG figures, written atomically."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..io import write_text_atomic
from ..plotting.backend import pyplot as _pyplot
from ..plotting.backend import save_and_close

__all__ = ["write_asimov_report", "write_coverage_report", "write_sbc_report"]


def _label(p: str) -> str:
    from ..plotting.bayes_plots import LABELS

    return LABELS.get(p, p)


# -- coverage ---------------------------------------------------------------------------
def plot_coverage(result, path: str | os.PathLike) -> Path:
    """Coverage per method with binomial error bars against the nominal levels."""
    plt = _pyplot()
    params = list(dict.fromkeys(r["parameter"] for r in result.summary))
    fig, axes = plt.subplots(len(params), 1, figsize=(7.0, 2.6 + 0.35 * 8), squeeze=False)
    for ax, p in zip(axes[:, 0], params, strict=True):
        rows = [r for r in result.summary if r["parameter"] == p]
        methods = list(dict.fromkeys(r["method"] for r in rows))
        for j, lv in enumerate(sorted({r["level"] for r in rows})):
            sel = {r["method"]: r for r in rows if r["level"] == lv}
            y = [methods.index(m) + (j - 0.5) * 0.25 for m in sel]
            ax.errorbar(
                [sel[m]["coverage"] for m in sel],
                y,
                xerr=[sel[m]["stderr"] for m in sel],
                fmt="o",
                color=f"C{j}",
                label=f"{lv:g} nominal",
                capsize=3,
            )
            ax.axvline(lv, color=f"C{j}", ls="--", lw=1)
        ax.set_yticks(range(len(methods)), methods)
        ax.set_xlim(-0.02, 1.02)
        ax.set_xlabel("coverage (fraction of toys whose interval holds the truth)")
        ax.set_title(f"{_label(p)} = {result.truth[p]:g}, {len(result.rows)} toys")
        ax.legend(loc="lower left", fontsize=8)
    return save_and_close(fig, path)


def write_coverage_report(result, out_dir: str | os.PathLike) -> Path:
    """``coverage.md`` and ``coverage.png`` (the raw table is ``coverage_toys.jsonl``)."""
    out = Path(out_dir)
    plot_coverage(result, out / "coverage.png")
    s = result.settings
    divs = [r.get("divergences", 0) for r in result.rows]
    lines = [
        f"# Coverage: {result.study}",
        "",
        f"{len(result.rows)} Poisson pseudo-experiments at {result.truth_label()}.",
        "Posterior refits: "
        + (
            "none (frequentist only)."
            if s.sampler is None
            else f"{s.sampler.chains} chains x {s.sampler.draws} draws "
            f"(+{s.sampler.tune} warm-up), target_accept {s.sampler.target_accept}; "
            f"divergences in {sum(d > 0 for d in divs)} toys, {sum(divs)} in all."
        ),
        "",
        "| parameter | method | level | coverage | stderr | 95 % CI (Clopper-Pearson) | toys "
        "| median interval |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in result.summary:
        lines.append(
            f"| {r['parameter']} | {r['method']} | {r['level']:g} | {r['coverage']:.3f} | "
            f"{format_stderr(r)} | {format_ci95(r)} | {r['n']} | "
            f"[{r['median_lower']:.4g}, {r['median_upper']:.4g}] |"
        )
    for p, belt in result.belts.items():
        crit = ", ".join(f"{k}: {v[0]:.3g}" for k, v in belt.critical.items())
        mc = ", ".join(f"{k}: {v:.4f}" for k, v in belt.acceptance_stderr().items())
        lines += [
            "",
            f"Feldman-Cousins belt of {p}: {belt.grid.size} grid points from 0 to "
            f"{belt.grid[-1]:.4g}, {belt.toys_per_point} toys per point; critical values of "
            f"t at {p} = 0: {crit} (asymptotic one-sided values 0.22 and 1.64). "
            f"Interval ends solve t_data = c (c interpolated between grid points). "
            f"Monte Carlo error of the belt's acceptance (add in quadrature to the "
            f"coverage's stderr): {mc}.",
        ]
    lines += [
        "",
        "![coverage](coverage.png)",
        "",
        "Raw per-toy intervals and diagnostics: `coverage_toys.jsonl` "
        "(reload with `cenns_bayes.calibration.coverage.load_coverage_table`).",
        "",
    ]
    return write_text_atomic(out / "coverage.md", "\n".join(lines))


def format_stderr(row: dict) -> str:
    """The binomial stderr, or "n/a" for a coverage of exactly 0 or 1 (see the CI)."""
    return "n/a" if row["coverage"] in (0.0, 1.0) else f"{row['stderr']:.3f}"


def format_ci95(row: dict) -> str:
    """The Clopper-Pearson 95 % interval as ``[lo, hi]``."""
    lo, hi = row["ci95"]
    return f"[{lo:.3f}, {hi:.3f}]"


# -- SBC --------------------------------------------------------------------------------
def plot_rank_histograms(result, path: str | os.PathLike) -> Path:
    """Rank histograms with the 99 % band of a uniform histogram's bin counts."""
    from scipy import stats

    plt = _pyplot()
    params = list(result.pvalues)
    fig, axes = plt.subplots(1, len(params), figsize=(4.2 * len(params), 3.2), squeeze=False)
    n = len(result.rows)
    for ax, p in zip(axes[0], params, strict=True):
        hist = np.asarray(result.histograms[p])
        bins = hist.size
        width = result.n_ranks / bins
        lo, hi = stats.binom.ppf([0.005, 0.995], n, 1.0 / bins)
        ax.axhspan(lo, hi, color="0.85", label="99 % band (uniform)")
        ax.bar(np.arange(bins) * width, hist, width=width, align="edge", edgecolor="k", color="C0")
        ax.axhline(n / bins, color="k", lw=1)
        ax.set_xlabel(f"rank of {_label(p)} (0-{result.n_ranks - 1})")
        ax.set_title(f"p = {result.pvalues[p]:.3g}")
    axes[0, 0].set_ylabel("replications")
    axes[0, 0].legend(fontsize=8)
    return save_and_close(fig, path)


def plot_ecdf_difference(result, path: str | os.PathLike) -> Path:
    """ECDF difference of the normalised ranks (ArviZ ``plot_ecdf_pit``, simultaneous envelope)."""
    import warnings

    import xarray as xr
    from arviz_plots import plot_ecdf_pit

    plt = _pyplot()
    u = {p: (result.ranks(p) + 0.5) / result.n_ranks for p in result.pvalues}
    ds = xr.Dataset({p: (("chain", "draw"), v[None, :]) for p, v in u.items()})
    tree = xr.DataTree.from_dict({"prior_sbc": ds})
    from ..io import atomic_path

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pc = plot_ecdf_pit(tree, backend="matplotlib")
        with atomic_path(path) as tmp:
            pc.savefig(str(tmp.with_suffix(".png")))
            tmp.with_suffix(".png").replace(tmp)
    plt.close("all")
    return Path(path)


def write_sbc_report(result, out_dir: str | os.PathLike) -> Path:
    """``sbc.md`` with the rank histograms and ECDF-difference plots."""
    out = Path(out_dir)
    plot_rank_histograms(result, out / "sbc_ranks.png")
    try:
        plot_ecdf_difference(result, out / "sbc_ecdf.png")
        ecdf = "![ECDF difference](sbc_ecdf.png)"
    except Exception as err:  # noqa: BLE001 - the histogram and the test still stand
        ecdf = f"(ECDF-difference plot unavailable: {type(err).__name__}: {err})"
    divs = [r.get("divergences", 0) for r in result.rows]
    rhat = [r["max_r_hat"] for r in result.rows if r.get("max_r_hat") is not None]
    lines = [
        f"# Simulation-based calibration: {result.study}",
        "",
        f"{len(result.rows)} replications; ranks of the prior draw among {result.n_ranks - 1} "
        "thinned posterior draws; Pearson chi-square test of a uniform rank histogram.",
        f"Divergences in {sum(d > 0 for d in divs)} replications ({sum(divs)} in all); "
        f"largest R-hat {max(rhat):.3f}."
        if rhat
        else "",
        "",
        "| parameter | uniformity p-value (chi-square) "
        "| ECDF inside ArviZ's 99 % simultaneous band | rank histogram |",
        "| --- | --- | --- | --- |",
    ]
    for p, pv in result.pvalues.items():
        band = result.ecdf.get(p)
        inside = (
            "n/a"
            if band is None
            else ("yes" if band["passes"] else f"no (outside by {band['max_outside']:.3f})")
        )
        lines.append(
            f"| {p} | {pv:.3g} | {inside} | {' '.join(str(h) for h in result.histograms[p])} |"
        )
    lines += [
        "",
        "![rank histograms](sbc_ranks.png)",
        "",
        ecdf,
        "",
        "Raw replications: `sbc_replications.jsonl` (`cenns_bayes.parallel.read_table`).",
        "",
    ]
    return write_text_atomic(out / "sbc.md", "\n".join(lines))


# -- Asimov -----------------------------------------------------------------------------
def plot_asimov(result, path: str | os.PathLike) -> Path:
    """Marginal posteriors under each prior, with the frequentist 90 % intervals."""
    plt = _pyplot()
    params = list(result.parameters)
    fig, axes = plt.subplots(1, len(params), figsize=(4.8 * len(params), 3.4), squeeze=False)
    for ax, p in zip(axes[0], params, strict=True):
        for j, (variant, draws) in enumerate(result.draws.items()):
            x = np.asarray(draws[p]).reshape(-1)
            ax.hist(x, bins=60, density=True, histtype="step", color=f"C{j}", label=variant)
        ymax = ax.get_ylim()[1]
        for k, (method, iv) in enumerate(result.frequentist[p].items()):
            lo, hi = iv["interval_90"]
            ax.hlines(
                ymax * (1.02 + 0.05 * k), lo, hi, color=f"C{5 + k}", lw=3, label=f"{method} 90 %"
            )
        ax.axvline(result.truth[p], color="k", ls=":", label="truth")
        ax.set_xlabel(_label(p))
        ax.legend(fontsize=7)
    return save_and_close(fig, path)


def write_asimov_report(result, out_dir: str | os.PathLike) -> Path:
    """``asimov.md`` and ``asimov.png``."""
    out = Path(out_dir)
    plot_asimov(result, out / "asimov.png")
    text = result.markdown() + "\n![posteriors](asimov.png)\n"
    return write_text_atomic(out / "asimov.md", text)
