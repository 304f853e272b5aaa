"""Statistics: parameter table, costs, constraints, statistical models and the profile engine.

Imports numpy and scipy only (no PyMC), so it can run anywhere the physics runs.

* :mod:`.parameters` -- every physics parameter: unit, Standard-Model value, bounds, step;
* :mod:`.cost` -- the Poisson deviance and the paper's chi^2, with gradients;
* :mod:`.model` -- constrained nuisances and the model protocol;
* :mod:`.counting`, :mod:`.binned` -- counting studies and studies with a detector response;
* :mod:`.profile` -- the one profile-likelihood engine (fits, intervals, limits, scans);
* :mod:`.fit` -- ``cenns-bayes fit``.
"""

from .cost import chi2, poisson_deviance
from .profile import DELTA_CHI2, ProfileFitter, delta_chi2_for

__all__ = ["DELTA_CHI2", "ProfileFitter", "chi2", "delta_chi2_for", "poisson_deviance"]
