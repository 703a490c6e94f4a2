"""Limits over the whole answer: the quality floor, the end-to-end latency of a pipeline
and the budget. Each ties the models (a fleet's pools) together."""

from __future__ import annotations

import numpy as np

from deploycost.optimize.limits.base import Limit, limit_name


class QualityFloor(Limit):
    """``quality_min[f]``, with Z_f = sum_a z[f, a]:

    ``sum_{o in f} Q_f d_o x[o] - (floor - Q_f) Z_f (+ slack) >= 0``

    i.e. the configuration's quality Q_f plus its members' precision deltas
    ``Q_f x quality_delta_rel(precision)`` reaches the floor when f is chosen:
    value = Q_f (1 + sum of deltas)."""

    family, sense, unit = "quality_min", ">=", "quality"
    export_name, couples, raisable = "quality_floor", True, True
    title = "the quality floor"

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

    def fleet_rows(self, draft, rows):
        """The same rows, on the fleet's artifact columns (each with its precision's delta)."""
        return self.rows(draft.layout, rows)

    def fleet_values(self, form, plan, cost):
        floor = form.cost.scn.constraints.quality_floor
        if floor is None:
            return []
        q = form.fusion_quality[form.cost.space.fusions.index(plan.fusion)]
        return [self._value(plan.fusion, q * (1 + plan.artifacts.quality_delta.sum()), floor)]


class EndToEndLatency(Limit):
    """``latency_e2e_max[f]``: the sum of stage p99 budgets fits the end-to-end SLO,

    ``stage_latency[f/g/i]``: ``sum_{o in unit(f, i)} p99_o x[o] - L[f, g] <= 0`` (each
    stage's budget covers the p99 of every model in it), and
    ``sum_g L[f, g] - SLO Z_f (- slack) <= 0``, so the optimiser splits the budget between
    stages. value = sum over stages of the largest p99 in the stage."""

    family, unit = "latency_e2e_max", "ms"
    export_name, couples = "e2e_latency_ms", True
    title = "the end-to-end latency limit"

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
        return self._budget_rows(layout, rows, e2e)

    def _budget_rows(self, layout, rows, e2e: float) -> list[tuple[int, str]]:
        """``latency_e2e_max[f]``: the stage budgets of f sum to the SLO when f is chosen."""
        out = []
        col = layout.latency.start
        for f, st in enumerate(layout.stages):
            stage_cols = np.arange(col, col + len(st))
            col += len(st)
            z_cols = layout.z_cols_of(f)
            name = layout.cost.space.fusions[f]
            row = rows.add(
                limit_name(self.family, name),
                np.concatenate([stage_cols, z_cols]),
                np.concatenate([np.ones(len(stage_cols)), np.full(len(z_cols), -e2e)]),
                -np.inf,
                0.0,
            )
            out.append((row, name))
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

    def fleet_rows(self, draft, rows):
        """``stage_latency[m]``: ``p99_m place[m] - L[f, g(u)] <= 0`` (a stage's budget
        covers the p99 at capacity of every mode its models run on); ``latency_e2e_max[f]``:
        ``sum_g L[f, g] - SLO Z_f <= 0``."""
        e2e = draft.layout.cost.scn.constraints.e2e_latency_ms
        if e2e is None:
            return []
        layout, modes = draft.layout, draft.fleet.modes
        place_modes, place0 = draft.cols.place_modes, draft.cols.place.start
        p99 = modes.p99_at_cap_ms.to_numpy()
        unit_of = modes.unit.to_numpy()
        timed = np.nonzero(layout.stage_col[unit_of[place_modes]] >= 0)[0]  # staged places
        n = len(timed)
        rows.add_block(
            [f"stage_latency[{m}]" for m in place_modes[timed]],
            np.concatenate([np.arange(n), np.arange(n)]),
            np.concatenate([place0 + timed, layout.stage_col[unit_of[place_modes[timed]]]]),
            np.concatenate([p99[place_modes[timed]], -np.ones(n)]),
            -np.inf,
            0.0,
        )
        return self._budget_rows(layout, rows, e2e)

    def fleet_values(self, form, plan, cost):
        e2e = form.cost.scn.constraints.e2e_latency_ms
        if e2e is None:
            return []
        return [self._value(plan.fusion, pipeline_ms(form, plan), e2e)]

    def fleet_explain(self, form, relaxed):
        if not relaxed.over:
            return f"{self.title} cannot be met"
        e2e = form.cost.scn.constraints.e2e_latency_ms
        key, activity, _ = relaxed.over[0]
        f = form.cost.space.fusions.index(key)
        return (
            f"end-to-end p99 <= {e2e:g} ms ({limit_name(self.family, key)}, "
            f"{stages_text(form, f)}) cannot be met: the cheapest fleet meeting every other "
            f"limit ({relaxed.objective:,.2f} {form.cost.scn.currency}/day) needs "
            f"{activity + e2e:.4g} ms"
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


def pipeline_ms(form, plan) -> float:
    """A fleet's pipeline p99: per stage the slowest mode in use (at its capacity), summed."""
    f = form.cost.space.fusions.index(plan.fusion)
    shares = plan.shares[plan.shares["mode"] >= 0]
    modes = form.fleet.modes.iloc[shares["mode"].to_numpy()]
    unit_of, p99 = modes.unit.to_numpy(), modes.p99_at_cap_ms.to_numpy()
    return sum(float(p99[np.isin(unit_of, units)].max(initial=0.0)) for _, units in form.stages[f])


class Budget(Limit):
    """``budget_max``: ``c.v (- slack) <= budget`` (cost per day of every column)."""

    family, unit = "budget_max", "per day"
    export_name, couples = "budget_per_day", True
    title = "the budget"

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

    def fleet_rows(self, draft, rows):
        budget = draft.layout.cost.scn.constraints.budget_per_day
        if budget is None:
            return []
        cols = np.nonzero(draft.c)[0]
        return [(rows.add(limit_name(self.family, ""), cols, draft.c[cols], -np.inf, budget), "")]

    def fleet_values(self, form, plan, cost):
        budget = form.cost.scn.constraints.budget_per_day
        return [] if budget is None else [self._value("", cost, budget)]

    def fleet_explain(self, form, relaxed):
        if not relaxed.over:
            return f"{self.title} cannot be met"
        return (
            f"the budget cannot be met: the cheapest fleet meeting every other limit costs "
            f"{relaxed.objective:,.2f} {form.cost.scn.currency}/day, over the budget of "
            f"{relaxed.over[0][2]:,.2f}"
        )
