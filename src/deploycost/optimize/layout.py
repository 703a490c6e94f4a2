"""The columns of the deployment MILP and a sparse row builder, shared by the formulation,
the limit registry, the backends and decoding.

Columns, in this order:

* ``x[o]`` in {0, 1}: option o of its unit (a model inside one fusion configuration) is
  deployed; its cost ``c_o = q_o . p`` covers compute, model storage and compression.
* ``z[f, a]`` in {0, 1}: fusion configuration f is served at automation level a; its cost
  covers the fusion layer, the maintenance of f's members at level a, training and a's
  fixed cost (maintenance x automation is a product of two choices: pricing it per pair
  keeps the model linear).
* ``y[s, t]`` in {0, 1}: data source s is kept on tier t; its cost covers the whole data
  component of s.
* ``L[f, g] >= 0`` (only with an end-to-end limit): the p99 budget taken by stage g of
  configuration f.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from deploycost.cost.model import CostModel
from deploycost.errors import DeployCostError
from deploycost.options.grid import OptionSet

Stages = list[list[tuple[str, list[int]]]]  # per f: [(stage name, [unit, ...]), ...]


@dataclass(frozen=True)
class Layout:
    """What every column means; built once per (scenario, prices, option grid)."""

    cost: CostModel
    options: OptionSet
    x: slice
    z: slice
    y: slice
    latency: slice
    z_pairs: np.ndarray  # (F*A, 2) fusion, automation
    y_pairs: np.ndarray  # (Y, 2) source, tier
    z_by_price: sp.csr_matrix  # (F*A, P) sparse
    y_by_price: sp.csr_matrix  # (Y, P) sparse
    fusion_quality: np.ndarray  # (F,)
    stages: Stages
    stage_col: np.ndarray  # (U,) the L column of each unit's stage (unused without L)
    c: np.ndarray  # cost per day of every column above (L columns cost nothing)

    @property
    def n_structural(self) -> int:
        return self.latency.stop

    def z_cols_of(self, f: int) -> np.ndarray:
        """The z columns of fusion configuration f (one per automation level)."""
        return self.z.start + np.nonzero(self.z_pairs[:, 0] == f)[0]

    def unit_name(self, unit: int) -> str:
        space, units = self.cost.space, self.options.units
        return f"{space.fusions[units.fusion[unit]]}/{space.models[units.model[unit]]}"


def fusion_quality(cost: CostModel) -> np.ndarray:
    """Q_f: the configuration's stated quality, else its best member's baseline quality."""
    scn = cost.scn
    return np.array(
        [
            f.quality if f.quality is not None else max(scn.model(m).quality for m in f.members)
            for f in scn.fusion_configs
        ]
    )


def pipeline_stages(cost: CostModel, options: OptionSet) -> Stages:
    """Per fusion configuration, its stages in order, each with the units that run in it.

    Stages of a cascade run one after another (models sharing a ``stage`` run in
    parallel); the members of any other method run in parallel, as one stage. Only the
    models ``constraints.e2e_models`` names are in the pipeline when it names any.
    """
    scn, units = cost.scn, options.units
    covered = scn.constraints.e2e_models
    out = []
    for f, cfg in enumerate(scn.fusion_configs):
        stages: dict[str, list[int]] = {}
        for unit in np.nonzero(units.fusion == f)[0]:
            model = scn.models[units.model[unit]]
            if covered is not None and model.name not in covered:
                continue
            name = (model.stage or model.name) if cfg.method == "cascade" else "ensemble"
            stages.setdefault(name, []).append(int(unit))
        out.append(list(stages.items()))
    return out


def lay_out(cost: CostModel, options: OptionSet) -> Layout:
    scn, space = cost.scn, cost.space
    prices = cost.prices.values
    n_x = len(options.table)
    f_count, a_count = len(space.fusions), len(space.automation)
    z_pairs = np.array([(f, a) for f in range(f_count) for a in range(a_count)], np.intp)
    z_by_price = cost.system_quantities(z_pairs[:, 0], z_pairs[:, 1])
    y_pairs = np.array(
        [
            (s, space.tiers.index(t))
            for s, src in enumerate(scn.data_sources)
            for t in src.storage_tiers
        ],
        np.intp,
    ).reshape(-1, 2)
    data = cost.data_quantities()  # row s T + t
    y_by_price = data[y_pairs[:, 0] * len(space.tiers) + y_pairs[:, 1]]
    stages = pipeline_stages(cost, options)
    n_l = sum(len(s) for s in stages) if scn.constraints.e2e_latency_ms is not None else 0
    stage_col = np.full(len(options.units.model), -1, np.intp)  # -1: in no stage
    z0 = n_x
    y0 = z0 + len(z_pairs)
    l0 = y0 + len(y_pairs)
    col = l0
    for st in stages:
        for _, stage_units in st:
            stage_col[stage_units] = col
            col += 1
    c = np.concatenate(
        [options.columns["cost_per_day"], z_by_price @ prices, y_by_price @ prices, np.zeros(n_l)]
    )
    if not np.isfinite(c).all():
        bad = [cost.prices.names[r] for r in np.nonzero(~np.isfinite(prices))[0][:3]]
        raise DeployCostError(
            "a deployment's cost per day is not a finite number"
            + (f": prices {', '.join(bad)} are not finite" if bad else ": an input is too large")
        )
    return Layout(
        cost=cost,
        options=options,
        x=slice(0, z0),
        z=slice(z0, y0),
        y=slice(y0, l0),
        latency=slice(l0, l0 + n_l),
        z_pairs=z_pairs,
        y_pairs=y_pairs,
        z_by_price=z_by_price,
        y_by_price=y_by_price,
        fusion_quality=fusion_quality(cost),
        stages=stages,
        stage_col=stage_col,
        c=c,
    )


def tighten_latency(layout: Layout, x: np.ndarray) -> np.ndarray:
    """``x`` with every stage budget L set to the largest p99 of its chosen units.

    The L columns are free within their rows; setting them to the stage's actual p99 makes
    the end-to-end row's activity the pipeline's p99 (decoding and the exhaustive backend).
    """
    x = np.array(x, dtype=float)
    if layout.latency.stop == layout.latency.start:
        return x
    chosen = np.nonzero(x[layout.x] > 0.5)[0]
    unit_of = layout.options.columns["unit"]
    p99 = layout.options.columns["p99_ms"]
    x[layout.latency] = 0.0
    np.maximum.at(x, layout.stage_col[unit_of[chosen]], p99[chosen])
    return x


class Rows:
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

    def set(self, row: int, col: int, value: float) -> None:
        """One more entry (a slack column on an existing row)."""
        self.rows.append(np.array([row], np.intp))
        self.cols.append(np.array([col], np.intp))
        self.vals.append(np.array([value], float))

    def matrix(self, n_cols: int) -> sp.csr_matrix:
        if not self.rows:
            return sp.csr_matrix((len(self.names), n_cols))
        return sp.csr_matrix(
            (np.concatenate(self.vals), (np.concatenate(self.rows), np.concatenate(self.cols))),
            shape=(len(self.names), n_cols),
        )
