"""The main job: expected counts, frequentist limits, posterior and their comparison.

``run_study`` writes into an output folder, each file atomically as soon as it exists:

* ``posterior.nc`` -- ArviZ InferenceData (posterior, sample stats, prior, prior
  predictive, observed data) with the spec's hash and the package version as attributes;
* ``summary.json`` -- counts, frequentist intervals, posterior summaries, diagnostics;
* ``figures/*.png`` -- Delta chi^2 profiles over marginal posteriors, the pair plot;
* ``report.md`` -- all of it in words and tables.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from .. import __version__
from ..io import write_text_atomic
from ..stats.parameters import PARAMETERS

__all__ = ["run_study", "sampler_warnings"]

#: Thresholds of the sampler warnings (Vehtari et al. 2021: R-hat < 1.01, bulk/tail ESS >= 400).
MAX_R_HAT = 1.01
MIN_ESS = 400


def sampler_warnings(diag: dict, summary: dict | None = None) -> list[str]:
    """Warnings for a posterior that should not be trusted as it is.

    Parameters
    ----------
    diag : dict
        From ``cenns_bayes.bayes.diagnostics``: divergences, max R-hat, min bulk/tail ESS.
    summary : dict, optional
        Per-parameter summaries (``r_hat``, ``ess_bulk``) to name the parameters concerned.

    Returns
    -------
    list of str
        One sentence per problem: R-hat > 1.01, bulk or tail ESS < 400, any divergence.
    """
    out = []

    def worst(key, bad):
        if not summary:
            return ""
        names = [p for p, s in summary.items() if bad(s.get(key, np.nan))]
        return f" ({', '.join(names)})" if names else ""

    r_hat = diag.get("max_r_hat", np.nan)
    if not np.isfinite(r_hat) or r_hat > MAX_R_HAT:
        names = worst("r_hat", lambda v: not v <= MAX_R_HAT)
        out.append(
            f"R-hat {r_hat:.3f} > {MAX_R_HAT}{names}: "
            "the chains disagree; run more tuning/draws or check the model"
        )
    for key, label in (("min_ess_bulk", "bulk"), ("min_ess_tail", "tail")):
        ess = diag.get(key)
        if ess is not None and not ess >= MIN_ESS:
            out.append(
                f"{label} ESS {ess:.0f} < {MIN_ESS}"
                f"{worst(key.removeprefix('min_'), lambda v: not v >= MIN_ESS)}: "
                "intervals are noisy; run more draws"
            )
    if diag.get("divergences", 0):
        out.append(
            f"{diag['divergences']} divergent transitions: the posterior may be biased; "
            "raise target_accept or reparametrise"
        )
    return out


UNITS = {k: p.unit for k, p in PARAMETERS.items() if k != "neutron_skin_fm"}


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def _profile_curves(study, counting, parameter, lo, hi, n=61):
    from ..stats.counting import CountingModel
    from ..stats.profile import ProfileFitter

    if not isinstance(counting, CountingModel) or counting.radius_slopes is not None:
        grid = np.linspace(lo, hi, 21)
        fitter = ProfileFitter(counting, study.free_parameters)
        return {"Poisson profile": (grid, fitter.profile(parameter, grid))}
    grid = np.linspace(lo, hi, n)
    curves = {}
    for label, stat in (("chi2 (Eq. 10)", "chi2"), ("Poisson profile", "poisson")):
        fitter = ProfileFitter(counting, study.free_parameters, cost=stat)
        curves[label] = (grid, fitter.profile(parameter, grid, follow=True))
    return curves


def run_study(
    study,
    outdir: str | Path,
    *,
    draws=None,
    tune=None,
    chains=None,
    seed=None,
    backend=None,
    pooling_comparison: bool = True,
    progress=None,
) -> dict:
    """Run the whole study and write its report into ``outdir``; returns the summary dict."""
    from ..bayes import diagnostics, sample_study, summarise_posterior
    from ..bayes.compare import comparison_rows, frequentist_intervals
    from ..bayes.sampling import write_netcdf
    from ..bayes.summary import posterior_predictive_pvalue
    from ..plotting.bayes_plots import plot_pair, plot_profile_vs_posterior
    from ..stats.binned import model_for_study
    from ..stats.counting import CountingModel

    say = progress or (lambda msg: None)
    outdir = Path(outdir)
    (outdir / "figures").mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()
    nuis = study.spec.nuisances
    counting = model_for_study(study)
    truth = study.true_parameters()
    if isinstance(counting, CountingModel):
        expected = counting.expected(truth)
        counts = [
            {"detector": d, "flavor": f, "bin": b, "expected": float(e), "observed": float(o)}
            for (d, f, b), e, o in zip(
                counting.bin_labels, expected, counting.observed, strict=True
            )
        ]
    else:
        comp = counting.components(truth, counting.nominal_nuisances())
        counts = [{"component": k, "expected": float(np.sum(v))} for k, v in comp.items()]
        counts.append({"component": "observed", "expected": float(np.sum(counting.observed))})

    say("frequentist profiles")
    freq = frequentist_intervals(study, counting)
    data_section = None
    if not isinstance(counting, CountingModel):
        say("fit and data projections")
        data_section = _data_section(study, counting, outdir)

    say("sampling the posterior (NUTS)")
    nuts = dict(draws=draws, tune=tune, chains=chains, seed=seed, backend=backend)
    result = sample_study(study, counting=counting, progressbar=progress is not None, **nuts)
    nc_path = write_netcdf(result.idata, outdir / "posterior.nc")
    params = study.free_parameters
    bayes = summarise_posterior(result.idata, params)
    diag = diagnostics(result.idata, params)
    if study.spec.data.kind == "asimov":
        # Asimov data have no Poisson scatter: a predictive p-value would test nothing
        ppc = {"pvalue": None, "note": "n/a (Asimov data)"}
    else:
        ppc = posterior_predictive_pvalue(
            result.idata, counting.observed, seed=study.spec.sampling.seed
        )

    say("figures")
    figures = []
    for p in params:
        x = np.asarray(result.idata["posterior"][p]).reshape(-1)
        f90 = freq[p]["profile"]["interval_90"]
        # plot range: the 90 % interval and the bulk of the posterior, but not an interval
        # end that sits on a far parameter bound
        q_lo, q_hi = (float(v) for v in np.quantile(x, [0.002, 0.998]))
        span = q_hi - q_lo
        lo = min(max(f90[0], q_lo - span), q_lo)
        hi = max(min(f90[1], q_hi + span), q_hi)
        pad = 0.15 * (hi - lo)
        lo = max(lo - pad, 0.0) if p.startswith("mu_nu") or p == "signal_strength" else lo - pad
        curves = _profile_curves(study, counting, p, lo, hi + pad)
        intervals = {"profile 90 %": tuple(f90), "posterior HDI 90 %": tuple(bayes[p]["hdi_90"])}
        figures.append(
            plot_profile_vs_posterior(
                p,
                x,
                curves,
                intervals,
                outdir / "figures" / f"profile_vs_posterior_{p}.png",
                title=f"{study.name}: {p}",
            )
        )
    if len(params) > 1:
        samples = {p: np.asarray(result.idata["posterior"][p]).reshape(-1) for p in params}
        figures.append(plot_pair(samples, outdir / "figures" / "pair.png", title=study.name))

    pooling = {}
    if pooling_comparison and nuis.detector_sigma > 0 and len(counting.detector_names) > 1:
        pooling[nuis.pooling] = {"summary": bayes, "divergences": diag["divergences"]}
        for alt in ("partial", "complete", "none"):
            if alt in pooling:
                continue
            say(f"sampling with pooling = {alt}")
            alt_result = sample_study(
                study, pooling=alt, counting=counting, progressbar=False, prior_draws=10, **nuts
            )
            pooling[alt] = {
                "summary": summarise_posterior(alt_result.idata, params),
                "divergences": diagnostics(alt_result.idata, params)["divergences"],
            }

    if isinstance(counting, CountingModel):
        nuis_text = (
            f"flux {nuis.flux_sigma:.0%} (log-normal, shared), per-detector "
            f"{nuis.detector_sigma:.0%} ({nuis.pooling} pooling)"
        )
    else:
        nuis_text = "; ".join(_nuisance_text(n) for n in counting.nuisances)
    summary = {
        "study": study.name,
        "nuisances": nuis_text,
        "spec_path": study.path,
        "spec_sha256": study.sha256,
        "cenns_bayes_version": __version__,
        "free_parameters": params,
        "units": {p: UNITS[p] for p in params},
        "counts": counts,
        "frequentist": freq,
        "posterior": bayes,
        "comparison": comparison_rows(freq, bayes),
        "diagnostics": diag,
        "posterior_predictive": ppc,
        "sampler": {
            "backend": result.backend,
            "compile_seconds": result.compile_seconds,
            "sampling_seconds": result.sampling_seconds,
        },
        "pooling_comparison": {
            k: {
                "divergences": v["divergences"],
                **{
                    p: {
                        "hdi_90": v["summary"][p]["hdi_90"],
                        "upper_90": v["summary"][p]["upper_90"],
                    }
                    for p in params
                },
            }
            for k, v in pooling.items()
        },
        "netcdf": str(nc_path.name),
        "warnings": sampler_warnings(diag, bayes),
        "data_fit": data_section,
        "wall_seconds": time.perf_counter() - t_start,
    }
    write_text_atomic(outdir / "summary.json", json.dumps(summary, indent=1) + "\n")
    write_text_atomic(outdir / "report.md", _markdown(study, summary, figures, outdir))
    return summary


def _markdown(study, s: dict, figures: list[Path], outdir: Path) -> str:
    params = s["free_parameters"]
    lines = [
        f"# Study report: {s['study']}",
        "",
        f"Spec `{s['spec_path']}` (SHA-256 `{s['spec_sha256'][:12]}…`), "
        f"cenns_bayes {s['cenns_bayes_version']}, "
        f"generated {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.",
        "",
        f"Free parameters: {', '.join(f'{p} [{UNITS[p]}]' if UNITS[p] else p for p in params)}. "
        f"Data: {study.spec.data.kind}. Nuisances: {s['nuisances']}.",
        "",
        "## Expected and observed counts",
        "",
    ]
    if s["counts"] and "component" in s["counts"][0]:
        lines += [
            "Expected at `[parameters]` with nominal nuisances, in the analysis region:",
            "",
            "| component | events |",
            "| --- | ---: |",
        ]
        lines += [f"| {c['component']} | {c['expected']:.1f} |" for c in s["counts"]]
    else:
        lines += [
            "| detector | flavour | bin | expected at [parameters] | observed |",
            "| --- | --- | ---: | ---: | ---: |",
        ]
        for c in s["counts"]:
            lines.append(
                f"| {c['detector']} | {c['flavor']} | {c['bin']} | {c['expected']:.2f} | "
                f"{c['observed']:.2f} |"
            )
    if s.get("data_fit"):
        lines += _data_markdown(s["data_fit"])
    lines += [
        "",
        "## Frequentist and Bayesian intervals",
        "",
        "Frequentist: other free parameters and the nuisances profiled (nuisances as Gaussian "
        "penalties of the same widths). `chi2` is the seed paper's statistic "
        "(σ² = N_obs), `profile` the Poisson likelihood ratio; 68 %: Δ = 1, 90 %: Δ = 2.71. "
        "Bayesian: highest-density (HDI) and equal-tailed (ETI) credible intervals.",
        "",
        "| parameter | method | 68 % | 90 % |",
        "| --- | --- | --- | --- |",
    ]
    for p in params:
        for m in s["frequentist"][p]:
            r = s["frequentist"][p][m]
            lines.append(
                f"| {p} | {m} | [{_fmt(r['interval_68'][0])}, {_fmt(r['interval_68'][1])}] | "
                f"[{_fmt(r['interval_90'][0])}, {_fmt(r['interval_90'][1])}] |"
            )
        b = s["posterior"][p]
        for kind in ("hdi", "eti"):
            lines.append(
                f"| {p} | posterior {kind.upper()} | "
                f"[{_fmt(b[f'{kind}_68'][0])}, {_fmt(b[f'{kind}_68'][1])}] | "
                f"[{_fmt(b[f'{kind}_90'][0])}, {_fmt(b[f'{kind}_90'][1])}] |"
            )
    moments = [p for p in params if p.startswith("mu_nu")]
    if moments:
        lines += [
            "",
            "### 90 % upper limits on the magnetic moments (1e-10 μ_B)",
            "",
            "| parameter | χ² Δ=2.71 (paper) | profile Δ=2.71 | profile one-sided Δ=1.64 "
            "| posterior 90 % quantile |",
            "| --- | ---: | ---: | ---: | ---: |",
        ]
        for p in moments:
            f = s["frequentist"][p]
            chi2 = _fmt(f["chi2"]["upper_90"]) if "chi2" in f else "n/a"
            lines.append(
                f"| {p} | {chi2} | {_fmt(f['profile']['upper_90'])} | "
                f"{_fmt(f['profile']['upper_90_one_sided'])} | "
                f"{_fmt(s['posterior'][p]['upper_90'])} |"
            )
        lines += [
            "",
            "The Δχ² = 2.71 limit is the end of a two-sided 90 % interval; at the physical "
            "boundary μ = 0 only one side exists, so the one-sided 90 % frequentist limit uses "
            "Δ = 1.64 and is tighter. The posterior limit depends on the prior (flat in μ here "
            'unless the spec says `on = "square"`): it is the 90 % quantile of the marginal '
            "posterior, with the other parameters integrated over rather than profiled.",
        ]
    d = s["diagnostics"]
    lines += [
        "",
        "## Sampler diagnostics",
        "",
        f"{d['chains']} chains × {d['draws']} draws with {s['sampler']['backend']}: "
        f"**{d['divergences']} divergences**, max R-hat {d['max_r_hat']:.4f}, "
        f"min bulk ESS {d['min_ess_bulk']:.0f}, min tail ESS {d['min_ess_tail']:.0f}. "
        f"Compile {s['sampler']['compile_seconds']:.1f} s, "
        f"sampling {s['sampler']['sampling_seconds']:.1f} s.",
        "",
    ]
    lines += [f"- **Warning:** {w}." for w in s.get("warnings", [])]
    lines += [""] if s.get("warnings") else []
    lines += [
        "| parameter | mean | sd | R-hat | bulk ESS |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for p in params:
        b = s["posterior"][p]
        lines.append(
            f"| {p} | {_fmt(b['mean'])} | {_fmt(b['sd'])} | {b['r_hat']:.4f} | "
            f"{b['ess_bulk']:.0f} |"
        )
    ppc = s["posterior_predictive"]
    lines += ["", "## Posterior predictive check", ""]
    if ppc.get("pvalue") is None:
        lines.append(
            f"{ppc.get('note', 'n/a')}: the data have no Poisson scatter, so a predictive "
            "p-value would test nothing."
        )
    else:
        lines.append(
            f"Poisson deviance over {ppc['bins']} bins: "
            f"observed {ppc['mean_observed_deviance']:.1f}, "
            f"replicated {ppc['mean_replicated_deviance']:.1f} "
            f"(means over {ppc['draws']} posterior draws); "
            f"p = P(T_rep ≥ T_obs) = **{ppc['pvalue']:.3f}**. "
            "A p-value near 0 would say the model cannot reproduce the data's scatter."
        )
    if s["pooling_comparison"]:
        lines += [
            "",
            "## Pooling of the per-detector normalisations",
            "",
            "partial: hierarchical, A_d = exp(τ z_d) with τ ~ HalfNormal; complete: A_d = 1, "
            "the detectors share the flux normalisation (τ → 0); none: independent "
            "normalisations. "
            + (
                "On Asimov data the detector-to-detector scatter is zero, which favours "
                "pooling by construction; on toys with scatter drawn from the prior, "
                "complete pooling under-covers and partial pooling is the one to use "
                "(docs/calibration.md)."
                if study.spec.data.kind == "asimov"
                else ""
            ),
            "",
            "| pooling | divergences | " + " | ".join(f"{p} HDI 90 %" for p in params) + " |",
            "| --- | ---: | " + " | ".join("---" for _ in params) + " |",
        ]
        for k, v in s["pooling_comparison"].items():
            cells = " | ".join(
                f"[{_fmt(v[p]['hdi_90'][0])}, {_fmt(v[p]['hdi_90'][1])}]" for p in params
            )
            lines.append(f"| {k} | {v['divergences']} | {cells} |")
    lines += ["", "## Figures", ""]
    for f in figures:
        rel = Path(f).relative_to(outdir)
        lines.append(f"![{rel.stem}]({rel.as_posix()})")
        lines.append("")
    lines += [
        f"Posterior samples: `{s['netcdf']}` (ArviZ InferenceData, NetCDF). "
        f"Wall time {s['wall_seconds']:.1f} s.",
        "",
    ]
    return "\n".join(lines)


#: Published numbers of the COHERENT CsI[Na] 2017 result (Science 357 (2017) 1123; see the
#: shipped REFERENCE.md): SM prediction, fitted CEvNS count, significance.
PUBLISHED_CSI_2017 = {
    "sm_expected": (173.0, 48.0),
    "cevns_events": (134.0, 22.0),
    "significance_sigma": 6.7,
}

#: Published numbers of the COHERENT LAr 2020 result, Analysis A (PRL 126 (2021) 012002 and the
#: release's LArParametersAnlA.yaml; see the shipped REFERENCE.md).
PUBLISHED_LAR_2020 = {
    "sm_expected": (128.0, 17.0),
    "cevns_events": (159.0, 43.0),
    "significance_sigma": "> 3",
    "cross_section_1e39_cm2": (2.2, 0.7),
    "citation": "PRL 126 (2021) 012002",
    "docs": "docs/coherent_lar_2020.md",
}


#: Published numbers of the COHERENT CsI[Na] 2021 result (PRL 129 (2022) 081801; see the shipped
#: REFERENCE.md): SM prediction 341 +- 11 (theory) +- 42 (experiment), errors in quadrature here.
PUBLISHED_CSI_2021 = {
    "sm_expected": (341.0, 43.0),
    "cevns_events": (306.0, 20.0),
    "significance_sigma": 11.6,
    "cross_section_1e39_cm2": (16.5, "+3.0/-2.5"),
    "citation": "PRL 129 (2022) 081801",
    "docs": "docs/coherent_csi_2021.md",
}


def _published_value(value: tuple) -> str:
    """``a ± b``, or ``a (+x/-y)`` when the error is given as an asymmetric string."""
    centre, error = value
    return f"{centre} ({error})" if isinstance(error, str) else f"{centre} ± {error}"


def _data_markdown(d: dict) -> list[str]:
    fit = d["fit"]
    lines = [
        "",
        "## Fit to the data",
        "",
        "Profile-likelihood fit (Poisson, every nuisance profiled):",
        "",
        "| parameter | best fit | 68 % | 90 % |",
        "| --- | ---: | --- | --- |",
    ]
    for p, r in fit["parameters"].items():
        lines.append(
            f"| {p} | {_fmt(r['best'])} | "
            f"[{_fmt(r['interval_68'][0])}, {_fmt(r['interval_68'][1])}] | "
            f"[{_fmt(r['interval_90'][0])}, {_fmt(r['interval_90'][1])}] |"
        )
    if d.get("components_at_best"):
        comp = ", ".join(f"{k} {v:.1f}" for k, v in d["components_at_best"].items())
        lines += ["", f"Expected events at the best fit: {comp}."]
    pub = d.get("published")
    if pub and fit.get("derived"):
        ev = fit["derived"]["cevns_events"]
        lines += [
            "",
            f"### Against the published result ({pub.get('citation', 'Science 357 (2017) 1123')})",
            "",
            "| quantity | this analysis | published |",
            "| --- | ---: | ---: |",
            f"| SM CEvNS prediction, analysis region | {ev['sm_expected']:.1f} | "
            f"{pub['sm_expected'][0]:.0f} ± {pub['sm_expected'][1]:.0f} |",
            f"| fitted CEvNS events | {ev['best']:.1f} [{ev['interval_68'][0]:.1f}, "
            f"{ev['interval_68'][1]:.1f}] | "
            f"{pub['cevns_events'][0]:.0f} ± {pub['cevns_events'][1]:.0f} |",
            f"| no-CEvNS rejected at | {fit['significance_sigma']:.2f} σ | "
            f"{pub['significance_sigma']} σ |",
        ]
        xs = fit["derived"].get("flux_averaged_cross_section_cm2")
        if xs and "cross_section_1e39_cm2" in pub:
            lines.append(
                f"| flux-averaged cross section (1e-39 cm²) | {xs['best'] * 1e39:.2f} "
                f"[{xs['interval_68'][0] * 1e39:.2f}, {xs['interval_68'][1] * 1e39:.2f}] | "
                f"{_published_value(pub['cross_section_1e39_cm2'])} |"
            )
        lines += [
            "",
            "Why the numbers differ, each choice switched and measured: "
            f"{pub.get('docs', 'docs/coherent_csi_2017.md')}.",
        ]
    lines += ["", f"![data and best fit]({d['figure']})", ""]
    return lines


def _data_section(study, model, outdir: Path) -> dict:
    """Profile fit of a response study, its PE and time projections, and published numbers."""
    from ..plotting.data_plots import plot_projections
    from ..stats.fit import fit_study

    fit = fit_study(study, model)
    best = fit["details"]
    from ..stats.profile import ProfileFitter

    fitter = ProfileFitter(model, study.free_parameters)
    res = fitter.best_fit()
    components = model.components(res.parameters, res.nuisances)
    if any(
        d.energy_response is not None and d.energy_response.release == "coherent-lar-2020"
        for d in study.spec.detectors
    ):  # LAr 2020 binning
        from ..datasets.coherent_lar import load_coherent_lar_2020
        from ..plotting.lar_plots import plot_lar_projections

        figure = plot_lar_projections(
            model,
            components,
            load_coherent_lar_2020(),
            outdir / "figures" / "data_projections.png",
            title=f"{study.name}: data and best fit",
        )
    else:
        figure = plot_projections(
            model,
            components,
            outdir / "figures" / "data_projections.png",
            title=f"{study.name}: data and best fit",
        )
    out = {
        "fit": fit,
        "figure": str(Path(figure).relative_to(outdir).as_posix()),
        "components_at_best": best.get("components_at_best", {}),
    }
    if study.spec.data.kind == "coherent-csi-2017":
        out["published"] = PUBLISHED_CSI_2017
    elif study.spec.data.kind == "coherent-lar-2020":
        out["published"] = PUBLISHED_LAR_2020
    elif study.spec.data.kind == "coherent-csi-2021":
        out["published"] = PUBLISHED_CSI_2021
    return out


def _nuisance_text(n) -> str:
    """``name (kind, sigma s, N bins)``; for an auxiliary nuisance, its parameter count."""
    if n.kind == "auxiliary":
        return f"{n.name} (constrained by control data, {n.size} parameters)"
    width = "" if n.kind == "poisson" else f", sigma {n.sigma:g}"
    return f"{n.name} ({n.kind}{width}{'' if n.size == 1 else f', {n.size} bins'})"
