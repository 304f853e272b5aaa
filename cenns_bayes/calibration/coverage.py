"""Frequentist coverage of confidence and credible intervals from Poisson pseudo-experiments.

At the study's true parameters (``[parameters]``, changed with ``--set``) every toy draws,
through the model's ``sample`` (nuisances at their nominal true values), counts
n_j ~ Poisson(N_j(truth)) per channel and one auxiliary measurement per constrained
nuisance, and is fitted both ways:

* frequentist, with the free parameters and nuisances profiled
  (:class:`~cenns_bayes.stats.profile.ProfileFitter`):

  - ``chi2``: the seed paper's chi^2 with sigma^2 = n (Eqs. 10-12), two-sided
    {Delta chi^2 <= chi2_1^{-1}(level)} clipped at physical boundaries;
  - ``profile``: the same with the Poisson likelihood ratio;
  - for magnetic moments also ``chi2-upper`` / ``profile-upper``, the one-sided upper limit
    at Delta = z_level^2 (1.64 at 90 %), and ``feldman-cousins``, the unified interval of a
    toy-based Neyman construction (:mod:`.feldman_cousins`);

* Bayesian, sampling the study's posterior (compiled once per worker, the counts swapped):
  ``posterior-hdi``, ``posterior-eti`` and, for moments, ``posterior-upper`` (the
  ``level`` quantile, interval [0, q]).

A toy covers when lower <= truth <= upper. The coverage of each (parameter, method,
level) is the fraction of toys that cover, with the binomial standard error
sqrt(p (1 - p) / N). Toys whose chi^2 is undefined (a channel with n = 0) are left out of
the ``chi2`` rows only; the raw table records them.

The frequentist fits and the posterior refits of a toy centre each constraint on the toy's
auxiliary measurement, so their coverage includes the systematic uncertainties. See
``docs/calibration.md``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .common import (
    LEVELS,
    SamplerSettings,
    StudyRef,
    _lv,
    binomial_stderr,
    clopper_pearson,
    counting_for,
    is_moment,
)
from .feldman_cousins import NeymanBelt, fc_point_task, profile_likelihood

__all__ = [
    "CoverageResult",
    "CoverageSettings",
    "coverage_rows",
    "coverage_toy_task",
    "fc_grid",
    "load_coverage_table",
    "run_coverage",
]

#: Key prefixes: they keep the random streams of toys and of the FC construction apart.
TOY_PREFIX, FC_PREFIX = 0, 1


@dataclass(frozen=True)
class CoverageSettings:
    """Settings of a coverage run.

    Attributes
    ----------
    toys : int
        Pseudo-experiments at the true point.
    levels : tuple of float
        Confidence / credibility levels.
    sampler : SamplerSettings or None
        Posterior refits per toy; None: frequentist intervals only.
    feldman_cousins : bool
        Build the FC belt for the magnetic moments.
    fc_points : int
        Grid points of the FC construction (independent of the true value: the truth is
        never added, so a true value between grid points is tested as in real use).
    fc_toys : int or None
        Pseudo-experiments per grid point; None: 10^4 when the toys are vectorised
        (:func:`~.feldman_cousins.linear_in_square`), 1000 otherwise.
    fc_max_factor : float
        Grid from 0 to this factor times the Asimov 90 % profile-likelihood upper limit.
    """

    toys: int = 500
    levels: tuple[float, ...] = LEVELS
    sampler: SamplerSettings | None = field(default_factory=SamplerSettings)
    feldman_cousins: bool = True
    fc_points: int = 25
    fc_toys: int | None = None
    fc_max_factor: float = 2.5

    def meta(self) -> dict[str, Any]:
        """What identifies the toys' results (the number of toys does not: runs extend)."""
        return {
            "levels": list(self.levels),
            "sampler": None if self.sampler is None else self.sampler.as_dict(),
        }


