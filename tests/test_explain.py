"""Every kind of infeasibility is explained in deployment terms, with exit code 2."""

from __future__ import annotations

import json
import re

import pytest
import yaml
from typer.testing import CliRunner

from deploycost.cli.app import app
from deploycost.cli.show import EXIT_INFEASIBLE
from deploycost.optimize.solve import solve
from deploycost.optimize.solvers import BACKENDS, Status
from deploycost.scenario.schema import validate_scenario

from .conftest import hand, p99_by_hand

FASTEST = p99_by_hand(4, 5, 400)  # 4 fast replicas (2 + 2 extra): 5.654 ms

runner = CliRunner()

CASES = {
    "too_slow": (
        hand(models__0__latency_slo_ms=1),
        r"m \(in all-models\): p99 <= 1 ms is out of reach; the fastest option, "
        rf"4 x fast fp32 batch 1, gives {FASTEST:.4g} ms",
    ),
    "out_of_memory": (
        hand(models__0__size_gb=5000.0),
        r"m \(in all-models\): no instance holds the model: the smallest configuration "
        r"needs [\d.]+ GB of accelerator memory; the largest allowed, measured instance, "
        r"\S+, offers [\d.]+ GB",
    ),
    "host_memory": (
        hand(models__0__size_gb=5000.0, models__0__allowed_instances=["cheap"]),
        # a CPU instance holds the model in RAM: 5,000 GB of fp32 weights + the 2 GB host
        # reserve against cheap's 64 GiB (68.72 GB); never "inf GB" or a 0 GB offer
        r"m \(in all-models\): no instance holds the model: the smallest configuration "
        r"needs 5,?002 GB of host memory; the largest allowed, measured instance, cheap, "
        r"offers 68\.72 GB",
    ),
    "cold_start": (
        hand(constraints__max_cold_start_s=0.01),
        # image pull 45 s + runtime start 45 s (defaults) + S3 Standard: 0.05 s to first
        # byte + 1,000 MB at 100 MB/s
        r"cold start <= 0\.01 s is out of reach; the fastest takes 100\.05 s: image pull "
        r"45 s \+ runtime start 45 s \(options\) \+ artifact load 10\.05 s",
    ),
    "over_capacity": (
        hand(options__max_replicas=1),
        r"500 requests/s need more than max_replicas = 1 replicas",
    ),
    "quality_floor": (
        hand(constraints__quality_floor=0.9),
        r"quality floor 0\.9: fusion 'all-models' reaches at most 0\.8 "
        r"\(short by 0\.1\)",
    ),
    "e2e_latency": (
        hand(constraints__e2e_latency_ms=5.5),
        r"end-to-end p99 <= 5.5 ms \(latency_e2e_max\[all-models\], stages ensemble \(m\)\) "
        r"is out of reach for fusion 'all-models': the fastest "
        rf"pipeline meeting the other limits needs {FASTEST:.4g} ms",
    ),
    "quota": (
        hand(models__0__latency_slo_ms=20, constraints__quotas={"fast": 1, "cheap": 5}),
        # demand 500 req/s; the 1 fast instance allowed carries 0.8 x 400 = 320 of it
        r"quota on fast \(1\) is short by 1 instances: the 1 it leaves m carry 320 of 500 "
        r"requests/s at the 80% utilisation ceiling, leaving 180 requests/s unserved",
    ),
    "budget": (
        hand(constraints__budget_per_day=100.0),
        r"the cheapest deployment meeting every other limit costs 216\.00 USD/day, "
        r"116\.00 over the budget of 100\.00",
    ),
    "owned_storage": (
        hand(constraints__owned_storage_gb={"s3-standard": 0.5}),
        r"owned storage s3-standard \(0\.5 GB\) is short by 0\.5 GB",
    ),
}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind", list(CASES))
def test_each_kind_is_explained(kind, backend):
    raw, pattern = CASES[kind]
    result = solve(validate_scenario(raw), backend=backend, runner_ups=False)
    assert result.status == Status.INFEASIBLE
    assert result.plan is None
    text = "\n".join(result.explanation)
    assert re.search(pattern, text), text


@pytest.mark.parametrize("kind", list(CASES))
def test_cli_exit_code_and_no_traceback(kind, tmp_path):
    raw, _ = CASES[kind]
    path = tmp_path / f"{kind}.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    result = runner.invoke(app, ["solve", str(path), "--no-runner-ups"])
    assert result.exit_code == EXIT_INFEASIBLE, result.output
    assert "infeasible: no deployment meets every limit" in result.output
    assert "Traceback" not in result.output
    as_json = runner.invoke(app, ["solve", str(path), "--json", "--no-runner-ups"])
    assert as_json.exit_code == EXIT_INFEASIBLE
    payload = json.loads(as_json.output)
    assert payload["status"] == "infeasible"
    assert payload["explanation"]


def test_the_explanation_is_bounded_by_the_solve_time_limit(monkeypatch):
    from deploycost.cost.model import CostModel
    from deploycost.optimize import explain
    from deploycost.optimize.formulation import build
    from deploycost.optimize.solvers import SolverOptions, SolverOutput, get_backend

    assert explain.explanation_budget_s(SolverOptions(time_limit_s=3.0), 100.0) == 3.0
    assert explain.explanation_budget_s(SolverOptions(), 0.01) == explain.EXPLAIN_MIN_S
    assert explain.explanation_budget_s(SolverOptions(), 2.0) == 40.0
    form = build(CostModel(validate_scenario(CASES["budget"][0])))
    seen = []

    def stopped(status):
        def backend(relaxed, options):
            seen.append(options.time_limit_s)
            if status == Status.NOT_SOLVED:
                return SolverOutput(status, None, None, None, None, options.time_limit_s)
            out = get_backend("scipy-highs")(relaxed, options)
            return SolverOutput(status, out.x, out.objective, None, None, 0.1)

        return backend

    monkeypatch.setattr(explain, "get_backend", lambda name: stopped(Status.NOT_SOLVED))
    lines = explain.explain_infeasible(form, "scipy-highs", SolverOptions(time_limit_s=2.5))
    assert seen == [2.5]
    assert lines == [
        "the explanation did not finish within 2.5 s (pass a larger --time-limit): no "
        "relaxed deployment was found to measure the shortfalls"
    ]
    monkeypatch.setattr(explain, "get_backend", lambda name: stopped(Status.FEASIBLE))
    lines = explain.explain_infeasible(form, "scipy-highs", SolverOptions(), solve_s=1.0)
    assert seen[-1] == 20.0
    assert re.search(CASES["budget"][1], lines[0])
    assert "each is an upper bound" in lines[1]
