"""Frequentist statistics: chi-squared and Poisson likelihoods, profiles, limits, contours.

Imports numpy and scipy only (no PyMC), so it can run anywhere the physics runs.
"""

from .frequentist import (
    DELTA_CHI2,
    ProfileLikelihood,
    delta_chi2_for,
    neg2_log_likelihood,
)

__all__ = ["DELTA_CHI2", "ProfileLikelihood", "delta_chi2_for", "neg2_log_likelihood"]
