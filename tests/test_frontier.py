"""A binding quality floor over independent pools (``optimize.frontier``): per pool its
cheapest answers at rising quality, then a knapsack over them, give the whole MILP's
optimum; checked on a hand case and against the whole MILP on random fleets."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
import scipy.sparse as sp

from deploycost.cost.model import CostModel
from deploycost.optimize.blocks import IN_BLOCKS, solve_in_blocks
from deploycost.optimize.fleet import build_fleet
from deploycost.optimize.fleet_solve import COUPLING, solve_fleet
from deploycost.optimize.formulation import Milp
from deploycost.optimize.solvers import SolverOptions, Status, get_backend
from deploycost.scenario.schema import validate_scenario
from deploycost.scenario.synthetic import random_fleet_scenario

BACKENDS = ["scipy-highs", "pulp-cbc"]
DELTA = {"fp32": 0.0, "fp16": -0.001, "int8": -0.01}  # precision.csv quality_delta_rel


@dataclass(frozen=True)
class Form:
    milp: Milp
    presolve: bool = False


def two_pools(floor: float, on_counts: bool = False) -> Form:
    """Columns: z (the one configuration), pool A: a8, a32 (its model at int8 or fp32,
    binaries), nA (instances, 10 USD each); pool B: b8, b32, nB (7 USD each).
    Rows: one_fusion z = 1; assign a8 + a32 - z = 0, b8 + b32 - z = 0; capacity
    nA >= 2 a8 + 3 a32 (int8 needs 2 instances, fp32 3), nB >= 1 b8 + 1.5 b32;
    quality_min: -a8 - b8 + (1 - floor) z >= 0 (each int8 model loses 1; ``on_counts``:
    the row reads the instance counts instead, which no frontier can enumerate).

    Free: both int8, 2 x 10 + 1 x 7 = 27, quality loss 2. Floor 0 (at most one int8):
    A int8 + B fp32 = 20 + 2 x 7 = 34 < A fp32 + B int8 = 30 + 7 = 37. Floor -1 (loss 2
    allowed): 27. Floor 1 (no loss): both fp32, 30 + 14 = 44. Floor 2 (a gain of 1 that no
    precision gives): infeasible."""
    names = ["one_fusion", "assign[A]", "assign[B]", "capacity[A]", "capacity[B]"]
    rows = [
        [1, 0, 0, 0, 0, 0, 0],
        [-1, 1, 1, 0, 0, 0, 0],
        [-1, 0, 0, 0, 1, 1, 0],
        [0, -2, -3, 1, 0, 0, 0],
        [0, 0, 0, 0, -1, -1.5, 1],
    ]
    quality = [1 - floor, 0, 0, -1, 0, 0, -1] if on_counts else [1 - floor, -1, 0, 0, -1, 0, 0]
    return Form(
        Milp(
            c=np.array([0.0, 0, 0, 10, 0, 0, 7]),
            A=sp.csr_matrix(np.array([*rows, quality], float)),
            row_lb=np.array([1.0, 0, 0, 0, 0, 0]),
            row_ub=np.array([1.0, 0, 0, np.inf, np.inf, np.inf]),
            col_lb=np.zeros(7),
            col_ub=np.array([1.0, 1, 1, np.inf, 1, 1, np.inf]),
            integrality=np.ones(7, np.int8),
            row_names=[*names, "quality_min[all]"],
        )
    )


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_floor_upgrades_the_pool_where_quality_is_cheapest(backend):
    solver = get_backend(backend)
    choice = np.array([0])
    out = solve_in_blocks(two_pools(0.0), solver, SolverOptions(), choice, ("quality_min",))
    assert out is not None
    assert out.message == IN_BLOCKS
    assert out.status == Status.OPTIMAL
    assert out.objective == pytest.approx(34.0)
    assert list(out.x) == [1, 1, 0, 2, 0, 1, 2]  # A int8 on 2, B fp32 on 2
    assert solver(two_pools(0.0), SolverOptions()).objective == pytest.approx(34.0)
    slack = solve_in_blocks(two_pools(-1.0), solver, SolverOptions(), choice, ("quality_min",))
    assert slack.objective == pytest.approx(27.0)
    assert list(slack.x) == [1, 1, 0, 2, 1, 0, 1]


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_floor_no_pool_can_reach_is_infeasible_and_a_row_it_cannot_read_hands_off(backend):
    solver = get_backend(backend)
    choice = np.array([0])
    both = solve_in_blocks(two_pools(1.0), solver, SolverOptions(), choice, ("quality_min",))
    assert both.objective == pytest.approx(44.0)
    assert list(both.x) == [1, 0, 1, 3, 0, 1, 2]
    out = solve_in_blocks(two_pools(2.0), solver, SolverOptions(), choice, ("quality_min",))
    assert out.status == Status.INFEASIBLE
    assert solver(two_pools(2.0), SolverOptions()).status == Status.INFEASIBLE
    # on the counts (integers, not one-of binaries) the shares cannot be enumerated
    counts = two_pools(-4.0, on_counts=True)  # nA + nB <= 5: the free answer uses 3
    assert solve_in_blocks(counts, solver, SolverOptions(), choice, ("quality_min",)).objective == (
        pytest.approx(27.0)
    )
    tight = two_pools(-2.0, on_counts=True)  # nA + nB <= 3 binds only past the free answer
    assert solve_in_blocks(tight, solver, SolverOptions(), choice, ("quality_min",)) is not None
    tighter = two_pools(-1.0, on_counts=True)  # nA + nB <= 2: binds, cannot be enumerated
    assert solve_in_blocks(tighter, solver, SolverOptions(), choice, ("quality_min",)) is None
    assert solver(tighter, SolverOptions()).status == Status.INFEASIBLE


def binding_floor(seed: int) -> dict:
    """A small random fleet whose quality floor lies between the best quality its models
    can reach and 3 % below it, so that it binds at most draws."""
    rng = np.random.default_rng(seed)
    raw = random_fleet_scenario(
        seed, models=int(rng.integers(4, 9)), pool_size=int(rng.integers(1, 4))
    )
    q = raw["fusion"][0]["quality"]
    best = q * (1 + sum(max(DELTA[p] for p in m["allowed_precisions"]) for m in raw["models"]))
    raw["constraints"]["quality_floor"] = round(
        float(rng.uniform(best - 0.03 * q, best + 0.002)), 6
    )
    return raw


def _agree(seeds, backend) -> dict:
    solver = get_backend(backend)
    tally = {"agree": 0, "infeasible": 0, "raised": 0}
    import deploycost.optimize.blocks as blocks

    raised = []

    def counted(*args):
        x = original(*args)
        raised.append(x is not None)
        return x

    original, blocks.raise_row = blocks.raise_row, counted
    try:
        for seed in seeds:
            form = build_fleet(CostModel(validate_scenario(binding_floor(seed))))
            choice = np.arange(form.z.start, form.z.stop)
            whole = solver(form, SolverOptions())
            parts = solve_in_blocks(form, solver, SolverOptions(), choice, COUPLING)
            assert parts is not None, seed
            assert parts.status == whole.status, seed
            if whole.status == Status.INFEASIBLE:
                tally["infeasible"] += 1
                continue
            assert whole.status == Status.OPTIMAL, seed
            assert parts.objective == pytest.approx(whole.objective, rel=1e-6, abs=1e-6), seed
            tally["agree"] += 1
    finally:
        blocks.raise_row = original
    tally["raised"] = sum(raised)
    return tally


@pytest.mark.parametrize("backend", BACKENDS)
def test_random_binding_floors_in_blocks_match_the_whole_milp(backend):
    tally = _agree(range(8), backend)
    assert tally["agree"] >= 6
    assert tally["raised"] >= 4  # the floor bound and was raised block by block


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_many_random_binding_floors_in_blocks_match_the_whole_milp(backend):
    tally = _agree(range(100, 160), backend)
    print(backend, tally)
    assert tally["agree"] + tally["infeasible"] == 60
    assert tally["raised"] >= 30


@pytest.mark.parametrize("backend", BACKENDS)
def test_solve_fleet_with_a_binding_floor_is_solved_in_blocks(backend):
    """Ten models in two pools of five with seed 1's floor raised past the free answer's
    quality: solve_fleet answers pool by pool, at the whole MILP's cost, and the fleet
    meets the floor (the audit checks every row)."""
    raw = random_fleet_scenario(1, models=10)
    raw["constraints"]["quality_floor"] = 0.86
    scn = validate_scenario(raw)
    fleet = solve_fleet(scn, backend)
    whole = get_backend(backend)(build_fleet(CostModel(scn)), SolverOptions())
    assert fleet.size["solved_in_blocks"] == 1
    assert fleet.status == Status.OPTIMAL
    assert fleet.objective_per_day == pytest.approx(whole.objective, rel=1e-7)
    q = raw["fusion"][0]["quality"]
    reached = q * (1 + sum(DELTA[p] for p in fleet.artifacts.precision))
    assert reached >= 0.86 - 1e-9
    raw["constraints"].pop("quality_floor")
    free = solve_fleet(validate_scenario(raw), backend)  # the floor binds: without it,
    assert q * (1 + sum(DELTA[p] for p in free.artifacts.precision)) < 0.86  # lower quality
    assert free.objective_per_day < fleet.objective_per_day  # at a lower cost
