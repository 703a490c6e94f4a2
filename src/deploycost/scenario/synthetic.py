"""Seeded synthetic scenarios, for cross-checking backends and for benchmarks.

``random_scenario(seed, models=3)`` returns a scenario mapping (validate it with
``validate_scenario``) drawn from the shipped AWS us-east-1 catalog: roofline models of
random size, SLOs, traffic shares and stages; fusion configurations over random subsets;
and, at random, a quality floor, an end-to-end latency limit, a quota and a budget.
``small=True`` keeps every axis short enough for the exhaustive backend.
"""

from __future__ import annotations

import numpy as np

POOL = (
    "c7i.2xlarge",
    "c7i.4xlarge",
    "c7i.12xlarge",
    "g4dn.xlarge",
    "g5.xlarge",
    "g6.xlarge",
    "g6.2xlarge",
    "inf2.xlarge",
    "g6.12xlarge",
    "p5.4xlarge",
)


def random_scenario(
    seed: int, models: int = 3, instances: int = 3, small: bool = True, stages: int | None = None
) -> dict:
    rng = np.random.default_rng(seed)
    names = [f"m{j}" for j in range(models)]
    # the draws in a fixed order: the same seed gives the same scenario
    specs = _random_models(rng, names, stages or models, instances)
    fusion = _random_fusion(rng, names)
    constraints = _random_constraints(rng)
    sources = _random_sources(rng)
    return {
        "name": f"synthetic-{seed}",
        "currency": "USD",
        "workload": {
            "queries_per_day": round(float(np.exp(rng.uniform(np.log(1e5), np.log(5e7)))), 1),
            "peak_to_mean": round(float(rng.uniform(1.5, 5)), 3),
        },
        "models": specs,
        "model_storage_tiers": ["s3-standard", "s3-standard-ia"],
        "data_sources": sources,
        "people": {
            "roles": {"eng": {"day_rate": round(float(rng.uniform(300, 600)), 2)}},
            "automation_levels": [
                {"name": "manual"},
                {
                    "name": "auto",
                    "fixed_cost_per_month": round(float(rng.uniform(100, 3000)), 2),
                    "person_day_multiplier": round(float(rng.uniform(0.3, 0.9)), 3),
                },
            ],
        },
        "fusion": fusion,
        "constraints": constraints,
        "catalog": {"regions": ["us-east-1"]},
        "options": {
            "batch_sizes": [1, 4, 16] if small else [1, 2, 4, 8, 16, 32],
            "extra_replicas": 1 if small else 2,
            "backups": [0] if small else [0, 1],
            "file_compressions": ["none", "zstd"] if small else ["none", "lz4", "zstd"],
        },
    }


def _random_models(rng, names: list[str], stage_count: int, instances: int) -> list[dict]:
    specs = []
    for j, name in enumerate(names):
        params = float(np.exp(rng.uniform(np.log(5), np.log(800))))
        specs.append(
            {
                "name": name,
                "params_million": round(params, 3),
                "mb_per_query": round(float(rng.uniform(0.5, 40)), 3),
                "latency_slo_ms": round(float(rng.uniform(5, 200)), 3),
                "quality": round(float(rng.uniform(0.7, 0.95)), 4),
                "traffic_share": round(float(rng.uniform(0.2, 1.0)), 3),
                "stage": f"s{j % stage_count}",
                "min_replicas": int(rng.integers(1, 3)),
                "maintenance_person_days_per_month": round(float(rng.uniform(0, 4)), 3),
                "retrains_per_month": round(float(rng.uniform(0, 4)), 3),
                "versions_kept": int(rng.integers(1, 4)),
                "allowed_instances": sorted(
                    rng.choice(POOL, size=instances, replace=False).tolist()
                ),
                "allowed_precisions": sorted(
                    rng.choice(["fp32", "fp16", "int8"], size=2, replace=False).tolist()
                ),
            }
        )
    return specs


def _random_fusion(rng, names: list[str]) -> list[dict]:
    fusion = [
        {
            "name": "all",
            "members": names,
            "method": "cascade",
            "quality": round(float(rng.uniform(0.8, 0.95)), 4),
            "complexity": round(float(rng.uniform(0, 1)), 3),
            "unit_cost_per_day": round(float(rng.uniform(0, 50)), 2),
        }
    ]
    for k in range(int(rng.integers(0, 3))):
        size = int(rng.integers(1, len(names) + 1))
        members = sorted(rng.choice(names, size=size, replace=False).tolist())
        fusion.append(
            {
                "name": f"subset{k}",
                "members": members,
                "method": "single" if size == 1 else "average",
                "quality": round(float(rng.uniform(0.7, 0.9)), 4),
            }
        )
    return fusion


def _random_constraints(rng) -> dict:
    constraints: dict = {"utilisation_max": round(float(rng.uniform(0.6, 0.9)), 3)}
    if rng.random() < 0.5:
        constraints["quality_floor"] = round(float(rng.uniform(0.65, 0.85)), 4)
    if rng.random() < 0.5:
        constraints["e2e_latency_ms"] = round(float(rng.uniform(30, 400)), 3)
    if rng.random() < 0.3:
        constraints["quotas"] = {str(rng.choice(POOL)): int(rng.integers(2, 40))}
    if rng.random() < 0.2:
        constraints["budget_per_day"] = round(float(rng.uniform(500, 5000)), 2)
    return constraints


