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

from deploycost.optimize.formulation import Milp
from deploycost.optimize.solvers import (
    Capabilities,
    SolverOptions,
    SolverOutput,
    Status,
    relative_gap,
)

CAPABILITIES = Capabilities(fleets=True)


def to_pulp(m: Milp) -> tuple[pulp.LpProblem, list[pulp.LpVariable]]:
    """The MILP as PuLP objects (generic names: PuLP rewrites brackets and slashes)."""
    prob = pulp.LpProblem("deploycost", pulp.LpMinimize)
    variables = [
        prob.add_variable(
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


def cbc_binary() -> str:
    """The CBC executable: the one ``pulp[cbc]`` installs (cbcbox), by its path rather
    than through PATH (a ``cbc`` on PATH is missing when the environment's bin folder is
    not on it); else the binary PuLP bundles."""
    try:
        import cbcbox
    except ImportError:
        return pulp.PULP_CBC_CMD().path
    return cbcbox.cbc_bin_path()


def _bound_from_log(text: str) -> float | None:
    found = re.search(r"best possible\s+(-?[\d.eE+-]+)", text) or re.search(
        r"Lower bound:\s+(-?[\d.eE+-]+)", text
    )
    return float(found.group(1)) if found else None


def solve(m: Milp, options: SolverOptions | None = None) -> SolverOutput:
    options = options or SolverOptions()
    start = time.perf_counter()
    prob, variables = to_pulp(m)
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "cbc.log"
        solver = pulp.COIN_CMD(
            path=cbc_binary(),
            msg=False,
            timeLimit=options.time_limit_s,
            gapRel=options.mip_gap,
            logPath=str(log),
            options=list(m.cbc_options),
        )
        prob.solve(solver)
        text = log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""
    seconds = time.perf_counter() - start
    x = np.array([v.varValue or 0.0 for v in variables])
    lp_only = not np.any(m.integrality)
    status, bound, gap = classify(prob.status, prob.sol_status, text, float(m.c @ x), lp_only)
    if status in (Status.INFEASIBLE, Status.NOT_SOLVED):
        return SolverOutput(status, None, None, None, None, seconds, pulp.LpStatus[prob.status])
    return SolverOutput(status, x, float(m.c @ x), bound, gap, seconds, status.value)


def classify(
    lp_status: int, sol_status: int, log: str, objective: float, lp_only: bool = False
) -> tuple[Status, float | None, float | None]:
    """Status, best bound and gap from PuLP's two statuses and CBC's log.

    PuLP maps CBC's "Stopped on time - objective value ..." to status *Optimal* with
    solution status *integer feasible*, so the statuses alone cannot tell a proven optimum
    from a stop on a limit. CBC's log can: "Result - Stopped on ..." is a stop, and
    "Result - Optimal solution found" with a reported gap of zero is a proof (CBC adds
    "(within gap tolerance)" even when the tolerance is zero, so the gap line decides).
    A model without integer columns (``lp_only``) prints no MIP result at all: PuLP's
    optimal statuses are the simplex's proof.
    """
    if lp_status == pulp.LpStatusInfeasible:
        return Status.INFEASIBLE, None, None
    if sol_status not in (pulp.LpSolutionOptimal, pulp.LpSolutionIntegerFeasible):
        return Status.NOT_SOLVED, None, None
    if lp_only and lp_status == pulp.LpStatusOptimal and sol_status == pulp.LpSolutionOptimal:
        return Status.OPTIMAL, objective, 0.0  # no integer column: the simplex proves it
    # CBC prints "Gap: -" when objective and bound are both 0 (a model that costs nothing)
    reported = re.search(r"^Gap:\s+(-?\d[\d.eE+-]*)", log, re.MULTILINE)
    gap = float(reported.group(1)) if reported else None
    finished = "Result - Optimal solution found" in log and "Stopped on" not in log
    if sol_status == pulp.LpSolutionOptimal and finished and (gap is None or gap <= 1e-9):
        return Status.OPTIMAL, objective, 0.0
    bound = _bound_from_log(log)
    return Status.FEASIBLE, bound, gap if gap is not None else relative_gap(objective, bound)
