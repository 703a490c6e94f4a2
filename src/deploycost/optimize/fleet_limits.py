"""The limits of a solved fleet, family by family of the registry (``optimize.limits``):
the same names, units, bounds and export slots as a deployment's, with each value
recomputed from the decoded fleet and the scenario, not from the matrix.

Where a deployment has one figure per model, a fleet has one per type the model runs on;
the value is the worst of them at the per-instance capacity the fleet was sized at (p99,
TTFT, TPOT, utilisation), the largest count over the hours of every day type (quotas), or
the fleet's own total (quality, end-to-end latency, budget, owned storage).

``FLEET_VALUES`` holds one function per family; a family of ``LIMITS`` without one fails
the tests, so a new limit is written for both plans.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from deploycost.cost.prices import payers
from deploycost.optimize.fleet import FleetFormulation
from deploycost.optimize.limits import BY_FAMILY, LimitValue, _data_gb, fusion_layer
from deploycost.optimize.result import FleetPlan, hourly_counts
from deploycost.options.capacity import slices_per_node

FleetValues = Callable[[FleetFormulation, FleetPlan, float], list[LimitValue]]


def _value(family: str, key: str, value: float, limit: float) -> LimitValue:
    spec = BY_FAMILY[family]
    return LimitValue(family, key, float(value), float(limit), spec.sense, spec.unit)


def _serving(form: FleetFormulation, plan: FleetPlan):
    """(model, rows of the modes carrying its load) in the plan's order."""
    shares = plan.shares[plan.shares["mode"] >= 0]
    for model, mine in shares.groupby("model", sort=False):
        yield model, form.fleet.modes.iloc[mine["mode"].to_numpy()]


def _at(form: FleetFormulation, modes) -> tuple[np.ndarray, ...]:
    model = np.array([form.cost.space.models.index(m) for m in modes.model])
    return (
        model,
        modes.instance_idx.to_numpy(),
        modes.precision_idx.to_numpy(),
        modes.config_idx.to_numpy(),
    )


def _p99(form, plan, cost):
    scn = form.cost.scn
    return [
        _value("latency_p99_max", m, modes.p99_at_cap_ms.max(), scn.model(m).latency_limit_ms)
        for m, modes in _serving(form, plan)
    ]


def _llm(family: str, limit: str):
    def values(form, plan, cost):
        scn, perf = form.cost.scn, form.fleet.perf
        out = []
        for m, modes in _serving(form, plan):
            spec = scn.model(m).llm
            if spec is None or getattr(spec, limit) is None:
                continue
            if family == "ttft_p99_max":
                worst = modes.ttft_at_cap_ms.max()
            else:
                worst = perf.tpot_ms[_at(form, modes)].max()
            out.append(_value(family, m, worst, getattr(spec, limit)))
        return out

    return values


def _utilisation(form, plan, cost):
    """A type's instance at its capacity: the per-instance rate over what its servers can
    process at all (a partition row's node is its slices)."""
    rho = form.cost.scn.constraints.utilisation_max
    slices = slices_per_node(form.cost)
    out = []
    for m, modes in _serving(form, plan):
        servers = slices[modes.instance_idx.to_numpy()]
        busy = modes.cap_qps.to_numpy() / (modes.throughput_qps.to_numpy() * servers)
        out.append(_value("utilisation_max", m, busy.max(), rho))
    return out


def _cold_start(form, plan, cost):
    limit = form.cost.scn.constraints.max_cold_start_s
    if not np.isfinite(limit):
        return []
    return [
        _value("cold_start_max", r.model, r.cold_start_s, limit)
        for r in plan.artifacts.itertuples()
    ]


def _quality(form, plan, cost):
    floor = form.cost.scn.constraints.quality_floor
    if floor is None:
        return []
    f = form.cost.space.fusions.index(plan.fusion)
    q = form.fusion_quality[f]
    return [_value("quality_min", plan.fusion, q * (1 + plan.artifacts.quality_delta.sum()), floor)]


def pipeline_ms(form: FleetFormulation, plan: FleetPlan) -> float:
    """The pipeline's p99: per stage the slowest mode in use (at its capacity), summed."""
    f = form.cost.space.fusions.index(plan.fusion)
    shares = plan.shares[plan.shares["mode"] >= 0]
    modes = form.fleet.modes.iloc[shares["mode"].to_numpy()]
    unit_of, p99 = modes.unit.to_numpy(), modes.p99_at_cap_ms.to_numpy()
    return sum(float(p99[np.isin(unit_of, units)].max(initial=0.0)) for _, units in form.stages[f])


def _e2e(form, plan, cost):
    e2e = form.cost.scn.constraints.e2e_latency_ms
    if e2e is None:
        return []
    return [_value("latency_e2e_max", plan.fusion, pipeline_ms(form, plan), e2e)]


def quota_hours(form: FleetFormulation, plan: FleetPlan) -> dict[str, np.ndarray]:
    """Per type with a quota, its (D, 24) instances at every hour of every day type, over
    every pool and plan (a partition row's nodes count as its parent type's), plus the
    fusion layer's replicas of the chosen configuration on that type."""
    scn, days = form.cost.scn, form.days.names
    counts = plan.counts
    node = np.array(payers(scn, counts.instance), object)
    f = form.cost.space.fusions.index(plan.fusion)
    return {
        name: hourly_counts(counts[node == name], days) + fusion_layer(form, name)[f]
        for name in scn.constraints.quotas
    }


def _quota(form, plan, cost):
    quotas = form.cost.scn.constraints.quotas
    return [
        _value("quota_max", name, used.max(), quotas[name])
        for name, used in quota_hours(form, plan).items()
        if name in form.cost.space.instances
    ]


def _budget(form, plan, cost):
    budget = form.cost.scn.constraints.budget_per_day
    return [] if budget is None else [_value("budget_max", "", cost, budget)]


def _storage(form, plan, cost):
    scn = form.cost.scn
    data_gb = _data_gb(form)
    out = []
    for name, capacity in scn.constraints.owned_storage_gb.items():
        used = float(plan.artifacts.stored_gb[plan.artifacts.tier == name].sum())
        used += sum(
            float(gb)
            for src, gb in zip(scn.data_sources, data_gb, strict=True)
            if plan.data_tiers.get(src.name) == name
        )
        out.append(_value("storage_capacity_max", name, used, capacity))
    return out


FLEET_VALUES: dict[str, FleetValues] = {
    "latency_p99_max": _p99,
    "ttft_p99_max": _llm("ttft_p99_max", "ttft_p99_ms"),
    "tpot_p99_max": _llm("tpot_p99_max", "tpot_p99_ms"),
    "utilisation_max": _utilisation,
    "cold_start_max": _cold_start,
    "quality_min": _quality,
    "latency_e2e_max": _e2e,
    "quota_max": _quota,
    "budget_max": _budget,
    "storage_capacity_max": _storage,
}


def fleet_limits(form: FleetFormulation, plan: FleetPlan, cost: float) -> tuple[LimitValue, ...]:
    """Every limit of the fleet, in the registry's order (``cost``: its cost per day)."""
    return tuple(value for family in BY_FAMILY for value in FLEET_VALUES[family](form, plan, cost))
