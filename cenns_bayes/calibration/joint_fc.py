r"""Feldman-Cousins limits of one parameter of a joint COHERENT fit (profile construction).

The belt of :mod:`.feldman_cousins` (:class:`~.feldman_cousins.NeymanBelt`, the
likelihood-ratio ordering t(mu) = -2 ln [L(mu, theta_hat(mu)) / L(mu_hat, theta_hat)] with
mu_hat inside the physical bounds) built from pseudo-experiments of the joint model
(:meth:`~cenns_bayes.stats.model.ModelBase.sample`: Poisson counts in every bin of every
data set and a fresh auxiliary measurement of each normal and log-normal nuisance; the
steady states' control samples stay as observed). At each grid point mu_k the toys are drawn
with the other free parameters and every nuisance at their conditional best fit to the data
at mu_k (the "profile construction"), and each toy is profiled with the exact-gradient
joint fit (:mod:`cenns_bayes.stats.jacobians`).

Run::

    python -m cenns_bayes.calibration.joint_fc models/coherent_joint.toml \\
        --fit magnetic_moments --parameter mu_nu_mu --points 6 --toys 100 --out fc.json

The Monte Carlo error of the limit is given by the belts built from the order statistics
one binomial sigma either side of the alpha quantile at every grid point
(:meth:`~.feldman_cousins.NeymanBelt.critical_band`).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from .feldman_cousins import NeymanBelt

__all__ = ["joint_feldman_cousins", "main"]


def _toy_statistics(
    model, free: list[str], bounds: dict, parameter: str, value: float, conditional, n_toys, rng
) -> np.ndarray:
    """T(value) of ``n_toys`` pseudo-experiments drawn at the conditional fit ``conditional``."""
    from ..stats.profile import ProfileFitter

    truth = {**conditional.parameters, parameter: float(value)}
    out = np.empty(n_toys)
    for i in range(n_toys):
        counts, auxiliary = model.sample(truth, rng, conditional.nuisances)
        toy = ProfileFitter(model.with_data(counts, auxiliary), free, bounds=bounds)
        out[i] = max(0.0, float(toy.delta(parameter, float(value))))
    return out


def joint_feldman_cousins(
    study,
    fit: str,
    parameter: str,
    *,
    points: int = 6,
    toys: int = 100,
    level: float = 0.9,
    max_factor: float = 1.5,
    seed: int = 2022,
    progress=None,
) -> dict[str, Any]:
    """FC interval of ``parameter`` in the joint fit ``fit`` of a joint study's data.

    Grid: ``points`` values from the parameter's lower fit bound (0 for a magnetic moment)
    to ``max_factor`` times the data's profile-likelihood upper end at ``level``.

    Returns
    -------
    dict
        Grid, the data's t on it, critical values and their one-sigma order-statistic band,
        the toys' t at each grid point, toys per point, the interval at ``level`` with the
        intervals of the band's belts (the Monte Carlo range of each end), whether the upper
        end lies beyond the grid, and the CPU seconds.
    """
    from ..stats.joint import fit_bounds, joint_model_for_study
    from ..stats.profile import ProfileFitter, delta_chi2_for

    say = progress or (lambda msg: None)
    t_cpu = time.process_time()
    sub = study.for_fit(fit)
    free = list(sub.free_parameters)
    if parameter not in free:
        raise ValueError(f"{parameter} is not free in fit {fit!r} (free: {', '.join(free)})")
    model = joint_model_for_study(sub)
    bounds = fit_bounds(sub)
    data_fit = ProfileFitter(model, free, bounds=bounds)
    best = data_fit.best_fit()
    lo = float(bounds.get(parameter, (0.0, 0.0))[0])
    profile_upper = data_fit.crossing(parameter, delta_chi2_for(level), +1)
    grid = np.round(np.linspace(lo, lo + max_factor * (profile_upper - lo), points), 8)
    rng = np.random.default_rng(seed)
    samples, t_data = [], []
    for k, value in enumerate(grid):
        conditional = data_fit.fit({parameter: float(value)})
        t_data.append(max(0.0, conditional.neg2ll - best.neg2ll))
        say(f"{parameter} = {value:g}: {toys} toys ({k + 1}/{grid.size})")
        samples.append(
            _toy_statistics(model, free, bounds, parameter, value, conditional, toys, rng)
        )
    belt = NeymanBelt.from_samples(parameter, grid, samples, [level])
    key = f"{level:g}"

    def t_of(mu: float) -> float:
        return max(0.0, data_fit.delta(parameter, float(mu)))

    lower, upper, beyond = belt.interval(np.asarray(t_data), level, t_of)
    band = belt.critical_band(level)
    ends = []
    for column in (0, 1):  # belts from the band's low and high critical values
        alt = NeymanBelt(parameter, grid, {key: band[:, column]}, belt.toys_per_point)
        ends.append(alt.interval(np.asarray(t_data), level, t_of)[:2])
    return {
        "study": study.name,
        "fit": fit,
        "parameter": parameter,
        "level": level,
        "free": free,
        "best_fit": best.parameters[parameter],
        "profile_interval": [lo if best.parameters[parameter] <= lo else None, profile_upper],
        "grid": grid.tolist(),
        "t_data": t_data,
        "critical": belt.critical[key].tolist(),
        "critical_band_1sigma": band.tolist(),
        "t_samples": [np.round(t, 8).tolist() for t in samples],
        "toys_per_point": belt.toys_per_point,
        "acceptance_stderr": belt.acceptance_stderr()[key],
        "interval": [lower, upper],
        "interval_band_1sigma": [list(e) for e in ends],
        "upper_beyond_grid": beyond,
        "seed": seed,
        "cpu_seconds": time.process_time() - t_cpu,
        "construction": "profile construction: toys at the conditional best fit to the data "
        "at each grid point; normal and log-normal auxiliary measurements redrawn per toy, "
        "steady-state control samples as observed",
    }


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m cenns_bayes.calibration.joint_fc SPEC --fit F --parameter P``."""
    parser = argparse.ArgumentParser(
        prog="python -m cenns_bayes.calibration.joint_fc", description=__doc__.splitlines()[0]
    )
    parser.add_argument("spec", help="a joint spec ([[members]]), e.g. models/coherent_joint.toml")
    parser.add_argument("--fit", required=True, help="the [[fits]] entry")
    parser.add_argument("--parameter", required=True, help="a free parameter of that fit")
    parser.add_argument("--points", type=int, default=6, help="grid points (default 6)")
    parser.add_argument("--toys", type=int, default=100, help="toys per grid point (default 100)")
    parser.add_argument("--level", type=float, default=0.9)
    parser.add_argument("--max-factor", type=float, default=1.5)
    parser.add_argument("--seed", type=int, default=2022)
    parser.add_argument("--out", help="write the result as JSON here")
    args = parser.parse_args(argv)
    from ..specs import SpecError
    from ..specs.joint import load_joint_study

    try:
        study = load_joint_study(args.spec)
        names = [f.name for f in study.spec.fits]
        if args.fit not in names:
            raise ValueError(f"{args.spec}: no [[fits]] entry {args.fit!r} (have {names})")
        if args.points < 2 or args.toys < 10:
            raise ValueError("--points must be >= 2 and --toys >= 10")
        result = joint_feldman_cousins(
            study,
            args.fit,
            args.parameter,
            points=args.points,
            toys=args.toys,
            level=args.level,
            max_factor=args.max_factor,
            seed=args.seed,
            progress=lambda msg: print(msg, file=sys.stderr, flush=True),
        )
    except (SpecError, ValueError, OSError) as exc:
        print(f"joint_fc: {exc}", file=sys.stderr)
        return 2
    result["load_average"] = list(os.getloadavg())
    text = json.dumps(result, indent=2)
    if args.out:
        Path(args.out).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
