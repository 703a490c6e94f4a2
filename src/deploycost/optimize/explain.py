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

from dataclasses import replace

import numpy as np

from deploycost.optimize.formulation import Formulation, build
from deploycost.optimize.solvers import SolverOptions, Status, get_backend

EXPLAIN_MIN_S = 10.0
EXPLAIN_FACTOR = 20.0


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


def explanation_budget_s(options: SolverOptions, solve_s: float) -> float:
    """Seconds the explanation may take: the solve's own time limit when one was set, else
    twenty times what the proof of infeasibility took (at least ten seconds)."""
    if options.time_limit_s is not None:
        return options.time_limit_s
    return max(EXPLAIN_MIN_S, EXPLAIN_FACTOR * solve_s)


def explain_infeasible(
    form: Formulation, backend: str, options: SolverOptions, solve_s: float = 0.0
) -> list[str]:
    """Why no deployment exists: per-model impossibilities, then the shortfall of each
    coupled limit (a re-solve with priced slack, within ``explanation_budget_s``)."""
    lines = impossible_configurations(form)
    if len(lines) == len(form.cost.space.fusions):
        return lines
    budget = explanation_budget_s(options, solve_s)
    relaxed = build(form.cost, form.options, with_slack=True)
    solver = get_backend("scipy-highs" if backend == "exhaustive" else backend)
    out = solver(relaxed, replace(options, time_limit_s=budget, mip_gap=0.0))
    if out.x is None:
        if out.status == Status.INFEASIBLE:
            return lines + ["no deployment exists even with the coupled limits relaxed"]
        return lines + [
            f"the explanation did not finish within {budget:.3g} s (pass a larger "
            f"--time-limit): no relaxed deployment was found to measure the shortfalls"
        ]
    found = slack_report(relaxed, out.x)
    if out.status != Status.OPTIMAL:
        found.append(
            f"the explanation stopped at its {budget:.3g} s limit before proving these "
            f"shortfalls minimal: each is an upper bound (pass a larger --time-limit)"
        )
    return lines + found
