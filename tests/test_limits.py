"""The limit registry: for every limit of a solved scenario, the formulation's row activity,
the audit's value and the exported value tell the same story."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from deploycost.errors import ScenarioError
from deploycost.optimize.formulation import build
from deploycost.optimize.limits import BY_FAMILY, LIMITS
from deploycost.optimize.prepared import deployment_options
from deploycost.optimize.solve import solve
from deploycost.optimize.solvers import Status
from deploycost.outputs.export import recommendation
from deploycost.scenario.schema import load_scenario, validate_scenario
from deploycost.scenario.synthetic import random_llm_scenario

from .conftest import PROBLEMS, ROOT, random_with_coupled_limits

TOL = 1e-6


def _compare(scn) -> dict[str, int]:
    """Check every limit of the optimum three ways; return how many rows were compared."""
    result = solve(scn, runner_ups=False)
    if result.status != Status.OPTIMAL:
        return {}
    form = build(*deployment_options(scn))  # the options the solve used, not enumerated again
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
@pytest.mark.parametrize("half", [0, 1])  # 200 + 30 scenarios, in two parallel halves
def test_random_scenarios_rows_audit_and_export_agree(half):
    total = _sweep_seeds(range(100 * half, 100 * half + 100), range(15 * half, 15 * half + 15))
    print(half, total)
    # every family a deployment has was exercised, most of them many times
    assert {limit.family for limit in LIMITS if not limit.fleet_only} <= set(total), total
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


@pytest.mark.parametrize("backend", ["scipy-highs", "pulp-cbc"])
def test_an_end_to_end_limit_covers_the_models_it_names(backend):
    """The shipped generative-search problem runs its four models as one cascade. An 80 ms
    end-to-end limit over all of them cannot hold (the LLM stages take seconds): the answer
    names the limit, its unit and its stages. Naming only the recall stage
    (``constraints.e2e_models``) leaves the LLMs beside the pipeline: the optimum is the
    one without any end-to-end limit, and the limit's value is recall's p99."""
    raw = yaml.safe_load((ROOT / "problems" / "ecommerce_genai.yaml").read_text())
    free = solve(validate_scenario(raw), backend=backend, runner_ups=False)
    raw["constraints"]["e2e_latency_ms"] = 80
    over = solve(validate_scenario(raw), backend=backend, runner_ups=False)
    assert over.status == "infeasible"
    (line,) = over.explanation
    assert "end-to-end p99 <= 80 ms (latency_e2e_max[all-models], stages recall -> " in line
    assert "query-rewrite -> llm-reranker -> assistant)" in line
    raw["constraints"]["e2e_models"] = ["recall"]
    result = solve(validate_scenario(raw), backend=backend, runner_ups=False)
    assert result.objective_per_day == pytest.approx(free.objective_per_day, rel=1e-9)
    e2e = result.limit("latency_e2e_max[all-models]")
    recall = result.plan.models.set_index("model").p99_ms["recall"]
    assert (e2e.value, e2e.limit) == (pytest.approx(recall, rel=1e-9), 80.0)


@pytest.mark.parametrize("backend", ["scipy-highs", "pulp-cbc"])
def test_a_fleet_s_end_to_end_limit_covers_the_models_it_names(backend):
    """Two models of 10 ms p99 each in a cascade: 15 ms over both cannot hold, and the
    fleet's explanation names the limit and its stages in ms (not a row's bound of 0); over
    a alone it holds and the fleet is the one without the limit."""
    from .fleet_cases import box, fleet_scenario, model

    boxes = [box("b", on_demand=1.0)]
    models = [model("a", {"b": 100.0}), model("c", {"b": 100.0})]
    raw = fleet_scenario(models, boxes, 50.0)
    raw["fusion"][0]["method"] = "cascade"
    free = solve(validate_scenario(raw), backend)
    raw["constraints"]["e2e_latency_ms"] = 15
    over = solve(validate_scenario(raw), backend)
    assert over.status == "infeasible"
    (line,) = over.explanation
    assert "end-to-end p99 <= 15 ms (latency_e2e_max[all], stages a -> c) cannot be met" in line
    assert "needs 20 ms" in line
    raw["constraints"]["e2e_models"] = ["a"]
    assert solve(validate_scenario(raw), backend).objective_per_day == pytest.approx(
        free.objective_per_day
    )


def test_e2e_models_are_checked_with_the_limit_they_belong_to(hand_raw):
    hand_raw["constraints"] = {"e2e_models": ["m1"]}
    with pytest.raises(ScenarioError, match="constraints.e2e_models .* needs constraints"):
        validate_scenario(hand_raw)
    hand_raw["constraints"] = {"e2e_latency_ms": 100, "e2e_models": ["m9"]}
    with pytest.raises(ScenarioError, match="constraints.e2e_models must name a known model"):
        validate_scenario(hand_raw)


def test_every_limit_family_has_a_fleet_face():
    """Each family computes its fleet value itself (the base class refuses), and every
    family with fleet rows is one an infeasible fleet can be explained by."""
    from deploycost.optimize.limits import RELAX_ORDER, Limit

    for limit in LIMITS:
        assert type(limit).fleet_values is not Limit.fleet_values, limit.family
    with_rows = {limit.family for limit in LIMITS if type(limit).fleet_rows is not Limit.fleet_rows}
    assert with_rows == set(RELAX_ORDER)


@pytest.mark.parametrize("backend", ["scipy-highs", "pulp-cbc"])
def test_a_fleet_lists_its_limits_like_a_deployment(backend):
    """a and c (10 ms p99, 100 req/s per instance of b at 1 USD/h, in a cascade) at 150
    req/s: 2 + 2 instances of b all day, 96 USD/day. Quota 5 on b: value 4, slack 1;
    end-to-end 25 ms: value 10 + 10 = 20; budget 100: value 96; each model's p99 10 ms
    against its 50 ms SLO; utilisation at capacity 1.0 (the ceiling: binding). The
    recommended file carries the coupled ones in the slots a deployment's uses."""
    from deploycost.outputs.export import recommendation

    from .fleet_cases import box, fleet_scenario, model

    models = [model("a", {"b": 100.0}), model("c", {"b": 100.0})]
    raw = fleet_scenario(models, [box("b", on_demand=1.0)], 150.0)
    raw["fusion"][0]["method"] = "cascade"
    raw["constraints"] |= {"quotas": {"b": 5}, "e2e_latency_ms": 25, "budget_per_day": 100}
    scn = validate_scenario(raw)
    result = solve(scn, backend).raise_for_status()
    assert result.objective_per_day == pytest.approx(96.0)
    quota = result.limit("quota_max[b]")
    assert (quota.value, quota.limit, quota.slack) == (4.0, 5.0, 1.0)
    assert result.limit("latency_e2e_max[all]").value == pytest.approx(20.0)
    assert result.limit("budget_max").value == pytest.approx(96.0)
    for name in ("a", "c"):
        p99 = result.limit(f"latency_p99_max[{name}]")
        assert (p99.value, p99.limit) == (pytest.approx(10.0), 50.0)
        assert result.limit(f"utilisation_max[{name}]").binding
    doc = recommendation(scn, result)["limits"]
    assert doc["quotas"]["b"] == {"limit": 5, "value": 4, "slack": 1}
    assert doc["e2e_latency_ms"]["value"] == pytest.approx(20.0)
    assert doc["budget_per_day"]["value"] == pytest.approx(96.0)
    assert "utilisation_max[a]" in doc["binding"]
