"""LLM serving in tokens: architecture counts, prefill/decode by hand, tensor parallelism,
memory, the estimate against published measurements, validation and solving."""

from __future__ import annotations

import copy
import json
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from deploycost.catalog import load_catalog
from deploycost.cli.app import app
from deploycost.cost.model import CostModel
from deploycost.errors import ScenarioError
from deploycost.optimize.solve import solve
from deploycost.optimize.solvers import BACKENDS
from deploycost.options.llm import engine_times
from deploycost.options.performance import Configs, Reason, performance
from deploycost.scenario.schema import validate_scenario
from deploycost.scenario.synthetic import random_llm_scenario

from .crosscheck import crosscheck
from .llm_published import architecture, comparison

runner = CliRunner()


def _llm_scenario(llm: dict | None = None, **model) -> dict:
    spec = {
        "architecture": "Llama-2-7B",
        "input_tokens": {"mean": 512},
        "output_tokens": {"mean": 128},
        "ttft_p99_ms": 2000,
        "tpot_p99_ms": 100,
    }
    spec.update(llm or {})
    base = {"name": "chat", "kind": "llm", "llm": spec, "quality": 0.5}
    base.update(model)
    return {
        "currency": "USD",
        "workload": {"queries_per_day": 200_000, "peak_to_mean": 2.0},
        "models": [base],
        "catalog": {"regions": ["us-east-1"]},
    }


def _perf(raw: dict, configs: Configs):
    cost = CostModel(validate_scenario(raw))
    return cost, performance(cost, configs)


def test_catalog_architectures_match_their_published_counts():
    """Parameters derived from each catalog shape agree with the row's count (the sources'
    own shape-based count, or the model card's) and the KV bytes with the sources' column."""
    table = load_catalog().llm_architectures
    assert len(table) >= 10
    for name, row in table.iterrows():
        arch = architecture(name)
        total, _ = arch.derived_params()
        assert total == pytest.approx(row.params_total, rel=1e-3), name  # biases left out
        assert arch.kv_bytes_per_token(2.0) == row.kv_cache_bytes_per_token_fp16, name
    mixtral = architecture("Mixtral-8x7B-Instruct-v0.1")
    assert mixtral.active == pytest.approx(12_879_925_248, rel=1e-12)  # published active
    assert mixtral.derived_params()[1] == pytest.approx(12_879_925_248, rel=5e-4)


