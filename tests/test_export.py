"""Export: complete, byte-identical, atomic; Kubernetes manifests valid against the schemas."""

from __future__ import annotations

import json
import re

import kubernetes_validate
import pytest
import yaml
from typer.testing import CliRunner

from deploycost.cli.app import app
from deploycost.errors import DeployCostError
from deploycost.optimize.solve import solve
from deploycost.outputs.document import inputs_digest
from deploycost.outputs.export import manifests, recommendation, write_export
from deploycost.scenario.schema import load_scenario, validate_scenario

from .conftest import FLEET_PROBLEMS, PROBLEMS, STORAGE_PER_DAY, hand

runner = CliRunner()


def _kind(items: list[dict], kind: str) -> dict:
    (doc,) = [d for d in items if d["kind"] == kind]
    return doc


@pytest.mark.parametrize("path", PROBLEMS, ids=lambda p: p.name)
def test_manifests_validate_against_kubernetes_schemas(path):
    scn = load_scenario(path)
    result = solve(scn, runner_ups=False)
    docs = manifests(scn, result)
    assert set(docs) == set(result.plan.deployment.models)
    for name, items in docs.items():
        for doc in items:
            kubernetes_validate.validate(doc, "1.30", strict=True)
        deployment = _kind(items, "Deployment")
        assert deployment["spec"]["replicas"] == result.plan.deployment.models[name].replicas
        selector = deployment["spec"]["template"]["spec"]["nodeSelector"]
        instance = result.plan.deployment.models[name].instance
        listed = scn.resolved_catalog.hardware.at[instance, "instance_type"]
        expected = listed if isinstance(listed, str) else instance  # a scenario's own row
        assert selector["node.kubernetes.io/instance-type"] == expected


