"""Price sweeps that are exact where they can be: breakpoints on a line, certified boxes.

The optimal daily cost ``V(p) = min_x Q_x . p`` is concave and piecewise linear in the
price vector p (the feasible deployments do not depend on prices unless a budget is set).
Sweep parameters scale disjoint groups of prices, so p is affine in the parameters
theta and V is concave in theta too. Two certificates follow:

* **line**: if one deployment is optimal at both ends of an interval, it is optimal on the
  whole interval; if two deployments a, b differ, the solve at the price where their cost
  lines cross either finds nothing cheaper (a breakpoint, exact) or a new deployment that
  splits the interval. k pieces take about 2k + 1 solves.
* **envelope** (grid, random, lhs, csv): the known deployments' cost planes form an upper
  envelope ``min_d Q_d . p(theta)``, linear on each cell (the region where deployment d is
  the cheapest known one, a polytope within the box of the sweep). If a solve at every
  vertex of a cell finds nothing cheaper, concavity makes ``V`` equal to the envelope on
  the whole cell (any point is a convex combination of vertices), so every scenario in it
  is certified. Otherwise the vertex solves found new deployments: add them and repeat.
  This generalises "a grid cell whose corners share an optimum is certified": the cells
  are the envelope's own, and a scenario is answered by one matrix product ``Q @ P.T``.

Every output row says how its answer was obtained: ``solved`` or ``certified (...)``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import linprog
from scipy.spatial import HalfspaceIntersection

from deploycost.analysis.sweep_spec import (
    Parameter,
    SweepSpec,
    price_matrix,
    scenario_points,
)
from deploycost.analysis.sweep_store import PointResult, Store
from deploycost.catalog import COMMITTED_PLANS
from deploycost.cost.deployments import from_specs
from deploycost.cost.model import COMPONENTS, CostModel
from deploycost.cost.prices import build_prices
from deploycost.errors import DeployCostError
from deploycost.optimize.result import FleetPlan, Plan
from deploycost.optimize.solve import solve
from deploycost.scenario.schema import DeploymentSpec, Scenario

REL_TOL = 1e-9


# ---------------------------------------------------------------------------------------
# solving with a cache of distinct optimal deployments


@dataclass(frozen=True)
class FleetChoice:
    """A fleet as a sweep tells decisions apart: per model its shares over types, per
    pool its instances per type and plan (committed count, on-demand and spot ranges)."""

    fusion: str
    automation: str
    data_tiers: dict[str, str]
    models: dict[str, str]
    pools: dict[str, str]

    @classmethod
    def of(cls, plan: FleetPlan) -> FleetChoice:
        models: dict[str, list[str]] = {}
        for r in plan.shares.itertuples():
            share = "standby" if r.mode < 0 else f"{r.share:.1%}"
            models.setdefault(r.model, []).append(f"{share} {r.instance} {r.precision}")
        pools: dict[str, list[str]] = {}
        for (pool, inst, bought), g in plan.counts.groupby(["pool", "instance", "plan"]):
            lo, hi = int(g.instances.min()), int(g.instances.max())
            span = f"{hi}" if lo == hi or bought in COMMITTED_PLANS else f"<={hi}"
            pools.setdefault(pool, []).append(f"{span} x {inst} {bought}")
        return cls(
            str(plan.fusion),
            str(plan.automation),
            dict(plan.data_tiers),
            {m: " + ".join(v) for m, v in models.items()},
            {p: ", ".join(v) for p, v in pools.items()},
        )

    def as_dict(self) -> dict:
        return {"kind": "fleet", **self.__dict__}


@dataclass
class Decisions:
    """Distinct optimal deployments (or fleets) seen so far, with their quantity vectors."""

    specs: list[DeploymentSpec] = field(default_factory=list)
    keys: dict[str, int] = field(default_factory=dict)
    q: list[np.ndarray] = field(default_factory=list)  # (P,) each
    q_components: list[np.ndarray] = field(default_factory=list)  # (6, P) each

    def add(
        self, spec: DeploymentSpec | FleetChoice, cost: CostModel, q: list | None = None
    ) -> int:
        """The decision's index; a fleet brings its (6, P) component quantities ``q``
        (a fleet is not a deployment the ledger can price)."""
        raw = spec.as_dict() if isinstance(spec, FleetChoice) else spec.model_dump(mode="json")
        key = json.dumps(raw, sort_keys=True)
        if key in self.keys:
            return self.keys[key]
        if isinstance(spec, FleetChoice):
            comp = np.asarray(q, float)
        else:
            comp = cost.quantities(from_specs(cost.scn, [spec])).component_quantities()
        self.keys[key] = len(self.specs)
        self.specs.append(spec)
        self.q.append(comp.sum(axis=0))
        self.q_components.append(comp)
        return self.keys[key]

    @property
    def matrix(self) -> np.ndarray:
        return np.array(self.q) if self.q else np.zeros((0, 0))


def decision_of(plan: Plan) -> DeploymentSpec | FleetChoice:
    """What tells two optima apart: a deployment itself, or a fleet's choices."""
    return FleetChoice.of(plan) if isinstance(plan, FleetPlan) else plan.deployment


