"""``deploycost evaluate`` and ``deploycost diff``: a fixed deployment's cost and limits, and
two side by side."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

from deploycost.cli.common import (
    DEFAULT_BACKEND,
    BackendOption,
    ScenarioArgument,
    _friendly,
    _progress,
    _records,
    _scenario,
    _table,
    emit,
    err,
    out,
)
from deploycost.cli.show import (
    EXIT_INFEASIBLE,
    _exit_unless_found,
    _in_period,
    limits_table,
    print_result,
)
from deploycost.cost.deployments import from_specs
from deploycost.cost.model import COMPONENTS, evaluate
from deploycost.errors import ScenarioError
from deploycost.optimize.fleet_given import GivenFleet, evaluate_fleet
from deploycost.optimize.solve import solve as run_solve
from deploycost.periods import DAYS_PER_MONTH, DAYS_PER_YEAR
from deploycost.scenario.schema import (
    DeploymentSpec,
    Scenario,
    load_deployment,
    load_plan_file,
)


@_friendly
def evaluate_command(
    scenario: ScenarioArgument = None,
    deployment: Annotated[
        Path | None,
        typer.Option(help="Deployment YAML (default: the scenario's baseline_deployment)"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Cost of a fixed deployment (the six components per day, month and year) and every
    limit it is held to; exit 2 when it violates any (peak capacity, latency, memory,
    quality, cold start, budget, quotas)."""
    from deploycost.optimize.audit import deployment_limits

    scn = _scenario(scenario)
    plan = _plan_file(scn, deployment)
    if isinstance(plan, GivenFleet):
        _print_given_fleet(scn, plan, as_json)
        return
    spec = plan or _baseline(scn, "--deployment", scenario)
    result = evaluate(scn, from_specs(scn, [spec]))
    totals = result.components().iloc[0]
    ((violations, checked),) = deployment_limits(scn, [spec], result)
    limits = [] if checked is None else checked.limits
    if as_json:
        payload = {
            "scenario": scn.name,
            "currency": scn.currency,
            "per_day": {c: float(totals[c]) for c in (*COMPONENTS, "total")},
            "per_month": {c: float(totals[c] * DAYS_PER_MONTH) for c in (*COMPONENTS, "total")},
            "per_year": {c: float(totals[c] * DAYS_PER_YEAR) for c in (*COMPONENTS, "total")},
            "lines": result.ledger().to_dict(orient="records"),
            "meets_every_limit": not violations,
            "violations": violations,
            "limits": _records(limits_table(limits)),
        }
        emit(json.dumps(payload, indent=2, allow_nan=False) + "\n")
        if violations:
            raise typer.Exit(EXIT_INFEASIBLE)
        return
    detail = result.breakdown().astype({"component": str})
    detail.columns = [
        "component",
        "kind",
        "owner",
        f"{scn.currency}/day",
        f"{scn.currency}/month",
        f"{scn.currency}/year",
    ]
    out.print(_table(detail, f"{scn.name}: cost by component and owner"))
    summary = pd.DataFrame(
        {
            "component": [*COMPONENTS, "total"],
            f"{scn.currency}/day": [float(totals[c]) for c in (*COMPONENTS, "total")],
        }
    )
    summary[f"{scn.currency}/month"] = summary[f"{scn.currency}/day"] * DAYS_PER_MONTH
    summary[f"{scn.currency}/year"] = summary[f"{scn.currency}/day"] * DAYS_PER_YEAR
    out.print(_table(summary, f"{scn.name}: six-component breakdown"))
    out.print(f"total: {_in_period(float(totals['total']), scn)}", markup=False, highlight=False)
    if not violations:
        out.print(f"meets every limit ({len(limits)} checked)", markup=False, highlight=False)
        return
    err.print(
        f"violates {len(violations)} limit(s) of {len(limits) or 'the'} checked:",
        style="bold red",
        markup=False,
    )
    for line in violations:
        err.print(f"  - {line}", markup=False, highlight=False)
    raise typer.Exit(EXIT_INFEASIBLE)


