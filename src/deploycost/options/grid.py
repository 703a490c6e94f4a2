"""The option grid: every way to deploy each model, with performance, feasibility and cost.

A *unit* is one model inside one fusion configuration (a cascade stage may see only a
fraction of the traffic, so the same model can need different sizes in different
configurations). For every unit the grid spans the named axes

    unit (U) x instance (H) x precision (C) x batch (B) x extra replicas (R)

and then, per compute choice, artifact storage tier (T) x backups (K) x file compression (Z).
Everything is computed with numpy broadcasting over those axes; no Python loop runs over
options (the loops below run over profile groups and the handful of cost blocks).

Per option:

* service time and per-replica throughput: a measured profile, interpolated in
  log2(batch) between measured batch sizes; else the roofline
  ``t(b) = max(b F / (peak[h, c] eff), (W[c] + b X) / (bw[h] eff)) + overhead`` with F the
  FLOPs per request, W the weight bytes at precision c and X the bytes read per request.
  A profile with ``p99_bound_ms`` is a measured *capacity*: for SLOs no tighter than the
  bound, a replica takes that throughput with the measured p99 and no queueing is added.
* replicas ``n = max(min_replicas, ceil(lambda / (rho_max mu))) + k``, k < extra_replicas + 1;
  utilisation ``rho = lambda / (n mu) <= rho_max``.
* p99 = batch-formation delay ``(b - 1) n / lambda`` + service time + the M/M/c 99th
  percentile wait (``deploycost.options.queueing``).
* memory: dense weights and activations on the accelerators; an embedding table may be
  split, the part that does not fit living in host RAM. CPU instances hold all in RAM.
* cold start: first byte + artifact GB / tier read MB/s + decompression <= the limit.
* quality delta of the precision; cost quantities from ``CostModel.option_quantities``.

Every grid point that is not an option gets the first check it fails, a ``Reason``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from deploycost.cost.constants import artifact_loads_per_day, daily_replicas
from deploycost.cost.model import CostModel
from deploycost.memory import check_fits
from deploycost.options.autoscale import autoscale_capacity
from deploycost.options.latency import option_latency
from deploycost.options.performance import (
    REASONS,
    Configs,
    Performance,
    Reason,
    cold_start_seconds,
    config_grid,
    hardware_axes,
    performance,
)


@dataclass(frozen=True)
class Units:
    """(model, fusion configuration) pairs, each with its own peak arrival rate."""

    fusion: np.ndarray  # (U,) index into Space.fusions
    model: np.ndarray  # (U,) index into Space.models
    share: np.ndarray  # (U,) model requests per user query in this configuration
    arrival_qps: np.ndarray  # (U,) peak requests/s

    @classmethod
    def of(cls, cost: CostModel) -> Units:
        f, i = np.nonzero(cost.member)
        share = cost.const.requests_per_query[i] * cost.fraction[f, i]
        return cls(f, i, share, share * cost.scn.workload.peak_qps_resolved)


@dataclass(frozen=True)
class OptionSet:
    """The kept options of every unit (dominated ones pruned) and why the others failed.

    ``table`` has one row per option with its choices, performance and daily cost;
    ``by_price[o]`` is its quantity vector over the price vector, ``cost = by_price @ p``.
    ``diagnostics`` has one row per unit: how many options each reason removed, and a
    nearest-miss sentence for units left with none.
    """

    units: Units
    table: pd.DataFrame
    by_price: sp.csr_matrix  # (options, prices), sparse: a few lines per option
    diagnostics: pd.DataFrame
    columns: dict[str, np.ndarray]  # the numeric columns of ``table`` as arrays (hot paths)

    def of_unit(self, unit: int) -> pd.DataFrame:
        return self.table[self.table.unit == unit]


def _pareto_keep(group: np.ndarray, n: np.ndarray, p99: np.ndarray) -> np.ndarray:
    """Indices to keep: within each group, ordered by replicas, those that lower the p99.

    Cost within a group (same unit, instance, precision) never falls as replicas grow, so
    an option is dominated when one with no more replicas is at least as fast.
    """
    order = np.lexsort((p99, n, group))
    if len(order) == 0:
        return order
    g, v = group[order], p99[order]
    rank = np.concatenate([[0], np.cumsum(g[1:] != g[:-1])])
    shifted = v - rank * (np.max(v) - np.min(v) + 1.0)
    before = np.concatenate([[np.inf], np.minimum.accumulate(shifted)[:-1]])
    return np.sort(order[shifted < before])


def _group_ids(*keys: np.ndarray) -> tuple[np.ndarray, int]:
    """Group number of each row of equal ``keys`` (exact equality), and the group count."""
    if len(keys[0]) == 0:
        return np.zeros(0, np.intp), 0
    order = np.lexsort(keys[::-1])
    new = np.zeros(len(order), bool)
    new[0] = True
    for key in keys:
        ordered = key[order]
        new[1:] |= ordered[1:] != ordered[:-1]
    ids = np.empty(len(order), np.intp)
    ids[order] = np.cumsum(new) - 1
    return ids, int(ids.max()) + 1


def _first_per_group(group: np.ndarray, key: np.ndarray) -> np.ndarray:
    order = np.lexsort((key, group))
    if len(order) == 0:
        return order
    first = np.concatenate([[True], group[order][1:] != group[order][:-1]])
    return np.sort(order[first])


def _nearest_miss(cost: CostModel, unit: int, units: Units, best: dict) -> str:
    scn, space = cost.scn, cost.space
    model = scn.models[units.model[unit]]
    where = f"{model.name} (in {space.fusions[units.fusion[unit]]})"
    if "llm" in best:
        tpot, p99 = best["llm"]
        llm = model.llm
        limits = ", ".join(
            f"{name} <= {value:g} ms"
            for name, value in (
                ("TTFT p99", llm.ttft_p99_ms),
                ("TPOT p99", llm.tpot_p99_ms),
                ("end-to-end p99", model.latency_limit_ms),
            )
            if value is not None
        )
        return f"{where}: {limits} is out of reach; the fastest decode gives TPOT {tpot:.4g} ms" + (
            f" and the fastest end-to-end p99 is {p99:.4g} ms" if np.isfinite(p99) else ""
        )
    if "too_slow" in best:
        p99, h, c, b, n = best["too_slow"]
        return (
            f"{where}: p99 <= {model.latency_slo_ms:g} ms is out of reach; the fastest "
            f"option, {n} x {space.instances[h]} {space.precisions[c]} batch {b}, gives "
            f"{p99:.4g} ms"
        )
    if "cold_start" in best:
        seconds = best["cold_start"]
        fixed = scn.options.image_pull_s + scn.options.runtime_init_s
        return (
            f"{where}: cold start <= {scn.constraints.max_cold_start_s:g} s is out of reach; "
            f"the fastest takes {seconds:,.2f} s: image pull {scn.options.image_pull_s:g} s + "
            f"runtime start {scn.options.runtime_init_s:g} s (options) + artifact load "
            f"{seconds - fixed:,.2f} s"
        )
    if "over_capacity" in best:
        return (
            f"{where}: {units.arrival_qps[unit]:.4g} requests/s need more than "
            f"max_replicas = {scn.options.max_replicas} replicas on every instance type"
        )
    if "out_of_memory" in best:
        need, offer, name, kind = best["out_of_memory"]
        what = "weights and KV cache" if model.is_llm else "model"
        return (
            f"{where}: no instance holds the {what}: the smallest configuration needs "
            f"{need:.4g} GB of {kind} memory; the largest allowed"
            f"{', measured' if model.profiles or (model.is_llm and model.llm.profiles) else ''} "
            f"instance, {name}, offers {offer:.4g} GB"
        )
    return f"{where}: no allowed, measured (instance, precision) pair; add a profile or allow more"


# bytes per grid point held at once: replicas and p99 (float64), reason (int8), and the
# float64 temporaries of the replica and queueing arithmetic
GRID_BYTES = 48.0
PERF_BYTES = 64.0  # per (model, instance, precision, batch): six float64 arrays and masks
# the process's peak per option once storage is priced (quantities, their sparse matrix and
# the option table): 6.3 GB for 10.3 M options (2,000 fusion configurations of
# ecommerce_search_rec, measured with /usr/bin/time)
OPTION_BYTES = 600.0


@dataclass(frozen=True)
class ComputeGrid:
    """Every compute choice of every unit over (U, H, C, B, R): unit x instance x precision
    x batch x extra replicas, with its replicas, p99 and first failing ``Reason``."""

    units: Units
    configs: Configs  # (B,)
    perf: Performance
    throughput: np.ndarray  # (U, H, C, B, 1) per replica
    replicas: np.ndarray  # (U, H, C, B, R)
    p99_ms: np.ndarray  # (U, H, C, B, R), inf where not computed
    ttft_ms: np.ndarray  # (U, H, C, B, R), NaN off LLM configurations and where not computed
    reason: np.ndarray  # (U, H, C, B, R) int8, Reason.OK where feasible


def compute_grid(cost: CostModel, units: Units) -> ComputeGrid:
    """Replicas ``n = max(min_replicas, ceil(lambda / (rho_max mu))) + k``, their p99 (queueing
    only where every other check passed: most of the grid is ruled out already), reasons."""
    scn, opts = cost.scn, cost.scn.options
    configs = config_grid(cost)
    space = cost.space
    dims = {
        "precisions": len(space.precisions),
        "instance types": len(space.instances),
        "batch sizes": len(configs),
    }
    check_fits(
        "the option grid",
        {"units": len(units.model), **dims, "replica counts": opts.extra_replicas + 1},
        GRID_BYTES,
    )
    check_fits("the performance table", {"models": len(space.models), **dims}, PERF_BYTES)
    perf = performance(cost, configs)
    i = units.model
    thr = perf.throughput_qps[i][..., None]  # (U, H, C, B, 1)
    lam = units.arrival_qps[:, None, None, None, None]
    n_min = np.maximum(
        cost.const.min_replicas[i][:, None, None, None, None],
        np.ceil(lam / (scn.constraints.utilisation_max * thr)),
    )
    n = n_min + np.arange(opts.extra_replicas + 1)  # (U, H, C, B, R)
    reason = np.broadcast_to(perf.reason[i][..., None], n.shape).astype(np.int8)
    reason[(reason == Reason.OK) & (n > opts.max_replicas)] = Reason.OVER_CAPACITY
    cand = np.nonzero(reason == Reason.OK)
    uc, hc, cc, bc, _ = cand
    p99 = np.full(n.shape, np.inf)
    ttft = np.full(n.shape, np.nan)
    latency = _latency_fn(cost, perf, units)
    p99[cand], ttft[cand] = latency((i[uc], hc, cc, bc), n[cand], uc)
    slow = np.zeros(n.shape, bool)
    slow[cand] = ~perf.meets(i[uc], p99[cand], ttft[cand])
    reason[(reason == Reason.OK) & slow] = Reason.TOO_SLOW
    _extend_replicas(cost, perf, units, n, p99, ttft, reason, latency)
    return ComputeGrid(units, configs, perf, thr, n, p99, ttft, reason)


def _latency_fn(cost: CostModel, perf: Performance, units: Units):
    """(p99, TTFT) of options at ``replicas`` for units ``u`` (``option_latency``)."""
    scn = cost.scn

    def latency(at, replicas, u):
        return option_latency(
            perf,
            scn.workload,
            scn.options.latency_every_hour,
            at,
            replicas,
            units.arrival_qps[u],
            units.share[u],
        )

    return latency


REPLICA_GROWTH = 1.25  # geometric steps of the search for the replicas an SLO needs
REPLICA_STEPS = 60


def _extend_replicas(cost, perf, units, n, p99, ttft, reason, latency) -> None:
    """Where no count in the replica window meets the latency limits, find the smallest
    that does from the queueing model, up to ``max_replicas``: geometric steps from the
    window's top, then bisection between the last failing and the first passing count (at
    the peak; the count found is then checked like every other). It replaces the window's
    last entry, so the grid keeps its shape."""
    limit = cost.scn.options.max_replicas
    # too slow at every count in the window, and not for a reason replicas cannot change
    # (an LLM's TPOT is fixed by its configuration)
    stuck = (reason == Reason.TOO_SLOW).all(axis=-1) & (perf.reason[units.model] == Reason.OK)
    u, h, c, b = np.nonzero(stuck)
    if not len(u):
        return
    i = units.model[u]
    at = (i, h, c, b)
    lam = units.arrival_qps[u]
    low = n[u, h, c, b, -1].astype(float)
    high = np.full(len(u), np.nan)
    for step in range(1, REPLICA_STEPS + 1):
        trial = np.minimum(np.ceil(low * REPLICA_GROWTH**step), limit)
        open_ = np.isnan(high)
        if not open_.any():
            break
        at_open = tuple(a[open_] for a in at)
        good = perf.meets(i[open_], *perf.latency_ms(at_open, trial[open_], lam[open_]))
        rows = np.nonzero(open_)[0]
        high[rows[good]] = trial[open_][good]
        if (trial >= limit).all():
            break
    found = ~np.isnan(high)
    lo = np.where(found, np.maximum(high / REPLICA_GROWTH, low), np.nan)
    hi = high.copy()
    while found.any() and (hi[found] - lo[found] > 1).any():
        mid = np.floor((lo + hi) / 2.0)
        sel = found & (hi - lo > 1)
        at_sel = tuple(a[sel] for a in at)
        good = perf.meets(i[sel], *perf.latency_ms(at_sel, mid[sel], lam[sel]))
        rows = np.nonzero(sel)[0]
        hi[rows[good]] = mid[sel][good]
        lo[rows[~good]] = mid[sel][~good]
    k = np.nonzero(found)[0]
    if not len(k):
        return
    where = (u[k], h[k], c[k], b[k], np.full(len(k), n.shape[-1] - 1))
    n[where] = hi[k]
    p99[where], ttft[where] = latency(tuple(a[k] for a in at), hi[k], u[k])
    ok = perf.meets(i[k], p99[where], ttft[where])
    reason[where] = np.where(ok, Reason.OK, Reason.TOO_SLOW)


def kept_compute(cost: CostModel, grid: ComputeGrid) -> dict[str, np.ndarray]:
    """Feasible compute choices, dominated ones pruned per (unit, instance, precision):
    flat arrays ``u, h, c, b`` (grid indices), ``replicas``, ``p99_ms``, ``throughput``."""
    n_h, n_c = len(cost.space.instances), len(cost.space.precisions)
    u, h, c, b, r = np.nonzero(grid.reason == Reason.OK)
    n, p99 = grid.replicas[u, h, c, b, r], grid.p99_ms[u, h, c, b, r]
    group = (u * n_h + h) * n_c + c
    keep = _pareto_keep(group, n, p99) if len(u) else np.array([], int)
    if cost.scn.constraints.e2e_latency_ms is None and len(keep):
        keep = keep[_first_per_group(group[keep], n[keep])]
    kept = {"u": u, "h": h, "c": c, "b": b, "replicas": n, "p99_ms": p99}
    kept["ttft_ms"] = grid.ttft_ms[u, h, c, b, r]
    kept = {name: values[keep] for name, values in kept.items()}
    kept["throughput"] = grid.throughput[kept["u"], kept["h"], kept["c"], kept["b"], 0]
    return kept


def _choices(grid: ComputeGrid, kept: dict, rows: np.ndarray, capacity: np.ndarray) -> dict:
    """The per-option choices ``CostModel.option_quantities`` prices, for ``rows`` of kept."""
    return {
        "instance": kept["h"][rows],
        "replicas": kept["replicas"][rows],
        "precision": kept["c"][rows],
        "batch": grid.configs.batch[kept["b"][rows]],
        "capacity_qps": capacity[rows],
    }


def storage_combos(
    cost: CostModel, model: np.ndarray, precision: np.ndarray
) -> tuple[np.ndarray, ...]:
    """Every (artifact tier, file compression, backups) for each of the rows r that store
    ``model[r]`` at ``precision[r]``, flat: ``row, tier, zip, backups, cold start s`` and
    whether the cold-start limit and the model's minimum backups are met."""
    tiers, zips = cost.artifact_tiers, cost.file_compressions
    backups = np.array(sorted(set(cost.scn.options.backups)))
    combo = [a.ravel() for a in np.meshgrid(tiers, zips, backups, indexing="ij")]
    n = len(model)
    row = np.repeat(np.arange(n), len(combo[0]))
    tier, zip_, copies = (np.tile(a, n) for a in combo)
    model_of = model[row]
    cold = cold_start_seconds(cost, model_of, precision[row], tier, zip_)
    ok = (cold <= cost.scn.constraints.max_cold_start_s) & (
        copies >= cost.const.min_backups[model_of]
    )
    return row, tier, zip_, copies, cold, ok


