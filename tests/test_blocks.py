"""Solving a MILP block by block (``optimize.blocks``): the same optimum as the whole MILP
when the coupling rows do not bind, a hand-off to the whole MILP when they do."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
import scipy.sparse as sp

from deploycost.cost.model import CostModel
from deploycost.optimize.fleet import build_fleet
from deploycost.optimize.formulation import Milp
from deploycost.optimize.solve import solve
from deploycost.optimize.solvers import SolverOptions, Status, get_backend
from deploycost.scenario.schema import validate_scenario
from deploycost.scenario.synthetic import random_fleet_scenario

from .blocks_support import in_blocks

BACKENDS = ["scipy-highs", "pulp-cbc"]


@dataclass(frozen=True)
class Form:
    milp: Milp
    presolve: bool = False


def hand(budget: float) -> Form:
    """Columns z0, z1 (one of them 1; z1 costs 4), xA (1 each), xB (2 each), integer.
    Rows: one_fusion z0 + z1 = 1; a: xA >= 2.5 z0 + 1.5 z1; b: xB >= 1.2 z0 + 0.5 z1;
    budget_max: xA + xB <= budget (the coupling row).
    z0: xA = 3, xB = 2 -> 3 + 4 = 7, xA + xB = 5; z1: xA = 2, xB = 1 -> 2 + 2 + 4 = 8, 3."""
    a = sp.csr_matrix(
        np.array(
            [
                [1, 1, 0, 0],
                [-2.5, -1.5, 1, 0],
                [-1.2, -0.5, 0, 1],
                [0, 0, 1, 1],
            ]
        )
    )
    return Form(
        Milp(
            c=np.array([0.0, 4.0, 1.0, 2.0]),
            A=a,
            row_lb=np.array([1.0, 0.0, 0.0, -np.inf]),
            row_ub=np.array([1.0, np.inf, np.inf, budget]),
            col_lb=np.zeros(4),
            col_ub=np.array([1.0, 1.0, np.inf, np.inf]),
            integrality=np.ones(4, np.int8),
            row_names=["one_fusion", "a", "b", "budget_max"],
        )
    )


@pytest.mark.parametrize("backend", BACKENDS)
def test_hand_blocks_answer_when_the_coupling_row_is_slack_and_hand_off_when_it_binds(backend):
    solver = get_backend(backend)
    slack = in_blocks(hand(10), solver, SolverOptions(), np.array([0, 1]), ("budget_max",))
    assert slack.status == Status.OPTIMAL
    assert slack.objective == pytest.approx(7.0)
    assert list(slack.x) == [1, 0, 3, 2]
    assert solver(hand(10), SolverOptions()).objective == pytest.approx(7.0)
    binding = in_blocks(hand(4), solver, SolverOptions(), np.array([0, 1]), ("budget_max",))
    assert binding is None  # z0's blocks need xA + xB = 5 > 4
    assert solver(hand(4), SolverOptions()).objective == pytest.approx(8.0)
    none = in_blocks(hand(2), solver, SolverOptions(), np.array([0, 1]), ("budget_max",))
    assert none is None  # the relaxation is feasible: only the whole MILP proves it is not
    assert solver(hand(2), SolverOptions()).status == Status.INFEASIBLE


def test_blocks_each_proven_by_their_solver_make_a_proven_answer():
    """HiGHS proves an optimum to an absolute gap (1e-6): a block it calls optimal may
    report a bound a few 1e-7 below its answer. Blocks each proven are proven together
    (before, the summed bounds made the 10-model benchmark fleet 'feasible, gap 0.00 %');
    a block that is not proven still carries its gap."""
    from dataclasses import replace as swap

    highs = get_backend("scipy-highs")

    def shy(form, options):  # optimal, bound 4e-7 below the answer
        out = highs(form, options)
        return swap(out, bound=out.objective - 4e-7)

    out = in_blocks(hand(10), shy, SolverOptions(), np.array([0, 1]), ("budget_max",))
    assert out.status == Status.OPTIMAL
    assert out.objective == pytest.approx(7.0)

    def unsure(form, options):  # stopped early: feasible, bound 0.5 below
        out = highs(form, options)
        return swap(out, status=Status.FEASIBLE, bound=out.objective - 0.5)

    out = in_blocks(hand(10), unsure, SolverOptions(), np.array([0, 1]), ("budget_max",))
    assert out.status == Status.FEASIBLE
    assert out.bound < out.objective


def _whole_and_blocks(raw: dict, backend: str):
    scn = validate_scenario(raw)
    form = build_fleet(CostModel(scn))
    solver = get_backend(backend)
    choice = np.arange(form.z.start, form.z.stop)
    return (
        solver(form, SolverOptions()),
        in_blocks(form, solver, SolverOptions(), choice),
    )


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_a_fleet_in_blocks_has_the_whole_milp_s_optimum(backend):
    """Ten roofline models in two pools of five, three plans, two day types: without the
    quality floor the pools are solved apart, at the whole MILP's optimum."""
    raw = random_fleet_scenario(3, models=10)
    raw["constraints"].pop("quality_floor", None)
    whole, blocks = _whole_and_blocks(raw, backend)
    assert blocks is not None
    assert blocks.message == "solved in blocks"
    assert blocks.status == whole.status == Status.OPTIMAL
    assert blocks.objective == pytest.approx(whole.objective, rel=1e-7)
    fleet = solve(validate_scenario(raw), backend)
    assert fleet.objective_per_day == pytest.approx(whole.objective, rel=1e-7)


