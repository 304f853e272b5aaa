"""Bayesian layer: PyMC models built from study specs, NUTS sampling, summaries.

Importing this package imports PyMC and PyTensor; the layers below it never do.
"""

from .model import build_model
from .sampling import SamplingResult, sample_study
from .summary import diagnostics, summarise_posterior

__all__ = ["SamplingResult", "build_model", "diagnostics", "sample_study", "summarise_posterior"]