@dataclass
class CoverageResult:
    """Rows of the raw table, the coverage summary and the FC belts of one run."""

    study: str
    truth: dict[str, float]
    rows: list[dict]
    summary: list[dict]
    belts: dict[str, NeymanBelt]
    settings: CoverageSettings

    def truth_label(self) -> str:
        """The true point of the free parameters, e.g. ``mu_nu_mu = 0``."""
        free = list(self.rows[0]["intervals"]) if self.rows else list(self.truth)
        return ", ".join(f"{p} = {self.truth[p]:g}" for p in free)

    def to_json(self) -> dict:
        """``{"kind": "coverage", "toys": N, "intervals": [...]}`` (the issue's format)."""
        return {
            "kind": "coverage",
            "toys": len(self.rows),
            "intervals": [
                {k: r[k] for k in ("parameter", "method", "level", "coverage", "stderr", "ci95")}
                for r in self.summary
            ],
        }


def fc_grid(ref: StudyRef, parameter: str, settings: CoverageSettings) -> np.ndarray:
    """The FC grid of ``parameter``: ``fc_points`` from 0 to factor x Asimov 90 % upper limit.

    The true value is not added: coverage is then measured for the belt a real analysis
    would use, with the truth wherever it falls between grid points.
    """
    from ..stats.profile import delta_chi2_for

    study = ref.load()
    counting = counting_for(ref)
    truth = study.true_parameters()
    asimov = counting.expected(truth)
    like = profile_likelihood(counting, study, asimov, "poisson")
    upper = like.crossing(parameter, delta_chi2_for(0.9), +1)
    top = max(settings.fc_max_factor * upper, 1.5 * truth.get(parameter, 0.0))
    return np.round(np.linspace(0.0, top, settings.fc_points), 10)


def coverage_toy_task(
    ref: StudyRef, levels: Sequence[float], sampler: dict | None, belts: Mapping[str, dict], *, seed
) -> dict:
    """One pseudo-experiment at the study's true point, fitted every way.

    A :class:`~cenns_bayes.parallel.Task` function. Returns the row
    ``{"counts", "intervals": {parameter: {method: {level: [lo, hi]}}}, "fc_open", diagnostics}``.
    """
    from ..stats.profile import delta_chi2_for

    rng = np.random.default_rng(seed)
    study = ref.load()
    if study.response_detector is not None:
        return _response_toy(ref, study, levels, sampler, rng)
    counting = counting_for(ref)
    truth = study.true_parameters()
    # main counts and the auxiliary measurements of the constrained nuisances, so that the
    # intervals of every toy carry the systematic uncertainty as those of the data do
    counts, auxiliary = counting.sample(truth, rng)
    toy_model = counting.with_data(counts, auxiliary)
    free = study.free_parameters
    intervals: dict[str, dict[str, dict[str, list[float]]]] = {p: {} for p in free}
    fc_open: dict[str, dict[str, bool]] = {}
    for statistic, method in (("chi2", "chi2"), ("poisson", "profile")):
        if statistic == "chi2" and np.any(counts <= 0):
            continue  # sigma^2 = n is undefined
        like = profile_likelihood(toy_model, study, counts, statistic)
        for p in free:
            intervals[p][method] = {
                _lv(lv): [float(v) for v in like.interval(p, delta_chi2_for(lv))] for lv in levels
            }
            if is_moment(p):
                intervals[p][f"{method}-upper"] = {
                    _lv(lv): [0.0, float(like.crossing(p, delta_chi2_for(lv, one_sided=True), +1))]
                    for lv in levels
                }
        if statistic == "poisson":
            for p, doc in belts.items():
                belt = NeymanBelt.from_json(doc)
                t_grid = like.profile(p, belt.grid)

                def t_of(value, like=like, p=p):
                    return float(like.profile(p, np.array([value]))[0])

                intervals[p]["feldman-cousins"] = {}
                fc_open[p] = {}
                for lv in levels:
                    lo, hi, is_open = belt.interval(t_grid, lv, t_of)
                    intervals[p]["feldman-cousins"][_lv(lv)] = [lo, hi]
                    fc_open[p][_lv(lv)] = is_open
    row: dict[str, Any] = {"counts": [int(c) for c in counts], "intervals": intervals}
    if fc_open:
        row["fc_open"] = fc_open
    if sampler is not None:
        from .common import get_refitter, posterior_intervals

        fitter = get_refitter(ref, SamplerSettings(**sampler))
        fit = fitter.fit(counts, seed=int(rng.integers(2**31 - 1)), auxiliary=auxiliary)
        for p in free:
            intervals[p].update(posterior_intervals(p, fit.draws[p], levels))
        row.update(fit.diagnostics())
    return row


