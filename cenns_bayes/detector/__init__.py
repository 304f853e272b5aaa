"""Detector response: from a differential recoil spectrum to expected counts per analysis bin.

* :mod:`cenns_bayes.detector.response` — quenching (constant or energy-dependent),
  light yield, Poisson photo-electron smearing as a linear map, the acceptance
  efficiency of the COHERENT CsI 2017 release (with an explicit 1-PE bin
  convention), rebinning, analysis-region masks, arrival-time PDFs per
  neutrino component and the prompt-neutron template;
* :mod:`cenns_bayes.detector.beam` — protons on target from beam exposure and
  the time-integrated neutrino fluence;
* :mod:`cenns_bayes.detector.background` — the steady-state background measured
  in the anticoincidence window: the joint on/off Poisson likelihood and its
  analytic profile over the per-bin background.

This layer uses numpy and scipy only (no PyMC, PyTensor or ArviZ).
"""
