"""The MILP row by row on a hand-built case: every coefficient and bound checked against the
option table and the scenario, not against the formulation's own arrays."""

from __future__ import annotations

import numpy as np
import pytest

from deploycost.cost.model import CostModel
from deploycost.optimize.formulation import build, describe
from deploycost.scenario.schema import validate_scenario

from .conftest import hand

LIMITED = hand(
    models__0__quality=0.9,
    models__0__profiles=[
        {"instance": "cheap", "precision": "fp32", "throughput_qps": 100, "latency_ms": 10},
        {"instance": "fast", "precision": "fp32", "throughput_qps": 400, "latency_ms": 5},
        {"instance": "fast", "precision": "int8", "throughput_qps": 800, "latency_ms": 3},
    ],
    models__0__latency_slo_ms=40,
    constraints={
        "utilisation_max": 0.8,
        "quality_floor": 0.85,
        "e2e_latency_ms": 30,
        "quotas": {"fast": 5},
        "budget_per_day": 500,
        "owned_storage_gb": {"s3-standard": 10},
    },
)


@pytest.fixture(scope="module")
def form():
    return build(CostModel(validate_scenario(LIMITED)))


def _row(form, name):
    r = form.milp.row_names.index(name)
    dense = form.milp.A[r].toarray().ravel()
    return dense, form.milp.row_lb[r], form.milp.row_ub[r]


def test_row_names_follow_the_pipeline_order(form):
    assert form.milp.row_names == [
        "one_fusion",
        "assign[all-models/m]",
        "quality_min[all-models]",
        "stage_latency[all-models/ensemble/m]",
        "latency_e2e_max[all-models]",
        "quota_max[fast]",
        "budget_max",
        "storage_capacity_max[s3-standard]",
    ]
    table = describe(form)
    assert list(table.row) == form.milp.row_names
    assert list(table.ub) == [1, 0, np.inf, 0, 0, 5, 500, 10]


def test_assignment_and_fusion_rows(form):
    n_x = len(form.options.table)
    one, lb, ub = _row(form, "one_fusion")
    assert (lb, ub) == (1, 1)
    assert one[form.z].tolist() == [1.0] * len(form.z_pairs)
    assert not one[:n_x].any()
    assign, lb, ub = _row(form, "assign[all-models/m]")
    assert (lb, ub) == (0, 0)
    assert assign[:n_x].tolist() == [1.0] * n_x
    assert assign[form.z].tolist() == [-1.0] * len(form.z_pairs)


def test_quality_row(form):
    table = form.options.table
    row, lb, ub = _row(form, "quality_min[all-models]")
    assert (lb, ub) == (0, np.inf)
    deltas = {"fp32": 0.0, "int8": -0.01}  # catalog quality_delta_rel (MLPerf 99% targets)
    expected = [0.9 * deltas[p] for p in table.precision]
    assert row[: len(table)] == pytest.approx(expected)
    assert row[form.z] == pytest.approx([-(0.85 - 0.9)] * len(form.z_pairs))


def test_latency_rows(form):
    table = form.options.table
    stage, lb, ub = _row(form, "stage_latency[all-models/ensemble/m]")
    assert ub == 0
    assert lb == -np.inf
    assert stage[: len(table)] == pytest.approx(table.p99_ms.to_numpy())
    assert stage[form.latency].tolist() == [-1.0]
    e2e, lb, ub = _row(form, "latency_e2e_max[all-models]")
    assert e2e[form.latency].tolist() == [1.0]
    assert e2e[form.z] == pytest.approx([-30.0] * len(form.z_pairs))


def test_quota_budget_and_storage_rows(form):
    table = form.options.table
    quota, _, ub = _row(form, "quota_max[fast]")
    assert ub == 5
    assert quota[: len(table)].tolist() == [
        r if i == "fast" else 0 for r, i in zip(table.replicas, table.instance, strict=True)
    ]
    budget, _, ub = _row(form, "budget_max")
    assert ub == 500
    assert budget[: len(table)] == pytest.approx(table.cost_per_day.to_numpy())
    storage, _, ub = _row(form, "storage_capacity_max[s3-standard]")
    assert ub == 10
    # 1 GB at fp32; int8 keeps a quarter of the bytes; one version, no backups
    expected = [{"fp32": 1.0, "int8": 0.25}[p] for p in table.precision]
    assert storage[: len(table)] == pytest.approx(expected)


def test_slack_columns_relax_each_coupled_row_in_its_direction(form):
    relaxed = build(form.cost, form.options, with_slack=True)
    assert relaxed.slack_rows == [
        "quality_min[all-models]",
        "latency_e2e_max[all-models]",
        "quota_max[fast]",
        "budget_max",
        "storage_capacity_max[s3-standard]",
    ]
    signs = [+1, -1, -1, -1, -1]  # >= rows gain, <= rows lose
    for name, col, sign in zip(
        relaxed.slack_rows, range(relaxed.slack.start, relaxed.slack.stop), signs, strict=True
    ):
        r = relaxed.milp.row_names.index(name)
        assert relaxed.milp.A[r, col] == sign
        assert relaxed.milp.c[col] >= 1e6 * relaxed.milp.c[: relaxed.slack.start].max()