def _random_sources(rng) -> list[dict]:
    return [
        {
            "name": f"d{k}",
            "gb_per_day": round(float(rng.uniform(1, 500)), 3),
            "acquisition_price_per_gb": round(float(rng.uniform(0, 0.05)), 4),
            "retention_days": int(rng.integers(7, 200)),
            "read_gb_per_day": round(float(rng.uniform(0, 100)), 3),
            "storage_tiers": ["s3-standard", "s3-standard-ia", "s3-glacier-instant"],
        }
        for k in range(int(rng.integers(0, 3)))
    ]


def random_fleet_scenario(seed: int, models: int = 50, pool_size: int = 5) -> dict:
    """A fleet scenario at scale: ``models`` roofline models, each allowed on every
    us-east-1 instance type, every ``pool_size`` consecutive models sharing a pool, three
    purchase plans, 24 hours with autoscaling and two day types (a normal and a festival
    peak), a cap of two types per model. Only the quality floor of ``random_scenario``'s
    limits is kept (an end-to-end limit would add a binary per mode)."""
    raw = random_scenario(seed, models=models, small=False)
    rng = np.random.default_rng(50_000 + seed)
    for j, spec in enumerate(raw["models"]):
        spec.pop("allowed_instances")
        spec["pool"] = f"pool{j // pool_size}"
        spec["latency_slo_ms"] = round(float(rng.uniform(20, 300)), 3)
    raw["constraints"].pop("e2e_latency_ms", None)
    raw["constraints"].pop("budget_per_day", None)
    raw["constraints"].pop("quotas", None)
    raw["fusion"] = raw["fusion"][:1]
    profile = [2, 1.5, 1, 1, 1, 1.5, 2.5, 3.5, 4.5, 5, 5, 5.5]
    profile += [6, 5.5, 5, 5, 5, 5.5, 6, 6.5, 7, 7, 5.5, 3.5]
    mean = raw["workload"]["queries_per_day"] / 86400.0
    raw["workload"]["day_types"] = [
        {"name": "normal", "days": 350, "peak_qps": round(mean * 2, 3), "hourly_profile": profile},
        {"name": "festival", "days": 15, "peak_qps": round(mean * 6, 3), "hourly_profile": profile},
    ]
    raw["workload"]["peak_qps"] = round(mean * 6, 3)
    raw["options"] |= {"autoscale": True, "estimate_unprofiled": True}
    raw["fleet"] = {
        "plans": ["on_demand", "reserved_1yr", "spot"],
        "spot_interruption_fraction": 0.3,
        "scale_up_lag_min": 10,
        "max_types_per_model": 2,
    }
    return raw


LLM_ARCHITECTURES = (
    "GPT-J-6B",
    "Llama-2-7B",
    "Mistral-7B-v0.1",
    "Qwen2.5-7B-Instruct",
    "Llama-3.1-8B",
    "Llama-2-13B",
)
LLM_POOL = ("g5.xlarge", "g5.12xlarge", "g6.xlarge", "g6.12xlarge", "p5.4xlarge", "inf2.xlarge")


def random_llm_scenario(seed: int) -> dict:
    """``random_scenario(seed, models=2)`` with its first model made an LLM: a catalog
    architecture, token counts, TTFT / TPOT limits, a few GPU types and precisions, tensor
    parallel degrees and concurrencies; small enough for the exhaustive backend."""
    rng = np.random.default_rng(10_000 + seed)
    raw = random_scenario(seed, models=2)
    first = raw["models"][0]
    for key in ("params_million", "mb_per_query", "latency_slo_ms"):
        first.pop(key)
    first["kind"] = "llm"
    tokens_in = float(np.exp(rng.uniform(np.log(50), np.log(2000))))
    tokens_out = float(np.exp(rng.uniform(np.log(20), np.log(500))))
    first["llm"] = {
        "architecture": str(rng.choice(LLM_ARCHITECTURES)),
        "input_tokens": {"mean": round(tokens_in, 1)},
        "output_tokens": {"mean": round(tokens_out, 1), "p99": round(tokens_out * 2.5, 1)},
        "prefix_cache_hit_rate": round(float(rng.uniform(0, 0.5)), 3),
        "ttft_p99_ms": round(float(rng.uniform(200, 3000)), 1),
        "tpot_p99_ms": round(float(rng.uniform(15, 120)), 2),
        "tensor_parallel": [1, int(rng.choice([2, 4]))],
    }
    first["allowed_instances"] = sorted(rng.choice(LLM_POOL, size=3, replace=False).tolist())
    first["allowed_precisions"] = sorted(
        rng.choice(["fp16", "fp8", "int8", "int4"], size=2, replace=False).tolist()
    )
    raw["workload"]["queries_per_day"] = round(float(rng.uniform(2e4, 2e6)), 1)
    raw["constraints"].pop("e2e_latency_ms", None)
    if rng.random() < 0.3:
        raw["constraints"]["e2e_latency_ms"] = round(float(rng.uniform(5_000, 60_000)), 1)
    raw["options"]["llm_concurrency"] = [4, 16, 64]
    return raw