def test_prefill_and_decode_by_hand():
    """Llama-2-7B fp16 on one H100 (989.5 TFLOPS, 3,350 GB/s), 8 sequences, 512 in / 128 out,
    efficiencies 0.5 / 0.8, 0.5 ms step overhead: every figure worked out by hand."""
    params = 6_738_415_616
    weights = 2 * params  # bytes at fp16
    kv = 2 * 32 * 32 * 128 * 2  # K and V x layers x kv heads x head dim x 2 bytes
    assert kv == 524_288
    compute, memory = 989.5e12 * 0.5, 3350e9 * 0.8
    context = 512 + 128 / 2
    decode_flops = 2 * params + 4 * 32 * 4096 * context
    step = max(8 * decode_flops / compute, (weights + 8 * context * kv) / memory) + 0.5e-3
    assert step == pytest.approx(6.430131e-3, rel=1e-6)  # memory-bound: 15.89 GB / 2.68 TB/s
    prefill = (2 * params * 512 + 2 * 32 * 4096 * 512**2) / compute
    assert prefill == pytest.approx(1.408562e-2, rel=1e-6)
    times = engine_times(
        architecture("Llama-2-7B"),
        weight_bytes_per_param=2.0,
        kv_bytes_per_element=2.0,
        peak_flops=989.5e12,
        bandwidth=3350e9,
        link_bytes_s=450e9,
        tp=1,
        concurrency=8,
        input_tokens=512,
        output_tokens=128,
        prefix_hit=0.0,
        compute_efficiency=0.5,
        memory_efficiency=0.8,
        step_overhead_s=0.5e-3,
        allreduce_latency_s=10e-6,
    )
    assert times.step_s == pytest.approx(step, rel=1e-12)
    assert times.prefill_s == pytest.approx(prefill, rel=1e-12)
    assert times.throughput_rps == pytest.approx(8 / (8 * prefill + 128 * step), rel=1e-12)
    assert times.tpot_s == pytest.approx(step + 8 * prefill / 128, rel=1e-12)
    assert times.ttft_s == pytest.approx(max(prefill, weights / memory) + step, rel=1e-12)
    assert times.device_gb == pytest.approx((weights + 8 * 640 * kv) / 1e9, rel=1e-12)

    # the same point through the option grid's performance table (p5.4xlarge: one H100)
    raw = _llm_scenario({"output_tokens": {"mean": 128, "p99": 201}})
    raw["options"] = {
        "llm_compute_efficiency": 0.5,
        "llm_memory_efficiency": 0.8,
        "service_cv": 0.0,  # the service time of the tokens alone
    }
    cost, perf = _perf(raw, Configs.of([8], [1], [True]))
    h = cost.space.instances.index("p5.4xlarge")
    c = cost.space.precisions.index("fp16")
    assert perf.reason[0, h, c, 0] == Reason.OK
    assert perf.throughput_qps[0, h, c, 0] == pytest.approx(times.throughput_rps, rel=1e-12)
    assert perf.tpot_ms[0, h, c, 0] == pytest.approx(times.tpot_s * 1e3, rel=1e-12)
    assert perf.decode_ms[0, h, c, 0] == pytest.approx(200 * times.tpot_s * 1e3, rel=1e-12)
    # p99 = TTFT (M/M/c over 8 sequence slots) + (p99 output tokens - 1) x TPOT
    p99, ttft = perf.latency_ms(
        (np.array([0]), np.array([h]), np.array([c]), np.array([0])), 1.0, np.array([1e-9])
    )
    assert ttft[0] == pytest.approx(times.ttft_s * 1e3, rel=1e-9)
    assert p99[0] == pytest.approx(ttft[0] + 200 * times.tpot_s * 1e3, rel=1e-12)
    # with service times varying at CV 0.35 (lognormal), TTFT and decode each at their p99
    raw["options"]["service_cv"] = 0.35
    _, varied = _perf(raw, Configs.of([8], [1], [True]))
    s2 = math.log(1 + 0.35**2)
    noise = math.exp(2.3263478740408408 * math.sqrt(s2) - s2 / 2)  # z_0.99 = 2.32635
    p99_varied, ttft_varied = varied.latency_ms(
        (np.array([0]), np.array([h]), np.array([c]), np.array([0])), 1.0, np.array([1e-9])
    )
    assert ttft_varied[0] == pytest.approx(ttft[0] * noise, rel=1e-9)
    assert p99_varied[0] == pytest.approx(p99[0] * noise, rel=1e-9)


def test_tensor_parallel_scales_monotonically():
    """Llama-2-70B fp16 on p5.48xlarge (8 x H100): a higher TP degree gives a faster step and
    a shorter TPOT, and never more throughput per instance (fewer engines, more all-reduce)."""
    raw = _llm_scenario({"architecture": "Llama-2-70B"})
    configs = Configs.of([16] * 3, [2, 4, 8], [True] * 3)
    cost, perf = _perf(raw, configs)
    h = cost.space.instances.index("p5.48xlarge")
    c = cost.space.precisions.index("fp16")
    assert list(configs.tp) == [2, 4, 8]
    assert (perf.reason[0, h, c] == Reason.OK).all()
    tpot = perf.tpot_ms[0, h, c]
    throughput = perf.throughput_qps[0, h, c]
    assert np.all(np.diff(tpot) < 0)
    assert np.all(np.diff(throughput) < 0)
    assert list(perf.slots[0, h, c]) == [4 * 16, 2 * 16, 1 * 16]  # engines x sequences
    # TP 1 cannot hold 138 GB of weights on one 80 GB device
    _, alone = _perf(raw, Configs.of([16], [1], [True]))
    assert alone.reason[0, h, c, 0] == Reason.OUT_OF_MEMORY


