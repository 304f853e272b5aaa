"""The joint COHERENT main job: ``cenns-bayes study models/coherent_joint.toml --out DIR``.

For every ``[[fits]]`` entry of the joint spec: profile-likelihood fits of each data set
alone and of all together (:func:`~cenns_bayes.stats.joint.fit_joint`), the joint posterior
(NUTS) with its diagnostics, side by side; a corner plot of each posterior with several
parameters; the published per-data-set numbers beside ours. Writes ``summary.json``,
``report.md``, ``posterior_<fit>.nc`` and ``figures/``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from .study import PUBLISHED_CSI_2017, PUBLISHED_CSI_2021, PUBLISHED_LAR_2020

__all__ = ["PUBLISHED", "run_joint_study", "sample_joint_fit"]

#: Published numbers of each member data set (see reports/study.py for their sources).
PUBLISHED = {
    "csi2017": {**PUBLISHED_CSI_2017, "citation": "Science 357 (2017) 1123"},
    "csi2021": PUBLISHED_CSI_2021,
    "lar2020": PUBLISHED_LAR_2020,
}


def sample_joint_fit(
    study,
    fit: str,
    *,
    draws: int | None = None,
    tune: int | None = None,
    chains: int | None = None,
    seed: int | None = None,
    backend: str | None = None,
) -> tuple[Any, str, float, float]:
    """NUTS posterior of the ``[[fits]]`` entry ``fit`` of a joint study.

    Options default to the spec's ``[sampling]``. Returns ``(idata, backend, compile
    seconds, sampling seconds)``; the idata carries the study, fit, spec and seed.
    """
    from ..bayes import build_model
    from ..bayes.sampling import sample_model
    from ..stats.joint import joint_model_for_study

    cfg = study.spec.sampling
    seed = cfg.seed if seed is None else seed
    sub = study.for_fit(fit)
    model, _ = build_model(sub, counting=joint_model_for_study(sub))
    idata, used, t_compile, t_sample = sample_model(
        model,
        draws=cfg.draws if draws is None else draws,
        tune=cfg.tune if tune is None else tune,
        chains=cfg.chains if chains is None else chains,
        seed=seed,
        target_accept=cfg.target_accept,
        backend=backend or cfg.backend,
        progressbar=False,
    )
    idata.attrs.update(
        {
            "study": study.name,
            "fit": fit,
            "spec_path": study.path,
            "spec_sha256": study.sha256,
            "sampler": used,
            "seed": seed,
            "units": "mu_nu in 1e-10 mu_B; r2_nu in 1e-32 cm^2; neutron radii in fm",
        }
    )
    return idata, used, t_compile, t_sample


def run_joint_study(
    study,
    outdir: str | Path,
    *,
    draws: int | None = None,
    tune: int | None = None,
    chains: int | None = None,
    seed: int | None = None,
    progress=None,
    fits: list[str] | None = None,
) -> dict[str, Any]:
    """Run the joint main job into ``outdir`` (all ``[[fits]]`` or those named in ``fits``)."""
    from ..bayes import diagnostics, summarise_posterior
    from ..bayes.sampling import write_netcdf
    from ..plotting.bayes_plots import plot_pair
    from ..stats.joint import fit_joint

    say = progress or (lambda msg: None)
    outdir = Path(outdir)
    (outdir / "figures").mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()
    cfg = study.spec.sampling
    draws = cfg.draws if draws is None else draws
    tune = cfg.tune if tune is None else tune
    chains = cfg.chains if chains is None else chains
    seed = cfg.seed if seed is None else seed

    say("profile-likelihood fits, joint and per data set")
    t0 = time.perf_counter()
    names = fits or [f.name for f in study.spec.fits]
    freq = fit_joint(study, fits=names, progress=say)
    profile_seconds = time.perf_counter() - t0

    posterior: dict[str, Any] = {}
    figures: list[Path] = []
    for fit in study.spec.fits:
        if not fit.sample or fit.name not in names:
            continue
        sub = study.for_fit(fit.name)
        say(f"{fit.name}: sampling the joint posterior (NUTS)")
        idata, backend, t_compile, t_sample = sample_joint_fit(
            study, fit.name, draws=draws, tune=tune, chains=chains, seed=seed
        )
        write_netcdf(idata, outdir / f"posterior_{fit.name}.nc")
        params = sub.free_parameters
        posterior[fit.name] = {
            "parameters": summarise_posterior(idata, params),
            "diagnostics": diagnostics(idata, params),
            "sampler": backend,
            "compile_seconds": t_compile,
            "sample_seconds": t_sample,
        }
        if len(params) > 1:
            draws_of = {p: np.asarray(idata["posterior"][p]).reshape(-1) for p in params}
            figures.append(
                plot_pair(
                    draws_of,
                    outdir / "figures" / f"corner_{fit.name}.png",
                    f"{study.name}: {fit.name} (joint posterior)",
                    density=True,
                )
            )
    diag_all = [p["diagnostics"] for p in posterior.values()]
    summary = {
        "study": study.name,
        "frequentist": freq,
        "posterior": posterior,
        "published": PUBLISHED,
        "diagnostics": {
            "divergences": sum(d["divergences"] for d in diag_all),
            "max_r_hat": max((d["max_r_hat"] for d in diag_all), default=float("nan")),
            "min_ess_bulk": min((d["min_ess_bulk"] for d in diag_all), default=float("nan")),
        },
        "sampling": {"draws": draws, "tune": tune, "chains": chains, "seed": seed},
        "feldman_cousins": "not part of this job (hundreds of toy fits per grid point); run "
        "`python -m cenns_bayes.calibration.joint_fc SPEC --fit magnetic_moments --parameter "
        "mu_nu_mu` (docs/coherent_joint.md). The boundary limits here are the profile's "
        "Delta = 2.706 and the posterior's 90 % quantile",
        "profile_seconds": profile_seconds,
        "wall_seconds": time.perf_counter() - t_start,
    }
    (outdir / "summary.json").write_text(json.dumps(summary, indent=2, allow_nan=True))
    (outdir / "report.md").write_text(_markdown(study, summary, figures, outdir))
    return summary


def _fmt(x: float) -> str:
    return f"{x:.4g}" if np.isfinite(x) else str(x)


def _pair(pair) -> str:
    return f"[{_fmt(pair[0])}, {_fmt(pair[1])}]"


def _markdown(study, s: dict, figures: list[Path], outdir: Path) -> str:
    lines = [
        f"# {study.name}: joint COHERENT analysis",
        "",
        "Members: "
        + ", ".join(f"{k} ({v})" for k, v in s["frequentist"]["details"]["members"].items())
        + ".",
        f"Flux: one log-normal scale, {s['frequentist']['details']['flux']['sigma']:.0%}, "
        f"pooling {s['frequentist']['details']['flux']['pooling']}.",
        "",
        "Profile intervals: Delta(-2 ln L) = 1 (68 %) and 2.706 (90 %); for the magnetic "
        "moments the 90 % upper end is the limit. Posterior: HDIs (boundary-aware) and the "
        "one-sided 90 % quantile.",
        "",
    ]
    for fit_name, entry in s["frequentist"]["fits"].items():
        post = s["posterior"].get(fit_name)
        lines += [
            f"## {fit_name}",
            "",
            "| parameter | data | profile best | profile 68 % | profile 90 % "
            "| posterior median | HDI 68 % | HDI 90 % | 90 % quantile |",
            "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        rows = [("joint", entry["joint"])] + list(entry.get("members", {}).items())
        for p in entry["free"]:
            for label, fit in rows:
                if p not in fit["parameters"]:
                    continue
                r = fit["parameters"][p]
                b = post["parameters"][p] if (post and label == "joint") else None
                bayes = (
                    f"{_fmt(b['median'])} | {_pair(b['hdi_68'])} | {_pair(b['hdi_90'])} | "
                    f"{_fmt(b['upper_90'])}"
                    if b
                    else "| | |"
                )
                lines.append(
                    f"| {p} | {label} | {_fmt(r['best'])} | {_pair(r['interval_68'])} | "
                    f"{_pair(r['interval_90'])} | {bayes} |"
                )
        if post:
            d = post["diagnostics"]
            lines += [
                "",
                f"Posterior ({post['sampler']}, {d['chains']} chains x {d['draws']} draws): "
                f"{d['divergences']} divergences, max R-hat {d['max_r_hat']:.3f}, min bulk ESS "
                f"{d['min_ess_bulk']:.0f}; compile {post['compile_seconds']:.0f} s, sampling "
                f"{post['sample_seconds']:.0f} s.",
            ]
        if "significance_sigma" in entry["joint"]:
            lines += [
                "",
                "| data | CEvNS events at the best fit | no-CEvNS rejected | published events "
                "| published significance |",
                "| --- | ---: | ---: | ---: | ---: |",
            ]
            for label, fit in rows:
                events = sum(fit["cevns_events_at_best"].values())
                pub = s["published"].get(label, {})
                pe = pub.get("cevns_events")
                lines.append(
                    f"| {label} | {events:.1f} | {fit.get('significance_sigma', float('nan')):.2f} "
                    f"sigma | {f'{pe[0]:g} +- {pe[1]:g}' if pe else ''} | "
                    f"{pub.get('significance_sigma', '')} |"
                )
        lines.append("")
    lines += [f"Feldman-Cousins: {s['feldman_cousins']}.", ""]
    for f in figures:
        lines.append(f"![{f.stem}]({f.relative_to(outdir)})")
    lines.append("")
    return "\n".join(lines)
