"""Every validation rule: the message names the field, the rule and the value."""

from __future__ import annotations

import pytest

from deploycost.errors import ScenarioError
from deploycost.scenario.schema import load_scenario, validate_deployment, validate_scenario

from .conftest import PROBLEMS


def _reject(raw, match: str) -> ScenarioError:
    with pytest.raises(ScenarioError, match=match) as info:
        validate_scenario(raw)
    return info.value


@pytest.mark.parametrize("path", PROBLEMS, ids=lambda p: p.name)
def test_shipped_problems_are_valid(path):
    scn = load_scenario(path)
    assert scn.models
    assert scn.baseline_deployment is not None


def test_positive_rule(hand_raw):
    hand_raw["models"][0]["latency_slo_ms"] = -5
    _reject(hand_raw, r"models\[m1\]\.latency_slo_ms must be > 0, got -5")


def test_nan_rejected(hand_raw):
    hand_raw["workload"]["queries_per_day"] = float("nan")
    _reject(hand_raw, r"workload\.queries_per_day must be a finite number, got nan")


def test_infinity_rejected(hand_raw):
    hand_raw["data_sources"][0]["gb_per_day"] = float("inf")
    _reject(hand_raw, r"data_sources\[s1\]\.gb_per_day must be a finite number, got inf")


def test_huge_number_rejected(hand_raw):
    hand_raw["workload"]["queries_per_day"] = 1e300
    _reject(hand_raw, r"workload\.queries_per_day must be <= 1000000000000, got 1e\+300")


def test_fraction_upper_bound(hand_raw):
    hand_raw["data_sources"][0]["usable_fraction"] = 1.5
    _reject(hand_raw, r"data_sources\[s1\]\.usable_fraction must be <= 1, got 1\.5")


def test_unknown_key_suggests_nearest(hand_raw):
    hand_raw["models"][0]["latncy_slo_ms"] = 5
    _reject(
        hand_raw, r"models\[m1\]: unknown key 'latncy_slo_ms' \(did you mean 'latency_slo_ms'\?\)"
    )


def test_unknown_top_level_key(hand_raw):
    hand_raw["workloads"] = {}
    _reject(hand_raw, r"top level: unknown key 'workloads' \(did you mean 'workload'\?\)")


def test_unknown_key_inside_mapping_of_roles(hand_raw):
    hand_raw["people"]["roles"]["eng"]["dayrate"] = 3
    _reject(hand_raw, r"people\.roles\[eng\]: unknown key 'dayrate' \(did you mean 'day_rate'\?\)")


def test_missing_required(hand_raw):
    del hand_raw["models"]
    _reject(hand_raw, r"models is required")


def test_missing_required_nested(hand_raw):
    del hand_raw["data_sources"][0]["gb_per_day"]
    _reject(hand_raw, r"data_sources\[s1\]\.gb_per_day is required")


def test_wrong_type(hand_raw):
    hand_raw["models"][1]["size_gb"] = "two"
    _reject(hand_raw, r"models\[m2\]\.size_gb must be a number, got 'two'")


def test_bool_is_not_a_number(hand_raw):
    hand_raw["models"][1]["size_gb"] = True
    _reject(hand_raw, r"models\[m2\]\.size_gb must be a number, got True")


def test_integer_rule(hand_raw):
    hand_raw["models"][0]["min_replicas"] = 1.5
    _reject(hand_raw, r"models\[m1\]\.min_replicas must be an integer, got 1\.5")


def test_model_name_pattern(hand_raw):
    hand_raw["models"][0]["name"] = "Ranker_1"
    _reject(hand_raw, r"models\[Ranker_1\]\.name must match the pattern")


def test_literal_choices(hand_raw):
    hand_raw["fusion"][0]["method"] = "median"
    _reject(hand_raw, r"fusion\[f1\]\.method must be one of 'single', 'average'.*got 'median'")


def test_list_length(hand_raw):
    hand_raw["workload"]["hourly_profile"] = [1] * 23
    _reject(hand_raw, r"workload\.hourly_profile must have at least 24 items")


def test_hourly_profile_all_zero(hand_raw):
    hand_raw["workload"]["hourly_profile"] = [0] * 24
    _reject(hand_raw, r"workload\.hourly_profile must have a positive sum")


