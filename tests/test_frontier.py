"""A binding quality floor over independent pools (``optimize.frontier``): per pool its
cheapest answers at rising quality, then a knapsack over them, give the whole MILP's
optimum; checked on a hand case and against the whole MILP on random fleets."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from deploycost.cost.model import CostModel
from deploycost.optimize.blocks import IN_BLOCKS
from deploycost.optimize.fleet import build_fleet
from deploycost.optimize.formulation import Milp
from deploycost.optimize.solve import solve
from deploycost.optimize.solvers import SolverOptions, Status, get_backend
from deploycost.scenario.schema import validate_scenario
from deploycost.scenario.synthetic import random_fleet_scenario

from .blocks_support import in_blocks

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
    out = in_blocks(two_pools(0.0), solver, SolverOptions(), choice, ("quality_min",))
    assert out is not None
    assert out.message == IN_BLOCKS
    assert out.status == Status.OPTIMAL
    assert out.objective == pytest.approx(34.0)
    assert list(out.x) == [1, 1, 0, 2, 0, 1, 2]  # A int8 on 2, B fp32 on 2
    assert solver(two_pools(0.0), SolverOptions()).objective == pytest.approx(34.0)
    slack = in_blocks(two_pools(-1.0), solver, SolverOptions(), choice, ("quality_min",))
    assert slack.objective == pytest.approx(27.0)
    assert list(slack.x) == [1, 1, 0, 2, 1, 0, 1]


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_floor_no_pool_can_reach_is_infeasible_and_a_row_it_cannot_read_hands_off(backend):
    solver = get_backend(backend)
    choice = np.array([0])
    both = in_blocks(two_pools(1.0), solver, SolverOptions(), choice, ("quality_min",))
    assert both.objective == pytest.approx(44.0)
    assert list(both.x) == [1, 0, 1, 3, 0, 1, 2]
    out = in_blocks(two_pools(2.0), solver, SolverOptions(), choice, ("quality_min",))
    assert out.status == Status.INFEASIBLE
    assert solver(two_pools(2.0), SolverOptions()).status == Status.INFEASIBLE
    # on the counts (integers, not one-of binaries) the shares cannot be enumerated
    counts = two_pools(-4.0, on_counts=True)  # nA + nB <= 5: the free answer uses 3
    assert in_blocks(counts, solver, SolverOptions(), choice, ("quality_min",)).objective == (
        pytest.approx(27.0)
    )
    tight = two_pools(-2.0, on_counts=True)  # nA + nB <= 3 binds only past the free answer
    assert in_blocks(tight, solver, SolverOptions(), choice, ("quality_min",)) is not None
    tighter = two_pools(-1.0, on_counts=True)  # nA + nB <= 2: binds, cannot be enumerated
    assert in_blocks(tighter, solver, SolverOptions(), choice, ("quality_min",)) is None
    assert solver(tighter, SolverOptions()).status == Status.INFEASIBLE


def binding_floor(seed: int, models: tuple[int, int] = (4, 8), one_day: bool = False) -> dict:
    """A small random fleet (``models`` from..to models) whose quality floor lies between
    the best quality its models can reach and 3 % below it, so that it binds at most draws.
    ``one_day``: its normal day all year (no festival day type)."""
    rng = np.random.default_rng(seed)
    raw = random_fleet_scenario(
        seed,
        models=int(rng.integers(models[0], models[1] + 1)),
        pool_size=int(rng.integers(1, 4)),
    )
    if one_day:
        workload = raw["workload"]
        workload["day_types"] = [workload["day_types"][0] | {"days": 365}]
        workload["peak_qps"] = workload["day_types"][0]["peak_qps"]
    q = raw["fusion"][0]["quality"]
    best = q * (1 + sum(max(DELTA[p] for p in m["allowed_precisions"]) for m in raw["models"]))
    raw["constraints"]["quality_floor"] = round(
        float(rng.uniform(best - 0.03 * q, best + 0.002)), 6
    )
    return raw


# four pools, the floor binds and is raised block by block; the whole MILP takes < 1 s (the
# ten-model case with its floor raised is test_blocks'; the 50-model one bench_fleet's)
SMALL_BINDING = 138


def _agree(seeds, models: tuple[int, int] = (4, 8), one_day: bool = False) -> dict:
    """Per seed, the blocks on every backend against one reference: the whole MILP solved
    by HiGHS (whole-MILP agreement between the backends is the fleet oracle's test).
    Per backend: seeds that agree, seeds infeasible for both, and floors raised."""
    reference = get_backend("scipy-highs")
    tally = {b: {"agree": 0, "infeasible": 0, "raised": 0} for b in BACKENDS}
    import deploycost.optimize.blocks as blocks

    running = [BACKENDS[0]]

    def counted(*args):
        x = original(*args)
        tally[running[0]]["raised"] += x is not None
        return x

    original, blocks.raise_row = blocks.raise_row, counted
    try:
        for seed in seeds:
            form = build_fleet(CostModel(validate_scenario(binding_floor(seed, models, one_day))))
            choice = np.arange(form.z.start, form.z.stop)
            whole = reference(form, SolverOptions())
            assert whole.status in (Status.OPTIMAL, Status.INFEASIBLE), seed
            for backend in BACKENDS:
                running[0] = backend
                parts = in_blocks(form, get_backend(backend), SolverOptions(), choice)
                assert parts is not None, (seed, backend)
                assert parts.status == whole.status, (seed, backend)
                if whole.status == Status.INFEASIBLE:
                    tally[backend]["infeasible"] += 1
                    continue
                assert parts.objective == pytest.approx(whole.objective, rel=1e-6, abs=1e-6), (
                    seed,
                    backend,
                )
                tally[backend]["agree"] += 1
    finally:
        blocks.raise_row = original
    return tally


@pytest.mark.slow
def test_random_binding_floors_in_blocks_match_the_whole_milp():
    for tally in _agree(range(8)).values():
        assert tally["agree"] >= 6
        assert tally["raised"] >= 4  # the floor bound and was raised block by block


@pytest.mark.slow
@pytest.mark.parametrize("first", range(100, 160, 5))  # 60 seeds, in parallel parts
def test_many_random_binding_floors_in_blocks_match_the_whole_milp(first):
    """4 to 6 models, one day type: the whole MILP's time grows steeply with the models
    and the day types' count columns (one seed took 19 s with two), and the blocks are
    raised as often (4 to 8 models and two day types: the test above)."""
    for tally in _agree(range(first, first + 5), models=(4, 6), one_day=True).values():
        assert tally["agree"] + tally["infeasible"] == 5
        assert tally["raised"] >= 1  # the floor bound and was raised block by block


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_solve_fleet_with_a_binding_floor_is_solved_in_blocks(backend):
    """A random fleet of four pools whose quality floor binds (``binding_floor(138)``):
    solve answers pool by pool, at the whole MILP's cost, and the fleet meets the floor
    (the audit checks every row)."""
    raw = binding_floor(SMALL_BINDING)
    floor = raw["constraints"]["quality_floor"]
    scn = validate_scenario(raw)
    fleet = solve(scn, backend)
    whole = get_backend(backend)(build_fleet(CostModel(scn)), SolverOptions())
    assert fleet.size["solved_in_blocks"] == 1
    assert fleet.status == Status.OPTIMAL
    assert fleet.objective_per_day == pytest.approx(whole.objective, rel=1e-7)
    q = raw["fusion"][0]["quality"]
    reached = q * (1 + sum(DELTA[p] for p in fleet.plan.artifacts.precision))
    assert reached >= floor - 1e-9
    raw["constraints"].pop("quality_floor")
    free = solve(validate_scenario(raw), backend)  # the floor binds: without it,
    assert q * (1 + sum(DELTA[p] for p in free.plan.artifacts.precision)) < floor  # lower quality
    assert free.objective_per_day < fleet.objective_per_day  # at a lower cost


points = st.lists(
    st.tuples(
        st.integers(0, 50).map(float),  # cost
        st.integers(-6, 0).map(lambda g: g / 4),  # share
    ),
    min_size=1,
    max_size=4,
)


@settings(max_examples=200, deadline=None)
@given(st.lists(points, min_size=1, max_size=4), st.integers(-24, 0).map(lambda n: n / 4))
def test_the_knapsack_picks_the_cheapest_combination_that_reaches_the_row(blocks, need):
    """Against every combination of one point per block (closed frontiers)."""
    from deploycost.optimize.frontier import _Block, _knapsack

    frontier = [
        _Block(np.arange(1), None, np.ones(1), np.zeros(1), [(f, g, None) for f, g in b], True)
        for b in blocks
    ]
    best = None
    for picks in itertools.product(*(range(len(b)) for b in blocks)):
        share = sum(blocks[i][k][1] for i, k in enumerate(picks))
        cost = sum(blocks[i][k][0] for i, k in enumerate(picks))
        if share >= need and (best is None or cost < best):
            best = cost
    out = _knapsack(frontier, need)
    if best is None:
        assert out is None
    else:
        cost, picks = out
        assert cost == best
        assert sum(blocks[i][k][1] for i, k in enumerate(picks)) >= need
        assert sum(blocks[i][k][0] for i, k in enumerate(picks)) == best


def test_an_open_frontier_is_picked_optimistically_and_a_closed_one_is_not():
    """A block whose frontier is open offers its last cost with its largest share: picked
    when that is cheaper (the block must then grow), not on a tie with known points, and
    never once the block is done."""
    from deploycost.optimize.frontier import _Block, _knapsack

    def blocks(b_points):
        a = _Block(np.arange(1), None, np.ones(1), np.array([-2.0, -1, 0]), [(10.0, -2.0, None)])
        b = _Block(np.arange(1), None, np.ones(1), np.array([-1.0, 0]), b_points, True)
        return a, b

    a, b = blocks([(5.0, -1.0, None), (5.0, 0.0, None)])
    assert _knapsack([a, b], -2.0) == (15.0, (0, 1))  # a known pick costs the same: kept
    a, b = blocks([(5.0, -1.0, None), (9.0, 0.0, None)])
    assert _knapsack([a, b], -2.0) == (15.0, (1, 0))  # a's (10, 0) + b's (5, -1) < 19
    a.done = True
    assert _knapsack([a, b], -1.5) is None  # a's -2 with b's best 0 cannot reach -1.5


def test_a_pool_s_shares_are_the_sums_of_one_delta_per_model():
    """Two models (exactly-one rows over their artifacts) with deltas {0, -1} and
    {0, -0.5, -2}: the shares are every sum of one of each, sorted."""
    from deploycost.optimize.frontier import _share_values

    a = np.array([[1, 1, 0, 0, 0, 0], [0, 0, 1, 1, 1, 0], [0, 0, 0, 0, 0, 1]], float)
    sub = Milp(
        c=np.zeros(6),
        A=sp.csr_matrix(a),
        row_lb=np.array([1.0, 1.0, 0.0]),
        row_ub=np.array([1.0, 1.0, np.inf]),
        col_lb=np.zeros(6),
        col_ub=np.array([1.0, 1, 1, 1, 1, np.inf]),
        integrality=np.ones(6, np.int8),
        row_names=["assign[a]", "assign[b]", "other"],
    )
    share = np.array([0.0, -1, 0, -0.5, -2, 0])
    assert list(_share_values(sub, share)) == [-3.0, -2.0, -1.5, -1.0, -0.5, 0.0]
    on_count = share.copy()
    on_count[5] = 1.0  # a column in no exactly-one row: its share cannot be enumerated
    assert _share_values(sub, on_count) is None
    close = np.array([0.0, -1, 0, -1 + 1e-7, -2, 0])  # two shares closer than the tolerances
    assert _share_values(sub, close) is None


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_a_budget_is_a_cap_on_the_cost_the_blocks_prove_it_over_or_under(backend):
    """The small fleet with a binding floor (optimum C): a budget of C + 1 changes nothing;
    C - 1 is infeasible (the exact optimum under the floor is over it), as is a budget
    under the cheapest fleet without the floor (no block needs raising to tell); both agree
    with the whole MILP, and the solve names the budget."""
    raw = binding_floor(SMALL_BINDING)
    best = solve(validate_scenario(raw), backend).objective_per_day
    solver = get_backend(backend)
    for budget, status in ((best + 1, Status.OPTIMAL), (best - 1, Status.INFEASIBLE)):
        raw["constraints"]["budget_per_day"] = round(budget, 2)
        form = build_fleet(CostModel(validate_scenario(raw)))
        choice = np.arange(form.z.start, form.z.stop)
        out = in_blocks(form, solver, SolverOptions(), choice)
        assert out.status == solver(form, SolverOptions()).status == status
        if status == Status.OPTIMAL:
            assert out.objective == pytest.approx(best, rel=1e-7)
    raw["constraints"]["budget_per_day"] = round(best * 0.5, 2)
    form = build_fleet(CostModel(validate_scenario(raw)))
    choice = np.arange(form.z.start, form.z.stop)
    out = in_blocks(form, solver, SolverOptions(), choice)
    assert out.status == Status.INFEASIBLE
    assert "over the cap" in out.message
    fleet = solve(validate_scenario(raw), backend)
    assert fleet.status == Status.INFEASIBLE
    assert "budget" in " ".join(fleet.explanation)


@pytest.mark.slow
def test_the_solve_threads_setting_changes_the_speed_not_the_fleet(monkeypatch):
    """DEPLOYCOST_SOLVE_THREADS=1 solves the pools one after another, 2 at once: the same
    fleet; a setting that is not a whole number from 1 names the variable."""
    from deploycost.errors import DeployCostError
    from deploycost.optimize.solvers import solve_workers

    raw = binding_floor(SMALL_BINDING)
    fleets = []
    for threads in ("1", "2"):
        monkeypatch.setenv("DEPLOYCOST_SOLVE_THREADS", threads)
        assert solve_workers() == int(threads)
        fleets.append(solve(validate_scenario(raw), "scipy-highs"))
    assert fleets[0].objective_per_day == fleets[1].objective_per_day
    assert fleets[0].plan.counts.equals(fleets[1].plan.counts)
    for bad in ("0", "two", "-1"):
        monkeypatch.setenv("DEPLOYCOST_SOLVE_THREADS", bad)
        with pytest.raises(DeployCostError, match="DEPLOYCOST_SOLVE_THREADS must be a whole"):
            solve_workers()
