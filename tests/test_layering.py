"""Architecture: the physics, rates, specs, stats and paper layers never import PyMC."""

from __future__ import annotations

import subprocess
import sys


def test_core_layers_import_without_pymc():
    code = (
        "import sys\n"
        "import cenns_bayes.physics.constants, cenns_bayes.physics.nuclei, "
        "cenns_bayes.physics.form_factors, cenns_bayes.physics.cross_sections, "
        "cenns_bayes.physics.sns, cenns_bayes.rates, cenns_bayes.rates.quadrature, "
        "cenns_bayes.specs, cenns_bayes.stats, cenns_bayes.paper.reproduce, cenns_bayes.cli.main\n"
        "from cenns_bayes.paper.reproduce import reproduce; reproduce()\n"
        "bad = [m for m in ('pymc', 'pytensor', 'arviz', 'nutpie', 'matplotlib') if m in sys.modules]\n"
        "print(','.join(bad))\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert res.stdout.strip() == ""
