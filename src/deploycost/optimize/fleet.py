"""The fleet MILP: load shares over instance types, pools, purchase plans, hours, day types.

With a ``fleet`` section, what the optimiser buys changes (``options.capacity`` gives the
modes and artifacts). Columns, after those of ``optimize.layout`` (there the x columns are
the *artifacts* ``a[k]`` in {0, 1}; z, y and the stage budgets L are unchanged):

* ``w[m]`` in [0, 1]: the share of unit u's requests served by mode m = (u, h, c, b),
  held scaled as ``v[m] = w[m] max(1, P_u / cap[m])`` (the instances m would need for all
  of u at the year's peak ``P``) so that the capacity rows read in instances and no share
  coefficient exceeds 1; the rows below are written in w for clarity;
* ``use[u, h]`` in {0, 1}: u may run on h (a pool keeps instances of h only for a model
  that uses it); only where it can matter: with a type cap, a minimum share, a
  min_replicas above 1 or an hour without load (else an idle instance never pays off);
* ``place[m]`` in {0, 1} (for modes of pools shared by several models that might not all
  fit together on a type, and for every mode under an end-to-end limit): the model is
  loaded on every instance of its pool on h;
* per pool p and instance type h where some mode of p runs: ``K[p, h]`` committed
  instances per committed plan (reserved_1yr, reserved_3yr: paid 24 h a day all year),
  and per day type d and hour group g
  ``N[p, h, d, g]`` on-demand and ``S[p, h, d, g]`` spot instances, integer. Slots g
  group the hours of a day type that carry the same rate (the same counts are optimal in
  them); without autoscaling a day type is one slot sized at its peak all day.

A pool is a model's own (the default) or the ``pool`` several models name. Rows (d day
type, t hour, ``lambda[u, d, t]`` the unit's requests/s, raised to the largest rate within
``scale_up_lag_min`` ahead, since capacity must be up before demand arrives):

* ``share[u]``: ``sum_m w[m] - Z_f = 0``;
* ``artifact[m]``: ``w[m] - sum_{k of (u, c(m))} a[k] <= 0``: a mode runs only on a stored
  artifact of its precision (``assign`` makes that one artifact per unit);
* ``capacity[p, h, d, t]``: ``sum_{m in p on h} lambda[u, d, t] / cap[m] w[m] - K - N -
  (1 - f) S <= 0``: the pool's instances carry its load at the SLO with the spot part
  reduced by ``spot_interruption_fraction`` f (the interruption rule: losing that fraction
  of the spot instances at once still meets the SLO);
* ``min_instances[p, f, d, g]``: ``sum_h (K + N + S)[p, h, d, g] - R_pf Z_f >= 0``, R_pf the
  largest min_replicas of p's models in configuration f;
* ``idle[p, h, d, g]``: ``(K + N + S)[p, h, d, g] <= M_ph sum_{u in p} use[u, h]``;
* ``use_active[u, h]``: ``use[u, h] - Z_f <= 0``; ``use_link[m]``: ``w[m] - use[u, h(m)]
  <= 0``; ``max_types[u]``: ``sum_h use[u, h] <= max_types_per_model``;
  ``min_share[u, h]``: ``sum_{m of u on h} w[m] - s_min use[u, h] >= 0``;
* ``place_link[m]``: ``w[m] - place[m] <= 0``; ``memory[p, h]`` (device and host):
  ``sum_{m in p on h} GB[m] place[m] <= usable GB of h``;
* with an end-to-end limit, ``place[m]`` exists for every mode and
  ``stage_latency[m]``: ``p99_m place[m] - L[f, g(u)] <= 0`` (p99 at capacity, an upper
  bound at lower loads but for batch formation, which the audit warns about),
  ``latency_e2e_max[f]``: ``sum_g L[f, g] - SLO Z_f <= 0``;
* ``quota_max[h, d, g]``: ``sum_p (K + N + S)[p, h, d, g] + fusion-layer replicas on h <=
  quota_h``; ``budget_max``: ``c.v <= budget``; the quality floor and owned storage rows of
  the limit registry apply to the artifacts unchanged.

Cost per day, linear in prices: ``K x 24 x reserved_<term>_hour[h]``; ``N x hours(g) x
days_d / 365 x on_demand_hour[h]``; the same for S at ``spot_hour[h]``; artifacts, fusion,
people and data as before.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

from deploycost.catalog import COMMITTED_PLANS
from deploycost.cost.model import COMPONENTS, CostModel
from deploycost.cost.prices import payers, plan_price_name
from deploycost.errors import DeployCostError
from deploycost.optimize.formulation import STRUCTURE, Milp
from deploycost.optimize.layout import Layout, Rows, lay_out
from deploycost.optimize.limits import QualityFloor, StorageCapacity, fusion_layer, limit_name
from deploycost.options.capacity import FleetOptions, fleet_options
from deploycost.options.grid import OptionSet
from deploycost.options.performance import hardware_axes
from deploycost.periods import DAYS_PER_YEAR, HOURS_PER_DAY

PLANS = (*COMMITTED_PLANS, "on_demand", "spot")


def shown_plans(scn) -> tuple[str, ...]:
    """The plans a fleet's cost lines list: one-year, on-demand and spot always (0 where
    unused), the three-year term where the scenario allows it."""
    return tuple(p for p in PLANS if p != "reserved_3yr" or p in scn.fleet.plans)


REGISTRY_LIMITS = (QualityFloor(), StorageCapacity())  # rows on the artifact columns


@dataclass(frozen=True)
class DayTable:
    """Day types: name, days a year, requests/s per hour (24) and the hours sized."""

    names: list[str]
    days: np.ndarray  # (D,)
    qps: np.ndarray  # (D, 24) user queries/s
    need_qps: np.ndarray  # (D, 24) the rate capacity must carry (scale-up lag applied)
    # per day type, its slots: (rate to carry, hours) for each distinct rate; hours with
    # the same rate need the same counts at the optimum, so one count column serves them
    # all (without autoscaling, one slot: the day's peak, all 24 hours)
    slots: list[list[tuple[float, list[int]]]]


def day_table(cost: CostModel) -> DayTable:
    scn = cost.scn
    wl = scn.workload
    if wl.day_types:
        names = [d.name for d in wl.day_types]
        days = np.array([d.days for d in wl.day_types])
        qps = np.array([d.hourly_qps() for d in wl.day_types])
    else:
        weights = np.asarray(wl.hourly_weights)
        names, days = ["every_day"], np.array([DAYS_PER_YEAR])
        qps = (wl.peak_qps_resolved * weights / weights.max())[None, :]
    ahead = int(np.ceil(scn.fleet.scale_up_lag_min / 60.0))
    need = qps.copy()
    for k in range(1, min(ahead, 23) + 1):
        need = np.maximum(need, np.roll(qps, -k, axis=1))
    if not scn.options.autoscale:
        need = np.repeat(need.max(axis=1, keepdims=True), 24, axis=1)
    slots = [
        [(float(rate), [int(t) for t in np.nonzero(row == rate)[0]]) for rate in np.unique(row)]
        for row in need
    ]
    return DayTable(names, days, qps, need, slots)


@dataclass(frozen=True)
class FleetColumns:
    """Where the fleet's columns are and what they mean."""

    w: slice
    use: slice
    place: slice
    counts: slice
    w_scale: np.ndarray  # (modes,) column w[m] holds share x w_scale[m]
    use_pairs: np.ndarray  # (n_use, 2) unit, instance
    place_modes: np.ndarray  # modes with a place column, in column order
    count_keys: pd.DataFrame  # pool, instance_idx, plan, day, group per count column
    by_price: sp.csr_matrix  # (columns, prices): quantities per day
    by_component: dict[str, sp.csr_matrix]  # the same, per cost component (they sum to it)