def solve_point(scn: Scenario, prices: np.ndarray, backend: str) -> PointResult:
    """One full solve at one price vector (module level: Dask ships it to workers)."""
    result = solve(
        scn, backend=backend, runner_ups=False, prices=build_prices(scn).with_values(prices)
    )
    if not result.ok:
        return PointResult(result.status.value, None, None)
    decision = decision_of(result.plan)
    if isinstance(decision, FleetChoice):
        spec = decision.as_dict()
        q = result.plan.component_quantities.tolist()
    else:
        spec, q = decision.model_dump(mode="json"), None
    return PointResult(result.status.value, spec, result.objective_per_day, q)


# an executor yields the results in the order of the prices, each as soon as it is known
Executor = Callable[[Scenario, list[np.ndarray], str], Iterable[PointResult]]


def serial_executor(scn: Scenario, prices: list[np.ndarray], backend: str) -> Iterator[PointResult]:
    return (solve_point(scn, p, backend) for p in prices)


class Oracle:
    """Solves at parameter points, once each, in batches (parallel with an executor)."""

    def __init__(
        self,
        scn: Scenario,
        params: list[Parameter],
        backend: str,
        store: Store,
        executor: Executor = serial_executor,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        self.scn = scn
        self.params = params
        self.backend = backend
        self.store = store
        self.executor = executor
        self.progress = progress or (lambda n: None)
        self.cost = CostModel(scn)
        self.base = self.cost.prices.values
        self.decisions = Decisions()
        self.value: dict[str, float] = {}
        self.decision: dict[str, int] = {}
        self.solves = 0

    @staticmethod
    def key(theta: np.ndarray) -> str:
        return ",".join(repr(float(x)) for x in theta)

    def solve_many(self, thetas: Iterable[np.ndarray]) -> None:
        todo, seen = [], set()
        for theta in thetas:
            k = self.key(theta)
            if k not in self.decision and k not in seen:
                seen.add(k)
                todo.append((k, np.asarray(theta, float)))
        fresh = [(k, t) for k, t in todo if k not in self.store.solves]
        if fresh:
            prices = [price_matrix(self.base, self.params, t[None, :])[0] for _, t in fresh]
            # each result is logged as it arrives: a kill loses at most the solves in flight
            for (k, _), result in zip(
                fresh, self.executor(self.scn, prices, self.backend), strict=True
            ):
                self.store.record(k, result)
                self.solves += 1
                self.progress(1)
        for k, _ in todo:
            result = self.store.solves[k]
            if result.spec is None:
                self.decision[k] = -1
                self.value[k] = np.inf
                continue
            if result.spec.get("kind") == "fleet":
                fields = {k: v for k, v in result.spec.items() if k != "kind"}
                d = self.decisions.add(FleetChoice(**fields), self.cost, result.q)
            else:
                d = self.decisions.add(DeploymentSpec.model_validate(result.spec), self.cost)
            self.decision[k] = d
            self.value[k] = float(result.objective)

    def at(self, theta: np.ndarray) -> tuple[int, float]:
        self.solve_many([theta])
        k = self.key(theta)
        return self.decision[k], self.value[k]


# ---------------------------------------------------------------------------------------
# certification


def _line(
    oracle: Oracle, theta: np.ndarray, t: np.ndarray
) -> tuple[np.ndarray, list[str], list[dict]]:
    """Exact breakpoints along theta(t) = lo + t (hi - lo); decision and how for each point."""
    lo, hi = theta[0], theta[-1]

    def point(x: float) -> np.ndarray:
        return lo + x * (hi - lo)

    def prices(x: float) -> np.ndarray:
        return price_matrix(oracle.base, oracle.params, point(x)[None, :])[0]

    oracle.solve_many([point(0.0), point(1.0)])
    a, _ = oracle.at(point(0.0))
    b, _ = oracle.at(point(1.0))
    pieces: list[tuple[float, float, int]] = []
    breakpoints: list[dict] = []
    stack = [(0.0, a, 1.0, b)]
    while stack:
        t0, a, t1, b = stack.pop()
        if a == b or a < 0 or b < 0:
            pieces.append((t0, t1, a))
            continue
        q = oracle.decisions.matrix
        p0, p1 = prices(0.0), prices(1.0)
        diff = q[a] - q[b]
        slope = diff @ (p1 - p0)
        if abs(slope) <= REL_TOL * max(1.0, abs(q[a] @ p0)):
            pieces.append((t0, t1, a))  # identical cost lines: a serves the whole interval
            continue
        cross = float(np.clip(-(diff @ p0) / slope, t0, t1))
        c, value = oracle.at(point(cross))
        line_value = q[a] @ prices(cross)
        if c in (a, b) or value >= line_value - REL_TOL * max(1.0, abs(line_value)):
            pieces += [(t0, cross, a), (cross, t1, b)]
            breakpoints.append({"t": cross, "before": a, "after": b, "value": line_value})
            continue
        stack += [(cross, c, t1, b), (t0, a, cross, c)]
    pieces.sort()
    decision = np.empty(len(t), int)
    how = []
    for j, x in enumerate(t):
        t0, t1, d = next(p for p in pieces if p[0] - 1e-15 <= x <= p[1] + 1e-15)
        decision[j] = d
        if oracle.key(point(x)) in oracle.decision:
            how.append("solved")
        else:
            how.append(f"certified (line: same optimum at t={t0:.6g} and t={t1:.6g})")
    return decision, how, sorted(breakpoints, key=lambda b: b["t"])


def _affine(oracle: Oracle) -> tuple[np.ndarray, np.ndarray]:
    """``p(theta) = a0 + M theta``: the price vector is affine in the parameters."""
    k = len(oracle.params)
    a0 = price_matrix(oracle.base, oracle.params, np.zeros((1, k)))[0]
    m = np.stack(
        [price_matrix(oracle.base, oracle.params, np.eye(k)[j : j + 1])[0] - a0 for j in range(k)],
        axis=1,
    )
    return a0, m


def _cell_vertices(
    g: np.ndarray, h: np.ndarray, d: int, lo: np.ndarray, hi: np.ndarray
) -> np.ndarray:
    """Vertices of {theta in [lo, hi]: cost_d(theta) <= cost_e(theta) for all e}, where
    ``cost(theta) = h + g theta``; empty when the cell has no interior."""
    k = len(lo)
    rows = np.vstack([g[d] - np.delete(g, d, axis=0), np.eye(k), -np.eye(k)])
    rhs = np.concatenate([h[d] - np.delete(h, d), -hi, lo])  # rows . theta + rhs <= 0
    scale = np.linalg.norm(rows, axis=1)
    keep = scale > 1e-300
    rows, rhs, scale = rows[keep], rhs[keep], scale[keep]
    rows, rhs = rows / scale[:, None], rhs / scale
    if k == 1:  # an interval; qhull needs two dimensions
        a = rows[:, 0]
        upper = np.min(-rhs[a > 0] / a[a > 0])
        lower = np.max(-rhs[a < 0] / a[a < 0])
        tiny = 1e-12 * max(1.0, float(hi[0] - lo[0]))
        return np.array([[lower], [upper]]) if upper - lower > tiny else np.zeros((0, 1))
    # Chebyshev centre: max r s.t. rows . x + r <= -rhs
    res = linprog(
        np.r_[np.zeros(k), -1.0],
        A_ub=np.c_[rows, np.ones(len(rows))],
        b_ub=-rhs,
        bounds=[(None, None)] * k + [(0, None)],
        method="highs",
    )
    if res.status != 0 or res.x[-1] <= 1e-9 * max(1.0, float(np.max(hi - lo))):
        return np.zeros((0, k))
    return HalfspaceIntersection(np.c_[rows, rhs], res.x[:k]).intersections


def _envelope(oracle: Oracle, theta: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Solve at the vertices of the known cost envelope's cells until none is beaten."""
    lo, hi = theta.min(axis=0), theta.max(axis=0)
    free = hi > lo
    a0, m = _affine(oracle)

    def full(points: np.ndarray) -> np.ndarray:
        out = np.tile(lo, (len(points), 1))
        out[:, free] = points
        return out

    corners = (np.arange(2 ** free.sum())[:, None] >> np.arange(free.sum())) & 1
    oracle.solve_many(full(np.where(corners == 1, hi[free], lo[free])))
    while free.any():
        q = oracle.decisions.matrix
        g = q @ m[:, free]
        h = q @ (a0 + m[:, ~free] @ lo[~free])
        vertices = [v for d in range(len(q)) for v in _cell_vertices(g, h, d, lo[free], hi[free])]
        known = len(q)
        # neighbouring cells share vertices; qhull gives each a slightly different copy
        shared = np.unique(np.round(np.array(vertices), 10), axis=0)
        oracle.solve_many(full(shared))
        if len(oracle.decisions.specs) == known:
            break  # every vertex of every cell is solved and none found anything cheaper
    q = oracle.decisions.matrix
    costs = price_matrix(oracle.base, oracle.params, theta) @ q.T  # (S, D)
    decision = np.argmin(costs, axis=1)
    how = [
        "solved"
        if oracle.key(x) in oracle.decision
        else "certified (every vertex of its envelope cell solved)"
        for x in theta
    ]
    return decision, how


# ---------------------------------------------------------------------------------------
# results


@dataclass(frozen=True)
class SweepResult:
    table: pd.DataFrame
    breakpoints: pd.DataFrame
    solves: int
    decisions: list[DeploymentSpec]

    @property
    def certified_share(self) -> float:
        return float(self.table.how.str.startswith("certified").mean())


def _describe(spec: DeploymentSpec | FleetChoice, model: str) -> str:
    if model not in spec.models:
        return "-"
    c = spec.models[model]
    if isinstance(c, str):  # a fleet's shares
        return c
    return f"{c.replicas} x {c.instance} {c.precision}"


ARTIFACT = ("batch", "tier", "compression", "backups")


def _detail(spec: DeploymentSpec | FleetChoice, model: str) -> str:
    """``_describe`` with the batch and the artifact's storage (the sweep table's column)."""
    if model not in spec.models or isinstance(spec.models[model], str):
        return _describe(spec, model)
    c = spec.models[model]
    backups = f" +{c.backups} backup(s)" if c.backups else ""
    return f"{_describe(spec, model)} batch {c.batch}, {c.tier} {c.compression}{backups}"


def _changes(before: DeploymentSpec, after: DeploymentSpec, models: list[str]) -> str:
    parts = []
    for m in models:
        if _describe(before, m) != _describe(after, m):
            parts.append(f"{m} moves from {_describe(before, m)} to {_describe(after, m)}")
        elif _detail(before, m) != _detail(after, m):
            was, now = before.models[m], after.models[m]
            moved = ", ".join(
                f"{name} {getattr(was, name)} -> {getattr(now, name)}"
                for name in ARTIFACT
                if getattr(was, name) != getattr(now, name)
            )
            parts.append(f"{m} keeps {_describe(after, m)}; {moved}")
    if before.fusion != after.fusion:
        parts.append(f"fusion changes from {before.fusion} to {after.fusion}")
    for name in sorted(set(before.data_tiers) | set(after.data_tiers)):
        if before.data_tiers.get(name) != after.data_tiers.get(name):
            parts.append(
                f"data {name} moves from {before.data_tiers.get(name)} to "
                f"{after.data_tiers.get(name)}"
            )
    if before.automation != after.automation:
        parts.append(f"automation changes from {before.automation} to {after.automation}")
    if isinstance(before, FleetChoice) and isinstance(after, FleetChoice):
        for pool in sorted(set(before.pools) | set(after.pools)):
            was, now = before.pools.get(pool, "none"), after.pools.get(pool, "none")
            if was != now:
                parts.append(f"pool {pool} goes from {was} to {now}")
    return "; ".join(parts) or "an equally priced deployment takes over"


def _table(
    oracle: Oracle, theta: np.ndarray, decision: np.ndarray, how: list[str], t: np.ndarray
) -> pd.DataFrame:
    params = oracle.params
    prices = price_matrix(oracle.base, params, theta)
    rows = pd.DataFrame({"scenario": np.arange(len(theta))})
    if len(t):
        rows["t"] = t
    for j, p in enumerate(params):
        rows[p.spec.name] = theta[:, j]
    comp = np.full((len(theta), len(COMPONENTS)), np.nan)
    for d in np.unique(decision[decision >= 0]):
        sel = decision == d
        comp[sel] = prices[sel] @ oracle.decisions.q_components[d].T
    for j, name in enumerate(COMPONENTS):
        rows[name] = comp[:, j]
    rows["total"] = comp.sum(axis=1)
    rows["deployment"] = decision
    rows["status"] = np.where(decision >= 0, "optimal", "infeasible")
    specs = oracle.decisions.specs
    models = [m.name for m in oracle.scn.models]
    rows["fusion_config"] = [specs[d].fusion if d >= 0 else "" for d in decision]
    for m in models:
        rows[f"model:{m}"] = [_detail(specs[d], m) if d >= 0 else "" for d in decision]
    rows["automation"] = [specs[d].automation if d >= 0 else "" for d in decision]
    for src in oracle.scn.data_sources:
        rows[f"data:{src.name}"] = [
            specs[d].data_tiers.get(src.name, "") if d >= 0 else "" for d in decision
        ]
    rows["how"] = how
    rows["scenario_sha256"] = scenario_digest(oracle.scn)
    return rows


def scenario_digest(scn) -> str:
    """sha256 of the scenario as validated (canonical JSON): a sweep table carries it, so a
    report refuses the results of another scenario."""
    text = json.dumps(scn.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


RESULT_COLUMNS = (
    "scenario",
    "t",
    *COMPONENTS,
    "total",
    "deployment",
    "status",
    "fusion_config",
    "automation",
    "how",
    "scenario_sha256",
)


def parameter_columns(table: pd.DataFrame) -> list[str]:
    """The swept parameters' columns of a sweep table, by name (not by position)."""
    return [
        c
        for c in table.columns
        if c not in RESULT_COLUMNS and not c.startswith(("model:", "data:"))
    ]


def run_sweep(
    scn: Scenario,
    spec: SweepSpec,
    params: list[Parameter],
    backend: str = "scipy-highs",
    state_dir: Path | None = None,
    executor: Executor = serial_executor,
    progress: Callable[[int], None] | None = None,
    points: np.ndarray | None = None,
) -> SweepResult:
    """Sweep ``scn`` over ``spec`` (or over given parameter ``points``, one row each); with
    ``state_dir`` every solve is logged for resuming."""
    if points is not None and spec.mode == "line":
        raise DeployCostError("points cannot be given for a line sweep")
    theta, t = (
        scenario_points(spec, params)
        if points is None
        else (np.asarray(points, float), np.array([]))
    )
    fingerprint = hashlib.sha256(
        json.dumps(
            [scn.model_dump(mode="json"), spec.model_dump(mode="json"), backend], sort_keys=True
        ).encode()
        + theta.tobytes()
    ).hexdigest()
    store = Store(state_dir, fingerprint)
    try:
        return _run(
            scn, spec, params, theta, t, Oracle(scn, params, backend, store, executor, progress)
        )
    finally:
        store.close()


def _run(
    scn: Scenario,
    spec: SweepSpec,
    params: list[Parameter],
    theta: np.ndarray,
    t: np.ndarray,
    oracle: Oracle,
) -> SweepResult:
    breakpoints = pd.DataFrame(columns=["t", "description"])
    if scn.constraints.budget_per_day is not None:
        # a budget makes feasibility depend on prices: no certificate holds, solve each point
        oracle.solve_many(theta)
        decision = np.array([oracle.decision[oracle.key(x)] for x in theta])
        how = ["solved (a budget limit makes certificates invalid)"] * len(theta)
    elif oracle.at(theta[0])[0] < 0:
        # without a budget, prices do not change which deployments are feasible: none is
        decision = np.full(len(theta), -1)
        how = [
            "solved"
            if i == 0
            else "certified (infeasible at every price: limits do not depend on prices)"
            for i in range(len(theta))
        ]
    elif spec.mode == "line":
        decision, how, found = _line(oracle, theta, t)
        breakpoints = _breakpoint_table(oracle, theta, found)
    else:
        decision, how = _envelope(oracle, theta)
    table = _table(oracle, theta, decision, how, t)
    return SweepResult(table, breakpoints, oracle.solves, list(oracle.decisions.specs))


def _breakpoint_table(oracle: Oracle, theta: np.ndarray, found: list[dict]) -> pd.DataFrame:
    lo, hi = theta[0], theta[-1]
    start_cost = oracle.value[oracle.key(lo)]
    models = [m.name for m in oracle.scn.models]
    rows = []
    for b in found:
        at = lo + b["t"] * (hi - lo)
        where = ", ".join(
            f"{p.spec.name} {'x' if p.spec.scale == 'multiplier' else '='}{v:.6g}"
            for p, v in zip(oracle.params, at, strict=True)
        )
        change = (b["value"] - start_cost) / start_cost if start_cost else np.nan
        words = (
            f"at {where} (t={b['t']:.6g}): "
            f"{_changes(oracle.decisions.specs[b['before']], oracle.decisions.specs[b['after']], models)}"  # noqa: E501
            f"; total there {b['value']:,.2f} {oracle.scn.currency}/day "
            f"({change:+.1%} vs the start of the line)"
        )
        row = {"t": b["t"], "total_per_day": b["value"], "description": words}
        row.update({p.spec.name: v for p, v in zip(oracle.params, at, strict=True)})
        rows.append(row)
    return pd.DataFrame(
        rows, columns=["t", *[p.spec.name for p in oracle.params], "total_per_day", "description"]
    )
