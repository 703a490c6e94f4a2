"""An LLM's figures per (instance, precision, configuration): its engines' prefill and
decode in tokens (``options.llm``), calibrated to measured serving profiles where the
scenario or the catalog gives them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from deploycost.cost.model import CostModel
from deploycost.options.llm import (
    TENSOR_PARALLEL,
    engine_times,
    fits_memory,
    kv_bytes_per_element,
)
from deploycost.scenario.architecture import architecture_of

if TYPE_CHECKING:
    from deploycost.options.performance import Configs


def _engine(cost: CostModel, ax: dict, arch, h, c, tp, seqs, tokens_in, tokens_out, hit):
    """``engine_times`` on instance(s) ``h`` at precision(s) ``c`` (index arrays that
    broadcast with ``tp``, ``seqs`` and the token counts)."""
    opts = cost.scn.options
    kv_elem = np.array(
        [
            kv_bytes_per_element(p, float(cost.bytes_per[j]))
            for j, p in enumerate(cost.space.precisions)
        ]
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        return engine_times(
            arch,
            weight_bytes_per_param=cost.bytes_per[c],
            kv_bytes_per_element=kv_elem[c],
            peak_flops=ax["llm_device_flops"][h, c],
            bandwidth=ax["device_bandwidth"][h],
            link_bytes_s=np.nan_to_num(ax["link_bytes_s"][h], nan=1.0),
            tp=tp,
            concurrency=seqs,
            input_tokens=tokens_in,
            output_tokens=tokens_out,
            prefix_hit=hit,
            compute_efficiency=opts.llm_compute_efficiency,
            memory_efficiency=opts.llm_memory_efficiency,
            step_overhead_s=opts.llm_step_overhead_ms / 1000.0,
            allreduce_latency_s=opts.llm_allreduce_latency_us / 1e6,
        )


@dataclass(frozen=True)
class Calibration:
    """Measured token profiles of one (model, instance, precision, tensor_parallel): the
    factors that scale the estimate onto them, and how well one factor fits them all."""

    time_scale: float  # engine time (inverse throughput): measured / estimated
    tpot_scale: float
    ttft_scale: float
    points: int
    residual: float  # RMS relative misfit of the throughput over the points (0: exact)


def calibrate(cost: CostModel, ax: dict, arch, h: int, c: int, tp: int, rows) -> Calibration:
    """Least squares in log space of each measured figure against the estimate at the
    profile's own concurrency and token lengths (one point: reproduced exactly)."""
    seqs = np.array([float(p.concurrency) for p in rows])
    t_in = np.array([p.input_tokens for p in rows])
    t_out = np.array([p.output_tokens for p in rows])
    est = _engine(cost, ax, arch, h, c, float(tp), seqs, t_in, t_out, 0.0)
    measured = np.array([p.output_tokens_per_s for p in rows])
    log_ratio = np.log(est.throughput_rps * t_out / measured)  # time scale per point
    time_scale = float(np.exp(log_ratio.mean()))
    residual = float(np.sqrt(np.mean((log_ratio - log_ratio.mean()) ** 2)))

    def scale(values: list, estimate: np.ndarray) -> float:
        given = np.array([v is not None for v in values])
        if not given.any():
            return time_scale
        ratio = np.array([v for v in values if v is not None]) / (estimate[given] * 1000.0)
        return float(np.exp(np.log(ratio).mean()))

    return Calibration(
        time_scale,
        scale([p.tpot_ms for p in rows], np.broadcast_to(est.tpot_s, seqs.shape)),
        scale([p.ttft_ms for p in rows], np.broadcast_to(est.ttft_s, seqs.shape)),
        len(rows),
        float(np.expm1(residual)),
    )


def _calibrated(cost: CostModel, ax: dict, arch, i: int, degrees: np.ndarray, found: dict):
    """(scales, profiled) of model i's engines over (instance, precision, LLM config of
    tensor-parallel degree ``degrees``): time, TPOT and TTFT factors from its measured
    profiles (1 where none), and where a profile calibrated them; each fit is recorded in
    ``found`` under (model, instance, precision, degree)."""
    space = cost.space
    shape = (len(space.instances), len(space.precisions), len(degrees))
    scales = {name: np.ones(shape) for name in ("time", "tpot", "ttft")}
    profiled = np.zeros(shape, bool)
    groups: dict[tuple[int, int, int], list] = {}
    for p in cost.scn.models[i].llm.profiles:
        if p.instance in space.instances and p.precision in space.precisions:
            key = (space.instances.index(p.instance), space.precisions.index(p.precision))
            groups.setdefault((*key, p.tensor_parallel), []).append(p)
    for (hi, ci, degree), rows in groups.items():
        fit = calibrate(cost, ax, arch, hi, ci, degree, rows)
        on = degrees == degree
        scales["time"][hi, ci, on] = fit.time_scale
        scales["tpot"][hi, ci, on] = fit.tpot_scale
        scales["ttft"][hi, ci, on] = fit.ttft_scale
        profiled[hi, ci, on] = True
        found[(i, hi, ci, degree)] = fit
    return scales, profiled


