"""The faster paths give the numbers of the direct ones.

* block-wise counts (:meth:`RateModel.counts`) against each channel's own polynomial;
* one BLAS thread by default in every command, and its opt-out;
* a compiled nutpie model reused for a study that differs only in its data (a scan
  point) gives the draws of a fresh compile, and is not reused when the graph differs;
* the prior predictive drawn in PyTensor's FAST_COMPILE mode equals the default mode's
  (counts exactly, parameters to rounding).

Timings are in ``benchmarks/bench_speed.py``, never asserted here.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from cenns_bayes.physics import constants as const
from cenns_bayes.rates.coefficients import RateModel
from cenns_bayes.specs import load_study

from .conftest import MODELS

CLI = os.path.join(os.path.dirname(sys.executable), "cenns-bayes")


def _channel_by_channel(model: RateModel, p: dict) -> np.ndarray:
    """Counts from each channel's own (c0, c1, c2, c_mu) polynomial, column by column."""
    cols = []
    for ch in model.channels:
        e = ch.flavor == "nue"
        s = p["sin2_theta_w"] + const.CHARGE_RADIUS_SHIFT * p["r2_nu_e" if e else "r2_nu_mu"]
        mu = p["mu_nu_e" if e else "mu_nu_mu"]
        c0, c1, c2, cm = ch.polynomial
        for j in range(c0.size):
            weak = c0[j] + c1[j] * s + c2[j] * s**2
            cols.append(p["signal_strength"] * weak + cm[j] * mu**2)
    return np.stack(np.broadcast_arrays(*cols), axis=-1)


@pytest.fixture(scope="module")
def realistic():
    from cenns_bayes.paper.reproduce import load_presets

    return load_presets()["realistic"].rate_model()


def _random_parameters(rng, shape):
    return {
        "sin2_theta_w": rng.uniform(0.2, 0.26, shape),
        "mu_nu_mu": rng.uniform(0, 20, shape),
        "mu_nu_e": rng.uniform(0, 20, shape),
        "r2_nu_mu": rng.normal(0, 2, shape),
        "r2_nu_e": rng.normal(0, 2, shape),
        "signal_strength": rng.uniform(0.5, 1.5, shape),
    }


def test_blockwise_counts_equal_each_channels_polynomial(realistic, monkeypatch):
    assert len({ch.flavor for ch in realistic.channels}) == 3  # nu_mu, nu_mu-bar and nu_e columns
    rng = np.random.default_rng(3)
    p = _random_parameters(rng, (50,))
    expected = _channel_by_channel(realistic, p)
    assert realistic.counts(p) == pytest.approx(expected, rel=1e-13)
    # blocks of 7 points: several full blocks and a partial last one
    monkeypatch.setattr(RateModel, "BLOCK_POINTS", 7)
    out = np.full((50, expected.shape[1]), np.nan)
    assert realistic.counts(p, out=out) is out
    assert out == pytest.approx(expected, rel=1e-13)


def test_counts_broadcast_scalars_and_shapes(realistic):
    rng = np.random.default_rng(4)
    p = _random_parameters(rng, (3, 1))
    p["mu_nu_e"] = rng.uniform(0, 20, (1, 4))  # broadcasts to (3, 4)
    p["signal_strength"] = 0.8  # a scalar among arrays
    got = realistic.counts(p)
    assert got.shape == (3, 4, 12)
    assert got == pytest.approx(_channel_by_channel(realistic, p), rel=1e-13)
    one = {k: (float(np.ravel(v)[0]) if np.ndim(v) else v) for k, v in p.items()}
    scalar = realistic.counts(one)  # the one-point path
    assert scalar.shape == (12,)
    assert scalar == pytest.approx(
        realistic.counts({k: np.array([v]) for k, v in one.items()})[0], rel=1e-14
    )
    assert scalar == pytest.approx(_channel_by_channel(realistic, one), rel=1e-13)
    assert realistic.counts({}).sum() == pytest.approx(
        sum(ch.counts().sum() for ch in realistic.channels), rel=1e-13
    )  # SM defaults


