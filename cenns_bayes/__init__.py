"""cenns_bayes: Bayesian and frequentist inference on CEvNS at stopped-pion sources.

Layers (see ``docs/architecture.md``):

* :mod:`cenns_bayes.physics` -- constants, nuclei, form factors, SNS source, cross sections;
* :mod:`cenns_bayes.rates` -- exact event-count coefficients per detector and flavour;
* :mod:`cenns_bayes.specs` -- the TOML study schema and its validation;
* :mod:`cenns_bayes.stats` -- frequentist chi-squared and Poisson likelihoods;
* :mod:`cenns_bayes.bayes` -- PyMC models, sampling and summaries;
* :mod:`cenns_bayes.cli` -- the ``cenns-bayes`` command line.

Importing this package imports none of PyMC, PyTensor or ArviZ.
"""

__version__ = "0.1.0"
