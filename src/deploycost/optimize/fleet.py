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
  <= 0``; ``place_link[m]``: ``w[m] - place[m] <= 0``.

The limits' rows come from the registry (``optimize.limits``, each family's
``fleet_rows``, the math in its docstring): the type cap and minimum share per type over
``use``, the memory of shared pools over ``place``, stage and end-to-end latency (with an
end-to-end limit ``place[m]`` exists for every mode; p99 at capacity, an upper bound at
lower loads but for batch formation, which the audit warns about), quotas per hour slot
over the counts, the budget over every column, and the quality floor and owned storage
over the artifacts as for a deployment.

Cost per day, linear in prices: ``K x 24 x reserved_<term>_hour[h]``; ``N x hours(g) x
days_d / 365 x on_demand_hour[h]``; the same for S at ``spot_hour[h]``; artifacts, fusion,
people and data as before.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd
import scipy.sparse as sp

from deploycost.catalog import COMMITTED_PLANS
from deploycost.cost.model import COMPONENTS, CostModel
from deploycost.errors import DeployCostError
from deploycost.optimize.days import DayTable, day_table, flat_slots
from deploycost.optimize.fleet_pools import (
    always_fit,
    check_pools,
    count_columns,
    drop_dominated,
    matching,
    pools_of,
    shared_pools,
)
from deploycost.optimize.formulation import STRUCTURE, Milp
from deploycost.optimize.layout import Layout, Rows, lay_out
from deploycost.optimize.limits import LIMITS
from deploycost.options.capacity import FleetOptions, fleet_options
from deploycost.options.grid import OptionSet


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
    # per limit family, (row, key) of the rows lifted when infeasibility is explained
    limit_rows: dict[str, tuple[tuple[int, str], ...]] = field(default_factory=dict)

    def rows_of(self, families) -> np.ndarray:
        """(rows,) True on the rows of the limit families for which ``families(limit)``."""
        out = np.zeros(len(self.milp.row_names), bool)
        for limit in LIMITS:
            if families(limit):
                out[[row for row, _ in self.limit_rows.get(limit.family, ())]] = True
        return out


@dataclass(frozen=True)
class FleetDraft:
    """What the limit families read to write their fleet rows (``Limit.fleet_rows``)."""

    layout: Layout
    fleet: FleetOptions
    days: DayTable
    pools: list[str]
    pool_of_unit: np.ndarray
    pool_types: np.ndarray  # (pairs, 2) pool, instance type of every pair with a mode
    cols: FleetColumns
    c: np.ndarray  # cost per day of every column
    in_shared: np.ndarray  # (modes,) in a shared pool whose models might not fit together
    at_peak: np.ndarray  # (modes,) instances a mode needs for all of its unit at the peak

    @cached_property
    def _counts_at(self) -> dict[tuple, list[int]]:
        columns: dict[tuple, list[int]] = {}
        keys = self.cols.count_keys[["pool", "instance_idx", "plan", "day", "group"]]
        for j, (p, h, plan, d, g) in enumerate(keys.itertuples(index=False)):
            key = (p, h) if plan in COMMITTED_PLANS else (p, h, d, g)
            columns.setdefault(key, []).append(self.cols.counts.start + j)
        return columns

    def count_columns(self, p: int, h: int, d: int, g: int) -> list[int]:
        """Every count column serving (pool p, type h) in day type d, slot g: the
        committed ones (all year) and that slot's own."""
        return self._counts_at.get((p, h), []) + self._counts_at.get((p, h, d, g), [])


# HiGHS presolve: needed for speed on the fleet's integer counts. CBC returned "optimal"
# fleets above the true optimum with its probing (a random case: 58.89 where brute force
# proves 58.67) and with its integer preprocessing (a 10-model fleet: 514.77 where HiGHS's
# audited fleet costs 501.13); with both off it agrees with the oracle and with HiGHS on
# every case tried
FLEET_SOLVING = {"presolve": True, "cbc_options": ("probing off", "preprocess off")}


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


def build_fleet(
    cost: CostModel, fleet: FleetOptions | None = None, hourly: bool = False
) -> FleetFormulation:
    """Formulate the fleet choice (see the module docstring); ``hourly``: a count column
    per hour rather than per hour slot of equal load (to cost a given fleet)."""
    fleet = fleet or fleet_options(cost)
    pools, pool_of_unit = pools_of(cost, fleet)
    shared = shared_pools(pool_of_unit, fleet)
    check_pools(cost, fleet, pools, pool_of_unit, shared)
    roomy = always_fit(cost, fleet, pool_of_unit, shared)
    fleet = drop_dominated(cost, fleet, np.isin(pool_of_unit, sorted(shared)), pool_of_unit, roomy)
    layout = lay_out(cost, _artifact_options(fleet))
    days = day_table(cost, hourly)
    in_shared = np.isin(pool_of_unit[fleet.modes.unit.to_numpy()], sorted(shared - roomy))
    draft = _draft(layout, fleet, days, pools, pool_of_unit, in_shared)

    rows = Rows()
    for family in STRUCTURE:
        family(layout, rows)
    _structure_rows(draft, rows)
    limit_rows = {limit.family: tuple(limit.fleet_rows(draft, rows)) for limit in LIMITS}

    cols = draft.cols
    n_cols = cols.counts.stop
    integrality = np.zeros(n_cols, np.int8)
    integrality[: layout.latency.start] = 1
    integrality[cols.use.start : n_cols] = 1
    col_ub = np.full(n_cols, np.inf)
    col_ub[: layout.latency.start] = 1.0
    col_ub[cols.w.start : cols.counts.start] = 1.0
    col_ub[cols.w] = cols.w_scale
    return FleetFormulation(
        **{name: getattr(layout, name) for name in Layout.__dataclass_fields__},
        fleet=fleet,
        days=days,
        pools=pools,
        pool_of_unit=pool_of_unit,
        cols=cols,
        milp=Milp.of(draft.c, rows, col_ub, integrality, **FLEET_SOLVING),
        limit_rows=limit_rows,
    )


