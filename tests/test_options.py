"""The option grid: roofline by hand, option costs equal the full ledger, reasons."""

from __future__ import annotations

import numpy as np
import pytest

from deploycost.cost.deployments import from_specs
from deploycost.cost.model import CostModel
from deploycost.options.grid import enumerate_options
from deploycost.options.performance import Configs, config_grid, performance
from deploycost.scenario.schema import DeploymentSpec, load_scenario, validate_scenario

from .conftest import PROBLEMS


def _scenario(**model):
    base = {"name": "m", "params_million": 1000, "mb_per_query": 10, "latency_slo_ms": 500}
    if "size_gb" in model:
        del base["params_million"]
    base.update(model)
    return validate_scenario(
        {
            "currency": "USD",
            "models": [base],
            "options": {"roofline_efficiency": 0.5, "overhead_ms": 1.0},
        }
    )


def test_roofline_by_hand():
    scn = _scenario(gflops_per_query=100)
    cost = CostModel(scn)
    configs = config_grid(cost)
    perf = performance(cost, configs)
    h = cost.space.instances.index("g6.xlarge")  # one L4: 121 TFLOPS fp16, 300 GB/s
    c = cost.space.precisions.index("fp16")
    b = list(configs.batch).index(8)
    compute_s = 8 * 100e9 / (121e12 * 0.5)
    memory_s = (1000e6 * 2 + 8 * 10e6) / (300e9 * 0.5)  # fp16 weights + 8 requests' reads
    service_s = max(compute_s, memory_s) + 1e-3
    assert perf.service_ms[0, h, c, b] == pytest.approx(service_s * 1e3, rel=1e-12)
    assert perf.throughput_qps[0, h, c, b] == pytest.approx(8 / service_s, rel=1e-12)


def test_measured_speedups_cap_the_roofline_of_quantized_precisions():
    """One L4 (121 TFLOPS fp16, 242.5 TOPS int8 and int4, 300 GB/s), batch 8: the roofline
    promises ~1.8x (int8) and ~2x (int4) over fp16's 15.0 ms; the catalog's measurements
    (1.629x int8, BERT-Large on L4; 2.28x int4, AWQ decode on A100) bound int8 at 9.2 ms,
    while int4's own roofline (7.6 ms, int4 runs at the int8 peak) is already slower than
    its bound (6.6 ms). fp32 has no measurement: its roofline stands."""
    scn = _scenario(gflops_per_query=100, allowed_precisions=["fp32", "fp16", "int8", "int4"])
    cost = CostModel(scn)
    perf = performance(cost, Configs.of([8], [1], [False]))
    h = cost.space.instances.index("g6.xlarge")
    at = {p: cost.space.precisions.index(p) for p in ("fp32", "fp16", "int8", "int4")}
    fp16_s = max(8 * 100e9 / (121e12 * 0.5), (1000e6 * 2 + 8 * 10e6) / (300e9 * 0.5)) + 1e-3
    assert perf.service_ms[0, h, at["fp16"], 0] == pytest.approx(fp16_s * 1e3, rel=1e-12)
    assert perf.service_ms[0, h, at["int8"], 0] == pytest.approx(fp16_s / 1.629 * 1e3, rel=1e-12)
    int4_s = max(8 * 100e9 / (242.5e12 * 0.5), (1000e6 * 0.5 + 8 * 10e6) / (300e9 * 0.5)) + 1e-3
    assert int4_s > fp16_s / 2.28
    assert perf.service_ms[0, h, at["int4"], 0] == pytest.approx(int4_s * 1e3, rel=1e-12)
    int8_roofline_s = max(8 * 100e9 / (242.5e12 * 0.5), (1000e6 + 8 * 10e6) / (300e9 * 0.5)) + 1e-3
    assert int8_roofline_s < fp16_s / 1.629  # the measurement binds
    fp32_s = max(8 * 100e9 / (30.3e12 * 0.5), (1000e6 * 4 + 8 * 10e6) / (300e9 * 0.5)) + 1e-3
    assert perf.service_ms[0, h, at["fp32"], 0] == pytest.approx(fp32_s * 1e3, rel=1e-12)


