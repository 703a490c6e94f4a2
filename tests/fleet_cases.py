"""Small fleet scenarios built from round numbers: custom CPU instance types whose prices per
plan are given, models with measured capacity profiles (a measured p99 bound, so an
instance carries ``utilisation_max x throughput`` requests/s at the SLO), artifacts stored
for free, no data, no people costs: the cost per day is the instances alone."""

from __future__ import annotations

import copy

FREE_TIER = {
    "tier": "free",
    "currency": "USD",
    "price_per_gb_month": 0.0,
    "retrieval_per_gb": 0.0,
    "read_mb_s": 1000,
}


def box(
    name: str, on_demand=None, reserved=None, spot=None, memory_gib: float = 64, reserved_3yr=None
) -> dict:
    row = {
        "name": name,
        "compute_class": "cpu",
        "accelerator": "xeon-spr-vcpu",
        "accel_count": 0,
        "vcpus": 8,
        "memory_gib": memory_gib,
        "currency": "USD",
        "price_on_demand_per_hour": on_demand,
        "price_reserved_1yr_per_hour": reserved,
        "price_reserved_3yr_per_hour": reserved_3yr,
        "price_spot_per_hour": spot,
    }
    return {k: v for k, v in row.items() if v is not None}


def model(name: str, capacity: dict[str, float], size_gb: float = 1.0, **extra) -> dict:
    """A model with a measured capacity of ``capacity[box]`` requests/s on each box."""
    profiles = [
        {
            "instance": inst,
            "precision": "fp32",
            "batch": 1,
            "throughput_qps": qps,
            "latency_ms": 10.0,
            "p99_bound_ms": 10.0,
        }
        for inst, qps in capacity.items()
    ]
    return {
        "name": name,
        "size_gb": size_gb,
        "retrains_per_month": 0,
        "latency_slo_ms": 50,
        "allowed_precisions": ["fp32"],
        "profiles": profiles,
        **extra,
    }


def fleet_scenario(
    models: list[dict],
    boxes: list[dict],
    peak_qps: float,
    fleet: dict | None = None,
    day_types: list[dict] | None = None,
    autoscale: bool = False,
    **extra,
) -> dict:
    raw = {
        "name": "fleet-case",
        "currency": "USD",
        "workload": {"queries_per_day": peak_qps * 3600, "peak_qps": peak_qps},
        "models": models,
        "model_storage_tiers": ["free"],
        "fusion": [{"name": "all", "members": [m["name"] for m in models], "method": "average"}],
        "constraints": {"utilisation_max": 1.0},
        "catalog": {
            "calibration_instance": boxes[0]["name"],
            "hardware": boxes,
            "storage": [FREE_TIER],
        },
        "options": {"autoscale": autoscale, "backups": [0], "file_compressions": ["none"]},
        "fleet": fleet or {"plans": ["on_demand"]},
    }
    if day_types is not None:
        raw["workload"]["day_types"] = day_types
    for key, value in extra.items():
        raw[key] = copy.deepcopy(value)
    return raw