def cheapest_storage(
    cost: CostModel, row: np.ndarray, tier: np.ndarray, daily: np.ndarray
) -> np.ndarray:
    """The cheapest finite combination per row of ``storage_combos`` (per (row, tier) when a
    tier has an owned capacity: the MILP then chooses between tiers)."""
    per_tier = bool(cost.scn.constraints.owned_storage_gb)
    group = row * len(cost.space.tiers) + tier if per_tier else row
    best = _first_per_group(group, daily)
    return best[np.isfinite(daily[best])]


def storage_choices(
    cost: CostModel, grid: ComputeGrid, kept: dict, capacity: np.ndarray
) -> pd.DataFrame:
    """The cheapest storage (tier, file compression, backups) meeting the cold-start limit
    for every kept compute choice ``k``; one row per (k, tier) when a tier has an owned
    capacity (the MILP then chooses between tiers), else one per k.

    Artifact loads per day decide the cheapest storage, so it is chosen once per (unit,
    precision, loads) triple and shared by the compute choices of that triple.
    """
    scn = cost.scn
    i, u, c = grid.units.model, kept["u"], kept["c"]
    const_k = cost.const.take(i[u])
    _, starts = daily_replicas(
        scn, kept["replicas"][None], capacity[None], grid.units.share[u][None], const_k.min_replicas
    )
    loads = artifact_loads_per_day(kept["replicas"], const_k.retrains_per_day, starts[0])
    inverse, n_triples = _group_ids(u, c, loads)
    rep = np.zeros(n_triples, np.intp)
    rep[inverse] = np.arange(len(u))
    rows_t, ct, cz, ck, _, ok = storage_combos(cost, i[u[rep]], c[rep])
    rows_k = rep[rows_t]
    model_of = i[u[rows_k]]
    choices = _choices(grid, kept, rows_k, capacity) | {
        "tier": ct,
        "backups": ck,
        "compression": cz,
    }
    check_fits(
        "the storage choices",
        {"options with their storage": len(rows_t)},
        OPTION_BYTES,
        hint="allow fewer fusion configurations (each repeats its models' options), "
        "instance types, precisions or storage tiers per model",
    )
    quantities = cost.option_quantities(model_of, grid.units.share[u[rows_k]], choices)
    combo_cost = np.where(ok, quantities @ cost.prices.values, np.inf)
    best = cheapest_storage(cost, rows_t, ct, combo_cost)
    chosen = pd.DataFrame(
        {"triple": rows_t[best], "tier": ct[best], "zip": cz[best], "backups": ck[best]}
    )
    return pd.DataFrame({"k": np.arange(len(u)), "triple": inverse}).merge(chosen, on="triple")


