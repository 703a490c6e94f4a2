"""Sweeps: exact breakpoints, certified answers equal direct solves, resume after kill -9,
Dask equal to serial, tornado and Pareto frontiers worked by hand."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest
import yaml

from deploycost.analysis.sensitivity import pareto, tornado
from deploycost.analysis.sweep import run_sweep
from deploycost.analysis.sweep_dask import DaskExecutor
from deploycost.analysis.sweep_spec import load_spec, price_matrix
from deploycost.cost.prices import build_prices
from deploycost.errors import ScenarioError
from deploycost.optimize.solve import solve
from deploycost.optimize.solvers import BACKENDS
from deploycost.scenario.schema import load_scenario, validate_scenario

from .conftest import ROOT, STORAGE_PER_DAY, hand

ECOMMERCE = ROOT / "problems" / "ecommerce_search_rec.yaml"


@pytest.mark.parametrize("backend", BACKENDS)
def test_line_breakpoint_found_exactly_with_few_solves(backend):
    # SLO 20 ms: fast x 2 costs 2 x 24 x 3 theta = 144 theta, cheap x 7 costs 7 x 24 x 1 = 168;
    # they cross at theta = 168 / 144 = 7/6, i.e. t = (7/6 - 0.5) / 1.5 on [0.5, 2.0]
    scn = validate_scenario(hand(models__0__latency_slo_ms=20))
    spec, params = load_spec(
        {
            "mode": "line",
            "points": 31,
            "parameters": [
                {
                    "name": "fast",
                    "select": "instance_hour[fast]",
                    "range": {"start": 0.5, "stop": 2.0},
                }
            ],
        },
        scn,
    )
    result = run_sweep(scn, spec, params, backend=backend)
    assert len(result.breakpoints) == 1
    bp = result.breakpoints.iloc[0]
    assert bp.fast == pytest.approx(7 / 6, rel=1e-9)
    assert bp.t == pytest.approx((7 / 6 - 0.5) / 1.5, rel=1e-9)
    assert bp.total_per_day == pytest.approx(168 + STORAGE_PER_DAY, rel=1e-9)
    assert "m moves from 2 x fast fp32 to 7 x cheap fp32" in bp.description
    pieces = 2
    assert result.solves <= 2 * pieces + 1
    table = result.table
    expected = np.minimum(144 * table.fast, 168) + STORAGE_PER_DAY
    np.testing.assert_allclose(table.total, expected, rtol=1e-9)
    assert (table.how.str.startswith("certified") | (table.how == "solved")).all()
    assert table.how.str.startswith("certified").sum() >= 28


def _direct(scn, params, theta):
    base = build_prices(scn).values
    prices = price_matrix(base, params, theta[None, :])[0]
    return solve(scn, runner_ups=False, prices=build_prices(scn).with_values(prices))


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["grid", "random", "lhs"])
def test_certified_answers_equal_direct_solves(mode):
    scn = load_scenario(ECOMMERCE)
    gpu = {"name": "gpu", "select": "instance_hour[g*]"}
    inf = {"name": "inf", "select": "instance_hour[inf*]"}
    if mode == "grid":
        gpu["range"] = {"start": 0.4, "stop": 1.6, "step": 0.2}
        inf["values"] = [0.5, 0.8, 1.0, 1.3, 1.6]
    else:
        gpu["distribution"] = {"kind": "uniform", "low": 0.4, "high": 1.6}
        inf["distribution"] = {"kind": "triangular", "low": 0.5, "mode": 1.0, "high": 1.6}
    spec, params = load_spec(
        {"mode": mode, "samples": 400, "seed": 7, "parameters": [gpu, inf]}, scn
    )
    result = run_sweep(scn, spec, params)
    table = result.table
    assert len(table) == (35 if mode == "grid" else 400)
    # grid: 4 of its 35 points are the box corners, solved; samples rarely hit a vertex
    assert result.certified_share >= (0.8 if mode == "grid" else 0.95)
    assert result.solves <= (10 if mode == "grid" else 40)
    certified = table[table.how.str.startswith("certified")]
    sample = certified.sample(12, random_state=1)
    mismatches = 0
    for row in sample.itertuples():
        direct = _direct(scn, params, np.array([row.gpu, row.inf]))
        mismatches += abs(direct.objective_per_day - row.total) > 1e-6 * row.total
    assert mismatches == 0


def test_components_sum_to_total_and_choices_are_reported():
    scn = load_scenario(ECOMMERCE)
    spec, params = load_spec(
        {
            "mode": "grid",
            "parameters": [{"name": "labor", "select": "labor", "values": [0.8, 1.0, 1.2]}],
        },
        scn,
    )
    table = run_sweep(scn, spec, params).table
    parts = table[["data", "model_storage", "compression", "compute", "people", "fusion"]]
    np.testing.assert_allclose(parts.sum(axis=1), table.total, rtol=1e-12)
    assert table["model:ranker"].str.contains(" x ").all()
    base = solve(scn, runner_ups=False).objective_per_day
    assert table.total[1] == pytest.approx(base, rel=1e-9)


def test_spec_errors_name_the_field():
    scn = load_scenario(ECOMMERCE)
    with pytest.raises(
        ScenarioError,
        match=r"parameters\[b\]\.select must not overlap "
        r"parameter 'a'",
    ):
        load_spec(
            {
                "parameters": [
                    {"name": "a", "select": "compute", "values": [1]},
                    {"name": "b", "select": "instance_hour[g6*]", "values": [1]},
                ]
            },
            scn,
        )
    with pytest.raises(
        ScenarioError,
        match=r"parameters\[a\]\.select must match at least "
        r"one price",
    ):
        load_spec({"parameters": [{"name": "a", "select": "gpus", "values": [1]}]}, scn)
    with pytest.raises(
        ScenarioError,
        match=r"parameters\[a\] needs values or range for mode "
        r"'grid'",
    ):
        load_spec({"parameters": [{"name": "a", "select": "compute"}]}, scn)
    with pytest.raises(ScenarioError, match=r"mode must be one of 'line', 'grid'"):
        load_spec({"mode": "spiral", "parameters": [{"name": "a", "select": "compute"}]}, scn)


def test_exchange_rate_parameter_scales_every_usd_price():
    scn = load_scenario(ROOT / "problems" / "finance_risk.yaml")  # CNY, catalog rows in CNY
    spec, params = load_spec(
        {"mode": "grid", "parameters": [{"name": "fx", "select": "fx:CNY", "values": [1.0, 1.1]}]},
        scn,
    )
    table = run_sweep(scn, spec, params).table
    assert table.total[1] == pytest.approx(table.total[0] * 1.1, rel=1e-9)  # all in CNY


SPEC = {
    "mode": "random",
    "samples": 300,
    "seed": 3,
    "parameters": [
        {
            "name": "gpu",
            "select": "instance_hour[g*]",
            "distribution": {"kind": "uniform", "low": 0.3, "high": 1.8},
        },
        {
            "name": "inf",
            "select": "instance_hour[inf*]",
            "distribution": {"kind": "uniform", "low": 0.3, "high": 1.8},
        },
        {
            "name": "cpu",
            "select": "instance_hour[c7i*]",
            "distribution": {"kind": "uniform", "low": 0.3, "high": 1.8},
        },
    ],
}


def _sweep(args):
    return subprocess.Popen(
        [sys.executable, "-m", "deploycost", "sweep", *args, "--no-progress"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _finish(proc, timeout=600) -> tuple[int, bytes]:
    _, err = proc.communicate(timeout=timeout)
    return proc.returncode, err


@pytest.mark.slow
def test_kill_and_resume_equals_an_uninterrupted_run(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(SPEC), encoding="utf-8")
    whole = tmp_path / "whole.csv"
    assert _finish(_sweep([str(ECOMMERCE), str(spec), "--out", str(whole)]))[0] == 0
    cut = tmp_path / "cut.csv"
    log = tmp_path / "cut.csv.state" / "solves.jsonl"
    proc = _sweep([str(ECOMMERCE), str(spec), "--out", str(cut)])
    deadline = time.time() + 300
    while time.time() < deadline:
        if log.exists() and log.read_bytes().count(b"\n") >= 4:
            break
        time.sleep(0.02)
    assert proc.poll() is None, "the sweep ended before it could be interrupted"
    os.kill(proc.pid, signal.SIGKILL)
    _finish(proc)
    assert not cut.exists()
    done_before = log.read_bytes().count(b"\n")
    code, err = _finish(_sweep([str(ECOMMERCE), str(spec), "--out", str(cut)]))
    assert code == 1
    assert b"--resume" in err
    assert _finish(_sweep([str(ECOMMERCE), str(spec), "--out", str(cut), "--resume"]))[0] == 0
    assert cut.read_bytes() == whole.read_bytes()
    assert len(pd.read_csv(cut)) == 300
    assert done_before >= 4
    assert not (tmp_path / "cut.csv.state").exists()


@pytest.mark.slow
def test_dask_local_cluster_gives_the_serial_table():
    scn = load_scenario(ECOMMERCE)
    spec, params = load_spec({**SPEC, "samples": 150}, scn)
    serial = run_sweep(scn, spec, params)
    executor = DaskExecutor("local", workers=2)
    try:
        distributed = run_sweep(scn, spec, params, executor=executor)
    finally:
        executor.close()
    pd.testing.assert_frame_equal(serial.table, distributed.table)


def test_tornado_by_hand():
    table = tornado(validate_scenario(hand()), 0.2).set_index("parameter")
    # fast x 3 = 216/day of compute; storage 1 GB on S3 Standard
    assert table.loc["compute", "low_per_day"] == pytest.approx(216 * 0.8 + STORAGE_PER_DAY)
    assert table.loc["compute", "high_per_day"] == pytest.approx(216 * 1.2 + STORAGE_PER_DAY)
    assert not table.loc["compute", "low_changes_deployment"]
    assert table.index[0] == "compute"  # the widest swing leads the tornado


def test_pareto_frontier_by_hand():
    raw = hand(models__0__latency_slo_ms=1000)
    table = pareto(validate_scenario(raw), "e2e_latency_ms", [4.9, 6, 8, 9, 12, 18])
    # p99: fast x 4 5.65 ms (288/day), x 3 6.96 ms (216), x 2 11.45 ms (144); under the 5 ms
    # service time impossible
    assert table.status.tolist()[0] == "infeasible"
    np.testing.assert_allclose(
        table.total_per_day[1:], np.array([288, 216, 216, 144, 144]) + STORAGE_PER_DAY
    )
    assert table.frontier.tolist() == [False, True, True, False, True, False]


def test_an_infeasible_scenario_is_infeasible_at_every_price():
    scn = validate_scenario(hand(models__0__latency_slo_ms=1))
    spec, params = load_spec(
        {
            "mode": "grid",
            "parameters": [
                {"name": "fast", "select": "instance_hour[fast]", "values": [0.5, 1.0, 2.0]}
            ],
        },
        scn,
    )
    result = run_sweep(scn, spec, params)
    assert result.solves == 1
    assert (result.table.status == "infeasible").all()
    assert result.table.total.isna().all()


def test_parquet_output_round_trips(tmp_path):
    from deploycost.analysis.sweep_store import write_table

    scn = validate_scenario(hand(models__0__latency_slo_ms=20))
    spec, params = load_spec(
        {
            "mode": "grid",
            "parameters": [
                {"name": "fast", "select": "instance_hour[fast]", "values": [0.5, 1.0, 2.0]}
            ],
        },
        scn,
    )
    table = run_sweep(scn, spec, params).table
    write_table(table, tmp_path / "out.parquet", chunk_rows=2)
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "out.parquet"), table)
    write_table(table, tmp_path / "out.csv", chunk_rows=2)
    assert len(pd.read_csv(tmp_path / "out.csv")) == 3  # assembled from two chunks


@pytest.mark.slow
def test_sobol_indices_by_hand():
    from deploycost.analysis.sensitivity import sobol
    from deploycost.errors import DeployCostError

    # the optimum is min(144 fast, 192) + storage: it depends on the fast price only, and
    # the hand scenario has no person-days, so labor's indices are exactly zero
    scn = validate_scenario(hand(models__0__latency_slo_ms=20))
    spec, params = load_spec(
        {
            "mode": "random",
            "seed": 3,
            "parameters": [
                {
                    "name": "fast",
                    "select": "instance_hour[fast]",
                    "distribution": {"kind": "uniform", "low": 0.5, "high": 2.0},
                },
                {
                    "name": "labor",
                    "select": "labor",
                    "distribution": {"kind": "normal", "mean": 1.0, "sd": 0.1},
                },
            ],
        },
        scn,
    )
    table, result = sobol(scn, spec, params, samples=256)
    indices = table.set_index("parameter")
    assert len(result.table) == 256 * 4
    assert indices.at["labor", "S1"] == 0.0
    assert indices.at["labor", "ST"] == 0.0
    assert abs(indices.at["fast", "S1"] - 1.0) <= 2 * indices.at["fast", "S1_conf"]
    assert abs(indices.at["fast", "ST"] - 1.0) <= 2 * indices.at["fast", "ST_conf"]
    assert result.certified_share > 0.95
    with pytest.raises(DeployCostError, match="must be a power of two, got 100"):
        sobol(scn, spec, params, samples=100)
    line, line_params = load_spec(
        {
            "mode": "line",
            "parameters": [
                {"name": "fast", "select": "instance_hour[fast]", "range": {"start": 1, "stop": 2}}
            ],
        },
        scn,
    )
    with pytest.raises(DeployCostError, match="need parameter distributions"):
        sobol(scn, line, line_params)


def test_bad_sobol_spec_is_refused_before_the_tornado(tmp_path):
    """A line spec cannot give Sobol indices: the command says so before solving anything
    (no tornado table is printed first)."""
    from typer.testing import CliRunner

    from deploycost.cli.app import app

    spec = tmp_path / "line.yaml"
    spec.write_text(
        "mode: line\nparameters:\n  - {name: gpu, select: 'instance_hour[*]', values: [0.5, 1.0]}\n"
    )
    result = CliRunner().invoke(app, ["sensitivity", "--sobol", str(spec)])
    assert result.exit_code == 1
    assert "Sobol indices need parameter distributions: mode random or lhs, got 'line'" in (
        result.output
    )
    assert "tornado" not in result.output


def test_a_breakpoint_where_only_the_artifact_tier_changes_says_so():
    """One model on fast, its 1 GB artifact on S3 Standard or EBS gp3: as the S3 price rises
    past 0.08 / 0.023 = 3.478x, the artifact moves to gp3; the compute stays. The breakpoint
    says which tier, and the table shows it."""
    from .conftest import hand, line_sweep

    raw = hand(model_storage_tiers=["s3-standard", "ebs-gp3"])
    scn = validate_scenario(raw)
    spec, params = load_spec(line_sweep("s3", "storage_gb_month[s3-standard]", 1.0, 5.0, 5), scn)
    result = run_sweep(scn, spec, params)
    (bp,) = result.breakpoints.itertuples()
    gp3 = scn.resolved_catalog.storage.at["ebs-gp3", "price_per_gb_month"]
    s3 = scn.resolved_catalog.storage.at["s3-standard", "price_per_gb_month"]
    assert bp.s3 == pytest.approx(gp3 / s3, rel=1e-6)
    assert "m keeps 3 x fast fp32; tier s3-standard -> ebs-gp3" in bp.description
    assert set(result.table["model:m"]) == {
        "3 x fast fp32 batch 1, s3-standard none",
        "3 x fast fp32 batch 1, ebs-gp3 none",
    }