def test_fp8_doubles_the_concurrent_batch_where_the_cache_binds():
    """Llama-2-7B (no GQA: 0.5 MB of cache per token at 16 bits) with 1,024 + 1,024 tokens on
    one H100: the cache bounds the batch; fp8 halves each sequence's cache (and the weights),
    so the largest batch that fits doubles on the power-of-two grid."""
    raw = _llm_scenario({"input_tokens": {"mean": 1024}, "output_tokens": {"mean": 1024}})
    sizes = [8, 16, 32, 64, 128]
    cost, perf = _perf(raw, Configs.of(sizes, [1] * 5, [True] * 5))
    h = cost.space.instances.index("p5.4xlarge")
    largest = {}
    for precision in ("fp16", "fp8"):
        c = cost.space.precisions.index(precision)
        fits = perf.reason[0, h, c] != Reason.OUT_OF_MEMORY
        largest[precision] = max(s for s, ok in zip(sizes, fits, strict=True) if ok)
        weights = 6_738_415_616 * {"fp16": 2, "fp8": 1}[precision] / 1e9
        per_sequence = (perf.device_gb[0, h, c, 1] - weights) / 16  # 16 sequences
        assert per_sequence == pytest.approx(
            2048 * 524_288 / {"fp16": 1, "fp8": 2}[precision] / 1e9
        )
    assert largest == {"fp16": 32, "fp8": 64}
    # by hand: 0.9 x (80 - 13.48) GB / 1.074 GB = 55.7 sequences at fp16; 122.8 at fp8
    assert 0.9 * (80 - 13.477) / 1.073741824 == pytest.approx(55.76, abs=0.01)


def test_estimate_within_half_and_double_of_every_published_measurement():
    table = comparison()
    assert len(table) >= 8
    assert table.ratio.between(0.5, 2.0).all(), table[~table.ratio.between(0.5, 2.0)]
    assert 0.8 <= table.ratio.median() <= 1.25


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda m: m["llm"].update(input_tokens={"mean": 0}),
            r"models\[chat\]\.llm\.input_tokens\.mean must be >= 1, got 0",
        ),
        (
            lambda m: m["llm"].update(
                architecture=None,
                shape={
                    "layers": 2,
                    "hidden": 64,
                    "heads": 8,
                    "kv_heads": 3,
                    "head_dim": 8,
                    "vocab": 100,
                    "intermediate": 128,
                },
            ),
            r"models\[chat\]\.llm\.shape\.kv_heads must divide heads \(8\), got 3",
        ),
        (
            lambda m: m.update(
                allowed_instances=["p5.4xlarge"], llm={**m["llm"], "tensor_parallel": [8]}
            ),
            r"models\[chat\]\.llm\.tensor_parallel must not exceed the accelerators of every "
            r"allowed instance \(at most 1\), got \[8\]",
        ),
        (
            lambda m: m.pop("llm"),
            r"models\[chat\]\.llm\.input_tokens and models\[chat\]\.llm\.output_tokens are "
            r"required for kind 'llm'",
        ),
        (
            lambda m: m.update(kind=None, llm=None, params_million=7000),
            r"models\[chat\] has 7,000 M parameters, which marks it as an LLM",
        ),
        (
            lambda m: m["llm"].update(tpot_p99_ms=None),
            r"models\[chat\]\.latency_slo_ms \(end-to-end p99\) is required for an LLM",
        ),
        (
            lambda m: m["llm"].update(architecture="Llama-9-7B"),
            r"models\[chat\]\.llm\.architecture must name a known LLM architecture",
        ),
    ],
    ids=["tokens", "kv-heads", "tp", "no-tokens", "big-model", "no-e2e", "architecture"],
)
def test_bad_llm_input_names_field_rule_and_value(change, message, tmp_path):
    raw = _llm_scenario()
    change(raw["models"][0])
    raw["models"][0] = {k: v for k, v in raw["models"][0].items() if v is not None}
    with pytest.raises(ScenarioError, match=message):
        validate_scenario(raw)
    path = tmp_path / "bad.yaml"
    path.write_text(json.dumps(raw))
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 1
    assert "Traceback" not in result.output


