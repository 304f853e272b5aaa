"""Priors on the physics parameters, in parameterisations that NUTS samples cleanly.

The magnetic moments live on mu >= 0 and the Asimov likelihood is flattest exactly at
mu = 0 (counts grow as mu^2, so -ln L rises like mu^4). A plain Uniform(0, U) puts the
posterior mass against a hard wall and NUTS diverges there. A reflection removes the
wall: sample x on the symmetric range and use mu = |x| (flat in mu) or mu^2 = |x|
(flat in mu^2). The density of |x| is the intended prior, and the likelihood, which
depends on mu^2 = x^2 (or |x|), is smooth in x at 0 for the flat-in-mu case.
Only the physical variable (``mu_nu_mu``) is reported; the helper ``*_reflected``
variables are bookkeeping.
"""

from __future__ import annotations

import math

import pymc as pm
import pytensor.tensor as pt

from ..specs import schema

__all__ = ["add_parameter"]


def add_parameter(name: str, prior) -> dict[str, pt.TensorVariable]:
    """Add ``name`` with its prior to the current PyMC model.

    Returns
    -------
    dict
        ``{name: tensor}`` and, for magnetic moments, ``{name + "_squared": tensor}``,
        the quantity the counts depend on.
    """
    is_moment = name.startswith("mu_nu")
    if isinstance(prior, schema.UniformPrior):
        if is_moment and prior.on == "square":
            lo2, hi2 = prior.lower**2, prior.upper**2
            if prior.lower == 0:
                x = pm.Uniform(f"{name}_squared_reflected", -hi2, hi2)
                mu2 = pm.Deterministic(f"{name}_squared", pt.abs(x))
            else:
                mu2 = pm.Uniform(f"{name}_squared", lo2, hi2)
            return {name: pm.Deterministic(name, pt.sqrt(mu2)), f"{name}_squared": mu2}
        if is_moment and prior.lower == 0:
            x = pm.Uniform(f"{name}_reflected", -prior.upper, prior.upper)
            mu = pm.Deterministic(name, pt.abs(x))
            return {name: mu, f"{name}_squared": x**2}
        value = pm.Uniform(name, prior.lower, prior.upper)
    elif isinstance(prior, schema.LogUniformPrior):
        log_value = pm.Uniform(f"log_{name}", math.log(prior.lower), math.log(prior.upper))
        value = pm.Deterministic(name, pt.exp(log_value))
    elif isinstance(prior, schema.HalfNormalPrior):
        if is_moment:
            x = pm.Normal(f"{name}_reflected", 0.0, prior.sigma)
            mu = pm.Deterministic(name, pt.abs(x))
            return {name: mu, f"{name}_squared": x**2}
        value = pm.HalfNormal(name, prior.sigma)
    elif isinstance(prior, schema.NormalPrior):
        value = pm.Normal(name, prior.mu, prior.sigma)
    elif isinstance(prior, schema.TruncatedNormalPrior):
        value = pm.TruncatedNormal(
            name, prior.mu, prior.sigma, lower=prior.lower, upper=prior.upper
        )
    else:  # pragma: no cover - the schema admits no other prior
        raise TypeError(f"unsupported prior {prior!r} for {name}")
    out = {name: value}
    if is_moment:
        out[f"{name}_squared"] = value**2
    return out
