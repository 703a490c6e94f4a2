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
optimal for the full problem. When it misses one ``>=`` row of the quality floor, each
value of ``z`` that could still beat the best answer so far is raised to that row exactly
(``optimize.frontier``: per block, its cheapest answers at rising shares of the row, then
a knapsack over them). Otherwise (another row binds, or a block is not solved to
optimality) ``None`` tells the caller to solve the whole MILP. An infeasible relaxation
proves the full problem infeasible.

Branch and bound spends its time on cut rounds over the whole model (HiGHS separated ~10^4
cuts per round on a 50-model fleet); blocks of a few hundred columns close at the root.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, replace

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from deploycost.optimize.formulation import Milp
from deploycost.optimize.frontier import raise_row
from deploycost.optimize.solvers import (
    SolverOptions,
    SolverOutput,
    Status,
    relative_gap,
    solve_many,
)

TOL = 1e-6
IN_BLOCKS = "solved in blocks"  # the message of an answer found block by block


@dataclass(frozen=True)
class Fixed:
    """The blocks' answer for one choice: cost, lower bound (the cost when every block is
    proven), the solution, each block as (its columns, its MILP), and the columns in no
    block (at their cheaper bound)."""

    objective: float
    lower: float
    x: np.ndarray
    parts: list[tuple[np.ndarray, Milp]]
    lone: np.ndarray


def solve_in_blocks(
    form,
    solver,
    options: SolverOptions,
    choice: np.ndarray,
    coupling: np.ndarray,
    raisable: np.ndarray | None = None,
) -> SolverOutput | None:
    """Solve ``form.milp`` block by block for each ``choice`` column set to 1 (exactly one
    of them is 1 in every solution; see the module docstring); ``coupling``: (rows,) True on
    the rows set aside and checked after; ``raisable``: (rows,) True on the coupling ``>=``
    rows a frontier may raise (none when not given). With a MIP gap the blocks may stop at
    it: the answer then carries the summed bounds and its gap."""
    m = form.milp
    start = time.perf_counter()
    kept = ~np.asarray(coupling, bool)
    raisable = np.zeros(len(kept), bool) if raisable is None else np.asarray(raisable, bool)
    solved: dict[bytes, SolverOutput] = {}  # blocks that recur under several choices

    def solve_part(sub: Milp) -> SolverOutput:
        key = _fingerprint(sub)
        if key not in solved:
            remaining = _remaining(options, start)
            if remaining is not None and remaining <= 0:
                return SolverOutput(Status.NOT_SOLVED, None, None, None, None, 0.0, "time")
            solved[key] = solver(replace(form, milp=sub), replace(options, time_limit_s=remaining))
        return solved[key]

    answers: list[Fixed] = []
    for j in choice:
        out = _solve_fixed(m, solve_part, choice, (choice == j).astype(float), kept)
        if out is None:
            return None  # a block stopped without an answer: the caller solves the whole
        if out is not False:
            answers.append(out)
    if not answers:
        return _output(Status.INFEASIBLE, None, start, "infeasible for every choice")
    best = answers[0]
    for out in answers[1:]:
        if _below(out.objective, best):
            best = out
    bound = min(out.lower for out in answers)
    if not _violated(m, kept, best.x).size:
        return _proven(best, bound, start)
    caps = _cost_caps(m, kept)
    if caps.size and bound > (cap := m.row_ub[caps].min()) + TOL * max(1.0, abs(cap)):
        return _output(
            Status.INFEASIBLE,
            None,
            start,
            f"the cheapest answer without the other coupling rows costs {bound:.6g}, over "
            f"the cap of {cap:.6g}",
        )
    return _repaired(m, (kept, raisable), answers, solve_part, options, start, caps)


def _repaired(m, rows, answers, solve_part, options, start, caps) -> SolverOutput | None:
    """The optimum when a coupling row binds: per choice (cheapest relaxation first, none
    that cannot beat the best so far), the blocks' answer if it meets the coupling rows,
    else ``frontier.raise_row`` when the only row it misses is a ``raisable`` one (``rows``
    = (kept, raisable) masks); None when neither applies (the caller solves the whole). An
    answer, exact for its choice, that misses only a cap on the cost (``caps``) proves the
    choice infeasible."""
    if options.mip_gap:
        return None  # the frontier is exact only over proven blocks
    kept, raisable = rows
    best, bound = None, np.inf
    for out in sorted(answers, key=lambda a: a.objective):
        if best is not None and not _below(out.lower, best):
            bound = min(bound, out.lower)
            continue
        if out.lower < out.objective:
            return None
        missed = np.setdiff1d(_violated(m, kept, out.x), caps)
        if missed.size:
            if missed.size > 1 or not raisable[missed[0]]:
                return None
            x = raise_row(m, int(missed[0]), out, solve_part, TOL)
            if x is False:
                continue  # this choice cannot reach the row
            if x is None or np.setdiff1d(_violated(m, kept, x), caps).size:
                return None
            objective = float(m.c @ x)
            out = Fixed(objective, objective, x, out.parts, out.lone)
        if np.intersect1d(_violated(m, kept, out.x), caps).size:
            continue  # the choice's cheapest answer is over the cap: so is every other
        bound = min(bound, out.lower)
        if best is None or _below(out.objective, best):
            best = out
    if best is None:
        return _output(Status.INFEASIBLE, None, start, "infeasible for every choice")
    return _proven(best, bound, start)