def test_deployment_tensor_parallel_beyond_the_instance_is_refused():
    raw = _llm_scenario()
    raw["baseline_deployment"] = {
        "models": {"chat": {"instance": "p5.4xlarge", "replicas": 1, "tensor_parallel": 8}}
    }
    with pytest.raises(
        ScenarioError,
        match=r"models\[chat\]\.tensor_parallel must be <= the 1 accelerators of p5\.4xlarge, "
        r"got 8",
    ):
        validate_scenario(raw)


@pytest.mark.parametrize("backend", BACKENDS)
def test_llm_solve_reports_tokens_costs_and_its_estimates(backend):
    scn = validate_scenario(_llm_scenario())
    result = solve(scn, backend=backend).raise_for_status()
    (row,) = result.llm.itertuples()
    models = result.plan.models.set_index("model")
    cost = models.loc[
        "chat",
        ["compute_per_day", "model_storage_per_day", "compression_per_day", "people_per_day"],
    ].sum()
    requests = 200_000
    assert row.input_tokens_per_day == requests * 512
    assert row.output_tokens_per_day == requests * 128
    assert row.cost_per_day == pytest.approx(cost, rel=1e-12)
    both = (
        row.per_1m_input_tokens * 512 * requests / 1e6
        + row.per_1m_output_tokens * 128 * requests / 1e6
    )
    assert both == pytest.approx(cost, rel=1e-9)  # the split adds back up
    assert row.per_1k_queries == pytest.approx(cost / 200, rel=1e-12)
    assert row.ttft_p99_ms <= 2000
    assert row.tpot_ms <= 100
    assert any("chat: prefill and decode times estimated" in line for line in result.estimates)
    # the audit recomputed TTFT/TPOT and checked them as limits
    names = {limit.name for limit in result.limits}
    assert {"ttft_p99_max[chat]", "tpot_p99_max[chat]", "latency_p99_max[chat]"} <= names


def test_cli_prints_the_llm_table_and_strict_json(tmp_path):
    path = tmp_path / "chat.yaml"
    path.write_text(json.dumps(_llm_scenario()))
    result = runner.invoke(app, ["solve", str(path)])
    assert result.exit_code == 0, result.output
    assert "LLM serving (tokens)" in result.output
    assert "estimate: chat: prefill and decode times estimated" in result.output
    result = runner.invoke(app, ["solve", str(path), "--json"])
    assert result.exit_code == 0, result.output

    def refuse(value):
        raise ValueError(f"non-standard JSON constant {value}")

    doc = json.loads(result.stdout, parse_constant=refuse)
    assert doc["llm"][0]["model"] == "chat"
    assert doc["estimates"]


def test_tpot_out_of_reach_is_explained():
    scn = validate_scenario(_llm_scenario({"tpot_p99_ms": 0.5}))
    result = solve(scn)
    assert result.status.value == "infeasible"
    text = " ".join(result.explanation)
    assert "TPOT p99 <= 0.5 ms" in text
    assert "the fastest decode gives TPOT" in text


def _llm_crosscheck(seeds) -> tuple[list, int]:
    """Every MILP backend against exhaustive enumeration on random small LLM scenarios; the
    mismatches and how many optima deploy the LLM."""
    truths: dict = {}
    mismatches, _ = crosscheck(seeds, random_llm_scenario, truths)
    with_llm = sum(bool(truth.ok and len(truth.llm)) for truth in truths.values())
    return mismatches, with_llm


def test_random_llm_scenarios_milp_equals_exhaustive_quick():
    mismatches, with_llm = _llm_crosscheck(range(6))
    assert mismatches == []
    assert with_llm >= 4  # most solutions deploy the LLM (not a fusion subset without it)


