"""Posterior summaries and sampler diagnostics, in the units of the study."""

from __future__ import annotations

import numpy as np

__all__ = ["diagnostics", "hdi", "summarise_posterior"]


def _draws(idata, name: str) -> np.ndarray:
    return np.asarray(idata["posterior"][name]).reshape(-1)


def hdi(samples: np.ndarray, prob: float) -> tuple[float, float]:
    """Highest-density interval of 1-D samples (shortest interval holding ``prob``).

    Computed from the sorted draws (the standard estimator ArviZ also uses); for a
    posterior piled against a boundary such as mu = 0 it starts at the boundary.
    """
    x = np.sort(np.asarray(samples, dtype=float))
    n = x.size
    k = int(np.floor(prob * n))
    if k < 1 or k >= n:
        return float(x[0]), float(x[-1])
    widths = x[k:] - x[: n - k]
    i = int(np.argmin(widths))
    return float(x[i]), float(x[i + k])


def summarise_posterior(idata, parameters: list[str]) -> dict[str, dict]:
    """Mean, sd, 68 % and 90 % HDI and ETI, one-sided 90 % upper limit, R-hat and bulk ESS."""
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
            "hdi_68": list(hdi(x, 0.68)),
            "hdi_90": list(hdi(x, 0.90)),
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
