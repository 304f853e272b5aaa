"""Simulation-based calibration (Talts, Betancourt, Simpson, Vehtari & Gelman 2018).

The method of arXiv:1804.06788.

Replication i draws parameters theta~ and counts n ~ Poisson(N(theta~)) jointly from the
study's own PyMC model (``pm.draw``: every prior, nuisances included),
samples the posterior given n (nutpie, compiled once per worker, data swapped) and
records, per free physics parameter, the rank

    r = #{l : theta_l < theta~},   l = 1 ... L,

of the prior draw among L posterior draws thinned to reduce autocorrelation: the draws of
all chains are concatenated chain by chain and L = 99 of them kept at equally spaced
positions (every ~10th of 2 x 500). If the posterior is computed correctly, r is uniform
on {0, ..., L} for any prior and model (Talts et al., Theorem 1).

Uniformity test: Pearson's chi-square on the rank histogram with B bins of equal width
in rank ((L + 1) / B ranks per bin, B dividing L + 1 = 100, chosen as the largest of
20, 10, 5, 4, 2 that keeps at least 10 expected replications per bin), B - 1 degrees of
freedom; the discrete ranks are binned exactly, so the test needs no continuity
correction. A calibrated posterior passes at the 1 % level in 99 % of runs. Beside it,
ArviZ's simultaneous ECDF band (:func:`ecdf_band_test`, Saeilynoja et al. 2022) on the
fractional ranks (r + u) / (L + 1): a failure when the ECDF leaves the 99 % band. The ECDF
difference plot of the normalised ranks (r + 0.5) / (L + 1) uses ArviZ's
``plot_ecdf_pit`` with its simultaneous envelope.

``simuk`` (the PyMC SBC package) was not used: it drives ``pm.sample`` itself in one
process, replication after replication, and so can neither swap the data of a model
compiled once nor run through :mod:`cenns_bayes.parallel` (Dask, resumable tables).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import stats

from .common import SamplerSettings, StudyRef, get_refitter

__all__ = [
    "RANK_DRAWS",
    "SBCResult",
    "draw_from_prior",
    "ecdf_band_test",
    "fractional_ranks",
    "rank_statistic",
    "run_sbc",
    "sbc_replication_task",
    "thin_draws",
    "uniformity_test",
]

#: Posterior draws L kept per replication; ranks take L + 1 = 100 values.
RANK_DRAWS = 99
#: Key prefix of SBC replications (keeps their random streams apart from other checks).
SBC_PREFIX = 2


def draw_from_prior(
    model, parameters: Sequence[str], rng: np.random.Generator
) -> tuple[dict[str, float], np.ndarray]:
    """One joint draw of the free parameters and the counts from the study's own PyMC model.

    ``pm.draw`` forward-samples the model the posterior is computed from: every prior
    (nuisances included: normalisations, neutron-radius shifts, background rates) and the
    Poisson counts, so the prior of the SBC cannot drift from the model's.

    Returns ``(parameters, counts)``.
    """
    values = _prior_sampler(model, tuple(parameters))(int(rng.integers(2**31 - 1)))
    params = {p: float(v) for p, v in zip(parameters, values[:-1], strict=True)}
    return params, np.asarray(values[-1], dtype=float)


_PRIOR_SAMPLERS: dict[tuple[int, tuple[str, ...]], object] = {}


def _prior_sampler(model, parameters: tuple[str, ...]):
    """A function seed -> joint prior draw of ``parameters`` and the counts, compiled once.

    ``pm.draw`` compiles its PyTensor function at every call (seconds each, more than the
    posterior sampling of a replication); this compiles it once per model and process and
    reseeds its random generators per call, as ``pm.draw(..., random_seed=seed)`` does.
    """
    key = (id(model), parameters)
    fn = _PRIOR_SAMPLERS.get(key)
    if fn is None:
        import pymc as pm
        from pytensor.tensor.random.type import RandomGeneratorType

        compiled = pm.compile(inputs=[], outputs=[model[p] for p in parameters] + [model["counts"]])
        rngs = [v for v in compiled.get_shared() if isinstance(v.type, RandomGeneratorType)]

        def fn(seed: int, compiled=compiled, rngs=rngs):
            pm.pytensorf.reseed_rngs(rngs, seed)
            return compiled()

        _PRIOR_SAMPLERS[key] = fn
    return fn


def thin_draws(draws: np.ndarray, keep: int = RANK_DRAWS) -> np.ndarray:
    """``keep`` draws at equally spaced positions of the chain-by-chain concatenation."""
    flat = np.asarray(draws, dtype=float).reshape(-1)
    if flat.size < keep:
        raise ValueError(f"{flat.size} posterior draws; SBC needs at least {keep}")
    idx = np.round(np.linspace(0, flat.size - 1, keep)).astype(int)
    return flat[idx]


def rank_statistic(prior_value: float, posterior_draws: np.ndarray) -> int:
    """Number of posterior draws below the prior draw (0 ... len(draws))."""
    return int(np.sum(np.asarray(posterior_draws) < prior_value))


def _bins(n_replications: int, n_ranks: int) -> int:
    for b in (20, 10, 5, 4, 2):
        if n_ranks % b == 0 and n_replications / b >= 10:
            return b
    return 2


def uniformity_test(
    ranks: Sequence[int], n_ranks: int = RANK_DRAWS + 1, bins: int | None = None
) -> tuple[float, np.ndarray]:
    """Pearson chi-square test that ``ranks`` are uniform on {0, ..., n_ranks - 1}.

    Returns
    -------
    (p_value, histogram)
        The p-value with ``bins - 1`` degrees of freedom and the counts per bin.
    """
    rank_array = np.asarray(ranks, dtype=int)
    if rank_array.size == 0:
        raise ValueError("no ranks")
    if rank_array.min() < 0 or rank_array.max() >= n_ranks:
        raise ValueError(f"ranks must lie in 0 ... {n_ranks - 1}")
    bins = _bins(rank_array.size, n_ranks) if bins is None else bins
    if n_ranks % bins:
        raise ValueError(f"{bins} bins do not divide {n_ranks} ranks evenly")
    hist = np.bincount(rank_array // (n_ranks // bins), minlength=bins)
    expected = rank_array.size / bins
    chi2 = float(np.sum((hist - expected) ** 2) / expected)
    return float(stats.chi2.sf(chi2, bins - 1)), hist


#: Seed of the jitter that spreads a discrete rank uniformly over its cell (reproducible).
PIT_JITTER_SEED = 20151
#: Simulations behind ArviZ's simultaneous band.
ECDF_SIMULATIONS = 1000


def fractional_ranks(
    ranks: Sequence[int], n_ranks: int = RANK_DRAWS + 1, seed: int = PIT_JITTER_SEED
) -> np.ndarray:
    """Ranks as PIT values (r + u) / n_ranks, u ~ U(0, 1).

    They are exactly uniform on (0, 1) for a calibrated posterior, so a continuous-uniform
    ECDF band applies without a discreteness error (jitter reproducible through ``seed``).
    """
    r = np.asarray(ranks, dtype=float)
    u = np.random.default_rng(seed).uniform(size=r.size)
    return (r + u) / n_ranks


def ecdf_band_test(
    ranks: Sequence[int],
    n_ranks: int = RANK_DRAWS + 1,
    alpha: float = 0.01,
    n_simulations: int = ECDF_SIMULATIONS,
) -> dict:
    """ArviZ's simultaneous ECDF-band test of uniform ranks (Saeilynoja, Buerkner & Vehtari 2022).

    ``arviz_stats.ecdf_utils.ecdf_pit`` gives the ECDF of the fractional ranks and a band
    that holds a uniform sample's whole ECDF with probability 1 - ``alpha`` (simulated);
    the ranks fail at level ``alpha`` when their ECDF leaves the band anywhere.

    Returns
    -------
    dict
        ``{"passes": bool, "alpha": alpha, "max_outside": largest distance of the ECDF
        outside the band (0 when inside)}``.
    """
    from arviz_stats.ecdf_utils import ecdf_pit

    pit = fractional_ranks(ranks, n_ranks)
    _, ecdf, lower, upper = ecdf_pit(
        pit, 1.0 - alpha, n_simulations, rng=np.random.default_rng(PIT_JITTER_SEED + 1)
    )
    outside = float(np.max(np.maximum(lower - ecdf, ecdf - upper)))
    return {"passes": bool(outside <= 0.0), "alpha": alpha, "max_outside": max(outside, 0.0)}


def response_refusal(study) -> str:
    """Why an SBC of a detector-response study (e.g. COHERENT CsI) is refused: one line."""
    return (
        f"{study.path}: --kind sbc supports counting studies only; {study.name} has a detector "
        "response and real data (use --kind coverage or --kind asimov)"
    )


def sbc_replication_task(ref: StudyRef, sampler: dict, *, seed) -> dict:
    """One SBC replication: prior draw, simulated counts, posterior, ranks.

    A :class:`~cenns_bayes.parallel.Task` function. Returns
    ``{"prior": {...}, "ranks": {...}, "counts": [...], divergences, ...}``.
    """
    rng = np.random.default_rng(seed)
    study = ref.load()
    refitter = get_refitter(ref, SamplerSettings(**sampler))
    params, counts = draw_from_prior(refitter.model, study.free_parameters, rng)
    fit = refitter.fit(counts, seed=int(rng.integers(2**31 - 1)))
    ranks = {p: rank_statistic(params[p], thin_draws(fit.draws[p])) for p in study.free_parameters}
    return {
        "prior": params,
        "ranks": ranks,
        "counts": [int(c) for c in counts],
        **fit.diagnostics(),
    }


@dataclass
class SBCResult:
    """Replications of an SBC run and the uniformity tests per parameter."""

    study: str
    rows: list[dict]
    pvalues: dict[str, float]
    histograms: dict[str, list[int]]
    n_ranks: int = RANK_DRAWS + 1
    ecdf: dict[str, dict] = field(default_factory=dict)

    def ranks(self, parameter: str) -> np.ndarray:
        """Ranks of ``parameter`` over the replications."""
        return np.array([r["ranks"][parameter] for r in self.rows])

    def to_json(self) -> dict:
        """The result as JSON.

        ``{"kind": "sbc", "replications": N, "parameters": {p: {"uniformity_pvalue": x,
        "ecdf_band_passes": bool, "ecdf_band_alpha": 0.01}}}``.
        """
        params = {}
        for p, v in self.pvalues.items():
            params[p] = {"uniformity_pvalue": round(v, 6)}
            if p in self.ecdf:
                params[p]["ecdf_band_passes"] = self.ecdf[p]["passes"]
                params[p]["ecdf_band_alpha"] = self.ecdf[p]["alpha"]
        return {"kind": "sbc", "replications": len(self.rows), "parameters": params}


def run_sbc(
    ref: StudyRef,
    replications: int,
    sampler: SamplerSettings,
    *,
    seed: int,
    engine=None,
    out_dir: str | os.PathLike | None = None,
) -> SBCResult:
    """Run ``replications`` SBC replications (resumable: ``out_dir/sbc_replications.jsonl``)."""
    from ..parallel import Task, engine_or_local

    study = ref.load()
    if study.response_detector is not None:
        raise ValueError(response_refusal(study))
    if sampler.chains * sampler.draws < RANK_DRAWS:
        raise ValueError(f"chains x draws must be at least {RANK_DRAWS} for the rank statistic")
    tasks = [
        Task((SBC_PREFIX, i), sbc_replication_task, (ref, sampler.as_dict()))
        for i in range(replications)
    ]
    meta = {"kind": "sbc", "study": ref.key, "sampler": sampler.as_dict(), "rank_draws": RANK_DRAWS}
    with engine_or_local(engine) as engine:
        rows = engine.run(
            tasks,
            seed=seed,
            meta=meta,
            description="SBC replications",
            table=None if out_dir is None else Path(out_dir) / "sbc_replications.jsonl",
        )
    return sbc_result(study.name, rows, study.free_parameters)


def sbc_result(study_name: str, rows: Sequence[Mapping], parameters: Sequence[str]) -> SBCResult:
    """Uniformity tests of the ranks in ``rows``."""
    pvalues, hists, ecdf = {}, {}, {}
    for p in parameters:
        ranks = [r["ranks"][p] for r in rows]
        pv, hist = uniformity_test(ranks)
        pvalues[p], hists[p] = pv, hist.tolist()
        ecdf[p] = ecdf_band_test(ranks)
    return SBCResult(study_name, [dict(r) for r in rows], pvalues, hists, ecdf=ecdf)
