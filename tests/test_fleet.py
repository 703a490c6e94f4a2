"""Fleet decisions solved by hand: each case's numbers are worked out in its docstring, then
checked on both MILP backends (and by the independent audit every fleet solve runs)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from deploycost.errors import DeployCostError, ScenarioError
from deploycost.optimize.solve import solve
from deploycost.scenario.schema import validate_scenario
from tests.fleet_cases import box, fleet_scenario, model
from tests.fleet_oracle import MIG_ROW, oracle, random_fleet

BACKENDS = ["scipy-highs", "pulp-cbc"]
# every hand case runs on both backends; CBC's runs are in the full suite only (quick loop)
HAND_BACKENDS = ["scipy-highs", pytest.param("pulp-cbc", marks=pytest.mark.slow)]


def per_type(result) -> dict[str, int]:
    """Instances per (instance, plan) at the busiest hour group of the first day type."""
    out: dict[str, int] = {}
    for r in result.plan.counts.itertuples():
        out[f"{r.instance}/{r.plan}"] = max(out.get(f"{r.instance}/{r.plan}", 0), r.instances)
    return out


@pytest.mark.parametrize("backend", HAND_BACKENDS)
def test_two_types_beat_either_alone(backend):
    """130 requests/s; ``big`` carries 100 at 3 USD/h, ``small`` 30 at 1 USD/h.
    big alone: ceil(130/100) = 2 -> 6 USD/h; small alone: ceil(130/30) = 5 -> 5 USD/h;
    1 big + 1 small = 130 requests/s exactly -> 4 USD/h = 96 USD/day, shares 100/130 and
    30/130."""
    boxes = [box("big", on_demand=3.0), box("small", on_demand=1.0)]
    m = model("m", {"big": 100.0, "small": 30.0})
    result = solve(fleet_scenario([m], boxes, 130.0), backend)
    assert result.status == "optimal"
    assert result.objective_per_day == pytest.approx(96.0, abs=1e-6)
    assert per_type(result) == {"big/on_demand": 1, "small/on_demand": 1}
    shares = result.plan.shares.set_index("instance").share
    assert shares["big"] == pytest.approx(100 / 130, abs=1e-6)
    assert shares["small"] == pytest.approx(30 / 130, abs=1e-6)
    for only, expected in (("big", 144.0), ("small", 120.0)):
        alone = fleet_scenario([model("m", {only: 100.0 if only == "big" else 30.0})], boxes, 130)
        assert solve(alone, backend).objective_per_day == pytest.approx(expected)
    capped = fleet_scenario([m], boxes, 130.0, fleet={"max_types_per_model": 1})
    assert solve(capped, backend).objective_per_day == pytest.approx(120.0)


@pytest.mark.parametrize("backend", HAND_BACKENDS)
def test_fleet_runner_ups_re_solve_without_each_type_and_precision(backend, tmp_path):
    """The two-type case above (96 USD/day): without ``big`` the model runs on 5 small
    (120/day, +24), without ``small`` on 2 big (144/day, +48), in order of share (big
    carries 100/130); its one precision has no replacement ('none', n/a). The CLI prints
    and writes them with ``--runner-ups``."""
    from deploycost.optimize.fleet_alternatives import fleet_runner_ups

    boxes = [box("big", on_demand=3.0), box("small", on_demand=1.0)]
    raw = fleet_scenario([model("m", {"big": 100.0, "small": 30.0})], boxes, 130.0)
    scn = validate_scenario(raw)
    ups = fleet_runner_ups(scn, solve(scn, backend), backend)
    assert ups.change.tolist() == ["without big", "without small", "without fp32"]
    assert ups.alternative.tolist()[:2] == ["small fp32 100 %", "big fp32 100 %"]
    assert ups.extra_per_day.tolist()[:2] == pytest.approx([24.0, 48.0], abs=1e-6)
    assert ups.alternative.iat[2] == "none"
    assert np.isnan(ups.extra_per_day.iat[2])
    if backend != "scipy-highs":
        return
    import json

    import yaml
    from typer.testing import CliRunner

    from deploycost.cli.app import app

    path = tmp_path / "two.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    out = CliRunner().invoke(app, ["solve", str(path), "--runner-ups", "--json"])
    assert out.exit_code == 0, out.output
    rows = json.loads(out.stdout)["runner_ups"]
    assert [r["extra_per_day"] for r in rows][:2] == pytest.approx([24.0, 48.0], abs=1e-6)
    assert rows[2]["extra_per_day"] is None
    text = CliRunner().invoke(app, ["solve", str(path), "--runner-ups"])
    assert "without small" in text.stdout
    assert "+48.00" in text.stdout


@pytest.mark.parametrize("backend", HAND_BACKENDS)
def test_two_models_share_one_instance(backend):
    """Models a and b, 10 requests/s each; ``small`` (1 USD/h, 16 GiB) carries 30/s of
    either, ``big`` (1.5 USD/h, 64 GiB) too. Dedicated: 1 small each = 2 USD/h = 48/day.
    In one pool: 10/30 + 10/30 = 0.67 of an instance, but two 7 GB models need
    7 + 7 + 2 (host reserve) = 16 GB > 0.9 x 16 GiB (15.46 GB) on small, so they share
    one big: 1.5 USD/h = 36 USD/day. With 4 GB models they fit on one small: 24/day."""
    boxes = [box("small", on_demand=1.0, memory_gib=16), box("big", on_demand=1.5)]
    caps = {"small": 30.0, "big": 30.0}

    def case(size_gb, pool):
        extra = {"pool": "shared"} if pool else {}
        models = [model(n, caps, size_gb=size_gb, **extra) for n in ("a", "b")]
        return solve(fleet_scenario(models, boxes, 10.0), backend)

    assert case(7.0, pool=False).objective_per_day == pytest.approx(48.0)
    shared = case(7.0, pool=True)
    assert shared.objective_per_day == pytest.approx(36.0)
    assert set(shared.plan.shares.instance) == {"big"}
    assert set(shared.plan.shares.pool) == {"shared"}
    assert case(4.0, pool=True).objective_per_day == pytest.approx(24.0)


STEPS = [1] * 8 + [3] * 8 + [4] * 6 + [2] * 2  # instances needed in each hour


def stepped_case(**fleet) -> dict:
    """One type (30 requests/s per instance, on-demand 1 USD/h, reserved 0.6 USD/h), demand
    29.4 x STEPS requests/s over the day, autoscaled; ``fleet`` changes the fleet section."""
    return fleet_scenario(
        [model("m", {"small": 30.0})],
        [box("small", on_demand=1.0, reserved=0.6)],
        4 * 29.4,
        fleet={"plans": ["on_demand", "reserved_1yr"], **fleet},
        day_types=[{"name": "day", "days": 365, "peak_qps": 4 * 29.4, "hourly_profile": STEPS}],
        autoscale=True,
    )


@pytest.mark.parametrize("backend", HAND_BACKENDS)
def test_reserved_base_follows_break_even_hours(backend):
    """One type, 30 requests/s per instance, demand 29.4 x STEPS requests/s (1 instance for
    8 h, 3 for 8 h, 4 for 6 h, 2 for 2 h). On-demand 1 USD/h, reserved 0.6 USD/h: a
    committed instance pays off when it works more than 24 x 0.6 = 14.4 h a day. The k-th
    instance works 24, 16, 14 and 6 h: commit 2. Cost: 2 x 24 x 0.6 = 28.8, plus on-demand
    8 h x 1 + 6 h x 2 = 20 -> 48.8 USD/day (on-demand only: sum of STEPS = 60)."""
    result = solve(stepped_case(), backend)
    assert result.objective_per_day == pytest.approx(48.8, abs=1e-6)
    committed = result.plan.counts[result.plan.counts.plan == "reserved_1yr"]
    assert committed.instances.tolist() == [2]
    assert "commit 2 x small" in result.plan.commitments[0]
    assert "20.0 h a day" in result.plan.commitments[0]
    assert "break-even against on-demand is 14.4 h" in result.plan.commitments[0]
    on_demand = stepped_case(plans=["on_demand"])
    assert solve(on_demand, backend).objective_per_day == pytest.approx(60.0)
    # a lag of 30 min keeps the next hour's capacity up: the hour before each rise needs it
    lagged = stepped_case(plans=["on_demand"], scale_up_lag_min=30)
    # hours 7 (1 -> 3) and 15 (3 -> 4) and 23 (2 -> 1 next day: no rise) change
    assert solve(lagged, backend).objective_per_day == pytest.approx(60.0 + 2 + 1)


@pytest.mark.parametrize("backend", HAND_BACKENDS)
def test_a_three_year_term_commits_down_to_its_own_break_even(backend):
    """The stepped case with a three-year price of 0.4 USD/h beside the one-year 0.6: a
    three-year instance pays off above 24 x 0.4 = 9.6 h a day, so the 3rd instance (14 h)
    is committed too, all three for three years (the one-year term costs more for the same
    hours): 3 x 24 x 0.4 = 28.8 + on-demand 6 h x 1 = 34.8 USD/day (48.8 with the one-year
    term only); the three work min(STEPS, 3) = 54 instance-hours a day, 18.0 h each. A type
    without a three-year price cannot be bought on that plan: an error naming the field."""
    raw = stepped_case(plans=["on_demand", "reserved_1yr", "reserved_3yr"])
    raw["catalog"]["hardware"][0]["price_reserved_3yr_per_hour"] = 0.4
    result = solve(raw, backend)
    assert result.objective_per_day == pytest.approx(34.8, abs=1e-6)
    committed = result.plan.counts[result.plan.counts.plan.isin(["reserved_1yr", "reserved_3yr"])]
    assert committed[["plan", "instances"]].values.tolist() == [["reserved_3yr", 3]]
    (advice,) = result.plan.commitments
    assert "commit 3 x small for three years" in advice
    assert "18.0 h a day" in advice
    assert "break-even against on-demand is 9.6 h" in advice
    costs = result.plan.costs.set_index("line").per_day
    assert costs["  reserved_3yr"] == pytest.approx(28.8)
    assert costs["  reserved_1yr"] == pytest.approx(0.0)
    with pytest.raises(
        ScenarioError, match=r"fleet.plans: plan 'reserved_3yr' needs price_reserved_3yr_per_hour"
    ):
        validate_scenario(stepped_case(plans=["on_demand", "reserved_3yr"]))


@pytest.mark.parametrize("backend", HAND_BACKENDS)
def test_spot_share_is_limited_by_the_interruption_rule(backend):
    """Demand 88.2 requests/s = 2.94 instances all day; on-demand 1 USD/h, spot 0.6 USD/h.
    Rule: N + (1 - f) S >= 2.94. With f = 0: 3 spot = 1.8 USD/h = 43.2/day. With f = 0.3:
    5 spot = 3.0; 1 on-demand + 3 spot (1 + 2.1 = 3.1) = 2.8; 2 + 2 = 3.2; 3 on-demand =
    3.0: 1 on-demand + 3 spot = 67.2 USD/day."""
    boxes = [box("small", on_demand=1.0, spot=0.6)]
    m = model("m", {"small": 30.0})

    def case(fraction):
        fleet = {"plans": ["on_demand", "spot"], "spot_interruption_fraction": fraction}
        return solve(fleet_scenario([m], boxes, 88.2, fleet=fleet), backend)

    assert case(0.0).objective_per_day == pytest.approx(43.2)
    assert per_type(case(0.0)) == {"small/spot": 3}
    ruled = case(0.3)
    assert ruled.objective_per_day == pytest.approx(67.2)
    assert per_type(ruled) == {"small/on_demand": 1, "small/spot": 3}


@pytest.mark.parametrize("backend", HAND_BACKENDS)
def test_day_types_weight_the_year(backend):
    """Normal days (350) need 1 instance, festival days (15) 4, no autoscaling (each day
    type sized at its peak all day). On-demand 1 USD/h, reserved 0.6 USD/h. Committing 1
    (used every day) saves; a 2nd committed one would work 15 of 365 days. Cost per day:
    1 x 24 x 0.6 + 15/365 x 3 x 24 x 1 = 14.4 + 2.9589 = 17.3589."""
    boxes = [box("small", on_demand=1.0, reserved=0.6)]
    days = [
        {"name": "normal", "days": 350, "peak_qps": 29.4},
        {"name": "festival", "days": 15, "peak_qps": 4 * 29.4},
    ]
    raw = fleet_scenario(
        [model("m", {"small": 30.0})],
        boxes,
        4 * 29.4,
        fleet={"plans": ["on_demand", "reserved_1yr"]},
        day_types=days,
    )
    result = solve(raw, backend)
    assert result.objective_per_day == pytest.approx(14.4 + 15 / 365 * 72, abs=1e-6)
    festival = result.plan.counts[(result.plan.counts.day_type == "festival")]
    assert festival.instances.tolist() == [3] * 24  # on demand, all day
    assert result.plan.counts[result.plan.counts.day_type == "normal"].empty


@pytest.mark.parametrize("backend", HAND_BACKENDS)
def test_quota_per_type_forces_a_mix(backend):
    """The two-type case with a quota of 1 on small and 130 -> 200 requests/s:
    big carries 100 (3 USD/h), small 30 (1 USD/h); 2 big = 6 USD/h; 1 big + quota-limited 1
    small = 130 < 200; so 2 big, or 1 big + ... : the optimum is 2 big = 144/day (without the
    quota, 1 big + 4 small = 7 USD/h is dearer, so the quota does not bind: 144 either way);
    with 250 requests/s: 2 big + 2 small (8 USD/h) beats 3 big (9), and a quota of 1 small
    forces 3 big = 216/day."""
    boxes = [box("big", on_demand=3.0), box("small", on_demand=1.0)]
    m = model("m", {"big": 100.0, "small": 30.0})
    free = solve(fleet_scenario([m], boxes, 250.0), backend)
    assert free.objective_per_day == pytest.approx(192.0)
    quota = fleet_scenario(
        [m], boxes, 250.0, constraints={"utilisation_max": 1.0, "quotas": {"small": 1}}
    )
    assert solve(quota, backend).objective_per_day == pytest.approx(216.0)


def test_bad_fleet_input_names_field_rule_and_value():
    boxes = [box("small", on_demand=1.0)]
    m = model("m", {"small": 30.0})
    days = [{"name": "normal", "days": 350, "peak_qps": 10}]
    with pytest.raises(
        ScenarioError, match=r"workload.day_types: days must sum to the year \(365\), got 350"
    ):
        validate_scenario(fleet_scenario([m], boxes, 10.0, day_types=days))
    with pytest.raises(ScenarioError, match=r"fleet.plans: plan 'spot' needs price_spot_per_hour"):
        validate_scenario(fleet_scenario([m], boxes, 10.0, fleet={"plans": ["spot"]}))
    with pytest.raises(ScenarioError, match=r"fleet.spot_interruption_fraction must be < 1.*got 1"):
        validate_scenario(
            fleet_scenario([m], boxes, 10.0, fleet={"spot_interruption_fraction": 1.0})
        )
    no_fleet = fleet_scenario([m], boxes, 10.0, day_types=days)
    no_fleet.pop("fleet")
    with pytest.raises(ScenarioError, match="workload.day_types is used by the fleet optimiser"):
        validate_scenario(no_fleet)


def test_a_pool_whose_models_fit_together_nowhere_is_an_error():
    boxes = [box("small", on_demand=1.0, memory_gib=16)]
    models = [model(n, {"small": 30.0}, size_gb=7.0, pool="tight") for n in ("a", "b")]
    with pytest.raises(DeployCostError, match=r"pool 'tight': its models \(a, b\) fit together"):
        solve(fleet_scenario(models, boxes, 10.0), "scipy-highs")


def _pool_fits_nowhere(raw: dict) -> bool:
    """Independently: no instance type holds every model of the shared pool."""
    models = raw["models"]
    if all(any(p["instance"] == MIG_ROW for p in m["profiles"]) for m in models):
        return False  # 1 GB models on a 10 GB slice
    for b in raw["catalog"]["hardware"]:
        on = all(any(p["instance"] == b["name"] for p in m["profiles"]) for m in models)
        need = sum(m["size_gb"] for m in models) + 2.0  # host reserve
        if on and need <= b["memory_gib"] * 1.073741824 * 0.9:
            return False
    return True


def cross_check(seeds) -> dict[str, int]:
    """Oracle vs both backends on random small fleets; returns the tallies."""
    tally = {"agree": 0, "pool_errors": 0}
    for seed in seeds:
        raw = random_fleet(seed)
        expected = oracle(raw)
        scn = validate_scenario(raw)  # once: both backends solve the same scenario
        for backend in BACKENDS:
            if _pool_fits_nowhere(raw) and any(m.get("pool") for m in raw["models"]):
                with pytest.raises(DeployCostError, match="fit together"):
                    solve(scn, backend)
                tally["pool_errors"] += 1
                continue
            result = solve(scn, backend)
            got = result.objective_per_day if result.ok else float("inf")
            assert got == pytest.approx(expected, rel=1e-6, abs=1e-6), (seed, backend)
            if result.ok:
                assert result.status == "optimal"
                assert result.plan.audit.ok
            tally["agree"] += 1
    return tally


def test_random_fleets_match_the_oracle_quick():
    tally = cross_check(range(6))
    assert tally["agree"] >= 8


@pytest.mark.slow
@pytest.mark.parametrize("first", range(1000, 1500, 50))
def test_random_fleets_match_the_oracle(first):
    """500 random small fleets (in ten parallel parts): the same optimum from the oracle,
    HiGHS and CBC."""
    tally = cross_check(range(first, first + 50))
    assert tally["agree"] + tally["pool_errors"] == 100
    assert tally["agree"] >= 85


@pytest.mark.slow
@pytest.mark.parametrize("backend", HAND_BACKENDS)
def test_reserved_price_line_breakpoints_follow_break_even_hours(backend):
    """The stepped case, the reserved price scaled by m (0.6 m USD/h). The k-th instance
    works 24, 16, 14 and 6 h a day, so committing it pays off while 24 x 0.6 m < hours_k:
    breakpoints at m = 6/14.4 = 0.41667, 14/14.4 = 0.97222, 16/14.4 = 1.11111 and
    24/14.4 = 1.66667; in between the cost is linear in m (sweeps stay exact)."""
    from deploycost.api import sweep

    raw = stepped_case()
    spec = {
        "mode": "line",
        "points": 18,
        "parameters": [
            {
                "name": "reserved",
                "select": "reserved_1yr_hour[*]",
                "range": {"start": 0.3, "stop": 2.0},
            }
        ],
    }
    result = sweep(raw, spec, backend=backend)
    found = sorted(result.breakpoints.reserved)
    assert found == pytest.approx([6 / 14.4, 14 / 14.4, 16 / 14.4, 24 / 14.4], abs=1e-6)
    assert "pool m goes from" in result.breakpoints.description.iloc[0]
    # every point's total equals the hand formula: committed k, on-demand for the rest
    hours = {0: 0, 1: 24, 2: 16, 3: 14, 4: 6}
    for m, total in zip(result.table.reserved, result.table.total, strict=True):
        k = sum(1 for j in (1, 2, 3, 4) if hours[j] > 24 * 0.6 * m)
        on_demand = sum(max(n - k, 0) for n in STEPS)
        assert total == pytest.approx(k * 24 * 0.6 * m + on_demand, abs=1e-6)


FLEET_PROBLEMS = sorted((Path(__file__).resolve().parents[1] / "problems" / "fleet").glob("*.yaml"))


@pytest.mark.slow
@pytest.mark.parametrize("path", FLEET_PROBLEMS, ids=lambda p: p.stem)
def test_shipped_fleet_problems_agree_and_are_linear_in_prices(path):
    """Both backends reach the same proven optimum; the fleet's cost is its quantities x
    prices, column by column and component by component."""
    from deploycost.cost.model import CostModel
    from deploycost.optimize.fleet import build_fleet
    from deploycost.scenario.schema import load_scenario

    scn = load_scenario(path)
    results = [solve(scn, backend) for backend in BACKENDS]
    assert all(r.status == "optimal" and r.plan.audit.ok for r in results)
    assert results[0].objective_per_day == pytest.approx(results[1].objective_per_day, rel=1e-6)
    form = build_fleet(CostModel(scn))
    prices = form.cost.prices.values
    np.testing.assert_allclose(form.cols.by_price @ prices, form.milp.c, rtol=1e-12, atol=1e-9)
    total = sum(form.cols.by_component.values())
    assert abs(total - form.cols.by_price).max() < 1e-9
    for r in results:
        assert r.plan.component_quantities.sum(axis=0) @ prices == pytest.approx(
            r.objective_per_day
        )


def _no_nan(token: str):
    raise ValueError(f"not strict JSON: {token}")


@pytest.mark.slow
def test_cli_solves_a_fleet_with_strict_json_and_refuses_it_where_unsupported(tmp_path):
    import json

    import yaml
    from typer.testing import CliRunner

    from deploycost.cli.app import app

    runner = CliRunner()
    boxes = [box("big", on_demand=3.0), box("small", on_demand=1.0)]
    raw = fleet_scenario([model("m", {"big": 100.0, "small": 30.0}, min_replicas=2)], boxes, 130)
    path = tmp_path / "fleet.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    out = runner.invoke(app, ["solve", str(path), "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout, parse_constant=_no_nan)
    assert data["status"] == "optimal"
    assert data["objective_per_day"] == pytest.approx(96.0)  # 1 big + 1 small, hand case
    assert {r["instance"] for r in data["instances"]} == {"big", "small"}
    text = runner.invoke(app, ["solve", str(path)])
    assert text.exit_code == 0
    assert "instances per pool, type and plan" in text.stdout
    frontier = runner.invoke(app, ["sensitivity", str(path), "--pareto", "e2e_latency_ms"])
    assert frontier.exit_code == 0, frontier.output
    assert "96.00" in frontier.output  # the limit never binds: the hand optimum at every point
    raw["constraints"]["quotas"] = {"big": 0, "small": 4}  # 4 x 30 < 130 requests/s
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    infeasible = runner.invoke(app, ["solve", str(path)])
    assert infeasible.exit_code == 2
    assert "no fleet meets every limit" in infeasible.output
    # explained in deployment terms: without the quotas 1 big + 1 small (96 USD/day)
    assert "instance quotas cannot all be met" in infeasible.output
    assert "quota_max[big,every_day,00h+23] needs 1 instances (limit 0)" in infeasible.output
    raw["constraints"] = {"utilisation_max": 1.0, "budget_per_day": 50}
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    over = runner.invoke(app, ["solve", str(path)])
    assert over.exit_code == 2
    assert "costs 96.00 USD/day, over the budget of 50.00" in over.output


def test_native_prints_of_a_solver_do_not_reach_stdout(capfd):
    """HiGHS prints debug lines from C at some prices; a --json document must stay clean."""
    import os

    from deploycost.optimize.solvers import captured_stdout

    lines: list[str] = []
    with captured_stdout(lines):
        os.write(1, b"HighsMipSolverData::transformNewIntegerFeasibleSolution\n")
    print("after")
    out = capfd.readouterr().out
    assert lines == ["HighsMipSolverData::transformNewIntegerFeasibleSolution"]
    assert out == "after\n"


def test_fleet_export_writes_the_fleet_and_its_manifests(tmp_path):
    """The reserved-base case exported: the document's counts, costs and prices are the
    solve's; the on-demand Deployment runs the committed 2 plus the hourly on-demand
    count (at most 4 = STEPS' peak); a second export of the same inputs is identical."""
    import yaml

    from deploycost.outputs.export import write_export
    from deploycost.scenario.schema import validate_scenario

    raw = stepped_case()
    scn = validate_scenario(raw)
    result = solve(scn)
    paths = write_export(scn, result, tmp_path / "out")
    doc = yaml.safe_load((tmp_path / "out" / "recommended.yaml").read_text(encoding="utf-8"))
    assert doc["solver"]["objective_per_day"] == pytest.approx(48.8)
    assert doc["costs"]["total"]["per_day"] == pytest.approx(48.8)
    assert doc["costs"]["reserved_1yr"]["per_day"] == pytest.approx(2 * 24 * 0.6)
    (pool,) = doc["pools"]
    assert pool["reserved_1yr"] == 2
    assert pool["on_demand"]["day"] == [max(n - 2, 0) for n in STEPS]
    assert {"on_demand_hour[small]", "reserved_1yr_hour[small]"} <= {
        p["name"] for p in doc["prices"]
    }
    docs = list(
        yaml.safe_load_all(
            (tmp_path / "out" / "k8s" / "m-small-on-demand.yaml").read_text(encoding="utf-8")
        )
    )
    assert [d["kind"] for d in docs] == [
        "Namespace",
        "Deployment",
        "Service",
        "PodDisruptionBudget",
        "ScaledObject",  # the count changes over the day
    ]
    deployment = docs[1]
    assert deployment["spec"]["replicas"] == 4
    node = deployment["spec"]["template"]["spec"]["nodeSelector"]
    assert node == {
        "node.kubernetes.io/instance-type": "small",
        "karpenter.sh/capacity-type": "on-demand",
    }
    first = {p.name: p.read_bytes() for p in paths}
    again = write_export(scn, solve(scn), tmp_path / "out", force=True)
    assert {p.name: p.read_bytes() for p in again} == first


def _keda_replicas(scaled: dict, hour: int) -> int:
    """What KEDA holds the Deployment at in ``hour`` (UTC, on the hour + 30 min): the
    largest desiredReplicas of the cron triggers active then, at least minReplicaCount."""
    active = [scaled["spec"]["minReplicaCount"]]
    for trigger in scaled["spec"]["triggers"]:
        meta = trigger["metadata"]
        start = int(meta["start"].split()[1]) * 60 + int(meta["start"].split()[0])
        end = int(meta["end"].split()[1]) * 60 + int(meta["end"].split()[0])
        now = hour * 60 + 30
        inside = start <= now < end if start < end else now >= start or now < end
        if inside:
            active.append(int(meta["desiredReplicas"]))
    return max(active)


def test_a_scheduled_scaler_follows_the_hourly_counts_of_each_day_type(tmp_path):
    """The stepped case over 300 ordinary days and 65 flat festival days at the peak (4
    instances all day). The Deployment's file carries a KEDA ScaledObject whose cron
    triggers, as KEDA applies them (largest active, at least minReplicaCount), give the
    committed plus on-demand count of every hour of the ordinary day; the festival day's
    schedule is in k8s/schedules/festival/ under the same object name, 4 all day (3 are
    committed: see the comment below); the triggers run in the scenario's time zone; a
    zone that does not exist is refused."""
    import yaml

    from deploycost.outputs.export import write_export

    raw = stepped_case(timezone="Asia/Shanghai")
    raw["workload"]["day_types"] = [
        {"name": "day", "days": 300, "peak_qps": 4 * 29.4, "hourly_profile": STEPS},
        {"name": "festival", "days": 65, "peak_qps": 4 * 29.4},
    ]
    scn = validate_scenario(raw)
    result = solve(scn)
    write_export(scn, result, tmp_path / "out")
    counts = result.plan.counts
    committed = int(counts[counts.plan == "reserved_1yr"].instances.sum())
    # the k-th instance works, averaged over the year, (300 x ordinary hours + 65 x 24) /
    # 365 h a day: 24, 17.4, 15.8 and 9.2 h against the break-even 14.4: commit 3
    assert committed == 3
    expected = {"day": [max(n, 3) for n in STEPS], "festival": [4] * 24}
    for day, file in (
        ("day", tmp_path / "out" / "k8s" / "m-small-on-demand.yaml"),
        (
            "festival",
            tmp_path / "out" / "k8s" / "schedules" / "festival" / "m-small-on-demand.yaml",
        ),
    ):
        docs = list(yaml.safe_load_all(file.read_text(encoding="utf-8")))
        (scaled,) = [d for d in docs if d["kind"] == "ScaledObject"]
        assert scaled["metadata"]["name"] == "m-small-on-demand"
        assert scaled["spec"]["scaleTargetRef"]["name"] == "m-small-on-demand"
        assert scaled["metadata"]["annotations"]["deploycost.io/day-type"] == day
        assert {t["metadata"]["timezone"] for t in scaled["spec"]["triggers"]} == {"Asia/Shanghai"}
        hourly = np.full(24, committed)
        mine = counts[(counts.plan == "on_demand") & (counts.day_type == day)]
        np.add.at(hourly, mine.hour.to_numpy(), mine.instances.to_numpy())
        assert [_keda_replicas(scaled, t) for t in range(24)] == hourly.tolist()
        assert hourly.tolist() == expected[day]
    raw["fleet"]["timezone"] = "Mars/Olympus_Mons"
    with pytest.raises(ScenarioError, match=r"fleet.timezone must be an IANA time zone.*Mars"):
        validate_scenario(raw)


@pytest.mark.slow
def test_tornado_covers_a_fleet():
    """One model, one 1 USD/h box carrying its 10 req/s: 24 USD/day, all of it compute;
    instance prices -/+20 % give 19.20 and 28.80 with the same fleet; the other groups
    (prices this fleet does not pay) swing nothing."""
    from deploycost.analysis.sensitivity import tornado
    from deploycost.scenario.schema import validate_scenario

    scn = validate_scenario(
        fleet_scenario([model("m", {"small": 30.0})], [box("small", on_demand=1.0)], 10.0)
    )
    table = tornado(scn, 0.2).set_index("parameter")
    assert table.index[0] == "compute"
    assert (table.drop(index="compute").swing_per_day == 0).all()
    row = table.loc["compute"]
    assert row.base_per_day == pytest.approx(24.0)
    assert row.low_per_day == pytest.approx(19.2)
    assert row.high_per_day == pytest.approx(28.8)
    assert not row.low_changes_deployment
    assert not row.high_changes_deployment


@pytest.mark.slow
def test_the_report_shows_the_fleet_per_type_plan_and_hour(tmp_path):
    """The stepped case (commit 2, on-demand for the rest: 48.8 USD/day) as a report: the
    commitment sentence, the committed and on-demand rows of the plan table with their
    instance-hours (2 x 24 = 48; on demand 8 x 1 + 6 x 2 = 20), the compute split by plan
    (28.8 reserved, 20 on demand), the plot; then the CLI writes it with exit 0."""
    import yaml
    from typer.testing import CliRunner

    from deploycost.cli.app import app
    from deploycost.outputs.report import build_report, render_markdown

    raw = stepped_case()
    scn = validate_scenario(raw)
    report = build_report(scn, solve(scn))
    headings = [h for h, _, _ in report.sections]
    assert headings[:3] == [
        "Recommendation",
        "Instances per pool, type and plan",
        "Cost per day, compute by purchase plan",
    ]
    assert report.images["fleet"].startswith(b"\x89PNG")
    md = render_markdown(report, "img")
    assert "cost **48.80 USD/day**" in md
    assert "commit 2 x small for a year" in md
    assert "| m | small | reserved\\_1yr | every day | 2 | 48 |" in md
    assert "| m | small | on\\_demand | day | 0-2 | 20 |" in md
    assert "|   reserved\\_1yr | 28.80 |" in md
    assert "|   on\\_demand | 20.00 |" in md
    path = tmp_path / "fleet.yaml"
    path.write_text(yaml.safe_dump(raw))
    out = tmp_path / "r.html"
    result = CliRunner().invoke(app, ["report", str(path), "--out", str(out), "--no-verify"])
    assert result.exit_code == 0, result.output
    assert out.exists()
    assert (tmp_path / "r.md").exists()
    assert "Tornado" in (tmp_path / "r.md").read_text()


@pytest.mark.parametrize("backend", HAND_BACKENDS)
def test_a_gpu_split_into_mig_slices_beats_whole_gpus(backend, tmp_path):
    """One H100 box (p5.4xlarge, priced 7 USD/h here) carries 200 requests/s whole, or
    7 x 30 = 210 split into seven 1g.10gb slices (the catalog's partition row, bought by
    the node). 205 requests/s: two whole GPUs (14 USD/h = 336 USD/day) or one split node
    (7 USD/h = 168 USD/day). The fleet pays the parent's price name; simulated with 7
    servers per node; exported as 7 pods asking for one MIG slice each on nodes the MIG
    manager split all-1g.10gb. A quota of 0 on p5.4xlarge covers its split nodes too;
    slices are offered only with fleet.partitions (a model naming one without it: an
    error naming the field)."""
    from deploycost.cost.prices import instance_names
    from deploycost.outputs.export import recommendation
    from deploycost.outputs.fleet_export import fleet_manifests
    from deploycost.simulate.fleet import simulate_fleet
    from deploycost.simulate.run import Settings

    slice_row = "p5.4xlarge:mig-1g.10gb"
    raw = fleet_scenario(
        [model("m", {"p5.4xlarge": 200.0, slice_row: 30.0})],
        [{"name": "p5.4xlarge", "price_on_demand_per_hour": 7.0}],
        205.0,
        fleet={"plans": ["on_demand"], "partitions": True},
    )
    scn = validate_scenario(raw)
    result = solve(scn, backend)
    assert result.objective_per_day == pytest.approx(168.0, abs=1e-6)
    assert per_type(result) == {f"{slice_row}/on_demand": 1}
    assert result.plan.shares.set_index("instance").cap_qps[slice_row] == pytest.approx(210.0)
    paid = [result.plan.prices.names[i] for i in result.plan.paid_prices()]
    assert [name for name in paid if "_hour[" in name] == ["on_demand_hour[p5.4xlarge]"]
    table = simulate_fleet(scn, result.plan, Settings.of(scn, hours="peak", requests=20_000))
    assert table.replicas.tolist() == [7]
    assert table.utilisation.iloc[0] == pytest.approx(205 / 210, rel=0.02)
    (pool,) = recommendation(scn, result)["pools"]
    assert (pool["partition_of"], pool["slices_per_node"], pool["on_demand"]) == (
        "p5.4xlarge",
        7,
        {"every_day": [1] * 24},
    )
    (docs,) = [d for k, d in fleet_manifests(scn, result).items() if "mig" in k]
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    assert deployment["spec"]["replicas"] == 7
    resources = pod["containers"][0]["resources"]  # one slice, and memory as the model needs
    assert resources["limits"]["nvidia.com/mig-1g.10gb"] == "1"
    assert resources["requests"]["nvidia.com/mig-1g.10gb"] == "1"
    assert resources["requests"]["memory"] == resources["limits"]["memory"]
    assert pod["nodeSelector"]["node.kubernetes.io/instance-type"] == "p5.4xlarge"
    assert pod["nodeSelector"]["nvidia.com/mig.config"] == "all-1g.10gb"
    if backend != "scipy-highs":
        return
    raw["constraints"]["quotas"] = {"p5.4xlarge": 0}
    assert solve(raw, backend).status == "infeasible"
    raw["constraints"].pop("quotas")
    raw["models"][0]["profiles"].pop()  # the slice's profile
    unasked = raw | {"fleet": {"plans": ["on_demand"]}}
    assert slice_row not in instance_names(validate_scenario(unasked))
    single = dict(raw)
    single.pop("fleet")
    assert slice_row not in instance_names(validate_scenario(single))
    raw["models"][0]["allowed_instances"] = ["p5.4xlarge", slice_row]
    with pytest.raises(
        ScenarioError,
        match=r"allowed_instances 'p5.4xlarge:mig-1g.10gb' is an "
        r"accelerator partition .*fleet.partitions: true",
    ):
        validate_scenario(single)


def test_a_mig_slice_has_its_share_of_the_gpu_as_measured():
    """A 1g.10gb slice of an A100-80GB (p4de.24xlarge) gets 14 of the GPU's 108 SMs =
    0.130 of its compute and 1/8 of its memory bandwidth, one 10 GB device, and 1/56 of the
    node's RAM; MLPerf v2.1 measured one such slice at 0.124-0.139 of the whole GPU (bert
    0.139, resnet50 0.133, rnnt 0.134, retinanet 0.124). A partition row cannot be changed
    by a scenario (its parent can)."""
    from deploycost.catalog import load_catalog

    hw = load_catalog().hardware
    part, parent = hw.loc["p4de.24xlarge:mig-1g.10gb"], hw.loc["p4de.24xlarge"]
    assert part.slices_per_node == 56  # 7 per GPU x 8 GPUs
    assert part.compute_fraction == pytest.approx(14 / 108)
    assert 0.124 <= part.compute_fraction <= 0.139
    assert part.bandwidth_fraction == 0.125
    assert part.accel_count == 1
    assert part.accel_mem_gb == 10.0
    assert part.memory_gib == pytest.approx(parent.memory_gib / 56, abs=1e-4)
    assert part.price_on_demand_per_hour == parent.price_on_demand_per_hour
    boxes = [box("small", on_demand=1.0)]
    raw = fleet_scenario([model("m", {"small": 30.0})], boxes, 10.0)
    raw["catalog"]["hardware"].append(
        {"name": "p4de.24xlarge:mig-1g.10gb", "price_on_demand_per_hour": 1.0}
    )
    with pytest.raises(ScenarioError, match=r"is a partition of p4de.24xlarge, derived from it"):
        validate_scenario(raw)


def test_a_fleet_no_instance_can_serve_is_infeasible_not_a_traceback(tmp_path):
    """A model whose only profile (p99 10 ms) cannot meet its 5 ms SLO leaves no mode at
    all: the fleet solve answers infeasible with the reason (before: a traceback from
    building a MILP without columns; export's verification rounds, which tighten SLOs,
    hit it too), and the CLI exits 2 naming the model and the limit."""
    import yaml
    from typer.testing import CliRunner

    from deploycost.cli.app import app

    m = model("m", {"small": 30.0})
    m["latency_slo_ms"] = 5
    raw = fleet_scenario([m], [box("small", on_demand=1.0)], 10.0)
    result = solve(raw)
    assert result.status == "infeasible"
    assert "meets p99 <= 5 ms" in result.explanation[0]
    path = tmp_path / "slow.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    out = CliRunner().invoke(app, ["solve", str(path)])
    assert out.exit_code == 2
    assert "m (in all): no allowed instance type" in out.output


def test_day_types_whose_names_fold_together_keep_their_own_schedule_folders():
    """'Peak' and 'peak' are two day types but one DNS label: each schedule keeps its own
    folder (before, the second overwrote the first)."""
    from deploycost.outputs.fleet_export import fleet_manifests

    raw = stepped_case()
    raw["workload"]["day_types"] = [
        {"name": "day", "days": 300, "peak_qps": 4 * 29.4, "hourly_profile": STEPS},
        {"name": "Peak", "days": 30, "peak_qps": 4 * 29.4},
        {"name": "peak", "days": 35, "peak_qps": 3 * 29.4},
    ]
    scn = validate_scenario(raw)
    docs = fleet_manifests(scn, solve(scn))
    days = {
        d["metadata"]["annotations"]["deploycost.io/day-type"]: key
        for key, group in docs.items()
        for d in group
        if d["kind"] == "ScaledObject"
    }
    assert days == {
        "day": "m-small-on-demand",
        "Peak": "schedules/peak/m-small-on-demand",
        "peak": "schedules/peak-3/m-small-on-demand",
    }