@dataclass(frozen=True)
class FleetFormulation(Layout):
    fleet: FleetOptions = None  # type: ignore[assignment]
    days: DayTable = None  # type: ignore[assignment]
    pools: list[str] = field(default_factory=list)  # pool name per pool index
    pool_of_unit: np.ndarray = None  # type: ignore[assignment]
    cols: FleetColumns = None  # type: ignore[assignment]
    milp: Milp = None  # type: ignore[assignment]


# HiGHS presolve: needed for speed on the fleet's integer counts. CBC returned "optimal"
# fleets above the true optimum with its probing (a random case: 58.89 where brute force
# proves 58.67) and with its integer preprocessing (a 10-model fleet: 514.77 where HiGHS's
# audited fleet costs 501.13); with both off it agrees with the oracle and with HiGHS on
# every case tried
FLEET_SOLVING = {"presolve": True, "cbc_options": ("probing off", "preprocess off")}


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


def _artifact_options(fleet: FleetOptions) -> OptionSet:
    """The artifacts as the layout's x columns (quality floor and owned storage read them)."""
    art = fleet.artifacts
    columns = {
        "unit": art.unit.to_numpy(),
        "cost_per_day": art.cost_per_day.to_numpy(),
        "quality_delta": art.quality_delta.to_numpy(),
        "tier_idx": art.tier_idx.to_numpy(),
        "stored_gb": art.stored_gb.to_numpy(),
    }
    return OptionSet(fleet.units, art, fleet.artifact_by_price, pd.DataFrame(), columns)