_RESPONSE_MODELS: dict[str, Any] = {}


def _response_toy(ref: StudyRef, study, levels: Sequence[float], sampler: dict | None, rng) -> dict:
    """A toy of a study with a detector response (e.g. COHERENT CsI 2017).

    Main counts and auxiliary measurements from the model's own ``sample()`` at the true
    point (the control-sample measurements of the steady state stay as observed); the
    ``profile`` interval of :class:`~cenns_bayes.stats.profile.ProfileFitter` and the
    posterior refits.
    """
    from ..stats.binned import model_for_study
    from ..stats.profile import ProfileFitter, delta_chi2_for

    model = _RESPONSE_MODELS.get(ref.key)
    if model is None:
        model = _RESPONSE_MODELS[ref.key] = model_for_study(study)
    truth = study.true_parameters()
    counts, auxiliary = model.sample(truth, rng)
    fitter = ProfileFitter(
        model.with_data(counts, auxiliary), study.free_parameters, observed=counts
    )
    intervals: dict[str, dict[str, dict[str, list[float]]]] = {
        p: {
            "profile": {
                _lv(lv): [float(v) for v in fitter.interval(p, delta_chi2_for(lv))] for lv in levels
            }
        }
        for p in study.free_parameters
    }
    row: dict[str, Any] = {"counts": [int(c) for c in counts], "intervals": intervals}
    if sampler is not None:
        from .common import get_refitter, posterior_intervals

        fit = get_refitter(ref, SamplerSettings(**sampler)).fit(
            counts, seed=int(rng.integers(2**31 - 1)), auxiliary=auxiliary
        )
        for p in study.free_parameters:
            intervals[p].update(posterior_intervals(p, fit.draws[p], levels))
        row.update(fit.diagnostics())
    return row


def coverage_rows(
    rows: Sequence[Mapping], truth: Mapping[str, float], levels: Sequence[float] = LEVELS
) -> list[dict]:
    """Coverage per (parameter, method, level) with binomial standard errors.

    ``ci95`` is the Clopper-Pearson 95 % interval of the fraction (exact, also for a
    coverage of 0 or 1, where the standard error is 0).

    Returns rows ``{"parameter", "method", "level", "coverage", "stderr", "ci95", "n",
    "median_lower", "median_upper"}`` in a stable order.
    """
    methods_order = [
        "chi2",
        "profile",
        "chi2-upper",
        "profile-upper",
        "feldman-cousins",
        "posterior-hdi",
        "posterior-eti",
        "posterior-upper",
    ]
    out = []
    params = list(rows[0]["intervals"]) if rows else []
    for p in params:
        x = float(truth[p])
        tol = 1e-9 * max(1.0, abs(x))
        present = {m for r in rows for m in r["intervals"][p]}
        for method in [m for m in methods_order if m in present]:
            for lv in levels:
                ivs = [
                    r["intervals"][p][method][_lv(lv)] for r in rows if method in r["intervals"][p]
                ]
                ivs = [iv for iv in ivs if np.all(np.isfinite(iv))]
                if not ivs:
                    continue
                arr = np.asarray(ivs, dtype=float)
                covered = (arr[:, 0] <= x + tol) & (x - tol <= arr[:, 1])
                frac = float(covered.mean())
                lo95, hi95 = clopper_pearson(int(covered.sum()), len(arr))
                out.append(
                    {
                        "parameter": p,
                        "method": method,
                        "level": float(lv),
                        "coverage": round(frac, 6),
                        "stderr": round(binomial_stderr(frac, len(arr)), 6),
                        "ci95": [round(lo95, 6), round(hi95, 6)],
                        "n": len(arr),
                        "median_lower": float(np.median(arr[:, 0])),
                        "median_upper": float(np.median(arr[:, 1])),
                    }
                )
    return out


