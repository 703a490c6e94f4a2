"""Per-instance capacity at the SLO and artifact choices, for the fleet optimiser.

The fleet model spreads a model's requests over its instances, each instance with its own
queue (as a Kubernetes Service or a round-robin balancer does; there is no central queue).
An instance's capacity is then the same whatever the size of the fleet, which makes
capacity additive across instance types, purchase plans and models sharing an instance:
that is what keeps the fleet MILP linear. Over the axes

    unit (U) x instance (H) x precision (C) x batch (B)

a *mode* ``(u, h, c, b)`` has the capacity

    cap[u, h, c, b] = max { lambda_1 <= rho_max mu :  p99(lambda_1) <= SLO_u }

with ``p99(lambda_1)`` = batch formation ``(b - 1) / lambda_1`` + service time + the M/M/1
99th-percentile wait of one instance (a measured capacity profile: its measured p99), found
on a grid of utilisations and refined by bisection. One instance serving several models
spends ``lambda_u / cap`` of itself on each; that sharing is a linear approximation (the
models' queues interfere in practice). The mode of a (unit, instance, precision) with the
largest capacity is kept (ties: the smaller batch, which needs less memory).

An *artifact* is what a unit stores at one precision: the cheapest (tier, file
compression, backups) meeting the cold-start limit and the model's minimum backups, per
(unit, precision), or per (unit, precision, tier) when a tier has an owned capacity. Its
daily quantities (``CostModel.artifact_quantities``) count one artifact pull per new
version on as many instances as the unit needs at its peak on its highest-capacity mode:
scale-up pulls are not counted (they cost artifact GB x retrieval price each, small next
to compute).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from deploycost.cost.model import CostModel
from deploycost.memory import check_fits
from deploycost.options.grid import (
    PERF_BYTES,
    Units,
    _first_per_group,
    _group_ids,
    cheapest_storage,
    storage_combos,
)
from deploycost.options.performance import Performance, Reason, config_grid, performance

UTILISATION_STEPS = 48  # geometric grid of per-instance utilisations searched for the SLO
BISECTIONS = 40
MODE_BYTES = 8.0 * (UTILISATION_STEPS + 8)  # per grid point, during the capacity search


@dataclass(frozen=True)
class FleetOptions:
    """The modes and artifacts of every unit (see the module docstring)."""

    units: Units
    perf: Performance  # over (model, instance, precision, config); modes index it
    modes: pd.DataFrame  # unit, instance_idx, precision_idx, config_idx, batch, cap_qps, ...
    artifacts: pd.DataFrame  # unit, precision_idx, tier_idx, compression_idx, backups, ...
    artifact_by_price: sp.csr_matrix  # (artifacts, prices)
    artifact_by_component: dict[str, sp.csr_matrix]  # model_storage, compression parts
    missing: dict[int, str]  # unit -> why it has no mode or no artifact


def per_instance_capacity(
    perf: Performance, at: tuple[np.ndarray, ...], rho_max: float
) -> np.ndarray:
    """Largest arrival rate per instance (requests/s) meeting the latency limits at the
    points ``at`` (flat (model, instance, precision, config) index arrays); 0 where none
    does."""
    throughput = perf.throughput_qps[at]
    steps = rho_max * np.geomspace(1e-4, 1.0, UTILISATION_STEPS)  # (S,)
    lam = throughput[:, None] * steps[None, :]

    def ok(rate: np.ndarray, k: slice | np.ndarray = slice(None)) -> np.ndarray:
        extra = (slice(None),) + (None,) * (rate.ndim - 1)
        where = tuple(a[k][extra] for a in at)
        p99, ttft = perf.latency_ms(where, 1.0, rate)
        return perf.meets(where[0], p99, ttft)

    good_grid = ok(lam)
    any_ok = good_grid.any(axis=1)
    last = np.where(any_ok, UTILISATION_STEPS - 1 - np.argmax(good_grid[:, ::-1], axis=1), 0)
    low = lam[np.arange(len(lam)), last]
    cap = np.where(any_ok, low, 0.0)
    refine = np.nonzero(any_ok & (last < UTILISATION_STEPS - 1))[0]
    lo, hi = low[refine], lam[refine, last[refine] + 1]
    for _ in range(BISECTIONS):
        mid = 0.5 * (lo + hi)
        good = ok(mid, refine)
        lo, hi = np.where(good, mid, lo), np.where(good, hi, mid)
    cap[refine] = lo
    return cap


def slices_per_node(cost: CostModel) -> np.ndarray:
    """(H,) servers one instance of each type holds: a partition row's slices per node
    (``Catalog.with_partitions``), else 1."""
    known = cost.__dict__.get("_slices_per_node")  # kept with the cost model
    if known is None:
        hw = cost.scn.resolved_catalog.hardware.loc[list(cost.space.instances)]
        known = pd.to_numeric(hw.slices_per_node).fillna(1.0).to_numpy(float)
        known.flags.writeable = False
        cost.__dict__["_slices_per_node"] = known
    return known


def fleet_options(cost: CostModel) -> FleetOptions:
    """Modes with their capacity and memory, and the artifact of every (unit, precision)."""
    scn, space = cost.scn, cost.space
    units = Units.of(cost)
    configs = config_grid(cost)
    dims = {
        "units": len(units.model),
        "instance types": len(space.instances),
        "precisions": len(space.precisions),
        "batch sizes": len(configs),
    }
    check_fits("the fleet capacity search", dims, MODE_BYTES)
    check_fits("the performance table", dims, PERF_BYTES)
    perf = performance(cost, configs)
    i = units.model
    u, h, c, b = np.nonzero(perf.reason[i] == Reason.OK)
    cap = per_instance_capacity(perf, (i[u], h, c, b), scn.constraints.utilisation_max)
    # a mode that needs more than max_replicas instances for the unit's peak is out of
    # reach, as in the option grid (it would also spread the MILP's coefficients widely)
    served = (cap > 0) & (
        units.arrival_qps[u] / np.maximum(cap, 1e-300) <= scn.options.max_replicas
    )
    u, h, c, b, cap = u[served], h[served], c[served], b[served], cap[served]
    group, _ = _group_ids(u, h, c)
    keep = _first_per_group(group, -cap)  # stable: the smaller batch on a tie
    u, h, c, b, cap = u[keep], h[keep], c[keep], b[keep], cap[keep]
    at = (i[u], h, c, b)
    p99_at_cap, ttft_at_cap = perf.latency_ms(at, 1.0, cap)
    cap = cap * slices_per_node(cost)[h]  # a partition row's instance is a node of slices
    modes = pd.DataFrame(
        {
            "unit": u,
            "model": np.array(space.models, object)[i[u]],
            "instance": np.array(space.instances, object)[h],
            "precision": np.array(space.precisions, object)[c],
            "batch": configs.batch[b],
            "tensor_parallel": configs.tp[b],
            "config_idx": b,
            "cap_qps": cap,
            "throughput_qps": perf.throughput_qps[at],
            "service_ms": perf.service_ms[at],
            "bound_ms": perf.capacity_bound_ms[at],
            "p99_at_cap_ms": p99_at_cap,
            "ttft_at_cap_ms": ttft_at_cap,
            "device_gb": perf.device_gb[at],
            "host_gb": perf.host_gb[at],
            "instance_idx": h,
            "precision_idx": c,
        }
    )
    artifacts, by_price, by_component = _artifacts(cost, units, modes)
    missing = _missing(cost, units, modes, artifacts)
    return FleetOptions(units, perf, modes, artifacts, by_price, by_component, missing)


def _artifacts(
    cost: CostModel, units: Units, modes: pd.DataFrame
) -> tuple[pd.DataFrame, sp.csr_matrix, dict[str, sp.csr_matrix]]:
    best = modes.groupby(["unit", "precision_idx"], sort=True).cap_qps.max().reset_index()
    u = best.unit.to_numpy()
    c = best.precision_idx.to_numpy()
    i = units.model[u]
    const = cost.const.take(i)
    peak_instances = np.maximum(units.arrival_qps[u] / best.cap_qps.to_numpy(), const.min_replicas)
    loads = peak_instances * const.retrains_per_day
    rows, ct, cz, ck, cold, ok = storage_combos(cost, i, c)
    model_of = i[rows]
    choices = {"precision": c[rows], "tier": ct, "backups": ck, "compression": cz}
    quantities = cost.artifact_quantities(model_of, choices, loads[rows])
    daily = np.where(ok, quantities @ cost.prices.values, np.inf)
    chosen = cheapest_storage(cost, rows, ct, daily)
    k = rows[chosen]
    artifact_gb = cost.artifact_gb(cost.const.take(model_of[chosen]), c[k], cz[chosen])
    table = pd.DataFrame(
        {
            "unit": u[k],
            "precision_idx": c[k],
            "tier_idx": ct[chosen],
            "compression_idx": cz[chosen],
            "backups": ck[chosen],
            "cold_start_s": cold[chosen],
            "artifact_gb": artifact_gb,
            "stored_gb": artifact_gb * const.versions_kept[k] * (1 + ck[chosen]),
            "quality_delta": cost.quality_delta[i[k], c[k]],
            "cost_per_day": daily[chosen],
        }
    )
    picked = {name: values[chosen] for name, values in choices.items()}
    by_component = {
        part: cost.artifact_quantities(model_of[chosen], picked, loads[rows[chosen]], part)
        for part in ("model_storage", "compression")
    }
    return table, quantities[chosen], by_component


def _missing(
    cost: CostModel, units: Units, modes: pd.DataFrame, artifacts: pd.DataFrame
) -> dict[int, str]:
    """Units left without a mode or an artifact, with the reason in deployment terms."""
    space, scn = cost.space, cost.scn
    out = {}
    with_mode = set(modes.unit)
    with_artifact = set(artifacts.unit)
    for unit in range(len(units.model)):
        model = scn.models[units.model[unit]]
        where = f"{model.name} (in {space.fusions[units.fusion[unit]]})"
        if unit not in with_mode:
            out[unit] = (
                f"{where}: no allowed instance type that holds the model meets p99 <= "
                f"{model.latency_limit_ms:g} ms at any load on one instance"
            )
        elif unit not in with_artifact:
            out[unit] = (
                f"{where}: no stored artifact meets cold start <= "
                f"{scn.constraints.max_cold_start_s:g} s with >= {model.min_backups} backups"
            )
    return out