def _draft(layout, fleet, days, pools, pool_of_unit, in_shared) -> FleetDraft:
    """Where every column block sits, what each costs, and what the rows need."""
    cost, scn, modes = layout.cost, layout.cost.scn, fleet.modes
    mu, mh = modes.unit.to_numpy(), modes.instance_idx.to_numpy()
    w0 = layout.n_structural
    # v[m] = w[m] x the instances m would need for all of u at the peak (at least 1): the
    # counts and the capacity rows then read in instances and every share coefficient is
    # at most 1, which keeps the solvers' tolerances meaningful (a column bounded by 1e-6
    # would be lost in them)
    at_peak = float(days.need_qps.max()) * fleet.units.share[mu] / modes.cap_qps.to_numpy()
    scale = np.maximum(at_peak, 1.0)
    # use binaries matter for the type cap, the minimum share and the idle rows; idle
    # instances only pay off to reach min_replicas > 1 or in hours without load
    need_use = (
        scn.fleet.max_types_per_model is not None
        or scn.fleet.min_share > 0
        or bool((cost.const.min_replicas[fleet.units.model] > 1).any())
        or bool((days.need_qps <= 0).any())
    )
    use_pairs = np.unique(np.stack([mu, mh], axis=1), axis=0).reshape(-1, 2)
    if not need_use:
        use_pairs = use_pairs[:0]
    # a binary per mode where it matters: shared pools (memory) and stage latencies (e2e)
    staged = layout.stage_col[mu] >= 0  # in the e2e pipeline
    e2e = scn.constraints.e2e_latency_ms is not None
    place_modes = np.nonzero(in_shared | (staged & e2e))[0]
    use0 = w0 + len(modes)
    place0 = use0 + len(use_pairs)
    k0 = place0 + len(place_modes)
    pool_types = np.unique(np.stack([pool_of_unit[mu], mh], axis=1), axis=0).reshape(-1, 2)
    keys, price_rows = count_columns(cost, pool_types, days)
    n_cols = k0 + len(keys)
    prices = cost.prices
    by_price_counts = sp.csr_matrix(
        (keys.quantity.to_numpy(), (np.arange(len(keys)), price_rows)),
        shape=(len(keys), len(prices.names)),
    )
    c = np.concatenate([layout.c, np.zeros(k0 - w0), by_price_counts @ prices.values])
    if not np.isfinite(c).all():
        raise DeployCostError("an instance price of the fleet is not a finite number")
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
    return FleetDraft(
        layout, fleet, days, pools, pool_of_unit, pool_types, cols, c, in_shared, at_peak
    )


def _structure_rows(draft: FleetDraft, rows: Rows) -> None:
    """The rows that make the columns a fleet: shares, artifacts, capacity, minimum
    instances, type use and idle counts, placements (the limits' rows come after)."""
    layout, fleet, days, cols = draft.layout, draft.fleet, draft.days, draft.cols
    cost, pools, pool_of_unit, pool_types = (
        layout.cost,
        draft.pools,
        draft.pool_of_unit,
        draft.pool_types,
    )
    keys, k0, w0, use0 = cols.count_keys, cols.counts.start, cols.w.start, cols.use.start
    _share_rows(layout, fleet, rows, w0, cols.w_scale)
    _artifact_rows(layout, fleet, rows, w0, cols.w_scale)
    # instances per v per request/s of the day table
    load = draft.at_peak / cols.w_scale / float(days.need_qps.max())
    _capacity_rows(cost, fleet, days, pool_of_unit, pool_types, keys, k0, rows, w0, pools, load)
    _min_instance_rows(layout, fleet, days, pools, pool_of_unit, pool_types, keys, k0, rows)
    if len(cols.use_pairs):
        _type_rows(cost, fleet, cols.use_pairs, rows, w0, use0, cols.w_scale, layout.z.start)
        _idle_rows(
            cost,
            fleet,
            days,
            pool_of_unit,
            pool_types,
            keys,
            k0,
            cols.use_pairs,
            draft.at_peak,
            rows,
            use0,
        )
    if len(cols.place_modes):
        _place_rows(cols.place_modes, rows, w0, cols.place.start, cols.w_scale)


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
    slots, rate = flat_slots(days)
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
    slots, _ = flat_slots(days)
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
    """``use_active`` (a model of a configuration not chosen uses nothing) and ``use_link``
    (see the module docstring)."""
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
    slots, rate = flat_slots(days)
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
