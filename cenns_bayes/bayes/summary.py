"""Posterior summaries and sampler diagnostics, in the units of the study."""

from __future__ import annotations

import numpy as np

__all__ = [
    "BOUNDARY_TEST_ALPHA",
    "boundary_evidence",
    "credible_hdi",
    "diagnostics",
    "hdi",
    "physical_lower_bound",
    "posterior_predictive_pvalue",
    "summarise_posterior",
]


def _draws(idata, name: str) -> np.ndarray:
    return np.asarray(idata["posterior"][name]).reshape(-1)


def _n_chains(idata) -> int:
    return int(idata["posterior"].sizes["chain"])


def hdi(samples: np.ndarray, prob: float) -> tuple[float, float]:
    """Highest-density interval of 1-D samples (shortest interval holding ``prob``).

    ArviZ's estimator from the sorted draws (``method="nearest"``); for a posterior piled
    against a boundary such as mu = 0 it starts at the boundary (the smallest draw).
    """
    import arviz as az

    lower, upper = az.hdi(np.asarray(samples, dtype=float).reshape(-1), prob=prob)
    return float(lower), float(upper)


def physical_lower_bound(name: str) -> float | None:
    """Physical lower boundary of a parameter.

    0 for the magnetic moments (and their squares) and for ``signal_strength``; None for a
    parameter without one.
    """
    return 0.0 if name.startswith("mu_nu") or name == "signal_strength" else None


#: One-sided significance below which a boundary density lower than the density at the
#: level's quantile counts as shown (z = 2.326): the HDI leaves the boundary only then.
BOUNDARY_TEST_ALPHA = 0.01


def _silverman_bandwidth(x: np.ndarray, bound: float) -> float:
    """Silverman's rule of thumb on the sample reflected about ``bound`` (2N points)."""
    y = np.concatenate([x, 2.0 * bound - x])
    sd = float(np.std(y))
    iqr = float(np.subtract(*np.quantile(y, [0.75, 0.25])))
    spread = min(sd, iqr / 1.349) if iqr > 0 else sd
    return 0.9 * spread * y.size ** (-0.2)


def _reflected_kernel(x: np.ndarray, bound: float, point: float, h: float) -> np.ndarray:
    """Per-draw contributions to the reflected Gaussian kernel estimate at ``point``.

    Their mean is the density of draws ``x`` >= ``bound`` at ``point``: each draw and its
    mirror image 2 bound - x carry a kernel, so no mass leaks below the boundary and the
    estimate at the boundary is not halved.
    """
    a = (point - x) / h
    b = (point + x - 2.0 * bound) / h
    return (np.exp(-0.5 * a * a) + np.exp(-0.5 * b * b)) / (h * np.sqrt(2.0 * np.pi))


def _bias_reduced_kernel(x: np.ndarray, bound: float, point: float, h: float) -> np.ndarray:
    """Per-draw contributions of the kernel 2 K_h - K_(sqrt2 h) (Richardson extrapolation).

    A Gaussian kernel estimate is the density smoothed by N(0, h^2): its mean is
    f + h^2 f''/2 + O(h^4), which at a mode (f'' < 0) is too low and in a convex tail too
    high. Bandwidths h and sqrt(2) h carry h^2 f''/2 and h^2 f'', so 2 f_h - f_(sqrt2 h)
    has no h^2 term (a fourth-order kernel; its bias is O(h^4)).
    """
    return 2.0 * _reflected_kernel(x, bound, point, h) - _reflected_kernel(
        x, bound, point, np.sqrt(2.0) * h
    )


def _effective_size(contrib: np.ndarray, shape: tuple[int, ...]) -> float:
    """Effective sample size of the mean of per-draw ``contrib``.

    ArviZ's ESS of the mean when the draws come as (chains, draws), else the number of
    draws (independent draws); never above the number of draws, so that anti-correlated
    chains do not shrink the error below that of independent draws.
    """
    n = contrib.size
    if len(shape) == 2 and shape[0] >= 2 and shape[1] >= 4:
        from arviz_stats.base import array_stats

        ess = float(
            array_stats.ess(contrib.reshape(shape), chain_axis=0, draw_axis=1, method="mean")
        )
        if np.isfinite(ess) and ess > 0:
            return min(ess, float(n))
    return float(n)


