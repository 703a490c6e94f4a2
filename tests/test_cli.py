"""The command line: exit codes, no tracebacks, numbers that match the library."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml
from typer.testing import CliRunner

from deploycost.cli.app import app
from deploycost.cost.deployments import from_specs
from deploycost.cost.model import evaluate
from deploycost.scenario.schema import load_scenario

from .conftest import PROBLEMS, ROOT

runner = CliRunner()
SEED = ROOT / "problems" / "seed_example.yaml"


@pytest.mark.parametrize("path", PROBLEMS, ids=lambda p: p.name)
def test_validate_ok(path):
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    assert "valid" in result.output


def test_validate_bad_file_exits_1_without_traceback(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "models:\n  - name: ranker\n    size_gb: 1\n    latency_slo_ms: -5\n", encoding="utf-8"
    )
    result = subprocess.run(
        [sys.executable, "-m", "deploycost", "validate", str(bad)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert "models[ranker].latency_slo_ms must be > 0, got -5" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_validate_missing_file_exits_1():
    result = runner.invoke(app, ["validate", "no/such/file.yaml"])
    assert result.exit_code == 1
    assert "cannot read file" in result.output


def test_validate_with_bad_deployment(tmp_path):
    dep = tmp_path / "dep.yaml"
    dep.write_text(
        "fusion: a-plus-b\nmodels:\n  model-a: {instance: nope, replicas: 1}\n", encoding="utf-8"
    )
    result = runner.invoke(app, ["validate", str(SEED), "--deployment", str(dep)])
    assert result.exit_code == 1
    assert "deployment.models[model-a].instance must name a known instance" in result.output


def test_schema_is_json_with_the_scenario_fields():
    result = runner.invoke(app, ["schema"])
    assert result.exit_code == 0
    schema = json.loads(result.output)
    assert {"models", "workload", "fusion", "constraints"} <= set(schema["properties"])
    assert schema["required"] == ["models"]


@pytest.mark.parametrize("table", ["hardware", "storage", "precision", "compression"])
def test_catalog_tables_print(table):
    result = runner.invoke(app, ["catalog", table])
    assert result.exit_code == 0, result.output
    assert f"catalog: {table}" in result.output


def test_catalog_csv_round_trips():
    result = runner.invoke(app, ["catalog", "hardware", "--csv"])
    assert result.exit_code == 0
    assert result.output.splitlines()[0].startswith("name,instance_type,provider")
    assert "p5.4xlarge" in result.output


def test_catalog_unknown_table():
    result = runner.invoke(app, ["catalog", "gpus"])
    assert result.exit_code == 1
    assert "table must be one of hardware" in result.output


def test_evaluate_json_matches_library():
    result = runner.invoke(app, ["evaluate", str(SEED), "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    scn = load_scenario(SEED)
    expected = evaluate(scn, from_specs(scn, [scn.baseline_deployment])).components().iloc[0]
    for component, value in payload["per_day"].items():
        assert value == pytest.approx(float(expected[component]), rel=1e-12)
    assert payload["per_month"]["total"] == pytest.approx(expected["total"] * 30.4, rel=1e-12)
    assert payload["per_year"]["total"] == pytest.approx(expected["total"] * 365, rel=1e-12)


def test_evaluate_default_scenario_prints_breakdown_and_the_limits_it_breaks():
    """The e-commerce file's hand-sized baseline: 2 coarse-ranker replicas for a peak that
    needs ~17x their capacity at 80 %; priced, then refused with exit 2."""
    result = runner.invoke(app, ["evaluate"])
    assert result.exit_code == 2, result.output
    assert "six-component breakdown" in result.output
    for component in ("data", "model_storage", "compression", "compute", "people", "fusion"):
        assert component in result.output
    assert "violates 3 limit(s) of 16 checked" in result.output
    assert "utilisation_max[coarse-ranker]: 16.9583 fraction violates <= 0.8" in result.output
    assert "latency_p99_max[coarse-ranker]: inf ms violates <= 30" in result.output


def test_evaluate_an_under_provisioned_deployment_exits_2_naming_the_limit(tmp_path):
    """The e-commerce optimum with recall cut from 24 to 2 inf2.xlarge: 8,000 req/s on
    2 x 417 req/s is 9.59x the capacity (utilisation 8000 / 834); the optimum itself meets
    every limit."""
    from deploycost.optimize.solve import solve

    path = ROOT / "problems" / "ecommerce_search_rec.yaml"
    best = solve(load_scenario(path), runner_ups=False).plan.deployment
    good = tmp_path / "good.yaml"
    good.write_text(yaml.safe_dump(best.model_dump(mode="json")), encoding="utf-8")
    ok = runner.invoke(app, ["evaluate", str(path), "--deployment", str(good)])
    assert ok.exit_code == 0, ok.output
    assert "meets every limit (13 checked)" in ok.output
    under = best.model_dump(mode="json")
    under["models"]["recall"]["replicas"] = 2
    bad = tmp_path / "under.yaml"
    bad.write_text(yaml.safe_dump(under), encoding="utf-8")
    result = runner.invoke(app, ["evaluate", str(path), "--deployment", str(bad), "--json"])
    assert result.exit_code == 2
    payload = json.loads(result.stdout)
    assert payload["meets_every_limit"] is False
    assert "utilisation_max[recall]: 9.59233 fraction violates <= 0.8" in payload["violations"]
    row = next(r for r in payload["limits"] if r["limit"] == "utilisation_max[recall]")
    assert row["value"] == pytest.approx(8000 / (2 * 417))
    assert row["met"] is False


def test_evaluate_with_deployment_file(tmp_path):
    dep = tmp_path / "dep.yaml"
    dep.write_text(
        "fusion: a-plus-b\nmodels:\n"
        "  model-a: {instance: seed-compute-hour, replicas: 2, tier: onprem-ssd}\n"
        "  model-b: {instance: seed-compute-hour, replicas: 1}\n",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["evaluate", str(SEED), "--deployment", str(dep), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["per_day"]["compute"] == pytest.approx(3 * 24 * 100)


def test_evaluate_without_deployment_is_an_error(tmp_path):
    scn = tmp_path / "s.yaml"
    scn.write_text("models:\n  - {name: a, size_gb: 1}\n", encoding="utf-8")
    result = runner.invoke(app, ["evaluate", str(scn)])
    assert result.exit_code == 1
    assert "--deployment is required" in result.output


def test_solve_default_scenario_prints_deployment_and_breakdown():
    result = runner.invoke(app, ["solve", "--no-runner-ups"])
    assert result.exit_code == 0, result.output
    assert "ecommerce-search-rec: optimal (scipy-highs)" in result.output
    assert "six-component breakdown" in result.output
    assert "deployment per model" in result.output


def test_solve_json_matches_library_on_each_backend():
    from deploycost.optimize.solve import solve

    scn = load_scenario(SEED)
    expected = solve(scn, runner_ups=False).objective_per_day
    for backend in ("scipy-highs", "pulp-cbc", "exhaustive"):
        result = runner.invoke(app, ["solve", str(SEED), "--backend", backend, "--json"])
        assert result.exit_code == 0, result.output
        payload = json.loads(result.output)
        assert payload["status"] == "optimal"
        assert payload["objective_per_day"] == pytest.approx(expected, rel=1e-9)
        assert {c["component"] for c in payload["components"]} >= {"compute", "total"}


def _console(*args: str) -> subprocess.CompletedProcess:
    """The installed console entry point (``python -m deploycost`` runs the same main)."""
    return subprocess.run(
        [sys.executable, "-m", "deploycost", *args], capture_output=True, text=True, check=False
    )


@pytest.mark.slow
def test_solve_unknown_backend_lists_the_choices_and_exits_1():
    """--backend is a choice: a wrong one is a usage error, which is invalid input (exit 1),
    never the exit code of an infeasible problem (2)."""
    result = _console("solve", str(SEED), "--backend", "cplex")
    assert result.returncode == 1
    assert "'cplex' is not one of 'scipy-highs', 'pulp-cbc', 'exhaustive'" in result.stderr
    assert "Traceback" not in result.stderr
    unknown = _console("solve", str(SEED), "--frob")
    assert unknown.returncode == 1
    assert "No such option: --frob" in unknown.stderr


@pytest.mark.slow
def test_version_prints_the_package_version():
    from deploycost import __version__

    result = _console("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"deploycost {__version__}"


@pytest.mark.parametrize("path", PROBLEMS, ids=lambda p: p.name)
def test_solve_json_is_strict_json(path):
    """No NaN or Infinity anywhere (a runner-up with none, an LLM without a limit): strict
    parsers accept every --json output."""
    result = runner.invoke(app, ["solve", str(path), "--json"])
    assert result.exit_code == 0, result.output

    def refuse(constant):
        raise ValueError(f"non-standard JSON constant {constant}")

    payload = json.loads(result.stdout, parse_constant=refuse)
    assert payload["status"] == "optimal"


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        ("--time-limit", "0", "(--time-limit) must be a finite number of seconds > 0, got 0.0"),
        ("--time-limit", "nan", "(--time-limit) must be a finite number of seconds > 0, got nan"),
        ("--time-limit", "inf", "(--time-limit) must be a finite number of seconds > 0, got inf"),
        ("--gap", "1.5", "(--gap) must be in [0, 1), got 1.5"),
        ("--gap", "nan", "(--gap) must be in [0, 1), got nan"),
    ],
)
def test_solve_rejects_bad_limits(flag, value, message):
    result = runner.invoke(app, ["solve", str(SEED), flag, value])
    assert result.exit_code == 1
    assert message in result.output


def test_reporting_period_sets_the_headline(tmp_path):
    result = runner.invoke(app, ["evaluate", str(SEED)])
    assert "total: 5,057.32 CNY/day" in result.output  # seed example reports per day
    raw = yaml.safe_load(SEED.read_text(encoding="utf-8"))
    raw["reporting_period"] = "year"
    path = tmp_path / "yearly.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    result = runner.invoke(app, ["evaluate", str(path)])
    assert f"total: {5057.315789473684 * 365:,.2f} CNY/year" in result.output


def test_sweep_command_writes_table_and_breakpoints(tmp_path):
    from .conftest import hand

    scenario = tmp_path / "hand.yaml"
    scenario.write_text(yaml.safe_dump(hand(models__0__latency_slo_ms=20)), encoding="utf-8")
    spec = tmp_path / "line.yaml"
    spec.write_text(
        yaml.safe_dump(
            {
                "mode": "line",
                "points": 11,
                "parameters": [
                    {
                        "name": "fast",
                        "select": "instance_hour[fast]",
                        "range": {"start": 0.5, "stop": 2.0},
                    }
                ],
            }
        ),
        encoding="utf-8",
    )
    out, bp = tmp_path / "out.csv", tmp_path / "bp.csv"
    args = [
        "sweep",
        str(scenario),
        str(spec),
        "--out",
        str(out),
        "--breakpoints",
        str(bp),
        "--no-progress",
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "m moves from 2 x fast fp32 to 7 x cheap fp32" in result.output
    import pandas as pd

    assert len(pd.read_csv(out)) == 11
    assert pd.read_csv(bp).fast.iloc[0] == pytest.approx(7 / 6, rel=1e-9)  # 168 / 144
    again = runner.invoke(app, args)
    assert again.exit_code == 1
    assert "exists; pass --force to overwrite" in again.output
    parquet = runner.invoke(
        app, ["sweep", str(scenario), str(spec), "--out", str(tmp_path / "out.txt")]
    )
    assert parquet.exit_code == 1
    assert "--out must end in .csv or .parquet" in parquet.output


@pytest.mark.slow
def test_sensitivity_command(tmp_path):
    from .conftest import hand

    scenario = tmp_path / "hand.yaml"
    scenario.write_text(yaml.safe_dump(hand()), encoding="utf-8")
    result = runner.invoke(app, ["sensitivity", str(scenario), "--pareto", "e2e_latency_ms"])
    assert result.exit_code == 0, result.output
    assert "tornado: price groups -/+20%" in result.output
    assert "cost against e2e_latency_ms" in result.output
    bad = runner.invoke(app, ["sensitivity", str(scenario), "--swing", "2"])
    assert bad.exit_code == 1
    assert "--swing must be in (0, 1), got 2.0" in bad.output


def test_scenario_reference_is_generated_from_the_schema():
    from deploycost.scenario.reference import scenario_reference

    committed = (ROOT / "docs" / "scenario-format.md").read_text(encoding="utf-8")
    assert committed == scenario_reference(), (
        "run: deploycost schema --markdown --out docs/scenario-format.md"
    )
    for key in ("latency_slo_ms", "quality_floor", "storage_tiers", "stage_fractions"):
        assert f"| `{key}` |" in committed


def test_shell_completion_is_offered():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "--install-completion" in result.output
    assert "--show-completion" in result.output


@pytest.mark.slow
@pytest.mark.parametrize(
    "path", [*PROBLEMS, ROOT / "problems" / "fleet" / "ecommerce_fleet.yaml"], ids=lambda p: p.name
)
def test_solve_fits_100_columns_without_an_ellipsis(path, monkeypatch):
    """The default output of every shipped problem at 100 columns: no line longer, no cell
    cut short; ``--wide`` adds the cost lines per model, still without an ellipsis."""
    from deploycost.cli import common

    monkeypatch.setattr(common.out, "width", 100)
    monkeypatch.setattr(common.err, "width", 100)
    result = CliRunner().invoke(app, ["solve", str(path), "--no-runner-ups"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert max(len(line) for line in lines) <= 100
    assert "…" not in result.output
    wide = CliRunner().invoke(app, ["solve", str(path), "--no-runner-ups", "--wide"])
    assert wide.exit_code == 0
    assert "…" not in wide.output
    if "fleet" not in path.parts:
        assert "compute USD/d" in wide.output or "compute CNY/d" in wide.output
        assert "p99 / SLO ms" in result.output


def test_answers_list_their_estimates_and_defaults_and_strict_refuses_them(tmp_path):
    """The ten-line file leaves the profile, the region and the retrain rate to defaults and
    has no measured profile: every output lists them, and --strict refuses the answer."""
    path = tmp_path / "ten.yaml"
    path.write_text(
        "currency: USD\nworkload:\n  queries_per_day: 2000000\n  peak_to_mean: 3\n"
        "models:\n  - name: ranker\n    params_million: 340\n    latency_slo_ms: 100\n",
        encoding="utf-8",
    )
    text = runner.invoke(app, ["solve", str(path), "--no-runner-ups"])
    assert text.exit_code == 0
    assert "default: catalog.regions: us-east-1 (the default for USD)" in text.output
    assert "default: ranker: retrains_per_month 1 (default)" in text.output
    assert "estimate: ranker: service time on" in text.output
    payload = json.loads(runner.invoke(app, ["solve", str(path), "--json"]).stdout)
    assert "workload.hourly_profile: flat over the 24 hours (default)" in payload["defaults"]
    assert any("read_mb_s ESTIMATE" in line for line in payload["estimates"])
    strict = runner.invoke(app, ["solve", str(path), "--strict"])
    assert strict.exit_code == 1
    assert "--strict: the answer" in strict.output
    assert "rests on 6 estimate(s) or default(s)" in strict.output
    assert "default: catalog.calibration_instance: g5.xlarge (default" in strict.output
    # the e-commerce file states every default; its estimates still refuse --strict
    shipped = runner.invoke(app, ["solve", str(ROOT / "problems" / "ecommerce_search_rec.yaml")])
    assert "default:" not in shipped.output


def test_catalog_filters_rows_and_prints_prices_as_written(monkeypatch):
    """`catalog hardware` with filters: only the rows asked for, each price exactly as the
    catalog has it (0.526, not 0.53), within 100 columns; a filter on no column is an error."""
    from deploycost.catalog import load_catalog
    from deploycost.cli import common

    monkeypatch.setattr(common.out, "width", 100)
    result = runner.invoke(app, ["catalog", "hardware", "--where", "name=g4dn.xlarge"])
    assert result.exit_code == 0
    assert "catalog: hardware (2 rows)" in result.output  # us-east-1 and AWS China
    hw = load_catalog().hardware
    assert str(hw.at["g4dn.xlarge", "price_on_demand_per_hour"]) == "0.526"
    assert "0.526" in result.output
    assert "…" not in result.output
    assert max(len(line) for line in result.output.splitlines()) <= 100
    both = runner.invoke(
        app, ["catalog", "hardware", "--where", "region=us-east-1", "--where", "accelerator=L4"]
    )
    expected = hw[(hw.region == "us-east-1") & (hw.accelerator == "L4")]
    assert f"catalog: hardware ({len(expected)} rows)" in both.output
    bad = runner.invoke(app, ["catalog", "hardware", "--where", "colour=red"])
    assert bad.exit_code == 1
    assert "--where must be COLUMN=TEXT with a column of hardware" in bad.output


def test_the_ecommerce_file_switches_price_plan_without_other_edits(tmp_path):
    """pricing: reserved_1yr or spot in the shipped file: valid as it is (the baseline's
    c7i.4xlarge has no reserved price and the calibration g5.xlarge no spot price: both are
    bought on demand, and said so in the price note); the reserved answer is cheaper."""
    from deploycost.cost.prices import build_prices
    from deploycost.optimize.solve import solve

    text = (ROOT / "problems" / "ecommerce_search_rec.yaml").read_text(encoding="utf-8")
    totals = {}
    for plan in ("reserved_1yr", "spot"):
        path = tmp_path / f"{plan}.yaml"
        path.write_text(text.replace("pricing: on_demand", f"pricing: {plan}"), encoding="utf-8")
        scn = load_scenario(path)
        assert scn.catalog.pricing == plan
        result = solve(scn, runner_ups=False)
        assert result.ok
        totals[plan] = result.objective_per_day
        prices = build_prices(scn).table.set_index("name")
        hw = scn.resolved_catalog.hardware
        missing = [
            h
            for h in ("c7i.4xlarge", "g5.xlarge")
            if f"instance_hour[{h}]" in prices.index and hw[f"price_{plan}_per_hour"].isna()[h]
        ]
        assert missing  # the fallback is exercised under both plans
        if plan == "reserved_1yr":  # bought on demand: paid per hour run, not for a term
            from deploycost.cost.model import CostModel

            cost = CostModel(scn)
            committed = dict(zip(cost.space.instances, cost.committed, strict=True))
            assert not committed["c7i.4xlarge"]
            assert committed["inf2.xlarge"]
        for h in missing:
            assert prices.at[f"instance_hour[{h}]", "value"] == pytest.approx(
                hw.at[h, "price_on_demand_per_hour"]
            )
            assert f"on_demand (no {plan} price)" in prices.at[f"instance_hour[{h}]", "note"]
    assert totals["reserved_1yr"] < 1308.64
