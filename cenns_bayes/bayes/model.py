"""PyMC models of counting studies: Poisson channels fed by exact count coefficients.

Structure (per study):

* free physics parameters with the spec's priors (:mod:`.priors`), the others fixed;
* a shared flux normalisation A_flux = exp(sigma_flux z), z ~ N(0, 1) (log-normal, so it
  cannot go negative and open a spurious mode at A < 0);
* per-detector normalisations, pooled as the spec says:
  ``partial`` -- A_d = exp(tau z_d), z_d ~ N(0, 1), tau ~ HalfNormal(sigma_det)
  (hierarchical, non-centred); ``complete`` -- A_d = 1: the detectors share one
  normalisation, the flux term (the tau -> 0 limit of partial pooling; a common detector
  factor on top would only multiply the flux normalisation, degenerate with it);
  ``none`` -- A_d = exp(sigma_det z_d), independent;
* the continuous extension of the Poisson log-density, n ln(lambda) - lambda - lnGamma(n+1),
  so Asimov (non-integer) data are used as they are (``pm.Poisson`` would truncate them).
"""

from __future__ import annotations

from dataclasses import replace
from typing import cast

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from ..specs import Study
from ..specs.schema import ParameterName
from ..stats.counting import CountingModel
from ..stats.model import ExpectationModel, draw_pseudo_data
from .direct import _label
from .priors import add_parameter

__all__ = [
    "auxiliary_data_names",
    "build_model",
    "counting_data",
    "poisson_logp",
    "poisson_random",
]

#: Shape shift of the Gamma marginal of a per-bin rate: m + 1/2 for the Jeffreys prior b^(-1/2),
#: m + 1 for a flat prior.
_GAMMA_SHIFT = {"jeffreys": 0.5, "uniform": 1.0}
#: Width (in units of the control-only standard errors) of the normal prior on the z of an
#: auxiliary nuisance: wide enough to be flat where the control likelihood lives, proper.
_AUXILIARY_Z_WIDTH = 10.0


def poisson_logp(value, expected):
    """Continuous Poisson log-density: value ln(expected) - expected - lnGamma(value + 1)."""
    return value * pt.log(expected) - expected - pt.gammaln(value + 1.0)


def poisson_random(expected, rng=None, size=None):
    """Poisson draws of the counts, for prior (SBC) and posterior predictive sampling.

    Drawn by the toy generator of the fits (:func:`cenns_bayes.stats.model.draw_pseudo_data`).
    The auxiliary measurements are not drawn: in the PyMC model they are data that centre
    the nuisances' priors, so a joint prior draw keeps them as they are.
    """
    mean = np.asarray(expected, dtype=float)
    counts, _ = draw_pseudo_data(mean if size is None else np.broadcast_to(mean, size), [], {}, rng)
    return counts


def build_model(
    study: Study,
    pooling: str | None = None,
    counting: ExpectationModel | None = None,
    coefficients_as_data: bool = False,
) -> tuple[pm.Model, ExpectationModel]:
    """Build the PyMC model of a study.

    Parameters
    ----------
    study : Study
        Validated study with ``[priors]`` for the free parameters.
    pooling : {"partial", "complete", "none"}, optional
        Overrides the spec's ``nuisances.pooling`` (counting studies with several detectors).
    counting : ExpectationModel, optional
        Pre-built statistical model (to reuse its coefficients across builds); by default
        :func:`cenns_bayes.stats.binned.model_for_study` (a counting or a response model).
    coefficients_as_data : bool
        Counting studies: put the count coefficients in ``pm.Data`` containers rather than
        in the graph as constants, so that one compiled model serves every study that
        differs only in them (scan points; :func:`counting_data`). The draws are the same
        either way; a model with constants compiles faster, so it is the default.

    Returns
    -------
    (pm.Model, ExpectationModel)
        The observed counts are a ``pm.Data`` named ``observed_counts`` so toy studies can
        swap them without rebuilding; with ``coefficients_as_data`` the count coefficients
        are ``count_coefficients`` (and ``radius_slopes``), see :func:`counting_data`.
    """
    if not study.free_parameters:
        raise ValueError(f"{study.path}: priors: no free parameter; give [priors] for at least one")
    if counting is None:
        from ..stats.binned import model_for_study

        counting = model_for_study(study)
    coords = {"bin": [_label(b) for b in counting.bin_labels]}
    if isinstance(counting, CountingModel):
        coords["detector"] = counting.detector_names
    fixed = study.true_parameters()
    with pm.Model(coords=coords) as model:
        params: dict = {k: v for k, v in fixed.items() if k not in study.spec.priors}
        for name in study.free_parameters:
            # free_parameters lists keys of priors, so the name is a ParameterName
            params.update(add_parameter(name, study.spec.priors[cast(ParameterName, name)]))
        if isinstance(counting, CountingModel):
            nuisances = _counting_nuisances(study, counting, pooling)
        else:
            nuisances = _declared_nuisances(counting)
        if coefficients_as_data and isinstance(counting, CountingModel):
            # the numbers that change between scan points are data, not graph constants,
            # so one compiled model serves every point (see sampling.compile_nutpie)
            data = counting_data(counting)
            polynomial = pm.Data("count_coefficients", data["count_coefficients"])
            slopes = (
                pm.Data("radius_slopes", data["radius_slopes"]) if "radius_slopes" in data else None
            )
            mean = counting.expected(
                params, nuisances, xp=pt, polynomial=polynomial, radius_slopes=slopes
            )
        else:
            mean = counting.expected(params, nuisances, xp=pt)
        expected = pm.Deterministic("expected_counts", mean, dims="bin")
        observed = pm.Data(
            "observed_counts", np.asarray(counting.observed, dtype=float), dims="bin"
        )
        pm.CustomDist(
            "counts",
            expected,
            logp=poisson_logp,
            random=poisson_random,
            observed=observed,
            dims="bin",
        )
    return model, counting


