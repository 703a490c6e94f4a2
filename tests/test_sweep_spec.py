"""Sweep specifications are validated like scenarios, in one pass and before any solve."""

from __future__ import annotations

import json

import pytest

from deploycost.analysis import sweep
from deploycost.analysis.sweep import load_spec, run_sweep, scenario_points
from deploycost.errors import ScenarioError
from deploycost.scenario.schema import validate_scenario

from .conftest import hand


@pytest.fixture(scope="module")
def scn():
    return validate_scenario(hand(models__0__latency_slo_ms=20))


def _param(**fields) -> dict:
    return {"name": "p", "select": "compute", **fields}


BAD = {
    "uniform without bounds": (
        {"mode": "random", "parameters": [_param(distribution={"kind": "uniform"})]},
        r"distribution \(uniform\) needs low, high; missing low, high",
    ),
    "normal without sd": (
        {"mode": "random", "parameters": [_param(distribution={"kind": "normal", "mean": 1})]},
        r"needs mean, sd; missing sd",
    ),
    "lognormal empty": (
        {"mode": "lhs", "parameters": [_param(distribution={"kind": "lognormal"})]},
        r"needs mean, sd; missing mean, sd",
    ),
    "triangular without mode": (
        {
            "mode": "random",
            "parameters": [_param(distribution={"kind": "triangular", "low": 0.5, "high": 1.5})],
        },
        r"needs low, mode, high; missing mode",
    ),
    "degenerate triangle": (
        {
            "mode": "random",
            "parameters": [
                _param(distribution={"kind": "triangular", "low": 1, "mode": 1, "high": 1})
            ],
        },
        r"a triangle needs low < high, got 1 = 1",
    ),
    "mode outside": (
        {
            "mode": "random",
            "parameters": [
                _param(distribution={"kind": "triangular", "low": 1, "mode": 3, "high": 2})
            ],
        },
        r"mode must lie in \[low, high\] = \[1, 2\], got 3",
    ),
    "low above high": (
        {
            "mode": "random",
            "parameters": [_param(distribution={"kind": "uniform", "low": 2, "high": 1})],
        },
        r"low must be <= high, got 2 > 1",
    ),
    "normal that goes negative": (
        {
            "mode": "random",
            "parameters": [_param(distribution={"kind": "normal", "mean": 1, "sd": 10})],
        },
        r"draws negative values",
    ),
    "negative seed": (
        {"mode": "lhs", "seed": -1, "parameters": [_param(range={"start": 0.5, "stop": 1})]},
        r"seed must be >= 0, got -1",
    ),
    "negative multipliers": (
        {"mode": "line", "parameters": [_param(range={"start": -5, "stop": -1})]},
        r"range must stay >= 0, got -5 \.\. -1",
    ),
    "negative values": (
        {"mode": "grid", "parameters": [_param(values=[-1, 1])]},
        r"values must be >= 0 \(prices and multipliers\), got -1",
    ),
    "grid range downwards": (
        {"mode": "grid", "parameters": [_param(range={"start": 2, "stop": 1, "step": 0.1})]},
        r"range.start must be <= stop for a grid, got 2 > 1",
    ),
    "astronomical grid": (
        {"mode": "grid", "parameters": [_param(range={"start": 0, "stop": 1e12, "step": 1e-300})]},
        r"the sweep makes .* scenarios, needing ~.* GB",
    ),
    "three axes of a thousand": (
        {
            "mode": "grid",
            "parameters": [
                {"name": n, "select": s, "range": {"start": 0, "stop": 999, "step": 1}}
                for n, s in (("a", "compute"), ("b", "storage"), ("c", "labor"))
            ],
        },
        r"1,000 x 1,000 x 1,000 grid values = 1e\+09 scenarios",
    ),
    "infinite distribution parameter": (
        {
            "mode": "random",
            "parameters": [
                _param(distribution={"kind": "uniform", "low": 0, "high": float("inf")})
            ],
        },
        r"distribution.high must be a finite number",
    ),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_specifications_are_refused_with_the_rule(scn, case):
    raw, pattern = BAD[case]
    with pytest.raises(ScenarioError, match=pattern):
        load_spec(raw, scn)


def test_huge_sampled_values_are_refused_before_any_solve(scn):
    spec, params = load_spec(
        {
            "mode": "random",
            "samples": 50,
            "parameters": [_param(distribution={"kind": "uniform", "low": 1, "high": 1e13})],
        },
        scn,
    )
    with pytest.raises(ScenarioError, match=r"must be finite, >= 0 and <= 1e\+12"):
        scenario_points(spec, params)


@pytest.mark.parametrize(
    ("rows", "pattern"),
    [
        ("p\n", r"the sweep has no scenarios"),
        ("p\n1.0\nabc\n", r"column 'p' must hold numbers; row 3 has 'abc'"),
        ("p\n1.0\n-2\n", r"must be finite, >= 0 .*scenario 1 has -2"),
    ],
    ids=["header only", "text", "negative"],
)
def test_csv_cells_are_checked(scn, tmp_path, rows, pattern):
    (tmp_path / "s.csv").write_text(rows, encoding="utf-8")
    spec, params = load_spec(
        {"mode": "csv", "csv": str(tmp_path / "s.csv"), "parameters": [_param()]}, scn
    )
    with pytest.raises(ScenarioError, match=pattern):
        scenario_points(spec, params)


def test_each_solve_is_logged_as_it_finishes(scn, tmp_path):
    """A run that dies after three solves of a round leaves those three in the log."""
    spec, params = load_spec(
        {
            "mode": "grid",
            "parameters": [
                _param(values=[0.5, 1.0, 2.0]),
                {"name": "q", "select": "storage", "values": [0.5, 1.0, 2.0]},
            ],
        },
        scn,
    )
    calls = []

    def dying(scn_, prices, backend):
        for p in prices:
            if len(calls) == 3:
                raise KeyboardInterrupt
            calls.append(p)
            yield sweep.solve_point(scn_, p, backend)

    with pytest.raises(KeyboardInterrupt):
        run_sweep(scn, spec, params, state_dir=tmp_path / "state", executor=dying)
    lines = (tmp_path / "state" / "solves.jsonl").read_text().splitlines()
    assert len(lines) == 3
    assert all(json.loads(line)["result"]["status"] == "optimal" for line in lines)
    resumed = run_sweep(scn, spec, params, state_dir=tmp_path / "state")
    fresh = run_sweep(scn, spec, params)
    assert resumed.solves == fresh.solves - 3  # the three logged solves are not repeated
    assert resumed.table.equals(fresh.table)
