"""Exact optimum of blocks tied by one binding ``>=`` row, from each block's frontier.

When the blocks' answer for a choice misses a single row ``sum_b g_b(x_b) >= need`` (the
quality floor: a pool whose models run at lower precisions gives up quality for cost),
the optimum for that choice takes, in every block, a point of the block's *frontier*:
the cheapest block answer whose share of the row reaches a level. Per block, from its
answer p_0 = (cost f_0, share g_0):

* ``p_{i+1}`` is the block's optimum with the extra row ``g_b(x) >= g_i + eps_b``, with
  ``eps_b`` half the smallest gap between the values g_b can take (the row's columns are
  binaries, each in one exactly-one row of the block, so those values are sums of one
  coefficient per such row, enumerated here; too many or too close: no answer);
* every block answer x is matched by a point of no lower share and no higher cost: if
  ``g(x) > g_i`` then ``g(x) >= g_i + 2 eps_b``, so x is feasible where p_{i+1} is optimal;
  and ``f(p_{i+1}) >= f(p_i)`` (a tighter block);
* so the points past the last one found are all matched by an *optimistic* point: the last
  cost with the largest share the block can take.

A multiple-choice knapsack over the points (dynamic programming over (share, cost) pairs,
dominated pairs dropped) picks one per block; while it picks an optimistic point, that
block's frontier grows by one point; when it picks none, its pick is the optimum (every
answer is matched by points no cheaper). Each point is one block solve of a few hundred
columns, where the whole MILP spends its time in cut rounds over every block at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import scipy.sparse as sp

from deploycost.optimize.formulation import Milp
from deploycost.optimize.solvers import Status, solve_many

MAX_VALUES = 100_000  # distinct shares a block may take, enumerated
MIN_GAP = 1e-5  # relative: closer shares would sit inside the solvers' tolerances
MAX_POINTS = 1_000  # block solves before handing the choice to the whole MILP


@dataclass
class _Block:
    cols: np.ndarray  # the block's columns in the whole MILP
    sub: Milp
    coef: np.ndarray  # the row's coefficients on them
    values: np.ndarray  # the shares it may take (sorted)
    points: list[tuple[float, float, np.ndarray]] = field(default_factory=list)  # (f, g, x)
    done: bool = False  # no higher share is feasible

    @property
    def eps(self) -> float:
        """Half the smallest gap between shares (inf: one share only)."""
        return float(np.diff(self.values).min()) / 2 if len(self.values) > 1 else np.inf

    @property
    def largest(self) -> float:
        return float(self.values[-1])


def raise_row(m: Milp, row: int, fixed, solve_part, tol: float):
    """The solution of the cheapest answer of the choice ``fixed`` (an
    ``optimize.blocks.Fixed``) that meets ``row`` (``lb <= A x``); False when no answer
    reaches the row; None when the row's structure or a block solve allows no proof."""
    if np.isfinite(m.row_ub[row]) or not np.isfinite(m.row_lb[row]):
        return None
    coef = m.A.getrow(row).toarray().ravel()
    if np.any(coef[fixed.lone]):
        return None  # a column in no block would have to move
    x = fixed.x.copy()
    in_block = np.zeros(len(coef), bool)
    blocks = []
    for cols, sub in fixed.parts:
        in_block[cols] = True
        share = coef[cols]
        if not np.any(share):
            continue
        values = _share_values(sub, share)
        if values is None:
            return None
        xb = x[cols]
        block = _Block(cols, sub, share, values, [(float(sub.c @ xb), float(share @ xb), xb)])
        block.done = not np.isfinite(block.eps)  # one value only
        blocks.append(block)
    need = m.row_lb[row] - coef[~in_block] @ x[~in_block] - tol * max(1.0, abs(m.row_lb[row]))
    if len(blocks) == 1:  # one block moves: its optimum with the row is the answer, at once
        return _with_row(blocks[0], need, x, solve_part)
    while True:
        best = _knapsack(blocks, need)
        if best is None:
            return False  # not even the unexplored shares at their best would reach it
        _, picks = best
        unknown = [b for b, k in zip(blocks, picks, strict=True) if k == len(b.points)]
        if not unknown:
            break
        if sum(len(b.points) for b in blocks) + len(unknown) > MAX_POINTS:
            return None  # a frontier this long is no faster than the whole MILP
        if not all(solve_many(lambda b: _extend(b, solve_part), unknown)):
            return None
    for b, k in zip(blocks, picks, strict=True):
        x[b.cols] = b.points[k][2]
    return x


