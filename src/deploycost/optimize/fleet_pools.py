"""Pools, the memory their models share, plan prices and the modes worth a column.

A pool is a model's own (the default) or the ``pool`` several models name; models of a
shared pool must fit together on the instances they share. A mode that another dominates
(see ``drop_dominated``) never becomes a column.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from deploycost.catalog import COMMITTED_PLANS
from deploycost.cost.model import CostModel
from deploycost.cost.prices import payers, plan_price_name
from deploycost.errors import DeployCostError
from deploycost.options.capacity import FleetOptions
from deploycost.options.performance import hardware_axes
from deploycost.periods import DAYS_PER_YEAR, HOURS_PER_DAY

PLANS = (*COMMITTED_PLANS, "on_demand", "spot")


def shown_plans(scn) -> tuple[str, ...]:
    """The plans a fleet's cost lines list: one-year, on-demand and spot always (0 where
    unused), the three-year term where the scenario allows it."""
    return tuple(p for p in PLANS if p != "reserved_3yr" or p in scn.fleet.plans)


def pools_of(cost: CostModel, fleet: FleetOptions) -> tuple[list[str], np.ndarray]:
    """Pool names and the pool of each unit: the model's ``pool`` or its own."""
    names: list[str] = []
    of_unit = []
    for i in fleet.units.model:
        model = cost.scn.models[i]
        name = model.pool if model.pool is not None else model.name
        if name not in names:
            names.append(name)
        of_unit.append(names.index(name))
    return names, np.array(of_unit, np.intp)


def shared_pools(pool_of_unit: np.ndarray, fleet: FleetOptions) -> set[int]:
    """Pools that several models use (memory is then checked across them)."""
    models = {}
    for u, p in enumerate(pool_of_unit):
        models.setdefault(int(p), set()).add(int(fleet.units.model[u]))
    return {p for p, ms in models.items() if len(ms) > 1}


def fit_together(cost: CostModel, h, device_gb, host_gb, n_models, tol: float = 0.0):
    """(device ok, host ok): whether models needing ``device_gb`` of accelerator memory and
    ``host_gb`` of host RAM in total (each model's host figure carries the host reserve,
    which one instance holds once) fit together on one instance of type ``h``; arrays
    broadcast, CPU types have no accelerator memory to fill."""
    axes = hardware_axes(cost)
    opts = cost.scn.options
    usable = opts.memory_usable_fraction
    device = axes["cpu"][h] | (device_gb <= axes["device_gb"][h] * usable + tol)
    host = host_gb - opts.host_reserve_gb * (n_models - 1) <= axes["host_gb"][h] * usable + tol
    return device, host


def always_fit(cost: CostModel, fleet: FleetOptions, pool_of_unit, shared: set[int]) -> set[int]:
    """Shared pools whose models all fit together, at their largest mode, on every type
    they run on: their memory rows could never bind, so they get no place binaries."""
    if not shared:
        return set()
    unit = fleet.modes.unit.to_numpy()
    pool, h, device, host, n = _pool_memory(
        cost, fleet, pool_of_unit, shared, unit, len(pool_of_unit), np.maximum
    )
    device_ok, host_ok = fit_together(cost, h, device, host, n)
    return set(shared) - set(pool[~(device_ok & host_ok)].tolist())


