"""Sweep specifications are validated like scenarios, in one pass and before any solve."""

from __future__ import annotations

import json

import pytest

from deploycost.analysis import sweep
from deploycost.analysis.sweep import run_sweep
from deploycost.analysis.sweep_spec import load_spec, scenario_points
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


def _cli_files(tmp_path, values=(0.5, 1, 2)):
    import yaml

    scenario = tmp_path / "s.yaml"
    scenario.write_text(yaml.safe_dump(hand(models__0__latency_slo_ms=20)))
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump({"mode": "grid", "parameters": [_param(values=list(values))]}))
    return scenario, spec


def test_a_user_folder_named_like_the_state_is_never_adopted_or_removed(tmp_path):
    from typer.testing import CliRunner

    from deploycost.cli.app import app

    scenario, spec = _cli_files(tmp_path)
    mine = tmp_path / "results.csv.state"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine", encoding="utf-8")
    out = str(tmp_path / "results.csv")
    result = CliRunner().invoke(app, ["sweep", str(scenario), str(spec), "--out", out, "--resume"])
    assert result.exit_code == 1
    assert "was not made by deploycost sweep" in result.output
    assert (mine / "notes.txt").read_text(encoding="utf-8") == "mine"
    assert not (tmp_path / "results.csv").exists()


def test_a_second_sweep_on_the_same_output_fails_fast(tmp_path):
    from typer.testing import CliRunner

    from deploycost.cli.app import app
    from deploycost.files import exclusive

    scenario, spec = _cli_files(tmp_path)
    out = tmp_path / "r.csv"
    with exclusive(out, "sweep"):
        result = CliRunner().invoke(app, ["sweep", str(scenario), str(spec), "--out", str(out)])
    assert result.exit_code == 1
    assert f"another deploycost sweep is writing {out}" in result.output
    done = CliRunner().invoke(app, ["sweep", str(scenario), str(spec), "--out", str(out)])
    assert done.exit_code == 0, done.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.csv", "s.yaml", "spec.yaml"]


@pytest.mark.slow  # child processes under a file-size limit
def test_a_full_disk_during_a_sweep_is_one_line_and_the_run_resumes(tmp_path):
    """RLIMIT_FSIZE in a child: writing the table fails with EFBIG; the solve log survives,
    and --resume then finishes without solving again."""
    import subprocess
    import sys

    from .conftest import cli_under_file_limit

    # 40 scenarios: a 6.6 kB table, 2 solves logged in about 1 kB; files capped at 4 kB
    scenario, spec = _cli_files(tmp_path, [round(0.2 + 0.1 * k, 2) for k in range(40)])
    out = tmp_path / "r.csv"
    args = ["sweep", str(scenario), str(spec), "--out", str(out), "--no-progress"]
    proc = cli_under_file_limit(args, 4000)
    assert proc.returncode == 1, proc.stderr
    assert "the file is larger than allowed (file-size limit)" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not out.exists()
    leftovers = [p.name for p in tmp_path.rglob("*.tmp")]
    assert leftovers == []
    resumed = subprocess.run(
        [sys.executable, "-m", "deploycost", *args, "--resume"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert "0 solves this run" in resumed.stdout + resumed.stderr


@pytest.mark.slow  # a child process under a file-size limit
def test_a_full_disk_while_logging_solves_is_one_line(tmp_path):
    from .conftest import cli_under_file_limit

    scenario, spec = _cli_files(tmp_path)
    out = tmp_path / "r.csv"
    proc = cli_under_file_limit(["sweep", str(scenario), str(spec), "--out", str(out)], 200)
    assert proc.returncode == 1, proc.stderr
    assert "r.csv.state" in proc.stderr
    assert "the file is larger than allowed (file-size limit)" in proc.stderr
    assert "Traceback" not in proc.stderr
