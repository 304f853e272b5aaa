"""Direct numerical integration of Eq. (9): the way CEvNS codes usually compute rates.

Each call integrates the cross section over recoil and neutrino energy with adaptive
quadrature (:func:`scipy.integrate.quad`, nested), for one parameter point. It is
independent of the coefficient decomposition in :mod:`.coefficients` (it evaluates the
cross-section functions of :mod:`cenns_bayes.physics.cross_sections` directly), so it
serves as the reference in tests and as the baseline in benchmarks.
"""

from __future__ import annotations

import numpy as np
from scipy import integrate

from ..physics import constants as const
from ..physics.cross_sections import (
    em_differential_cm2_per_kev,
    max_recoil_kev,
    min_neutrino_energy_mev,
    sm_differential_cm2_per_kev,
)
from ..physics.form_factors import form_factor_pair
from ..physics.sns import PromptLine, sns_spectrum
from .coefficients import DetectorSetup

__all__ = ["direct_counts"]


def direct_counts(
    setup: DetectorSetup,
    flavor: str,
    sin2_theta_w: float = const.SIN2_THETA_W_PAPER,
    mu_nu: float = 0.0,
    r2_nu: float = 0.0,
    window_kev: tuple[float, float] | None = None,
    epsrel: float = 1e-10,
) -> float:
    """Expected counts of one channel by nested adaptive quadrature of Eq. (9).

    Parameters
    ----------
    setup : DetectorSetup
    flavor : {"numu", "numubar", "nue"}
    sin2_theta_w, mu_nu, r2_nu : float
        Parameter point (mu in 1e-10 mu_B, <r^2> in 1e-32 cm^2).
    window_kev : (float, float), optional
        Recoil window; defaults to the setup's window (upper edge resolved).
    epsrel : float
        Relative tolerance of each quadrature.
    """
    spectrum = sns_spectrum(flavor, setup.prompt_energy_mev)
    lo, hi = window_kev if window_kev is not None else tuple(setup.edges_kev()[[0, -1]])
    total = 0.0
    for comp in setup.target.components:
        nuc = comp.nucleus
        n_targets = setup.mass_kg * comp.atoms_per_formula_unit / setup.target.formula_mass_kg
        ffs = form_factor_pair(setup.form_factor, nuc, setup.neutron_skin_fm)

        def dsigma(t_kev: float, e_mev: float, nuc=nuc, ffs=ffs) -> float:
            sm = sm_differential_cm2_per_kev(t_kev, e_mev, nuc, ffs, sin2_theta_w, r2_nu)
            em = em_differential_cm2_per_kev(t_kev, e_mev, nuc, ffs[0], mu_nu)
            eff = (
                setup.efficiency(np.array([t_kev]))[0]
                if callable(setup.efficiency)
                else setup.efficiency
            )
            return float(sm + em) * eff

        if isinstance(spectrum, PromptLine):
            e0 = spectrum.energy_mev
            t_hi = min(hi, float(max_recoil_kev(e0, nuc.mass_mev)))
            if t_hi <= lo:
                continue
            val, _ = integrate.quad(
                lambda t, e0=e0: dsigma(t, e0), lo, t_hi, epsrel=epsrel, limit=200
            )
        else:
            e_max = spectrum.max_energy_mev
            t_hi = min(hi, float(max_recoil_kev(e_max, nuc.mass_mev)))
            if t_hi <= lo:
                continue

            def inner(t_kev: float, nuc=nuc, e_max=e_max, dsigma=dsigma) -> float:
                e_lo = float(min_neutrino_energy_mev(t_kev, nuc.mass_mev))
                return integrate.quad(
                    lambda e: float(spectrum.density(e)) * dsigma(t_kev, e),
                    e_lo,
                    e_max,
                    epsrel=epsrel,
                    limit=200,
                )[0]

            val, _ = integrate.quad(inner, lo, t_hi, epsrel=epsrel, limit=200)
        total += n_targets * setup.fluence_per_cm2 * val
    return total