def _pool_memory(cost, fleet, pool_of_unit, shared, member, n_members, reduce):
    """Per (pool, type) run by the ``shared`` pools: (pool, type, device GB, host GB,
    members), the GB summed over the pool's members (``member`` of each mode, a unit or a
    model) of each member's memory there, ``reduce`` (np.minimum, np.maximum) over its
    modes on the type."""
    modes = fleet.modes
    unit = modes.unit.to_numpy()
    mine = np.isin(pool_of_unit[unit], sorted(shared))
    n_types = len(cost.space.instances)
    pool_type = pool_of_unit[unit] * n_types + modes.instance_idx.to_numpy()
    key = (pool_type * n_members + member)[mine]
    order = np.argsort(key, kind="stable")
    cells, first = np.unique(key[order], return_index=True)
    device = reduce.reduceat(modes.device_gb.to_numpy()[mine][order], first)
    host = reduce.reduceat(modes.host_gb.to_numpy()[mine][order], first)
    pairs, per_pair = np.unique(cells // n_members, return_inverse=True)
    pool, h = np.divmod(pairs, n_types)
    return (
        pool,
        h,
        np.bincount(per_pair, device, len(pairs)),
        np.bincount(per_pair, host, len(pairs)),
        np.bincount(per_pair, minlength=len(pairs)),
    )


def check_pools(cost: CostModel, fleet: FleetOptions, pools, pool_of_unit, shared) -> None:
    """A shared pool whose models fit together on no instance type is an input error: on
    each type, every model of the pool needs at least its smallest mode there."""
    if not shared:
        return
    model = fleet.units.model[fleet.modes.unit.to_numpy()]
    pool, h, dev, host, n = _pool_memory(
        cost, fleet, pool_of_unit, shared, model, len(cost.space.models), np.minimum
    )
    models_of = {
        p: sorted({int(fleet.units.model[u]) for u in np.nonzero(pool_of_unit == p)[0]})
        for p in shared
    }
    complete = n == np.array([len(models_of[p]) for p in pool], int)
    device_ok, host_ok = fit_together(cost, h, dev, host, n)
    fits = complete & device_ok & host_ok
    for p in sorted(shared):
        mine = pool == p
        if fits[mine].any():
            continue
        need = np.where(dev > 0, dev, host)[mine & complete]
        names = ", ".join(cost.space.models[i] for i in models_of[p])
        detail = f" (they need {need.min():.4g} GB together)" if len(need) else ""
        raise DeployCostError(
            f"models[*].pool {pools[p]!r}: its models ({names}) fit together on no allowed "
            f"instance type that serves each of them within its SLO{detail}; split the pool"
        )


def plan_prices(cost: CostModel) -> np.ndarray:
    """(H, plans) price per instance-hour of each type under each fleet plan (NaN: none)."""
    prices = cost.prices
    payer = payers(cost.scn, cost.space.instances)
    out = np.full((len(payer), len(PLANS)), np.nan)
    for j, plan in enumerate(PLANS):
        if plan not in cost.scn.fleet.plans:
            continue
        for h, name in enumerate(payer):
            price = plan_price_name(plan, name)
            if price in prices:
                out[h, j] = prices.values[prices.index(price)]
    return out


def drop_dominated(
    cost: CostModel,
    fleet: FleetOptions,
    shared_units: np.ndarray,
    pool_of_unit: np.ndarray,
    roomy: set[int] = frozenset(),
) -> FleetOptions:
    """The modes no other mode of the same unit and precision dominates.

    Mode m' dominates m when one instance of m' can replace one of m in any fleet: at least
    the capacity, no higher p99 at capacity, a price under every plan no higher than m's
    (and offered wherever m's is), and no quota on m''s type. Ties keep the first type.
    Exact for a model with its own pool (moving its load from h to h' needs no more h'
    instances than it freed on h). In a shared pool spare capacity bought for another model
    on h may carry a dearer mode for free, so there a type is dropped only when another
    dominates it for the whole pool (``_pool_dominated``).
    """
    modes = fleet.modes
    price = plan_prices(cost)
    quota = np.array([name in cost.scn.constraints.quotas for name in cost.space.instances])
    shared_pool_of = np.where(shared_units, pool_of_unit, -1)
    h = modes.instance_idx.to_numpy()
    cap, p99 = modes.cap_qps.to_numpy(), modes.p99_at_cap_ms.to_numpy()
    unit = modes.unit.to_numpy()
    group = unit * len(cost.space.precisions) + modes.precision_idx.to_numpy()
    b, a = matching(group, group)  # every pair of modes of one unit and precision
    own = ~shared_units[unit[a]]
    a, b = a[own], b[own]

    def dominates(b: np.ndarray, a: np.ndarray) -> np.ndarray:
        pa, pb = price[h[a]], price[h[b]]  # (pairs, plans)
        cheaper = np.all(np.isnan(pa) | (pb <= pa), axis=1)
        return (cap[b] >= cap[a]) & (p99[b] <= p99[a]) & cheaper & ~quota[h[b]]

    ok, back = dominates(b, a), dominates(a, b)
    strictly = ok & ~back  # b better than a in some way
    tie = ok & back & (b < a)  # equal: the first type stays
    keep = np.ones(len(modes), bool)
    keep[a[strictly | tie]] = False
    keep &= ~_pool_dominated(cost, modes, price, quota, shared_pool_of, roomy)
    kept = modes[keep].reset_index(drop=True)
    return FleetOptions(
        fleet.units,
        fleet.perf,
        kept,
        fleet.artifacts,
        fleet.artifact_by_price,
        fleet.artifact_by_component,
        fleet.missing,
    )


def _pool_dominated(cost, modes, price, quota, shared_pool_of, roomy) -> np.ndarray:
    """Modes on a type that another type dominates for a whole shared pool: for every
    (model, precision) of the pool that runs on h, h' runs it with at least the capacity,
    no higher p99 and no more memory; h' has at least h's memory (unless the pool's models
    fit together everywhere: ``roomy``), a price under every plan no higher, and no quota.
    One h' instance then carries whatever set of model loads one h instance carried, so
    the pool never needs h. Ties keep the first type."""
    axes = hardware_axes(cost)
    out = np.zeros(len(modes), bool)
    unit = modes.unit.to_numpy()
    for pool in np.unique(shared_pool_of[shared_pool_of >= 0]):
        mine = np.nonzero(shared_pool_of[unit] == pool)[0]
        sub = modes.iloc[mine]
        # (keys, types) tables, key = (unit, precision), NaN where not run (a unit has one
        # mode per type and precision)
        _, key = np.unique(
            sub.unit.to_numpy() * len(cost.space.precisions) + sub.precision_idx.to_numpy(),
            return_inverse=True,
        )
        types, col = np.unique(sub.instance_idx.to_numpy(), return_inverse=True)
        cap, p99, dev, host = (
            _table(sub[c].to_numpy(), key, col, len(types))
            for c in ("cap_qps", "p99_at_cap_ms", "device_gb", "host_gb")
        )
        runs = ~np.isnan(cap)
        a, b = np.arange(len(types))[:, None], np.arange(len(types))[None, :]
        with np.errstate(invalid="ignore"):
            each = (
                (cap[:, None, :] >= cap[:, :, None])
                & (p99[:, None, :] <= p99[:, :, None])
                & (dev[:, None, :] <= dev[:, :, None])
                & (host[:, None, :] <= host[:, :, None])
            )  # (keys, a, b): does b do at least as well as a for this key
        covers = np.all(~runs[:, :, None] | (runs[:, None, :] & each), axis=0)
        pa, pb = price[types[a]], price[types[b]]
        cheaper = np.all(np.isnan(pa) | (pb <= pa), axis=2)
        room = (axes["device_gb"][types[b]] >= axes["device_gb"][types[a]]) & (
            axes["host_gb"][types[b]] >= axes["host_gb"][types[a]]
        ) | (pool in roomy)
        ok = covers & cheaper & room & ~quota[types[b]] & (a != b)
        strictly = ok & ~ok.T
        tie = ok & ok.T & (b < a)
        gone = types[(strictly | tie).any(axis=1)]
        out[mine[np.isin(sub.instance_idx.to_numpy(), gone)]] = True
    return out


def _table(values: np.ndarray, row: np.ndarray, col: np.ndarray, n_cols: int) -> np.ndarray:
    out = np.full((row.max(initial=-1) + 1, n_cols), np.nan)
    out[row, col] = values
    return out


def matching(keys: np.ndarray, wanted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every (i, j) with ``keys[i] == wanted[j]``, as (i's, j's), j ascending."""
    order = np.argsort(keys, kind="stable")
    lo = np.searchsorted(keys[order], wanted, "left")
    count = np.searchsorted(keys[order], wanted, "right") - lo
    j = np.repeat(np.arange(len(wanted)), count)
    offset = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
    return order[np.repeat(lo, count) + offset], j


def count_columns(cost: CostModel, pool_types: np.ndarray, days) -> tuple[pd.DataFrame, np.ndarray]:
    """One integer column per (pool, type, plan[, day type, slot]) with a price: its
    keys, its quantity per day (instance-hours/day) and the row of its price."""
    scn, prices = cost.scn, cost.prices
    records, price_rows = [], []
    payer = payers(scn, cost.space.instances)
    for p, h in pool_types:
        for plan in PLANS:
            if plan not in scn.fleet.plans:
                continue
            price = plan_price_name(plan, payer[h])
            if price not in prices:
                continue  # no price under this plan for this type
            if plan in COMMITTED_PLANS:
                records.append((p, h, plan, -1, -1, HOURS_PER_DAY))
                price_rows.append(prices.index(price))
                continue
            for d, n_days in enumerate(days.days):
                for g, (_, hours) in enumerate(days.slots[d]):
                    records.append((p, h, plan, d, g, len(hours) * n_days / DAYS_PER_YEAR))
                    price_rows.append(prices.index(price))
    keys = pd.DataFrame(
        records, columns=["pool", "instance_idx", "plan", "day", "group", "quantity"]
    )
    return keys, np.array(price_rows, np.intp)
