"""Runner-ups of a fleet: what the next best fleet costs without a model's instance type or
precision.

For each model that carries load and each instance type it runs on (then its precision),
the fleet MILP is solved again with that model's modes on that type (of that precision)
removed; the rest of the fleet may change too (pools, commitments, other models' types),
so the figure is the whole fleet's extra cost per day over the optimum. One fleet solve
per line: ``deploycost solve --runner-ups`` asks for them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pandas as pd

from deploycost.cost.model import CostModel
from deploycost.errors import DeployCostError
from deploycost.optimize.fleet import build_fleet
from deploycost.optimize.fleet_solve import decode, solve_formulation
from deploycost.optimize.result import FleetPlan, SolveResult
from deploycost.optimize.solvers import SolverOptions, Status, get_backend
from deploycost.options.capacity import fleet_options


def changes_of(plan: FleetPlan) -> list[tuple[str, str, str]]:
    """(model, what, value) of every runner-up asked for: the model's instance types in
    order of share, then its precisions."""
    serving = plan.shares[plan.shares["mode"] >= 0]
    out = []
    for model, mine in serving.groupby("model", sort=False):
        mine = mine.sort_values("share", ascending=False, kind="stable")
        out += [(model, "instance", inst) for inst in dict.fromkeys(mine.instance)]
        out += [(model, "precision", prec) for prec in dict.fromkeys(mine.precision)]
    return out


def fleet_runner_ups(
    scn,
    result: SolveResult,
    backend: str = "scipy-highs",
    options: SolverOptions | None = None,
    step: Callable[[str], None] | None = None,
) -> pd.DataFrame:
    """One row per change (``changes_of``): model, change ("without g6.xlarge", "without
    int8"), the model's load in the alternative fleet and the fleet's extra cost per day
    (NaN where no fleet remains). ``step`` is called before each solve (progress)."""
    if not result.ok:
        raise DeployCostError("runner-ups need a solved fleet")
    options = options or SolverOptions()
    solver = get_backend(backend)
    cost = CostModel(scn, result.plan.prices)
    fleet = fleet_options(cost)
    rows = []
    for model, what, value in changes_of(result.plan):
        if step is not None:
            step(f"{model} without {value}")
        modes = fleet.modes
        drop = ((modes.model == model) & (modes[what] == value)).to_numpy()
        alt = replace(fleet, modes=modes[~drop].reset_index(drop=True))
        text, extra, status = "none", np.nan, ""
        out = None
        if len(alt.modes):  # else nothing runs anywhere: no fleet
            try:
                form = build_fleet(cost, alt)
                out = solve_formulation(form, solver, options)
            except DeployCostError:  # e.g. a shared pool that no longer fits anywhere
                out = None
        if out is not None and out.x is not None:
            found = decode(form, out.x, out.status, backend, out.gap)
            text = describe_load(found.plan, model)
            extra = float(found.objective_per_day - result.objective_per_day)
            if found.status != Status.OPTIMAL:
                status = f" (not proven optimal, gap {found.gap})"
        elif out is not None and out.status != Status.INFEASIBLE:
            text = f"not found: the solver stopped ({out.message})"
        rows.append(
            {
                "model": model,
                "change": f"without {value}",
                "alternative": text + status,
                "extra_per_day": extra,
            }
        )
    return pd.DataFrame(rows, columns=["model", "change", "alternative", "extra_per_day"])


def describe_load(plan: FleetPlan, model: str) -> str:
    """Where ``model`` runs in ``result``: 'g6.xlarge int8 70 % + g5.xlarge int8 30 %', or
    'dropped (fusion ...)' when the fleet's fusion configuration leaves it out."""
    mine = plan.shares[(plan.shares.model == model) & (plan.shares["mode"] >= 0)]
    if mine.empty:
        return f"dropped (fusion {plan.fusion})"
    mine = mine.sort_values("share", ascending=False, kind="stable")
    return " + ".join(
        f"{r.instance} {r.precision} {100 * r.share:.0f} %" for r in mine.itertuples()
    )