def _check_pools(cost: CostModel, fleet: FleetOptions, pools, pool_of_unit, shared) -> None:
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


def build_fleet(cost: CostModel, fleet: FleetOptions | None = None) -> FleetFormulation:
    """Formulate the fleet choice (see the module docstring)."""
    scn = cost.scn
    fleet = fleet or fleet_options(cost)
    pools, pool_of_unit = pools_of(cost, fleet)
    shared = shared_pools(pool_of_unit, fleet)
    _check_pools(cost, fleet, pools, pool_of_unit, shared)
    roomy = always_fit(cost, fleet, pool_of_unit, shared)
    fleet = drop_dominated(cost, fleet, np.isin(pool_of_unit, sorted(shared)), pool_of_unit, roomy)
    layout = lay_out(cost, _artifact_options(fleet))
    days = day_table(cost)
    modes = fleet.modes
    mu, mh = modes.unit.to_numpy(), modes.instance_idx.to_numpy()
    mp = pool_of_unit[mu]
    n_m = len(modes)

    # column blocks
    w0 = layout.n_structural
    peak_qps = float(days.need_qps.max())
    # v[m] = w[m] x the instances m would need for all of u at the peak (at least 1): the
    # counts and the capacity rows then read in instances and every share coefficient is
    # at most 1, which keeps the solvers' tolerances meaningful (a column bounded by 1e-6
    # would be lost in them)
    instances = peak_qps * fleet.units.share[mu] / modes.cap_qps.to_numpy()
    scale = np.maximum(instances, 1.0)
    f_opts = scn.fleet
    # use binaries matter for the type cap, the minimum share and the idle rows; idle
    # instances only pay off to reach min_replicas > 1 or in hours without load
    need_use = (
        f_opts.max_types_per_model is not None
        or f_opts.min_share > 0
        or bool((cost.const.min_replicas[fleet.units.model] > 1).any())
        or bool((days.need_qps <= 0).any())
    )
    use_pairs = (
        np.unique(np.stack([mu, mh], axis=1), axis=0).reshape(-1, 2)
        if need_use
        else np.zeros((0, 2), np.intp)
    )
    use0 = w0 + n_m
    e2e = scn.constraints.e2e_latency_ms
    in_shared = np.isin(mp, sorted(shared - roomy))
    # a binary per mode where it matters: shared pools (memory) and stage latencies (e2e)
    staged = layout.stage_col[fleet.modes.unit.to_numpy()] >= 0  # in the e2e pipeline
    place_modes = np.nonzero(in_shared | (staged & (e2e is not None)))[0]
    place0 = use0 + len(use_pairs)
    k0 = place0 + len(place_modes)
    pool_types = np.unique(np.stack([mp, mh], axis=1), axis=0).reshape(-1, 2)
    keys, price_rows = _count_columns(cost, pool_types, days)
    n_cols = k0 + len(keys)

    prices = cost.prices
    q_rows = np.arange(len(keys))
    by_price_counts = sp.csr_matrix(
        (keys.quantity.to_numpy(), (q_rows, price_rows)), shape=(len(keys), len(prices.names))
    )
    c = np.concatenate(
        [
            layout.c,
            np.zeros(n_m + len(use_pairs) + len(place_modes)),
            by_price_counts @ prices.values,
        ]
    )
    if not np.isfinite(c).all():
        raise DeployCostError("an instance price of the fleet is not a finite number")

    rows = Rows()
    for family in STRUCTURE:
        family(layout, rows)
    for limit in REGISTRY_LIMITS:
        limit.rows(layout, rows)
    _share_rows(layout, fleet, rows, w0, scale)
    _artifact_rows(layout, fleet, rows, w0, scale)
    load = instances / scale / peak_qps  # instances per v per request/s of the day table
    _capacity_rows(cost, fleet, days, pool_of_unit, pool_types, keys, k0, rows, w0, pools, load)
    _min_instance_rows(layout, fleet, days, pools, pool_of_unit, pool_types, keys, k0, rows)
    if need_use:
        _type_rows(cost, fleet, use_pairs, rows, w0, use0, scale, layout.z.start)
        _idle_rows(
            cost, fleet, days, pool_of_unit, pool_types, keys, k0, use_pairs, instances, rows, use0
        )
    if len(place_modes):
        _place_rows(place_modes, rows, w0, place0, scale)
        _memory_rows(cost, fleet, place_modes, in_shared, pool_of_unit, rows, place0, pools)
    if e2e is not None:
        _e2e_rows(layout, fleet, place_modes, rows, place0, e2e)
    _quota_rows(layout, days, pool_types, keys, k0, rows)
    _budget_row(cost, c, rows)

    integrality = np.zeros(n_cols, np.int8)
    integrality[: layout.latency.start] = 1
    integrality[use0:n_cols] = 1
    col_ub = np.full(n_cols, np.inf)
    col_ub[: layout.latency.start] = 1.0
    col_ub[w0:k0] = 1.0
    col_ub[w0:use0] = scale
    milp = Milp.of(c, rows, col_ub, integrality, **FLEET_SOLVING)
    artifact_by_price = sp.vstack(
        [layout.options.by_price, layout.z_by_price, layout.y_by_price]
    ).tocsr()
    cols = FleetColumns(
        w=slice(w0, use0),
        use=slice(use0, place0),
        place=slice(place0, k0),
        counts=slice(k0, n_cols),
        w_scale=scale,
        by_component=_by_component(layout, fleet, by_price_counts, n_cols, k0),
        use_pairs=use_pairs,
        place_modes=place_modes,
        count_keys=keys,
        by_price=sp.vstack(
            [
                artifact_by_price,
                # stage budgets, shares, use and place columns cost nothing
                sp.csr_matrix((k0 - layout.latency.start, len(prices.names))),
                by_price_counts,
            ]
        ).tocsr(),
    )
    return FleetFormulation(
        **{name: getattr(layout, name) for name in Layout.__dataclass_fields__},
        fleet=fleet,
        days=days,
        pools=pools,
        pool_of_unit=pool_of_unit,
        cols=cols,
        milp=milp,
    )


