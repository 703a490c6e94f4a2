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
* cold start: image pull + runtime start + first byte + artifact GB / tier read MB/s +
  decompression.

The last axis (B) is a *serving configuration*: a batch size, or for an LLM a
(tensor-parallel degree, concurrent sequences per engine) pair. An LLM's figures come from
``deploycost.options.llm`` (prefill and decode in tokens); its latency is
``TTFT p99 + (output tokens p99 - 1) TPOT`` with the TTFT queueing over every sequence
slot of the replicas (M/M/c over the slots, by dispatch policy: ``slot_wait_ms``).
"""

from __future__ import annotations

import math
import weakref
from dataclasses import dataclass
from enum import IntEnum

import numpy as np
import pandas as pd

from deploycost.cost.model import CostModel
from deploycost.options.latency import (
    TAIL,
    Queueing,
    p99_latency_ms,
    service_tail_factor,
    slot_wait_ms,
)
from deploycost.options.llm import TENSOR_PARALLEL
from deploycost.options.llm_performance import llm_performance
from deploycost.periods import MB_PER_GB


class Reason(IntEnum):
    """Why a grid point is not an option: the first check it fails (OK when none)."""

    OK = 0
    NOT_ALLOWED = 1  # the model's allowed_instances / allowed_precisions exclude it
    NO_PROFILE = 2  # measured profiles only, and none covers this point
    OUT_OF_MEMORY = 3
    OVER_CAPACITY = 4  # more than options.max_replicas replicas needed
    TOO_SLOW = 5  # p99 above the SLO


REASONS = tuple(reason.name.lower() for reason in Reason if reason)  # column names, in order
GIB_IN_GB = 1.073741824


@dataclass(frozen=True)
class Configs:
    """The serving-configuration axis (B): a batch size, or for LLMs a tensor-parallel
    degree and the sequences each engine serves at once."""

    batch: np.ndarray  # (B,) batch size, or concurrent sequences per engine
    tp: np.ndarray  # (B,) tensor-parallel degree (1 off LLM configurations)
    llm: np.ndarray  # (B,) bool

    def __len__(self) -> int:
        return len(self.batch)

    @classmethod
    def of(cls, batch, tp, llm) -> Configs:
        """The distinct configurations among (batch, tp, llm) triples, sorted."""
        rows = sorted({(bool(f), int(t), int(b)) for b, t, f in zip(batch, tp, llm, strict=True)})
        return cls(
            np.array([r[2] for r in rows], np.int64),
            np.array([r[1] for r in rows], np.int64),
            np.array([r[0] for r in rows], bool),
        )

    def index(self, batch, tp, llm) -> np.ndarray:
        key = {(bool(f), int(t), int(b)): k for k, (b, t, f) in enumerate(self.rows())}
        return np.array(
            [key[(bool(f), int(t), int(b))] for b, t, f in zip(batch, tp, llm, strict=True)],
            np.intp,
        )

    def rows(self):
        return zip(self.batch, self.tp, self.llm, strict=True)


@dataclass(frozen=True)
class Performance:
    """Per (model, instance, precision, config): throughput, service time, memory fit; for
    LLM configurations also the unloaded TTFT, the decode time and TPOT."""

    configs: Configs
    throughput_qps: np.ndarray  # per replica (instance)
    service_ms: np.ndarray
    capacity_bound_ms: np.ndarray  # NaN unless the profile is a measured capacity
    reason: np.ndarray  # int: 0 fine, else 1 + index into REASONS
    device_gb: np.ndarray  # accelerator memory needed (host RAM on CPU instances)
    host_gb: np.ndarray
    slo_ms: np.ndarray  # (M,) end-to-end p99 limit
    ttft_limit_ms: np.ndarray  # (M,) inf where none
    ttft_ms: np.ndarray  # before queueing; NaN off LLM configurations
    decode_ms: np.ndarray  # (output tokens p99 - 1) x TPOT
    tpot_ms: np.ndarray
    slots: np.ndarray  # sequences one instance serves at once (1 off LLM configurations)
    prefill_share: np.ndarray  # share of an LLM engine's time spent on prefill
    profiled: np.ndarray  # a measured profile (or its calibration) gives the figures
    calibration: dict  # (model, instance, precision, tensor_parallel) -> Calibration
    queueing: Queueing  # dispatch policy, service variability, batcher delay
    slot_cs2: np.ndarray  # (M,) squared CV of an LLM request's time in its slot, at least 1

    def latency_ms(self, at: tuple, replicas, arrival_qps) -> tuple[np.ndarray, np.ndarray]:
        """(p99, TTFT p99) of ``replicas`` instances at ``arrival_qps`` for the points ``at``
        = (model, instance, precision, config) index arrays (all broadcast); TTFT is NaN
        off LLM configurations."""
        model, b = at[0], at[3]
        thr = self.throughput_qps[at]
        classic = p99_latency_ms(
            thr,
            self.service_ms[at],
            self.capacity_bound_ms[at],
            replicas,
            arrival_qps,
            self.configs.batch[b].astype(float),
            self.slo_ms[model],
            self.queueing,
            self.queueing.of_models(model),
        )
        llm = self.configs.llm[b]
        if not np.any(llm):
            return classic, np.full(np.shape(classic), np.nan)
        dispatch = self.queueing.of_models(model)
        wait = slot_wait_ms(
            self.slots[at], replicas, arrival_qps, thr, dispatch, self.slot_cs2[model]
        )
        # a request's service time varies around its tokens' (the scenario's service_cv,
        # as simulated): each part at its own p99, a sum no lower than the p99 of the sum
        noise = service_tail_factor(self.queueing.service_cv, TAIL)
        ttft = np.where(llm, wait + self.ttft_ms[at] * noise, np.nan)
        return np.where(llm, ttft + self.decode_ms[at] * noise, classic), ttft

    def meets(
        self, model: np.ndarray, p99: np.ndarray, ttft: np.ndarray, rel_tol: float = 0.0
    ) -> np.ndarray:
        """The latency limits hold: p99 <= SLO and, for LLMs, TTFT p99 <= its limit."""
        slack = 1.0 + rel_tol
        return (p99 <= self.slo_ms[model] * slack) & ~(ttft > self.ttft_limit_ms[model] * slack)


_AXES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def hardware_axes(cost: CostModel) -> dict[str, np.ndarray]:
    """Hardware and precision figures as arrays over the instance (H) and precision (C) axes,
    computed once per cost model (read-only: the grid, the fleet and its checks share them)."""
    if cost not in _AXES:
        axes = _hardware_axes(cost)
        for array in axes.values():
            array.setflags(write=False)
        _AXES[cost] = axes
    return _AXES[cost]


def _hardware_axes(cost: CostModel) -> dict[str, np.ndarray]:
    cat = cost.scn.resolved_catalog
    hw = cat.hardware.loc[list(cost.space.instances)]
    acc = cat.accelerators.loc[hw.accelerator.to_numpy()]
    prec = cat.precision.loc[list(cost.space.precisions)]
    cpu = (hw.compute_class == "cpu").to_numpy()
    units = np.where(cpu, hw.vcpus.to_numpy(float), hw.accel_count.to_numpy(float))
    # an accelerator partition (one slice of a GPU) has a share of its compute and bandwidth
    compute_share = pd.to_numeric(hw.compute_fraction).fillna(1.0).to_numpy(float)
    bandwidth_share = pd.to_numeric(hw.bandwidth_fraction).fillna(1.0).to_numpy(float)
    column = {
        "fp32": "peak_tflops_fp32",
        "fp16": "peak_tflops_fp16",
        "fp8": "peak_tflops_fp8",
        "int8": "peak_tops_int8",
        "int4": "peak_tops_int4",
    }
    peak = np.stack([acc[column[d]].to_numpy(float) for d in prec.compute_dtype], axis=1)
    # LLM weight-only int8/int4 dequantise to 16-bit: their speed comes from bytes read
    llm_dtype = [d if d in ("fp32", "fp8") else "fp16" for d in prec.compute_dtype]
    llm_peak = np.stack([acc[column[d]].to_numpy(float) for d in llm_dtype], axis=1)
    peak = peak * compute_share[:, None]
    llm_peak = llm_peak * compute_share[:, None]
    bandwidth = acc.mem_bw_gb_s.to_numpy(float) * bandwidth_share
    return {
        "llm_device_flops": llm_peak * 1e12,  # (H, C) per accelerator
        "device_bandwidth": bandwidth * 1e9,  # (H,) per accelerator
        "link_bytes_s": acc.interconnect_gb_s.to_numpy(float) * 1e9,  # (H,) per direction
        "accel_count": np.where(cpu, 0, hw.accel_count.fillna(0).to_numpy(float)),
        "device_mem_gb": hw.accel_mem_gb.fillna(0).to_numpy(float),
        "llm_only": (prec.get("model_kinds", "any") == "llm").to_numpy(bool),
        # a precision runs where the accelerator has a figure for its compute type (a
        # blank one: the hardware and its runtimes do not run it, e.g. int4 on Inferentia2)
        "runs": np.isfinite(peak),  # (H, C)
        "cpu": cpu,
        "peak_flops": peak * 1e12 * units[:, None],  # (H, C)
        "bandwidth": bandwidth * 1e9 * units,  # (H,) bytes/s
        "device_gb": hw.accel_mem_gb.fillna(0).to_numpy(float) * hw.accel_count.to_numpy(float),
        "host_gb": hw.memory_gib.to_numpy(float) * GIB_IN_GB,
        "quality_delta": prec.quality_delta_rel.to_numpy(float),
        "peak_flops_fp16": acc.peak_tflops_fp16.to_numpy(float) * 1e12 * units * compute_share,
        "measured_speedup": prec.measured_speedup_vs_fp16.to_numpy(float),  # (C,) NaN: none
    }


def _roofline_s(cost: CostModel, bsz, weight_bytes, peak_flops, ax) -> np.ndarray:
    """``max(b F / (peak eff), (W + b X) / (bw eff)) + overhead`` over (M, H, C, B), with
    the weight bytes W and the peak given broadcastable to those axes."""
    const, opts = cost.const, cost.scn.options
    eff = opts.roofline_efficiency
    flops = const.flops_per_request[:, None, None, None]
    read_bytes = const.bytes_read_per_request[:, None, None, None]
    t_compute = bsz * flops / (peak_flops * eff)
    t_memory = (weight_bytes + bsz * read_bytes) / (ax["bandwidth"][None, :, None, None] * eff)
    return np.maximum(t_compute, t_memory) + opts.overhead_ms / 1000.0


def _measured_speedup_cap(service_s, cost, ax, bsz) -> np.ndarray:
    """A precision with a measured speed-up over fp16 ``s`` (``precision.csv``) is no faster
    than the fp16 roofline divided by ``s``: ``t(c) >= t(fp16) / s(c)``. The roofline ratio
    of peak rates and bytes (2x for int8, 4x for int4) is what hardware promises; the
    measurements (1.63x int8 BERT-Large on L4, 2.28x int4 AWQ decode on A100) are what
    serving stacks deliver."""
    speedup = ax["measured_speedup"]
    if not np.any(np.isfinite(speedup)):
        return service_s
    fp16_bytes = 2.0 * cost.const.gb_per_param_byte[:, None, None, None] * 1e9
    t16 = _roofline_s(cost, bsz, fp16_bytes, ax["peak_flops_fp16"][None, :, None, None], ax)
    floor = t16 / np.where(np.isfinite(speedup), speedup, np.inf)[None, None, :, None]
    return np.maximum(service_s, floor)


def config_grid(cost: CostModel) -> Configs:
    """Batch sizes (options and profiles) for every model; with LLMs in the scenario also
    every (tensor-parallel degree, concurrent sequences) pair they may use."""
    sizes = set(cost.scn.options.batch_sizes)
    sizes |= {p.batch for m in cost.scn.models for p in m.profiles}
    rows = [(b, 1, False) for b in sorted(sizes)]
    degrees = sorted(
        {t for m in cost.scn.models if m.is_llm for t in (m.llm.tensor_parallel or TENSOR_PARALLEL)}
    )
    rows += [(b, t, True) for t in degrees for b in cost.scn.options.llm_concurrency]
    return Configs.of(*zip(*rows, strict=True))


def _apply_profiles(cost, log_b, throughput, service_s, bound, profiled) -> None:
    """Measured profiles replace the roofline, in place: per (model, instance, precision)
    throughput and latency interpolated linearly in log2(batch) between its measured
    batches (as ``np.interp``: at a batch measured twice, the later row), the p99 bound
    where every row of the group gives one, at the configurations inside its batch range."""
    space = cost.space
    points = [
        (
            i,
            space.instances.index(p.instance),
            space.precisions.index(p.precision),
            p.batch,
            p.throughput_qps,
            p.latency_ms,
            np.nan if p.p99_bound_ms is None else p.p99_bound_ms,
        )
        for i, model in enumerate(cost.scn.models)
        for p in model.profiles
        if p.instance in space.instances  # outside the scenario's regions or pricing model
    ]
    if not points:
        return
    i, h, c, batch, thr, lat, p99 = (np.array(col) for col in zip(*points, strict=True))
    cell = (i * len(space.instances) + h) * len(space.precisions) + c
    order = np.lexsort((batch, cell))  # stable: equal batches keep the file's order
    cell, x, thr, lat, p99 = cell[order], np.log2(batch[order]), thr[order], lat[order], p99[order]
    cells, first, size = np.unique(cell, return_index=True, return_counts=True)
    last = first + size - 1
    group = np.repeat(np.arange(len(cells)), size)
    key = group * 64.0 + x  # log2 of a batch is at most 16: groups never overlap
    g, b = np.nonzero((log_b[None, :] >= x[first][:, None]) & (log_b[None, :] <= x[last][:, None]))
    left = np.searchsorted(key, g * 64.0 + log_b[b], side="right") - 1
    right = np.minimum(left + 1, last[g])
    exact = x[left] == log_b[b]
    run = np.where(exact, 1.0, x[right] - x[left])

    def interp(y):
        slope = (y[right] - y[left]) / run
        return np.where(exact, y[left], slope * (log_b[b] - x[left]) + y[left])

    mi, hc = np.divmod(cells[g], len(space.instances) * len(space.precisions))
    hi, ci = np.divmod(hc, len(space.precisions))
    throughput[mi, hi, ci, b] = interp(thr)
    service_s[mi, hi, ci, b] = interp(lat) / 1000.0
    profiled[mi, hi, ci, b] = True
    lowest = np.minimum.reduceat(p99, first)  # NaN when a row of the group has no bound
    bound[mi, hi, ci, b] = lowest[g]


def performance(cost: CostModel, configs: Configs) -> Performance:
    """Throughput, service time and memory over (model, instance, precision, config)."""
    scn, space, const = cost.scn, cost.space, cost.const
    opts = scn.options
    ax = hardware_axes(cost)
    batches = configs.batch
    m, h, c, b = len(space.models), len(space.instances), len(space.precisions), len(configs)
    shape = (m, h, c, b)
    bsz = batches[None, None, None, :].astype(float)

    weights_gb = const.gb_per_param_byte[:, None] * cost.bytes_per[None, :]  # (M, C)
    service_s = _roofline_s(
        cost, bsz, weights_gb[:, None, :, None] * 1e9, ax["peak_flops"][None, :, :, None], ax
    )
    service_s = _measured_speedup_cap(service_s, cost, ax, bsz)
    throughput = bsz / service_s
    bound = np.full(shape, np.nan)
    profiled = np.zeros(shape, bool)
    has_profiles = np.array(
        [bool(mm.profiles) or (mm.is_llm and bool(mm.llm.profiles)) for mm in scn.models]
    )
    log_b = np.where(configs.llm, np.nan, np.log2(batches))
    _apply_profiles(cost, log_b, throughput, service_s, bound, profiled)

    device_gb, host_gb, fits = _memory(cost, ax, weights_gb, bsz)
    allowed = _allowed(cost, ax)
    is_llm = np.array([mm.is_llm for mm in scn.models])
    allowed = allowed[..., None] & (is_llm[:, None, None, None] == configs.llm)
    measured_only = has_profiles & (not opts.estimate_unprofiled)
    llm = llm_performance(cost, configs, ax)
    profiled |= llm["profiled"]
    llm_points = np.broadcast_to(is_llm[:, None, None, None] & configs.llm, shape)
    fits = np.where(llm_points, llm["fits"], fits)
    throughput = np.where(llm_points, llm["throughput"], throughput)
    service_s = np.where(llm_points, llm["service_s"], service_s)
    allowed &= ~llm_points | llm["supported"]
    reason = np.zeros(shape, np.int8)
    failures = {
        Reason.NOT_ALLOWED: ~allowed,
        Reason.NO_PROFILE: measured_only[:, None, None, None] & ~profiled,
        Reason.OUT_OF_MEMORY: ~fits,
        Reason.TOO_SLOW: llm["tpot_ms"] > llm["tpot_limit_ms"][:, None, None, None],
    }
    for code, failed in failures.items():
        reason[(reason == Reason.OK) & np.broadcast_to(failed, shape)] = code
    return Performance(
        configs,
        throughput,
        service_s * 1000.0,
        bound,
        reason,
        np.where(llm_points, llm["device_gb"], np.broadcast_to(device_gb, shape)),
        np.broadcast_to(host_gb, shape),
        cost.const.slo_ms,
        llm["ttft_limit_ms"],
        llm["ttft_ms"],
        llm["decode_ms"],
        llm["tpot_ms"],
        llm["slots"],
        llm["prefill_share"],
        profiled,
        llm["calibration"],
        Queueing.of(cost.scn),
        _slot_cs2(cost.scn),
    )


def _slot_cs2(scn) -> np.ndarray:
    """(M,) squared CV of an LLM request's time in its slot: its output length (the
    lognormal through the stated mean and percentile) times the service noise
    (``service_cv``), ``(1 + cv_t^2)(1 + cv_n^2) - 1``, at least 1 (the M/M/c wait the
    slot queue assumed; a heavier tail lengthens it). 1 off LLMs."""
    noise = 1.0 + scn.options.service_cv**2
    return np.array(
        [
            max(1.0, math.exp(m.llm.output_tokens.log_sigma**2) * noise - 1.0) if m.is_llm else 1.0
            for m in scn.models
        ]
    )


def _memory(cost: CostModel, ax: dict, weights_gb: np.ndarray, bsz: np.ndarray):
    """(device GB, host GB, fits) over (model, instance, precision, config): dense weights
    and activations on the accelerators, the embedding tables' part that does not fit there
    in host RAM (CPU instances hold all in RAM), plus the host reserve."""
    const, opts = cost.const, cost.scn.options
    usable = opts.memory_usable_fraction
    ckpt_bytes = cost.bytes_per[const.checkpoint_precision]
    emb_gb = np.minimum(
        const.embedding_gb[:, None] * cost.bytes_per[None, :] / ckpt_bytes[:, None],
        weights_gb,
    )  # (M, C)
    act_gb = bsz * const.bytes_read_per_request[:, None, None, None] / 1e9
    dense = (weights_gb - emb_gb)[:, None, :, None] + act_gb
    device = ax["device_gb"][None, :, None, None] * usable
    emb_off = np.maximum(emb_gb[:, None, :, None] - np.maximum(device - dense, 0.0), 0.0)
    cpu = ax["cpu"][None, :, None, None]
    device_gb = np.where(cpu, 0.0, dense + emb_gb[:, None, :, None] - emb_off)
    host_gb = np.where(cpu, weights_gb[:, None, :, None] + act_gb, emb_off) + opts.host_reserve_gb
    fits = np.where(cpu, True, dense <= device) & (
        host_gb <= ax["host_gb"][None, :, None, None] * usable
    )
    return device_gb, host_gb, fits


def _allowed(cost: CostModel, ax: dict) -> np.ndarray:
    """(model, instance, precision): the instances and precisions each model may use (its
    own lists, else every one but the LLM-only precisions for other models), among the
    precisions each instance's accelerator runs (``runs``)."""
    space = cost.space
    instances, precisions = space.instances, space.precisions
    allowed = np.ones((len(space.models), len(instances), len(precisions)), bool)
    for i, model in enumerate(cost.scn.models):
        if model.allowed_instances is not None:
            allowed[i] = False
            allowed[i, [instances.index(n) for n in model.allowed_instances if n in instances]] = (
                True
            )
        if model.allowed_precisions is not None:
            keep = np.zeros(len(precisions), bool)
            keep[[precisions.index(p) for p in model.allowed_precisions if p in precisions]] = True
            allowed[i, :, ~keep] = False
        elif not model.is_llm:
            allowed[i, :, ax["llm_only"]] = False
    return allowed & ax["runs"][None, :, :]


def cold_start_seconds(
    cost: CostModel,
    model: np.ndarray,
    precision: np.ndarray,
    tier: np.ndarray,
    compression: np.ndarray,
) -> np.ndarray:
    """Seconds to bring a new replica up: image pull + runtime start (``options``, ESTIMATE
    defaults) + the artifact's first byte + transfer at the tier's read rate +
    decompression (indices into the model, precision, tier and compression axes)."""
    cat = cost.scn.resolved_catalog
    storage = cat.storage.loc[list(cost.space.tiers)]
    comp = cat.compression.loc[list(cost.space.compressions)]
    decompress = np.nan_to_num(comp.decompress_mb_s.to_numpy(float), nan=np.inf)
    gb = cost.const.gb_per_param_byte[model] * cost.bytes_per[precision]
    opts = cost.scn.options
    return (
        opts.image_pull_s
        + opts.runtime_init_s
        + storage.first_byte_s.fillna(0).to_numpy(float)[tier]
        + gb
        * cost.size_factor[precision, compression]
        * MB_PER_GB
        / storage.read_mb_s.to_numpy(float)[tier]
        + gb * MB_PER_GB / decompress[compression]
    )
