"""Pieces shared by the calibration checks: studies in workers, fast posterior refits, intervals.

Toys and replications run as :class:`~cenns_bayes.parallel.Task` s in worker processes
(or a remote Dask cluster). A task receives the study as a :class:`StudyRef` (the TOML text
and overrides, so no file needs to exist on the worker) and builds, once per process, the
objects it needs: the validated study, its counting model and a nutpie model (the
hand-written log-density of :mod:`cenns_bayes.bayes.direct` for counting studies it
supports, else the compiled PyMC model). Later tasks in the same process swap the observed
counts (``direct.with_counts``, or ``compiled.with_data(observed_counts=...)``) and sample
again without recompiling.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "LEVELS",
    "PosteriorFit",
    "PosteriorRefitter",
    "SamplerSettings",
    "StudyRef",
    "binomial_stderr",
    "clopper_pearson",
    "get_refitter",
    "is_moment",
    "posterior_intervals",
]

#: Credibility / confidence levels every check reports.
LEVELS: tuple[float, ...] = (0.68, 0.9)


def is_moment(name: str) -> bool:
    """True for the magnetic moments, bounded below by the physical boundary mu_nu = 0."""
    return name.startswith("mu_nu")


def clopper_pearson(successes: int, trials: int, level: float = 0.95) -> tuple[float, float]:
    """Clopper-Pearson ("exact") interval of a binomial fraction.

    The lower end is the p with P(X >= k | p) = (1 - level) / 2, the upper the p with
    P(X <= k | p) = (1 - level) / 2, X ~ Binomial(trials, p), each solved with Brent's
    method on the binomial tail sums; k = 0 gives lower = 0, k = trials upper = 1.
    """
    from scipy.optimize import brentq
    from scipy.stats import binom

    k, n = int(successes), int(trials)
    if n <= 0 or not 0 <= k <= n:
        raise ValueError(f"need 0 <= successes <= trials, trials > 0 (got {k}, {n})")
    tail = 0.5 * (1.0 - level)
    lower = 0.0 if k == 0 else brentq(lambda p: binom.sf(k - 1, n, p) - tail, 0.0, 1.0, xtol=1e-12)
    upper = 1.0 if k == n else brentq(lambda p: binom.cdf(k, n, p) - tail, 0.0, 1.0, xtol=1e-12)
    return float(lower), float(upper)


def binomial_stderr(fraction: float, n: int) -> float:
    """Binomial standard error sqrt(p (1 - p) / n) of a fraction measured with ``n`` trials."""
    if n <= 0:
        return float("nan")
    return math.sqrt(max(fraction * (1.0 - fraction), 0.0) / n)


@dataclass(frozen=True)
class StudyRef:
    """A study as its TOML text plus overrides: picklable, and loadable on any worker.

    Attributes
    ----------
    text : str
        The spec file's text.
    path : str
        Where it came from (messages and relative data files).
    overrides : tuple of (str, value)
        ``--set`` overrides, sorted.
    replace : str
        JSON of top-level tables replaced wholesale (e.g. a prior variant), ``"{}"``: none.
    """

    text: str
    path: str = "<string>"
    overrides: tuple[tuple[str, Any], ...] = ()
    replace: str = "{}"

    @classmethod
    def from_file(cls, path: str | Path, overrides: Mapping[str, Any] | None = None) -> StudyRef:
        """Read the spec at ``path``; ``overrides`` as for :func:`~cenns_bayes.specs.load_study`."""
        p = Path(path)
        from ..specs.errors import SpecStructureError

        try:
            text = p.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise SpecStructureError(str(p), "", "no such file") from None
        return cls(text, str(p), tuple(sorted((overrides or {}).items())))

    def with_tables(self, **tables: Mapping[str, Any]) -> StudyRef:
        """A copy with top-level tables (``priors=...``, ``data=...``) replaced or merged.

        ``priors`` entries are merged into the spec's priors; other tables replace.
        """
        current = json.loads(self.replace)
        for key, value in tables.items():
            if key == "priors":
                current["priors"] = {**current.get("priors", {}), **dict(value)}
            else:
                current[key] = dict(value)
        return StudyRef(self.text, self.path, self.overrides, json.dumps(current, sort_keys=True))

    @property
    def key(self) -> str:
        """SHA-256 identifying the spec text, overrides and replacements."""
        h = hashlib.sha256(self.text.encode())
        h.update(repr(self.overrides).encode())
        h.update(self.replace.encode())
        return h.hexdigest()

    def load(self):
        """The validated :class:`~cenns_bayes.specs.Study` (cached per process)."""
        study = _STUDIES.get(self.key)
        if study is None:
            from ..specs import parse_study

            raw = tomllib.loads(self.text)
            for table, value in json.loads(self.replace).items():
                if table == "priors":
                    raw["priors"] = {**raw.get("priors", {}), **value}
                else:
                    raw[table] = value
            study = parse_study(raw, self.path, dict(self.overrides) or None)
            _STUDIES[self.key] = study
        return study


_STUDIES: dict[str, Any] = {}
_COUNTING: dict[str, Any] = {}
_REFITTERS: dict[tuple, PosteriorRefitter] = {}


def counting_for(ref: StudyRef):
    """The :class:`~cenns_bayes.stats.counting.CountingModel` of ``ref`` (cached per process)."""
    model = _COUNTING.get(ref.key)
    if model is None:
        from ..stats.counting import CountingModel

        model = CountingModel.from_study(ref.load())
        _COUNTING[ref.key] = model
    return model


@dataclass(frozen=True)
class SamplerSettings:
    """NUTS settings of one refit (per toy or replication: small but adequate).

    Attributes
    ----------
    draws, tune, chains : int
        Kept draws and warm-up draws per chain, number of chains (run one after the
        other in the task's process).
    target_accept : float
    """

    draws: int = 500
    tune: int = 500
    chains: int = 2
    target_accept: float = 0.95

    def as_dict(self) -> dict[str, Any]:
        """JSON-serialisable form (for table metadata)."""
        return {
            "draws": self.draws,
            "tune": self.tune,
            "chains": self.chains,
            "target_accept": self.target_accept,
        }


@dataclass
class PosteriorFit:
    """Posterior draws of the free physics parameters of one refit, with diagnostics.

    Attributes
    ----------
    draws : dict
        ``{parameter: array (chains, draws)}``.
    divergences : int
        Divergent transitions after warm-up.
    max_r_hat : float
        Worst split R-hat over the parameters.
    min_ess_bulk : float
        Smallest bulk effective sample size.
    sampling_s : float
        Wall time of the sampling call, s.
    """

    draws: dict[str, np.ndarray]
    divergences: int
    max_r_hat: float
    min_ess_bulk: float
    sampling_s: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def diagnostics(self) -> dict[str, Any]:
        """Row fields for the raw table."""
        return {
            "divergences": self.divergences,
            "max_r_hat": _finite(self.max_r_hat),
            "min_ess_bulk": _finite(self.min_ess_bulk),
            "sampling_s": round(self.sampling_s, 4),
        }


def _finite(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


class PosteriorRefitter:
    """A study's model made once for nutpie; :meth:`fit` samples it on new counts.

    A counting study that :func:`cenns_bayes.bayes.direct.supported` accepts (and whose
    spec leaves ``sampling.log_density = "auto"``) is sampled through the hand-written
    log-density: each refit builds its few-hundred-number buffer with the toy's counts,
    nothing is compiled. Other studies, and toys that carry their own auxiliary measurements
    (the hand-written log-density centres the constraints on the study's), go through the
    PyMC model, compiled once, with the counts and auxiliary data swapped (``with_data``).
    Draws are read from nutpie's raw trace, without an ArviZ object.

    Parameters
    ----------
    study : Study
        With ``[priors]`` for the free parameters.
    settings : SamplerSettings
    """

    def __init__(self, study, settings: SamplerSettings) -> None:
        from ..bayes import direct
        from ..stats.binned import model_for_study

        self.settings = settings
        self.parameters = list(study.free_parameters)
        self.study = study
        self.counting = model_for_study(study)
        self.direct = study.spec.sampling.log_density == "auto" and direct.supported(
            study, self.counting
        )
        self.compiled: Any = None
        self._direct: tuple[Any, Any] | None = None
        if not self.direct:
            self._pytensor_compiled()

    def _direct_compiled(self) -> tuple[Any, Any]:
        """The hand-written log-density of the study, built once: (nutpie model, DirectModel)."""
        if self._direct is None:
            from ..bayes.direct import DirectModel, compile_direct_model
            from ..stats.counting import CountingModel

            assert isinstance(self.counting, CountingModel)  # direct.supported checked it
            model = DirectModel(self.study, self.counting)
            self._direct = (compile_direct_model(model), model)
        return self._direct

    @functools.cached_property
    def model(self) -> Any:
        """The study's PyMC model, built at first use (the direct path never needs it).

        It serves the PyTensor path, toys with their own auxiliary measurements, and prior
        draws (SBC).
        """
        from ..bayes.model import build_model

        return build_model(self.study, counting=self.counting)[0]

    @functools.cached_property
    def auxiliary_names(self) -> dict[str, str]:
        """Nuisance name -> name of the ``pm.Data`` holding its auxiliary measurement."""
        from ..bayes.model import auxiliary_data_names

        return auxiliary_data_names(self.counting)

    @functools.cached_property
    def nominal_auxiliary(self) -> dict[str, np.ndarray]:
        """``pm.Data`` name -> the study's auxiliary measurement (builds the PyMC model)."""
        return {
            name: np.asarray(self.model[name].get_value(), dtype=float)
            for name in self.auxiliary_names.values()
        }

    def _pytensor_compiled(self) -> Any:
        """The PyMC model compiled for nutpie, once (its data are swapped per refit)."""
        if self.compiled is None:
            import nutpie

            self.compiled = nutpie.compile_pymc_model(self.model)
        return self.compiled

    def fit(
        self, counts: np.ndarray, seed: int, auxiliary: Mapping[str, Any] | None = None
    ) -> PosteriorFit:
        """Sample the posterior given observed ``counts`` (one per column), seeded by ``seed``.

        ``auxiliary`` (a toy's auxiliary measurements, nuisance name -> value) re-centres the
        constraints, as in the toy's profile-likelihood fit; by default they keep the study's.
        """
        import time

        import nutpie

        s = self.settings
        observed = np.asarray(counts, dtype=float)
        aux = {}  # pm.Data name -> the toy's auxiliary measurement, where not the nominal one
        for name, value in (auxiliary or {}).items():
            data_name = self.auxiliary_names.get(name)
            if data_name is not None:
                nominal = self.nominal_auxiliary[data_name]
                measured = np.reshape(np.asarray(value, dtype=float), nominal.shape)
                if not np.array_equal(measured, nominal):
                    aux[data_name] = measured
        if self.direct and not aux:
            from ..bayes.direct import with_counts

            compiled = with_counts(*self._direct_compiled(), observed)
        else:
            # the hand-written log-density centres its constraints on the study's nominal
            # auxiliary measurements, so a toy with its own goes through the PyMC graph
            compiled = self._pytensor_compiled().with_data(observed_counts=observed, **aux)
        t0 = time.perf_counter()
        trace = nutpie.sample(
            compiled,
            draws=s.draws,
            tune=s.tune,
            chains=s.chains,
            cores=1,
            seed=int(seed),
            target_accept=s.target_accept,
            progress_bar=False,
            save_warmup=False,
            return_raw_trace=True,
        )
        elapsed = time.perf_counter() - t0
        draws, divergences = raw_draws(trace, self.parameters)
        rhat = [split_rhat(d) for d in draws.values()]
        ess = [ess_bulk(d) for d in draws.values()]
        return PosteriorFit(draws, divergences, max(rhat), min(ess), elapsed)


def raw_draws(trace, names: list[str]) -> tuple[dict[str, np.ndarray], int]:
    """Kept draws ``{name: (chains, draws)}`` and divergences from nutpie's raw trace.

    The raw trace holds warm-up and kept draws per chain (``tuning`` marks warm-up); this
    reads the scalar variables ``names`` of the kept ones without building an ArviZ tree.
    """
    draw_batches, stat_batches = trace.get_arrow_trace()
    out: dict[str, list[np.ndarray]] = {name: [] for name in names}
    divergences = 0
    for draws, stats in zip(draw_batches, stat_batches, strict=True):
        kept = ~np.asarray(stats.column("tuning"), dtype=bool)
        divergences += int(np.asarray(stats.column("diverging"), dtype=bool)[kept].sum())
        for name in names:
            out[name].append(np.asarray(draws.column(name), dtype=float)[kept])
    return {name: np.stack(v) for name, v in out.items()}, divergences


def get_refitter(ref: StudyRef, settings: SamplerSettings) -> PosteriorRefitter:
    """The process's :class:`PosteriorRefitter` for ``ref`` (compiled at the first call)."""
    key = (ref.key, settings)
    fitter = _REFITTERS.get(key)
    if fitter is None:
        fitter = PosteriorRefitter(ref.load(), settings)
        _REFITTERS[key] = fitter
    return fitter


# -- diagnostics -------------------------------------------------------------------------
def split_rhat(draws: np.ndarray) -> float:
    """Rank-normalised split R-hat of draws shaped (chains, draws) (ArviZ's array API)."""
    from arviz_stats.base import array_stats

    return float(
        array_stats.rhat(np.asarray(draws, dtype=float), chain_axis=0, draw_axis=1, method="rank")
    )


def ess_bulk(draws: np.ndarray) -> float:
    """Bulk effective sample size of draws shaped (chains, draws) (ArviZ's array API)."""
    from arviz_stats.base import array_stats

    return float(
        array_stats.ess(np.asarray(draws, dtype=float), chain_axis=0, draw_axis=1, method="bulk")
    )


# -- intervals from draws --------------------------------------------------------------
def posterior_intervals(
    name: str, draws: np.ndarray, levels: Sequence[float] = LEVELS
) -> dict[str, dict[str, list[float]]]:
    """HDI, ETI and one-sided upper limit of the draws of ``name`` at each level.

    Returns ``{"posterior-hdi": {"0.9": [lo, hi]}, "posterior-eti": ..., "posterior-upper": ...}``;
    the one-sided upper limit only for magnetic moments. The HDI is
    :func:`~cenns_bayes.bayes.summary.credible_hdi` with the parameter's physical boundary,
    the same rule the reports use: [0, q_level] unless the draws show the density at
    mu = 0 to be below the density at q_level.
    """
    from ..bayes.summary import credible_hdi, physical_lower_bound

    by_chain = np.asarray(draws, dtype=float)  # (chains, draws): the rule uses their ESS
    x = by_chain.reshape(-1)
    out: dict[str, dict[str, list[float]]] = {"posterior-hdi": {}, "posterior-eti": {}}
    for level in levels:
        lo, hi = credible_hdi(by_chain, level, physical_lower_bound(name))
        out["posterior-hdi"][_lv(level)] = [lo, hi]
        tail = (1.0 - level) / 2.0
        out["posterior-eti"][_lv(level)] = [float(v) for v in np.quantile(x, [tail, 1.0 - tail])]
    if is_moment(name):
        out["posterior-upper"] = {
            _lv(level): [0.0, float(np.quantile(x, level))] for level in levels
        }
    return out


def _lv(level: float) -> str:
    """Key of a level in the tables: ``"0.68"``, ``"0.9"``."""
    return f"{level:g}"
