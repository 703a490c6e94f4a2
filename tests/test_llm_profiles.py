"""Measured LLM token profiles: import from vLLM and MLPerf result files, calibration of
the estimate onto them (own point reproduced exactly, least squares over several)."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from deploycost.cli.app import app
from deploycost.cost.model import CostModel
from deploycost.errors import ScenarioError
from deploycost.optimize.solve import solve
from deploycost.options.performance import Configs, Reason, performance
from deploycost.scenario.profile_import import read_result
from deploycost.scenario.schema import validate_scenario

runner = CliRunner()

# the keys vLLM's benchmark_serving.py --save-result writes (values made up for the test)
VLLM_RESULT = {
    "date": "20261129-120000",
    "backend": "vllm",
    "model_id": "meta-llama/Llama-2-7b-hf",
    "num_prompts": 400,
    "request_rate": "inf",
    "max_concurrency": 32,
    "duration": 80.0,
    "completed": 400,
    "total_input_tokens": 400 * 512,
    "total_output_tokens": 400 * 128,
    "request_throughput": 5.0,
    "output_throughput": 640.0,
    "total_token_throughput": 3200.0,
    "mean_ttft_ms": 90.0,
    "median_ttft_ms": 80.0,
    "p99_ttft_ms": 250.0,
    "mean_tpot_ms": 40.0,
    "median_tpot_ms": 39.0,
    "p99_tpot_ms": 48.0,
}

# LoadGen's summary layout (Server scenario), figures made up for the test
MLPERF_SUMMARY = """================================================
MLPerf Results Summary
================================================
SUT name : PySUT
Scenario : Server
Mode     : PerformanceOnly
Scheduled samples per second : 20.10
Completed samples per second : 20.00
Completed tokens per second: 5120.00
Result is : VALID
  Performance constraints satisfied : Yes
  Min duration satisfied : Yes
  Min queries satisfied : Yes
  Early stopping satisfied: Yes

================================================
Additional Stats
================================================
Min latency (ns)                : 500000000
Mean latency (ns)               : 6400000000
99.00 percentile latency (ns)   : 15000000000
Mean First Token latency (ns)               : 200000000
99.00 percentile first token latency (ns)   : 900000000
Mean Time to Output Token (ns)               : 30000000
99.00 percentile time to output token (ns)   : 45000000

