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

Every infeasible option gets the first failing reason of ``REASONS``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np
import pandas as pd
import scipy.sparse as sp

from deploycost.cost.model import CostModel, artifact_loads_per_day, daily_replicas
from deploycost.options.performance import (
    REASONS,
    batch_grid,
    cold_start_seconds,
    hardware_axes,
    p99_latency_ms,
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
    if "too_slow" in best:
        p99, h, c, b, n = best["too_slow"]
        return (
            f"{where}: p99 <= {model.latency_slo_ms:g} ms is out of reach; the fastest "
            f"option, {n} x {space.instances[h]} {space.precisions[c]} batch {b}, gives "
            f"{p99:.4g} ms"
        )
    if "cold_start" in best:
        seconds = best["cold_start"]
        return (
            f"{where}: cold start <= {scn.constraints.max_cold_start_s:g} s is out of reach; "
            f"the fastest artifact load takes {seconds:.4g} s"
        )
    if "over_capacity" in best:
        return (
            f"{where}: {units.arrival_qps[unit]:.4g} requests/s need more than "
            f"max_replicas = {scn.options.max_replicas} replicas on every instance type"
        )
    if "out_of_memory" in best:
        need, offer = best["out_of_memory"]
        return (
            f"{where}: no instance holds the model: it needs {need:.4g} GB of accelerator "
            f"memory at its smallest precision; the largest instance offers {offer:.4g} GB"
        )
    return f"{where}: no allowed, measured (instance, precision) pair; add a profile or allow more"


def enumerate_options(cost: CostModel) -> OptionSet:
    """Build, filter and prune the option grid of every unit (see the module docstring)."""
    scn, space, const = cost.scn, cost.space, cost.const
    opts = scn.options
    units = Units.of(cost)
    batches = batch_grid(cost)
    perf = performance(cost, batches)
    i = units.model
    n_h, n_c = len(space.instances), len(space.precisions)
    extra = np.arange(opts.extra_replicas + 1)
    rho_max = scn.constraints.utilisation_max

    thr = perf.throughput_qps[i][..., None]  # (U, H, C, B, 1)
    lam = units.arrival_qps[:, None, None, None, None]
    n_min = np.maximum(
        const.min_replicas[i][:, None, None, None, None], np.ceil(lam / (rho_max * thr))
    )
    n = n_min + extra  # (U, H, C, B, R)
    slo_m = np.array([m.latency_slo_ms for m in scn.models])
    shape = n.shape
    reason = np.broadcast_to(perf.reason[i][..., None], shape).astype(np.int8)
    reason = np.where((reason == 0) & (n > opts.max_replicas), 4, reason)
    # queueing only where every other check passed: most of the grid is ruled out already
    cand = np.nonzero(reason == 0)
    uc, hc, cc, bc, _ = cand
    p99 = np.full(shape, np.inf)
    p99[cand] = p99_latency_ms(
        thr[uc, hc, cc, bc, 0],
        perf.service_ms[i[uc], hc, cc, bc],
        perf.capacity_bound_ms[i[uc], hc, cc, bc],
        n[cand],
        units.arrival_qps[uc],
        batches[bc],
        slo_m[i[uc]],
    )
    slo = slo_m[i][:, None, None, None, None]
    reason = np.where((reason == 0) & ~(p99 <= slo), 5, reason)

    # keep feasible compute choices, prune dominated ones per (unit, instance, precision)
    u, h, c, b, r = np.nonzero(reason == 0)
    n_f, p99_f, thr_f = n[u, h, c, b, r], p99[u, h, c, b, r], thr[u, h, c, b, 0]
    group = (u * n_h + h) * n_c + c
    keep = _pareto_keep(group, n_f, p99_f) if len(u) else np.array([], int)
    if scn.constraints.e2e_latency_ms is None and len(keep):
        keep = keep[_first_per_group(group[keep], n_f[keep])]
    u, h, c, b, n_f, p99_f, thr_f = (a[keep] for a in (u, h, c, b, n_f, p99_f, thr_f))
    capacity = thr_f if opts.autoscale else np.full(len(u), np.nan)

    # loads per day decide the cheapest storage; choose it once per (unit, precision, loads)
    const_k = const.take(i[u])
    _, starts = daily_replicas(
        scn, n_f[None], capacity[None], units.share[u][None], const_k.min_replicas
    )
    loads = artifact_loads_per_day(n_f, const_k.retrains_per_day, starts[0])

    tiers = np.array([space.tiers.index(t) for t in scn.model_storage_tiers])
    zips = np.array([space.compressions.index(z) for z in opts.file_compressions])
    backups = np.array(sorted(set(opts.backups)))
    combo_t, combo_z, combo_k = (
        a.ravel() for a in np.meshgrid(tiers, zips, backups, indexing="ij")
    )

    cold_start_s = partial(cold_start_seconds, cost)

    inverse, n_triples = _group_ids(u, c, loads)
    rep = np.zeros(n_triples, np.intp)
    rep[inverse] = np.arange(len(u))
    rows_t = np.repeat(np.arange(n_triples), len(combo_t))
    rows_k = rep[rows_t]
    ct, cz, ck = (np.tile(a, n_triples) for a in (combo_t, combo_z, combo_k))
    model_of = i[u[rows_k]]
    min_backups = np.array([m.min_backups for m in scn.models])
    ok = (cold_start_s(model_of, c[rows_k], ct, cz) <= scn.constraints.max_cold_start_s) & (
        ck >= min_backups[model_of]
    )
    choices = {
        "instance": h[rows_k],
        "replicas": n_f[rows_k],
        "precision": c[rows_k],
        "batch": batches[b[rows_k]],
        "tier": ct,
        "backups": ck,
        "compression": cz,
        "capacity_qps": capacity[rows_k],
    }
    combo_cost = (
        cost.option_quantities(model_of, units.share[u[rows_k]], choices) @ cost.prices.values
    )
    combo_cost = np.where(ok, combo_cost, np.inf)
    per_tier = bool(scn.constraints.owned_storage_gb)
    pick_group = rows_t * len(space.tiers) + ct if per_tier else rows_t
    best = _first_per_group(pick_group, combo_cost)
    best = best[np.isfinite(combo_cost[best])]
    # every compute choice takes the best storage of its (unit, precision, loads) triple
    chosen = pd.DataFrame(
        {"triple": rows_t[best], "tier": ct[best], "zip": cz[best], "backups": ck[best]}
    )
    pairs = pd.DataFrame({"k": np.arange(len(u)), "triple": inverse}).merge(chosen, on="triple")
    k = pairs.k.to_numpy()
    final = {
        "instance": h[k],
        "replicas": n_f[k],
        "precision": c[k],
        "batch": batches[b[k]],
        "tier": pairs.tier.to_numpy(),
        "backups": pairs.backups.to_numpy(),
        "compression": pairs.zip.to_numpy(),
        "capacity_qps": capacity[k],
    }
    by_price = cost.option_quantities(i[u[k]], units.share[u[k]], final)
    daily = by_price @ cost.prices.values
    order = np.lexsort((daily, u[k]))  # by unit, cheapest first (the backends rely on it)
    k, daily, by_price = k[order], daily[order], by_price[order]
    final = {name: values[order] for name, values in final.items()}
    artifact = cost.artifact_gb(const.take(i[u[k]]), final["precision"], final["compression"])
    table = pd.DataFrame(
        {
            "unit": u[k],
            "fusion": np.array(space.fusions, object)[units.fusion[u[k]]],
            "model": np.array(space.models, object)[i[u[k]]],
            "instance": np.array(space.instances, object)[final["instance"]],
            "precision": np.array(space.precisions, object)[final["precision"]],
            "batch": final["batch"],
            "replicas": final["replicas"].astype(int),
            "tier": np.array(space.tiers, object)[final["tier"]],
            "backups": final["backups"],
            "compression": np.array(space.compressions, object)[final["compression"]],
            "throughput_qps": thr_f[k],
            "arrival_qps": units.arrival_qps[u[k]],
            "utilisation": units.arrival_qps[u[k]] / (final["replicas"] * thr_f[k]),
            "p99_ms": p99_f[k],
            "slo_ms": np.array([m.latency_slo_ms for m in scn.models])[i[u[k]]],
            "quality_delta": hardware_axes(cost)["quality_delta"][final["precision"]],
            "artifact_gb": artifact,
            "stored_gb": artifact * const.versions_kept[i[u[k]]] * (1 + final["backups"]),
            "cold_start_s": cold_start_s(
                i[u[k]], final["precision"], final["tier"], final["compression"]
            ),
            "device_gb": perf.device_gb[i[u[k]], final["instance"], final["precision"], b[k]],
            "host_gb": perf.host_gb[i[u[k]], final["instance"], final["precision"], b[k]],
            "cost_per_day": daily,
            "instance_idx": final["instance"],
            "precision_idx": final["precision"],
            "tier_idx": final["tier"],
            "compression_idx": final["compression"],
        }
    )
    table["headroom_ms"] = table.slo_ms - table.p99_ms
    numeric = (
        "unit",
        "cost_per_day",
        "quality_delta",
        "p99_ms",
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
        _diagnose(cost, units, reason, p99, n, perf, batches, table, cold_start_s, tiers, zips),
        {name: table[name].to_numpy() for name in numeric},
    )


def _diagnose(
    cost, units, reason, p99, n, perf, batches, table, cold_start_s, tiers, zips
) -> pd.DataFrame:
    """Per unit: options removed by each reason, options kept, nearest miss if none kept."""
    space = cost.space
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
        slow = reason[unit] == 5
        if slow.any():
            flat = np.where(slow, p99[unit], np.inf)
            hh, cc, bb, rr = np.unravel_index(np.argmin(flat), flat.shape)
            best["too_slow"] = (
                flat[hh, cc, bb, rr],
                hh,
                cc,
                int(batches[bb]),
                int(n[unit, hh, cc, bb, rr]),
            )
        if not kept[unit] and (reason[unit] == 0).any():
            i = units.model[unit]
            precisions = np.unique(np.nonzero(reason[unit] == 0)[1])
            seconds = cold_start_s(
                i, precisions[:, None, None], tiers[None, :, None], zips[None, None, :]
            )
            best = {"cold_start": float(np.min(seconds))}
        if (reason[unit] == 4).any():
            best.setdefault("over_capacity", True)
        if (reason[unit] == 3).any():
            need = perf.device_gb[units.model[unit]]
            best.setdefault(
                "out_of_memory",
                (
                    float(np.min(need[need > 0], initial=np.inf)),
                    float(hardware_axes(cost)["device_gb"].max()),
                ),
            )
        row["nearest_miss"] = "" if kept[unit] else _nearest_miss(cost, unit, units, best)
        rows.append(row)
    return pd.DataFrame(rows)
