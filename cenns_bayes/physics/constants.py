"""Physical constants, each with its source, in one place.

CODATA values are those of :mod:`scipy.constants` (CODATA 2022 in SciPy >= 1.15),
particle masses those of scikit-hep's :mod:`particle` (the PDG table it ships), and
the electroweak inputs of the seed paper (Kosmas et al., PRD 92, 013011 (2015),
arXiv:1505.03202, Eq. 2) from the paper itself, since they define the
conventions of its tables.

Units: energies and masses in MeV, lengths in fm or cm as named.
"""

from __future__ import annotations

import math

# The values are written out rather than read from scipy.constants and particle at import:
# those two imports cost about a tenth of `cenns-bayes reproduce`'s CPU time.
# tests/test_constants_sources.py checks every value bit for bit against both packages, so
# an update of either shows up as a failing test rather than a silent change.

# --- CODATA 2022 (scipy.constants.physical_constants[KEY][0]) -------------------------
#: Fine-structure constant alpha (dimensionless), CODATA ("fine-structure constant").
ALPHA_EM: float = 0.0072973525643
#: Electron mass in MeV/c^2, CODATA ("electron mass energy equivalent in MeV").
ELECTRON_MASS_MEV: float = 0.51099895069
#: Atomic mass constant u in MeV/c^2, CODATA ("atomic mass constant energy equivalent in MeV").
ATOMIC_MASS_UNIT_MEV: float = 931.49410372
#: Atomic mass constant u in kg, CODATA ("atomic mass constant").
ATOMIC_MASS_UNIT_KG: float = 1.66053906892e-27
#: hbar*c in MeV fm, CODATA ("reduced Planck constant times c in MeV fm").
HBARC_MEV_FM: float = 197.3269804593025
#: (hbar*c)^2 in MeV^2 cm^2: converts a cross section in MeV^-2 to cm^2.
HBARC2_MEV2_CM2: float = (HBARC_MEV_FM * 1e-13) ** 2
#: Fermi coupling constant G_F/(hbar c)^3 in MeV^-2, CODATA ("Fermi coupling constant",
#: in GeV^-2, from the muon lifetime).
FERMI_COUPLING_MEV2: float = 1.1663787e-05 * 1e-6
#: Seconds in a Julian year (365.25 d), the "one year" of the paper's optimistic set-ups
#: (scipy.constants.Julian_year).
SECONDS_PER_YEAR: float = 31557600.0

# --- PDG particle masses (scikit-hep particle: Particle.from_pdgid(ID).mass) ------------
#: Muon mass in MeV/c^2 (PDG id 13).
MUON_MASS_MEV: float = 105.6583755
#: Charged-pion mass in MeV/c^2 (PDG id 211).
PION_MASS_MEV: float = 139.57039

#: Energy of the prompt nu_mu line from pi+ decay at rest, (m_pi^2 - m_mu^2)/(2 m_pi), MeV.
PION_DAR_NU_ENERGY_MEV: float = (PION_MASS_MEV**2 - MUON_MASS_MEV**2) / (2.0 * PION_MASS_MEV)
#: The prompt-line energy the seed paper uses (Section III), MeV.
PAPER_PROMPT_ENERGY_MEV: float = 29.9

# --- Electroweak inputs of the seed paper, Eq. (2) (PDG 2012 values) ------------------
#: sin^2(theta_W) in the MS-bar scheme at the Z pole, the paper's central value.
SIN2_THETA_W_PAPER: float = 0.23120
#: Radiative-correction parameters of the neutrino-nucleon neutral current (PDG 2012).
RHO_NU_N: float = 1.0086
KAPPA_NU_N: float = 0.9978
LAMBDA_U_L: float = -0.0031
LAMBDA_D_L: float = -0.0025
LAMBDA_D_R: float = 7.5e-5
LAMBDA_U_R: float = LAMBDA_D_R / 2.0

# --- Electromagnetic neutrino properties -------------------------------------------
#: Unit of the neutrino magnetic moment used throughout: 1e-10 Bohr magnetons.
MU_NU_UNIT_MU_B: float = 1e-10
#: Unit of the neutrino charge radius used throughout: 1e-32 cm^2.
R2_NU_UNIT_CM2: float = 1e-32


def charge_radius_shift_per_unit() -> float:
    """Shift of sin^2(theta_W) per unit <r^2> (1e-32 cm^2), Eq. (17) of the seed paper.

    delta s^2 = sqrt(2) pi alpha / (3 G_F) <r^2>, evaluated with G_F in MeV^-2 and
    <r^2> converted to MeV^-2 through (hbar c)^2. About 0.0238.

    Returns
    -------
    float
        The shift of sin^2(theta_W) per 1e-32 cm^2.
    """
    r2_mev2 = R2_NU_UNIT_CM2 / HBARC2_MEV2_CM2
    return math.sqrt(2.0) * math.pi * ALPHA_EM / (3.0 * FERMI_COUPLING_MEV2) * r2_mev2


#: sin^2(theta_W) shift per 1e-32 cm^2 of <r^2_nu> (Eq. 17), about 0.0238.
CHARGE_RADIUS_SHIFT: float = charge_radius_shift_per_unit()