def boundary_evidence(
    samples: np.ndarray, prob: float, bound: float = 0.0
) -> dict[str, float | bool]:
    """Test whether the density at ``bound`` is at least the density at the ``prob`` quantile.

    Density estimates: Gaussian kernel on the draws reflected about the boundary, with the
    bias-reduced kernel 2 K_h - K_(sqrt2 h) (no h^2 f'' bias at a mode or in a tail) and
    Silverman's bandwidth h. The difference D = f(bound) - f(q) is the mean over draws of
    one contribution per draw, so its standard error is the standard deviation of those
    contributions over the square root of their effective sample size (ArviZ's ESS of the
    mean when ``samples`` is shaped (chains, draws); the number of draws for a 1-D sample).

    Decision: the highest-density region starts at the boundary unless the draws show
    f(bound) < f(q), i.e. unless D / stderr < -z with z = Phi^-1(1 - BOUNDARY_TEST_ALPHA).

    Returns
    -------
    dict
        ``density_at_bound``, ``density_at_quantile`` (per unit of the parameter),
        ``quantile``, ``difference_stderr``, ``z`` (D / stderr), ``effective_size``,
        ``bandwidth`` and ``at_bound`` (the decision).
    """
    from scipy.stats import norm

    arr = np.asarray(samples, dtype=float)
    x = arr.reshape(-1)
    q = float(np.quantile(x, prob))
    h = _silverman_bandwidth(x, bound)
    if not h > 0:  # every draw equal: a point mass
        return {
            "density_at_bound": float("nan"),
            "density_at_quantile": float("nan"),
            "quantile": q,
            "difference_stderr": 0.0,
            "z": float("inf") if q == bound else float("-inf"),
            "effective_size": float(x.size),
            "bandwidth": h,
            "at_bound": q == bound,
        }
    at_bound = _bias_reduced_kernel(x, bound, bound, h)
    at_q = _bias_reduced_kernel(x, bound, q, h)
    contrib = at_bound - at_q
    n_eff = _effective_size(contrib, arr.shape)
    stderr = float(np.std(contrib, ddof=1) / np.sqrt(n_eff)) if x.size > 1 else 0.0
    diff = float(contrib.mean())
    z = diff / stderr if stderr > 0 else (float("inf") if diff >= 0 else float("-inf"))
    return {
        "density_at_bound": float(at_bound.mean()),
        "density_at_quantile": float(at_q.mean()),
        "quantile": q,
        "difference_stderr": stderr,
        "z": z,
        "effective_size": n_eff,
        "bandwidth": h,
        "at_bound": bool(z >= -norm.isf(BOUNDARY_TEST_ALPHA)),
    }


def credible_hdi(
    samples: np.ndarray, prob: float, lower_bound: float | None = None
) -> tuple[float, float]:
    """Highest-density credible interval, aware of a physical lower boundary.

    Without ``lower_bound``: :func:`hdi`. With one (mu_nu >= 0, signal_strength >= 0, see
    :func:`physical_lower_bound`): the interval is [lower_bound, q] with q the ``prob``
    quantile and the boundary exact (draws never reach it, so the plain HDI of the draws
    would start at the smallest draw instead), unless the draws show that the density at
    the boundary is below the density at q (:func:`boundary_evidence`: bias-reduced
    reflected kernel estimates, a one-sided test at 1 % with the estimate's Monte Carlo
    error); then the plain HDI.

    ``samples`` may be shaped (chains, draws): the error then uses the effective sample
    size of the chains; a 1-D sample is taken as independent draws.
    """
    x = np.asarray(samples, dtype=float)
    if lower_bound is None:
        return hdi(x, prob)
    if boundary_evidence(x, prob, lower_bound)["at_bound"]:
        return float(lower_bound), float(np.quantile(x.reshape(-1), prob))
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
        # (chains, draws): the boundary test's error uses the chains' effective sample size
        by_chain = np.asarray(idata["posterior"][name]).reshape(-1, x.size // _n_chains(idata))
        bound = physical_lower_bound(name)
        out[name] = {
            "mean": float(x.mean()),
            "sd": float(x.std(ddof=1)),
            "median": float(np.median(x)),
            "hdi_68": list(credible_hdi(by_chain, 0.68, bound)),
            "hdi_90": list(credible_hdi(by_chain, 0.90, bound)),
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
    from ..stats.model import draw_pseudo_data

    n = np.asarray(observed, dtype=float)
    t_obs = poisson_deviance(n, lam)
    # one replicated data set per draw, from the toy generator of the fits; T depends on
    # the main counts alone, so no auxiliary measurement is replicated
    replicated, _ = draw_pseudo_data(lam, [], {}, rng)
    t_rep = poisson_deviance(replicated, lam)
    return {
        "pvalue": float(np.mean(t_rep >= t_obs)),
        "mean_observed_deviance": float(t_obs.mean()),
        "mean_replicated_deviance": float(t_rep.mean()),
        "draws": int(lam.shape[0]),
        "bins": int(n.size),
    }
