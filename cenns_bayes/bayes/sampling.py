"""NUTS sampling of study models: nutpie by default, PyMC's own NUTS as fallback.

Compilation and sampling are timed separately. The result carries the prior and prior
predictive groups and attributes that trace it to its spec (name, SHA-256, package
version, sampler), and is written to NetCDF atomically.

Compile once, swap data: with ``reuse_compiled=True`` a model whose PyTensor graph equals
that of a model compiled earlier in the process -- same structure, same constants, only
its ``pm.Data`` values differ (two points of a threshold scan) -- is not compiled again;
the earlier nutpie model is reused with the new data (``with_data``). Graph equality is
checked by PyTensor itself (:func:`pytensor.graph.basic.equal_computations`), so a change
in a prior, a fixed parameter or a nuisance width compiles a new model.

The prior predictive is drawn with PyTensor's ``FAST_COMPILE`` mode: a few hundred draws
of a dozen Poisson variables do not repay an optimised Numba compile (2-3 s); the draws
are the same: counts exactly, parameters up to the last bit of rounding (tested).
"""

from __future__ import annotations

import importlib.util
import os
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pymc as pm

from .. import __version__
from ..specs import Study
from ..stats.counting import CountingModel
from .model import build_model

if TYPE_CHECKING:
    from xarray import DataTree

    from ..stats.model import ExpectationModel

__all__ = [
    "SamplingResult",
    "choose_backend",
    "compile_nutpie",
    "sample_model",
    "sample_prior_predictive",
    "sample_study",
    "write_netcdf",
]


@dataclass
class SamplingResult:
    """The inference data of one run and what it cost."""

    idata: DataTree
    backend: str
    compile_seconds: float
    sampling_seconds: float
    model: pm.Model = field(repr=False)
    counting: ExpectationModel = field(repr=False)


def choose_backend(requested: str = "auto") -> str:
    """``nutpie`` when requested or installed (for ``auto``), else ``pymc``."""
    if requested == "pymc":
        return "pymc"
    have = importlib.util.find_spec("nutpie") is not None
    if requested == "nutpie" and not have:
        raise RuntimeError("nutpie was requested but is not installed; pip install nutpie")
    return "nutpie" if have else "pymc"


def sample_model(
    model: pm.Model,
    *,
    draws: int,
    tune: int,
    chains: int,
    seed: int,
    target_accept: float,
    backend: str = "auto",
    progressbar: bool = True,
    cores: int | None = None,
    reuse_compiled: bool = False,
    compile_with: Callable[[], object] | None = None,
) -> tuple[DataTree, str, float, float]:
    """Sample ``model`` with NUTS; returns (idata, backend, compile_s, sample_s).

    ``reuse_compiled``: take an equal model compiled earlier in this process, with this
    model's data (:func:`compile_nutpie`; nutpie only). ``compile_with``: makes the nutpie
    model instead of PyTensor (the hand-written log-density of :mod:`.direct`; nutpie only).
    """
    backend = choose_backend(backend)
    cores = cores or min(chains, os.cpu_count() or 1)
    if backend == "nutpie":
        import nutpie

        t0 = time.perf_counter()
        if compile_with is not None:
            compiled = compile_with()
        else:
            compiled = compile_nutpie(model, reuse=reuse_compiled)
        t1 = time.perf_counter()
        idata = nutpie.sample(
            compiled,
            draws=draws,
            tune=tune,
            chains=chains,
            cores=cores,
            seed=seed,
            target_accept=target_accept,
            progress_bar=progressbar,
            save_warmup=False,
        )
        t2 = time.perf_counter()
        return idata, backend, t1 - t0, t2 - t1
    t0 = time.perf_counter()
    with model:
        idata = pm.sample(
            draws=draws,
            tune=tune,
            chains=chains,
            cores=cores,
            random_seed=seed,
            target_accept=target_accept,
            nuts_sampler="pymc",
            progressbar=progressbar,
            compute_convergence_checks=False,
        )
    return idata, backend, 0.0, time.perf_counter() - t0