@pytest.mark.slow
@pytest.mark.parametrize("first", range(100, 250, 50))  # 150 scenarios, in parallel parts
def test_random_llm_scenarios_milp_equals_exhaustive(first):
    mismatches, with_llm = _llm_crosscheck(range(first, first + 50))
    assert mismatches == []
    print("with_llm", first, with_llm)
    assert with_llm >= 30


def _per_million_tokens(raw: dict) -> float:
    """The whole deployment's daily cost per million LLM output tokens (inf: infeasible)."""
    result = solve(validate_scenario(raw), runner_ups=False)
    if not result.ok:
        return math.inf
    spec = raw["models"][0]["llm"]
    tokens = raw["workload"]["queries_per_day"] * spec["output_tokens"]["mean"]
    return result.objective_per_day / (tokens / 1e6)


@pytest.mark.slow
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 60), rho=st.floats(0.5, 0.85), raise_by=st.floats(0.0, 0.14))
def test_cost_per_token_falls_as_the_utilisation_ceiling_rises(seed, rho, raise_by):
    raw = random_llm_scenario(seed)
    raw["constraints"]["utilisation_max"] = rho
    higher = copy.deepcopy(raw)
    higher["constraints"]["utilisation_max"] = rho + raise_by
    assert _per_million_tokens(higher) <= _per_million_tokens(raw) * (1 + 1e-9)


@pytest.mark.slow
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 60),
    limit=st.sampled_from(["ttft_p99_ms", "tpot_p99_ms"]),
    factor=st.floats(0.2, 1.0),
)
def test_cost_per_token_rises_as_an_slo_tightens(seed, limit, factor):
    raw = random_llm_scenario(seed)
    tight = copy.deepcopy(raw)
    tight["models"][0]["llm"][limit] *= factor
    assert _per_million_tokens(tight) >= _per_million_tokens(raw) * (1 - 1e-9)