def test_a_gap_is_carried_from_the_blocks():
    """With --gap the blocks may stop at it: the answer is then feasible with the summed
    bounds, never optimal unless the bound meets the answer."""
    raw = random_fleet_scenario(3, models=10)
    raw["constraints"].pop("quality_floor", None)
    form = build_fleet(CostModel(validate_scenario(raw)))
    choice = np.arange(form.z.start, form.z.stop)
    out = in_blocks(form, get_backend("scipy-highs"), SolverOptions(mip_gap=0.05), choice)
    assert out is not None
    assert out.bound <= out.objective + 1e-9
    assert (out.status == Status.OPTIMAL) == (out.gap <= 1e-9)
    assert out.gap <= 0.05 + 1e-9


@pytest.mark.slow
def test_a_binding_quality_floor_is_raised_pool_by_pool_to_the_whole_milp_s_optimum():
    """Seed 1's floor is slack at the blocks' answer; raised past that answer's quality the
    blocks raise each pool's quality (``optimize.frontier``) to the whole MILP's optimum,
    dearer than before; a budget just below that optimum makes it infeasible."""
    raw = random_fleet_scenario(1, models=10)
    scn = validate_scenario(raw)
    form = build_fleet(CostModel(scn))
    choice = np.arange(form.z.start, form.z.stop)
    solver = get_backend("scipy-highs")
    slack = in_blocks(form, solver, SolverOptions(), choice)
    row = form.milp.row_names.index(
        next(r for r in form.milp.row_names if r.startswith("quality_min"))
    )
    reached = float((form.milp.A[row] @ slack.x)[0])  # Q (1 + sum of deltas) - floor
    assert reached > 0
    raw["constraints"]["quality_floor"] = round(
        raw["constraints"]["quality_floor"] + 1.5 * reached, 6
    )
    whole, blocks = _whole_and_blocks(raw, "scipy-highs")
    assert blocks.message == "solved in blocks"
    assert whole.status == blocks.status == Status.OPTIMAL
    assert blocks.objective == pytest.approx(whole.objective, rel=1e-7)
    assert whole.objective > slack.objective
    fleet = solve(validate_scenario(raw))
    assert fleet.objective_per_day == pytest.approx(whole.objective, rel=1e-7)
    raw["constraints"]["budget_per_day"] = round(fleet.objective_per_day * 0.999, 2)
    whole, blocks = _whole_and_blocks(raw, "scipy-highs")
    assert whole.status == blocks.status == Status.INFEASIBLE  # the floor's optimum is over