================================================
Test Parameters Used
================================================
samples_per_query : 1
target_qps : 20
ttft_latency (ns): 2000000000
tpot_latency (ns): 200000000
"""


def _scenario(profiles=(), hit=0.0, **options) -> dict:
    return {
        "currency": "USD",
        "workload": {"queries_per_day": 100_000, "peak_to_mean": 2.0},
        "models": [
            {
                "name": "chat",
                "kind": "llm",
                "quality": 0.5,
                "llm": {
                    "architecture": "Llama-2-7B",
                    "input_tokens": {"mean": 512},
                    "output_tokens": {"mean": 128},
                    "prefix_cache_hit_rate": hit,
                    "ttft_p99_ms": 5000,
                    "tpot_p99_ms": 200,
                    "profiles": list(profiles),
                },
            }
        ],
        "catalog": {"regions": ["us-east-1"]},
        "options": options,
    }


def _import(*args: str):
    """``deploycost profile import`` with ``args``."""
    return runner.invoke(app, ["profile", "import", *args])


def _files(tmp_path):
    vllm = tmp_path / "vllm.json"
    vllm.write_text(json.dumps(VLLM_RESULT))
    mlperf = tmp_path / "mlperf_log_summary.txt"
    mlperf.write_text(MLPERF_SUMMARY)
    return vllm, mlperf


def test_vllm_result_reads_per_request_means_and_p99s(tmp_path):
    vllm, _ = _files(tmp_path)
    got = read_result(vllm)
    assert got.format == "vllm"
    assert got.input_tokens == 512
    assert got.output_tokens == 128
    assert got.output_tokens_per_s == 640.0
    assert got.concurrency == 32
    assert (got.tpot_ms, got.ttft_ms) == (48.0, 250.0)


def test_mlperf_summary_reads_tokens_latencies_and_littles_law(tmp_path):
    _, mlperf = _files(tmp_path)
    got = read_result(mlperf)
    assert got.format == "mlperf"
    assert got.output_tokens == pytest.approx(5120 / 20)  # tokens per sample
    assert got.output_tokens_per_s == 5120.0
    assert got.concurrency == pytest.approx(20.0 * 6.4)  # samples/s x mean latency
    assert got.ttft_ms == pytest.approx(900.0)
    assert got.tpot_ms == pytest.approx(45.0)
    assert got.input_tokens is None


def test_failed_or_invalid_runs_are_refused(tmp_path):
    failed = tmp_path / "failed.json"
    failed.write_text(json.dumps({**VLLM_RESULT, "completed": 0}))
    with pytest.raises(ScenarioError, match=r"completed must be > 0 .* got 0"):
        read_result(failed)
    invalid = tmp_path / "invalid.txt"
    invalid.write_text(MLPERF_SUMMARY.replace("Result is : VALID", "Result is : INVALID"))
    with pytest.raises(ScenarioError, match=r"Result is must be VALID .* got INVALID"):
        read_result(invalid)
    other = tmp_path / "other.txt"
    other.write_text("hello")
    with pytest.raises(ScenarioError, match=r"must be a vLLM benchmark_serving.py JSON result"):
        read_result(other)
    scenario = tmp_path / "s.yaml"
    scenario.write_text(json.dumps(_scenario()))
    result = _import(
        str(failed), "--model", "chat", "--instance", "g5.xlarge", "--scenario", str(scenario)
    )
    assert result.exit_code == 1
    assert "completed must be > 0" in result.output
    assert "Traceback" not in result.output


def test_import_prints_profiles_the_scenario_accepts(tmp_path):
    vllm, mlperf = _files(tmp_path)
    scenario = tmp_path / "s.yaml"
    scenario.write_text(json.dumps(_scenario()))
    result = _import(
        str(vllm), "--model", "chat", "--instance", "g5.xlarge", "--scenario", str(scenario)
    )
    assert result.exit_code == 0, result.output
    rows = yaml.safe_load(result.output.split("fit of")[0])
    assert rows[0]["output_tokens_per_s"] == 640.0
    assert rows[0]["concurrency"] == 32
    assert "fit residual 0.00% over 1 point(s)" in result.output
    # MLPerf: 8 x H100 system, TP 1 on p5.48xlarge: per engine 5120 / 8 tok/s, 16 sequences
    result = _import(
        str(mlperf),
        "--model",
        "chat",
        "--instance",
        "p5.48xlarge",
        "--input-tokens",
        "512",
        "--scenario",
        str(scenario),
    )
    assert result.exit_code == 0, result.output
    (row,) = yaml.safe_load(result.output.split("fit of")[0])
    assert row["output_tokens_per_s"] == pytest.approx(640.0)
    assert row["concurrency"] == 16
    validate_scenario(_scenario(profiles=[row]))  # the printed rows are valid input
    missing = _import(
        str(mlperf), "--model", "chat", "--instance", "p5.48xlarge", "--scenario", str(scenario)
    )
    assert missing.exit_code == 1
    assert "--input-tokens is required" in missing.output


def _point(profile_seqs=32, throughput=640.0, tpot=48.0, ttft=250.0):
    return {
        "instance": "g5.xlarge",
        "precision": "fp16",
        "concurrency": profile_seqs,
        "input_tokens": 512,
        "output_tokens": 128,
        "output_tokens_per_s": throughput,
        "tpot_ms": tpot,
        "ttft_ms": ttft,
    }


def test_a_measured_profile_reproduces_its_own_point_exactly():
    cost = CostModel(validate_scenario(_scenario([_point()])))
    perf = performance(cost, Configs.of([32, 64], [1, 1], [True, True]))
    h = cost.space.instances.index("g5.xlarge")
    c = cost.space.precisions.index("fp16")
    assert perf.throughput_qps[0, h, c, 0] * 128 == pytest.approx(640.0, rel=1e-12)
    assert perf.tpot_ms[0, h, c, 0] == pytest.approx(48.0, rel=1e-12)
    assert perf.ttft_ms[0, h, c, 0] == pytest.approx(250.0, rel=1e-12)
    assert perf.profiled[0, h, c].all()
    # other instances have no profile: measured-only by default, as for per-request models
    other = cost.space.instances.index("g6.xlarge")
    assert perf.reason[0, other, c, 0] == Reason.NO_PROFILE
    fit = perf.calibration[(0, h, c, 1)]
    assert fit.points == 1
    assert fit.residual == 0.0


def test_several_points_fit_by_least_squares_with_the_residual():
    """Two points whose measured/estimate ratios are r1 and r2: the fitted factor is their
    geometric mean and the residual sqrt(r1/r2) - 1 (each point off by the same log)."""
    base = CostModel(validate_scenario(_scenario()))
    configs = Configs.of([16, 64], [1, 1], [True, True])
    est = performance(base, configs)
    h = base.space.instances.index("g5.xlarge")
    c = base.space.precisions.index("fp16")
    estimate = est.throughput_qps[0, h, c] * 128  # tok/s at 16 and 64 sequences
    measured = estimate * np.array([0.8, 0.5])
    points = [_point(16, measured[0], None, None), _point(64, measured[1], None, None)]
    for p in points:
        p.pop("tpot_ms")
        p.pop("ttft_ms")
    cost = CostModel(validate_scenario(_scenario(points)))
    perf = performance(cost, configs)
    fit = perf.calibration[(0, h, c, 1)]
    assert fit.time_scale == pytest.approx(1 / np.sqrt(0.8 * 0.5), rel=1e-12)
    assert fit.residual == pytest.approx(np.sqrt(0.8 / 0.5) - 1, rel=1e-9)
    calibrated = perf.throughput_qps[0, h, c] * 128
    assert calibrated == pytest.approx(estimate * np.sqrt(0.8 * 0.5), rel=1e-12)


def test_solve_on_a_profile_says_measured():
    raw = _scenario([_point(16)], llm_concurrency=[16])
    result = solve(validate_scenario(raw)).raise_for_status()
    assert result.llm.basis.iloc[0] == "measured (1 points, fit residual 0.0%)"
    assert not any(line.startswith("chat:") for line in result.estimates)
    assert result.plan.models.instance.iloc[0] == "g5.xlarge"


def test_memory_explanation_names_the_measured_instance():
    """32 sequences of Llama-2-7B at fp16 do not fit the only measured instance (g5.xlarge,
    one 24 GB A10G): the explanation names it, not an unmeasured 8-GPU instance."""
    raw = _scenario([_point()], llm_concurrency=[32])
    result = solve(validate_scenario(raw))
    assert result.status.value == "infeasible"
    text = " ".join(result.explanation)
    assert "no instance holds the weights and KV cache" in text
    assert "the largest allowed, measured instance, g5.xlarge, offers 24 GB" in text


def _import_for_chat(tmp_path, path, *options: str):
    """``profile import`` of ``path`` for the chat model of ``_scenario()`` on g5.xlarge."""
    scenario = tmp_path / "s.yaml"
    scenario.write_text(json.dumps(_scenario()))
    args = ["--model", "chat", "--instance", "g5.xlarge", "--scenario", str(scenario)]
    return _import(str(path), *args, *options)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (
            json.dumps(VLLM_RESULT).replace("640.0", "Infinity"),
            "output_throughput must be a finite",
        ),
        (json.dumps(VLLM_RESULT).replace("640.0", "1e308"), "output_throughput must be a finite"),
        (json.dumps(VLLM_RESULT).replace("640.0", "NaN"), "output_throughput must be a finite"),
        (
            json.dumps(VLLM_RESULT).replace("640.0", str(2**63)),
            "output_throughput must be a finite",
        ),
        (
            json.dumps(VLLM_RESULT).replace(
                '"total_input_tokens": 204800', '"total_input_tokens": 5e-324'
            ),
            "total_input_tokens must be >= 1e-06",
        ),
        (json.dumps(VLLM_RESULT).replace("640.0", "9" * 5000), "is not a JSON result"),
        ("[" * 100_000 + "]" * 100_000, "is not a JSON result"),
        (json.dumps({**VLLM_RESULT, "max_concurrency": 0.4}), "0.4 sequences in flight per engine"),
        (MLPERF_SUMMARY.replace("900000000", "nan"), "first token latency (ns) must be a number"),
        (MLPERF_SUMMARY.replace("20.00", "1e400"), "samples per second must be a number"),
    ],
)
def test_hostile_result_files_end_in_an_error_naming_the_field(tmp_path, text, says):
    path = tmp_path / "r.json"
    path.write_text(text)
    result = _import_for_chat(tmp_path, path, "--input-tokens", "512")
    assert result.exit_code == 1, result.output
    assert says in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("option", "value", "says"),
    [
        ("--concurrency", "0", "--concurrency must be a number from 1 to 65536, got 0"),
        ("--concurrency", "-1", "--concurrency must be a number from 1 to 65536, got -1"),
        ("--input-tokens", "nan", "--input-tokens must be a number from 1 to 1e+07, got nan"),
        ("--accelerators", "-8", "--accelerators must be a number from 1 to 1024, got -8"),
    ],
)
def test_import_options_outside_their_range_are_refused(tmp_path, option, value, says):
    vllm, _ = _files(tmp_path)
    result = _import_for_chat(tmp_path, vllm, option, value)
    assert result.exit_code == 1, result.output
    assert says in result.output


def test_a_fifo_is_no_result_file(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(ScenarioError, match="not a regular file"):
        read_result(fifo)