def enumerate_options(cost: CostModel) -> OptionSet:
    """Build, filter and prune the option grid of every unit (see the module docstring):
    compute choices, then their storage, then the priced option table."""
    units = Units.of(cost)
    grid = compute_grid(cost, units)
    kept = kept_compute(cost, grid)
    capacity = (
        autoscale_capacity(cost, grid.perf, units, kept)
        if cost.scn.options.autoscale
        else np.full(len(kept["u"]), np.nan)
    )
    storage = storage_choices(cost, grid, kept, capacity)
    table, by_price = _option_table(cost, grid, kept, capacity, storage)
    numeric = (
        "unit",
        "cost_per_day",
        "quality_delta",
        "p99_ms",
        "ttft_ms",
        "tpot_ms",
        "instance_idx",
        "replicas",
        "tier_idx",
        "stored_gb",
        "throughput_qps",
        "utilisation",
        "cold_start_s",
    )
    return OptionSet(
        units,
        table,
        by_price,
        _diagnose(cost, grid, table),
        {name: table[name].to_numpy() for name in numeric},
    )


def _option_table(
    cost: CostModel, grid: ComputeGrid, kept: dict, capacity: np.ndarray, storage: pd.DataFrame
) -> tuple[pd.DataFrame, sp.csr_matrix]:
    """One row per option (a kept compute choice with one of its storage choices), sorted by
    unit then cost (the backends rely on it), and its sparse quantities per price."""
    space, const, units = cost.space, cost.const, grid.units
    k = storage.k.to_numpy()
    final = _choices(grid, kept, k, capacity) | {
        "tier": storage.tier.to_numpy(),
        "backups": storage.backups.to_numpy(),
        "compression": storage.zip.to_numpy(),
    }
    u = kept["u"][k]
    by_price = cost.option_quantities(units.model[u], units.share[u], final)
    daily = by_price @ cost.prices.values
    order = np.lexsort((daily, u))
    k, u, daily, by_price = k[order], u[order], daily[order], by_price[order]
    final = {name: values[order] for name, values in final.items()}
    i = units.model[u]
    thr = kept["throughput"][k]
    artifact = cost.artifact_gb(const.take(i), final["precision"], final["compression"])
    at = (i, final["instance"], final["precision"], kept["b"][k])
    names = {
        axis: np.array(getattr(space, axis), object)
        for axis in ("fusions", "models", "instances", "precisions", "tiers", "compressions")
    }
    table = pd.DataFrame(
        {
            "unit": u,
            "fusion": names["fusions"][units.fusion[u]],
            "model": names["models"][i],
            "instance": names["instances"][final["instance"]],
            "precision": names["precisions"][final["precision"]],
            "batch": final["batch"],
            "tensor_parallel": grid.configs.tp[kept["b"][k]],
            "replicas": final["replicas"].astype(int),
            "tier": names["tiers"][final["tier"]],
            "backups": final["backups"],
            "compression": names["compressions"][final["compression"]],
            "throughput_qps": thr,
            "autoscale_qps": final["capacity_qps"],
            "arrival_qps": units.arrival_qps[u],
            "utilisation": units.arrival_qps[u] / (final["replicas"] * thr),
            "p99_ms": kept["p99_ms"][k],
            "ttft_ms": kept["ttft_ms"][k],
            "tpot_ms": grid.perf.tpot_ms[at],
            "prefill_share": grid.perf.prefill_share[at],
            "measured": grid.perf.profiled[at],
            "slo_ms": const.slo_ms[i],
            "quality_delta": cost.quality_delta[i, final["precision"]],
            "artifact_gb": artifact,
            "stored_gb": artifact * const.versions_kept[i] * (1 + final["backups"]),
            "cold_start_s": cold_start_seconds(
                cost, i, final["precision"], final["tier"], final["compression"]
            ),
            "device_gb": grid.perf.device_gb[at],
            "host_gb": grid.perf.host_gb[at],
            "cost_per_day": daily,
            "instance_idx": final["instance"],
            "precision_idx": final["precision"],
            "tier_idx": final["tier"],
            "compression_idx": final["compression"],
        }
    )
    table["headroom_ms"] = table.slo_ms - table.p99_ms
    fits = [
        grid.perf.calibration.get(key)
        for key in zip(i, final["instance"], final["precision"], table.tensor_parallel, strict=True)
    ]
    table["profile_points"] = [0 if f is None else f.points for f in fits]
    table["profile_residual"] = [np.nan if f is None else f.residual for f in fits]
    return table, by_price


