"""Every limit a deployment must meet, each defined once.

A limit family is one class with four faces:

* ``rows(layout, rows)``: its MILP rows, the math in the docstring; returns (row, key) for
  the rows that take a priced slack when infeasibility is explained;
* ``values(layout, picks)``: its value for K candidate deployments of one fusion
  configuration, over arrays (the exhaustive backend checks every combination with it; the
  audit checks the decoded deployment with it, on figures recomputed without the matrix);
* ``explain(layout, key, amount, chosen)``: a sentence for a slack in use;
* ``export_name`` (and ``keyed``): where its value and slack go in the exported file.

Families enforced by the option grid (per-model p99 SLO, utilisation ceiling, cold start)
add no rows: only options that meet them become columns. Their values are still checked
and reported here, and their infeasibility is explained by the grid's diagnostics.

A new limit is a new class in ``LIMITS``: the formulation, the exhaustive backend, the
audit, the explanation and the export pick it up from there.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from deploycost.optimize.layout import Layout, Rows

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

    def rows(self, layout: Layout, rows: Rows) -> list[tuple[int, str]]:
        return []

    def values(self, layout: Layout, picks: Picks) -> list[Checked]:
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


def _member_names(layout: Layout, picks: Picks) -> list[str]:
    models = layout.options.units.model[picks.units]
    return [layout.cost.space.models[i] for i in models]


class LatencyP99(Limit):
    """``latency_p99_max[model]``: p99 of each model <= its SLO (queueing at peak).

    Enforced by the option grid: an option whose p99 exceeds the SLO is never a column."""

    family, unit = "latency_p99_max", "ms"

    def values(self, layout, picks):
        scn = layout.cost.scn
        return [
            self._checked(name, picks.p99_ms[:, j], scn.model(name).latency_limit_ms)
            for j, name in enumerate(_member_names(layout, picks))
        ]


class _LlmLatency(Limit):
    """An LLM latency figure of each LLM member against its limit (``llm.<limit>``)."""

    unit = "ms"
    figure = ""  # the Picks field
    limit = ""  # the LlmSpec field

    def values(self, layout, picks):
        scn = layout.cost.scn
        out = []
        for j, name in enumerate(_member_names(layout, picks)):
            spec = scn.model(name).llm
            if spec is not None and getattr(spec, self.limit) is not None:
                out.append(
                    self._checked(
                        name, getattr(picks, self.figure)[:, j], getattr(spec, self.limit)
                    )
                )
        return out


class TtftP99(_LlmLatency):
    """``ttft_p99_max[model]``: an LLM's time to first token at p99 (prefill + the M/M/c
    wait for a sequence slot at peak) <= its limit.

    Enforced by the option grid."""

    family, figure, limit = "ttft_p99_max", "ttft_ms", "ttft_p99_ms"


class TpotP99(_LlmLatency):
    """``tpot_p99_max[model]``: an LLM's time per output token (a decode step with all its
    sequences plus the prefills that join meanwhile) <= its limit.

    Enforced by the option grid."""

    family, figure, limit = "tpot_p99_max", "tpot_ms", "tpot_p99_ms"


class Utilisation(Limit):
    """``utilisation_max[model]``: peak arrivals / (replicas x throughput) <= rho_max.

    Enforced by the option grid (replicas are sized from it)."""

    family, unit = "utilisation_max", "fraction"

    def values(self, layout, picks):
        rho = layout.cost.scn.constraints.utilisation_max
        return [
            self._checked(name, picks.utilisation[:, j], rho)
            for j, name in enumerate(_member_names(layout, picks))
        ]


class ColdStart(Limit):
    """``cold_start_max[model]``: first byte + artifact GB / read rate + decompression <=
    ``max_cold_start_s``. Enforced by the option grid (storage choice); checked only when
    the scenario sets a finite limit."""

    family, unit = "cold_start_max", "s"

    def values(self, layout, picks):
        limit = layout.cost.scn.constraints.max_cold_start_s
        if not np.isfinite(limit):
            return []
        return [
            self._checked(name, picks.cold_start_s[:, j], limit)
            for j, name in enumerate(_member_names(layout, picks))
        ]


class QualityFloor(Limit):
    """``quality_min[f]``, with Z_f = sum_a z[f, a]:

    ``sum_{o in f} Q_f d_o x[o] - (floor - Q_f) Z_f (+ slack) >= 0``

    i.e. the configuration's quality Q_f plus its members' precision deltas
    ``Q_f x quality_delta_rel(precision)`` reaches the floor when f is chosen:
    value = Q_f (1 + sum of deltas)."""

    family, sense, unit = "quality_min", ">=", "quality"
    export_name = "quality_floor"

    def rows(self, layout, rows):
        floor = layout.cost.scn.constraints.quality_floor
        if floor is None:
            return []
        space = layout.cost.space
        col = layout.options.columns
        fusion_of = layout.options.units.fusion[col["unit"]]
        out = []
        for f, q in enumerate(layout.fusion_quality):
            members = np.nonzero(fusion_of == f)[0]
            z_cols = layout.z_cols_of(f)
            cols = np.concatenate([members, z_cols])
            vals = np.concatenate(
                [q * col["quality_delta"][members], np.full(len(z_cols), -(floor - q))]
            )
            name = space.fusions[f]
            out.append((rows.add(limit_name(self.family, name), cols, vals, 0.0, np.inf), name))
        return out

    def values(self, layout, picks):
        floor = layout.cost.scn.constraints.quality_floor
        if floor is None:
            return []
        q = layout.fusion_quality[picks.fusion]
        value = q * (1 + picks.quality_delta.sum(axis=1))
        return [self._checked(layout.cost.space.fusions[picks.fusion], value, floor)]

    def explain(self, layout, key, amount, chosen):
        floor = layout.cost.scn.constraints.quality_floor
        return (
            f"quality floor {floor:g}: fusion {key!r} reaches at most "
            f"{floor - amount:.6g} (short by {amount:.4g})"
        )


class EndToEndLatency(Limit):
    """``latency_e2e_max[f]``: the sum of stage p99 budgets fits the end-to-end SLO,

    ``stage_latency[f/g/i]``: ``sum_{o in unit(f, i)} p99_o x[o] - L[f, g] <= 0`` (each
    stage's budget covers the p99 of every model in it), and
    ``sum_g L[f, g] - SLO Z_f (- slack) <= 0``, so the optimiser splits the budget between
    stages. value = sum over stages of the largest p99 in the stage."""

    family, unit = "latency_e2e_max", "ms"
    export_name = "e2e_latency_ms"

    def rows(self, layout, rows):
        e2e = layout.cost.scn.constraints.e2e_latency_ms
        if e2e is None:
            return []
        space, units = layout.cost.space, layout.options.units
        unit_of = layout.options.columns["unit"]
        stage_of = {u: name for st in layout.stages for name, us in st for u in us}
        staged = np.nonzero(layout.stage_col >= 0)[0]  # units in the pipeline
        row_of = np.full(len(units.model), -1)
        row_of[staged] = np.arange(len(staged))
        xs = np.nonzero(row_of[unit_of] >= 0)[0]  # their options
        rows.add_block(
            [
                f"stage_latency[{space.fusions[units.fusion[u]]}/{stage_of[u]}/"
                f"{space.models[units.model[u]]}]"
                for u in staged
            ],
            np.concatenate([row_of[unit_of[xs]], np.arange(len(staged))]),
            np.concatenate([xs, layout.stage_col[staged]]),
            np.concatenate([layout.options.columns["p99_ms"][xs], -np.ones(len(staged))]),
            -np.inf,
            0.0,
        )
        out = []
        col = layout.latency.start
        for f, st in enumerate(layout.stages):
            stage_cols = np.arange(col, col + len(st))
            col += len(st)
            z_cols = layout.z_cols_of(f)
            row = rows.add(
                limit_name(self.family, space.fusions[f]),
                np.concatenate([stage_cols, z_cols]),
                np.concatenate([np.ones(len(stage_cols)), np.full(len(z_cols), -e2e)]),
                -np.inf,
                0.0,
            )
            out.append((row, space.fusions[f]))
        return out

    def values(self, layout, picks):
        e2e = layout.cost.scn.constraints.e2e_latency_ms
        if e2e is None:
            return []
        position = {int(u): j for j, u in enumerate(picks.units)}
        total = np.zeros(len(picks.cost_per_day))
        for _, stage_units in layout.stages[picks.fusion]:
            cols = [position[u] for u in stage_units]
            total += picks.p99_ms[:, cols].max(axis=1)
        return [self._checked(layout.cost.space.fusions[picks.fusion], total, e2e)]

    def explain(self, layout, key, amount, chosen):
        e2e = layout.cost.scn.constraints.e2e_latency_ms
        f = layout.cost.space.fusions.index(key)
        return (
            f"end-to-end p99 <= {e2e:g} ms ({self.family}[{key}], {stages_text(layout, f)}) "
            f"is out of reach for fusion {key!r}: the fastest pipeline meeting the other "
            f"limits needs {e2e + amount:.4g} ms (over by {amount:.4g} ms)"
        )


def stages_text(layout, f: int) -> str:
    """The pipeline of fusion configuration ``f`` as an end-to-end limit covers it:
    'stages recall -> rank (ranker, reranker)' (a stage named after its one model is
    named once)."""
    stages = layout.stages[f]
    if not stages:
        return "no stage: the limit covers none of its models"
    models = layout.cost.space.models
    units = layout.options.units.model
    names = [
        f"{name} ({', '.join(models[units[u]] for u in us)})"
        if len(us) > 1 or name != models[units[us[0]]]
        else name
        for name, us in stages
    ]
    return "stages " + " -> ".join(names)


def fusion_layer(layout: Layout, instance: str) -> np.ndarray:
    """(F,) fusion-layer replicas each configuration runs on ``instance``."""
    return np.array(
        [
            cfg.replicas if cfg.replicas and cfg.instance == instance else 0
            for cfg in layout.cost.scn.fusion_configs
        ]
    )


class Quota(Limit):
    """``quota_max[h]``: ``sum_{o on h} n_o x[o] + sum_{f, a} r_f [h_f = h] z[f, a]
    (- slack) <= quota_h``: model replicas and fusion-layer replicas on instance type h."""

    family, unit = "quota_max", "instances"
    export_name, keyed, integral = "quotas", True, True

    def _quotas(self, layout):
        instances = layout.cost.space.instances
        # an instance without a price under this pricing model is never chosen
        return {h: q for h, q in layout.cost.scn.constraints.quotas.items() if h in instances}

    def rows(self, layout, rows):
        col = layout.options.columns
        out = []
        for name, quota in self._quotas(layout).items():
            h = layout.cost.space.instances.index(name)
            on_h = np.nonzero(col["instance_idx"] == h)[0]
            layer = fusion_layer(layout, name)[layout.z_pairs[:, 0]]
            z_on = np.nonzero(layer)[0]
            row = rows.add(
                limit_name(self.family, name),
                np.concatenate([on_h, layout.z.start + z_on]),
                np.concatenate([col["replicas"][on_h], layer[z_on]]),
                -np.inf,
                float(quota),
            )
            out.append((row, name))
        return out

    def values(self, layout, picks):
        out = []
        for name, quota in self._quotas(layout).items():
            h = layout.cost.space.instances.index(name)
            used = (picks.replicas * (picks.instance == h)).sum(axis=1)
            used = used + fusion_layer(layout, name)[picks.fusion]
            out.append(self._checked(name, used, quota))
        return out

    def explain(self, layout, key, amount, chosen):
        quota = layout.cost.scn.constraints.quotas[key]
        on = chosen[chosen.instance == key]
        per_replica = float(on.throughput_qps.min()) if len(on) else 0.0
        who = ", ".join(sorted(set(on.model))) or "the fusion layer"
        return (
            f"quota on {key} ({quota}) is short by {amount:.4g} instances: it leaves "
            f"{amount * per_replica:,.0f} requests/s of {who} traffic unserved"
        )


class Budget(Limit):
    """``budget_max``: ``c.v (- slack) <= budget`` (cost per day of every column)."""

    family, unit = "budget_max", "per day"
    export_name = "budget_per_day"

    def rows(self, layout, rows):
        budget = layout.cost.scn.constraints.budget_per_day
        if budget is None:
            return []
        cols = np.arange(layout.n_structural)
        return [(rows.add(limit_name(self.family, ""), cols, layout.c, -np.inf, budget), "")]

    def values(self, layout, picks):
        budget = layout.cost.scn.constraints.budget_per_day
        if budget is None:
            return []
        return [self._checked("", picks.cost_per_day, budget)]

    def explain(self, layout, key, amount, chosen):
        scn = layout.cost.scn
        budget = scn.constraints.budget_per_day
        return (
            f"the cheapest deployment meeting every other limit costs "
            f"{budget + amount:,.2f} {scn.currency}/day, {amount:,.2f} over the budget of "
            f"{budget:,.2f}"
        )


def _data_gb(layout: Layout) -> np.ndarray:
    """(S,) GB each data source keeps: GB per day x retention days."""
    return np.array([s.gb_per_day * s.retention_days for s in layout.cost.scn.data_sources])


class StorageCapacity(Limit):
    """``storage_capacity_max[t]``: ``sum_{o on t} GB_o x[o] + sum_s GB_s y[s, t]
    (- slack) <= owned_t``: artifacts (x versions x (1 + backups)) and data kept on an
    owned tier fit its capacity."""

    family, unit = "storage_capacity_max", "GB"
    export_name, keyed = "owned_storage_gb", True

    def rows(self, layout, rows):
        col = layout.options.columns
        data_gb = _data_gb(layout)
        out = []
        for name, capacity in layout.cost.scn.constraints.owned_storage_gb.items():
            t = layout.cost.space.tiers.index(name)
            on_t = np.nonzero(col["tier_idx"] == t)[0]
            y_on = np.nonzero(layout.y_pairs[:, 1] == t)[0]
            row = rows.add(
                limit_name(self.family, name),
                np.concatenate([on_t, layout.y.start + y_on]),
                np.concatenate([col["stored_gb"][on_t], data_gb[layout.y_pairs[y_on, 0]]]),
                -np.inf,
                float(capacity),
            )
            out.append((row, name))
        return out

    def values(self, layout, picks):
        data_gb = _data_gb(layout)
        out = []
        for name, capacity in layout.cost.scn.constraints.owned_storage_gb.items():
            t = layout.cost.space.tiers.index(name)
            used = (picks.stored_gb * (picks.tier == t)).sum(axis=1)
            if len(data_gb):
                used = used + (data_gb[None, :] * (picks.data_tier == t)).sum(axis=1)
            out.append(self._checked(name, used, capacity))
        return out

    def explain(self, layout, key, amount, chosen):
        capacity = layout.cost.scn.constraints.owned_storage_gb[key]
        return f"owned storage {key} ({capacity:,.4g} GB) is short by {amount:,.4g} GB"


LIMITS: tuple[Limit, ...] = (
    LatencyP99(),
    TtftP99(),
    TpotP99(),
    Utilisation(),
    ColdStart(),
    QualityFloor(),
    EndToEndLatency(),
    Quota(),
    Budget(),
    StorageCapacity(),
)
BY_FAMILY = {limit.family: limit for limit in LIMITS}


def check(layout: Layout, picks: Picks) -> list[Checked]:
    """Every limit's value for the K candidates in ``picks``."""
    return [checked for limit in LIMITS for checked in limit.values(layout, picks)]
