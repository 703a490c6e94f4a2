"""Every limit a deployment or a fleet must meet, each defined once.

A limit family is one class with these faces:

* ``rows(layout, rows)``: its MILP rows for a deployment, the math in the docstring;
  returns (row, key) for the rows that take a priced slack when infeasibility is explained;
* ``values(layout, picks)``: its value for K candidate deployments of one fusion
  configuration, over arrays (the exhaustive backend checks every combination with it; the
  audit checks the decoded deployment with it, on figures recomputed without the matrix);
* ``explain(layout, key, amount, chosen)``: a sentence for a slack in use;
* ``fleet_rows(draft, rows)``, ``fleet_values(form, plan, cost)`` and
  ``fleet_explain(form, relaxed)``: the same three for a fleet (``optimize.fleet``): its
  rows over shares, placements and instance counts (returning the rows lifted when an
  infeasible fleet is explained), its value recomputed from the decoded fleet, and the
  sentence for what the fleet needs once its rows are lifted;
* ``export_name`` (and ``keyed``): where its value and slack go in the exported file;
  ``couples``: its fleet rows tie the pools together (``optimize.blocks`` sets them aside);
  ``raisable``: a ``>=`` row the blocks may raise exactly (``optimize.frontier``).

Families enforced by the option grid (per-model p99 SLO, utilisation ceiling, cold start)
add no rows: only options that meet them become columns. Their values are still checked
and reported here, and their infeasibility is explained by the grid's diagnostics.

A new limit is a new class in ``LIMITS``: the formulations, the exhaustive backend, the
audits, the explanations and the export pick it up from there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from deploycost.optimize.layout import Layout, Rows

if TYPE_CHECKING:
    from deploycost.optimize.fleet import FleetDraft, FleetFormulation
    from deploycost.optimize.result import FleetPlan

BINDING_REL_TOL = 1e-6


def limit_name(family: str, key: str) -> str:
    """``quota_max[g6.xlarge]``, or the bare family for a single row (``budget_max``)."""
    return f"{family}[{key}]" if key else family


@dataclass(frozen=True)
class Picks:
    """K candidate deployments of fusion configuration ``fusion``: per member unit (the
    columns, in the order of ``units``) the figures of the option chosen for it."""

    fusion: int
    units: np.ndarray  # (M_f,) unit indices
    instance: np.ndarray  # (K, M_f) index into Space.instances
    replicas: np.ndarray  # (K, M_f)
    p99_ms: np.ndarray  # (K, M_f)
    ttft_ms: np.ndarray  # (K, M_f) LLM time to first token p99, NaN for other models
    tpot_ms: np.ndarray  # (K, M_f) LLM time per output token, NaN for other models
    utilisation: np.ndarray  # (K, M_f)
    cold_start_s: np.ndarray  # (K, M_f)
    quality_delta: np.ndarray  # (K, M_f) relative quality change of the precision
    tier: np.ndarray  # (K, M_f) artifact tier, index into Space.tiers
    stored_gb: np.ndarray  # (K, M_f) artifact GB x versions x (1 + backups)
    data_tier: np.ndarray  # (K, S) tier of each data source
    cost_per_day: np.ndarray  # (K,)

    @classmethod
    def from_options(
        cls, layout: Layout, fusion: int, x_cols: np.ndarray, data_tier: np.ndarray, cost
    ) -> Picks:
        """Figures read from the option table for option columns ``x_cols`` (K, M_f)."""
        col = layout.options.columns
        return cls(
            fusion=fusion,
            units=col["unit"][x_cols[0]] if len(x_cols) else np.zeros(0, np.intp),
            instance=col["instance_idx"][x_cols],
            replicas=col["replicas"][x_cols],
            p99_ms=col["p99_ms"][x_cols],
            ttft_ms=col["ttft_ms"][x_cols],
            tpot_ms=col["tpot_ms"][x_cols],
            utilisation=col["utilisation"][x_cols],
            cold_start_s=col["cold_start_s"][x_cols],
            quality_delta=col["quality_delta"][x_cols],
            tier=col["tier_idx"][x_cols],
            stored_gb=col["stored_gb"][x_cols],
            data_tier=data_tier,
            cost_per_day=np.asarray(cost, float),
        )


@dataclass(frozen=True)
class Checked:
    """One limit's value over K candidates (``value`` has shape (K,))."""

    family: str
    key: str
    value: np.ndarray
    limit: float
    sense: str  # "<=" or ">="
    unit: str

    def ok(self, rel_tol: float) -> np.ndarray:
        tol = rel_tol * max(1.0, abs(self.limit))
        if self.sense == "<=":
            return self.value <= self.limit + tol
        return self.value >= self.limit - tol

    def at(self, k: int) -> LimitValue:
        return LimitValue(
            self.family, self.key, float(self.value[k]), self.limit, self.sense, self.unit
        )


