"""Counting studies sampled by nutpie without PyTensor: a log-density with its exact gradient.

The PyMC model of a counting study (:func:`.model.build_model`) is compiled by PyTensor
and Numba into C callbacks for nutpie; Numba cannot cache those callbacks, so every
process pays 4-15 s per model shape. This module writes the same log-density by hand:

* the same variables, priors and transforms as :func:`.model.build_model` (interval
  transform of uniform priors, log transform of half-normal ones, the reflected magnetic
  moments of :mod:`.priors`, non-centred log-normal normalisations with partial, complete
  or no pooling), including PyMC's normalising constants, so the log-density equals
  ``model.logp()`` at every point (tested against PyTensor's value and gradient);
* the continuous Poisson log-likelihood n ln(lambda) - lambda - lnGamma(n + 1) of the
  counts lambda_j = A_flux A_det(j) [S (c0 + s c1 + s^2 c2) + c_mu mu^2];
* its gradient by the chain rule through d lnL / d lambda_j = n_j / lambda_j - 1.

The callbacks are module-level Numba ``cfunc``s over one float64 buffer that holds the
study's numbers, so Numba caches them on disk: a warm process builds the sampler in
milliseconds. The draws are those of the same posterior, not bit-identical to the
PyTensor path's (other rounding, other initial points): they agree within Monte Carlo
error (tested). Studies outside this scope (detector-response models, neutron-radius
nuisances, truncated-normal priors) use the PyTensor path; :func:`supported` says which.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from ..physics.constants import CHARGE_RADIUS_SHIFT
from ..specs import Study, schema
from ..stats.counting import CountingModel
from ..stats.parameters import defaults

__all__ = ["DirectModel", "compile_direct", "supported"]

#: Physics quantities the counts depend on, in the order of the buffer's slots.
_SLOTS = ("sin2_theta_w", "signal_strength", "mu_nu_mu", "mu_nu_e", "r2_nu_mu", "r2_nu_e")
#: Prior kinds: an interval-transformed uniform, a normal on the real line, a log-transformed
#: half-normal.
_INTERVAL, _NORMAL, _LOG_HALFNORMAL = 0, 1, 2
#: Maps from the sampled variable v to the quantity q in a slot (mu^2 for the moments).
_Q_IDENTITY, _Q_SQUARE, _Q_ABS, _Q_EXP, _Q_EXP2 = 0, 1, 2, 3, 4
#: Reported functions of a sampled variable v.
_OUT_V, _OUT_ABS, _OUT_SQRT_ABS, _OUT_EXP = 0, 1, 2, 3
#: Pooling codes of the per-detector normalisations. Complete pooling has no detector term
#: (the detectors share the flux normalisation, as in :mod:`.model`), so it is "absent".
_POOLING = {"absent": 0, "partial": 1, "none": 3}
_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)

# Buffer layout: a header of _HEADER numbers, then the tables at the offsets it names.
_HEADER = 16
_PHYS_WIDTH = 5  # prior kind, a, b, slot, map
_COL_WIDTH = 8  # c0, c1, c2, c_mu, is_e, detector, n, lnGamma(n + 1)


def _parameter_layout(name: str, prior) -> dict[str, Any] | None:
    """How :func:`.priors.add_parameter` parameterises ``name``; None when not supported here.

    Returns the sampled variable's name, its prior kind and constants, the map to the
    quantity the counts use, and the reported variables as (name, function of v).
    """
    is_moment = name.startswith("mu_nu")
    if name not in _SLOTS:
        return None
    if isinstance(prior, schema.UniformPrior):
        lo, hi = float(prior.lower), float(prior.upper)
        if is_moment and prior.on == "square":
            if lo == 0:
                free = f"{name}_squared_reflected"
                return dict(
                    free=free,
                    kind=_INTERVAL,
                    a=-(hi**2),
                    b=hi**2,
                    map=_Q_ABS,
                    outputs=[
                        (free, _OUT_V),
                        (f"{name}_squared", _OUT_ABS),
                        (name, _OUT_SQRT_ABS),
                    ],
                )
            free = f"{name}_squared"
            return dict(
                free=free,
                kind=_INTERVAL,
                a=lo**2,
                b=hi**2,
                map=_Q_IDENTITY,
                outputs=[(free, _OUT_V), (name, _OUT_SQRT_ABS)],
            )
        if is_moment and lo == 0:
            free = f"{name}_reflected"
            return dict(
                free=free,
                kind=_INTERVAL,
                a=-hi,
                b=hi,
                map=_Q_SQUARE,
                outputs=[(free, _OUT_V), (name, _OUT_ABS)],
            )
        return dict(
            free=name,
            kind=_INTERVAL,
            a=lo,
            b=hi,
            map=_Q_SQUARE if is_moment else _Q_IDENTITY,
            outputs=[(name, _OUT_V)],
        )
    if isinstance(prior, schema.LogUniformPrior):
        free = f"log_{name}"
        return dict(
            free=free,
            kind=_INTERVAL,
            a=math.log(prior.lower),
            b=math.log(prior.upper),
            map=_Q_EXP2 if is_moment else _Q_EXP,
            outputs=[(free, _OUT_V), (name, _OUT_EXP)],
        )
    if isinstance(prior, schema.HalfNormalPrior):
        if is_moment:
            free = f"{name}_reflected"
            return dict(
                free=free,
                kind=_NORMAL,
                a=0.0,
                b=float(prior.sigma),
                map=_Q_SQUARE,
                outputs=[(free, _OUT_V), (name, _OUT_ABS)],
            )
        return dict(
            free=name,
            kind=_LOG_HALFNORMAL,
            a=float(prior.sigma),
            b=0.0,
            map=_Q_IDENTITY,
            outputs=[(name, _OUT_V)],
        )
    if isinstance(prior, schema.NormalPrior):
        return dict(
            free=name,
            kind=_NORMAL,
            a=float(prior.mu),
            b=float(prior.sigma),
            map=_Q_SQUARE if is_moment else _Q_IDENTITY,
            outputs=[(name, _OUT_V)],
        )
    return None  # truncated normal: the PyTensor path


def supported(study: Study, counting) -> bool:
    """Whether ``study`` can be sampled by this module (else the PyTensor path is used)."""
    if not isinstance(counting, CountingModel) or counting.radius_slopes is not None:
        return False
    if not study.free_parameters:
        return False
    priors: Mapping[str, Any] = study.spec.priors  # type: ignore[assignment]
    return all(_parameter_layout(name, priors[name]) is not None for name in study.free_parameters)


class DirectModel:
    """A counting study's log-density as nutpie callbacks, with the names of its variables.

    Attributes
    ----------
    buffer : ndarray
        The float64 buffer the callbacks read (header, parameter table, fixed values,
        per-column coefficients and counts, reported-variable program).
    free_names : list of str
        Names of the unconstrained coordinates, in the order of the sampler's vector.
    outputs : list of (name, shape, dims)
        The variables of the trace, in the order of the expanded vector.
    """

    def __init__(self, study: Study, counting: CountingModel, pooling: str | None = None):
        nuis = study.spec.nuisances
        pooling = pooling or nuis.pooling
        if pooling not in ("partial", "complete", "none"):
            raise ValueError(f"unknown pooling {pooling!r}: expected partial, complete or none")
        priors: Mapping[str, Any] = study.spec.priors  # type: ignore[assignment]
        maybe = [_parameter_layout(n, priors[n]) for n in study.free_parameters]
        layouts = [lay for lay in maybe if lay is not None]
        if len(layouts) != len(maybe):
            raise ValueError(f"{study.path}: not a study this sampler path supports")
        n_det = len(counting.detector_names)
        flux_sigma = float(nuis.flux_sigma)
        det_sigma = float(nuis.detector_sigma)
        pooling_code = (
            _POOLING[pooling] if det_sigma > 0 and pooling != "complete" else _POOLING["absent"]
        )

        free: list[tuple[str, int]] = []  # (name, size) of the sampled variables
        outputs: list[tuple[str, tuple[int, ...], tuple[str, ...]]] = []
        program: list[tuple[int, int]] = []  # (physics coordinate, function) per scalar
        for i, lay in enumerate(layouts):
            free.append((lay["free"], 1))
            for out_name, fn in lay["outputs"]:
                outputs.append((out_name, (), ()))
                program.append((i, fn))
        if flux_sigma > 0:
            free.append(("flux_norm_z", 1))
            outputs += [("flux_norm_z", (), ()), ("flux_norm", (), ())]
        if pooling_code == _POOLING["partial"]:
            free += [("detector_norm_scale", 1), ("detector_norm_z", n_det)]
            outputs += [
                ("detector_norm_scale", (), ()),
                ("detector_norm_z", (n_det,), ("detector",)),
            ]
        elif pooling_code == _POOLING["none"]:
            free.append(("detector_norm_z", n_det))
            outputs.append(("detector_norm_z", (n_det,), ("detector",)))
        if pooling_code:
            outputs.append(("detector_norm", (n_det,), ("detector",)))
        n_cols = len(counting.observed)
        outputs.append(("expected_counts", (n_cols,), ("bin",)))

        fixed = {**defaults(), **counting.fixed, **study.true_parameters()}
        fixed_slots = [
            float(fixed[s]) ** 2 if s.startswith("mu_nu") else float(fixed[s]) for s in _SLOTS
        ]
        c0, c1, c2, cm = (np.asarray(r, dtype=float) for r in counting.rate_model.polynomial)
        observed = np.asarray(counting.observed, dtype=float)
        columns = np.column_stack(
            [
                c0,
                c1,
                c2,
                cm,
                (counting.rate_model.mu_index == 1).astype(float),
                counting.detector_index.astype(float),
                observed,
                [math.lgamma(n + 1.0) for n in observed],
            ]
        )
        phys = np.array(
            [
                [float(lay["kind"]), lay["a"], lay["b"], float(_SLOTS.index(name)), lay["map"]]
                for name, lay in zip(study.free_parameters, layouts, strict=True)
            ],
            dtype=np.float64,
        ).reshape(-1, _PHYS_WIDTH)
        n_dim = sum(size for _, size in free)
        n_expanded = sum(int(np.prod(shape)) for _, shape, _ in outputs)
        header = np.zeros(_HEADER)
        o_phys = _HEADER
        o_fixed = o_phys + phys.size
        o_cols = o_fixed + len(_SLOTS)
        o_out = o_cols + columns.size
        # the header's fields in the order the kernels read them (_direct_kernels: buf[0] ...)
        fields = dict(
            n_dim=n_dim,
            n_cols=n_cols,
            n_phys=len(layouts),
            n_det=n_det,
            pooling=pooling_code,
            flux_sigma=flux_sigma,
            det_sigma=det_sigma,
            n_expanded=n_expanded,
            o_phys=o_phys,
            o_fixed=o_fixed,
            o_cols=o_cols,
            n_out=len(program),
            o_out=o_out,
            radius_shift=CHARGE_RADIUS_SHIFT,
        )
        header[: len(fields)] = list(fields.values())
        self.buffer = np.concatenate(
            [header, phys.ravel(), fixed_slots, columns.ravel(), np.ravel(program)]
        ).astype(float)
        self.free_names = [
            name if size == 1 else f"{name}_{k}" for name, size in free for k in range(size)
        ]
        self.free = free
        self.outputs = outputs
        self.n_cols = n_cols
        self.o_cols = o_cols
        self.n_dim = n_dim
        self.n_expanded = n_expanded
        self.layouts = layouts
        self.coords = {
            "bin": [_label(b) for b in counting.bin_labels],
            "detector": list(counting.detector_names),
        }

    def buffer_with_counts(self, observed: np.ndarray) -> np.ndarray:
        """The buffer with other observed counts (one per column), the rest unchanged.

        Equal, number for number, to the buffer of the counting model ``with_data(observed)``
        (the same n and ln Gamma(n + 1)), without rebuilding the rest of it.
        """
        counts = np.asarray(observed, dtype=float)
        if counts.shape != (self.n_cols,):
            raise ValueError(f"expected {self.n_cols} counts, got shape {counts.shape}")
        buffer = self.buffer.copy()
        columns = buffer[self.o_cols : self.o_cols + self.n_cols * _COL_WIDTH].reshape(
            self.n_cols, _COL_WIDTH
        )  # a view: writing it writes the buffer
        columns[:, 6] = counts
        columns[:, 7] = [math.lgamma(n + 1.0) for n in counts]
        return buffer

    def buffer_with_counting(self, counting: CountingModel) -> np.ndarray | None:
        """The buffer for another counting model of the same shape; None if it differs more.

        A scan point changes the count coefficients (c0, c1, c2, c_mu) and, on Asimov
        data, the observed counts; these columns are swapped in. Everything else (priors,
        fixed values, flavour and detector of each column, pooling) must equal this
        model's, else None: the caller builds a new :class:`DirectModel`. The result equals
        ``DirectModel(study, counting).buffer`` number for number (tested).
        """
        c0, c1, c2, cm = (np.asarray(r, dtype=float) for r in counting.rate_model.polynomial)
        observed = np.asarray(counting.observed, dtype=float)
        if observed.shape != (self.n_cols,) or counting.radius_slopes is not None:
            return None
        buffer = self.buffer.copy()
        columns = buffer[self.o_cols : self.o_cols + self.n_cols * _COL_WIDTH].reshape(
            self.n_cols, _COL_WIDTH
        )  # a view: writing it writes the buffer
        same_layout = np.array_equal(
            columns[:, 4], (counting.rate_model.mu_index == 1).astype(float)
        ) and np.array_equal(columns[:, 5], counting.detector_index.astype(float))
        if not same_layout:
            return None
        columns[:, 0], columns[:, 1], columns[:, 2], columns[:, 3] = c0, c1, c2, cm
        columns[:, 6] = observed
        columns[:, 7] = [math.lgamma(n + 1.0) for n in observed]
        return buffer

    def logp_and_gradient(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        """Log-density and gradient at the unconstrained point ``x`` (for tests)."""
        kernels = _kernels()
        grad = np.zeros(self.n_dim)
        status, logp = kernels.logp_kernel(np.asarray(x, dtype=float), grad, self.buffer)
        if status != 0:
            return -math.inf, grad
        return logp, grad

    def expand(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """The trace's variables at the unconstrained point ``x`` (for tests)."""
        out = np.zeros(self.n_expanded)
        _kernels().expand_kernel(np.asarray(x, dtype=float), out, self.buffer)
        values, at = {}, 0
        for name, shape, _ in self.outputs:
            size = int(np.prod(shape))
            values[name] = out[at : at + size].reshape(shape)
            at += size
        return values

    def initial_point_function(self) -> Callable[[int], np.ndarray]:
        """Initial points as nutpie's PyMC path makes them: support point + U(-1, 1) jitter."""
        centre = np.zeros(self.n_dim)
        for i, lay in enumerate(self.layouts):
            if lay["kind"] == _NORMAL:
                centre[i] = lay["a"]
            elif lay["kind"] == _LOG_HALFNORMAL:
                centre[i] = math.log(lay["a"])  # the half-normal's scale as support point
        n_dim = self.n_dim

        def initial_point(seed: int) -> np.ndarray:
            rng = np.random.default_rng(seed)
            return centre + rng.uniform(-1.0, 1.0, size=n_dim)

        return initial_point


