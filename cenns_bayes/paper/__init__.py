"""The seed paper (Kosmas et al., PRD 92 (2015) 013011, arXiv:1505.03202).

Presets of its set-ups and the reproduction of its results.
"""
