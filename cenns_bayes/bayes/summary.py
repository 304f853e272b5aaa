"""Posterior summaries and sampler diagnostics, in the units of the study."""

from __future__ import annotations

import numpy as np

__all__ = [
    "boundary_density_ratio",
    "credible_hdi",
    "diagnostics",
    "hdi",
    "physical_lower_bound",
    "posterior_predictive_pvalue",
    "summarise_posterior",
]


def _draws(idata, name: str) -> np.ndarray:
    return np.asarray(idata["posterior"][name]).reshape(-1)


def hdi(samples: np.ndarray, prob: float) -> tuple[float, float]:
    """Highest-density interval of 1-D samples (shortest interval holding ``prob``).

    ArviZ's estimator from the sorted draws (``method="nearest"``); for a posterior piled
    against a boundary such as mu = 0 it starts at the boundary (the smallest draw).
    """
    import arviz as az

    lower, upper = az.hdi(np.asarray(samples, dtype=float).reshape(-1), prob=prob)
    return float(lower), float(upper)


def physical_lower_bound(name: str) -> float | None:
    """The physical lower boundary of a parameter, or None for a parameter without one.

    0 for the magnetic moments (and their squares) and for ``signal_strength``.
    """
    return 0.0 if name.startswith("mu_nu") or name == "signal_strength" else None


def _reflected_density(x: np.ndarray, bound: float, points: np.ndarray) -> np.ndarray:
    """Density of draws ``x`` >= ``bound`` at ``points`` by a reflected Gaussian kernel.

    The draws are reflected about the boundary (no leakage below it, so the estimate at
    the boundary itself is not halved). Bandwidth: Silverman's rule on the reflected sample.
    """
    y = np.concatenate([x, 2.0 * bound - x])
    sd = float(np.std(y))
    iqr = float(np.subtract(*np.quantile(y, [0.75, 0.25])))
    spread = min(sd, iqr / 1.349) if iqr > 0 else sd
    h = 0.9 * spread * y.size ** (-0.2)
    if not h > 0:
        return np.zeros_like(points, dtype=float)
    z = (np.asarray(points, dtype=float)[:, None] - y[None, :]) / h
    # the reflected sample has 2N points; the density of the N draws on [bound, inf) is twice it
    return 2.0 * np.exp(-0.5 * z * z).sum(axis=1) / (y.size * h * np.sqrt(2.0 * np.pi))


def boundary_density_ratio(samples: np.ndarray, prob: float, bound: float = 0.0) -> float:
    """Estimated density at ``bound`` over the density at the ``prob`` quantile.

    A ratio >= 1 means that the highest-density region of level ``prob`` is
    [bound, quantile].
    """
    x = np.asarray(samples, dtype=float).reshape(-1)
    q = float(np.quantile(x, prob))
    f0, fq = _reflected_density(x, bound, np.array([bound, q]))
    return float(f0 / fq) if fq > 0 else float("inf")


def credible_hdi(
    samples: np.ndarray, prob: float, lower_bound: float | None = None
) -> tuple[float, float]:
    """Highest-density credible interval, aware of a physical lower boundary.

    Without ``lower_bound``: :func:`hdi`. With one (mu_nu >= 0, signal_strength >= 0, see
    :func:`physical_lower_bound`): when the posterior density at the boundary, estimated
    from the draws reflected about it, is at least the density at the ``prob`` quantile q,
    the highest-density region starts at the boundary and the interval is
    [lower_bound, q] with the boundary exact (draws never reach it, so the plain HDI of the
    draws would start at the smallest draw instead); otherwise the plain HDI.
    """
    if lower_bound is None:
        return hdi(samples, prob)
    x = np.asarray(samples, dtype=float).reshape(-1)
    if boundary_density_ratio(x, prob, lower_bound) >= 1.0:
        return float(lower_bound), float(np.quantile(x, prob))
    return hdi(x, prob)


def summarise_posterior(idata, parameters: list[str]) -> dict[str, dict]:
    """Mean, sd, 68 % and 90 % HDI and ETI, one-sided 90 % upper limit, R-hat and bulk ESS.

    The HDIs are :func:`credible_hdi` with the parameter's physical boundary (an HDI of
    mu_nu whose density is highest at mu_nu = 0 is [0, q]).
    """
    import arviz as az

    rhat = az.rhat(idata, var_names=parameters)
    ess = az.ess(idata, var_names=parameters, method="bulk")
    ess_tail = az.ess(idata, var_names=parameters, method="tail")
    out = {}
    for name in parameters:
        x = _draws(idata, name)
        out[name] = {
            "mean": float(x.mean()),
            "sd": float(x.std(ddof=1)),
            "median": float(np.median(x)),
            "hdi_68": list(credible_hdi(x, 0.68, physical_lower_bound(name))),
            "hdi_90": list(credible_hdi(x, 0.90, physical_lower_bound(name))),
            "eti_68": [float(v) for v in np.quantile(x, [0.16, 0.84])],
            "eti_90": [float(v) for v in np.quantile(x, [0.05, 0.95])],
            "upper_90": float(np.quantile(x, 0.90)),
            "r_hat": float(np.asarray(rhat[name])),
            "ess_bulk": float(np.asarray(ess[name])),
            "ess_tail": float(np.asarray(ess_tail[name])),
        }
    return out


def diagnostics(idata, parameters: list[str]) -> dict:
    """Divergences, worst R-hat, smallest bulk and tail ESS over ``parameters``."""
    summ = summarise_posterior(idata, parameters)
    stats = idata["sample_stats"]
    return {
        "divergences": int(np.asarray(stats["diverging"]).sum()),
        "max_r_hat": max(s["r_hat"] for s in summ.values()),
        "min_ess_bulk": min(s["ess_bulk"] for s in summ.values()),
        "min_ess_tail": min(s["ess_tail"] for s in summ.values()),
        "chains": int(stats.sizes["chain"]),
        "draws": int(stats.sizes["draw"]),
    }


def posterior_predictive_pvalue(
    idata, observed: np.ndarray, seed: int = 0, max_draws: int = 2000
) -> dict:
    """Posterior predictive check with the Poisson deviance as discrepancy.

    For each posterior draw of the expected counts lambda, T(n, lambda) =
    2 sum[lambda - n + n ln(n / lambda)] is computed for the observed counts and for a
    replicated data set n_rep ~ Poisson(lambda); the p-value is P(T_rep >= T_obs).
    Values near 0 say the model does not reproduce the data's scatter (Gelman, Meng and
    Stern 1996). Asimov data, which have no scatter, give large p (0.68 for one bin,
    near 1 for many bins).

    Returns
    -------
    dict
        ``pvalue``, the mean observed and replicated discrepancies, and the draws used.
    """
    lam = np.asarray(idata["posterior"]["expected_counts"])
    lam = lam.reshape(-1, lam.shape[-1])
    rng = np.random.default_rng(seed)
    if lam.shape[0] > max_draws:
        lam = lam[rng.choice(lam.shape[0], max_draws, replace=False)]
    from ..stats.cost import poisson_deviance

    n = np.asarray(observed, dtype=float)
    t_obs = poisson_deviance(n, lam)
    t_rep = poisson_deviance(rng.poisson(lam).astype(float), lam)
    return {
        "pvalue": float(np.mean(t_rep >= t_obs)),
        "mean_observed_deviance": float(t_obs.mean()),
        "mean_replicated_deviance": float(t_rep.mean()),
        "draws": int(lam.shape[0]),
        "bins": int(n.size),
    }
