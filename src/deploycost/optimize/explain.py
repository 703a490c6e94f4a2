"""Infeasibility in deployment terms, never a bare "infeasible".

Two layers:

* per model: when a limit removes every option of a model in a fusion configuration, the
  option grid's diagnostics name that limit and the nearest miss ("ranker: p99 <= 5 ms is
  out of reach; the fastest option, 1 x p5.4xlarge int8 batch 1, gives 7.2 ms");
* coupled limits (quality floor, end-to-end latency, quotas, budget, owned storage): the
  formulation is solved again with priced slack on those rows, and every slack in use is
  reported as a shortfall ("quota on p5.4xlarge (8) is short by 3 instances: 12,000
  requests/s of ranker traffic unserved").
"""

from __future__ import annotations

import numpy as np

from deploycost.optimize.formulation import Formulation, build
from deploycost.optimize.solvers import SolverOptions, get_backend


def impossible_configurations(form: Formulation) -> list[str]:
    """One sentence per fusion configuration that a per-model limit rules out."""
    diag = form.options.diagnostics
    lines = []
    for name in form.cost.space.fusions:
        empty = diag[(diag.fusion == name) & (diag.kept == 0)]
        if len(empty):
            lines.append(f"fusion {name!r} is impossible: " + "; ".join(empty.nearest_miss))
    return lines


def slack_report(form: Formulation, x: np.ndarray) -> list[str]:
    """Sentences for every slack in use in a solution of a ``with_slack`` formulation."""
    scn = form.cost.scn
    cons = scn.constraints
    table = form.options.table
    chosen = table.iloc[np.nonzero(x[form.x] > 0.5)[0]]
    lines = []
    for row, amount in zip(form.slack_rows, x[form.slack], strict=True):
        if amount <= 1e-7:
            continue
        key = row[row.index("[") + 1 : -1] if "[" in row else ""
        if row.startswith("quality_min"):
            lines.append(
                f"quality floor {cons.quality_floor:g}: fusion {key!r} reaches at most "
                f"{cons.quality_floor - amount:.6g} (short by {amount:.4g})"
            )
        elif row.startswith("latency_e2e_max"):
            lines.append(
                f"end-to-end p99 <= {cons.e2e_latency_ms:g} ms is out of reach for "
                f"fusion {key!r}: the fastest pipeline meeting the other limits needs "
                f"{cons.e2e_latency_ms + amount:.4g} ms (over by {amount:.4g} ms)"
            )
        elif row.startswith("quota_max"):
            on = chosen[chosen.instance == key]
            per_replica = float(on.throughput_qps.min()) if len(on) else 0.0
            who = ", ".join(sorted(set(on.model))) or "the fusion layer"
            lines.append(
                f"quota on {key} ({cons.quotas[key]}) is short by {amount:.4g} "
                f"instances: it leaves {amount * per_replica:,.0f} requests/s of "
                f"{who} traffic unserved"
            )
        elif row.startswith("budget_max"):
            lines.append(
                f"the cheapest deployment meeting every other limit costs "
                f"{cons.budget_per_day + amount:,.2f} {scn.currency}/day, "
                f"{amount:,.2f} over the budget of {cons.budget_per_day:,.2f}"
            )
        elif row.startswith("storage_capacity_max"):
            lines.append(
                f"owned storage {key} ({cons.owned_storage_gb[key]:,.4g} GB) is short "
                f"by {amount:,.4g} GB"
            )
    return lines


def explain_infeasible(form: Formulation, backend: str, options: SolverOptions) -> list[str]:
    lines = impossible_configurations(form)
    if len(lines) == len(form.cost.space.fusions):
        return lines
    relaxed = build(form.cost, form.options, with_slack=True)
    solver = get_backend("scipy-highs" if backend == "exhaustive" else backend)
    out = solver(relaxed, options)
    if out.x is None:
        return lines + ["no deployment exists even with the coupled limits relaxed"]
    return lines + slack_report(relaxed, out.x)
