"""The seed paper (Kosmas et al., PRD 92 (2015) 013011, arXiv:1505.03202): presets and reproduction."""