def _by_component(layout, fleet, by_price_counts, n_cols, k0) -> dict[str, sp.csr_matrix]:
    """(columns, prices) quantities of each of the six cost components: artifacts give
    model storage and compression, z people and fusion, y data, the counts compute."""
    cost = layout.cost
    n_prices = len(cost.prices.names)
    pairs = layout.z_pairs

    def place(block: sp.csr_matrix, start: int) -> sp.csr_matrix:
        block = sp.csr_matrix(block)
        head = sp.csr_matrix((start, n_prices))
        tail = sp.csr_matrix((n_cols - start - block.shape[0], n_prices))
        return sp.vstack([head, block, tail]).tocsr()

    data = cost.data_quantities()
    y_rows = data[layout.y_pairs[:, 0] * len(cost.space.tiers) + layout.y_pairs[:, 1]]
    out = {
        "data": place(y_rows, layout.y.start),
        "model_storage": place(fleet.artifact_by_component["model_storage"], layout.x.start),
        "compression": place(fleet.artifact_by_component["compression"], layout.x.start),
        "compute": place(by_price_counts, k0),
    }
    for part in ("people", "fusion"):
        out[part] = place(cost.system_quantities(pairs[:, 0], pairs[:, 1], part), layout.z.start)
    return {part: out[part] for part in COMPONENTS}


def _count_columns(
    cost: CostModel, pool_types: np.ndarray, days: DayTable
) -> tuple[pd.DataFrame, np.ndarray]:
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


def _count_lookup(keys: pd.DataFrame, k0: int):
    """``count_of(p, h, d, g)`` -> (columns, plans) of every count that serves (pool, type)
    in day type d, slot g: the committed one (all year) and that slot's own."""
    columns: dict[tuple, list[tuple[int, str]]] = {}
    for j, (p, h, plan, d, g) in enumerate(
        keys[["pool", "instance_idx", "plan", "day", "group"]].itertuples(index=False)
    ):
        key = (p, h) if plan in COMMITTED_PLANS else (p, h, d, g)
        columns.setdefault(key, []).append((k0 + j, plan))

    def count_of(p: int, h: int, d: int, g: int) -> tuple[list[int], list[str]]:
        found = columns.get((p, h), []) + columns.get((p, h, d, g), [])
        return [col for col, _ in found], [plan for _, plan in found]

    return count_of


def _share_rows(layout, fleet, rows, w0, scale) -> None:
    """``share[u]``: the unit's modes carry all its requests when its configuration runs."""
    units = fleet.units
    a_count = len(layout.cost.space.automation)
    n_units, n_modes = len(units.model), len(fleet.modes)
    unit_rows = np.repeat(np.arange(n_units), a_count)
    z_cols = layout.z.start + (units.fusion[:, None] * a_count + np.arange(a_count)).ravel()
    rows.add_block(
        [f"share[{layout.unit_name(u)}]" for u in range(n_units)],
        np.concatenate([fleet.modes.unit.to_numpy(), unit_rows]),
        np.concatenate([w0 + np.arange(n_modes), z_cols]),
        np.concatenate([1.0 / scale, -np.ones(len(z_cols))]),
        0.0,
        0.0,
    )