def test_peak_below_mean(hand_raw):
    hand_raw["workload"]["peak_qps"] = 1.0
    _reject(hand_raw, r"workload\.peak_qps must be >= the mean rate .* = 10, got 1\.0")


def test_dangling_fusion_member(hand_raw):
    hand_raw["fusion"][0]["members"] = ["m1", "m3"]
    _reject(hand_raw, r"fusion\[f1\]\.members must name a known model.*got 'm3'")


def test_repeated_fusion_member(hand_raw):
    hand_raw["fusion"][0]["members"] = ["m1", "m1"]
    _reject(hand_raw, r"fusion\[f1\]\.members must not repeat a model")


def test_single_method_needs_one_member(hand_raw):
    hand_raw["fusion"][0]["method"] = "single"
    _reject(hand_raw, r"fusion\[f1\]\.members must have exactly 1 model for method 'single', got 2")


def test_weighted_needs_weights(hand_raw):
    hand_raw["fusion"][0]["method"] = "weighted"
    _reject(hand_raw, r"fusion\[f1\]\.weights must give one weight per member")


def test_cascade_fractions_length(hand_raw):
    hand_raw["fusion"][0].update(method="cascade", stage_fractions=[1.0])
    _reject(
        hand_raw,
        r"fusion\[f1\]\.stage_fractions must give one fraction per member, got 1 "
        r"for 2 members",
    )


def test_fractions_only_for_cascade(hand_raw):
    hand_raw["fusion"][0]["stage_fractions"] = [1.0, 0.5]
    _reject(hand_raw, r"fusion\[f1\]\.stage_fractions only applies to method 'cascade'")


def test_duplicate_names(hand_raw):
    hand_raw["models"][1]["name"] = "m1"
    _reject(hand_raw, r"models\[m1\]\.name must be unique")


def test_size_exactly_one(hand_raw):
    hand_raw["models"][0]["size_gb"] = 4.0
    _reject(hand_raw, r"models\[m1\] must give exactly one of params_million or size_gb, got both")
    del hand_raw["models"][0]["size_gb"]
    del hand_raw["models"][0]["params_million"]
    _reject(
        hand_raw, r"models\[m1\] must give exactly one of params_million or size_gb, got neither"
    )


def test_unknown_instance_in_quota(hand_raw):
    hand_raw["constraints"] = {"quotas": {"g5.xlarg": 2}}
    _reject(
        hand_raw,
        r"constraints\.quotas must name a known instance \(did you mean "
        r"'g5\.xlarge'\?\), got 'g5\.xlarg'",
    )


def test_unknown_instance_in_profile(hand_raw):
    hand_raw["models"][0]["profiles"] = [
        {"instance": "h100", "precision": "fp16", "throughput_qps": 10, "latency_ms": 5}
    ]
    _reject(hand_raw, r"models\[m1\]\.profiles\[0\]\.instance must name a known instance")


def test_unknown_precision(hand_raw):
    hand_raw["models"][0]["allowed_precisions"] = ["fp6"]
    _reject(hand_raw, r"models\[m1\]\.allowed_precisions must name a known precision.*got 'fp6'")


def test_unknown_tier(hand_raw):
    hand_raw["data_sources"][0]["storage_tiers"] = ["s3-standrd"]
    _reject(
        hand_raw,
        r"data_sources\[s1\]\.storage_tiers must name a known storage tier "
        r"\(did you mean 's3-standard'\?\)",
    )


def test_unknown_role(hand_raw):
    hand_raw["models"][0]["role"] = "boss"
    _reject(hand_raw, r"models\[m1\]\.role must name a known role in people\.roles.*got 'boss'")


def test_role_needs_rate_or_catalog(hand_raw):
    hand_raw["people"]["roles"]["eng"] = {}
    _reject(
        hand_raw,
        r"people\.roles\[eng\] must give exactly one of day_rate or catalog, "
        r"got neither",
    )


def test_unknown_labor_catalog_row(hand_raw):
    hand_raw["people"]["roles"]["eng"] = {"catalog": "astronaut"}
    _reject(hand_raw, r"people\.roles\[eng\]\.catalog must name a known labor catalog role")


