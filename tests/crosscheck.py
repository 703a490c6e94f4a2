"""Every backend against exhaustive enumeration on random small scenarios, shared by the
solve and LLM oracle tests."""

from __future__ import annotations

import pytest

from deploycost.optimize.solve import solve
from deploycost.optimize.solvers import BACKENDS
from deploycost.scenario.schema import validate_scenario
from deploycost.scenario.synthetic import random_scenario

from .conftest import random_with_coupled_limits


def _coupled_or_plain(seed: int) -> dict:
    return random_with_coupled_limits(seed) if seed % 2 else random_scenario(seed)


def crosscheck(seeds, make=_coupled_or_plain, truths: dict | None = None) -> tuple[list, dict]:
    """Every backend against exhaustive enumeration on random small scenarios ``make(seed)``
    (by default half of them with a fusion layer on a quota-limited instance or an owned
    storage tier); the mismatches and each seed's statuses (and in ``truths``, when given,
    each seed's exhaustive result)."""
    mismatches, statuses = [], {}
    for seed in seeds:
        scn = validate_scenario(make(seed))
        results = {b: solve(scn, backend=b, runner_ups=False) for b in BACKENDS}
        statuses[seed] = {r.status for r in results.values()}
        truth = results["exhaustive"]
        if truths is not None:
            truths[seed] = truth
        for backend, result in results.items():
            same = result.status == truth.status and (
                truth.objective_per_day is None
                or result.objective_per_day == pytest.approx(truth.objective_per_day, rel=1e-6)
            )
            if not same:
                mismatches.append(
                    (
                        seed,
                        backend,
                        result.status,
                        result.objective_per_day,
                        truth.objective_per_day,
                    )
                )
    return mismatches, statuses
