"""A solver stopped by a limit is never reported optimal: CBC through PuLP, and HiGHS."""

from __future__ import annotations

from pathlib import Path

import pulp
import pytest

from deploycost.optimize.solvers import Status
from deploycost.optimize.solvers.pulp_cbc import classify

STOPPED_LOG = """Cbc0020I Exiting on maximum time
Result - Stopped on time limit

Objective value:                100.00000000
Lower bound:                    90.000
Gap:                            0.10
"""
OPTIMAL_LOG = """Result - Optimal solution found (within gap tolerance)
Objective value:                1308.6129262
Lower bound:                    1308.61
Gap:                            0
"""


def test_pulp_reports_optimal_after_a_time_limit(tmp_path):
    # CBC's solution file after a stop on the time limit, as PuLP reads it
    sol = tmp_path / "model.sol"
    sol.write_text("Stopped on time - objective value 100.00000000\n", encoding="utf-8")
    status, sol_status = pulp.COIN_CMD().get_status(str(sol))
    assert status == pulp.LpStatusOptimal  # PuLP's word for it ...
    assert sol_status == pulp.LpSolutionIntegerFeasible
    ours, bound, gap = classify(status, sol_status, STOPPED_LOG, 100.0)
    assert ours == Status.FEASIBLE  # ... and ours
    assert bound == 90.0
    assert gap == pytest.approx(0.10)


def test_proven_optimum_is_optimal():
    status, bound, gap = classify(
        pulp.LpStatusOptimal, pulp.LpSolutionOptimal, OPTIMAL_LOG, 1308.6129262
    )
    assert status == Status.OPTIMAL
    assert gap == 0.0
    assert bound == 1308.6129262


def test_a_model_that_costs_nothing_is_optimal_though_cbc_prints_no_gap():
    log = OPTIMAL_LOG.replace("1308.6129262", "0").replace("1308.61", "0")
    log = log.replace("Gap:                            0", "Gap:                            -")
    status, bound, gap = classify(pulp.LpStatusOptimal, pulp.LpSolutionOptimal, log, 0.0)
    assert (status, bound, gap) == (Status.OPTIMAL, 0.0, 0.0)


def test_stop_within_a_positive_gap_is_feasible():
    log = OPTIMAL_LOG.replace(
        "Gap:                            0", "Gap:                            0.02"
    )
    status, _, gap = classify(pulp.LpStatusOptimal, pulp.LpSolutionOptimal, log, 100.0)
    assert status == Status.FEASIBLE
    assert gap == pytest.approx(0.02)


def test_no_solution_and_infeasible():
    assert (
        classify(pulp.LpStatusNotSolved, pulp.LpSolutionNoSolutionFound, STOPPED_LOG, 0.0)[0]
        == Status.NOT_SOLVED
    )
    assert classify(pulp.LpStatusInfeasible, pulp.LpSolutionInfeasible, "", 0.0)[0] == (
        Status.INFEASIBLE
    )


@pytest.mark.slow
def test_pulp_cbc_runs_without_the_environment_on_path(tmp_path):
    """The CBC backend uses the binary PuLP ships, not a ``cbc`` found on PATH."""
    import os
    import subprocess
    import sys

    code = (
        "import deploycost as dc; "
        "r = dc.solve('problems/seed_example.yaml', backend='pulp-cbc', runner_ups=False); "
        "print(r.status.value)"
    )
    env = {**os.environ, "PATH": str(tmp_path)}  # no cbc, no venv bin
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=Path(__file__).resolve().parents[1],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "optimal"