def test_missing_exchange_rate(hand_raw):
    del hand_raw["exchange_rates"]["EUR"]
    _reject(hand_raw, r"exchange_rates\.EUR is required to convert EUR prices to USD")


def test_new_catalog_row_needs_required_columns(hand_raw):
    del hand_raw["catalog"]["hardware"][0]["currency"]
    _reject(hand_raw, r"catalog\.hardware\[box-a\]\.currency is required for a new row")


def test_catalog_row_unknown_accelerator(hand_raw):
    hand_raw["catalog"]["hardware"][0]["accelerator"] = "tpu-v9"
    _reject(hand_raw, r"catalog\.hardware\[box-a\]\.accelerator must name a known accelerator")


def test_calibration_instance_needs_price(hand_raw):
    """A named calibration instance must be one the scenario can buy: in its regions."""
    hand_raw["catalog"]["pricing"] = "reserved_1yr"
    hand_raw["catalog"]["regions"] = ["us-east-1"]
    hand_raw["catalog"]["calibration_instance"] = "ecs.gn7i-c8g1.2xlarge"  # cn-hangzhou
    _reject(
        hand_raw,
        r"catalog\.calibration_instance must name a known instance priced "
        r"reserved_1yr in the selected regions",
    )


def test_unknown_region(hand_raw):
    hand_raw["catalog"]["regions"] = ["us-east-9"]
    _reject(
        hand_raw,
        r"catalog\.regions must name a known hardware region \(did you mean "
        r"'us-east-1'\?\), got 'us-east-9'",
    )


def test_regions_restrict_instances(hand_raw):
    hand_raw["catalog"]["regions"] = ["cn-hangzhou"]
    hand_raw["catalog"]["calibration_instance"] = "g5.xlarge"
    _reject(
        hand_raw,
        r"catalog\.calibration_instance must name a known instance priced "
        r"on_demand in the selected regions",
    )


def test_fusion_replicas_need_instance(hand_raw):
    del hand_raw["fusion"][0]["instance"]
    _reject(hand_raw, r"fusion\[f1\]\.instance is required when replicas > 0")


def test_all_problems_reported_at_once(hand_raw):
    hand_raw["fusion"][0]["members"] = ["m1", "m9"]
    hand_raw["constraints"] = {"quotas": {"nope": 1}}
    hand_raw["models"][0]["role"] = "boss"
    error = _reject(hand_raw, "3 problems")
    assert len(error.problems) == 3


def test_top_level_must_be_mapping():
    with pytest.raises(ScenarioError, match=r"top level must be a mapping, got \[1, 2\]"):
        validate_scenario([1, 2])


