"""LLM serving in tokens: architecture figures and one engine's prefill/decode performance.

An *engine* is one copy of the model sharded over ``tp`` accelerators of one instance
(tensor parallelism); an instance with ``A`` accelerators runs ``A // tp`` engines. Each
engine serves up to ``b`` sequences at once with continuous batching.

Architecture (per token; ``P`` parameters, ``Pa`` active per token for MoE, ``L`` layers,
``d`` model width, ``q = heads x head_dim``, ``kv`` KV heads):

* KV cache bytes per token ``2 L kv head_dim s_kv`` (keys and values; ``s_kv`` bytes per
  element: 1 at fp8, 4 at fp32, else 2: int8/int4 are weight-only and keep a 16-bit cache);
* FLOPs: ``2 Pa`` per token for the matrix products, plus attention ``4 L q ctx`` for a
  token attending to ``ctx`` positions; a prompt of ``n`` tokens costs
  ``2 Pa n + 2 L q n^2`` (causal: half of ``4 L q n^2``).

Engine time (peaks and bandwidths are the ``tp`` devices' sums times the efficiencies
``e_c`` (compute) and ``e_m`` (memory); ``s_w`` the weight bytes per parameter):

* decode step with ``b`` sequences at mean context ``c = n_in + n_out / 2``:
  ``t_step = max(b (2 Pa + 4 L q c) / (tp peak e_c), (W_read(b) + b c K) / (tp bw e_m))
  + 2 L t_ar(b d s_a) + overhead`` with ``K`` the KV bytes per token, ``W_read`` the weight
  bytes one step streams (MoE: the dense part plus the experts ``b`` tokens touch,
  ``1 - (1 - k/E)^b`` of them) and ``t_ar(m) = alpha + 2 (tp - 1)/tp m / link`` a ring
  all-reduce of ``m`` bytes (two per layer; none at ``tp = 1``);
* prefill of the ``n_p = n_in (1 - hit)`` uncached prompt tokens, run inside the decode
  steps (chunked / in-flight batching): its compute ``t_pc = F(n_p) / (tp peak e_c)`` is
  added work, the weights are already streamed by the step;
* throughput ``b / (b t_pc + n_out t_step)`` requests/s: per request one prefill and
  ``n_out / b`` of the ``n_out`` steps it shares with ``b - 1`` others;
* TPOT ``t_step + b t_pc / n_out`` (the step plus the prefills of the sequences that join
  while this one decodes, ``b / n_out`` per step on average);
* TTFT before queueing ``max(F(n_p) / (tp peak e_c), W / (tp bw e_m)) + t_step``;
* memory per device ``(W + b (n_in + n_out) K) / tp``: every sequence keeps its full final
  length of cache (paged caches allocate as they go; this is the reservation at the end).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from deploycost.scenario.architecture import Architecture

ACTIVATION_BYTES = 2.0  # 16-bit activations exchanged by the all-reduce
TENSOR_PARALLEL = (1, 2, 4, 8)


def kv_bytes_per_element(precision: str, bytes_per_param: float) -> float:
    """KV-cache bytes per element: fp8 caches in 8 bits, fp32 in 32, the rest in 16
    (int8 / int4 LLM weights are weight-only quantisation: activations and cache stay 16-bit)."""
    if precision == "fp8":
        return 1.0
    return 4.0 if bytes_per_param >= 4 else 2.0


@dataclass(frozen=True)
class EngineTimes:
    """One engine's figures, arrays broadcast over the inputs of ``engine_times``."""

    prefill_s: np.ndarray  # prefill compute added per request (t_pc)
    step_s: np.ndarray  # one decode step with b sequences
    throughput_rps: np.ndarray  # requests/s of one engine
    tpot_s: np.ndarray
    ttft_s: np.ndarray  # before queueing
    device_gb: np.ndarray  # memory per accelerator


def engine_times(
    arch: Architecture,
    *,
    weight_bytes_per_param: np.ndarray,
    kv_bytes_per_element: np.ndarray,
    peak_flops: np.ndarray,
    bandwidth: np.ndarray,
    link_bytes_s: np.ndarray,
    tp: np.ndarray,
    concurrency: np.ndarray,
    input_tokens: float,
    output_tokens: float,
    prefix_hit: float,
    compute_efficiency: float,
    memory_efficiency: float,
    step_overhead_s: float,
    allreduce_latency_s: float,
) -> EngineTimes:
    """Prefill, decode step, throughput, TPOT, TTFT and memory of one engine (see the module
    docstring); device figures are per accelerator, all arrays broadcast together."""
    tp = np.asarray(tp, float)
    b = np.asarray(concurrency, float)
    compute = tp * np.asarray(peak_flops, float) * compute_efficiency
    memory = tp * np.asarray(bandwidth, float) * memory_efficiency
    weights = arch.total * np.asarray(weight_bytes_per_param, float)
    kv = arch.kv_bytes_per_token(np.asarray(kv_bytes_per_element, float))
    context = input_tokens + output_tokens / 2.0
    prompt = input_tokens * (1.0 - prefix_hit)

    experts = arch.expert_params() * np.asarray(weight_bytes_per_param, float)
    touched = 1.0 - (1.0 - arch.experts_per_token / max(arch.experts, 1)) ** b if arch.moe else 1.0
    weights_read = weights - experts + experts * touched

    with np.errstate(divide="ignore", invalid="ignore"):
        ring = np.where(tp > 1, 2.0 * (tp - 1.0) / tp / np.asarray(link_bytes_s, float), 0.0)
        allreduce_latency = np.where(tp > 1, 2.0 * arch.layers * allreduce_latency_s, 0.0)

        def exchange_bytes_s(tokens: np.ndarray) -> np.ndarray:
            """Seconds the two all-reduces per layer spend moving ``tokens`` activations."""
            return 2.0 * arch.layers * tokens * arch.hidden * ACTIVATION_BYTES * ring

        step = (
            np.maximum(
                b * arch.decode_flops_per_token(context) / compute,
                (weights_read + b * context * kv) / memory,
            )
            + allreduce_latency
            + exchange_bytes_s(b)
            + step_overhead_s
        )
        prefill_flops_s = arch.prefill_flops(prompt) / compute
        # the prompt's all-reduces ride in the decode steps' exchanges: bytes, no latency
        prefill_compute = prefill_flops_s + exchange_bytes_s(prompt)
        throughput = b / (b * prefill_compute + output_tokens * step)
        tpot = step + b * prefill_compute / output_tokens
        ttft = np.maximum(prefill_flops_s, weights / memory) + step
        device = (weights + b * (input_tokens + output_tokens) * kv) / tp / 1e9
    return EngineTimes(prefill_compute, step, throughput, tpot, ttft, device)


def fits_memory(
    weights_gb: np.ndarray,
    kv_gb: np.ndarray,
    device_gb: np.ndarray,
    usable_fraction: float,
    kv_fraction: float,
) -> np.ndarray:
    """Per accelerator: the weight shard fits in ``usable_fraction`` of memory and the KV
    cache in ``kv_fraction`` of what the weights leave (how vLLM / TensorRT-LLM size the
    cache: a fraction of the free memory after loading the model)."""
    return (weights_gb <= device_gb * usable_fraction) & (
        kv_gb <= kv_fraction * (device_gb - weights_gb)
    )
