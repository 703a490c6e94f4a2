"""Performance of one replica over (model, instance, precision, batch), and the latency and
cold start of a deployed option.

* service time and per-replica throughput: a measured profile, interpolated in
  log2(batch) between measured batch sizes; else the roofline
  ``t(b) = max(b F / (peak[h, c] eff), (W[c] + b X) / (bw[h] eff)) + overhead`` with F the
  FLOPs per request, W the weight bytes at precision c and X the bytes read per request.
  A profile with ``p99_bound_ms`` is a measured *capacity*: for SLOs no tighter than the
  bound, a replica takes that throughput with the measured p99 and no queueing is added.
* memory: dense weights and activations on the accelerators; an embedding table may be
  split, the part that does not fit living in host RAM. CPU instances hold all in RAM.
* p99 = batch-formation delay ``(b - 1) n / lambda`` + service time + the M/M/c 99th
  percentile wait (``deploycost.options.queueing``).
* cold start: first byte + artifact GB / tier read MB/s + decompression.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np

from deploycost.cost.model import CostModel
from deploycost.options.queueing import wait_quantile_s
from deploycost.periods import MB_PER_GB


class Reason(IntEnum):
    """Why a grid point is not an option: the first check it fails (OK when none)."""

    OK = 0
    NOT_ALLOWED = 1  # the model's allowed_instances / allowed_precisions exclude it
    NO_PROFILE = 2  # measured profiles only, and none covers this point
    OUT_OF_MEMORY = 3
    OVER_CAPACITY = 4  # more than options.max_replicas replicas needed
    TOO_SLOW = 5  # p99 above the SLO
    COLD_START = 6  # no storage choice loads the artifact in time


REASONS = tuple(reason.name.lower() for reason in Reason if reason)  # column names, in order
GIB_IN_GB = 1.073741824


@dataclass(frozen=True)
class Performance:
    """Per (model, instance, precision, batch): throughput, service time, memory fit."""

    throughput_qps: np.ndarray  # per replica
    service_ms: np.ndarray
    capacity_bound_ms: np.ndarray  # NaN unless the profile is a measured capacity
    reason: np.ndarray  # int: 0 fine, else 1 + index into REASONS
    device_gb: np.ndarray  # accelerator memory needed (host RAM on CPU instances)
    host_gb: np.ndarray


def hardware_axes(cost: CostModel) -> dict[str, np.ndarray]:
    """Hardware and precision figures as arrays over the instance (H) and precision (C) axes."""
    cat = cost.scn.resolved_catalog
    hw = cat.hardware.loc[list(cost.space.instances)]
    acc = cat.accelerators.loc[hw.accelerator.to_numpy()]
    prec = cat.precision.loc[list(cost.space.precisions)]
    cpu = (hw.compute_class == "cpu").to_numpy()
    units = np.where(cpu, hw.vcpus.to_numpy(float), hw.accel_count.to_numpy(float))
    column = {
        "fp32": "peak_tflops_fp32",
        "fp16": "peak_tflops_fp16",
        "int8": "peak_tops_int8",
        "int4": "peak_tops_int4",
    }
    peak = np.stack([acc[column[d]].to_numpy(float) for d in prec.compute_dtype], axis=1)
    return {
        "cpu": cpu,
        "peak_flops": peak * 1e12 * units[:, None],  # (H, C)
        "bandwidth": acc.mem_bw_gb_s.to_numpy(float) * 1e9 * units,  # (H,) bytes/s
        "device_gb": hw.accel_mem_gb.fillna(0).to_numpy(float) * hw.accel_count.to_numpy(float),
        "host_gb": hw.memory_gib.to_numpy(float) * GIB_IN_GB,
        "quality_delta": prec.quality_delta_rel.to_numpy(float),
    }


def batch_grid(cost: CostModel) -> np.ndarray:
    sizes = set(cost.scn.options.batch_sizes)
    sizes |= {p.batch for m in cost.scn.models for p in m.profiles}
    return np.array(sorted(sizes))


def performance(cost: CostModel, batches: np.ndarray) -> Performance:
    """Throughput, service time and memory over (model, instance, precision, batch)."""
    scn, space, const = cost.scn, cost.space, cost.const
    opts = scn.options
    ax = hardware_axes(cost)
    m, h, c, b = len(space.models), len(space.instances), len(space.precisions), len(batches)
    shape = (m, h, c, b)
    bsz = batches[None, None, None, :].astype(float)

    weights_gb = const.gb_per_param_byte[:, None] * cost.bytes_per[None, :]  # (M, C)
    flops = const.flops_per_request
    read_bytes = const.bytes_read_per_request
    eff = opts.roofline_efficiency
    t_compute = bsz * flops[:, None, None, None] / (ax["peak_flops"][None, :, :, None] * eff)
    t_memory = (weights_gb[:, None, :, None] * 1e9 + bsz * read_bytes[:, None, None, None]) / (
        ax["bandwidth"][None, :, None, None] * eff
    )
    service_s = np.maximum(t_compute, t_memory) + opts.overhead_ms / 1000.0
    throughput = bsz / service_s
    bound = np.full(shape, np.nan)
    profiled = np.zeros(shape, bool)
    has_profiles = np.array([bool(mm.profiles) for mm in scn.models])
    log_b = np.log2(batches)
    for i, model in enumerate(scn.models):
        groups: dict[tuple[int, int], list] = {}
        for p in model.profiles:
            if p.instance not in space.instances:
                continue  # outside the scenario's regions or pricing model
            key = (space.instances.index(p.instance), space.precisions.index(p.precision))
            groups.setdefault(key, []).append(p)
        for (hi, ci), rows in groups.items():
            rows = sorted(rows, key=lambda p: p.batch)
            x = np.log2([p.batch for p in rows])
            inside = (log_b >= x[0]) & (log_b <= x[-1])
            throughput[i, hi, ci, inside] = np.interp(
                log_b[inside], x, [p.throughput_qps for p in rows]
            )
            service_s[i, hi, ci, inside] = (
                np.interp(log_b[inside], x, [p.latency_ms for p in rows]) / 1000.0
            )
            profiled[i, hi, ci, inside] = True
            if all(p.p99_bound_ms is not None for p in rows):
                bound[i, hi, ci, inside] = min(p.p99_bound_ms for p in rows)

    # memory: dense weights + activations on the accelerators, embeddings split to host RAM
    usable = opts.memory_usable_fraction
    ckpt_bytes = cost.bytes_per[const.checkpoint_precision]
    emb_gb = np.minimum(
        const.embedding_gb[:, None] * cost.bytes_per[None, :] / ckpt_bytes[:, None],
        weights_gb,
    )  # (M, C)
    act_gb = bsz * read_bytes[:, None, None, None] / 1e9
    dense = (weights_gb - emb_gb)[:, None, :, None] + act_gb
    device = ax["device_gb"][None, :, None, None] * usable
    emb_off = np.maximum(emb_gb[:, None, :, None] - np.maximum(device - dense, 0.0), 0.0)
    cpu = ax["cpu"][None, :, None, None]
    device_gb = np.where(cpu, 0.0, dense + emb_gb[:, None, :, None] - emb_off)
    host_gb = np.where(cpu, weights_gb[:, None, :, None] + act_gb, emb_off) + opts.host_reserve_gb
    fits = np.where(cpu, True, dense <= device) & (
        host_gb <= ax["host_gb"][None, :, None, None] * usable
    )

    allowed = np.ones((m, h, c), bool)
    for i, model in enumerate(scn.models):
        if model.allowed_instances is not None:
            allowed[
                i, [h_ for h_ in range(h) if space.instances[h_] not in model.allowed_instances]
            ] = False
        if model.allowed_precisions is not None:
            allowed[
                i,
                :,
                [c_ for c_ in range(c) if space.precisions[c_] not in model.allowed_precisions],
            ] = False
    measured_only = has_profiles & (not opts.estimate_unprofiled)
    reason = np.zeros(shape, np.int8)
    failures = {
        Reason.NOT_ALLOWED: ~allowed[..., None],
        Reason.NO_PROFILE: measured_only[:, None, None, None] & ~profiled,
        Reason.OUT_OF_MEMORY: ~fits,
    }
    for code, failed in failures.items():
        reason[(reason == Reason.OK) & np.broadcast_to(failed, shape)] = code
    return Performance(
        throughput,
        service_s * 1000.0,
        bound,
        reason,
        np.broadcast_to(device_gb, shape),
        np.broadcast_to(host_gb, shape),
    )


def p99_latency_ms(
    throughput: np.ndarray,
    service_ms: np.ndarray,
    bound_ms: np.ndarray,
    replicas: np.ndarray,
    arrival_qps: np.ndarray,
    batch: np.ndarray,
    slo_ms: np.ndarray,
) -> np.ndarray:
    """p99 latency of ``replicas`` servers at ``arrival_qps`` (all arrays broadcast).

    A measured capacity (``bound_ms`` not NaN) with an SLO no tighter than its bound gives
    the measured p99 directly; otherwise batch formation ``(b - 1) n / lambda`` + service
    time + the M/M/c 99th-percentile wait.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        batch_ms = np.where(batch > 1, (batch - 1) * replicas / arrival_qps * 1000.0, 0.0)
    wait_ms = wait_quantile_s(replicas, arrival_qps, throughput) * 1000.0
    measured_capacity = ~np.isnan(bound_ms) & (slo_ms >= bound_ms)
    return np.where(measured_capacity, service_ms, batch_ms + service_ms + wait_ms)


def cold_start_seconds(
    cost: CostModel,
    model: np.ndarray,
    precision: np.ndarray,
    tier: np.ndarray,
    compression: np.ndarray,
) -> np.ndarray:
    """Seconds to bring an artifact up: first byte + transfer at the tier's read rate +
    decompression (indices into the model, precision, tier and compression axes)."""
    cat = cost.scn.resolved_catalog
    storage = cat.storage.loc[list(cost.space.tiers)]
    comp = cat.compression.loc[list(cost.space.compressions)]
    decompress = np.nan_to_num(comp.decompress_mb_s.to_numpy(float), nan=np.inf)
    gb = cost.const.gb_per_param_byte[model] * cost.bytes_per[precision]
    return (
        storage.first_byte_s.fillna(0).to_numpy(float)[tier]
        + gb * cost.size_factor[compression] * MB_PER_GB / storage.read_mb_s.to_numpy(float)[tier]
        + gb * MB_PER_GB / decompress[compression]
    )
