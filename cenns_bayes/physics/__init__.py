"""Physics layer: constants, nuclei, form factors, the SNS source and cross sections.

Nothing in this package imports PyMC, PyTensor or ArviZ.
"""
