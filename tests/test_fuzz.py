"""Thousands of mutated scenario files: no traceback, no invalid file accepted."""

from __future__ import annotations

import pytest

from .conftest import HAND_SCENARIO, PROBLEMS
from .fuzzing import run, seeds


@pytest.mark.slow
def test_mutated_scenarios_never_crash_or_pass_invalid():
    tally = run([*seeds(PROBLEMS), HAND_SCENARIO], count=2000, seed=20261128)
    assert tally.failures == []
    assert tally.cases == 2000
    # both outcomes are exercised: the mutations are not all trivially rejected
    assert tally.rejected > 1000
    assert tally.accepted > 50
