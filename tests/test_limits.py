"""The limit registry: for every limit of a solved scenario, the formulation's row activity,
the audit's value and the exported value tell the same story."""

from __future__ import annotations

import numpy as np
import pytest

from deploycost.cost.model import CostModel
from deploycost.optimize.formulation import build
from deploycost.optimize.limits import BY_FAMILY, LIMITS
from deploycost.optimize.solve import solve
from deploycost.optimize.solvers import Status
from deploycost.outputs.export import recommendation
from deploycost.scenario.schema import load_scenario, validate_scenario
from deploycost.scenario.synthetic import random_llm_scenario

from .conftest import PROBLEMS, random_with_coupled_limits

TOL = 1e-6


def _compare(scn) -> dict[str, int]:
    """Check every limit of the optimum three ways; return how many rows were compared."""
    result = solve(scn, runner_ups=False)
    if result.status != Status.OPTIMAL:
        return {}
    form = build(CostModel(scn))
    activity = form.milp.A @ result.solution
    row_of = {name: r for r, name in enumerate(form.milp.row_names)}
    exported = recommendation(scn, result)["limits"]
    counts: dict[str, int] = {}
    for limit in result.limits:
        assert limit.met, limit
        family = BY_FAMILY[limit.family]
        tol = TOL * max(1.0, abs(limit.limit))
        if limit.name in row_of:
            r = row_of[limit.name]
            lb, ub = form.milp.row_lb[r], form.milp.row_ub[r]
            row_slack = ub - activity[r] if np.isfinite(ub) else activity[r] - lb
            assert row_slack == pytest.approx(limit.slack, abs=tol), limit.name
        else:
            assert family.rows(form, _NoRows()) == [] or limit.family == "budget_max", limit.name
        if family.export_name is not None:
            entry = exported[family.export_name]
            entry = entry[limit.key] if family.keyed else entry
            digits = 0 if family.integral else 9
            assert entry["value"] == pytest.approx(round(limit.value, digits), abs=tol)
            assert entry["slack"] == pytest.approx(round(limit.slack, digits), abs=tol)
            assert entry["limit"] == pytest.approx(limit.limit, abs=tol)
        counts[limit.family] = counts.get(limit.family, 0) + 1
    assert set(exported["binding"]) == set(result.binding)
    return counts


class _NoRows:
    """A row builder that must not be used (families enforced by the option grid)."""

    def __getattr__(self, name):
        raise AssertionError(f"a grid-enforced family added rows ({name})")


@pytest.mark.parametrize("path", PROBLEMS, ids=lambda p: p.name)
def test_shipped_problems_rows_audit_and_export_agree(path):
    counts = _compare(load_scenario(path))
    assert counts["latency_p99_max"] >= 1


def _sweep_seeds(seeds, llm_seeds=()) -> dict[str, int]:
    """Limit values compared per family over random scenarios (and random LLM scenarios,
    which exercise the TTFT and TPOT families)."""
    total: dict[str, int] = {}
    scenarios = [random_with_coupled_limits(seed) for seed in seeds]
    scenarios += [random_llm_scenario(seed) for seed in llm_seeds]
    for raw in scenarios:
        for family, n in _compare(validate_scenario(raw)).items():
            total[family] = total.get(family, 0) + n
    return total


def test_random_scenarios_rows_audit_and_export_agree_quick():
    total = _sweep_seeds(range(12), llm_seeds=range(3))
    assert {"latency_p99_max", "utilisation_max", "quality_min", "ttft_p99_max"} <= set(total)


@pytest.mark.slow
def test_random_scenarios_rows_audit_and_export_agree():
    total = _sweep_seeds(range(200), llm_seeds=range(30))
    # every coupled family was exercised, most of them many times
    assert {limit.family for limit in LIMITS} <= set(total), total
    assert min(total.values()) >= 5, total


def test_fusion_layer_replicas_count_toward_the_quota_everywhere(hand_raw):
    """The drift this registry removes: a fusion layer (f1: 1 x box-a) on a quota-limited
    instance counts in the rows, the audit and the export alike."""
    hand_raw["constraints"] = {"quotas": {"box-a": 60}}
    hand_raw["fusion"] = hand_raw["fusion"][:1]  # f1 only: its layer runs on box-a
    scn = validate_scenario(hand_raw)
    result = solve(scn, runner_ups=False)
    assert result.plan.deployment.fusion == "f1"
    quota = result.limit("quota_max[box-a]")
    on_box = sum(
        c.replicas for c in result.plan.deployment.models.values() if c.instance == "box-a"
    )
    assert quota.value == on_box + 1
    assert recommendation(scn, result)["limits"]["quotas"]["box-a"] == {
        "limit": 60,
        "value": on_box + 1,
        "slack": 60 - on_box - 1,
    }
    assert _compare(scn)["quota_max"] == 1


def test_cold_start_is_image_pull_runtime_start_and_artifact_load():
    """A new replica of the hand model (1 GB on S3 Standard, no compression) is up after
    the image pull and runtime start the scenario states plus 0.05 s to the first byte and
    1,000 MB at 100 MB/s."""
    from deploycost.optimize.solve import solve
    from deploycost.scenario.schema import validate_scenario

    from .conftest import hand

    scn = validate_scenario(hand(options__image_pull_s=12.0, options__runtime_init_s=30.0))
    result = solve(scn, runner_ups=False)
    assert result.plan.models.cold_start_s.iloc[0] == pytest.approx(12.0 + 30.0 + 0.05 + 10.0)
    tight = validate_scenario(
        hand(options__image_pull_s=12.0, options__runtime_init_s=30.0)
        | {"constraints": {"utilisation_max": 0.8, "max_cold_start_s": 50.0}}
    )
    assert not solve(tight, runner_ups=False).ok  # 52.05 s > 50 s
