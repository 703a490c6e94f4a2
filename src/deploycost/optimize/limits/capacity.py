"""Limits on what is bought and where it sits: instance quotas, owned storage, the memory
of instances shared by several models, and a fleet's type cap and minimum share per type."""

from __future__ import annotations

import numpy as np
import pandas as pd

from deploycost.cost.prices import payers
from deploycost.optimize.days import hourly_counts
from deploycost.optimize.layout import Layout
from deploycost.optimize.limits.base import Limit, limit_name
from deploycost.options.performance import hardware_axes


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
    export_name, keyed, integral, couples = "quotas", True, True, True
    title = "instance quotas"

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
        """The traffic left: the models' demand on the type minus what the replicas the
        quota allows them carry at the utilisation ceiling (their mean capacity each)."""
        quota = layout.cost.scn.constraints.quotas[key]
        on = chosen[chosen.instance == key]
        if not len(on):
            return f"quota on {key} ({quota}) is short by {amount:.4g} fusion-layer instances"
        ceiling = layout.cost.scn.constraints.utilisation_max
        used = float(on.replicas.sum())
        each = float((on.replicas * on.throughput_qps).sum()) / used * ceiling
        allowed = max(used - amount, 0.0)
        demand = float(on.arrival_qps.sum())
        left = max(demand - allowed * each, 0.0)
        who = ", ".join(sorted(set(on.model)))
        return (
            f"quota on {key} ({quota}) is short by {amount:.4g} instances: the "
            f"{allowed:.4g} it leaves {who} carry {allowed * each:,.0f} of "
            f"{demand:,.0f} requests/s at the {ceiling:.0%} "
            f"utilisation ceiling, leaving {left:,.0f} requests/s unserved"
        )

    def fleet_rows(self, draft, rows):
        """``quota_max[h, d, g]``: instances of type h over every pool and plan (a
        partition row's nodes are instances of its parent type) in day type d, hour slot g,
        plus the fusion layer's replicas on h."""
        layout, days = draft.layout, draft.days
        space = layout.cost.space
        payer = payers(layout.cost.scn, space.instances)
        out = []
        for name, quota in self._quotas(layout).items():
            types = [h for h, node in enumerate(payer) if node == name]
            layer = fusion_layer(layout, name)[layout.z_pairs[:, 0]]
            z_on = np.nonzero(layer)[0]
            on = draft.pool_types[np.isin(draft.pool_types[:, 1], types)]
            for d, day in enumerate(days.names):
                for g, (_, hours) in enumerate(days.slots[d]):
                    cols = [c for p, h in on for c in draft.count_columns(p, h, d, g)]
                    key = f"{name},{day},{hours[0]:02d}h+{len(hours) - 1}"
                    row = rows.add(
                        limit_name(self.family, key),
                        np.concatenate([cols, layout.z.start + z_on]),
                        np.concatenate([np.ones(len(cols)), layer[z_on]]),
                        -np.inf,
                        float(quota),
                    )
                    out.append((row, key))
        return out

    def fleet_values(self, form, plan, cost):
        quotas = self._quotas(form)
        return [
            self._value(name, used.max(), quotas[name])
            for name, used in quota_hours(form, plan).items()
            if name in quotas
        ]


def _data_gb(layout: Layout) -> np.ndarray:
    """(S,) GB each data source keeps: GB per day x retention days."""
    return np.array([s.gb_per_day * s.retention_days for s in layout.cost.scn.data_sources])


class StorageCapacity(Limit):
    """``storage_capacity_max[t]``: ``sum_{o on t} GB_o x[o] + sum_s GB_s y[s, t]
    (- slack) <= owned_t``: artifacts (x versions x (1 + backups)) and data kept on an
    owned tier fit its capacity."""

    family, unit = "storage_capacity_max", "GB"
    export_name, keyed, couples = "owned_storage_gb", True, True
    title = "owned storage capacity"

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

    def fleet_rows(self, draft, rows):
        """The same rows, on the fleet's artifact columns and data tiers."""
        return self.rows(draft.layout, rows)

    def fleet_values(self, form, plan, cost):
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
            out.append(self._value(name, used, capacity))
        return out


def quota_hours(form, plan) -> dict[str, np.ndarray]:
    """Per type with a quota, a fleet's (D, 24) instances at every hour of every day type,
    over every pool and plan (a partition row's nodes count as its parent type's), plus the
    fusion layer's replicas of the chosen configuration on that type."""
    scn, days = form.cost.scn, form.days.names
    counts = plan.counts
    node = np.array(payers(scn, counts.instance), object)
    f = form.cost.space.fusions.index(plan.fusion)
    return {
        name: hourly_counts(counts[node == name], days) + fusion_layer(form, name)[f]
        for name in scn.constraints.quotas
    }


