"""The public API: each function takes a scenario as a path, a mapping or a ``Scenario``.

import deploycost as dc
result = dc.solve("problems/ecommerce_search_rec.yaml")   # or a scenario with a fleet section
print(result.objective_per_day, result.binding, result.plan)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deploycost.optimize.solve import solve
from deploycost.scenario.schema import as_scenario as load_scenario

if TYPE_CHECKING:
    from deploycost.analysis.sweep import SweepResult
    from deploycost.cost.model import Evaluation
    from deploycost.cost.prices import PriceVector
    from deploycost.scenario.schema import DeploymentSpec, Scenario

__all__ = ["evaluate", "load_scenario", "solve", "sweep"]


def evaluate(
    scenario: str | Path | Mapping[str, Any] | Scenario,
    deployment: str | Path | Mapping[str, Any] | DeploymentSpec | None = None,
    prices: PriceVector | None = None,
) -> Evaluation:
    """The six cost components of a fixed deployment (default: the scenario's
    ``baseline_deployment``): a deployment file, a mapping or a ``DeploymentSpec``."""
    from deploycost.cost.deployments import from_specs
    from deploycost.cost.model import evaluate as run
    from deploycost.errors import ScenarioError
    from deploycost.scenario.schema import (
        DeploymentSpec,
        check_deployment,
        load_deployment,
        validate_deployment,
    )

    scn = load_scenario(scenario)
    if deployment is None:
        if scn.baseline_deployment is None:
            raise ScenarioError(["no deployment given and the scenario has no baseline_deployment"])
        spec = scn.baseline_deployment
    elif isinstance(deployment, DeploymentSpec):
        problems = check_deployment(scn, deployment)
        if problems:
            raise ScenarioError(problems, "deployment")
        spec = deployment
    elif isinstance(deployment, Mapping):
        spec = validate_deployment(scn, dict(deployment))
    else:
        spec = load_deployment(scn, deployment)
    return run(scn, from_specs(scn, [spec]), prices)


def sweep(
    scenario: str | Path | Mapping[str, Any] | Scenario,
    spec: str | Path | Mapping[str, Any],
    backend: str = "scipy-highs",
    state_dir: Path | None = None,
    progress: Callable[[int], None] | None = None,
) -> SweepResult:
    """The optimum under many price scenarios (a sweep specification file or mapping: line,
    grid, random, lhs or csv); ``SweepResult.table`` has one row per price scenario."""
    from deploycost.analysis.sweep import run_sweep
    from deploycost.analysis.sweep_spec import load_spec, load_spec_file

    scn = load_scenario(scenario)
    if isinstance(spec, Mapping):
        sweep_spec, params = load_spec(dict(spec), scn)
    else:
        sweep_spec, params = load_spec_file(spec, scn)
    return run_sweep(scn, sweep_spec, params, backend, state_dir, progress=progress)
