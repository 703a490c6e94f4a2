"""CBC through PuLP. The matrices are handed over row by row from CSR slices.

PuLP reports status "Optimal" when CBC stopped on its time limit with an integer solution;
the solution status (``sol_status``) and CBC's own log tell the two apart, and the log
gives the best bound, hence the gap.
"""

from __future__ import annotations

import re
import tempfile
import time
from pathlib import Path

import numpy as np
import pulp

from deploycost.formulation import Formulation
from deploycost.solvers import SolverOptions, SolverOutput, Status, relative_gap


def to_pulp(form: Formulation) -> tuple[pulp.LpProblem, list[pulp.LpVariable]]:
    """The formulation as PuLP objects (generic names: PuLP rewrites brackets and slashes)."""
    m = form.milp
    prob = pulp.LpProblem("deploycost", pulp.LpMinimize)
    variables = [
        pulp.LpVariable(
            f"v{j}",
            lowBound=m.col_lb[j],
            upBound=None if np.isinf(m.col_ub[j]) else m.col_ub[j],
            cat=pulp.LpInteger if m.integrality[j] else pulp.LpContinuous,
        )
        for j in range(len(m.c))
    ]
    prob += pulp.LpAffineExpression(zip(variables, m.c.tolist(), strict=True))
    a = m.A.tocsr()
    for i in range(a.shape[0]):
        lo, hi = a.indptr[i], a.indptr[i + 1]
        expr = pulp.LpAffineExpression(
            zip([variables[j] for j in a.indices[lo:hi]], a.data[lo:hi].tolist(), strict=True)
        )
        lb, ub = m.row_lb[i], m.row_ub[i]
        if lb == ub:
            prob += pulp.LpConstraint(expr, pulp.LpConstraintEQ, f"r{i}", lb)
            continue
        if np.isfinite(lb):
            prob += pulp.LpConstraint(expr, pulp.LpConstraintGE, f"r{i}_lo", lb)
        if np.isfinite(ub):
            prob += pulp.LpConstraint(expr, pulp.LpConstraintLE, f"r{i}_hi", ub)
    return prob, variables


def _bound_from_log(text: str) -> float | None:
    found = re.search(r"best possible\s+(-?[\d.eE+-]+)", text) or re.search(
        r"Lower bound:\s+(-?[\d.eE+-]+)", text
    )
    return float(found.group(1)) if found else None


def solve(form: Formulation, options: SolverOptions | None = None) -> SolverOutput:
    options = options or SolverOptions()
    start = time.perf_counter()
    prob, variables = to_pulp(form)
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "cbc.log"
        solver = pulp.PULP_CBC_CMD(
            msg=False, timeLimit=options.time_limit_s, gapRel=options.mip_gap, logPath=str(log)
        )
        prob.solve(solver)
        text = log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""
    seconds = time.perf_counter() - start
    if prob.status == pulp.LpStatusInfeasible:
        return SolverOutput(Status.INFEASIBLE, None, None, None, None, seconds, "infeasible")
    if prob.sol_status not in (pulp.LpSolutionOptimal, pulp.LpSolutionIntegerFeasible):
        return SolverOutput(
            Status.NOT_SOLVED, None, None, None, None, seconds, pulp.LpStatus[prob.status]
        )
    x = np.array([v.varValue or 0.0 for v in variables])
    objective = float(form.milp.c @ x)
    proven = (
        "Stopped on" not in text
        and "within gap tolerance" not in text
        and "Result - Optimal solution found" in text
    )
    if prob.sol_status == pulp.LpSolutionOptimal and proven:
        return SolverOutput(Status.OPTIMAL, x, objective, objective, 0.0, seconds, "optimal")
    bound = _bound_from_log(text)
    return SolverOutput(
        Status.FEASIBLE,
        x,
        objective,
        bound,
        relative_gap(objective, bound),
        seconds,
        "stopped on a limit",
    )