def sample_prior_predictive(model: pm.Model, *, draws: int, seed: int, fast_compile: bool = True):
    """Prior and prior predictive draws of ``model`` (``FAST_COMPILE``: no Numba compile)."""
    kwargs = {"compile_kwargs": {"mode": "FAST_COMPILE"}} if fast_compile else {}
    with model, warnings.catch_warnings():
        # Predictive draws of the CustomDist run in Numba's object mode: slower, not wrong.
        warnings.filterwarnings(
            "ignore", message="Numba will use object mode", category=UserWarning
        )
        # A control-data potential (smooth steady state) constrains only the posterior; the prior
        # predictive draws use the wide prior on its parameters, which is what they should show.
        warnings.filterwarnings("ignore", message="The effect of Potentials", category=UserWarning)
        return pm.sample_prior_predictive(draws=draws, random_seed=seed, **kwargs)


@dataclass
class _CompiledEntry:
    model: pm.Model
    signature: tuple
    compiled: Any  # nutpie's compiled model (nutpie ships no type information)


#: nutpie models compiled in this process (most recent last), for ``reuse_compiled``.
_COMPILED: list[_CompiledEntry] = []
#: How many compiled models :func:`compile_nutpie` keeps.
COMPILED_CACHE_SIZE = 4


def _graph_signature(model: pm.Model) -> tuple:
    """What nutpie compiles from ``model``: its outputs, their inputs and the data shapes.

    Outputs: the joint log-density and every unobserved variable (free variables on
    their own scale and deterministics), as graphs of the value variables and data.
    """
    data = sorted(((v.name, v) for v in model.data_vars), key=lambda item: item[0])
    inputs = [*model.value_vars, *(v for _, v in data)]
    names = ([v.name for v in model.value_vars], [n for n, _ in data])
    shapes = [tuple(v.get_value(borrow=True).shape) for _, v in data]
    coords = {k: tuple(v) if v is not None else None for k, v in model.coords.items()}
    outputs = [model.logp(), *model.unobserved_value_vars]
    return names, shapes, coords, inputs, outputs


def _same_graph(a: tuple, b: tuple) -> bool:
    from pytensor.graph.basic import equal_computations

    names_a, shapes_a, coords_a, inputs_a, outputs_a = a
    names_b, shapes_b, coords_b, inputs_b, outputs_b = b
    if (names_a, shapes_a, coords_a) != (names_b, shapes_b, coords_b):
        return False
    if len(outputs_a) != len(outputs_b):
        return False
    return equal_computations(outputs_a, outputs_b, in_xs=inputs_a, in_ys=inputs_b)


def compile_nutpie(model: pm.Model, *, reuse: bool = False):
    """Nutpie's compiled form of ``model``; with ``reuse``, from this process's cache if possible.

    A cached model is reused only when its PyTensor graph equals this model's up to the
    values of the ``pm.Data`` containers, which are then swapped in (``with_data``).
    """
    import nutpie

    if not reuse:
        return nutpie.compile_pymc_model(model)
    signature = _graph_signature(model)
    for entry in reversed(_COMPILED):
        if _same_graph(entry.signature, signature):
            data = {v.name: v.get_value() for v in model.data_vars}
            return entry.compiled.with_data(**data)
    compiled = nutpie.compile_pymc_model(model)
    _COMPILED.append(_CompiledEntry(model, signature, compiled))
    del _COMPILED[: max(0, len(_COMPILED) - COMPILED_CACHE_SIZE)]
    return compiled


#: The last direct model built with ``reuse_compiled``: (key, DirectModel, nutpie model).
_DIRECT_COMPILED: list[tuple[tuple, Any, Any]] = []


def _direct_key(study: Study, counting: CountingModel, pooling: str | None) -> tuple:
    """What a direct model's buffer holds besides the per-column coefficients and counts."""
    spec = study.spec
    priors: Any = spec.priors
    fixed = {**counting.fixed, **study.true_parameters()}
    return (
        tuple(study.free_parameters),
        tuple(repr(priors[name]) for name in study.free_parameters),
        repr(spec.nuisances),
        pooling or spec.nuisances.pooling,
        tuple(sorted((k, float(v)) for k, v in fixed.items())),
        tuple(counting.detector_names),
        tuple(counting.bin_labels),
    )