@pytest.mark.slow
def test_export_carries_the_llm_configuration_and_token_costs(tmp_path):
    import yaml

    path = tmp_path / "chat.yaml"
    path.write_text(json.dumps(_llm_scenario()))
    result = runner.invoke(app, ["export", str(path), "--out", str(tmp_path / "out"), "--template"])
    assert result.exit_code == 0, result.output
    doc = yaml.safe_load((tmp_path / "out" / "recommended.yaml").read_text())
    entry = doc["deployment"]["models"]["chat"]
    solved = solve(validate_scenario(_llm_scenario()), runner_ups=False).llm.iloc[0]
    assert entry["tensor_parallel"] == solved.tensor_parallel
    assert entry["sequences_per_engine"] == solved.sequences_per_engine
    assert entry["cost_per_1m_output_tokens"] == pytest.approx(solved.per_1m_output_tokens)
    assert entry["tpot_ms"] == pytest.approx(solved.tpot_ms)
    assert entry["performance_basis"] == "estimate"
    assert any(line.startswith("chat: prefill and decode") for line in doc["estimates"])
    (deployment,) = [
        d
        for d in yaml.safe_load_all((tmp_path / "out" / "k8s" / "chat.yaml").read_text())
        if d["kind"] == "Deployment"
    ]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/health"  # vLLM's
    env = {
        e["name"]: e["value"]
        for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert env["TENSOR_PARALLEL_SIZE"] == str(entry["tensor_parallel"])
    assert env["MAX_NUM_SEQS"] == str(entry["sequences_per_engine"])


def test_fleet_sizes_an_llm_by_its_capacity_at_the_token_limits():
    """In a fleet, an LLM instance's capacity is the largest rate at which one instance
    (engines x sequences slots) meets TTFT, TPOT and the end-to-end limit: at that rate the
    recomputed figures sit on a limit, and both MILP backends agree."""
    from deploycost.optimize.solve import solve
    from deploycost.options.capacity import fleet_options

    raw = _llm_scenario()
    raw["fleet"] = {"plans": ["on_demand", "reserved_1yr", "spot"]}
    raw["options"] = {"autoscale": True}
    scn = validate_scenario(raw)
    results = {b: solve(scn, backend=b) for b in ("scipy-highs", "pulp-cbc")}
    assert results["pulp-cbc"].objective_per_day == pytest.approx(
        results["scipy-highs"].objective_per_day, rel=1e-6
    )
    result = results["scipy-highs"]
    assert result.plan.audit.problems == ()
    (used,) = result.plan.shares[result.plan.shares["mode"] >= 0].itertuples()
    fleet = fleet_options(CostModel(scn))
    modes = fleet.modes
    (mode,) = modes[
        (modes.instance == used.instance)
        & (modes.precision == used.precision)
        & (modes.batch == used.batch)
    ].itertuples()
    at = tuple(
        np.array([int(v)]) for v in (0, mode.instance_idx, mode.precision_idx, mode.config_idx)
    )

    def meets(rate: float) -> bool:
        p99, ttft = fleet.perf.latency_ms(at, 1.0, np.array([rate]))
        return bool(fleet.perf.meets(at[0], p99, ttft)[0])

    assert meets(mode.cap_qps)
    # the capacity is the utilisation ceiling, or the rate where a latency limit binds
    ceiling = scn.constraints.utilisation_max * mode.throughput_qps
    assert mode.cap_qps == pytest.approx(ceiling, rel=1e-9) or not meets(mode.cap_qps * 1.001)
    tight = copy.deepcopy(raw)
    tight["models"][0]["llm"]["ttft_p99_ms"] = 150  # now the queue for a slot binds
    scn = validate_scenario(tight)
    fleet = fleet_options(CostModel(scn))
    binding = fleet.modes[fleet.modes.cap_qps < 0.999 * 0.8 * fleet.modes.throughput_qps]
    assert len(binding)
    for row in binding.itertuples():
        at = tuple(
            np.array([int(v)]) for v in (0, row.instance_idx, row.precision_idx, row.config_idx)
        )
        assert meets(row.cap_qps)
        assert not meets(row.cap_qps * 1.001)


def test_report_shows_the_llm_table_and_the_estimates():
    from deploycost.outputs.report import build_report, render_markdown

    scn = validate_scenario(_llm_scenario())
    result = solve(scn, runner_ups=False)
    report = build_report(scn, result)
    titles = [title for title, _, _ in report.sections]
    assert "LLM serving in tokens" in titles
    assert "Estimates and defaults the answer rests on" in titles
    text = render_markdown(report, "files")
    assert f"{result.llm.per_1m_output_tokens.iloc[0]:,.4g}" in text
    assert "- estimate: chat: prefill and decode times estimated" in text


def test_a_fleet_s_llm_figures_are_its_own_and_add_up_to_its_cost(tmp_path):
    """One LLM on a fleet of the 12-device inf2.48xlarge only: its row says TTFT and TPOT
    at the per-instance capacity (recomputed from the performance table), tokens a day =
    queries x tokens per request, the row's cost is the whole fleet's (the only model: no
    data, people or fusion) and splits into the input and output token prices; the
    recommended file carries the same figures; the pod runs the 12 engines it was costed
    with (12 devices / tensor parallel 1) and asks for the memory the model holds."""
    from typer.testing import CliRunner

    from deploycost.cli.app import app
    from deploycost.optimize.solve import solve
    from deploycost.options.capacity import fleet_options
    from deploycost.outputs.export import recommendation
    from deploycost.outputs.fleet_export import fleet_manifests

    raw = _llm_scenario({"tensor_parallel": [1]}, allowed_instances=["inf2.48xlarge"])
    raw["fleet"] = {"plans": ["on_demand"]}
    scn = validate_scenario(raw)
    result = solve(scn).raise_for_status()
    (row,) = result.llm.itertuples()
    assert (row.model, row.instance, row.share, row.tensor_parallel) == (
        "chat",
        "inf2.48xlarge",
        1.0,
        1,
    )
    assert row.input_tokens_per_day == pytest.approx(200_000 * 512, rel=1e-9)
    assert row.output_tokens_per_day == pytest.approx(200_000 * 128, rel=1e-9)
    assert row.cost_per_day == pytest.approx(result.objective_per_day, rel=1e-9)
    paid = row.per_1m_input_tokens * 102.4 + row.per_1m_output_tokens * 25.6
    assert paid == pytest.approx(row.cost_per_day, rel=1e-9)
    fleet = fleet_options(CostModel(scn))
    (used,) = result.plan.shares.itertuples()
    mode = fleet.modes.iloc[int(used.mode)]
    at = tuple(
        np.array([int(v)]) for v in (0, mode.instance_idx, mode.precision_idx, mode.config_idx)
    )
    _, ttft = fleet.perf.latency_ms(at, 1.0, np.array([mode.cap_qps]))
    assert row.ttft_p99_ms == pytest.approx(float(ttft[0]), rel=1e-9)
    assert row.tpot_ms == pytest.approx(float(fleet.perf.tpot_ms[at][0]), rel=1e-12)
    (entry,) = recommendation(scn, result)["models"]["chat"]["runs_on"]
    assert entry["engines_per_instance"] == 12
    assert entry["ttft_p99_ms"] == pytest.approx(row.ttft_p99_ms)
    assert entry["cost_per_1m_output_tokens"] == pytest.approx(row.per_1m_output_tokens)
    (docs,) = fleet_manifests(scn, result).values()
    (container,) = next(d for d in docs if d["kind"] == "Deployment")["spec"]["template"]["spec"][
        "containers"
    ]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert (env["ENGINES_PER_POD"], env["TENSOR_PARALLEL_SIZE"]) == ("12", "1")
    assert container["resources"]["requests"]["aws.amazon.com/neuron"] == "12"
    gib = float(container["resources"]["requests"]["memory"].removesuffix("Gi"))
    assert gib >= used.host_gb / 1.073741824  # the host memory the model holds, in GiB
    path = tmp_path / "fleet.yaml"
    path.write_text(json.dumps(raw))
    printed = CliRunner().invoke(app, ["solve", str(path)], env={"COLUMNS": "100"})
    assert printed.exit_code == 0, printed.output
    assert "TTFT p99" in printed.output  # the header may wrap at the console width
    assert "chat @" in printed.output


def test_a_heavy_tail_of_output_lengths_lengthens_the_wait_for_a_slot():
    """Outputs of mean 100 and p99 800 tokens: the lognormal through them has
    sigma = z - sqrt(z^2 - 2 ln 8) = 1.2066, so a request's time in its slot has
    CV^2 = exp(sigma^2) - 1 = 3.29 (service_cv 0): the M/M/c slot wait times
    (1 + 3.29) / 2; outputs of p99 200 (CV^2 0.27) keep the M/M/c wait (at least 1)."""
    from deploycost.options.latency import slot_wait_ms

    z = 2.3263478740408408
    sigma = z - math.sqrt(z * z - 2 * math.log(8))
    heavy = _llm_scenario({"output_tokens": {"mean": 100, "p99": 800}})
    heavy["options"] = {"service_cv": 0.0}
    _, perf = _perf(heavy, Configs.of([8], [1], [True]))
    assert perf.slot_cs2[0] == pytest.approx(math.exp(sigma**2) - 1, rel=1e-9)
    assert perf.slot_cs2[0] == pytest.approx(3.29, abs=0.01)
    light = _llm_scenario({"output_tokens": {"mean": 100, "p99": 200}})
    light["options"] = {"service_cv": 0.0}
    assert _perf(light, Configs.of([8], [1], [True]))[1].slot_cs2[0] == 1.0
    args = (np.array(8.0), np.array(2.0), np.array(30.0), np.array(20.0), "random")
    base = slot_wait_ms(*args)
    assert float(base) > 0
    assert float(slot_wait_ms(*args, perf.slot_cs2[0])) == pytest.approx(
        float(base) * (1 + perf.slot_cs2[0]) / 2, rel=1e-12
    )