def test_counts_reject_bad_out_and_unknown_names(realistic):
    with pytest.raises(ValueError, match="C-contiguous float64"):
        realistic.counts({"mu_nu_mu": np.zeros(5)}, out=np.empty((5, 11)))
    with pytest.raises(KeyError, match="unknown parameter"):
        realistic.counts({"mu_nu_tau": 1.0})


# -- one BLAS thread ---------------------------------------------------------------------
def test_blas_limit_applies_and_is_undone():
    from threadpoolctl import threadpool_info

    from cenns_bayes.cli.main import limit_blas_threads

    before = [lib["num_threads"] for lib in threadpool_info()]
    env_before = os.environ.get("OPENBLAS_NUM_THREADS")
    with limit_blas_threads(1):
        assert all(lib["num_threads"] == 1 for lib in threadpool_info())
        assert os.environ["OPENBLAS_NUM_THREADS"] == "1"
    assert [lib["num_threads"] for lib in threadpool_info()] == before
    assert os.environ.get("OPENBLAS_NUM_THREADS") == env_before
    with limit_blas_threads(None):  # "default": nothing changes
        assert [lib["num_threads"] for lib in threadpool_info()] == before


_PROBE = (
    "import sys, threadpoolctl; from cenns_bayes.cli import main as m; "
    "m.COMMANDS['probe'] = ('probe_cmd', 'probe'); sys.path.insert(0, sys.argv[1]); "
    "sys.exit(m.main(sys.argv[2:]))"
)