def _below(cost: float, best: Fixed) -> bool:
    """``cost`` beats the best answer so far by more than the tolerance (ties keep it)."""
    return cost < best.objective - TOL * max(1.0, abs(best.objective))


def _cost_caps(m: Milp, kept: np.ndarray) -> np.ndarray:
    """Coupling rows that cap the objective itself, ``c x <= ub`` (the budget)."""
    A = m.A.tocsr()
    support = np.count_nonzero(m.c)
    return np.array(
        [
            r
            for r in np.nonzero(~kept)[0]
            if np.isfinite(m.row_ub[r])
            and not np.isfinite(m.row_lb[r])
            and A.indptr[r + 1] - A.indptr[r] == support
            and np.array_equal(A[r].toarray().ravel(), m.c)
        ],
        np.intp,
    )


def _violated(m: Milp, kept: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Indices of the coupling rows (not ``kept``) that ``x`` misses."""
    rows = np.nonzero(~kept)[0]
    activity = m.A[rows] @ x
    lb, ub = m.row_lb[rows], m.row_ub[rows]
    scale = TOL * np.maximum(1.0, np.abs(np.where(np.isfinite(ub), ub, lb)))
    return rows[(activity > ub + scale) | (activity < lb - scale)]


def _proven(best: Fixed, bound: float, start: float) -> SolverOutput:
    gap = relative_gap(best.objective, bound)
    status = Status.OPTIMAL if gap is not None and gap <= 1e-9 else Status.FEASIBLE
    return SolverOutput(
        status, best.x, best.objective, bound, gap, time.perf_counter() - start, IN_BLOCKS
    )


def _output(status: Status, x, start: float, message: str) -> SolverOutput:
    return SolverOutput(status, x, None, None, None, time.perf_counter() - start, message)


def _remaining(options: SolverOptions, start: float) -> float | None:
    if options.time_limit_s is None:
        return None
    return options.time_limit_s - (time.perf_counter() - start)


def _solve_fixed(m: Milp, solve_part, fixed_cols, fixed_values, kept) -> Fixed | bool | None:
    """The blocks' answer with ``fixed_cols`` at ``fixed_values`` and only the ``kept``
    rows; False when infeasible; None when a block stopped without an answer.
    ``solve_part`` answers identical blocks once (a choice that only changes columns outside
    a block, e.g. an automation level's people cost, leaves the block as it was)."""
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
    parts = []
    x[cols[lone]] = np.where(c[lone] >= 0, m.col_lb[cols[lone]], m.col_ub[cols[lone]])
    if not np.all(np.isfinite(x[cols[lone]])):
        return None
    for b in np.unique(col_block[in_row]):
        r = np.nonzero(row_block == b)[0]
        k = np.nonzero(col_block == b)[0]
        sub = replace(
            m,
            c=c[k],
            A=A[r][:, k],
            row_lb=row_lb[r],
            row_ub=row_ub[r],
            col_lb=m.col_lb[cols[k]],
            col_ub=m.col_ub[cols[k]],
            integrality=m.integrality[cols[k]],
            row_names=list(names[r]),
        )
        parts.append((cols[k], sub))
    for (k, _), out in zip(parts, solve_many(solve_part, [sub for _, sub in parts]), strict=True):
        if out.status == Status.INFEASIBLE:
            return False
        if out.x is None or out.status not in (Status.OPTIMAL, Status.FEASIBLE):
            return None
        if out.status == Status.FEASIBLE and out.bound is None:
            return None  # no bound to answer for the block's gap
        x[k] = out.x
        if out.status != Status.OPTIMAL:  # a proven block adds nothing (its solver's rule)
            lower += (out.bound if out.bound is not None else out.objective) - out.objective
    ints = m.integrality > 0
    x[ints] = np.round(x[ints])  # as exact as a whole-MILP answer after rounding
    objective = float(m.c @ x)
    return Fixed(objective, objective + lower, x, parts, cols[lone])


def _fingerprint(m: Milp) -> bytes:
    """A digest of everything a solver reads from ``m``."""
    digest = hashlib.blake2b(digest_size=20)
    A = m.A.tocsr()
    for part in (m.c, A.data, A.indices, A.indptr, m.row_lb, m.row_ub, m.col_lb, m.col_ub):
        digest.update(np.ascontiguousarray(part).tobytes())
    digest.update(np.ascontiguousarray(m.integrality).tobytes())
    digest.update(repr(A.shape).encode())
    return digest.digest()
