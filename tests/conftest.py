"""Shared fixtures and paths for the test suite."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "models"
BAD_SPECS = Path(__file__).parent / "specs_bad"


@pytest.fixture(scope="session")
def realistic():
    """The packaged realistic preset of the seed paper."""
    from cenns_bayes.paper.reproduce import load_presets

    return load_presets()["realistic"]


@pytest.fixture
def mock_sampling(monkeypatch):
    """Replace NUTS by draws from the prior, so the plumbing around the sampler runs fast.

    ``cenns_bayes.bayes.sampling.sample_model`` is swapped for a stand-in that draws the
    model's free variables and deterministics from their prior (PyMC's forward sampler, no
    gradients, no NUTS) and arranges them as ``chains x draws`` with ``diverging`` all
    false. Everything else -- model building, prior predictive, attributes, NetCDF output,
    summaries -- is the real code. The fixture yields the list of calls it served.
    """
    pm = pytest.importorskip("pymc")
    import arviz as az
    import numpy as np

    from cenns_bayes.bayes import sampling

    calls: list[dict] = []

    def fake_sample_model(
        model,
        *,
        draws,
        tune,
        chains,
        seed,
        target_accept,
        backend="auto",
        progressbar=True,
        cores=None,
        reuse_compiled=False,
        compile_with=None,
    ):
        calls.append({"draws": draws, "tune": tune, "chains": chains, "seed": seed})
        names = [rv.name for rv in model.free_RVs] + [d.name for d in model.deterministics]
        with model:
            prior = pm.sample_prior_predictive(
                draws=draws * chains, random_seed=seed, var_names=names
            )
        posterior = {}
        for name in names:
            values = np.asarray(prior["prior"][name])  # (1, draws * chains, ...)
            posterior[name] = values.reshape((chains, draws) + values.shape[2:])
        idata = az.from_dict(
            {
                "posterior": posterior,
                "sample_stats": {"diverging": np.zeros((chains, draws), dtype=bool)},
            }
        )
        return idata, "mock", 0.0, 0.0

    monkeypatch.setattr(sampling, "sample_model", fake_sample_model)
    yield calls


def central_gradient(value, x0, h: float = 1e-5):
    """Central differences (f(x + h e_k) - f(x - h e_k)) / 2h of the scalar ``value(x)``.

    The truncation error is h^2 |f'''| / 6; for a -2 ln L over ~10^3 bins the rounding of f
    (~1e-13 relative) over h dominates at h = 1e-5: ~1e-8 |f|.
    """
    x0 = np.asarray(x0, dtype=float)
    grad = np.empty_like(x0)
    for k in range(x0.size):
        up, down = x0.copy(), x0.copy()
        up[k] += h
        down[k] -= h
        grad[k] = (value(up) - value(down)) / (2 * h)
    return grad
