"""The deployment choice as a backend-neutral MILP: ``min c.v`` s.t. ``lb <= A v <= ub``.

The columns are those of ``optimize.layout`` (x options, z fusion x automation, y data
tiers, L stage budgets), plus, only when explaining infeasibility, ``slack[row] >= 0``: the
shortfall of a coupled limit, priced far above any deployment so that it is used only when
nothing else works.

The rows are composed from a flat list of families, each one function with its math in
the docstring: the structural rows below (``STRUCTURE``), then every limit of the registry
(``optimize.limits.LIMITS``: quality floor, stage and end-to-end latency, quotas, budget,
owned storage; per-model limits are enforced by the option grid and add no rows).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

from deploycost.cost.model import CostModel
from deploycost.optimize.layout import Layout, Rows, lay_out
from deploycost.optimize.limits import LIMITS, Limit, limit_name
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
    # how this model is best solved, for the backends that read it: HiGHS presolve, CBC
    # command-line options (see ``optimize.fleet``: the fleet's integer counts need presolve
    # and CBC's probing and preprocessing off)
    presolve: bool = False
    cbc_options: tuple[str, ...] = ()

    @classmethod
    def of(
        cls,
        c: np.ndarray,
        rows: Rows,
        col_ub: np.ndarray,
        integrality: np.ndarray,
        presolve: bool = False,
        cbc_options: tuple[str, ...] = (),
    ) -> Milp:
        """The MILP of accumulated ``rows`` over columns with costs ``c``, bounds [0, col_ub]."""
        return cls(
            c=c,
            A=rows.matrix(len(c)),
            row_lb=np.array(rows.lb),
            row_ub=np.array(rows.ub),
            col_lb=np.zeros(len(c)),
            col_ub=col_ub,
            integrality=integrality,
            row_names=rows.names,
            presolve=presolve,
            cbc_options=cbc_options,
        )


@dataclass(frozen=True)
class Formulation(Layout):
    """The MILP plus what its columns mean (the layout), for decoding and the backends."""

    milp: Milp
    slack: slice
    slack_limits: list[tuple[Limit, str]] = field(default_factory=list)  # per slack column

    @property
    def slack_rows(self) -> list[str]:
        return [limit_name(limit.family, key) for limit, key in self.slack_limits]


def one_fusion(layout: Layout, rows: Rows) -> None:
    """``one_fusion``: ``sum_{f, a} z[f, a] = 1``: one configuration at one automation level."""
    rows.add("one_fusion", np.arange(layout.z.start, layout.z.stop), 1.0, 1.0, 1.0)


def assign(layout: Layout, rows: Rows) -> None:
    """``assign[f/i]``: ``sum_{o in unit(f, i)} x[o] - Z_f = 0``, with Z_f = sum_a z[f, a]:
    each model of the chosen configuration gets exactly one option, the others none."""
    units = layout.options.units
    unit_of = layout.options.columns["unit"]
    n_x, n_units = len(unit_of), len(units.model)
    a_count = len(layout.cost.space.automation)
    z_of_unit = layout.z.start + units.fusion[:, None] * a_count + np.arange(a_count)  # (U, A)
    rows.add_block(
        [f"assign[{layout.unit_name(u)}]" for u in range(n_units)],
        np.concatenate([unit_of, np.repeat(np.arange(n_units), a_count)]),
        np.concatenate([np.arange(n_x), z_of_unit.ravel()]),
        np.concatenate([np.ones(n_x), -np.ones(n_units * a_count)]),
        0.0,
        0.0,
    )


def data_tier(layout: Layout, rows: Rows) -> None:
    """``data_tier[s]``: ``sum_t y[s, t] = 1``: each data source is kept on one tier."""
    for s, name in enumerate(layout.cost.space.sources):
        cols = layout.y.start + np.nonzero(layout.y_pairs[:, 0] == s)[0]
        rows.add(f"data_tier[{name}]", cols, 1.0, 1.0, 1.0)


STRUCTURE = (one_fusion, assign, data_tier)


def build(
    cost: CostModel,
    options: OptionSet | None = None,
    with_slack: bool = False,
    forbid: np.ndarray | None = None,
) -> Formulation:
    """Formulate the deployment choice; ``forbid`` marks option rows that may not be chosen."""
    layout = lay_out(cost, options or enumerate_options(cost))
    rows = Rows()
    for family in STRUCTURE:
        family(layout, rows)
    slack_specs = [(limit, row, key) for limit in LIMITS for row, key in limit.rows(layout, rows)]
    s0 = layout.n_structural
    n_s = len(slack_specs) if with_slack else 0
    c = layout.c
    if with_slack:
        penalty = SLACK_PRICE_FACTOR * max(1.0, float(np.max(np.abs(c), initial=1.0)))
        for j, (limit, row, _) in enumerate(slack_specs):
            rows.set(row, s0 + j, limit.slack_sign)
        c = np.concatenate([c, np.full(n_s, penalty)])
    n_cols = s0 + n_s
    n_binary = layout.latency.start
    col_ub = np.concatenate([np.ones(n_binary), np.full(n_cols - n_binary, np.inf)])
    if forbid is not None:
        col_ub[layout.x][forbid] = 0.0
    integrality = np.concatenate([np.ones(n_binary, np.int8), np.zeros(n_cols - n_binary, np.int8)])
    milp = Milp.of(c, rows, col_ub, integrality)
    return Formulation(
        **{name: getattr(layout, name) for name in Layout.__dataclass_fields__},
        milp=milp,
        slack=slice(s0, n_cols),
        slack_limits=[(limit, key) for limit, _, key in slack_specs] if with_slack else [],
    )


def describe(form: Formulation) -> pd.DataFrame:
    """Row names with their bounds and number of non-zeros, for inspection."""
    m = form.milp
    return pd.DataFrame(
        {"row": m.row_names, "lb": m.row_lb, "ub": m.row_ub, "nonzeros": np.diff(m.A.indptr)}
    )