def _at_least(block: _Block, level: float) -> Milp:
    """The block's MILP with one more row: its share of the coupling row >= ``level``."""
    sub = block.sub
    return replace(
        sub,
        A=sp.vstack([sub.A, sp.csr_matrix(block.coef[None, :])]).tocsr(),
        row_lb=np.append(sub.row_lb, level),
        row_ub=np.append(sub.row_ub, np.inf),
        row_names=[*sub.row_names, "frontier"],
    )


def _with_row(block: _Block, need: float, x: np.ndarray, solve_part):
    """The solution with ``block`` at its cheapest answer whose share reaches ``need`` (the
    other blocks as they are); False when none does, None when the solve proves nothing."""
    sub = block.sub
    out = solve_part(_at_least(block, need))
    if out.status == Status.INFEASIBLE:
        return False
    if out.status != Status.OPTIMAL or out.x is None:
        return None
    x = x.copy()
    x[block.cols] = np.where(sub.integrality > 0, np.round(out.x), out.x)
    return x


def _extend(block: _Block, solve_part) -> bool:
    """One more frontier point (or ``done``); False when the solve proves nothing."""
    level = block.points[-1][1] + block.eps
    sub = block.sub
    out = solve_part(_at_least(block, level))
    if out.status == Status.INFEASIBLE:
        block.done = True
        return True
    if out.status != Status.OPTIMAL or out.x is None:
        return False
    xb = np.where(sub.integrality > 0, np.round(out.x), out.x)
    share = float(block.coef @ xb)
    if share < level - block.eps / 2:
        return False  # the solver's answer misses its own row
    block.points.append((float(sub.c @ xb), share, xb))
    return True


def _knapsack(blocks: list[_Block], need: float) -> tuple[float, tuple[int, ...]] | None:
    """(cost, point per block) of the cheapest pick whose shares sum to ``need`` or more,
    among each block's points and, while its frontier is open, an optimistic point past
    them (index ``len(points)``: the last cost, the largest share the block can take) that
    no unexplored point beats; on equal cost the pick with fewer of those."""
    states = [(0.0, (0.0, 0), ())]  # (share, (cost, optimistic picks), picks)
    for b in blocks:
        options = [(f, g, 0) for f, g, _ in b.points]
        if not b.done:
            options.append((b.points[-1][0], b.largest, 1))
        grown = [
            (g + pg, (f + pf, n + po), picks + (k,))
            for g, (f, n), picks in states
            for k, (pf, pg, po) in enumerate(options)
        ]
        grown.sort(key=lambda s: (-s[0], s[1]))
        states, cheapest = [], (np.inf, 0)
        for state in grown:  # keep the pairs no other beats in both share and cost
            if state[1] < cheapest:
                states.append(state)
                cheapest = state[1]
    reach = [s for s in states if s[0] >= need]
    if not reach:
        return None
    _, (cost, _), picks = min(reach, key=lambda s: s[1])
    return cost, picks


def _share_values(sub: Milp, share: np.ndarray) -> np.ndarray | None:
    """The values ``share @ x`` can take (a superset, sorted) when every column of the row
    is a non-negative integer in exactly one row ``sum x = 1`` of all-one coefficients (so
    a binary choosing one coefficient of that row); None when the row is not of that form,
    takes too many values or values closer than the solvers' tolerances tell apart."""
    A = sub.A.tocsr()
    nnz = np.diff(A.indptr)
    integer = (sub.integrality > 0) & (sub.col_lb >= 0)
    ones = np.zeros(len(nnz), bool)
    ones[nnz > 0] = (
        np.add.reduceat((A.data == 1) & integer[A.indices], A.indptr[:-1][nnz > 0]) == nnz[nnz > 0]
    )
    groups = A[ones & (sub.row_lb == 1) & (sub.row_ub == 1)]
    used = np.nonzero(share)[0]
    if groups.shape[0] == 0 or np.any(groups[:, used].getnnz(axis=0) != 1):
        return None
    values = np.zeros(1)
    for g in np.unique(groups[:, used].tocoo().row):
        options = share[groups.indices[groups.indptr[g] : groups.indptr[g + 1]]]
        values = np.unique(np.round((values[:, None] + options[None, :]).ravel(), 12))
        if len(values) > MAX_VALUES:
            return None
    if len(values) > 1 and np.diff(values).min() < MIN_GAP * max(1.0, np.abs(values).max()):
        return None
    return values
