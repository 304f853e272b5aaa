"""Calibration checks of the package's intervals: Asimov posteriors, toy coverage, SBC.

* :mod:`.asimov` -- the posterior on Asimov data under several priors, beside the
  chi^2 and profile-likelihood intervals;
* :mod:`.coverage` -- coverage of confidence and credible intervals from Poisson
  pseudo-experiments, with Feldman-Cousins intervals for the magnetic moments
  (:mod:`.feldman_cousins`);
* :mod:`.sbc` -- simulation-based calibration (rank statistics, uniformity test);
* :mod:`.report` -- Markdown and PNG reports.

Toys and replications run through :mod:`cenns_bayes.parallel`. Importing this package
imports neither PyMC nor nutpie; the tasks import them in the worker that fits.
See ``docs/calibration.md``.
"""

from .common import LEVELS, SamplerSettings, StudyRef, binomial_stderr, posterior_intervals

__all__ = ["LEVELS", "SamplerSettings", "StudyRef", "binomial_stderr", "posterior_intervals"]
