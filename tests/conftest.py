"""Shared fixtures: a small scenario with round numbers whose costs are worked by hand."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PROBLEMS = sorted((ROOT / "problems").glob("*.yaml"))

HAND_SCENARIO: dict = {
    "name": "hand-worked",
    "currency": "USD",
    "exchange_rates": {"EUR": 1.1, "CNY": 0.138},
    "workload": {"queries_per_day": 864000, "peak_to_mean": 2.0},
    "models": [
        {
            "name": "m1",
            "params_million": 1000,
            "versions_kept": 2,
            "retrains_per_month": 3.04,
            "maintenance_person_days_per_month": 6.08,
            "role": "eng",
            "compression_effort": {
                "person_days_per_retrain": 1.0,
                "calibration_gpu_hours_per_retrain": 2.0,
            },
        },
        {"name": "m2", "size_gb": 2.0, "versions_kept": 1, "retrains_per_month": 0},
    ],
    "model_storage_tiers": ["tier-x", "s3-standard"],
    "data_sources": [
        {
            "name": "s1",
            "gb_per_day": 10,
            "acquisition_price_per_gb": 2.0,
            "usable_fraction": 0.8,
            "cleaning_price_per_gb": 0.5,
            "retention_days": 30,
            "read_gb_per_day": 5,
            "labelling_person_days_per_month": 3.04,
            "role": "eng",
            "storage_tiers": ["tier-x", "s3-standard"],
        },
    ],
    "people": {
        "roles": {"eng": {"day_rate": 500}, "ops": {"day_rate": 300, "currency": "EUR"}},
        "training_person_days_per_month": 3.04,
        "training_role": "ops",
        "automation_levels": [
            {"name": "manual"},
            {"name": "auto", "fixed_cost_per_month": 304, "person_day_multiplier": 0.5},
        ],
    },
    "fusion": [
        {
            "name": "f1",
            "members": ["m1", "m2"],
            "method": "average",
            "complexity": 0.5,
            "unit_cost_per_day": 40,
            "maintenance_person_days_per_month": 6.08,
            "role": "eng",
            "instance": "box-a",
            "replicas": 1,
        },
        {"name": "f2", "members": ["m2"], "method": "single"},
    ],
    "catalog": {
        "calibration_instance": "gpu-b",
        "hardware": [
            {
                "name": "box-a",
                "compute_class": "cpu",
                "accelerator": "xeon-spr-vcpu",
                "accel_count": 0,
                "vcpus": 8,
                "memory_gib": 32,
                "currency": "USD",
                "price_on_demand_per_hour": 2.0,
            },
            {
                "name": "gpu-b",
                "compute_class": "gpu",
                "accelerator": "T4",
                "accel_count": 1,
                "accel_mem_gb": 16,
                "vcpus": 8,
                "memory_gib": 32,
                "currency": "USD",
                "price_on_demand_per_hour": 10.0,
            },
        ],
        "storage": [
            {
                "tier": "tier-x",
                "currency": "USD",
                "price_per_gb_month": 0.3,
                "retrieval_per_gb": 0.01,
                "min_storage_days": 60,
                "read_mb_s": 100,
            },
        ],
    },
    "baseline_deployment": {
        "fusion": "f1",
        "automation": "auto",
        "data_tiers": {"s1": "tier-x"},
        "models": {
            "m1": {
                "instance": "gpu-b",
                "replicas": 3,
                "precision": "int8",
                "tier": "tier-x",
                "backups": 1,
                "compression": "zstd",
            },
            "m2": {"instance": "box-a", "replicas": 2, "precision": "fp32", "tier": "tier-x"},
        },
    },
}


@pytest.fixture
def hand_raw() -> dict:
    return copy.deepcopy(HAND_SCENARIO)
