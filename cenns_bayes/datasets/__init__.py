"""Public data sets shipped with the package, with provenance notes and loaders.

* :mod:`cenns_bayes.datasets.coherent` — the COHERENT CsI[Na] 2017 data release
  (Zenodo record 1228631, arXiv:1804.09459), stored byte-identical in
  ``coherent_csi_2017/`` together with its reference note ``REFERENCE.md``
  and ``SHA256SUMS``; :func:`~cenns_bayes.datasets.coherent.load_coherent_csi_2017`
  verifies the checksums and returns a frozen
  :class:`~cenns_bayes.datasets.coherent.CoherentCsI2017Release`.
* :mod:`cenns_bayes.datasets.coherent_lar` — the COHERENT CENNS-10 liquid-argon 2020
  release, Analysis A (Zenodo record 3903810, arXiv:2006.12659), stored byte-identical in
  ``coherent_lar_2020/`` with ``REFERENCE.md`` and ``SHA256SUMS``;
  :func:`~cenns_bayes.datasets.coherent_lar.load_coherent_lar_2020` verifies the checksums.

This layer imports numpy (and PyYAML for the LAr release's parameter file).
"""
