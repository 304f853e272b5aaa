"""The constants written out in physics/constants.py are those of scipy.constants and particle.

constants.py does not import either package (start-up time); this test holds it to them,
bit for bit.
"""

from __future__ import annotations

import scipy.constants as codata
from particle import Particle

from cenns_bayes.physics import constants as c


def test_codata_values_are_scipys():
    pc = codata.physical_constants
    assert c.ALPHA_EM == codata.fine_structure
    assert c.ELECTRON_MASS_MEV == pc["electron mass energy equivalent in MeV"][0]
    assert c.ATOMIC_MASS_UNIT_MEV == pc["atomic mass constant energy equivalent in MeV"][0]
    assert c.ATOMIC_MASS_UNIT_KG == pc["atomic mass constant"][0]
    assert c.HBARC_MEV_FM == pc["reduced Planck constant times c in MeV fm"][0]
    assert c.FERMI_COUPLING_MEV2 == pc["Fermi coupling constant"][0] * 1e-6
    assert c.SECONDS_PER_YEAR == codata.Julian_year


def test_particle_masses_are_the_pdg_tables():
    assert c.MUON_MASS_MEV == float(Particle.from_pdgid(13).mass)
    assert c.PION_MASS_MEV == float(Particle.from_pdgid(211).mass)
