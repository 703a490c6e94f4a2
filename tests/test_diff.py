"""``deploycost diff``: two deployments side by side, checked against separate evaluations."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from deploycost.analysis.diff import diff
from deploycost.cli.app import app
from deploycost.cost.deployments import from_specs
from deploycost.cost.model import COMPONENTS, evaluate
from deploycost.optimize.solve import solve
from deploycost.scenario.schema import load_scenario, validate_scenario

from .conftest import ROOT

PATH = ROOT / "problems" / "ecommerce_search_rec.yaml"


def test_diff_of_the_baseline_and_the_optimum_matches_two_separate_evaluations():
    scn = load_scenario(PATH)
    best = solve(scn, runner_ups=False).plan.deployment
    change = diff(scn, scn.baseline_deployment, best)
    before = evaluate(scn, from_specs(scn, [scn.baseline_deployment])).components().iloc[0]
    after = evaluate(scn, from_specs(scn, [best])).components().iloc[0]
    table = change.components.set_index("component")
    for part in (*COMPONENTS, "total"):
        assert table.at[part, "baseline"] == pytest.approx(before[part], rel=1e-12)
        assert table.at[part, "other"] == pytest.approx(after[part], rel=1e-12)
    assert change.change_per_day == pytest.approx(1308.64 - 2095.14, abs=0.01)
    # the owner lines that changed add up to each component's change
    by_component = change.owners.groupby("component").change.sum()
    for part in COMPONENTS:
        assert by_component.get(part, 0.0) == pytest.approx(table.at[part, "change"], abs=1e-9)
    models = change.models.set_index("model")
    assert models.at["reranker", "change"] == "removed"
    assert "replicas 6 -> 2" in models.at["coarse-ranker", "change"]
    assert models.at["reranker", "compute_change"] == pytest.approx(-656.7168)
    baseline_broken, recommended_broken = change.violations
    assert len(baseline_broken) == 3
    assert any(v.startswith("utilisation_max[coarse-ranker]") for v in baseline_broken)
    assert recommended_broken == []


def test_diff_cli_prints_and_writes_strict_json(tmp_path):
    runner = CliRunner()
    text = runner.invoke(app, ["diff", str(PATH)])
    assert text.exit_code == 0, text.output
    assert "recommended vs baseline -786.51 USD/day (-37.5%)" in text.output
    assert "baseline breaks 3 limit(s)" in text.output

    def refuse(constant):
        raise ValueError(constant)

    result = runner.invoke(app, ["diff", str(PATH), "--json"])
    assert result.exit_code == 0
    payload = json.loads(result.stdout, parse_constant=refuse)
    assert payload["change_per_day"] == pytest.approx(-786.51, abs=0.01)
    assert payload["recommended_violations"] == []
    (total,) = [r for r in payload["components"] if r["component"] == "total"]
    assert total["baseline"] == pytest.approx(2095.14, abs=0.01)
    bare = tmp_path / "s.yaml"
    bare.write_text("models:\n  - {name: a, size_gb: 1}\n", encoding="utf-8")
    missing = runner.invoke(app, ["diff", str(bare)])
    assert missing.exit_code == 1
    assert "--baseline is required: the scenario has no baseline_deployment" in missing.output


@pytest.mark.slow
def test_the_report_compares_the_baseline_with_the_recommendation(tmp_path):
    out = tmp_path / "r.html"
    result = CliRunner().invoke(app, ["report", str(PATH), "--out", str(out), "--no-verify"])
    assert result.exit_code == 0, result.output
    text = out.with_suffix(".md").read_text()
    section = text.split("## Baseline vs recommended")[1].split("\n## ")[0]
    assert "-786.51 USD/day" in section
    assert "| total | 2,095.14 | 1,308.64 | -786.51 |" in section
    assert "The recommendation meets every limit." in section
    # the e2e limit never binds on this file: one sentence, no flat plot
    pareto = text.split("## Pareto frontier")[1].split("\n## ")[0]
    assert "does not bind between 50 and 400 ms" in pareto
    assert "pareto.png" not in text


def test_a_fleet_is_compared_with_the_baseline_it_replaces():
    """Baseline: 3 x b on-demand for a (a needs 150 / 100 -> 2), 72 USD/day; the fleet runs
    a on 2 x b (48 USD/day; with spot at 0.5 USD/h and no interruption: 24). The diff says
    -48 USD/day in compute, a's compute before 72 and after 24, and where a runs now."""
    from deploycost.analysis.diff import diff_result

    from .fleet_cases import box, fleet_scenario, model

    raw = fleet_scenario(
        [model("a", {"b": 100.0})],
        [box("b", on_demand=1.0, spot=0.5)],
        150.0,
        fleet={"plans": ["on_demand", "spot"], "spot_interruption_fraction": 0.0},
        baseline_deployment={"models": {"a": {"instance": "b", "replicas": 3}}},
    )
    scn = validate_scenario(raw)
    result = solve(scn).raise_for_status()
    change = diff_result(scn, scn.baseline_deployment, result)
    assert result.objective_per_day == pytest.approx(24.0)
    assert change.change_per_day == pytest.approx(24.0 - 72.0)
    (row,) = change.models.itertuples()
    assert (row.compute_baseline, row.compute_other) == (pytest.approx(72.0), pytest.approx(24.0))
    assert row.change == "3 x b -> b fp32 100 %"
    assert change.violations == ([], [])
    compute = change.components.set_index("component").loc["compute"]
    assert (compute.baseline, compute.other) == (pytest.approx(72.0), pytest.approx(24.0))
    from deploycost.outputs.report import build_report, render_markdown

    text = render_markdown(build_report(scn, result, compared=change), "img")
    section = text.split("## Baseline vs recommended")[1].split("\n## ")[0]
    assert "Recommended against the baseline deployment: -48.00 USD/day" in section
    assert "| a | 3 x b -&gt; b fp32 100 % | 72.00 | 24.00 | -48.00 |" in section