@dataclass(frozen=True)
class LimitValue:
    """A limit of the chosen deployment: its value, bound and slack (>= 0 when met)."""

    family: str
    key: str
    value: float
    limit: float
    sense: str
    unit: str

    @property
    def name(self) -> str:
        return limit_name(self.family, self.key)

    @property
    def slack(self) -> float:
        return self.limit - self.value if self.sense == "<=" else self.value - self.limit

    @property
    def met(self) -> bool:
        return self.slack >= -BINDING_REL_TOL * max(1.0, abs(self.limit))

    @property
    def binding(self) -> bool:
        return abs(self.slack) <= BINDING_REL_TOL * max(1.0, abs(self.limit))


class Limit:
    """Base of a limit family (see the module docstring)."""

    family = ""
    sense = "<="
    unit = ""
    export_name: str | None = None
    keyed = False  # several rows (one per key) or one
    integral = False  # counts (instances): exported as integers
    couples = False  # its fleet rows tie pools together
    raisable = False  # a >= row the blocks' frontier may raise
    fleet_only = False  # a fleet's choice only (a deployment never has a value)
    title = ""  # the family in a sentence ("instance quotas")

    def rows(self, layout: Layout, rows: Rows) -> list[tuple[int, str]]:
        return []

    def values(self, layout: Layout, picks: Picks) -> list[Checked]:
        if self.fleet_only:
            return []  # a deployment has none of this family's choices
        raise NotImplementedError

    def explain(self, layout: Layout, key: str, amount: float, chosen: pd.DataFrame) -> str:
        return f"{limit_name(self.family, key)} is short by {amount:.4g} {self.unit}"

    def _checked(self, key: str, value: np.ndarray, limit: float) -> Checked:
        return Checked(
            self.family, key, np.asarray(value, float), float(limit), self.sense, self.unit
        )

    @property
    def slack_sign(self) -> float:
        """Coefficient of the slack column that relaxes a row of this family."""
        return -1.0 if self.sense == "<=" else 1.0

    def fleet_rows(self, draft: FleetDraft, rows: Rows) -> list[tuple[int, str]]:
        """The family's rows in a fleet MILP; (row, key) of those an explanation lifts."""
        return []

    def fleet_values(
        self, form: FleetFormulation, plan: FleetPlan, cost: float
    ) -> list[LimitValue]:
        """The family's values for a decoded fleet costing ``cost`` per day."""
        raise NotImplementedError

    def fleet_explain(self, form: FleetFormulation, relaxed: Relaxed) -> str:
        """What the cheapest fleet without this family's rows needs of them."""
        details = [
            f"{limit_name(self.family, key)} needs {value:.4g} {self.unit} (limit {bound:g})"
            for key, value, bound in relaxed.over[:3]
        ]
        return (
            f"{self.title} cannot all be met; without them the cheapest fleet costs "
            f"{relaxed.objective:,.2f} {form.cost.scn.currency}/day and needs: "
            + "; ".join(details or ["(no detail)"])
        )

    def _value(self, key: str, value: float, limit: float) -> LimitValue:
        return LimitValue(self.family, key, float(value), float(limit), self.sense, self.unit)


@dataclass(frozen=True)
class Relaxed:
    """The cheapest fleet with one family's rows lifted: its cost per day and, per row of
    the family it breaks, (key, the row's activity, the row's bound)."""

    objective: float
    over: list[tuple[str, float, float]]


def member_names(layout: Layout, picks: Picks) -> list[str]:
    models = layout.options.units.model[picks.units]
    return [layout.cost.space.models[i] for i in models]