def _no_llm(shape: tuple[int, int, int, int]) -> dict:
    """The figures where no LLM runs: NaN times, one slot, fitting, unsupported."""
    out: dict = {
        name: np.full(shape, np.nan)
        for name in (
            "throughput",
            "service_s",
            "ttft_ms",
            "decode_ms",
            "tpot_ms",
            "device_gb",
            "prefill_share",
        )
    }
    out["slots"] = np.ones(shape)
    out["fits"] = np.ones(shape, bool)
    out["supported"] = np.zeros(shape, bool)
    out["profiled"] = np.zeros(shape, bool)
    out["ttft_limit_ms"] = np.full(shape[0], np.inf)
    out["tpot_limit_ms"] = np.full(shape[0], np.inf)
    out["calibration"] = {}
    return out


def llm_performance(cost: CostModel, configs: Configs, ax: dict) -> dict:
    """Per-instance figures of every LLM model over (instance, precision, LLM config): an
    instance runs ``accelerators // tp`` engines (``deploycost.options.llm``); measured
    token profiles calibrate their (instance, precision, tensor_parallel)."""
    scn, space, opts = cost.scn, cost.space, cost.scn.options
    shape = (len(space.models), len(space.instances), len(space.precisions), len(configs))
    out = _no_llm(shape)
    if not configs.llm.any():
        return out
    k = np.nonzero(configs.llm)[0]
    tp = configs.tp[k].astype(float)[None, None, :]  # (1, 1, K)
    seqs = configs.batch[k].astype(float)[None, None, :]
    engines = np.floor(ax["accel_count"][:, None, None] / tp)
    h_all = np.arange(len(space.instances))[:, None, None]
    c_all = np.arange(len(space.precisions))[None, :, None]
    flops = ax["llm_device_flops"][:, :, None]
    link = ax["link_bytes_s"][:, None, None]
    supported = (engines >= 1) & np.isfinite(flops) & ((tp == 1) | np.isfinite(link))
    mem = ax["device_mem_gb"][:, None, None]
    for i, model in enumerate(scn.models):
        if not model.is_llm:
            continue
        spec = model.llm
        arch = architecture_of(model, scn.resolved_catalog)
        tokens_in, tokens_out = spec.input_tokens.mean, spec.output_tokens.mean
        times = _engine(
            cost,
            ax,
            arch,
            h_all,
            c_all,
            tp,
            seqs,
            tokens_in,
            tokens_out,
            spec.prefix_cache_hit_rate,
        )
        scales, profiled = _calibrated(cost, ax, arch, i, configs.tp[k], out["calibration"])
        weights_gb = arch.total * cost.bytes_per[None, :, None] / tp / 1e9  # per accelerator
        fits = fits_memory(
            weights_gb,
            times.device_gb - weights_gb,
            mem,
            opts.memory_usable_fraction,
            opts.kv_cache_memory_fraction,
        )
        tpot = times.tpot_s * scales["tpot"]
        ttft = times.ttft_s * scales["ttft"]
        decode_ms = (spec.output_tokens.tail - 1.0) * tpot * 1000.0
        figures = {
            "throughput": np.where(
                engines >= 1, engines * times.throughput_rps / scales["time"], np.nan
            ),
            "service_s": ttft + decode_ms / 1000.0,
            "ttft_ms": ttft * 1000.0,
            "decode_ms": decode_ms,
            "tpot_ms": tpot * 1000.0,
            "device_gb": engines * tp * times.device_gb,
            "slots": np.maximum(engines * seqs, 1.0),
            "prefill_share": seqs
            * times.prefill_s
            / (seqs * times.prefill_s + tokens_out * times.step_s),
            "fits": fits,
            "supported": supported & np.isin(tp, spec.tensor_parallel or TENSOR_PARALLEL),
            "profiled": profiled,
        }
        for name, values in figures.items():
            out[name][i][..., k] = np.broadcast_to(values, shape[1:3] + (len(k),))
        out["ttft_limit_ms"][i] = spec.ttft_p99_ms if spec.ttft_p99_ms is not None else np.inf
        out["tpot_limit_ms"][i] = spec.tpot_p99_ms if spec.tpot_p99_ms is not None else np.inf
    return out
