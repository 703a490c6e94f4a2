"""Exhaustive enumeration, vectorized: every combination of one option per unit of each
(fusion configuration, automation level) and one tier per data source, checked against
every limit of the registry (``optimize.limits``) computed from the option table, not from
the MILP rows, so it is an independent second opinion for small problems."""

from __future__ import annotations

import time

import numpy as np

from deploycost.errors import DeployCostError
from deploycost.optimize.formulation import Formulation
from deploycost.optimize.layout import tighten_latency
from deploycost.optimize.limits import Picks, check
from deploycost.optimize.solvers import Capabilities, SolverOptions, SolverOutput, Status

CAPABILITIES = Capabilities(
    fleets=False,
    why_not="it enumerates one option per model; a fleet splits load continuously",
    oracle=True,
)

MAX_COMBINATIONS = 20_000_000
CHUNK = 200_000
FEASIBILITY_TOL = 1e-9  # relative, as tight as the MILP backends' own tolerances allow


def _grid(sizes: list[int], start: int, stop: int) -> np.ndarray:
    """Rows ``start..stop`` of the mixed-radix enumeration of ``sizes`` (one column each)."""
    flat = np.arange(start, stop)
    out = np.empty((len(flat), len(sizes)), np.intp)
    for j in range(len(sizes) - 1, -1, -1):
        flat, out[:, j] = np.divmod(flat, sizes[j])
    return out


def solve(form: Formulation, options: SolverOptions | None = None) -> SolverOutput:
    del options  # enumeration always runs to the end
    start_time = time.perf_counter()
    space, units = form.cost.space, form.options.units
    unit_of = form.options.columns["unit"]
    c = form.milp.c
    unit_rows = [np.nonzero(unit_of == u)[0] for u in range(len(units.model))]
    y_choices = [np.nonzero(form.y_pairs[:, 0] == s)[0] for s in range(len(space.sources))]

    best_cost, best = np.inf, None
    for zj, (f, _) in enumerate(form.z_pairs):
        members = [u for u in range(len(units.model)) if units.fusion[u] == f]
        choice_lists = [unit_rows[u] for u in members] + y_choices
        sizes = [len(rows) for rows in choice_lists]
        if min(sizes, default=1) == 0:
            continue
        total = int(np.prod(sizes, dtype=float))
        if total > MAX_COMBINATIONS:
            raise DeployCostError(
                f"exhaustive: {total:,} combinations for fusion "
                f"{space.fusions[f]!r} exceed {MAX_COMBINATIONS:,}; use "
                f"scipy-highs or pulp-cbc"
            )
        for lo in range(0, total, CHUNK):
            idx = _grid(sizes, lo, min(total, lo + CHUNK))
            picked = np.stack([choice_lists[j][idx[:, j]] for j in range(len(sizes))], axis=1)
            x_cols = picked[:, : len(members)]
            y_cols = picked[:, len(members) :]
            cost = (
                c[form.z.start + zj] + c[x_cols].sum(axis=1) + c[form.y.start + y_cols].sum(axis=1)
            )
            picks = Picks.from_options(form, f, x_cols, form.y_pairs[y_cols, 1], cost)
            ok = np.ones(len(cost), bool)
            for checked in check(form, picks):
                ok &= checked.ok(FEASIBILITY_TOL)
            if not ok.any():
                continue
            k = int(np.argmin(np.where(ok, cost, np.inf)))
            if cost[k] < best_cost - 1e-12:
                best_cost = float(cost[k])
                best = (zj, x_cols[k], y_cols[k])
    seconds = time.perf_counter() - start_time
    if best is None:
        return SolverOutput(Status.INFEASIBLE, None, None, None, None, seconds, "no combination")
    zj, x_cols, y_cols = best
    x = np.zeros(len(c))
    x[x_cols] = 1.0
    x[form.z.start + zj] = 1.0
    x[form.y.start + y_cols] = 1.0
    x = tighten_latency(form, x)
    return SolverOutput(Status.OPTIMAL, x, float(c @ x), float(c @ x), 0.0, seconds, "enumerated")