def test_gpu_limits_and_autoscaler():
    raw = hand(options__autoscale=True)
    scn = validate_scenario(raw)
    result = solve(scn, runner_ups=False)
    (items,) = manifests(scn, result).values()
    deployment, hpa = _kind(items, "Deployment"), _kind(items, "HorizontalPodAutoscaler")
    limits = deployment["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]
    assert limits["nvidia.com/gpu"] == "1"  # fast is one L4
    assert hpa["spec"]["maxReplicas"] == 3
    assert hpa["spec"]["minReplicas"] == 1
    # it scales on requests per second per pod at the autoscaler's target
    (metric,) = hpa["spec"]["metrics"]
    assert metric["pods"]["metric"]["name"] == "requests_per_second"
    choice = result.plan.deployment.models["m"]
    target = choice.capacity_qps * scn.constraints.utilisation_max
    assert metric["pods"]["target"]["averageValue"] == f"{round(target * 1000)}m"
    kubernetes_validate.validate(hpa, "1.30", strict=True)


def test_recommendation_content_by_hand():
    scn = validate_scenario(hand())
    doc = recommendation(scn, solve(scn, runner_ups=False))
    assert doc["schema_version"] == 1
    assert doc["solver"]["status"] == "optimal"
    assert doc["deployment"]["models"]["m"]["instance"] == "fast"
    assert doc["bill_of_materials"]["instance_hours"]["fast"]["per_day"] == 72  # 3 x 24
    assert doc["bill_of_materials"]["storage_gb"]["s3-standard"]["average_stored"] == 1.0
    assert doc["cost"]["per_day"]["total"] == pytest.approx(216 + STORAGE_PER_DAY)
    assert doc["cost"]["per_month"]["total"] == pytest.approx((216 + STORAGE_PER_DAY) * 30.4)
    used = {p["name"]: p for p in doc["prices"]}
    assert used["instance_hour[fast]"]["value"] == 3.0
    assert used["storage_gb_month[s3-standard]"]["source"].startswith("https://")
    assert doc["catalog_rows"]["hardware"][0]["name"] == "fast"


def test_inputs_hash_follows_the_inputs():
    a = validate_scenario(hand())
    b = validate_scenario(hand(catalog__hardware__1__price_on_demand_per_hour=3.5))
    rows = {"hardware": ["fast"]}
    assert inputs_digest(a, rows) == inputs_digest(validate_scenario(hand()), rows)
    assert inputs_digest(a, rows) != inputs_digest(b, rows)


def test_export_is_byte_identical_and_refuses_to_overwrite(tmp_path):
    scn = load_scenario(PROBLEMS[1])
    first = write_export(scn, solve(scn, runner_ups=False), tmp_path / "a")
    second = write_export(scn, solve(scn, backend="pulp-cbc", runner_ups=False), tmp_path / "b")
    for x, y in zip(first, second, strict=True):
        if x.name.startswith("recommended"):
            continue  # the backend name differs; compared below with the same backend
        assert x.read_bytes() == y.read_bytes()
    again = write_export(scn, solve(scn, runner_ups=False), tmp_path / "c")
    for x, y in zip(first, again, strict=True):
        assert x.read_bytes() == y.read_bytes()
    assert json.loads((tmp_path / "a" / "recommended.json").read_text()) == yaml.safe_load(
        (tmp_path / "a" / "recommended.yaml").read_text()
    )
    with pytest.raises(DeployCostError, match=r"would overwrite .*; pass --force"):
        write_export(scn, solve(scn, runner_ups=False), tmp_path / "a")
    before = (tmp_path / "a" / "recommended.json").read_bytes()
    write_export(scn, solve(scn, runner_ups=False), tmp_path / "a", force=True)
    assert (tmp_path / "a" / "recommended.json").read_bytes() == before
    assert not list((tmp_path / "a").glob(".*.tmp"))


@pytest.mark.slow
def test_export_cli_errors_leave_nothing_half_written(tmp_path):
    scenario = tmp_path / "hand.yaml"
    scenario.write_text(yaml.safe_dump(hand()), encoding="utf-8")
    missing = runner.invoke(app, ["export", str(scenario), "--out", str(tmp_path / "no" / "x")])
    assert missing.exit_code == 1
    assert "the parent folder" in missing.output
    assert not (tmp_path / "no").exists()
    a_file = tmp_path / "file.txt"
    a_file.write_text("keep", encoding="utf-8")
    clash = runner.invoke(app, ["export", str(scenario), "--out", str(a_file)])
    assert clash.exit_code == 1
    assert "--out must be a folder" in clash.output
    assert a_file.read_text(encoding="utf-8") == "keep"
    ok = runner.invoke(app, ["export", str(scenario), "--out", str(tmp_path / "out"), "--template"])
    assert ok.exit_code == 0, ok.output
    assert (tmp_path / "out" / "k8s" / "m.yaml").exists()
    infeasible = tmp_path / "tight.yaml"
    infeasible.write_text(yaml.safe_dump(hand(models__0__latency_slo_ms=1)), encoding="utf-8")
    refused = runner.invoke(app, ["export", str(infeasible), "--out", str(tmp_path / "t")])
    assert refused.exit_code == 2
    assert not (tmp_path / "t").exists()


def test_image_comes_from_the_scenario_or_is_marked_a_placeholder():
    scn = validate_scenario(hand(models__0__image="registry.internal/search/m:1.4"))
    deployment = _kind(manifests(scn, solve(scn, runner_ups=False))["m"], "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "registry.internal/search/m:1.4"
    assert "deploycost.io/image" not in deployment["metadata"]["annotations"]
    plain = validate_scenario(hand())
    deployment = _kind(manifests(plain, solve(plain, runner_ups=False))["m"], "Deployment")
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"].startswith("REPLACE-ME")
    assert "placeholder" in deployment["metadata"]["annotations"]["deploycost.io/image"]


# the API server's rules (apimachinery validation), written out independently of export.py
DNS_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
LABEL_VALUE = r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?"


def _assert_api_server_syntax(docs: dict[str, list[dict]]) -> None:
    import re

    for items in docs.values():
        for doc in items:
            name = doc["metadata"]["name"]
            assert re.fullmatch(DNS_LABEL, name), name
            assert len(name) <= 63, name
            if doc["kind"] != "Namespace":
                assert re.fullmatch(DNS_LABEL, doc["metadata"]["namespace"])
            labels = {**doc["metadata"]["labels"]}
            pod = doc.get("spec", {}).get("template", {}).get("spec", {})
            labels |= pod.get("nodeSelector", {})
            for value in labels.values():
                assert re.fullmatch(LABEL_VALUE, value), value
                assert len(value) <= 63, value
            for container in pod.get("containers", []):
                assert re.fullmatch(DNS_LABEL, container["name"])
                assert " " not in container["image"]


def test_names_are_mapped_to_the_api_server_syntax():
    scn = validate_scenario(hand(name="Search Ranking / prod"))
    docs = manifests(scn, solve(scn, runner_ups=False))
    deployment = _kind(docs["m"], "Deployment")
    assert deployment["metadata"]["labels"]["app.kubernetes.io/part-of"] == "search-ranking-prod"
    assert deployment["metadata"]["namespace"] == "search-ranking-prod"
    _assert_api_server_syntax(docs)
    kubernetes_validate.validate(deployment, "1.30", strict=True)
    odd = validate_scenario(hand(name="!!! ???"))
    deployment = _kind(manifests(odd, solve(odd, runner_ups=False))["m"], "Deployment")
    assert deployment["metadata"]["labels"]["app.kubernetes.io/part-of"] == "deploycost"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"models__0__image": "my registry/ranker:1"}, r"image is not a container image reference"),
        (
            {"catalog__hardware__1__instance_type": "My GPU box"},
            r"instance type 'My GPU box' .* is not a valid node label value; give the row an "
            r"instance_type such as 'my-gpu-box'",
        ),
    ],
    ids=["image", "instance type"],
)
def test_what_no_faithful_mapping_fixes_is_refused(changes, message):
    scn = validate_scenario(hand(**changes))
    result = solve(scn, runner_ups=False)
    with pytest.raises(DeployCostError, match=message):
        manifests(scn, result)


