"""Exhaustive enumeration, vectorized: every combination of one option per unit of each
(fusion configuration, automation level) and one tier per data source, checked against
every limit computed directly from the option table (not from the MILP rows), so it is
an independent second opinion for small problems."""

from __future__ import annotations

import time

import numpy as np

from deploycost.errors import DeployCostError
from deploycost.optimize.formulation import Formulation
from deploycost.optimize.solvers import SolverOptions, SolverOutput, Status

MAX_COMBINATIONS = 20_000_000
CHUNK = 200_000


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
    scn, space = form.cost.scn, form.cost.space
    table, units = form.options.table, form.options.units
    c = form.milp.c
    cons = scn.constraints
    unit_rows = [np.nonzero(table.unit.to_numpy() == u)[0] for u in range(len(units.model))]
    sources = len(space.sources)
    y_choices = [np.nonzero(form.y_pairs[:, 0] == s)[0] for s in range(sources)]
    p99 = table.p99_ms.to_numpy()
    delta = table.quality_delta.to_numpy()
    replicas = table.replicas.to_numpy()
    inst = table.instance_idx.to_numpy()
    tier = table.tier_idx.to_numpy()
    stored = table.stored_gb.to_numpy()
    data_gb = np.array([s.gb_per_day * s.retention_days for s in scn.data_sources])

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
        cfg = scn.fusion_configs[f]
        for lo in range(0, total, CHUNK):
            idx = _grid(sizes, lo, min(total, lo + CHUNK))
            picked = np.stack([choice_lists[j][idx[:, j]] for j in range(len(sizes))], axis=1)
            x_cols = picked[:, : len(members)]
            y_cols = picked[:, len(members) :]
            cost = (
                c[form.z.start + zj] + c[x_cols].sum(axis=1) + c[form.y.start + y_cols].sum(axis=1)
            )
            ok = np.ones(len(cost), bool)
            if cons.quality_floor is not None:
                q = form.fusion_quality[f]
                ok &= q + q * delta[x_cols].sum(axis=1) >= cons.quality_floor - 1e-9
            if cons.e2e_latency_ms is not None:
                e2e = np.zeros(len(cost))
                for _, stage_units in form.stages[f]:
                    cols = [members.index(u) for u in stage_units]
                    e2e += p99[x_cols[:, cols]].max(axis=1)
                ok &= e2e <= cons.e2e_latency_ms + 1e-9
            for name, quota in cons.quotas.items():
                if name not in space.instances:
                    continue
                h = space.instances.index(name)
                used = (replicas[x_cols] * (inst[x_cols] == h)).sum(axis=1)
                used = used + (cfg.replicas if cfg.instance == name else 0)
                ok &= used <= quota
            if cons.budget_per_day is not None:
                ok &= cost <= cons.budget_per_day + 1e-9
            for name, capacity in cons.owned_storage_gb.items():
                t = space.tiers.index(name)
                used = (stored[x_cols] * (tier[x_cols] == t)).sum(axis=1)
                if sources:
                    y_tier = form.y_pairs[y_cols, 1]
                    used = used + (data_gb[None, :] * (y_tier == t)).sum(axis=1)
                ok &= used <= capacity + 1e-9
            if not ok.any():
                continue
            k = int(np.argmin(np.where(ok, cost, np.inf)))
            if cost[k] < best_cost - 1e-12:
                best_cost = float(cost[k])
                best = (zj, x_cols[k], y_cols[k], f, members)
    seconds = time.perf_counter() - start_time
    if best is None:
        return SolverOutput(Status.INFEASIBLE, None, None, None, None, seconds, "no combination")
    zj, x_cols, y_cols, f, members = best
    x = np.zeros(len(c))
    x[x_cols] = 1.0
    x[form.z.start + zj] = 1.0
    x[form.y.start + y_cols] = 1.0
    col = form.latency.start
    for g, st in enumerate(form.stages):
        for _, stage_units in st:
            if col >= form.latency.stop:
                break
            if g == f:
                x[col] = max(p99[x_cols[members.index(u)]] for u in stage_units)
            col += 1
    return SolverOutput(Status.OPTIMAL, x, float(c @ x), float(c @ x), 0.0, seconds, "enumerated")