def test_cpu_peak_scales_with_vcpus():
    scn = _scenario(gflops_per_query=50)
    cost = CostModel(scn)
    perf = performance(cost, Configs.of([1], [1], [False]))
    c = cost.space.precisions.index("fp32")
    small = cost.space.instances.index("c7i.2xlarge")  # 8 vCPU
    big = cost.space.instances.index("c7i.16xlarge")  # 64 vCPU
    t_small = perf.service_ms[0, small, c, 0] - 1.0
    t_big = perf.service_ms[0, big, c, 0] - 1.0
    assert t_small == pytest.approx(8 * t_big, rel=1e-9)


def test_out_of_memory_reason():
    scn = _scenario(params_million=200_000, kind="model")  # 800 GB at fp32
    cost = CostModel(scn)
    perf = performance(cost, Configs.of([1], [1], [False]))
    h = cost.space.instances.index("g4dn.xlarge")
    c = cost.space.precisions.index("fp32")
    assert perf.reason[0, h, c, 0] == 3  # out_of_memory


def test_embedding_may_spill_to_host_memory():
    # 40 GB model, 38 GB of it embeddings: 18.4 GB spill off one L4 (21.6 GB usable) to host
    scn = _scenario(size_gb=40.0, embedding_gb=38.0)
    cost = CostModel(scn)
    perf = performance(cost, Configs.of([1], [1], [False]))
    c = cost.space.precisions.index("fp32")
    small = cost.space.instances.index("g6.xlarge")  # 16 GiB host: 15.5 GB usable < 20.4 GB
    large = cost.space.instances.index("g6.4xlarge")  # 64 GiB host RAM
    assert perf.reason[0, small, c, 0] == 3
    assert perf.reason[0, large, c, 0] == 0
    assert perf.device_gb[0, large, c, 0] == pytest.approx(24 * 0.9, rel=1e-9)


@pytest.mark.parametrize("path", PROBLEMS, ids=lambda p: p.name)
def test_option_costs_equal_the_full_ledger(path):
    """An option's cost + its fusion and data columns = the full ledger of that deployment."""
    scn = load_scenario(path)
    cost = CostModel(scn)
    opts = enumerate_options(cost)
    rng = np.random.default_rng(1)
    for f, name in enumerate(cost.space.fusions):
        units = np.nonzero(opts.units.fusion == f)[0]
        if any(len(opts.of_unit(u)) == 0 for u in units):
            continue
        rows = [opts.of_unit(u).iloc[rng.integers(len(opts.of_unit(u)))] for u in units]
        spec = DeploymentSpec(
            fusion=name,
            automation=cost.space.automation[-1],
            models={
                r.model: {
                    "instance": r.instance,
                    "replicas": int(r.replicas),
                    "precision": r.precision,
                    "batch": int(r.batch),
                    "tier": r.tier,
                    "backups": int(r.backups),
                    "compression": r.compression,
                }
                for r in rows
            },
        )
        dep = from_specs(scn, [spec])
        full = cost.quantities(dep).by_price[0]
        system = cost.system_quantities(dep.fusion, dep.automation).toarray()[0]
        data = cost.data_quantities().toarray()  # row s T + t
        tiers = len(cost.space.tiers)
        data_part = sum(
            (data[s * tiers + dep.data_tier[0, s]] for s in range(len(cost.space.sources))),
            np.zeros_like(full),
        )
        option_part = np.asarray(opts.by_price[[r.name for r in rows]].sum(axis=0)).ravel()
        np.testing.assert_allclose(option_part + system + data_part, full, rtol=1e-9, atol=1e-12)


def test_diagnostics_count_every_grid_point():
    scn = load_scenario(PROBLEMS[1])
    opts = enumerate_options(CostModel(scn))
    diag = opts.diagnostics
    assert (diag.kept > 0).all()
    assert (
        diag[
            [
                "not_allowed",
                "no_profile",
                "out_of_memory",
                "over_capacity",
                "too_slow",
            ]
        ].sum(axis=1)
        > 0
    ).all()