class SharedMemory(Limit):
    """``memory_max[device|host:p,h]``: the models a shared pool p places on type h fit
    one instance together, on the accelerators and in host RAM:
    ``sum_{m in p on h} GB[m] place[m] <= usable GB of h`` (each model's host figure
    carries the host reserve, which one instance holds once).

    Fleets only: a deployment's option exists only where its model fits (the option grid),
    and a pool of one model has only modes that fit."""

    family, unit = "memory_max", "GB"
    export_name, keyed = "shared_memory_gb", True
    title = "the memory of shared instances"
    fleet_only = True

    def fleet_rows(self, draft, rows):
        cost, modes = draft.layout.cost, draft.fleet.modes
        axes = hardware_axes(cost)
        opts = cost.scn.options
        place_modes = draft.cols.place_modes
        keep = draft.in_shared[place_modes]
        place = draft.cols.place.start + np.nonzero(keep)[0]  # column of each such place
        place_modes = place_modes[keep]
        pool = draft.pool_of_unit[modes.unit.to_numpy()[place_modes]]
        h_of = modes.instance_idx.to_numpy()[place_modes]
        device = modes.device_gb.to_numpy()[place_modes]
        host = modes.host_gb.to_numpy()[place_modes] - opts.host_reserve_gb
        usable = opts.memory_usable_fraction
        out = []
        for p, h in np.unique(np.stack([pool, h_of], axis=1), axis=0).reshape(-1, 2):
            on = np.nonzero((pool == p) & (h_of == h))[0]
            where = f"{draft.pools[p]},{cost.space.instances[h]}"
            bounds = {"host": axes["host_gb"][h] * usable - opts.host_reserve_gb}
            gb = {"host": host[on]}
            if not axes["cpu"][h]:
                bounds["device"], gb["device"] = axes["device_gb"][h] * usable, device[on]
            for kind in sorted(bounds):
                key = f"{kind}:{where}"
                name = limit_name(self.family, key)
                out.append((rows.add(name, place[on], gb[kind], -np.inf, float(bounds[kind])), key))
        return out

    def fleet_values(self, form, plan, cost):
        axes = hardware_axes(form.cost)
        opts = form.cost.scn.options
        shares = plan.shares[plan.shares["mode"] >= 0]
        out = []
        for (pool, inst), group in shares.groupby(["pool", "instance"]):
            if group.model.nunique() < 2:
                continue
            h = form.cost.space.instances.index(inst)
            modes = form.fleet.modes.iloc[group["mode"].to_numpy()]
            host = float(modes.host_gb.sum()) - opts.host_reserve_gb * (len(modes) - 1)
            out.append(
                self._value(
                    f"host:{pool},{inst}", host, axes["host_gb"][h] * opts.memory_usable_fraction
                )
            )
            if not axes["cpu"][h]:
                limit = axes["device_gb"][h] * opts.memory_usable_fraction
                out.append(self._value(f"device:{pool},{inst}", modes.device_gb.sum(), limit))
        return out


def _types_used(plan) -> pd.Series:
    """A fleet's share of each model's load on each type it has instances on ((model, type)
    index; a standby type, kept for min_replicas without load, with share 0)."""
    return plan.shares.groupby(["model", "instance"]).share.sum()


class TypesPerModel(Limit):
    """``types_per_model_max[u]``: ``sum_h use[u, h] <= max_types_per_model`` (a fleet's
    ``fleet.max_types_per_model``; a deployment runs each model on one type)."""

    family, unit = "types_per_model_max", "types"
    export_name, keyed, integral = "types_per_model", True, True
    title = "the cap on instance types per model"
    fleet_only = True

    def fleet_rows(self, draft, rows):
        cap = draft.layout.cost.scn.fleet.max_types_per_model
        pairs = draft.cols.use_pairs
        if cap is None or not len(pairs):
            return []
        out = []
        for u in np.unique(pairs[:, 0]):
            mine = draft.cols.use.start + np.nonzero(pairs[:, 0] == u)[0]
            key = draft.layout.unit_name(int(u))
            out.append(
                (rows.add(limit_name(self.family, key), mine, 1.0, -np.inf, float(cap)), key)
            )
        return out

    def fleet_values(self, form, plan, cost):
        cap = form.cost.scn.fleet.max_types_per_model
        if cap is None:
            return []
        per_model = _types_used(plan).groupby(level=0).size()
        return [self._value(m, n, cap) for m, n in per_model.items()]


class MinShare(Limit):
    """``share_per_type_min[u, h]``: ``sum_{m of u on h} w[m] - s_min use[u, h] >= 0``: a
    model that runs on a type gives it at least ``fleet.min_share`` of its load."""

    family, sense, unit = "share_per_type_min", ">=", "share"
    export_name, keyed = "share_per_type", True
    title = "the minimum share per type"
    fleet_only = True

    def fleet_rows(self, draft, rows):
        least = draft.layout.cost.scn.fleet.min_share
        pairs = draft.cols.use_pairs
        if least <= 0 or not len(pairs):
            return []
        modes, cols = draft.fleet.modes, draft.cols
        mu, mh = modes.unit.to_numpy(), modes.instance_idx.to_numpy()
        instances = draft.layout.cost.space.instances
        out = []
        for j, (u, h) in enumerate(pairs):
            on = np.nonzero((mu == u) & (mh == h))[0]
            key = f"{draft.layout.unit_name(int(u))},{instances[h]}"
            row = rows.add(
                limit_name(self.family, key),
                np.concatenate([cols.w.start + on, [cols.use.start + j]]),
                np.concatenate([1.0 / cols.w_scale[on], [-least]]),
                0.0,
                np.inf,
            )
            out.append((row, key))
        return out

    def fleet_values(self, form, plan, cost):
        least = form.cost.scn.fleet.min_share
        if least <= 0:
            return []
        return [self._value(f"{m},{h}", s, least) for (m, h), s in _types_used(plan).items()]