def test_yaml_syntax_error(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("models: [\n  - name: a\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"not valid YAML at line \d+, column \d+"):
        load_scenario(path)


def test_missing_file(tmp_path):
    with pytest.raises(ScenarioError, match=r"cannot read file"):
        load_scenario(tmp_path / "absent.yaml")


# deployments


def _reject_deployment(hand_raw, deployment, match):
    scn = validate_scenario(hand_raw)
    with pytest.raises(ScenarioError, match=match):
        validate_deployment(scn, deployment)


def test_deployment_replicas_below_min(hand_raw):
    hand_raw["models"][0]["min_replicas"] = 2
    dep = {
        "fusion": "f1",
        "models": {
            "m1": {"instance": "gpu-b", "replicas": 1},
            "m2": {"instance": "box-a", "replicas": 1},
        },
    }
    _reject_deployment(
        hand_raw,
        dep,
        r"deployment\.models\[m1\]\.replicas must be >= "
        r"min_replicas \(2\), got 1",
    )


def test_deployment_missing_member(hand_raw):
    dep = {"fusion": "f1", "models": {"m1": {"instance": "gpu-b", "replicas": 1}}}
    _reject_deployment(
        hand_raw,
        dep,
        r"deployment\.models\[m2\] is required \(member of fusion "
        r"'f1'\)",
    )


def test_deployment_non_member(hand_raw):
    dep = {
        "fusion": "f2",
        "models": {
            "m1": {"instance": "gpu-b", "replicas": 1},
            "m2": {"instance": "box-a", "replicas": 1},
        },
    }
    _reject_deployment(hand_raw, dep, r"deployment\.models\[m1\] must be a member of fusion 'f2'")


def test_deployment_unknown_fusion(hand_raw):
    dep = {"fusion": "f3", "models": {}}
    _reject_deployment(
        hand_raw,
        dep,
        r"deployment\.fusion must name a known fusion "
        r"configuration.*got 'f3'",
    )


def test_deployment_instance_without_price(hand_raw):
    """An instance the scenario cannot buy: outside its regions (an instance without the
    plan's price but with an on-demand one is bought on demand, and is fine)."""
    dep = {"fusion": "f2", "models": {"m2": {"instance": "ecs.gn7i-c8g1.2xlarge", "replicas": 1}}}
    hand_raw["catalog"]["pricing"] = "reserved_1yr"
    hand_raw["catalog"]["regions"] = ["us-east-1"]
    hand_raw["catalog"]["calibration_instance"] = "g5.xlarge"
    del hand_raw["fusion"][0]["instance"]
    hand_raw["fusion"][0]["replicas"] = 0
    hand_raw["catalog"]["hardware"][0]["price_reserved_1yr_per_hour"] = 1.0
    del hand_raw["baseline_deployment"]
    _reject_deployment(
        hand_raw,
        dep,
        r"deployment\.models\[m2\]\.instance must name a known "
        r"instance priced reserved_1yr in the selected regions.*got 'ecs\.gn7i-c8g1\.2xlarge'",
    )


def test_deployment_autoscale_needs_capacity(hand_raw):
    dep = {
        "fusion": "f2",
        "models": {"m2": {"instance": "box-a", "replicas": 2, "autoscale": True}},
    }
    _reject_deployment(
        hand_raw,
        dep,
        r"deployment\.models\[m2\]\.capacity_qps is required when "
        r"autoscale is true",
    )


def test_deployment_data_tier_not_allowed(hand_raw):
    dep = {
        "fusion": "f2",
        "data_tiers": {"s1": "ebs-gp3"},
        "models": {"m2": {"instance": "box-a", "replicas": 2}},
    }
    _reject_deployment(
        hand_raw,
        dep,
        r"deployment\.data_tiers\[s1\] must name a known tier "
        r"allowed for this source",
    )


def test_deployment_schema_error(hand_raw):
    dep = {"fusion": "f2", "models": {"m2": {"instance": "box-a", "replicas": -1}}}
    _reject_deployment(hand_raw, dep, r"models\[m2\]\.replicas must be >= 0, got -1")


def test_baseline_deployment_checked_with_scenario(hand_raw):
    hand_raw["baseline_deployment"]["models"]["m1"]["tier"] = "ebs-gp3"
    _reject(
        hand_raw,
        r"baseline_deployment\.models\[m1\]\.tier must name a known tier in "
        r"model_storage_tiers",
    )


def test_problems_name_the_file_line_and_column_of_their_field(tmp_path):
    """Each problem of a file points at its field: nested list items by name, an unknown
    key at the key itself, a field the file does not have at its nearest parent."""
    from deploycost.errors import ScenarioError
    from deploycost.scenario.schema import load_scenario

    path = tmp_path / "bad.yaml"
    path.write_text(
        "currency: USD\n"
        "workload:\n"
        "  queries_per_day: 1000\n"
        "  peak_qps: -3\n"
        "models:\n"
        "  - name: a\n"
        "    size_gb: 1\n"
        "  - name: ranker\n"
        "    size_gb: -2\n"
        "    latncy_slo_ms: 5\n",
        encoding="utf-8",
    )
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    problems = caught.value.problems
    assert f"{path}:4:3: workload.peak_qps must be >= 1e-06, got -3" in problems
    assert f"{path}:9:5: models[ranker].size_gb must be > 0, got -2" in problems
    assert any(
        p.startswith(f"{path}:10:5: models[ranker]: unknown key 'latncy_slo_ms'") for p in problems
    )


def test_every_field_has_a_description_and_every_number_a_unit():
    """The JSON Schema (and the reference generated from it) documents every property; a
    number (or list of numbers) also carries its unit."""
    from deploycost.scenario.schema import scenario_json_schema

    schema = scenario_json_schema()
    nodes = [("Scenario", schema), *schema["$defs"].items()]
    checked = 0
    for name, node in nodes:
        for field, prop in node.get("properties", {}).items():
            assert prop.get("description"), f"{name}.{field} has no description"
            kinds = {prop.get("type")} | {a.get("type") for a in prop.get("anyOf", [])}
            items = prop.get("items")
            if isinstance(items, dict):
                kinds.add(items.get("type"))
            if kinds & {"number", "integer"}:
                assert prop.get("x-unit"), f"{name}.{field} is a number without a unit"
            checked += 1
    assert checked == 236


def test_calibration_instance_defaults_to_one_the_scenario_can_buy():
    """A scenario in cn-hangzhou (no g5.xlarge there) that does not name a calibration
    instance is valid: calibration is priced on the cheapest GPU it can buy, and the
    answer lists that default."""
    from deploycost.optimize.solve import solve
    from deploycost.scenario.schema import validate_scenario

    raw = {
        "currency": "CNY",
        "workload": {"queries_per_day": 1_000_000, "peak_to_mean": 3},
        "models": [{"name": "m", "params_million": 110, "latency_slo_ms": 50}],
        "model_storage_tiers": ["oss-standard"],
        "catalog": {"regions": ["cn-hangzhou"]},
    }
    scn = validate_scenario(raw)
    hw = scn.resolved_catalog.hardware
    gpus = hw[(hw.region == "cn-hangzhou") & (hw.compute_class == "gpu")]
    assert scn.calibration_instance == gpus.price_on_demand_per_hour.idxmin()
    result = solve(scn, runner_ups=False)
    assert result.ok
    assert any(line.startswith("catalog.calibration_instance: ") for line in result.defaults)


def test_instance_storage_is_not_a_durable_tier(hand_raw):
    """Local NVMe is instance storage (lost when the instance stops): refused as a tier for
    artifacts and for data."""
    hand_raw["model_storage_tiers"] = ["s3-standard", "local-nvme"]
    _reject(hand_raw, r"model_storage_tiers: tier 'local-nvme' is instance-store storage, lost")


def test_quality_deltas_name_known_precisions_and_undeclared_ones_are_listed(hand_raw):
    from deploycost.scenario.assumptions import catalog_estimates
    from deploycost.scenario.schema import DeploymentSpec

    hand_raw["models"][0]["quality_deltas"] = {"int9": -0.01}
    with pytest.raises(ScenarioError, match=r"models\[m1\]\.quality_deltas must name a known "):
        validate_scenario(hand_raw)
    hand_raw["models"][0] |= {"quality_deltas": {}, "quality": 0.9}
    spec = DeploymentSpec.model_validate(
        {"models": {"m1": {"instance": "g5.xlarge", "replicas": 1, "precision": "int8"}}}
    )
    listed = catalog_estimates(validate_scenario(hand_raw), spec)
    assert [e for e in listed if e.startswith("m1: quality change at int8 -1.00% from the catalog")]
    hand_raw["models"][0]["quality_deltas"] = {"int8": -0.002}
    listed = catalog_estimates(validate_scenario(hand_raw), spec)
    assert not [e for e in listed if "quality change" in e]


def test_a_pricing_plan_priced_nowhere_is_an_error_not_a_silent_on_demand():
    """The shipped catalog has no three-year price: ``catalog.pricing: reserved_3yr`` would
    buy every instance on demand. It is refused naming the field; given a price on a row,
    that row is bought under the plan (the others on demand, as for reserved_1yr)."""
    from deploycost.cost.prices import build_prices

    raw = {
        "currency": "USD",
        "workload": {"queries_per_day": 2_000_000, "peak_to_mean": 3},
        "models": [{"name": "ranker", "params_million": 340, "latency_slo_ms": 100}],
        "catalog": {"pricing": "reserved_3yr"},
    }
    with pytest.raises(ScenarioError, match=r"catalog.pricing 'reserved_3yr' needs "):
        validate_scenario(raw)
    raw["catalog"]["hardware"] = [{"name": "g4dn.xlarge", "price_reserved_3yr_per_hour": 0.22}]
    prices = build_prices(validate_scenario(raw))
    assert prices.values[prices.index("instance_hour[g4dn.xlarge]")] == 0.22
    assert prices.values[prices.index("instance_hour[g6.xlarge]")] == 0.8048