@pytest.mark.parametrize("path", PROBLEMS, ids=lambda p: p.name)
def test_shipped_manifests_follow_the_api_server_syntax(path):
    scn = load_scenario(path)
    _assert_api_server_syntax(manifests(scn, solve(scn, runner_ups=False)))


def _two_models(tmp_path):
    """The customer-service problem (two models) and the same with one model only."""
    both = load_scenario(PROBLEMS[0])
    raw = yaml.safe_load(PROBLEMS[0].read_text(encoding="utf-8"))
    keep = raw["models"][0]["name"]
    raw["models"] = raw["models"][:1]
    raw["fusion"] = [{"name": "alone", "members": [keep]}]
    raw.pop("baseline_deployment", None)
    raw["constraints"].pop("quality_floor", None)
    return both, validate_scenario(raw), keep


def test_force_replaces_the_earlier_export_as_a_set(tmp_path):
    both, one, keep = _two_models(tmp_path)
    out = tmp_path / "out"
    write_export(both, solve(both, runner_ups=False), out)
    assert len(list((out / "k8s").iterdir())) == 2
    write_export(one, solve(one, runner_ups=False), out, force=True)
    assert sorted(p.name for p in (out / "k8s").iterdir()) == [f"{keep}.yaml"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no temp folder left


def test_files_an_export_did_not_write_are_never_touched(tmp_path):
    scn = validate_scenario(hand())
    result = solve(scn, runner_ups=False)
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(DeployCostError, match=r"holds files an export did not write \(notes.txt\)"):
        write_export(scn, result, out, force=True)
    assert (out / "notes.txt").read_text(encoding="utf-8") == "mine"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    linked = tmp_path / "linked"
    linked.mkdir()
    (linked / "k8s").symlink_to(elsewhere)
    with pytest.raises(DeployCostError, match=r"\(k8s\)"):
        write_export(scn, result, linked, force=True)
    assert list(elsewhere.iterdir()) == []


def test_a_preplaced_temp_symlink_is_not_written_through(tmp_path):
    scn = validate_scenario(hand())
    victim = tmp_path / "victim.txt"
    victim.write_text("precious", encoding="utf-8")
    out = tmp_path / "out"
    write_export(scn, solve(scn, runner_ups=False), out)
    # the temporary names earlier versions used, planted beside and inside the export
    (tmp_path / ".out.tmp").symlink_to(victim)
    (out / "k8s" / ".m.yaml.tmp").symlink_to(victim)
    with pytest.raises(DeployCostError, match=r"did not write \(k8s/.m.yaml.tmp\)"):
        write_export(scn, solve(scn, runner_ups=False), out, force=True)
    (out / "k8s" / ".m.yaml.tmp").unlink()
    write_export(scn, solve(scn, runner_ups=False), out, force=True)
    assert victim.read_text(encoding="utf-8") == "precious"
    assert (tmp_path / ".out.tmp").is_symlink()


def test_a_second_export_to_the_same_folder_fails_fast(tmp_path):
    from deploycost.files import exclusive

    scn = validate_scenario(hand())
    result = solve(scn, runner_ups=False)
    with (
        exclusive(tmp_path / "out", "export"),
        pytest.raises(DeployCostError, match=r"another deploycost export is writing"),
    ):
        write_export(scn, result, tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.slow  # child processes under a file-size limit
def test_a_file_size_limit_is_a_clean_error_with_nothing_left(tmp_path):
    """RLIMIT_FSIZE in a child process: the write fails with EFBIG, not a traceback."""
    from .conftest import cli_under_file_limit

    scenario = tmp_path / "s.yaml"
    scenario.write_text(yaml.safe_dump(hand()), encoding="utf-8")
    proc = cli_under_file_limit(
        ["export", str(scenario), "--out", str(tmp_path / "out"), "--template"], 2000
    )
    assert proc.returncode == 1, proc.stderr
    assert "the file is larger than allowed (file-size limit)" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.yaml"]


@pytest.mark.parametrize("path", PROBLEMS, ids=lambda p: p.name)
def test_manifests_a_platform_team_can_apply(path):
    """Namespace, Deployment, Service and PodDisruptionBudget per model, all valid; GPU and
    Neuron pods tolerate their taints; requests are sized to the model, below the node;
    probes on the serving port; the budget keeps the replicas the peak needs at
    utilisation_max, always allowing one drain."""
    import math

    scn = load_scenario(path)
    result = solve(scn, runner_ups=False)
    hardware = scn.resolved_catalog.hardware
    models = result.plan.models.set_index("model")
    for name, items in manifests(scn, result).items():
        kinds = [d["kind"] for d in items]
        assert kinds[:4] == ["Namespace", "Deployment", "Service", "PodDisruptionBudget"]
        for doc in items:
            kubernetes_validate.validate(doc, "1.30", strict=True)
        choice = result.plan.deployment.models[name]
        hw = hardware.loc[choice.instance]
        pod = _kind(items, "Deployment")["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        taint = {"gpu": "nvidia.com/gpu", "accelerator": "aws.amazon.com/neuron"}
        if hw.compute_class in taint:
            assert pod["tolerations"][0]["key"] == taint[hw.compute_class]
            assert container["resources"]["limits"][taint[hw.compute_class]] == str(
                int(hw.accel_count)
            )
        memory_gib = int(container["resources"]["requests"]["memory"].removesuffix("Gi"))
        assert memory_gib <= 0.9 * float(hw.memory_gib) + 1
        assert int(container["resources"]["requests"]["cpu"]) < int(hw.vcpus)
        assert container["readinessProbe"]["httpGet"]["port"] == "http"
        service = _kind(items, "Service")
        assert service["spec"]["ports"][0]["targetPort"] == "http"
        row = models.loc[name]
        per_replica = row.capacity_qps / choice.replicas
        needed = math.ceil(row.arrival_qps / (per_replica * scn.constraints.utilisation_max))
        budget = _kind(items, "PodDisruptionBudget")["spec"]
        if choice.replicas > 1:
            assert budget["minAvailable"] == min(max(needed, 1), choice.replicas - 1)
        else:
            assert budget["maxUnavailable"] == 1


def test_hostile_strings_give_valid_manifests_and_an_escaped_report(tmp_path):
    """A scenario named with spaces, markup and quotes: the namespace and labels are mapped
    to Kubernetes names, the manifests validate, the report escapes the name."""
    hostile = 'Prod <script>alert(1)</script> "team" / 9'
    scn = validate_scenario(hand(name=hostile))
    result = solve(scn, runner_ups=False)
    docs = manifests(scn, result)
    for items in docs.values():
        for doc in items:
            kubernetes_validate.validate(doc, "1.30", strict=True)
    assert _kind(docs["m"], "Namespace")["metadata"]["name"] == "prod-script-alert-1-script-team-9"
    from deploycost.outputs.report import build_report, render_html, render_markdown

    report = build_report(scn, result)
    assert "<script>alert" not in render_html(report)  # the page's own script aside
    assert "&lt;script&gt;alert(1)" in render_html(report)
    assert "<script>" not in render_markdown(report, "img")


def test_a_usd_scenario_without_regions_buys_in_one_region_and_says_so(tmp_path):
    """The README's ten-line file states no region: USD means us-east-1, so the answer is
    an us-east-1 instance (before: g4dn.xlarge@cn-northwest-1, AWS China, beside us-east-1
    storage); the manifests select the region; storage of another provider is refused."""
    raw = {
        "currency": "USD",
        "workload": {"queries_per_day": 2_000_000, "peak_to_mean": 3},
        "models": [{"name": "ranker", "params_million": 340, "latency_slo_ms": 100}],
    }
    scn = validate_scenario(raw)
    assert scn.regions == ["us-east-1"]
    result = solve(scn, runner_ups=False)
    hardware = scn.resolved_catalog.hardware
    for choice in result.plan.deployment.models.values():
        assert hardware.at[choice.instance, "region"] == "us-east-1"
    doc = recommendation(scn, result)
    assert doc["deployment"]["regions"] == ["us-east-1"]
    assert doc["deployment"]["models"]["ranker"]["region"] == "us-east-1"
    deployment = _kind(manifests(scn, result)["ranker"], "Deployment")
    assert (
        deployment["spec"]["template"]["spec"]["nodeSelector"]["topology.kubernetes.io/region"]
        == "us-east-1"
    )
    with pytest.raises(DeployCostError, match=r"tier 'oss-standard' is Alibaba Cloud storage"):
        validate_scenario(raw | {"model_storage_tiers": ["oss-standard"]})
    # stating the region of those tiers makes the file consistent again
    china = raw | {
        "model_storage_tiers": ["oss-standard"],
        "catalog": {"regions": ["cn-hangzhou"], "calibration_instance": "ecs.gn7i-c8g1.2xlarge"},
    }
    assert validate_scenario(china).regions == ["cn-hangzhou"]


@pytest.mark.parametrize("path", PROBLEMS, ids=lambda p: p.stem)
def test_the_export_s_own_file_evaluates_to_the_solve_s_cost(path, tmp_path):
    """export -> evaluate: the recommended.yaml the export writes is a deployment file;
    costed again from the scenario alone it gives the solver's cost to the cent and breaks
    no limit; diff of the file against itself changes nothing."""
    from deploycost.analysis.diff import diff
    from deploycost.cost.deployments import from_specs
    from deploycost.cost.model import evaluate
    from deploycost.optimize.audit import deployment_limits
    from deploycost.scenario.schema import load_deployment

    scn = load_scenario(path)
    result = solve(scn, runner_ups=False).raise_for_status()
    write_export(scn, result, tmp_path / "out")
    written = tmp_path / "out" / "recommended.yaml"
    spec = load_deployment(scn, written)
    assert spec == result.plan.deployment
    cost = evaluate(scn, from_specs(scn, [spec]))
    assert round(float(cost.total_per_day[0]), 2) == round(result.objective_per_day, 2)
    ((broken, checked),) = deployment_limits(scn, [spec], cost)
    assert broken == []
    assert len(checked.limits) == len(result.limits)
    assert diff(scn, spec, load_deployment(scn, written)).change_per_day == 0.0
    if path.stem == "ecommerce_search_rec":  # and through the command line
        out = CliRunner().invoke(app, ["evaluate", str(path), "--deployment", str(written)])
        assert out.exit_code == 0, out.output
        assert f"{result.objective_per_day * 30.4:,.2f}" in out.output


def test_a_fleet_s_recommended_file_is_no_baseline_deployment(tmp_path):
    """A fleet's file costs as a fleet (below); as a deployment it is refused with the
    reason and the commands that take it."""
    from deploycost.scenario.schema import load_deployment

    from .fleet_cases import box, fleet_scenario, model

    boxes = [box("b", on_demand=1.0)]
    scn = validate_scenario(fleet_scenario([model("m", {"b": 100.0})], boxes, 50.0))
    result = solve(scn).raise_for_status()
    write_export(scn, result, tmp_path / "out")
    with pytest.raises(DeployCostError, match="a fleet's recommended.yaml .* --recommended"):
        load_deployment(scn, tmp_path / "out" / "recommended.yaml")


@pytest.mark.parametrize("path", FLEET_PROBLEMS, ids=lambda p: p.stem)
def test_a_fleet_s_own_file_evaluates_to_the_solve_s_cost(path, tmp_path):
    """export -> evaluate for a fleet: the file fixes every decision (shares, counts per
    hour, artifacts, tiers), so its cost is the solver's to the cent, every limit has the
    solver's value and none is broken; diff --recommended of the file gives the change the
    solve gives. With one hour's spot instances of a pool taken away, the capacity row of
    that hour is broken and evaluate exits 2 naming it."""
    from deploycost.analysis.diff import diff_result
    from deploycost.optimize.fleet_given import evaluate_fleet

    scn = load_scenario(path)
    result = solve(scn, runner_ups=False).raise_for_status()
    write_export(scn, result, tmp_path / "out")
    written = tmp_path / "out" / "recommended.yaml"
    doc = yaml.safe_load(written.read_text())
    given = evaluate_fleet(scn, doc)
    assert given.ok, given.problems
    assert round(given.result.objective_per_day, 2) == round(result.objective_per_day, 2)
    assert [v.name for v in given.result.limits] == [v.name for v in result.limits]
    for mine, solved in zip(given.result.limits, result.limits, strict=True):
        assert mine.value == pytest.approx(solved.value, rel=1e-6, abs=1e-9), mine.name
    cli = CliRunner().invoke(app, ["evaluate", str(path), "--deployment", str(written)])
    assert cli.exit_code == 0, cli.output
    assert f"{result.objective_per_day * 30.4:,.2f}" in cli.output
    assert "meets every limit" in cli.output
    cli = CliRunner().invoke(app, ["evaluate", str(path), "--deployment", str(written), "--json"])
    assert cli.exit_code == 0, cli.output
    payload = json.loads(cli.output)
    assert payload["plan"] == "fleet"
    assert payload["per_day"]["total"] == pytest.approx(result.objective_per_day, abs=0.005)
    assert payload["meets_every_limit"] is True
    assert len(payload["limits"]) == len(result.limits)
    if scn.baseline_deployment is not None:
        cli = CliRunner().invoke(app, ["diff", str(path), "--recommended", str(written), "--json"])
        assert cli.exit_code == 0, cli.output
        expected = diff_result(scn, scn.baseline_deployment, result).change_per_day
        assert json.loads(cli.output)["change_per_day"] == pytest.approx(expected, abs=0.005)
    busy = max(
        (p for p in doc["pools"] if p.get("spot")),
        key=lambda p: max(max(hours) for hours in p["spot"].values()),
    )
    day, hourly = max(busy["spot"].items(), key=lambda item: max(item[1]))
    hour = max(range(24), key=lambda t: hourly[t])
    hourly[hour] = 0
    broken = tmp_path / "broken.yaml"
    broken.write_text(yaml.safe_dump(doc))
    cli = CliRunner().invoke(app, ["evaluate", str(path), "--deployment", str(broken)])
    assert cli.exit_code == 2, cli.output
    assert f"capacity[{busy['pool']},{busy['instance']},{day}," in cli.output


def test_a_fleet_file_with_bad_entries_gets_errors_naming_the_field(tmp_path):
    """Every entry a fleet file states is checked before it is costed: the error names the
    field and the value, and nothing the file buys is dropped from the cost."""
    import copy

    from deploycost.errors import ScenarioError
    from deploycost.optimize.fleet_given import evaluate_fleet

    from .fleet_cases import box, fleet_scenario, model

    boxes = [box("b", on_demand=1.0, spot=0.4), box("c", on_demand=3.0)]
    scn = validate_scenario(fleet_scenario([model("m", {"b": 100.0, "c": 400.0})], boxes, 150.0))
    result = solve(scn).raise_for_status()
    write_export(scn, result, tmp_path / "out")
    doc = yaml.safe_load((tmp_path / "out" / "recommended.yaml").read_text())
    given = evaluate_fleet(scn, doc)
    assert given.ok
    assert round(given.result.objective_per_day, 2) == round(result.objective_per_day, 2)
    pool = doc["pools"][0]
    plan = next(p for p in ("on_demand", "spot") if p in pool)
    day = next(iter(pool[plan]))
    cases = {
        "fusion": lambda d: d.update(fusion="nope"),
        "models.m.runs_on[0].share": lambda d: d["models"]["m"]["runs_on"][0].update(
            share=float("nan")
        ),
        "models.m.runs_on[0]": lambda d: d["models"]["m"]["runs_on"][0].update(batch=7),
        "models.m.artifact": lambda d: d["models"]["m"]["artifact"].update(precision="int2"),
        f"pools[0].{plan}.{day}": lambda d: d["pools"][0][plan][day].pop(),
        "pools[0].reserved_1yr": lambda d: d["pools"][0].update(reserved_1yr=-1),
        "pools[1]": lambda d: d["pools"].append("b"),
        "models.m: missing": lambda d: d["models"].pop("m"),
    }
    for field, change in cases.items():
        bad = copy.deepcopy(doc)
        change(bad)
        with pytest.raises(ScenarioError, match=re.escape(field)):
            evaluate_fleet(scn, bad)
    buys = copy.deepcopy(doc)  # a type no model runs on: its instances are never free
    buys["pools"].append({"pool": pool["pool"], "instance": "nowhere", "on_demand": {}})
    with pytest.raises(ScenarioError, match="not in the scenario"):
        evaluate_fleet(scn, buys)


@pytest.mark.slow
def test_every_shipped_answer_is_the_same_under_either_text_storage():
    """The command line and the suite store text as Python objects
    (``deploycost.pandas_setup``); a library caller with pyarrow gets pyarrow strings. Every
    shipped problem's export document is the same under both (the catalog read again in
    each)."""
    pytest.importorskip("pyarrow")
    import pandas as pd

    from deploycost import catalog

    documents: dict[str, list[dict]] = {}
    try:
        for storage in ("pyarrow", "python"):
            with pd.option_context("mode.string_storage", storage):
                catalog._shipped.cache_clear()
                assert str(catalog.load_catalog().hardware.name.dtype.storage) == storage
                for path in PROBLEMS + FLEET_PROBLEMS:
                    scn = load_scenario(path)
                    result = solve(scn, runner_ups=False)
                    documents.setdefault(path.name, []).append(recommendation(scn, result))
    finally:
        catalog._shipped.cache_clear()  # read again in the suite's storage
    assert len(documents) == len(PROBLEMS) + len(FLEET_PROBLEMS)
    for name, (arrow, python) in documents.items():
        assert arrow == python, name
