"""NUTS sampling of study models: nutpie by default, PyMC's own NUTS as fallback.

Compilation and sampling are timed separately. The result carries the prior and prior
predictive groups and attributes that trace it to its spec (name, SHA-256, package
version, sampler), and is written to NetCDF atomically.
"""

from __future__ import annotations

import importlib.util
import os
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pymc as pm

from .. import __version__
from ..specs import Study
from ..stats.counting import CountingModel
from .model import build_model

__all__ = ["SamplingResult", "choose_backend", "sample_model", "sample_study", "write_netcdf"]


@dataclass
class SamplingResult:
    """The inference data of one run and what it cost."""

    idata: object
    backend: str
    compile_seconds: float
    sampling_seconds: float
    model: pm.Model = field(repr=False)
    counting: CountingModel = field(repr=False)


def choose_backend(requested: str = "auto") -> str:
    """``nutpie`` when requested or installed (for ``auto``), else ``pymc``."""
    if requested == "pymc":
        return "pymc"
    have = importlib.util.find_spec("nutpie") is not None
    if requested == "nutpie" and not have:
        raise RuntimeError("nutpie was requested but is not installed; pip install nutpie")
    return "nutpie" if have else "pymc"


def sample_model(model: pm.Model, *, draws: int, tune: int, chains: int, seed: int,
                 target_accept: float, backend: str = "auto", progressbar: bool = True,
                 cores: int | None = None) -> tuple[object, str, float, float]:
    """Sample ``model`` with NUTS; returns (idata, backend, compile_s, sample_s)."""
    backend = choose_backend(backend)
    cores = cores or min(chains, os.cpu_count() or 1)
    if backend == "nutpie":
        import nutpie

        t0 = time.perf_counter()
        compiled = nutpie.compile_pymc_model(model)
        t1 = time.perf_counter()
        idata = nutpie.sample(compiled, draws=draws, tune=tune, chains=chains, cores=cores,
                              seed=seed, target_accept=target_accept, progress_bar=progressbar,
                              save_warmup=False)
        t2 = time.perf_counter()
        return idata, backend, t1 - t0, t2 - t1
    t0 = time.perf_counter()
    with model:
        idata = pm.sample(draws=draws, tune=tune, chains=chains, cores=cores, random_seed=seed,
                          target_accept=target_accept, nuts_sampler="pymc",
                          progressbar=progressbar, compute_convergence_checks=False)
    return idata, backend, 0.0, time.perf_counter() - t0


def sample_study(study: Study, *, draws: int | None = None, tune: int | None = None,
                 chains: int | None = None, seed: int | None = None,
                 backend: str | None = None, pooling: str | None = None,
                 progressbar: bool = True, prior_draws: int = 500,
                 counting: CountingModel | None = None) -> SamplingResult:
    """Build the study's model and sample it (options default to the spec's ``[sampling]``)."""
    cfg = study.spec.sampling
    draws = cfg.draws if draws is None else draws
    tune = cfg.tune if tune is None else tune
    chains = cfg.chains if chains is None else chains
    seed = cfg.seed if seed is None else seed
    model, counting = build_model(study, pooling, counting)
    idata, used, t_compile, t_sample = sample_model(
        model, draws=draws, tune=tune, chains=chains, seed=seed,
        target_accept=cfg.target_accept, backend=backend or cfg.backend, progressbar=progressbar)
    with model, warnings.catch_warnings():
        # Predictive draws of the CustomDist run in Numba's object mode: slower, not wrong.
        warnings.filterwarnings("ignore", message="Numba will use object mode", category=UserWarning)
        # A control-data potential (smooth steady state) constrains only the posterior; the prior
        # predictive draws use the wide prior on its parameters, which is what they should show.
        warnings.filterwarnings("ignore", message="The effect of Potentials", category=UserWarning)
        prior = pm.sample_prior_predictive(draws=prior_draws, random_seed=seed + 1)
    idata.update({k: v for k, v in prior.children.items() if k not in idata.children})
    idata.attrs.update({
        "study": study.name,
        "spec_path": study.path,
        "spec_sha256": study.sha256,
        "cenns_bayes_version": __version__,
        "sampler": used,
        "pooling": pooling or study.spec.nuisances.pooling,
        "seed": seed,
        "units": "mu_nu in 1e-10 mu_B; r2_nu in 1e-32 cm^2; counts in events",
    })
    return SamplingResult(idata, used, t_compile, t_sample, model, counting)


def write_netcdf(idata, path: str | os.PathLike) -> Path:
    """Write ``idata`` to NetCDF atomically: no half-written file survives an interruption."""
    from ..io import atomic_path

    path = Path(path)
    with atomic_path(path) as tmp:
        idata.to_netcdf(str(tmp), engine="h5netcdf")
    return path


def divergences(idata) -> int:
    """Number of divergent transitions after warm-up."""
    return int(np.asarray(idata["sample_stats"]["diverging"]).sum())