def _artifact_rows(layout, fleet, rows, w0, scale) -> None:
    """``artifact[m]``: a mode needs a stored artifact of its unit at its precision."""
    art, modes = fleet.artifacts, fleet.modes
    width = len(layout.cost.space.precisions)
    key = art.unit.to_numpy() * width + art.precision_idx.to_numpy()
    mu = modes.unit.to_numpy()
    m_key = mu * width + modes.precision_idx.to_numpy()
    a_cols, mode_of = matching(key, m_key)
    n = len(modes)
    rows.add_block(
        [f"artifact[{layout.unit_name(int(u))}/{m}]" for m, u in enumerate(mu)],
        np.concatenate([np.arange(n), mode_of]),
        np.concatenate([w0 + np.arange(n), layout.x.start + a_cols]),
        np.concatenate([1.0 / scale, -np.ones(len(a_cols))]),
        -np.inf,
        0.0,
    )


def matching(keys: np.ndarray, wanted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every (i, j) with ``keys[i] == wanted[j]``, as (i's, j's), j ascending."""
    order = np.argsort(keys, kind="stable")
    lo = np.searchsorted(keys[order], wanted, "left")
    count = np.searchsorted(keys[order], wanted, "right") - lo
    j = np.repeat(np.arange(len(wanted)), count)
    offset = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
    return order[np.repeat(lo, count) + offset], j


def _slots(days: DayTable) -> tuple[list[tuple[int, int]], np.ndarray]:
    """Every (day type, slot), day type by day type (the flat slot index is the position),
    and the rate each slot carries."""
    slots = [(d, g) for d in range(len(days.names)) for g in range(len(days.slots[d]))]
    return slots, np.array([days.slots[d][g][0] for d, g in slots], float)


def _pair_of(pool_types: np.ndarray, pool: np.ndarray, h: np.ndarray) -> np.ndarray:
    """The row of ``pool_types`` of each (pool, type) given (each is one of its rows)."""
    width = int(pool_types[:, 1].max(initial=0)) + 1
    pair, _ = matching(pool_types[:, 0] * width + pool_types[:, 1], pool * width + h)
    return pair


def _count_index(keys: pd.DataFrame, pool_types: np.ndarray, days: DayTable):
    """Per count column: its (pool, type) pair (row of ``pool_types``) and its flat slot
    (-1 for a committed count, which serves every slot)."""
    first_slot = np.cumsum([0] + [len(s) for s in days.slots])
    pair = _pair_of(pool_types, keys.pool.to_numpy(), keys.instance_idx.to_numpy())
    day = keys.day.to_numpy()
    slot = np.where(day < 0, -1, first_slot[day] + keys.group.to_numpy())
    return pair, slot


def _capacity_rows(cost, fleet, days, pool_of_unit, pool_types, keys, k0, rows, w0, pools, load):
    """``capacity[p, h, d, t]`` (see the module docstring): one row per (pool, type) and
    slot with load, pair by pair."""
    modes = fleet.modes
    slots, rate = _slots(days)
    mode_pair = _pair_of(
        pool_types, pool_of_unit[modes.unit.to_numpy()], modes.instance_idx.to_numpy()
    )
    live = np.nonzero(rate > 0)[0]  # slots with nothing to carry get no row
    row_pair = np.repeat(np.arange(len(pool_types)), len(live))
    row_slot = np.tile(live, len(pool_types))
    n_slots = len(slots)
    row_at = np.full(len(pool_types) * n_slots, -1)
    row_at[row_pair * n_slots + row_slot] = np.arange(len(row_pair))
    # modes: every live slot of their pair
    m_rows = row_at[mode_pair[:, None] * n_slots + live[None, :]].ravel()
    m_mode = np.repeat(np.arange(len(modes)), len(live))
    m_vals = (rate[live][None, :] * load[:, None]).ravel()
    # counts: a committed one in every live slot of its pair, the others in their own
    pair, slot = _count_index(keys, pool_types, days)
    spot = keys.plan.to_numpy() == "spot"
    coef = -np.where(spot, 1.0 - cost.scn.fleet.spot_interruption_fraction, 1.0)
    year = np.nonzero(slot < 0)[0]
    own = np.nonzero(slot >= 0)[0]
    own = own[rate[slot[own]] > 0]
    c_rows = np.concatenate(
        [
            row_at[pair[year][:, None] * n_slots + live[None, :]].ravel(),
            row_at[pair[own] * n_slots + slot[own]],
        ]
    )
    c_cols = np.concatenate([np.repeat(year, len(live)), own])
    names = []
    for p, h in pool_types:
        name = f"{pools[p]},{cost.space.instances[h]}"
        for s in live:
            d, g = slots[s]
            hours = days.slots[d][g][1]
            names.append(f"capacity[{name},{days.names[d]},{hours[0]:02d}h+{len(hours) - 1}]")
    rows.add_block(
        names,
        np.concatenate([m_rows, c_rows]),
        np.concatenate([w0 + m_mode, k0 + c_cols]),
        np.concatenate([m_vals, coef[c_cols]]),
        -np.inf,
        0.0,
    )


def _min_instance_rows(layout, fleet, days, pools, pool_of_unit, pool_types, keys, k0, rows):
    """``min_instances[p, f, d, g]``: pool p runs at least the largest min_replicas of its
    models in configuration f (its committed instances count in every slot); one row per
    pool and configuration, as the rows of its models differ only in that figure."""
    units = fleet.units
    a_count = len(layout.cost.space.automation)
    slots, _ = _slots(days)
    n_slots = len(slots)
    count_pair, slot = _count_index(keys, pool_types, days)
    pool, committed = pool_types[count_pair, 0], slot < 0  # per count column
    least = layout.cost.const.min_replicas[units.model]  # (units,)
    served = np.isin(pool_of_unit, pool_types[:, 0])  # pools with a type
    n_fusions = len(layout.cost.space.fusions)
    pool_fusion = pool_of_unit * n_fusions + units.fusion
    pairs, pair_of = np.unique(pool_fusion[served], return_inverse=True)
    most = np.zeros(len(pairs))
    np.maximum.at(most, pair_of, least[served])
    row_pool = np.repeat(pairs // n_fusions, n_slots)  # rows (pool, fusion, slot)
    row_slot = np.tile(np.arange(n_slots), len(pairs))
    own, own_row = matching(
        np.where(committed, -1, pool * n_slots + slot), row_pool * n_slots + row_slot
    )
    all_year, year_row = matching(np.where(committed, pool, -1), row_pool)
    z_row = np.repeat(np.arange(len(row_pool)), a_count)
    z_cols = layout.z.start + ((pairs % n_fusions)[:, None] * a_count + np.arange(a_count))
    z_cols = np.repeat(z_cols, n_slots, axis=0).ravel()
    fusions = layout.cost.space.fusions
    rows.add_block(
        [
            f"min_instances[{pools[p]},{fusions[f]},{days.names[d]},{g}]"
            for p, f in zip(*np.divmod(pairs, n_fusions), strict=True)
            for d, g in slots
        ],
        np.concatenate([own_row, year_row, z_row]),
        np.concatenate([k0 + own, k0 + all_year, z_cols]),
        np.concatenate([np.ones(len(own) + len(all_year)), np.repeat(-most, n_slots * a_count)]),
        0.0,
        np.inf,
    )


def _type_rows(cost, fleet, use_pairs, rows, w0, use0, scale, z0) -> None:
    """``use_active`` (a model of a configuration not chosen uses nothing), ``use_link``,
    ``max_types`` and ``min_share`` (see the module docstring)."""
    f_opts = cost.scn.fleet
    modes = fleet.modes
    mu, mh = modes.unit.to_numpy(), modes.instance_idx.to_numpy()
    width = len(cost.space.instances)
    pair_of, _ = matching(use_pairs[:, 0] * width + use_pairs[:, 1], mu * width + mh)
    _links(rows, "use_link", np.arange(len(modes)), w0, use0 + pair_of, scale)
    a_count = len(cost.space.automation)
    for j, (u, h) in enumerate(use_pairs):
        f = fleet.units.fusion[u]
        z_cols = z0 + f * a_count + np.arange(a_count)
        rows.add(
            f"use_active[{u},{cost.space.instances[h]}]",
            np.concatenate([[use0 + j], z_cols]),
            np.concatenate([[1.0], -np.ones(a_count)]),
            -np.inf,
            0.0,
        )
    for u in np.unique(use_pairs[:, 0]):
        mine = use0 + np.nonzero(use_pairs[:, 0] == u)[0]
        if f_opts.max_types_per_model is not None:
            rows.add(f"max_types[{u}]", mine, 1.0, -np.inf, float(f_opts.max_types_per_model))
    if f_opts.min_share > 0:
        for j, (u, h) in enumerate(use_pairs):
            on = np.nonzero((mu == u) & (mh == h))[0]
            rows.add(
                f"min_share[{u},{cost.space.instances[h]}]",
                np.concatenate([w0 + on, [use0 + j]]),
                np.concatenate([1.0 / scale[on], [-f_opts.min_share]]),
                0.0,
                np.inf,
            )


def _idle_rows(cost, fleet, days, pool_of_unit, pool_types, keys, k0, use_pairs, peak, rows, use0):
    """A pool runs instances of type h only if one of its models uses h (no spare of a
    type that could not take over the load), each count bounded by what its models could
    need then, so that the relaxation stays tight:

    * ``idle[p, h, d, g]``: ``(N + S)[p, h, d, g] - sum_{u in p} M_uhdg use[u, h] <= 0``
      with ``M_uhdg`` = the instances u would need on h for all its load at slot g's rate,
      spot-discounted, plus the pool's largest min_replicas (more is never cheaper);
    * ``idle_committed[p, h]``: ``K[p, h] - sum_u M_uh use[u, h] <= 0``, M at the year's
      peak (a commitment serves every hour)."""
    keep = 1.0 - cost.scn.fleet.spot_interruption_fraction
    slots, rate = _slots(days)
    rate = rate / float(days.need_qps.max())
    n_slots, n_pairs = len(slots), len(pool_types)
    # the pair of each user (use column), and the instances it needs on its type at the peak
    user_pair = _pair_of(pool_types, pool_of_unit[use_pairs[:, 0]], use_pairs[:, 1])
    modes = fleet.modes
    width = len(cost.space.instances)
    mode_user, _ = matching(  # every mode is one user's (use_pairs are the modes' pairs)
        use_pairs[:, 0] * width + use_pairs[:, 1],
        modes.unit.to_numpy() * width + modes.instance_idx.to_numpy(),
    )
    at_peak = np.zeros(len(use_pairs))
    np.maximum.at(at_peak, mode_user, peak)
    floor = np.zeros(int(pool_of_unit.max(initial=0)) + 1)
    np.maximum.at(floor, pool_of_unit, cost.const.min_replicas[fleet.units.model])
    floor = floor[pool_types[:, 0]]  # (pairs,) the pool's largest min_replicas
    # rows: per pair, each slot with a count of its own, then the committed row; position
    # n_slots stands for the committed row
    pair, slot = _count_index(keys, pool_types, days)
    position = np.where(slot < 0, n_slots, slot)
    present = np.zeros((n_pairs, n_slots + 1), bool)
    present[pair, position] = True
    row_at = np.full(present.shape, -1)
    row_at[present] = np.arange(present.sum())
    row_pair, row_pos = np.nonzero(present)  # pair-major, as the rows are numbered
    # users in each row of their pair, bounded at that row's rate (1: the year's peak)
    u_rows, user = matching(row_pair, user_pair)  # (row, user) for every user of its pair
    fraction = np.append(rate, 1.0)[row_pos[u_rows]]
    bound = -(np.ceil(at_peak[user] * fraction / keep + 1e-9) + floor[row_pair[u_rows]])
    names = []
    for i, j in zip(row_pair, row_pos, strict=True):
        p, h = pool_types[i]
        name = cost.space.instances[h]
        if j == n_slots:
            names.append(f"idle_committed[{p},{name}]")
        else:
            d, g = slots[j]
            names.append(f"idle[{p},{name},{days.names[d]},{g}]")
    rows.add_block(
        names,
        np.concatenate([row_at[pair, position], u_rows]),
        np.concatenate([k0 + np.arange(len(pair)), use0 + user]),
        np.concatenate([np.ones(len(pair)), bound]),
        -np.inf,
        0.0,
    )


def _place_rows(place_modes, rows, w0, place0, scale) -> None:
    """``place_link[m]``: a mode carrying load is placed (``w[m] <= place[m]``)."""
    _links(rows, "place_link", place_modes, w0, place0 + np.arange(len(place_modes)), scale)


def _links(rows, family, modes, w0, binary_cols, scale) -> None:
    """``family[m]``: ``w[m] - binary <= 0`` for each of ``modes`` (w held scaled)."""
    n = len(modes)
    rows.add_block(
        [f"{family}[{m}]" for m in modes],
        np.concatenate([np.arange(n), np.arange(n)]),
        np.concatenate([w0 + modes, binary_cols]),
        np.concatenate([1.0 / scale[modes], -np.ones(n)]),
        -np.inf,
        0.0,
    )


def _e2e_rows(layout, fleet, place_modes, rows, place0, e2e) -> None:
    """``stage_latency[m]``: ``p99_m place[m] - L[f, g(u)] <= 0`` (a stage's budget covers
    the p99 at capacity of every mode its models run on); ``latency_e2e_max[f]``:
    ``sum_g L[f, g] - SLO Z_f <= 0``."""
    modes = fleet.modes
    p99 = modes.p99_at_cap_ms.to_numpy()
    unit_of = modes.unit.to_numpy()
    timed = np.nonzero(layout.stage_col[unit_of[place_modes]] >= 0)[0]  # places of staged
    n = len(timed)
    rows.add_block(
        [f"stage_latency[{m}]" for m in place_modes[timed]],
        np.concatenate([np.arange(n), np.arange(n)]),
        np.concatenate([place0 + timed, layout.stage_col[unit_of[place_modes[timed]]]]),
        np.concatenate([p99[place_modes[timed]], -np.ones(n)]),
        -np.inf,
        0.0,
    )
    col = layout.latency.start
    for f, st in enumerate(layout.stages):
        stage_cols = np.arange(col, col + len(st))
        col += len(st)
        z_cols = layout.z_cols_of(f)
        rows.add(
            limit_name("latency_e2e_max", layout.cost.space.fusions[f]),
            np.concatenate([stage_cols, z_cols]),
            np.concatenate([np.ones(len(stage_cols)), np.full(len(z_cols), -e2e)]),
            -np.inf,
            0.0,
        )


def _memory_rows(cost, fleet, place_modes, in_shared, pool_of_unit, rows, place0, pools) -> None:
    """``memory[p, h]`` on the accelerators and in host RAM, for pools several models share."""
    modes = fleet.modes
    axes = hardware_axes(cost)
    opts = cost.scn.options
    mu, mh = modes.unit.to_numpy(), modes.instance_idx.to_numpy()
    keep = in_shared[place_modes]
    place0 = place0 + np.nonzero(keep)[0]  # column of each shared-pool mode's place
    place_modes = place_modes[keep]
    if not len(place_modes):
        return
    mp = pool_of_unit[mu[place_modes]]
    mh_p = mh[place_modes]
    dev = modes.device_gb.to_numpy()[place_modes]
    # each model's host figure carries the host reserve once; the instance holds it once
    host = modes.host_gb.to_numpy()[place_modes] - opts.host_reserve_gb
    for p, h in np.unique(np.stack([mp, mh_p], axis=1), axis=0):
        on = np.nonzero((mp == p) & (mh_p == h))[0]
        name = f"{pools[p]},{cost.space.instances[h]}"
        if not axes["cpu"][h]:
            rows.add(
                f"memory_device[{name}]",
                place0[on],
                dev[on],
                -np.inf,
                float(axes["device_gb"][h] * opts.memory_usable_fraction),
            )
        rows.add(
            f"memory_host[{name}]",
            place0[on],
            host[on],
            -np.inf,
            float(axes["host_gb"][h] * opts.memory_usable_fraction - opts.host_reserve_gb),
        )


def _quota_rows(layout, days, pool_types, keys, k0, rows) -> None:
    """``quota_max[h, d, g]``: instances of type h over every pool and plan (a partition
    row's nodes are instances of its parent type), plus the fusion layer's replicas on h."""
    scn, space = layout.cost.scn, layout.cost.space
    if not scn.constraints.quotas:
        return
    count_of = _count_lookup(keys, k0)
    payer = payers(scn, space.instances)
    for name, quota in scn.constraints.quotas.items():
        if name not in space.instances:
            continue
        types = [h for h, node in enumerate(payer) if node == name]
        layer = fusion_layer(layout, name)[layout.z_pairs[:, 0]]
        z_on = np.nonzero(layer)[0]
        on = pool_types[np.isin(pool_types[:, 1], types)]
        for d, day in enumerate(days.names):
            for g, (_, hours) in enumerate(days.slots[d]):
                cols = [c for p, h in on for c in count_of(p, h, d, g)[0]]
                rows.add(
                    limit_name("quota_max", f"{name},{day},{hours[0]:02d}h+{len(hours) - 1}"),
                    np.concatenate([cols, layout.z.start + z_on]),
                    np.concatenate([np.ones(len(cols)), layer[z_on]]),
                    -np.inf,
                    float(quota),
                )


def _budget_row(cost, c, rows) -> None:
    budget = cost.scn.constraints.budget_per_day
    if budget is not None:
        rows.add("budget_max", np.nonzero(c)[0], c[np.nonzero(c)[0]], -np.inf, budget)