def fc_toys_for(ref: StudyRef, parameter: str, settings: CoverageSettings) -> int:
    """Toys per FC grid point: the setting, or 10^4 (vectorised toys) / 1000 (a fit per toy)."""
    from .feldman_cousins import linear_in_square

    if settings.fc_toys is not None:
        return int(settings.fc_toys)
    fast = linear_in_square(counting_for(ref), ref.load(), parameter) is not None
    return 10_000 if fast else 1000


def _belt_tasks(ref: StudyRef, settings: CoverageSettings):
    from ..parallel import Task

    study = ref.load()
    grids = {p: fc_grid(ref, p, settings) for p in study.free_parameters if is_moment(p)}
    tasks = [
        Task((FC_PREFIX, i, k), fc_point_task, (ref, p, float(v), fc_toys_for(ref, p, settings)))
        for i, p in enumerate(study.free_parameters)
        if p in grids
        for k, v in enumerate(grids[p])
    ]
    return grids, tasks


def run_coverage(
    ref: StudyRef,
    settings: CoverageSettings,
    *,
    seed: int,
    engine=None,
    out_dir: str | os.PathLike | None = None,
) -> CoverageResult:
    """Run the coverage check: the FC belts (if any), then the toys.

    Parameters
    ----------
    ref : StudyRef
    settings : CoverageSettings
    seed : int
        Master seed; toy ``i`` draws from ``SeedSequence(seed, spawn_key=(0, i))``.
    engine : cenns_bayes.parallel.Engine, optional
        Where the tasks run (default: in this process).
    out_dir : path-like, optional
        Writes ``fc_belt.jsonl`` and ``coverage_toys.jsonl`` there (resumable).
    """
    from ..parallel import Task, engine_or_local

    study = ref.load()
    truth = study.true_parameters()
    out = Path(out_dir) if out_dir is not None else None
    with engine_or_local(engine) as engine:
        belts: dict[str, NeymanBelt] = {}
        if settings.feldman_cousins and any(is_moment(p) for p in study.free_parameters):
            grids, tasks = _belt_tasks(ref, settings)
            meta = {
                "kind": "fc-belt",
                "study": ref.key,
                "fc_toys": {p: fc_toys_for(ref, p, settings) for p in grids},
                "grids": {p: g.tolist() for p, g in grids.items()},
            }
            rows = engine.run(
                tasks,
                seed=seed,
                meta=meta,
                description="Feldman-Cousins belt",
                table=None if out is None else out / "fc_belt.jsonl",
            )
            for i, p in enumerate(study.free_parameters):
                if p in grids:
                    samples = [np.asarray(r["t"]) for r in rows if r["key"][1] == i]
                    belts[p] = NeymanBelt.from_samples(p, grids[p], samples, settings.levels)
        belt_docs = {p: b.to_json() for p, b in belts.items()}
        sampler = None if settings.sampler is None else settings.sampler.as_dict()
        tasks = [
            Task(
                (TOY_PREFIX, i),
                coverage_toy_task,
                (ref, tuple(settings.levels), sampler, belt_docs),
            )
            for i in range(settings.toys)
        ]
        meta = {
            "kind": "coverage",
            "study": ref.key,
            "truth": truth,
            **settings.meta(),
            "belts": belt_docs,
        }
        rows = engine.run(
            tasks,
            seed=seed,
            meta=meta,
            description="coverage toys",
            table=None if out is None else out / "coverage_toys.jsonl",
        )
    summary = coverage_rows(rows, truth, settings.levels)
    return CoverageResult(study.name, truth, rows, summary, belts, settings)


def load_coverage_table(path: str | os.PathLike):
    """The raw toy table as a pandas DataFrame, one row per (toy, parameter, method, level)."""
    import pandas as pd

    from ..parallel import read_table

    records = []
    for r in read_table(path):
        diag = {k: r.get(k) for k in ("divergences", "max_r_hat", "min_ess_bulk", "elapsed_s")}
        for p, methods in r["intervals"].items():
            for m, by_level in methods.items():
                for lv, (lo, hi) in by_level.items():
                    records.append(
                        {
                            "task": r["task"],
                            "parameter": p,
                            "method": m,
                            "level": float(lv),
                            "lower": lo,
                            "upper": hi,
                            **diag,
                        }
                    )
    return pd.DataFrame.from_records(records)
