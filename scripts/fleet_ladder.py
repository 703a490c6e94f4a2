"""What each fleet decision is worth on the shipped fleet problem: solve variants of
``problems/fleet/ecommerce_fleet.yaml`` that add one decision at a time, and print the
README's table (total and compute, USD/day, on both MILP backends).

    python scripts/fleet_ladder.py
"""

from __future__ import annotations

import copy
from pathlib import Path

import yaml

from deploycost.optimize.solve import solve
from deploycost.scenario.schema import validate_scenario

ROOT = Path(__file__).resolve().parents[1]
FILE = ROOT / "problems" / "fleet" / "ecommerce_fleet.yaml"


def variants(raw: dict) -> list[tuple[str, dict]]:
    """(label, scenario) from the narrowest space to the shipped file."""
    base = copy.deepcopy(raw)
    base["workload"].pop("day_types")
    base["options"]["autoscale"] = False
    base["fleet"] |= {"plans": ["on_demand"], "max_types_per_model": 1, "scale_up_lag_min": 0}
    steps = [("one type per model, on-demand, peak all day (`max_types_per_model: 1`)", base)]

    def then(label: str, change) -> None:
        scn = copy.deepcopy(steps[-1][1])
        change(scn)
        steps.append((label, scn))

    then("+ a model may run on two types", lambda s: s["fleet"].update(max_types_per_model=2))
    then(
        "+ reserved_1yr and spot (30 % interruption rule)",
        lambda s: s["fleet"].update(plans=raw["fleet"]["plans"]),
    )
    then("+ autoscaling over the 24-h profile", lambda s: s["options"].update(autoscale=True))
    then(
        "+ day types (350 normal, 15 festival days)",
        lambda s: s["workload"].update(day_types=raw["workload"]["day_types"]),
    )
    steps.append(("the shipped file (+ a 10-minute scale-up lag)", raw))
    return steps


def main() -> None:
    raw = yaml.safe_load(FILE.read_text())
    print("| fleet space | total | compute |")
    print("|---|---:|---:|")
    for label, data in variants(raw):
        scn = validate_scenario(data)
        totals = []
        for backend in ("scipy-highs", "pulp-cbc"):
            fleet = solve(scn, backend=backend).raise_for_status()
            lines = fleet.plan.costs.set_index("line").per_day
            totals.append((fleet.objective_per_day, lines["compute"]))
        (total, compute), (other, _) = totals
        agree = "" if abs(total - other) < 0.005 else f" (pulp-cbc {other:,.2f})"
        print(f"| {label} | {total:,.2f}{agree} | {compute:,.2f} |")


if __name__ == "__main__":
    main()
