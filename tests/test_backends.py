"""The backend contract, one test every registered backend runs: it declares what it can
solve; a MILP backend takes a ``Milp`` and its options and answers a hand-worked knapsack,
an infeasible model and a continuous one; the oracle refuses fleets by its declaration."""

from __future__ import annotations

from importlib import import_module

import numpy as np
import pytest
import scipy.sparse as sp

from deploycost.errors import DeployCostError
from deploycost.optimize.formulation import Milp
from deploycost.optimize.solve import solve
from deploycost.optimize.solvers import (
    BACKENDS,
    REGISTRY,
    Capabilities,
    SolverOptions,
    Status,
    capabilities,
    fleet_backends,
)

from .fleet_cases import box, fleet_scenario, model


def _milp(c, rows, lb, ub, col_ub, integer, **settings) -> Milp:
    rows = np.atleast_2d(np.asarray(rows, float))
    return Milp(
        c=np.asarray(c, float),
        A=sp.csr_matrix(rows),
        row_lb=np.asarray(lb, float),
        row_ub=np.asarray(ub, float),
        col_lb=np.zeros(len(c)),
        col_ub=np.asarray(col_ub, float),
        integrality=np.asarray(integer, int),
        row_names=[f"r{i}" for i in range(len(rows))],
        **settings,
    )


# cover 7 units at least cost: items of size 3, 4, 5 at 5, 6, 8 each (up to 2 of each):
# 3 + 4 = 7 costs 11, the optimum (5 + 3 = 8 costs 13, 4 + 4 = 8 costs 12)
KNAPSACK = ([5.0, 6.0, 8.0], [[3.0, 4.0, 5.0]], [7.0], [np.inf], [2, 2, 2], [1, 1, 1])


@pytest.mark.parametrize("name", BACKENDS)
def test_every_backend_keeps_the_contract(name):
    can = capabilities(name)
    assert isinstance(can, Capabilities)
    module = import_module(REGISTRY[name])
    if can.oracle:  # it enumerates a formulation's options: a fleet is not one
        assert not can.fleets
        assert can.why_not
        raw = fleet_scenario([model("m", {"b": 100.0})], [box("b", on_demand=1.0)], 50.0)
        with pytest.raises(DeployCostError, match=f"backend '{name}' does not solve fleets"):
            solve(raw, name)
        return
    for settings in ({}, {"presolve": True, "cbc_options": ("probing off",)}):
        out = module.solve(_milp(*KNAPSACK, **settings), SolverOptions())
        assert out.status == Status.OPTIMAL
        assert out.objective == pytest.approx(11.0)
        assert np.round(out.x).tolist() == [1.0, 1.0, 0.0]
    infeasible = _milp([1.0], [[1.0]], [5.0], [np.inf], [2.0], [1])  # x <= 2 and x >= 5
    assert module.solve(infeasible, SolverOptions()).status == Status.INFEASIBLE
    continuous = _milp([1.0, 2.0], [[1.0, 1.0]], [1.5], [np.inf], [1.0, 1.0], [0, 0])
    out = module.solve(continuous, SolverOptions())
    assert out.status == Status.OPTIMAL
    assert out.objective == pytest.approx(2.0)
    assert name in fleet_backends()


def test_an_unknown_backend_lists_the_registered_ones():
    with pytest.raises(DeployCostError, match="backend must be one of scipy-highs, pulp-cbc"):
        capabilities("cplex")