@pytest.mark.parametrize(
    "args, env, expected",
    [
        ([], {}, "1"),
        (["--blas-threads", "2"], {}, "2"),
        ([], {"CENNS_BAYES_BLAS_THREADS": "2"}, "2"),
        (["--blas-threads", "default"], {}, "unset"),
    ],
)
def test_every_command_runs_with_the_chosen_blas_threads(tmp_path, args, env, expected):
    """A command sees the setting in its environment (read by BLAS libraries when they load)."""
    (tmp_path / "probe_cmd.py").write_text(
        "import os\ndef add_arguments(p): pass\n"
        "def run(args):\n    print(os.environ.get('OPENBLAS_NUM_THREADS', 'unset'))\n"
    )
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "CENNS_BAYES_BLAS_THREADS")
    }
    res = subprocess.run(
        [sys.executable, "-c", _PROBE, str(tmp_path), *args, "probe"],
        capture_output=True,
        text=True,
        env={**clean, **env},
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == expected


@pytest.mark.parametrize("value", ["0", "two"])
def test_bad_blas_threads_is_one_clean_line(value):
    res = subprocess.run(
        [CLI, "--blas-threads", value, "rates", str(MODELS / "single_ar40.toml")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 2
    assert res.stderr.count("\n") == 1 and "blas-threads" in res.stderr
    assert "Traceback" not in res.stderr


# -- compile once, swap data ---------------------------------------------------------------
pm = pytest.importorskip("pymc")


def _argon(threshold_kev: float, **extra):
    return load_study(
        MODELS / "argon_1t_20m.toml",
        {"detectors.Ar.recoil_window_kev.0": threshold_kev, "data.kind": "asimov", **extra},
    )


def build_data_model(study):
    from cenns_bayes.bayes.model import build_model

    return build_model(study, coefficients_as_data=True)


def test_models_differing_only_in_data_have_equal_graphs():
    from cenns_bayes.bayes.sampling import _graph_signature, _same_graph

    a = _graph_signature(build_data_model(_argon(5.0))[0])
    assert _same_graph(a, _graph_signature(build_data_model(_argon(0.5))[0]))
    # a prior, a fixed parameter or a nuisance width is in the graph: no reuse
    assert not _same_graph(
        a, _graph_signature(build_data_model(_argon(5.0, **{"priors.mu_nu_mu.upper": 20.0}))[0])
    )
    assert not _same_graph(
        a, _graph_signature(build_data_model(_argon(5.0, **{"parameters.sin2_theta_w": 0.24}))[0])
    )
    flux = {"nuisances.flux_sigma": 0.1}
    b = _graph_signature(build_data_model(_argon(5.0, **flux))[0])
    assert _same_graph(b, _graph_signature(build_data_model(_argon(0.5, **flux))[0]))
    assert not _same_graph(
        b, _graph_signature(build_data_model(_argon(5.0, **{"nuisances.flux_sigma": 0.2}))[0])
    )


def test_reused_compiled_model_gives_the_draws_of_a_fresh_compile(monkeypatch):
    from cenns_bayes.bayes import sampling

    monkeypatch.setattr(sampling, "_COMPILED", [])
    kw = dict(draws=150, tune=150, chains=2, seed=11, progressbar=False, prior_draws=0)
    # the PyTensor path (with "auto" a counting study takes the hand-written log-density)
    pytensor = {"sampling.log_density": "pytensor"}
    first = sampling.sample_study(_argon(20.0, **pytensor), reuse_compiled=True, **kw)
    assert len(sampling._COMPILED) == 1
    study = _argon(2.0, **pytensor)
    reused = sampling.sample_study(study, reuse_compiled=True, **kw)
    assert len(sampling._COMPILED) == 1  # no new compile
    # a fresh PyTensor compile
    fresh = sampling.sample_study(study, reuse_compiled=False, **kw)
    a = np.asarray(reused.idata.posterior["mu_nu_mu"])
    b = np.asarray(fresh.idata.posterior["mu_nu_mu"])
    assert np.array_equal(a, b)
    # and the data really were swapped: a lower threshold gives a tighter limit
    q_first = np.quantile(np.asarray(first.idata.posterior["mu_nu_mu"]), 0.9)
    assert np.quantile(a, 0.9) < 0.9 * q_first


def test_fast_compile_prior_predictive_draws_equal_default_mode():
    from cenns_bayes.bayes.model import build_model
    from cenns_bayes.bayes.sampling import sample_prior_predictive

    model, _ = build_model(load_study(MODELS / "single_ar40.toml"))
    fast = sample_prior_predictive(model, draws=50, seed=5, fast_compile=True)
    slow = sample_prior_predictive(model, draws=50, seed=5, fast_compile=False)
    assert set(fast["prior"].data_vars) == set(slow["prior"].data_vars)
    for name in fast["prior"].data_vars:
        # the same random numbers; Python and Numba round the transforms differently
        np.testing.assert_allclose(
            np.asarray(fast["prior"][name]), np.asarray(slow["prior"][name]), rtol=1e-13, atol=0
        )
    counts_fast = np.asarray(fast["prior_predictive"]["counts"])
    np.testing.assert_array_equal(counts_fast, np.asarray(slow["prior_predictive"]["counts"]))
    assert np.array_equal(counts_fast, np.round(counts_fast))  # Poisson draws: whole numbers


def test_coefficients_as_data_give_the_draws_of_coefficients_as_constants():
    """Count coefficients as pm.Data (scans) or as constants (default): same seed, same draws."""
    import nutpie

    from cenns_bayes.bayes.model import build_model

    study = _argon(5.0, **{"nuisances.flux_sigma": 0.1})
    with_data, counting = build_model(study, coefficients_as_data=True)
    with_constants, _ = build_model(study, counting=counting)  # the default
    from pytensor.graph.traversal import ancestors

    assert "count_coefficients" in {v.name for v in ancestors([with_data.logp()])}
    assert "count_coefficients" not in with_constants.named_vars
    draws = []
    for model in (with_data, with_constants):
        idata = nutpie.sample(
            nutpie.compile_pymc_model(model),
            draws=150,
            tune=150,
            chains=2,
            cores=1,
            seed=3,
            target_accept=0.99,
            progress_bar=False,
        )
        draws.append(np.asarray(idata.posterior["mu_nu_mu"]))
    assert np.array_equal(draws[0], draws[1])
