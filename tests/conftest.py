"""Shared cases and fixtures: a small scenario with round numbers whose costs are worked by
hand (``HAND_SCENARIO``), a one-model case whose optimum is solved by hand (``hand``), and
the direct Erlang C sum used to check latencies."""

from __future__ import annotations

import copy
import math
import os
import tempfile
from pathlib import Path

# Each pytest-xdist worker compiles the simulator's kernels into its own numba cache: with
# one cache written by two workers at once, the bit-for-bit reproducibility test once saw
# NaN latencies in one worker (never in a single process); separate caches rule it out.
# Workers already fill the cores: each solves its pools one at a time.
if "PYTEST_XDIST_WORKER" in os.environ:
    if "NUMBA_CACHE_DIR" not in os.environ:
        os.environ["NUMBA_CACHE_DIR"] = str(
            Path(tempfile.gettempdir()) / f"deploycost-numba-{os.environ['PYTEST_XDIST_WORKER']}"
        )
    os.environ.setdefault("DEPLOYCOST_SOLVE_THREADS", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from deploycost.pandas_setup import use_python_strings  # noqa: E402

use_python_strings()  # as the command line runs (before the shipped catalog is read)

from deploycost.scenario.synthetic import POOL, random_scenario  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PROBLEMS = sorted((ROOT / "problems").glob("*.yaml"))
FLEET_PROBLEMS = sorted((ROOT / "problems" / "fleet").glob("*.yaml"))

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


def erlang_c_direct(c: int, a: float) -> float:
    """C(c, a) = (a^c / c! * c / (c - a)) / (sum_{k<c} a^k / k! + a^c / c! * c / (c - a))."""
    top = a**c / math.factorial(c) * c / (c - a)
    return top / (sum(a**k / math.factorial(k) for k in range(c)) + top)


HAND = {
    "currency": "USD",
    "workload": {"queries_per_day": 43_200_000, "peak_qps": 500},
    "models": [
        {
            "name": "m",
            "size_gb": 1.0,
            "latency_slo_ms": 11.4,
            "retrains_per_month": 0,
            "versions_kept": 1,
            "quality": 0.8,
            "profiles": [
                {"instance": "cheap", "precision": "fp32", "throughput_qps": 100, "latency_ms": 10},
                {"instance": "fast", "precision": "fp32", "throughput_qps": 400, "latency_ms": 5},
            ],
        }
    ],
    "model_storage_tiers": ["s3-standard"],
    "constraints": {"utilisation_max": 0.8},
    "options": {
        "batch_sizes": [1],
        "backups": [0],
        "file_compressions": ["none"],
        "extra_replicas": 2,
        "service_cv": 0,  # fixed service times: the wait is M/M/c's halved (Allen-Cunneen)
    },
    "catalog": {
        "hardware": [
            {
                "name": "cheap",
                "compute_class": "cpu",
                "accelerator": "xeon-spr-vcpu",
                "accel_count": 0,
                "vcpus": 8,
                "memory_gib": 64,
                "currency": "USD",
                "price_on_demand_per_hour": 1.0,
            },
            {
                "name": "fast",
                "compute_class": "gpu",
                "accelerator": "L4",
                "accel_count": 1,
                "accel_mem_gb": 24,
                "vcpus": 8,
                "memory_gib": 64,
                "currency": "USD",
                "price_on_demand_per_hour": 3.0,
            },
        ]
    },
}
STORAGE_PER_DAY = 1.0 * 0.023 / 30.4  # 1 GB on S3 Standard


def p99_by_hand(servers: int, service_ms: float, mu: float, lam: float = 500.0) -> float:
    """Fixed service + the M/M/c 99th-percentile wait times (ca^2 + cs^2) / 2 = 1/2."""
    c = erlang_c_direct(servers, lam / mu)
    wait_s = max(0.0, math.log(c / 0.01) / (servers * mu - lam))
    return service_ms + wait_s * 1000 / 2


def hand(**changes) -> dict:
    raw = copy.deepcopy(HAND)
    for path, value in changes.items():
        node = raw
        *parents, leaf = path.split("__")
        for key in parents:
            node = node[key] if not isinstance(node, list) else node[int(key)]
        node[leaf] = value
    return raw


def random_with_coupled_limits(seed: int) -> dict:
    """A random scenario, often with a fusion layer on a quota-limited instance and an owned
    storage tier, so that every coupled family appears across the seeds."""
    raw = random_scenario(seed)
    rng = np.random.default_rng(10_000 + seed)
    if rng.random() < 0.4:
        instance = str(rng.choice(POOL))
        raw["fusion"][0] |= {"instance": instance, "replicas": int(rng.integers(1, 3))}
        raw["constraints"].setdefault("quotas", {})[instance] = int(rng.integers(2, 60))
    if rng.random() < 0.4:
        raw["constraints"]["owned_storage_gb"] = {
            str(rng.choice(["s3-standard", "s3-standard-ia"])): float(rng.uniform(1, 3000))
        }
    return raw


def cli_under_file_limit(args: list[str], limit_bytes: int):
    """``deploycost ARGS`` in a child process whose files may not grow past ``limit_bytes``
    (RLIMIT_FSIZE: a write beyond it fails with EFBIG, as on a full disk)."""
    import subprocess
    import sys
    import textwrap

    code = textwrap.dedent(
        f"""
        import resource, sys
        resource.setrlimit(resource.RLIMIT_FSIZE, ({limit_bytes}, {limit_bytes}))
        from deploycost.cli.app import app
        sys.argv = {["deploycost", *args]!r}
        app()
        """
    )
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)


def line_sweep(name: str, select: str, start: float, stop: float, points: int) -> dict:
    """A sweep spec mapping: one parameter ``name`` scaling the prices ``select`` along a
    line from ``start`` to ``stop`` times today's, at ``points`` points."""
    return {
        "mode": "line",
        "points": points,
        "parameters": [{"name": name, "select": select, "range": {"start": start, "stop": stop}}],
    }


def pytest_collection_modifyitems(items):
    """The slow tests first (in their order), then the rest: with the long checks started
    early, the two workers end together instead of one waiting on a 30 s test at the end."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
