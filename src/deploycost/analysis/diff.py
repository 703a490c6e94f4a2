"""Two deployments of one scenario side by side: per component, per owner (model, data
source, shared line) and per model choice, with the change in money (Infracost-style);
or a deployment against a solved fleet (``diff_result``): per component, and per model
where it runs and what its compute costs."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from deploycost.cost.deployments import from_specs
from deploycost.cost.model import COMPONENTS, evaluate
from deploycost.optimize.audit import deployment_limits
from deploycost.optimize.fleet_alternatives import describe_load
from deploycost.optimize.result import FleetPlan, SolveResult
from deploycost.scenario.schema import DeploymentSpec, Scenario

CHOICES = ("instance", "replicas", "precision", "batch", "tier", "compression", "autoscale")


@dataclass(frozen=True)
class Diff:
    """``components``: per component the two daily costs and the change; ``owners``: the
    same per (component, owner) line, unchanged lines dropped; ``models``: per model the
    choices that differ (``before -> after``) and its daily cost in each."""

    currency: str
    components: pd.DataFrame
    owners: pd.DataFrame
    models: pd.DataFrame
    violations: tuple[list[str], list[str]]  # the limits each deployment breaks

    @property
    def change_per_day(self) -> float:
        return float(self.components.set_index("component").at["total", "change"])


def _changes(before, after) -> str:
    if before is None:
        return "added"
    if after is None:
        return "removed"
    moved = [
        f"{name} {getattr(before, name)} -> {getattr(after, name)}"
        for name in CHOICES
        if getattr(before, name) != getattr(after, name)
    ]
    return "; ".join(moved) or "unchanged"


def diff(scn: Scenario, baseline: DeploymentSpec, other: DeploymentSpec) -> Diff:
    """Cost both deployments through the full ledger and compare them."""
    evaluation = evaluate(scn, from_specs(scn, [baseline, other]))
    totals = evaluation.components()
    components = pd.DataFrame(
        {
            "component": [*COMPONENTS, "total"],
            "baseline": [float(totals.iloc[0][c]) for c in (*COMPONENTS, "total")],
            "other": [float(totals.iloc[1][c]) for c in (*COMPONENTS, "total")],
        }
    )
    components["change"] = components.other - components.baseline
    parts = [evaluation.breakdown(d).astype({"component": str}) for d in (0, 1)]
    before, after = (frame.set_index(["component", "owner"]).per_day for frame in parts)
    owners = pd.concat({"baseline": before, "other": after}, axis=1).fillna(0.0)
    owners["change"] = owners.other - owners.baseline
    owners = owners[owners.change.abs() > 1e-9].reset_index()
    names = sorted(set(baseline.models) | set(other.models))
    compute = [frame[frame.component == "compute"].set_index("owner").per_day for frame in parts]
    models = pd.DataFrame(
        {
            "model": names,
            "change": [_changes(baseline.models.get(n), other.models.get(n)) for n in names],
            "compute_baseline": [float(compute[0].get(n, 0.0)) for n in names],
            "compute_other": [float(compute[1].get(n, 0.0)) for n in names],
        }
    )
    models["compute_change"] = models.compute_other - models.compute_baseline
    checked = deployment_limits(scn, [baseline, other], evaluation)
    return Diff(scn.currency, components, owners, models, (checked[0][0], checked[1][0]))


def diff_result(scn: Scenario, baseline: DeploymentSpec, result: SolveResult) -> Diff:
    """The baseline against a solve's plan: ``diff`` for a deployment; for a fleet, the
    six components (the fleet's own), per model the baseline's choice and where the fleet
    runs it, with each one's compute per day (a fleet's split by the instance-hours each
    model's load needs), and the limits each breaks."""
    plan = result.plan
    if not isinstance(plan, FleetPlan):
        return diff(scn, baseline, plan.deployment)
    evaluation = evaluate(scn, from_specs(scn, [baseline]))
    totals = evaluation.components().iloc[0]
    fleet = result.components.set_index("component").per_day
    components = pd.DataFrame(
        {
            "component": [*COMPONENTS, "total"],
            "baseline": [float(totals[c]) for c in (*COMPONENTS, "total")],
            "other": [float(fleet[c]) for c in (*COMPONENTS, "total")],
        }
    )
    components["change"] = components.other - components.baseline
    owners = components[components.component != "total"].assign(owner="all")
    owners = owners[owners.change.abs() > 1e-9][
        ["component", "owner", "baseline", "other", "change"]
    ]
    ledger = evaluation.breakdown(0).astype({"component": str})
    before = ledger[ledger.component == "compute"].set_index("owner").per_day
    after = plan.shares.groupby("model").compute_per_day.sum()
    names = sorted(set(baseline.models) | set(plan.shares.model))
    models = pd.DataFrame(
        {
            "model": names,
            "change": [_moved(baseline.models.get(n), plan, n) for n in names],
            "compute_baseline": [float(before.get(n, 0.0)) for n in names],
            "compute_other": [float(after.get(n, 0.0)) for n in names],
        }
    )
    models["compute_change"] = models.compute_other - models.compute_baseline
    ((broken, _),) = deployment_limits(scn, [baseline], evaluation)
    fleet_broken = [
        f"{v.name} {v.value:.4g} {v.sense} {v.limit:g}" for v in result.limits if not v.met
    ]
    return Diff(
        scn.currency, components, owners.reset_index(drop=True), models, (broken, fleet_broken)
    )


def _moved(before, plan: FleetPlan, name: str) -> str:
    """'24 x inf2.xlarge fp32 -> inf2.xlarge fp32 100 %' (a model the fleet leaves out:
    'removed'; one the baseline does not run: 'added')."""
    where = describe_load(plan, name)
    if before is None:
        return f"added: {where}"
    was = f"{before.replicas} x {before.instance} {before.precision or ''}".rstrip()
    return "removed" if where.startswith("dropped") else f"{was} -> {where}"
