"""Each of the six components against arithmetic written out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from deploycost.cost.deployments import from_specs
from deploycost.cost.model import COMPONENTS, evaluate, quantities
from deploycost.periods import DAYS_PER_MONTH, DAYS_PER_YEAR
from deploycost.scenario.schema import DeploymentSpec, load_scenario, validate_scenario

from .conftest import ROOT

ZSTD_8BIT = 0.96  # catalog size factor of zstd on 8-bit weights (quantized: ~1.04x)


def _evaluate(raw: dict):
    scn = validate_scenario(raw)
    return scn, evaluate(scn, from_specs(scn, [scn.baseline_deployment]))


def _component(result, name: str) -> float:
    return float(result.components().iloc[0][name])


def test_compute_is_replicas_times_hours_times_price(hand_raw):
    _, result = _evaluate(hand_raw)
    m1 = 3 * 24 * 10.0  # 3 replicas of gpu-b at 10 USD/h
    m2 = 2 * 24 * 2.0  # 2 replicas of box-a at 2 USD/h
    assert _component(result, "compute") == pytest.approx(m1 + m2, rel=1e-12)


def test_model_storage_counts_versions_backups_min_duration_and_loads(hand_raw):
    _, result = _evaluate(hand_raw)
    m1_artifact_gb = 1000e6 * 1 / 1e9 * ZSTD_8BIT  # 1 B params, int8 = 1 byte, zstd
    m1_stored_gb = m1_artifact_gb * 2 * (1 + 1)  # 2 versions, 1 backup copy
    lifetime_days = 2 / (3.04 / 30.4)  # 20 days < 60-day minimum: billed 3x
    m1_storage = m1_stored_gb * (60 / lifetime_days) / 30.4 * 0.3
    m1_loads = 3 * (3.04 / 30.4)  # every replica pulls each new version
    m1_retrieval = m1_loads * m1_artifact_gb * 0.01
    m2_storage = 2.0 * 1 * 1 / 30.4 * 0.3  # never retrained: no minimum-duration surcharge
    expected = m1_storage + m1_retrieval + m2_storage
    assert _component(result, "model_storage") == pytest.approx(expected, rel=1e-12)


def test_compression_charged_only_when_precision_changes(hand_raw):
    _, result = _evaluate(hand_raw)
    retrains_per_day = 3.04 / 30.4
    expected = retrains_per_day * (1.0 * 500 + 2.0 * 10.0)  # person-days + calibration GPU-hours
    assert _component(result, "compression") == pytest.approx(expected, rel=1e-12)
    hand_raw["baseline_deployment"]["models"]["m1"]["precision"] = "fp32"
    _, result = _evaluate(hand_raw)
    assert _component(result, "compression") == 0.0


def test_people_maintenance_training_and_automation(hand_raw):
    _, result = _evaluate(hand_raw)
    maintenance = 6.08 / 30.4 * 0.5 * 500  # m1 only; automation halves person-days
    training = 3.04 / 30.4 * 300 * 1.1  # EUR day rate converted at 1.1
    automation = 304 / 30.4
    assert _component(result, "people") == pytest.approx(
        maintenance + training + automation, rel=1e-12
    )


def test_fusion_is_seed_formula_plus_layer_compute_and_maintenance(hand_raw):
    _, result = _evaluate(hand_raw)
    expected = 40 * 0.5 + 1 * 24 * 2.0 + 6.08 / 30.4 * 0.5 * 500
    assert _component(result, "fusion") == pytest.approx(expected, rel=1e-12)


def test_data_acquisition_cleaning_storage_reads_labelling(hand_raw):
    _, result = _evaluate(hand_raw)
    raw_gb = 10 / 0.8
    expected = (
        raw_gb * 2.0
        + raw_gb * 0.5
        + 10 * 30 * (60 / 30) / 30.4 * 0.3
        + 5 * 0.01
        + 3.04 / 30.4 * 500
    )
    assert _component(result, "data") == pytest.approx(expected, rel=1e-12)


def test_inactive_models_cost_nothing(hand_raw):
    hand_raw["baseline_deployment"] = {
        "fusion": "f2",
        "models": {"m2": {"instance": "box-a", "replicas": 2}},
    }
    scn, result = _evaluate(hand_raw)
    ledger = result.ledger()
    assert "m1" not in set(ledger.owner)
    assert _component(result, "compute") == pytest.approx(2 * 24 * 2.0, rel=1e-12)


def test_autoscaling_follows_the_hourly_profile(hand_raw):
    hand_raw["workload"] = {
        "queries_per_day": 48 * 3600 * 10,
        "hourly_profile": [1] * 12 + [3] * 12,
    }
    hand_raw["constraints"] = {"utilisation_max": 0.5}
    hand_raw["models"][1]["min_replicas"] = 3
    hand_raw["baseline_deployment"] = {
        "fusion": "f2",
        "models": {
            "m2": {
                "instance": "box-a",
                "replicas": 5,
                "autoscale": True,
                "capacity_qps": 10,
                "tier": "tier-x",
            }
        },
    }
    hand_raw["models"][1]["retrains_per_month"] = 3.04
    _, result = _evaluate(hand_raw)
    # low hours: 10 qps / (10 x 0.5) = 2 -> raised to min 3; high hours: 30 / 5 = 6 -> cap 5
    hours = 12 * 3 + 12 * 5
    assert _component(result, "compute") == pytest.approx(hours * 2.0, rel=1e-12)
    ledger = result.ledger()
    retrieval = ledger[(ledger.owner == "m2") & ledger.price.str.startswith("retrieval")]
    loads = 5 * 0.1 + 2  # new versions on every replica + 2 scale-ups a day (3 -> 5)
    assert retrieval.quantity_per_day.iloc[0] == pytest.approx(loads * 2.0, rel=1e-12)


def test_seed_example_matches_arithmetic():
    scn = load_scenario(ROOT / "problems" / "seed_example.yaml")
    row = evaluate(scn, from_specs(scn, [scn.baseline_deployment])).components().iloc[0]
    data = 6.0 / 0.8 * 10 + 6.0 * 30 / 30.4 * 0.12  # acquisition + 30 days on OSS
    storage = 1.0 * 0.2 / 30.4 + 5.0 * 0.12 / 30.4  # A on owned SSD, B on OSS
    compute = 2 * 24 * 100  # one 100 CNY/h replica each
    people = 2 * 2 * 1000 / 30.4  # 2 person-days a month per model
    fusion = 100 * 0.5
    assert row["data"] == pytest.approx(data, rel=1e-12)
    assert row["model_storage"] == pytest.approx(storage, rel=1e-12)
    assert row["compression"] == 0.0
    assert row["compute"] == pytest.approx(compute, rel=1e-12)
    assert row["people"] == pytest.approx(people, rel=1e-12)
    assert row["fusion"] == pytest.approx(fusion, rel=1e-12)
    assert row["total"] == pytest.approx(data + storage + compute + people + fusion, rel=1e-12)
    assert row["total"] == pytest.approx(5057.315789473684, rel=1e-12)


def test_breakdown_reports_month_and_year(hand_raw):
    _, result = _evaluate(hand_raw)
    table = result.breakdown()
    assert set(table.component.astype(str)) <= set(COMPONENTS)
    np.testing.assert_allclose(table.per_month, table.per_day * DAYS_PER_MONTH)
    np.testing.assert_allclose(table.per_year, table.per_day * DAYS_PER_YEAR)
    assert table.per_day.sum() == pytest.approx(result.total_per_day[0], rel=1e-12)
    per_model = table[table.owner == "m1"].per_day.sum()
    ledger = result.ledger()
    assert per_model == pytest.approx(ledger[ledger.owner == "m1"].per_day.sum(), rel=1e-12)


def _random_specs(scn, rng, count):
    specs = []
    for _ in range(count):
        specs.append(
            DeploymentSpec.model_validate(
                {
                    "fusion": "f1",
                    "automation": str(rng.choice(["manual", "auto"])),
                    "data_tiers": {"s1": str(rng.choice(["tier-x", "s3-standard"]))},
                    "models": {
                        name: {
                            "instance": str(rng.choice(["box-a", "gpu-b", "g5.xlarge"])),
                            "replicas": int(rng.integers(1, 20)),
                            "precision": str(rng.choice(["fp32", "fp16", "int8", "int4"])),
                            "tier": str(rng.choice(["tier-x", "s3-standard"])),
                            "backups": int(rng.integers(0, 3)),
                            "compression": str(rng.choice(["none", "gzip", "lz4", "zstd"])),
                        }
                        for name in ("m1", "m2")
                    },
                }
            )
        )
    return specs


def test_vectorized_rows_equal_one_at_a_time(hand_raw):
    scn = validate_scenario(hand_raw)
    rng = np.random.default_rng(7)
    dep = from_specs(scn, _random_specs(scn, rng, 40))
    together = quantities(scn, dep).q
    for d in range(dep.count):
        alone = quantities(scn, dep.take(np.array([d]))).q[0]
        np.testing.assert_array_equal(together[d], alone)


def test_by_price_matmul_equals_line_sum(hand_raw):
    scn = validate_scenario(hand_raw)
    result_q = quantities(scn, from_specs(scn, _random_specs(scn, np.random.default_rng(3), 25)))
    rng = np.random.default_rng(11)
    prices = rng.uniform(0.1, 10, size=(6, result_q.n_prices))
    via_matmul = result_q.totals(prices)
    via_lines = np.stack([result_q.line_costs(p).sum(axis=1) for p in prices], axis=1)
    np.testing.assert_allclose(via_matmul, via_lines, rtol=1e-12)


def test_reserved_instances_are_paid_every_hour_even_when_autoscaled():
    """A reservation is bought for the term: autoscaling below the peak saves nothing on it
    (on demand, it does)."""
    raw = {
        "currency": "USD",
        "workload": {"queries_per_day": 8_640_000, "hourly_profile": [1] * 12 + [3] * 12},
        "models": [{"name": "a", "size_gb": 1, "retrains_per_month": 0, "versions_kept": 1}],
        "catalog": {"pricing": "reserved_1yr", "regions": ["us-east-1"]},
        "options": {"autoscale": True},
        "baseline_deployment": {
            "models": {
                "a": {
                    "instance": "g6.xlarge",
                    "replicas": 4,
                    "autoscale": True,
                    "capacity_qps": 100,
                }
            }
        },
    }
    scn = validate_scenario(raw)
    reserved = evaluate(scn, from_specs(scn, [scn.baseline_deployment])).components()
    # g6.xlarge, 1-year reserved, no upfront: 0.52392 USD/h (catalog), 4 x 24 h
    assert reserved.compute[0] == pytest.approx(4 * 24 * 0.52392, rel=1e-12)
    raw["catalog"]["pricing"] = "on_demand"
    scn = validate_scenario(raw)
    on_demand = evaluate(scn, from_specs(scn, [scn.baseline_deployment])).components()
    # 100 requests/s mean: 50/s for 12 hours, 150/s for 12; at 80 % of 100/s per replica:
    # 1 replica, then 2 -> 12 x 1 + 12 x 2 = 36 instance-hours on demand at 0.8048 USD/h
    assert on_demand.compute[0] == pytest.approx(36 * 0.8048, rel=1e-12)