def _memory_miss(cost: CostModel, grid: ComputeGrid, unit: int, hardware: dict) -> tuple:
    """(need GB, offer GB, instance, "accelerator" or "host") of the nearest memory miss:
    where some configuration overflows an accelerator, the smallest such need against the
    largest accelerator allowed; else (CPU instances, or the host part of a split
    embedding) the smallest host need against the largest host memory allowed. Only the
    instances the model may use and is measured on (when measured only) count."""
    m = grid.units.model[unit]
    oom = grid.reason[unit][..., 0] == Reason.OUT_OF_MEMORY  # (H, C, B)
    usable = cost.scn.options.memory_usable_fraction
    h = np.nonzero(oom)[0]
    device_need, host_need = grid.perf.device_gb[m][oom], grid.perf.host_gb[m][oom]
    over_host = host_need > hardware["host_gb"][h] * usable
    # an accelerator point whose host part fits failed on the device (an LLM's KV cache too)
    over_device = ~hardware["cpu"][h] & (
        ~over_host | (device_need > hardware["device_gb"][h] * usable)
    )
    if over_device.any():
        kind, axis, need, picked = "accelerator", "device_gb", device_need, over_device
    else:
        kind, axis, need, picked = "host", "host_gb", host_need, np.ones(len(h), bool)
    candidates = np.unique(h[picked])
    offers = hardware[axis][candidates]
    return (
        float(need[picked].min()),
        float(offers.max()),
        cost.space.instances[candidates[np.argmax(offers)]],
        kind,
    )


