"""Hypothesis-driven mutation test of the spec loader over every shipped spec.

Every mutant loads (with finite counts, as ``rates --json`` needs) or is rejected with a
one-line :class:`~cenns_bayes.specs.SpecError`; any other exception fails the test.
``benchmarks/fuzz_specs.py`` runs the same mutations at larger scale (docs/specs.md).
"""

from __future__ import annotations

import random
import warnings

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .spec_mutations import check_one, mutant_text, shipped_specs

SPECS = shipped_specs()


@settings(
    max_examples=1000, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(
    spec_index=st.integers(0, len(SPECS) - 1),
    seed=st.integers(0, 2**32 - 1),
    mode=st.sampled_from(["mixed", "numeric"]),
)
def test_every_mutant_loads_or_fails_with_one_line(spec_index, seed, mode):
    spec = SPECS[spec_index]
    text = mutant_text(spec, random.Random(seed), mode)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # extreme but valid values
        assert check_one(spec[0], text) in ("ok", "rejected")


def test_mutations_reach_both_outcomes():
    # the mutations must sometimes keep a spec valid and sometimes break it, or the test
    # above would only exercise one side of the loader
    rng = random.Random(0)
    outcomes = {check_one(s[0], mutant_text(s, rng, "numeric")) for s in SPECS for _ in range(5)}
    assert outcomes == {"ok", "rejected"}
