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
    chosen = form.options.table.iloc[np.nonzero(x[form.x] > 0.5)[0]]
    return [
        limit.explain(form, key, float(amount), chosen)
        for (limit, key), amount in zip(form.slack_limits, x[form.slack], strict=True)
        if amount > 1e-7
    ]


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
