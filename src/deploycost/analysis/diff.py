"""Two deployments of one scenario side by side: per component, per owner (model, data
source, shared line) and per model choice, with the change in money (Infracost-style)."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from deploycost.cost.deployments import from_specs
from deploycost.cost.model import COMPONENTS, evaluate
from deploycost.optimize.audit import deployment_limits
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
