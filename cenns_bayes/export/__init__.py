"""Results in the field's exchange formats (HEPData).

Imports neither PyMC nor ArviZ; :mod:`.hepdata` imports ``hepdata_lib`` when used.
"""
