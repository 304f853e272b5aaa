"""The Python interface of cenns_bayes: five calls that cover the command line's main jobs.

>>> import cenns_bayes as cb
>>> study = cb.load_study("models/paper_realistic.toml", {"detectors.Ar40.mass_kg": 2000})
>>> cb.expected_counts(study, mu_nu_mu=5.0)            # doctest: +SKIP
>>> cb.fit(study)["parameters"]                         # doctest: +SKIP
>>> idata = cb.sample(study, draws=1000, seed=1)        # doctest: +SKIP
>>> idata.to_netcdf("posterior.nc")                     # doctest: +SKIP
>>> cb.load_posterior("posterior.nc", study=study)      # doctest: +SKIP

Importing this module imports neither PyMC nor ArviZ; :func:`sample` and
:func:`load_posterior` import them when called. The functions wrap the internal layers
(``specs``, ``stats``, ``bayes``) without adding statistics of their own: the profile fit
goes through :func:`_profile_fit` alone, so that it can be pointed at another engine in
one place.

Units: mu_nu_* in 1e-10 mu_B, r2_nu_* in 1e-32 cm^2, counts in events.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .provenance import provenance
from .specs import Study
from .specs import load_study as _load_study_file

if TYPE_CHECKING:
    from xarray import DataTree

__all__ = [
    "SpecHashMismatchError",
    "expected_counts",
    "fit",
    "load_posterior",
    "load_study",
    "sample",
]

#: Physics parameters that :func:`expected_counts` accepts as keywords.
PHYSICS_PARAMETERS: tuple[str, ...] = (
    "sin2_theta_w",
    "mu_nu_mu",
    "mu_nu_e",
    "r2_nu_mu",
    "r2_nu_e",
)


class SpecHashMismatchError(ValueError):
    """A saved posterior was made from a spec other than the one it is loaded against."""


def load_study(path: str | os.PathLike[str], overrides: Mapping[str, Any] | None = None) -> Study:
    """Read and validate a study file.

    Parameters
    ----------
    path : str or os.PathLike
        The study's TOML file (``models/*.toml``; schema in ``docs/specs.md``).
    overrides : mapping, optional
        Values to change, by dotted path, as ``--set`` does on the command line:
        ``{"detectors.Ar40.mass_kg": 2000, "mu_nu_mu": 5}``.

    Returns
    -------
    Study
        The validated study. Its ``sha256`` (spec text plus overrides) travels into every
        result made from it.

    Raises
    ------
    cenns_bayes.specs.SpecError
        Naming the file, the key and the problem.
    """
    return _load_study_file(Path(path), overrides)


def _as_study(study: Study | str | os.PathLike[str]) -> Study:
    return study if isinstance(study, Study) else load_study(study)


def expected_counts(
    study: Study | str | os.PathLike[str], *, binned: bool = False, **params: float
) -> dict[str, dict[str, Any]]:
    """Expected CEvNS counts per detector and flavour (what ``cenns-bayes rates`` prints).

    Parameters
    ----------
    study : Study or path
        A loaded study or the path of its TOML file.
    binned : bool, optional
        Counts per recoil bin (arrays) instead of totals over the window.
    **params : float
        Physics parameters that replace the study's ``[parameters]``: ``sin2_theta_w``,
        ``mu_nu_mu`` and ``mu_nu_e`` (1e-10 mu_B), ``r2_nu_mu`` and ``r2_nu_e`` (1e-32 cm^2).

    Returns
    -------
    dict
        ``{detector: {flavour: counts}}``, counts in events over the study's exposure: a
        float, or with ``binned=True`` a NumPy array over the recoil bins.

    Raises
    ------
    ValueError
        For a parameter name not in the list above.
    """
    unknown = sorted(set(params) - set(PHYSICS_PARAMETERS))
    if unknown:
        raise ValueError(
            f"unknown parameter(s) {unknown}; expected some of {list(PHYSICS_PARAMETERS)}"
        )
    study = _as_study(study)
    values = {**study.true_parameters(), **{k: float(v) for k, v in params.items()}}
    out: dict[str, dict[str, Any]] = {}
    for detector in study.detector_names:
        out[detector] = {}
        for flavor in study.flavors:
            channel = study.channel(detector, flavor, binned=binned)
            counts = channel.counts(
                values["sin2_theta_w"], values[channel.mu_parameter], values[channel.r2_parameter]
            )
            out[detector][flavor] = counts if binned else float(counts.sum())
    return out


def _profile_fit(study: Study) -> dict[str, Any]:
    """The one call into the profile-likelihood engine (re-point here if it moves)."""
    from .stats.fit import fit_study

    return fit_study(study)


def fit(study: Study | str | os.PathLike[str]) -> dict[str, Any]:
    """Maximum-likelihood fit with profile-likelihood intervals (``cenns-bayes fit``).

    Parameters
    ----------
    study : Study or path
        A study with at least one ``[priors]`` entry (the parameters to fit).

    Returns
    -------
    dict
        ``parameters`` (``best``, ``interval_68``, ``interval_90`` per free parameter, from
        Delta(-2 ln L) = 1 and 2.706), ``derived``, ``significance_sigma`` and ``details``,
        plus ``cenns_bayes_version`` and ``spec_sha256``.

    Raises
    ------
    ValueError
        When the study has no free parameter.
    """
    study = _as_study(study)
    if not study.free_parameters:
        raise ValueError(
            f"{study.path}: priors: no free parameters; give each parameter to fit a [priors] entry"
        )
    return {**_profile_fit(study), **provenance(study)}


def sample(
    study: Study | str | os.PathLike[str],
    *,
    draws: int | None = None,
    tune: int | None = None,
    chains: int | None = None,
    seed: int | None = None,
    progressbar: bool = False,
) -> DataTree:
    """Sample the study's posterior with NUTS (``cenns-bayes sample``).

    Parameters
    ----------
    study : Study or path
        A study with at least one ``[priors]`` entry.
    draws, tune, chains, seed : int, optional
        Draws and warm-up per chain, number of chains, random seed; each defaults to the
        spec's ``[sampling]`` value.
    progressbar : bool, optional
        Show the sampler's progress bar.

    Returns
    -------
    xarray.DataTree
        ArviZ's inference data (``posterior``, ``sample_stats``, ``prior``, ...) whose
        attributes hold ``spec_sha256`` and ``cenns_bayes_version``; save it with
        ``idata.to_netcdf(path)`` and read it back with :func:`load_posterior`.

    Raises
    ------
    ValueError
        When the study has no free parameter or a count is not positive.
    """
    for name, value in (("draws", draws), ("tune", tune), ("chains", chains)):
        if value is not None and value < 1:
            raise ValueError(f"{name} must be a positive integer (got {value})")
    study = _as_study(study)
    if not study.free_parameters:
        raise ValueError(f"{study.path}: priors: no free parameter; give [priors] for at least one")
    from .bayes import sample_study

    result = sample_study(
        study, draws=draws, tune=tune, chains=chains, seed=seed, progressbar=progressbar
    )
    return result.idata


def load_posterior(
    path: str | os.PathLike[str], study: Study | str | os.PathLike[str] | None = None
) -> DataTree:
    """Read a posterior written by :func:`sample`, ``cenns-bayes sample --out`` or ``study``.

    Parameters
    ----------
    path : str or os.PathLike
        The NetCDF file.
    study : Study or path, optional
        When given, the file must have been made from exactly this spec (with the same
        overrides): its ``spec_sha256`` attribute must equal ``study.sha256``.

    Returns
    -------
    xarray.DataTree
        The inference data.

    Raises
    ------
    FileNotFoundError
        When there is no such file.
    SpecHashMismatchError
        When ``study`` is given and the file records another spec's hash, or none.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    import arviz as az

    idata = az.from_netcdf(path)
    if study is not None:
        study = _as_study(study)
        saved = idata.attrs.get("spec_sha256")
        if saved != study.sha256:
            found = "no spec hash" if saved is None else f"spec SHA-256 {str(saved)[:12]}…"
            raise SpecHashMismatchError(
                f"{path}: records {found}, but {study.path} (with its overrides) has "
                f"{study.sha256[:12]}…; the posterior was made from another spec"
            )
    return idata