def _label(b) -> str:
    """A bin's coordinate label, as the PyMC model names it (without importing PyMC)."""
    return (
        "/".join(f"{x:g}" if isinstance(x, float) else str(x) for x in b)
        if isinstance(b, tuple)
        else str(b)
    )


def compile_direct(study: Study, counting: CountingModel, pooling: str | None = None):
    """A nutpie model of the study that samples the hand-written log-density.

    Returns an object :func:`nutpie.sample` accepts, with the variables, dimensions and
    coordinates of the PyMC model's posterior.
    """
    return compile_direct_model(DirectModel(study, counting, pooling))


def with_counts(compiled: Any, direct: DirectModel, observed: np.ndarray) -> Any:
    """``compiled`` (from :func:`compile_direct_model` of ``direct``) on other observed counts.

    Toys and replications swap their counts this way instead of compiling the study anew;
    the buffer equals the one of ``compile_direct`` on the counting model with those counts.
    """
    import dataclasses

    buffer = direct.buffer_with_counts(observed)
    buffer.flags.writeable = False
    return dataclasses.replace(compiled, user_data=buffer)


def compile_direct_model(direct: DirectModel):
    """The nutpie model of an already built :class:`DirectModel` (see :func:`compile_direct`)."""
    import pandas as pd
    from nutpie.compile_pymc import CompiledPyMCModel

    kernels = _kernels()
    names = [name for name, _, _ in direct.outputs]
    shapes = [shape for _, shape, _ in direct.outputs]
    slices, at = [], 0
    for shape in shapes:
        size = int(np.prod(shape))
        slices.append(slice(at, at + size))
        at += size
    dims = {name: d for name, _, d in direct.outputs if d}
    dims["expected_counts"] = ("bin",)
    coords = {k: pd.Index(v) for k, v in direct.coords.items()}
    coords["unconstrained_parameter"] = pd.Index(direct.free_names)
    buffer = direct.buffer
    buffer.flags.writeable = False
    return CompiledPyMCModel(
        _n_dim=direct.n_dim,
        dims=dims,
        _coords=coords,
        _shapes=dict(zip(names, shapes, strict=True)),
        compiled_logp_func=kernels.logp_cfunc,
        compiled_expand_func=kernels.expand_cfunc,
        initial_point_func=direct.initial_point_function(),
        shared_data={},
        shared_var_keys={},
        user_data=buffer,
        n_expanded=direct.n_expanded,
        shape_info=(names, slices, shapes),
        logp_func=None,
        expand_func=None,
        reparameterized_names=[],
    )


_KERNELS = None


def _kernels():
    """The Numba kernels (imported on first use: Numba loads them from its disk cache)."""
    global _KERNELS
    if _KERNELS is None:
        from . import _direct_kernels

        _KERNELS = _direct_kernels
    return _KERNELS