@_friendly
def diff_command(
    scenario: ScenarioArgument = None,
    baseline: Annotated[
        Path | None,
        typer.Option(help="Deployment YAML (default: the scenario's baseline_deployment)"),
    ] = None,
    recommended: Annotated[
        Path | None, typer.Option(help="Deployment YAML (default: solve the scenario)")
    ] = None,
    backend: BackendOption = DEFAULT_BACKEND,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Two deployments side by side: cost per component, per owner and per model choice,
    the change, and the limits each one breaks."""
    from deploycost.analysis.diff import diff, diff_result

    scn = _scenario(scenario)
    before = (
        load_deployment(scn, baseline)
        if baseline is not None
        else _baseline(scn, "--baseline", scenario)
    )
    after = _plan_file(scn, recommended)
    if isinstance(after, GivenFleet):
        with _progress("costing and checking both"):
            change = diff_result(scn, before, after.result)
        change = replace(change, violations=(change.violations[0], list(after.problems)))
    elif after is not None:
        with _progress("costing and checking both deployments"):
            change = diff(scn, before, after)
    else:
        with _progress("solving for the recommended deployment"):
            result = run_solve(scn, backend=str(backend), runner_ups=False)
        if not result.ok:
            print_result(result, scn)
            _exit_unless_found(result)
        with _progress("costing and checking both"):
            change = diff_result(scn, before, result)
    if as_json:
        payload = {
            "scenario": scn.name,
            "currency": scn.currency,
            "change_per_day": change.change_per_day,
            "components": _records(change.components),
            "owners": _records(change.owners),
            "models": _records(change.models),
            "baseline_violations": change.violations[0],
            "recommended_violations": change.violations[1],
        }
        emit(json.dumps(payload, indent=2, allow_nan=False) + "\n")
        return
    print_diff(change, scn)


def _signed(value: float) -> str:
    return "0.00" if abs(value) < 0.005 else f"{value:+,.2f}"


def print_diff(change, scn: Scenario) -> None:
    cur = scn.currency
    base = float(change.components.baseline.iloc[-1])
    total = change.change_per_day
    share = f" ({total / base:+.1%})" if base else ""
    out.print(
        f"{scn.name}: recommended vs baseline {_signed(total)} {cur}/day{share}, "
        f"{_signed(total * DAYS_PER_MONTH)} {cur}/month",
        markup=False,
        highlight=False,
    )
    comp = change.components
    shown = pd.DataFrame(
        {
            "component": comp.component,
            f"baseline {cur}/d": comp.baseline,
            f"recommended {cur}/d": comp.other,
            "change": comp.change.map(_signed),
        }
    )
    out.print(_table(shown, "cost per component"))
    models = change.models
    shown = pd.DataFrame(
        {
            "model": models.model,
            "what changes": models.change,
            f"compute {cur}/d before": models.compute_baseline,
            "after": models.compute_other,
            "change": models.compute_change.map(_signed),
        }
    )
    out.print(_table(shown, "per model"))
    for label, broken in zip(("baseline", "recommended"), change.violations, strict=True):
        if broken:
            out.print(
                f"{label} breaks {len(broken)} limit(s): " + "; ".join(broken),
                style="yellow",
                markup=False,
                highlight=False,
            )
        else:
            out.print(f"{label} meets every limit", markup=False, highlight=False)


def _plan_file(scn: Scenario, path: Path | None):
    """The plan a file states: a ``DeploymentSpec``, or for a fleet's export file the fleet
    costed and checked (``GivenFleet``); None when no file is given."""
    if path is None:
        return None
    plan = load_plan_file(scn, path)
    return plan if isinstance(plan, DeploymentSpec) else evaluate_fleet(scn, plan, str(path))


def _print_given_fleet(scn: Scenario, given, as_json: bool) -> None:
    """``evaluate`` of a fleet file: the six components, every limit, what it breaks; exit
    2 when it breaks anything."""
    result = given.result
    comp = result.components
    if as_json:
        payload = {
            "scenario": scn.name,
            "currency": scn.currency,
            "plan": "fleet",
            "per_day": dict(zip(comp.component, comp.per_day.astype(float), strict=True)),
            "per_month": dict(zip(comp.component, comp.per_month.astype(float), strict=True)),
            "per_year": dict(zip(comp.component, comp.per_year.astype(float), strict=True)),
            "meets_every_limit": given.ok,
            "violations": list(given.problems),
            "limits": _records(limits_table(result.limits)),
        }
        emit(json.dumps(payload, indent=2, allow_nan=False) + "\n")
    else:
        out.print(_table(comp, f"{scn.name}: the fleet's six-component breakdown"))
        total = float(comp.set_index("component").at["total", "per_day"])
        out.print(f"total: {_in_period(total, scn)}", markup=False, highlight=False)
        out.print(_table(limits_table(result.limits), "limits"))
        if given.ok:
            out.print(
                f"meets every limit ({len(result.limits)} checked, "
                f"{result.plan.audit.checks} audit checks)",
                markup=False,
                highlight=False,
            )
        else:
            err.print(f"breaks {len(given.problems)} check(s):", style="bold red", markup=False)
            for line in given.problems:
                err.print(f"  - {line}", markup=False, highlight=False)
    if not given.ok:
        raise typer.Exit(EXIT_INFEASIBLE)


def _baseline(scn: Scenario, option: str, scenario: Path | None):
    """The scenario's baseline_deployment; an error naming ``option`` when it has none."""
    if scn.baseline_deployment is not None:
        return scn.baseline_deployment
    raise ScenarioError(
        [f"{option} is required: the scenario has no baseline_deployment"], str(scenario)
    )