def counting_data(counting: CountingModel) -> dict[str, np.ndarray]:
    """The numbers of a counting study that enter its PyMC model as ``pm.Data``.

    Two studies whose models differ only in these (e.g. two points of a threshold or
    mass scan) share one compiled model: ``count_coefficients`` (c0, c1, c2, c_mu) per
    column, shape (4, n_columns); ``radius_slopes`` (2, 4, n_columns) when the study has
    neutron-radius nuisances; ``observed_counts`` (n_columns,).
    """
    out = {
        "count_coefficients": np.array(counting.rate_model.polynomial, dtype=float),
        "observed_counts": np.asarray(counting.observed, dtype=float),
    }
    if counting.radius_slopes is not None:
        out["radius_slopes"] = np.array(counting.radius_slopes, dtype=float)
    return out


def _counting_nuisances(study: Study, counting: CountingModel, pooling: str | None) -> dict:
    """A counting study's nuisances: its declared constraints, the detector ones pooled as asked.

    ``partial`` -- A_d = exp(c_d + tau z_d), tau ~ HalfNormal(sigma_det); ``complete`` -- no
    detector term (A_d = 1, the flux term is the shared normalisation); ``none`` --
    independent, as declared.
    """
    pooling = pooling or study.spec.nuisances.pooling
    if pooling not in ("partial", "complete", "none"):
        raise ValueError(f"unknown pooling {pooling!r}: expected partial, complete or none")
    out = {}
    for spec in counting.nuisances:
        if spec.name != "detector_norm":
            out[spec.name] = _nuisance_variable(spec)
            continue
        if pooling == "complete":
            # no detector term: the detectors share one normalisation, the flux term (the
            # tau -> 0 limit of partial pooling; a common factor would be degenerate with it)
            continue
        if pooling == "none":
            out[spec.name] = _nuisance_variable(spec, dims="detector")
            continue
        centre = _centre(spec, dims="detector")
        tau = pm.HalfNormal("detector_norm_scale", spec.sigma)
        log_norm = centre + tau * pm.Normal("detector_norm_z", 0.0, 1.0, dims="detector")
        out[spec.name] = pm.Deterministic("detector_norm", pt.exp(log_norm), dims="detector")
    return out


def auxiliary_data_names(model: ExpectationModel) -> dict[str, str]:
    """Nuisance name -> name of the ``pm.Data`` holding its auxiliary measurement.

    Toys swap these with the main counts (``compiled.with_data``), so a posterior refit of a
    toy is centred on the toy's own auxiliary measurements, as its profile-likelihood fit is.
    The control data of ``auxiliary`` nuisances are not redrawn and stay constants.
    """
    return {s.name: f"{s.name}_centre" for s in model.nuisances if s.kind != "auxiliary"}


def _centre(spec, dims: str | None = None):
    """The auxiliary measurement of ``spec`` as ``pm.Data`` (see :func:`auxiliary_data_names`)."""
    shape = () if spec.size == 1 and dims is None and spec.kind != "poisson" else (spec.size,)
    value = np.broadcast_to(np.asarray(spec.centre, dtype=float), shape).copy()
    return pm.Data(f"{spec.name}_centre", value, dims=dims)


def _nuisance_variable(spec, dims: str | None = None):
    """The PyMC variable of one declared nuisance (its prior, and its auxiliary likelihood).

    log-normal and normal nuisances are non-centred: value = f(centre + sigma z),
    z ~ N(0, 1), the centre their auxiliary measurement. A ``poisson`` nuisance (a rate b
    measured by auxiliary counts m ~ Poisson(tau b)) has the exact marginal
    b ~ Gamma(m + 1/2, tau) under the Jeffreys prior b^(-1/2) (``prior = "jeffreys"``) or
    Gamma(m + 1, tau) under a flat prior (``"uniform"``), which is what its prior times its
    auxiliary likelihood integrate to. An ``auxiliary`` nuisance theta = centre + sigma z
    gets z ~ N(0, 10) (flat on the scale of the control data), a potential with its
    control-data log-likelihood, and the rate prior its ``prior`` names (Jeffreys or flat in
    the background amplitudes, flat in the shape parameters).
    """
    if spec.kind == "poisson":
        m = _centre(spec)
        shift = _GAMMA_SHIFT[spec.prior]
        value = pm.Gamma(spec.name, alpha=m + shift, beta=spec.sigma, shape=(spec.size,))
        return value if spec.size > 1 else value[0]
    if spec.kind == "auxiliary":
        z = pm.Normal(f"{spec.name}_z", 0.0, _AUXILIARY_Z_WIDTH, shape=(spec.size,))
        theta = pm.Deterministic(spec.name, spec.from_z(z, xp=pt))
        pm.Potential(
            f"{spec.name}_control",
            -0.5 * spec.auxiliary.control_neg2ll(theta, xp=pt)
            + spec.auxiliary.log_rate_prior(theta, spec.prior, xp=pt),
        )
        return theta
    if dims is not None:
        z = pm.Normal(f"{spec.name}_z", 0.0, 1.0, dims=dims)
    else:
        z = pm.Normal(f"{spec.name}_z", 0.0, 1.0, shape=() if spec.size == 1 else (spec.size,))
    centred = replace(spec, centre=_centre(spec, dims))
    return pm.Deterministic(spec.name, centred.from_z(z, xp=pt), dims=dims)


def _declared_nuisances(model: ExpectationModel) -> dict:
    """PyMC variables for the constrained nuisances an ExpectationModel declares."""
    return {spec.name: _nuisance_variable(spec) for spec in model.nuisances}