def _diagnose(cost: CostModel, grid: ComputeGrid, table: pd.DataFrame) -> pd.DataFrame:
    """Per unit: options removed by each reason, options kept, nearest miss if none kept."""
    space, units, reason = cost.space, grid.units, grid.reason
    tiers, zips = cost.artifact_tiers, cost.file_compressions
    hardware = hardware_axes(cost)
    rows = []
    kept = np.bincount(table.unit.to_numpy(), minlength=len(units.model))
    for unit in range(len(units.model)):
        codes = np.bincount(reason[unit].ravel(), minlength=len(REASONS) + 1)
        row = {
            "unit": unit,
            "fusion": space.fusions[units.fusion[unit]],
            "model": space.models[units.model[unit]],
            "kept": int(kept[unit]),
        }
        row.update({name: int(codes[j + 1]) for j, name in enumerate(REASONS)})
        best: dict = {}
        slow = reason[unit] == Reason.TOO_SLOW
        if slow.any():
            flat = np.where(slow, grid.p99_ms[unit], np.inf)
            hh, cc, bb, rr = np.unravel_index(np.argmin(flat), flat.shape)
            best["too_slow"] = (
                flat[hh, cc, bb, rr],
                hh,
                cc,
                int(grid.configs.batch[bb]),
                int(grid.replicas[unit, hh, cc, bb, rr]),
            )
        model = cost.scn.models[units.model[unit]]
        if model.is_llm and slow.any():
            tpot = grid.perf.tpot_ms[units.model[unit]][slow.any(axis=-1)]
            best["llm"] = (float(np.nanmin(tpot)), float(np.min(grid.p99_ms[unit][slow])))
        if not kept[unit] and (reason[unit] == Reason.OK).any():
            precisions = np.unique(np.nonzero(reason[unit] == Reason.OK)[1])
            seconds = cold_start_seconds(
                cost,
                units.model[unit],
                precisions[:, None, None],
                tiers[None, :, None],
                zips[None, None, :],
            )
            best = {"cold_start": float(np.min(seconds))}
        if (reason[unit] == Reason.OVER_CAPACITY).any():
            best.setdefault("over_capacity", True)
        if (reason[unit] == Reason.OUT_OF_MEMORY).any():
            best.setdefault("out_of_memory", _memory_miss(cost, grid, unit, hardware))
        row["nearest_miss"] = "" if kept[unit] else _nearest_miss(cost, unit, units, best)
        rows.append(row)
    return pd.DataFrame(rows)
