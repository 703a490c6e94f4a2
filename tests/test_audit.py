"""The audit rejects each kind of violation once: a deployment solved under loose limits is
audited against a scenario with one limit tightened past it."""

from __future__ import annotations

import copy
import re

import pytest

from deploycost.cost.deployments import from_specs
from deploycost.cost.model import CostModel, evaluate
from deploycost.optimize.audit import AuditError, audit
from deploycost.optimize.formulation import build
from deploycost.optimize.solve import solve
from deploycost.scenario.schema import validate_scenario

from .conftest import hand

LOOSE = hand(
    models__0__quality=0.9,
    models__0__latency_slo_ms=40,
    constraints={"utilisation_max": 0.8, "quality_floor": 0.5, "e2e_latency_ms": 100},
)


@pytest.fixture(scope="module")
def solved():
    result = solve(validate_scenario(LOOSE), runner_ups=False)
    return result


def _audit(raw, spec, objective=None):
    scn = validate_scenario(raw)
    evaluation = evaluate(scn, from_specs(scn, [spec]))
    total = float(evaluation.total_per_day[0]) if objective is None else objective
    return audit(build(CostModel(scn)), spec, evaluation, total)


def _tightened(**constraints):
    raw = copy.deepcopy(LOOSE)
    raw["constraints"] |= constraints
    return raw


def test_the_solved_deployment_passes_with_every_limit_reported(solved):
    report = _audit(LOOSE, solved.plan.deployment)
    names = {limit.name for limit in report.limits}
    assert names == {
        "latency_p99_max[m]",
        "utilisation_max[m]",
        "cold_start_max[m]",
        "quality_min[all-models]",
        "latency_e2e_max[all-models]",
    }
    p99 = report.models["m"].p99_ms
    assert report.limits[0].value == p99
    assert report.limits[0].slack == pytest.approx(40 - p99)


def test_each_coupled_limit_violated_once(solved):
    spec = solved.plan.deployment
    choice = spec.models["m"]
    total = solved.objective_per_day
    p99 = solved.plan.models.p99_ms[0]
    cases = {
        "quality_min[all-models]": _tightened(quality_floor=0.95),
        "latency_e2e_max[all-models]": _tightened(e2e_latency_ms=p99 / 2),
        f"quota_max[{choice.instance}]": _tightened(quotas={choice.instance: choice.replicas - 1}),
        "budget_max": _tightened(budget_per_day=total / 2),
        "storage_capacity_max[s3-standard]": _tightened(owned_storage_gb={"s3-standard": 0.5}),
        "cold_start_max[m]": _tightened(max_cold_start_s=0.01),
        "utilisation_max[m]": _tightened(utilisation_max=0.05),
    }
    for name, raw in cases.items():
        with pytest.raises(AuditError, match=re.escape(name) + ": "):
            _audit(raw, spec)


def test_per_model_violations_and_a_wrong_objective(solved):
    spec = solved.plan.deployment
    fewer = spec.model_copy(
        update={"models": {"m": spec.models["m"].model_copy(update={"replicas": 2})}}
    )
    # 2 fast replicas: utilisation 500 / 800 passes the 0.8 ceiling, the p99 (11.45 ms) does
    # not meet an 11.4 ms SLO
    with pytest.raises(AuditError, match=r"latency_p99_max\[m\]: 11\.45"):
        _audit(hand(), fewer)
    with pytest.raises(AuditError, match=r"cost: ledger gives .* solver said 1"):
        _audit(LOOSE, spec, objective=1.0)
