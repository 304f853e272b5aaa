"""cenns_bayes: Bayesian and frequentist inference on CEvNS at stopped-pion sources.

Layers (see ``docs/architecture.md``):

* :mod:`cenns_bayes.physics` -- constants, nuclei, form factors, SNS source, cross sections;
* :mod:`cenns_bayes.rates` -- exact event-count coefficients per detector and flavour;
* :mod:`cenns_bayes.specs` -- the TOML study schema and its validation;
* :mod:`cenns_bayes.stats` -- frequentist chi-squared and Poisson likelihoods;
* :mod:`cenns_bayes.bayes` -- PyMC models, sampling and summaries;
* :mod:`cenns_bayes.cli` -- the ``cenns-bayes`` command line.

The Python interface (:mod:`cenns_bayes.api`) is exported here: :func:`load_study`,
:func:`expected_counts`, :func:`fit`, :func:`sample` and :func:`load_posterior`. It is
imported on first use, and importing this package imports none of PyMC, PyTensor or ArviZ.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

# The one place the version is written; pyproject.toml reads it (hatch dynamic version).
__version__ = "0.1.0"

__all__ = [
    "SpecHashMismatchError",
    "__version__",
    "expected_counts",
    "fit",
    "load_posterior",
    "load_study",
    "sample",
]

_API = frozenset(__all__) - {"__version__"}

if TYPE_CHECKING:
    from .api import SpecHashMismatchError, expected_counts, fit, load_posterior, load_study, sample


def __getattr__(name: str) -> Any:
    """Import the Python interface on first use (keeps ``import cenns_bayes`` light)."""
    if name in _API:
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _API)
