"""The LLM estimate against published throughput (``tests/data/llm_published.csv``).

Each row is a TensorRT-LLM measurement at fixed input/output lengths: the 0.9 static-batch
table (batch stated) and the 0.17 maximum-throughput table (batch chosen by the engine; the
estimate takes the best concurrency that fits in memory, as the engine's tuning does).
The estimate uses the shipped catalog (accelerator figures, architectures) and the
default ``OptionSettings``. ``python -m tests.llm_published`` prints the table.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from deploycost.catalog import load_catalog
from deploycost.options.llm import engine_times, fits_memory, kv_bytes_per_element
from deploycost.scenario.architecture import Architecture
from deploycost.scenario.schema import OptionSettings

TABLE = Path(__file__).parent / "data" / "llm_published.csv"
CONCURRENCY = 2.0 ** np.arange(0, 13)  # 1 .. 4096 sequences: the engines' tuning range


def architecture(name: str) -> Architecture:
    row = load_catalog().llm_architectures.loc[name]
    active = row.params_active
    return Architecture(
        int(row.layers),
        int(row.hidden),
        int(row.heads),
        int(row.kv_heads),
        int(row.head_dim),
        int(row.vocab),
        int(row.intermediate),
        int(row.experts),
        int(row.experts_per_token),
        float(row.params_total),
        None if active != active else float(active),
        int(row.ffn_matrices),
    )


def estimate(row, opts: OptionSettings | None = None) -> tuple[float, int]:
    """(output tokens/s per accelerator, concurrency) the estimate gives for ``row``."""
    opts = opts or OptionSettings()
    cat = load_catalog()
    acc = cat.accelerators.loc[row.accelerator]
    prec = cat.precision.loc[row.precision]
    peak = acc.peak_tflops_fp8 if row.precision == "fp8" else acc.peak_tflops_fp16
    arch = architecture(row.model)
    seqs = CONCURRENCY if pd.isna(row.concurrency) else np.array([float(row.concurrency)])
    tp = float(row.tensor_parallel)
    times = engine_times(
        arch,
        weight_bytes_per_param=float(prec.bytes_per_param),
        kv_bytes_per_element=kv_bytes_per_element(row.precision, float(prec.bytes_per_param)),
        peak_flops=float(peak) * 1e12,
        bandwidth=float(acc.mem_bw_gb_s) * 1e9,
        link_bytes_s=float(acc.interconnect_gb_s) * 1e9,
        tp=tp,
        concurrency=seqs,
        input_tokens=float(row.input_tokens),
        output_tokens=float(row.output_tokens),
        prefix_hit=0.0,
        compute_efficiency=opts.llm_compute_efficiency,
        memory_efficiency=opts.llm_memory_efficiency,
        step_overhead_s=opts.llm_step_overhead_ms / 1000.0,
        allreduce_latency_s=opts.llm_allreduce_latency_us / 1e6,
    )
    weights = arch.total * float(prec.bytes_per_param) / tp / 1e9
    ok = fits_memory(
        weights,
        times.device_gb - weights,
        float(acc.mem_gb),
        opts.memory_usable_fraction,
        opts.kv_cache_memory_fraction,
    )
    if not pd.isna(row.concurrency):
        ok = np.ones_like(ok)  # the engine ran this batch: take it as given
    per_accel = np.where(ok, times.throughput_rps * row.output_tokens / tp, 0.0)
    best = int(np.argmax(per_accel))
    return float(per_accel[best]), int(seqs[best])


def comparison() -> pd.DataFrame:
    table = pd.read_csv(TABLE)
    figures = [estimate(r) for r in table.itertuples()]
    table["estimate"] = [f[0] for f in figures]
    table["estimate_concurrency"] = [f[1] for f in figures]
    table["ratio"] = table.estimate / table.output_tokens_per_s_per_accel
    return table


if __name__ == "__main__":
    t = comparison()
    pd.set_option("display.width", 200)
    cols = [
        "model",
        "accelerator",
        "precision",
        "tensor_parallel",
        "concurrency",
        "input_tokens",
        "output_tokens",
        "output_tokens_per_s_per_accel",
        "estimate",
        "ratio",
    ]
    print(t[cols].to_string(index=False, float_format=lambda v: f"{v:,.2f}"))
    print(
        f"{len(t)} rows: ratio min {t.ratio.min():.2f}, median {t.ratio.median():.2f}, "
        f"max {t.ratio.max():.2f}; above 1 (optimistic) in {int((t.ratio > 1).sum())}"
    )
