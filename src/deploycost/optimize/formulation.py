"""The deployment choice as a backend-neutral MILP: ``min c.v`` s.t. ``lb <= A v <= ub``.

Variables (columns):

* ``x[o]`` in {0, 1}: option o of its unit (a model inside one fusion configuration) is
  deployed; its cost ``c_o = q_o . p`` covers compute, model storage and compression.
* ``z[f, a]`` in {0, 1}: fusion configuration f is served at automation level a; its cost
  covers the fusion layer, the maintenance of f's members at level a, training and a's
  fixed cost (maintenance x automation is a product of two choices: pricing it per pair
  keeps the model linear).
* ``y[s, t]`` in {0, 1}: data source s is kept on tier t; its cost covers the whole data
  component of s.
* ``L[f, g] >= 0``: the p99 budget taken by stage g of configuration f.
* ``slack[row] >= 0`` (only when explaining infeasibility): shortfall of a coupled limit,
  priced far above any deployment so that it is used only when nothing else works.

Rows, each named after the limit it expresses (Z_f = sum_a z[f, a]):

* ``one_fusion``:                 sum_{f, a} z[f, a] = 1
* ``assign[f/i]``:                sum_{o in unit(f, i)} x[o] - Z_f = 0
* ``data_tier[s]``:               sum_t y[s, t] = 1
* ``quality_min[f]``:             sum_{o in f} Q_f d_o x[o] - (floor - Q_f) Z_f (+ slack) >= 0,
  i.e. the configuration's quality Q_f plus its members' precision deltas
  ``Q_f x quality_delta_rel(precision)`` reaches the floor when f is chosen;
* ``stage_latency[f/g/i]``:       sum_{o in unit(f, i)} p99_o x[o] - L[f, g] <= 0
* ``latency_e2e_max[f]``:         sum_g L[f, g] - SLO Z_f (- slack) <= 0; stages of a cascade
  run one after another (models sharing a ``stage`` run in parallel), the members of any
  other method run in parallel, so the optimiser splits the budget between stages;
* ``quota_max[h]``:               sum_{o on h} n_o x[o] + sum_{f, a} r_f [h_f = h] z[f, a]
  (- slack) <= quota_h;
* ``budget_max``:                 c.v (- slack) <= budget;
* ``storage_capacity_max[t]``:    sum_{o on t} GB_o x[o] + sum_s GB_s y[s, t] (- slack) <= owned_t.

Per-model limits (p99 SLO, utilisation, memory, cold start, min replicas) are enforced when
the option grid is built: only options that meet them become columns.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd
import scipy.sparse as sp

from deploycost.cost.model import CostModel
from deploycost.options.grid import OptionSet, enumerate_options

SLACK_PRICE_FACTOR = 1e6  # slack cost per unit, relative to the largest column cost


@dataclass(frozen=True)
class Milp:
    """``min c.v`` s.t. ``row_lb <= A v <= row_ub``, ``col_lb <= v <= col_ub``."""

    c: np.ndarray
    A: sp.csr_matrix
    row_lb: np.ndarray
    row_ub: np.ndarray
    col_lb: np.ndarray
    col_ub: np.ndarray
    integrality: np.ndarray  # 1 integer, 0 continuous
    row_names: list[str]


@dataclass(frozen=True)
class Formulation:
    """The MILP plus what its columns mean, for decoding and for the exhaustive backend."""

    milp: Milp
    cost: CostModel
    options: OptionSet
    x: slice
    z: slice
    y: slice
    latency: slice
    slack: slice
    z_pairs: np.ndarray  # (F*A, 2) fusion, automation
    y_pairs: np.ndarray  # (Y, 2) source, tier
    z_by_price: np.ndarray  # (F*A, P)
    y_by_price: np.ndarray  # (Y, P)
    fusion_quality: np.ndarray  # (F,)
    stages: list[list[tuple[str, list[int]]]]  # per f: [(stage name, [unit, ...]), ...]
    slack_rows: list[str] = field(default_factory=list)

    @property
    def column_costs(self) -> np.ndarray:
        return self.milp.c

    @cached_property
    def col_names(self) -> list[str]:
        """Column names, built on demand (inspection and debugging, not solving)."""
        space, units = self.cost.space, self.options.units
        unit_of = self.options.columns["unit"]
        # options are sorted by unit: an option's rank in its unit is its distance to the first
        within = np.arange(len(unit_of)) - np.searchsorted(unit_of, unit_of, side="left")
        unit_names = [
            f"{space.fusions[f]}/{space.models[i]}"
            for f, i in zip(units.fusion, units.model, strict=True)
        ]
        stage_names = [
            f"L[{space.fusions[f]}/{name}]" for f, st in enumerate(self.stages) for name, _ in st
        ]
        return (
            [f"x[{unit_names[u]}/{k}]" for u, k in zip(unit_of, within, strict=True)]
            + [f"z[{space.fusions[f]},{space.automation[a]}]" for f, a in self.z_pairs]
            + [f"y[{space.sources[s]},{space.tiers[t]}]" for s, t in self.y_pairs]
            + stage_names[: self.latency.stop - self.latency.start]
            + [f"slack[{name}]" for name in self.slack_rows]
        )


def fusion_quality(cost: CostModel) -> np.ndarray:
    """Q_f: the configuration's stated quality, else its best member's baseline quality."""
    scn = cost.scn
    return np.array(
        [
            f.quality if f.quality is not None else max(scn.model(m).quality for m in f.members)
            for f in scn.fusion_configs
        ]
    )


def pipeline_stages(cost: CostModel, options: OptionSet) -> list[list[tuple[str, list[int]]]]:
    """Per fusion configuration, its stages in order, each with the units that run in it."""
    scn, units = cost.scn, options.units
    out = []
    for f, cfg in enumerate(scn.fusion_configs):
        stages: dict[str, list[int]] = {}
        for unit in np.nonzero(units.fusion == f)[0]:
            model = scn.models[units.model[unit]]
            name = (model.stage or model.name) if cfg.method == "cascade" else "ensemble"
            stages.setdefault(name, []).append(int(unit))
        out.append(list(stages.items()))
    return out


class _Rows:
    """Accumulates sparse rows as COO triplets, one block of rows at a time."""

    def __init__(self) -> None:
        self.rows: list[np.ndarray] = []
        self.cols: list[np.ndarray] = []
        self.vals: list[np.ndarray] = []
        self.lb: list[float] = []
        self.ub: list[float] = []
        self.names: list[str] = []

    def add(self, name: str, cols: np.ndarray, vals: np.ndarray, lb: float, ub: float) -> int:
        row = len(self.names)
        cols = np.asarray(cols, np.intp)
        self.rows.append(np.full(len(cols), row, np.intp))
        self.cols.append(cols)
        self.vals.append(np.broadcast_to(np.asarray(vals, float), cols.shape))
        self.lb.append(lb)
        self.ub.append(ub)
        self.names.append(name)
        return row

    def add_block(
        self,
        names: list[str],
        local_rows: np.ndarray,
        cols: np.ndarray,
        vals: np.ndarray,
        lb: float,
        ub: float,
    ) -> None:
        """Rows ``names``; entry k goes to row ``local_rows[k]`` of the block."""
        first = len(self.names)
        self.rows.append(first + np.asarray(local_rows, np.intp))
        self.cols.append(np.asarray(cols, np.intp))
        self.vals.append(np.asarray(vals, float))
        self.lb.extend([lb] * len(names))
        self.ub.extend([ub] * len(names))
        self.names.extend(names)

    def matrix(self, n_cols: int) -> sp.csr_matrix:
        return sp.csr_matrix(
            (np.concatenate(self.vals), (np.concatenate(self.rows), np.concatenate(self.cols))),
            shape=(len(self.names), n_cols),
        )


def build(
    cost: CostModel,
    options: OptionSet | None = None,
    with_slack: bool = False,
    forbid: np.ndarray | None = None,
) -> Formulation:
    """Formulate the deployment choice; ``forbid`` marks option rows that may not be chosen."""
    scn, space = cost.scn, cost.space
    options = options or enumerate_options(cost)
    table, units = options.table, options.units
    prices = cost.prices.values
    n_x = len(table)
    f_count, a_count = len(space.fusions), len(space.automation)
    z_pairs = np.array([(f, a) for f in range(f_count) for a in range(a_count)], np.intp)
    z_by_price = cost.system_quantities(z_pairs[:, 0], z_pairs[:, 1])
    data = cost.data_quantities()
    y_pairs = np.array(
        [
            (s, space.tiers.index(t))
            for s, src in enumerate(scn.data_sources)
            for t in src.storage_tiers
        ],
        np.intp,
    ).reshape(-1, 2)
    y_by_price = data[y_pairs[:, 1], y_pairs[:, 0]] if len(y_pairs) else np.zeros((0, len(prices)))
    stages = pipeline_stages(cost, options)
    e2e = scn.constraints.e2e_latency_ms
    n_l = sum(len(s) for s in stages) if e2e is not None else 0
    x0, z0 = 0, n_x
    y0 = z0 + len(z_pairs)
    l0 = y0 + len(y_pairs)
    s0 = l0 + n_l
    arrays = options.columns
    unit_of = arrays["unit"]
    n_units = len(units.model)
    unit_names = [
        f"{space.fusions[f]}/{space.models[i]}"
        for f, i in zip(units.fusion, units.model, strict=True)
    ]
    c = np.concatenate(
        [arrays["cost_per_day"], z_by_price @ prices, y_by_price @ prices, np.zeros(n_l)]
    )
    rows = _Rows()
    slack_specs: list[tuple[int, float]] = []  # (row, sign of the slack's coefficient)
    z_cols_of = {f: z0 + np.nonzero(z_pairs[:, 0] == f)[0] for f in range(f_count)}

    rows.add("one_fusion", np.arange(z0, y0), 1.0, 1.0, 1.0)
    z_of_unit = z0 + units.fusion[:, None] * a_count + np.arange(a_count)  # (U, A)
    rows.add_block(
        [f"assign[{n}]" for n in unit_names],
        np.concatenate([unit_of, np.repeat(np.arange(n_units), a_count)]),
        np.concatenate([np.arange(n_x), z_of_unit.ravel()]),
        np.concatenate([np.ones(n_x), -np.ones(n_units * a_count)]),
        0.0,
        0.0,
    )
    for s, name in enumerate(space.sources):
        rows.add(f"data_tier[{name}]", y0 + np.nonzero(y_pairs[:, 0] == s)[0], 1.0, 1.0, 1.0)

    quality = fusion_quality(cost)
    floor = scn.constraints.quality_floor
    if floor is not None:
        for f in range(f_count):
            members = np.nonzero(units.fusion[unit_of] == f)[0]
            cols = np.concatenate([members, z_cols_of[f]])
            vals = np.concatenate(
                [
                    quality[f] * arrays["quality_delta"][members],
                    np.full(a_count, -(floor - quality[f])),
                ]
            )
            row = rows.add(f"quality_min[{space.fusions[f]}]", cols, vals, 0.0, np.inf)
            slack_specs.append((row, 1.0))

    if e2e is not None:
        stage_col = np.zeros(n_units, np.intp)  # the L column of each unit's stage
        stage_name = [""] * n_units
        col = l0
        for st in stages:
            for name, stage_units in st:
                stage_col[stage_units] = col
                for unit in stage_units:
                    stage_name[unit] = name
                col += 1
        rows.add_block(
            [
                f"stage_latency[{space.fusions[units.fusion[u]]}/{stage_name[u]}/"
                f"{space.models[units.model[u]]}]"
                for u in range(n_units)
            ],
            np.concatenate([unit_of, np.arange(n_units)]),
            np.concatenate([np.arange(n_x), stage_col]),
            np.concatenate([arrays["p99_ms"], -np.ones(n_units)]),
            -np.inf,
            0.0,
        )
        col = l0
        for f, st in enumerate(stages):
            stage_cols = np.arange(col, col + len(st))
            col += len(st)
            row = rows.add(
                f"latency_e2e_max[{space.fusions[f]}]",
                np.concatenate([stage_cols, z_cols_of[f]]),
                np.concatenate([np.ones(len(stage_cols)), np.full(a_count, -e2e)]),
                -np.inf,
                0.0,
            )
            slack_specs.append((row, -1.0))

    inst = arrays["instance_idx"]
    fusion_inst = {f: cfg.instance for f, cfg in enumerate(scn.fusion_configs) if cfg.replicas}
    for name, quota in scn.constraints.quotas.items():
        if name not in space.instances:
            continue  # an instance without a price under this pricing model is never chosen
        h = space.instances.index(name)
        on_h = np.nonzero(inst == h)[0]
        z_cols = [z0 + j for j, (f, _) in enumerate(z_pairs) if fusion_inst.get(f) == name]
        z_vals = [scn.fusion_configs[z_pairs[j - z0, 0]].replicas for j in z_cols]
        row = rows.add(
            f"quota_max[{name}]",
            np.concatenate([on_h, z_cols]),
            np.concatenate([arrays["replicas"][on_h], z_vals]),
            -np.inf,
            float(quota),
        )
        slack_specs.append((row, -1.0))

    if scn.constraints.budget_per_day is not None:
        row = rows.add("budget_max", np.arange(s0), c, -np.inf, scn.constraints.budget_per_day)
        slack_specs.append((row, -1.0))

    tier_idx = arrays["tier_idx"]
    stored = arrays["stored_gb"]
    data_gb = np.array([src.gb_per_day * src.retention_days for src in scn.data_sources])
    for name, capacity in scn.constraints.owned_storage_gb.items():
        t = space.tiers.index(name)
        on_t = np.nonzero(tier_idx == t)[0]
        y_on = np.nonzero(y_pairs[:, 1] == t)[0] if len(y_pairs) else np.array([], np.intp)
        row = rows.add(
            f"storage_capacity_max[{name}]",
            np.concatenate([on_t, y0 + y_on]),
            np.concatenate([stored[on_t], data_gb[y_pairs[y_on, 0]]]),
            -np.inf,
            float(capacity),
        )
        slack_specs.append((row, -1.0))

    n_s = len(slack_specs) if with_slack else 0
    slack_rows = [rows.names[r] for r, _ in slack_specs] if with_slack else []
    if with_slack:
        penalty = SLACK_PRICE_FACTOR * max(1.0, float(np.max(np.abs(c), initial=1.0)))
        for j, (row, sign) in enumerate(slack_specs):
            rows.rows.append(np.array([row]))
            rows.cols.append(np.array([s0 + j]))
            rows.vals.append(np.array([sign]))
        c = np.concatenate([c, np.full(n_s, penalty)])
    n_cols = s0 + n_s
    col_ub = np.concatenate([np.ones(s0 - n_l), np.full(n_l + n_s, np.inf)])
    if forbid is not None:
        col_ub[:n_x][forbid] = 0.0
    integrality = np.concatenate([np.ones(s0 - n_l, np.int8), np.zeros(n_l + n_s, np.int8)])
    milp = Milp(
        c=c,
        A=rows.matrix(n_cols),
        row_lb=np.array(rows.lb),
        row_ub=np.array(rows.ub),
        col_lb=np.zeros(n_cols),
        col_ub=col_ub,
        integrality=integrality,
        row_names=rows.names,
    )
    return Formulation(
        milp=milp,
        cost=cost,
        options=options,
        x=slice(x0, z0),
        z=slice(z0, y0),
        y=slice(y0, l0),
        latency=slice(l0, s0),
        slack=slice(s0, n_cols),
        z_pairs=z_pairs,
        y_pairs=y_pairs,
        z_by_price=z_by_price,
        y_by_price=y_by_price,
        fusion_quality=quality,
        stages=stages,
        slack_rows=slack_rows,
    )


def describe(form: Formulation) -> pd.DataFrame:
    """Row names with their bounds and number of non-zeros, for inspection."""
    m = form.milp
    return pd.DataFrame(
        {"row": m.row_names, "lb": m.row_lb, "ub": m.row_ub, "nonzeros": np.diff(m.A.indptr)}
    )
