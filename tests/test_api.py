"""The top-level API: a path, a mapping and a pydantic-built Scenario give the same answers,
and the README's Python example runs as printed."""

from __future__ import annotations

import contextlib
import io
import os
import re

import pytest
import yaml

import deploycost as dc
from deploycost.cost.deployments import from_specs
from deploycost.cost.model import evaluate
from deploycost.optimize.solve import solve
from deploycost.scenario.schema import load_scenario

from .conftest import ROOT

SEED = ROOT / "problems" / "seed_example.yaml"


def test_path_mapping_and_pydantic_scenario_solve_alike():
    raw = yaml.safe_load(SEED.read_text())
    reference = solve(load_scenario(SEED), runner_ups=False).objective_per_day
    for given in (SEED, str(SEED), raw, dc.Scenario.model_validate(raw)):
        result = dc.solve(given, runner_ups=False)
        assert result.objective_per_day == pytest.approx(reference, rel=1e-12)


def test_evaluate_defaults_to_the_baseline_and_takes_a_mapping():
    scn = load_scenario(SEED)
    direct = evaluate(scn, from_specs(scn, [scn.baseline_deployment]))
    assert float(dc.evaluate(SEED).total_per_day[0]) == pytest.approx(
        float(direct.total_per_day[0]), rel=1e-12
    )
    deployment = scn.baseline_deployment.model_dump(mode="json")
    deployment["models"]["model-a"]["replicas"] += 1
    more = float(dc.evaluate(SEED, deployment).total_per_day[0])
    # one more replica of model-a: 24 instance-hours at 100 CNY (the document's price)
    assert more - float(direct.total_per_day[0]) == pytest.approx(24 * 100, rel=1e-9)


def test_a_pydantic_scenario_with_bad_references_is_refused_clearly():
    raw = yaml.safe_load(SEED.read_text())
    raw["models"][0]["name"] = "renamed"
    scn = dc.Scenario.model_validate(raw)  # field types are fine; references are not
    with pytest.raises(dc.ScenarioError, match=r"members must name a known model .*got 'model-a'"):
        dc.solve(scn)
    with pytest.raises(dc.ScenarioError, match=r"scenario must be a path, a mapping"):
        dc.solve(42)


def test_sweep_from_a_mapping():
    result = dc.sweep(
        SEED,
        {
            "mode": "grid",
            "parameters": [{"name": "c", "select": "instance_hour[*]", "values": [1, 2]}],
        },
    )
    assert list(result.table.c) == [1, 2]
    assert result.table.total.iloc[1] > result.table.total.iloc[0]


def test_readme_python_example_runs_and_prints_what_it_says():
    text = (ROOT / "README.md").read_text()
    block = re.search(r"From Python, one import.*?```python\n(.*?)```", text, re.S).group(1)
    out = io.StringIO()
    cwd = os.getcwd()
    try:
        os.chdir(ROOT)
        with contextlib.redirect_stdout(out):
            exec(compile(block, "README.md", "exec"), {})
    finally:
        os.chdir(cwd)
    printed = out.getvalue()
    for comment in re.findall(r"# (optimal [\d.]+|[\d.]+)$", block, re.M):
        assert comment in printed


@pytest.mark.slow
def test_readme_quotes_the_export_head_it_writes(tmp_path):
    """The README's quoted start of recommended.yaml (hash of the inputs included) is what
    ``export`` writes today: a catalog or schema change that moves it fails here."""
    from typer.testing import CliRunner

    from deploycost.cli.app import app

    text = (ROOT / "README.md").read_text()
    quoted = re.search(r"`recommended.yaml` starts with\n\n```yaml\n(.*?)```", text, re.S)
    result = CliRunner().invoke(
        app,
        [
            "export",
            str(ROOT / "problems/ecommerce_search_rec.yaml"),
            "--out",
            str(tmp_path),
            "--template",
        ],
    )
    assert result.exit_code == 0, result.output
    written = (tmp_path / "recommended.yaml").read_text()
    assert written.startswith(quoted.group(1))