def _direct_reused(study: Study, counting: CountingModel, pooling: str | None):
    """The direct nutpie model of ``study``, reusing the last one built where possible.

    When the studies differ only in the count coefficients and observed counts (scan
    points), these are swapped into the earlier model's buffer
    (:meth:`.direct.DirectModel.buffer_with_counting`) instead of building it anew.
    """
    import dataclasses

    from . import direct

    key = _direct_key(study, counting, pooling)
    if _DIRECT_COMPILED and _DIRECT_COMPILED[-1][0] == key:
        _, model, compiled = _DIRECT_COMPILED[-1]
        buffer = model.buffer_with_counting(counting)
        if buffer is not None:
            buffer.flags.writeable = False
            return dataclasses.replace(compiled, user_data=buffer)
    model = direct.DirectModel(study, counting, pooling)
    compiled = direct.compile_direct_model(model)
    _DIRECT_COMPILED[:] = [(key, model, compiled)]
    return compiled


def sample_study(
    study: Study,
    *,
    draws: int | None = None,
    tune: int | None = None,
    chains: int | None = None,
    seed: int | None = None,
    backend: str | None = None,
    pooling: str | None = None,
    progressbar: bool = True,
    prior_draws: int = 500,
    counting: CountingModel | None = None,
    reuse_compiled: bool = False,
) -> SamplingResult:
    """Build the study's model and sample it (options default to the spec's ``[sampling]``).

    ``prior_draws = 0`` skips the prior and prior predictive groups; ``reuse_compiled``
    builds the model with its count coefficients as data and reuses a model compiled
    earlier in the process when the graphs are equal (:func:`compile_nutpie`).

    With nutpie, a counting study that :func:`.direct.supported` accepts is sampled
    through the hand-written log-density and gradient of :mod:`.direct` (no PyTensor
    compile; the same posterior), unless the spec says ``sampling.log_density =
    "pytensor"``. With ``reuse_compiled`` that nutpie model is built once per shape and
    later studies swap their coefficients and counts into its buffer (scan points;
    :func:`_direct_reused`). The idata's ``log_density`` attribute says which path ran.
    """
    cfg = study.spec.sampling
    draws = cfg.draws if draws is None else draws
    tune = cfg.tune if tune is None else tune
    chains = cfg.chains if chains is None else chains
    seed = cfg.seed if seed is None else seed
    model, expectation = build_model(study, pooling, counting, coefficients_as_data=reuse_compiled)
    backend = choose_backend(backend or cfg.backend)
    compile_with = None
    log_density = "pytensor"
    if backend == "nutpie" and cfg.log_density == "auto":
        from . import direct

        if isinstance(expectation, CountingModel) and direct.supported(study, expectation):
            log_density = "analytic"
            if reuse_compiled:
                compile_with = partial(_direct_reused, study, expectation, pooling)
            else:
                compile_with = partial(direct.compile_direct, study, expectation, pooling)
    idata, used, t_compile, t_sample = sample_model(
        model,
        draws=draws,
        tune=tune,
        chains=chains,
        seed=seed,
        target_accept=cfg.target_accept,
        backend=backend,
        progressbar=progressbar,
        reuse_compiled=reuse_compiled,
        compile_with=compile_with,
    )
    if prior_draws > 0:
        prior = sample_prior_predictive(model, draws=prior_draws, seed=seed + 1)
        idata.update({k: v for k, v in prior.children.items() if k not in idata.children})
    idata.attrs.update(
        {
            "study": study.name,
            "spec_path": study.path,
            "spec_sha256": study.sha256,
            "cenns_bayes_version": __version__,
            "sampler": used,
            "log_density": log_density if used == "nutpie" else "pytensor",
            "pooling": pooling or study.spec.nuisances.pooling,
            "seed": seed,
            "units": "mu_nu in 1e-10 mu_B; r2_nu in 1e-32 cm^2; counts in events",
        }
    )
    return SamplingResult(idata, used, t_compile, t_sample, model, expectation)


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
