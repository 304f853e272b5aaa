"""Flux-averaged CEvNS cross section of a target, the quantity a measured count converts to.

For the analysed flavours f with equal fluence Phi per flavour (the SNS decay-at-rest
source) the flux-averaged cross section per target nucleus is

    <sigma> = sum_f int phi_f(E) sigma_f(E) dE / (n_f int phi(E) dE)
            = sum_f N_f / (N_nuclei * Phi * n_f),

with sigma_f(E) the Standard-Model CEvNS cross section integrated over all recoils
(no threshold, unit efficiency), N_f the corresponding counts and N_nuclei the number of
target nuclei (for a compound such as CsI, Cs and I together: the average per nucleus).
A measured signal strength s (CEvNS count / its Standard-Model value, with the same
couplings, form factor and response) gives the measured <sigma> = s * <sigma>_SM.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from ..physics.constants import SIN2_THETA_W_PAPER
from ..physics.cross_sections import neutron_vector_coupling, proton_vector_coupling
from .coefficients import DetectorSetup, channel_coefficients

__all__ = ["flux_averaged_cross_section_cm2"]


def flux_averaged_cross_section_cm2(
    setup: DetectorSetup,
    flavors: Sequence[str],
    sin2_theta_w: float = SIN2_THETA_W_PAPER,
    lower_recoil_kev: float = 1e-4,
    n_nodes: int = 96,
) -> float:
    """Standard-Model CEvNS cross section averaged over the flux of ``flavors``, per nucleus, cm^2.

    Parameters
    ----------
    setup : DetectorSetup
        Target, mass, fluence, form factor and prompt energy; its efficiency and recoil
        window are replaced by 1 and [``lower_recoil_kev``, kinematic maximum].
    flavors : sequence of str
        Flavours averaged over (equal fluence each).
    sin2_theta_w : float
        Weak mixing angle of the couplings.
    lower_recoil_kev : float
        Lower end of the recoil integral (dsigma/dT is finite at T = 0, so the part below
        it is ~ lower_recoil_kev / T_max of the total).
    n_nodes : int
        Gauss-Legendre nodes in ln T.

    Returns
    -------
    float
        <sigma> in cm^2.
    """
    if not flavors:
        raise ValueError("no flavour to average over")
    full = replace(
        setup, efficiency=1.0, recoil_window_kev=(lower_recoil_kev, None), bin_edges_kev=None
    )
    gp = float(proton_vector_coupling(sin2_theta_w))
    gn = float(neutron_vector_coupling(sin2_theta_w))
    counts = 0.0
    for flavor in flavors:
        c = channel_coefficients(full, flavor, n_nodes)
        counts += float(
            gp * gp * c.i_pp.sum() + 2.0 * gp * gn * c.i_pn.sum() + gn * gn * c.i_nn.sum()
        )
    target = setup.target
    n_nuclei = (
        setup.mass_kg
        * sum(comp.atoms_per_formula_unit for comp in target.components)
        / target.formula_mass_kg
    )
    return counts / (n_nuclei * setup.fluence_per_cm2 * len(flavors))
