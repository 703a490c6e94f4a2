"""Exact decomposition of a MILP whose blocks are tied only by a few rows and a choice.

A fleet's pools are independent once the configuration is chosen (which fusion, which
automation level: the binaries ``z``, one of which is 1) and a few coupling rows are set
aside (quality floor, quotas, budget, owned storage, end-to-end latency). For each value
of ``z``:

1. fix ``z`` (the fixed columns move to the row bounds: ``lb - A_F v_F <= A_R v_R <= ub -
   A_F v_F``), drop the coupling rows;
2. split what is left into connected blocks (rows and the columns they share) and solve
   each block alone; a column in no row sits at its cheaper bound.

The best value of ``z`` gives the optimum of the *relaxation* without the coupling rows, a
lower bound of the full problem. When that solution also meets the coupling rows it is
optimal for the full problem; when it does not (or a block is not solved to optimality),
``None`` tells the caller to solve the whole MILP. An infeasible relaxation proves the full
problem infeasible.

Branch and bound spends its time on cut rounds over the whole model (HiGHS separated ~10^4
cuts per round on a 50-model fleet); blocks of a few hundred columns close at the root.
"""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from deploycost.optimize.formulation import Milp
from deploycost.optimize.solvers import SolverOptions, SolverOutput, Status, relative_gap

TOL = 1e-6
IN_BLOCKS = "solved in blocks"  # the message of an answer found block by block


def solve_in_blocks(
    form, solver, options: SolverOptions, choice: np.ndarray, coupling: tuple[str, ...]
) -> SolverOutput | None:
    """Solve ``form.milp`` block by block for each ``choice`` column set to 1 (exactly one
    of them is 1 in every solution; see the module docstring); ``coupling``: prefixes of the
    row names set aside and checked after. With a MIP gap the blocks may stop at it: the
    answer then carries the summed bounds and its gap."""
    m = form.milp
    start = time.perf_counter()
    names = np.array(m.row_names, dtype=str)
    kept = ~np.any([np.char.startswith(names, p) for p in coupling], axis=0)
    best, bound = None, np.inf
    for j in choice:
        remaining = _remaining(options, start)
        if remaining is not None and remaining <= 0:
            return None
        limits = replace(options, time_limit_s=remaining)
        out = _solve_fixed(form, solver, limits, choice, (choice == j).astype(float), kept)
        if out is None:
            return None  # a block stopped without an answer: the caller solves the whole
        if out is False:
            continue
        objective, lower, x = out
        bound = min(bound, lower)
        if best is None or objective < best[0] - TOL * max(1.0, abs(best[0])):
            best = (objective, x)
    seconds = time.perf_counter() - start
    if best is None:
        return SolverOutput(
            Status.INFEASIBLE, None, None, None, None, seconds, "infeasible for every choice"
        )
    objective, x = best
    activity = m.A[~kept] @ x
    lb, ub = m.row_lb[~kept], m.row_ub[~kept]
    scale = TOL * np.maximum(1.0, np.abs(np.where(np.isfinite(ub), ub, lb)))
    if np.any(activity > ub + scale) or np.any(activity < lb - scale):
        return None  # a coupling row binds: only the whole MILP can tell
    gap = relative_gap(objective, bound)
    status = Status.OPTIMAL if gap is not None and gap <= 1e-9 else Status.FEASIBLE
    return SolverOutput(status, x, objective, bound, gap, seconds, IN_BLOCKS)


def _remaining(options: SolverOptions, start: float) -> float | None:
    if options.time_limit_s is None:
        return None
    return options.time_limit_s - (time.perf_counter() - start)


def _solve_fixed(form, solver, options, fixed_cols, fixed_values, kept):
    """(objective, lower bound, x) with ``fixed_cols`` at ``fixed_values`` and only the
    ``kept`` rows; False when infeasible; None when a block stopped without an answer."""
    m = form.milp
    n = len(m.c)
    free = np.ones(n, bool)
    free[fixed_cols] = False
    x = np.zeros(n)
    x[fixed_cols] = fixed_values
    A = m.A.tocsr()[kept]
    shift = A @ x
    row_lb, row_ub = m.row_lb[kept] - shift, m.row_ub[kept] - shift
    A = A.tocsc()[:, free].tocsr()
    cols = np.nonzero(free)[0]
    # rows left without a column must hold on their own
    empty = np.diff(A.indptr) == 0
    if np.any(row_lb[empty] > TOL) or np.any(row_ub[empty] < -TOL):
        return False
    live = ~empty
    A, row_lb, row_ub = A[live], row_lb[live], row_ub[live]
    names = np.array(m.row_names, dtype=object)[kept][live]
    n_rows = A.shape[0]
    graph = sp.bmat([[None, A], [A.T, None]]).tocsr()  # rows and columns as one graph
    _, label = connected_components(graph, directed=False)
    row_block, col_block = label[:n_rows], label[n_rows:]
    in_row = np.diff(A.tocsc().indptr) > 0
    lone = ~in_row
    c = m.c[cols]
    lower = 0.0  # the blocks' bounds below their answers (0 when each is optimal)
    x[cols[lone]] = np.where(c[lone] >= 0, m.col_lb[cols[lone]], m.col_ub[cols[lone]])
    if not np.all(np.isfinite(x[cols[lone]])):
        return None
    for b in np.unique(col_block[in_row]):
        r = np.nonzero(row_block == b)[0]
        k = np.nonzero(col_block == b)[0]
        sub = Milp(
            c=c[k],
            A=A[r][:, k],
            row_lb=row_lb[r],
            row_ub=row_ub[r],
            col_lb=m.col_lb[cols[k]],
            col_ub=m.col_ub[cols[k]],
            integrality=m.integrality[cols[k]],
            row_names=list(names[r]),
        )
        out = solver(replace(form, milp=sub), options)
        if out.status == Status.INFEASIBLE:
            return False
        if out.x is None or out.status not in (Status.OPTIMAL, Status.FEASIBLE):
            return None
        if out.status == Status.FEASIBLE and out.bound is None:
            return None  # no bound to answer for the block's gap
        x[cols[k]] = out.x
        if out.status != Status.OPTIMAL:  # a proven block adds nothing (its solver's rule)
            lower += (out.bound if out.bound is not None else out.objective) - out.objective
    ints = m.integrality > 0
    x[ints] = np.round(x[ints])  # as exact as a whole-MILP answer after rounding
    objective = float(m.c @ x)
    return objective, objective + lower, x
