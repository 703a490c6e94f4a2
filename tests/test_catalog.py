"""The shipped catalog: sourced, dated, complete enough, and overridable."""

from __future__ import annotations

import numpy as np
import pytest

from deploycost.catalog import KEYS, WIDTHS, load_catalog
from deploycost.cost.model import CostModel
from deploycost.cost.prices import build_prices
from deploycost.scenario.schema import ScenarioError, validate_scenario


@pytest.mark.parametrize("kind", [k for k in KEYS if k != "compression"])
def test_every_row_has_source_and_date(kind):
    table = load_catalog().table(kind)
    assert len(table) > 0
    assert table.source.notna().all()
    assert (table.source.str.len() > 0).all()
    assert table.as_of.notna().all()
    assert (table.as_of.str.len() > 0).all()


def test_compression_rows_other_than_none_are_sourced():
    table = load_catalog().compression.drop(index="none")
    assert (table.source.str.len() > 0).all()
    assert (table.as_of.str.len() > 0).all()


def test_hardware_covers_cpu_and_six_accelerator_types():
    hw = load_catalog().hardware
    assert (hw.compute_class == "cpu").sum() >= 2
    accelerators = set(hw.accelerator[hw.compute_class != "cpu"])
    assert {"T4", "A10G", "L4", "A100-40GB", "H100-SXM-80GB", "Inferentia2"} <= accelerators
    assert (hw.provider == "Alibaba Cloud").any()
    assert (hw.currency == "CNY").any()
    assert hw.price_on_demand_per_hour.notna().all()
    assert hw.price_reserved_1yr_per_hour.notna().sum() >= 20
    assert hw.price_spot_per_hour.notna().sum() >= 10


def test_accelerators_have_peak_compute_and_bandwidth():
    acc = load_catalog().accelerators
    for column in ("peak_tflops_fp32", "peak_tflops_fp16", "peak_tops_int8", "mem_bw_gb_s"):
        assert (acc[column] > 0).all(), column
    # int4 and fp8 only where the hardware or a named runtime runs them (blank elsewhere)
    assert (acc.peak_tops_int4.dropna() > 0).all()
    assert np.isnan(acc.at["Inferentia2", "peak_tops_int4"])  # NeuronCore-v2: no INT4
    assert set(load_catalog().hardware.accelerator) <= set(acc.index)


def test_int4_is_offered_to_llms_only_and_never_on_inferentia2():
    """The customer-service problem's LLM may take int4 on NVIDIA instances, never on
    Inferentia2 (its cores run INT8 at the lowest); non-LLM models never take int4 (the
    only int4 source is an LLM weight-only method)."""
    from deploycost.cost.model import CostModel
    from deploycost.options.grid import enumerate_options
    from deploycost.scenario.schema import load_scenario

    from .conftest import PROBLEMS

    offered = 0
    for path in PROBLEMS:
        scn = load_scenario(path)
        table = enumerate_options(CostModel(scn)).table
        offered += int((table.precision == "int4").sum())
        hw = scn.resolved_catalog.hardware
        on_inf2 = table.instance.map(hw.accelerator) == "Inferentia2"
        assert not ((table.precision == "int4") & on_inf2).any(), path.name
        llm = table.model.map(lambda m, scn=scn: scn.model(m).is_llm)
        assert not ((table.precision == "int4") & ~llm).any(), path.name
    assert offered > 0  # int4 stays an option where it runs


def test_storage_covers_required_tiers():
    tiers = set(load_catalog().storage.index)
    assert {
        "s3-standard",
        "s3-standard-ia",
        "ebs-gp3",
        "ebs-io2",
        "local-nvme",
        "oss-standard",
        "oss-ia",
        "onprem-hdfs",
        "onprem-ssd",
    } <= tiers


def test_precisions_and_compressions():
    cat = load_catalog()
    assert {"fp32", "fp16", "bf16", "int8", "int4"} <= set(cat.precision.index)
    assert cat.precision.at["int8", "bytes_per_param"] == 1
    assert {"gzip", "lz4", "zstd", "zipnn"} <= set(cat.compression.index)
    widths = cat.compression[[f"size_factor_{w}" for w in WIDTHS]]
    assert ((widths > 0) & (widths <= 1)).all().all()
    # float weights: no codec beats the ~1.5x (bf16) / ~1.2x (fp32) entropy bound of the
    # sources; quantized weights compress least of all
    assert (widths.size_factor_16bit >= 1 / 1.52).all()
    assert (widths.size_factor_32bit >= 1 / 1.21).all()
    assert (widths.size_factor_8bit >= widths.size_factor_16bit).all()
    assert (widths.size_factor_4bit >= widths.size_factor_16bit).all()


def _one_model(**catalog) -> CostModel:
    return CostModel(
        validate_scenario(
            {
                "currency": "USD",
                "models": [
                    {"name": "a", "size_gb": 2.0, "checkpoint_precision": "bf16"}
                ],  # 1e9 params
                "catalog": catalog,
            }
        )
    )


@pytest.mark.parametrize(
    ("precision", "compression", "expected_gb"),
    [
        ("bf16", "zstd", 2.0 * 0.783),  # ZipNN README: zstd leaves bf16 weights at 78.3 %
        ("fp32", "zstd", 4.0 * 0.943),  # plain zstd on fp32 tensors: ~1.06x
        ("int8", "zstd", 1.0 * 0.96),  # quantized weights: ~1.04x
        ("int4", "zipnn", 0.5 * 0.951),
        ("bf16", "lz4", 2.0),  # lz4 does not shrink float weights
        ("bf16", "zipnn", 2.0 * 0.663),
    ],
)
def test_artifact_size_follows_the_weight_width(precision, compression, expected_gb):
    cost = _one_model()
    space = cost.space
    gb = cost.artifact_gb(
        cost.const,
        np.array([space.precisions.index(precision)]),
        np.array([space.compressions.index(compression)]),
    )
    assert gb[0] == pytest.approx(expected_gb, rel=1e-12)


def test_a_scenario_size_factor_sets_every_width_and_is_no_longer_an_estimate():
    cat = _one_model(compression=[{"compression": "zstd", "size_factor": 0.5}])
    comp = cat.scn.resolved_catalog.compression
    assert [comp.at["zstd", f"size_factor_{w}"] for w in WIDTHS] == [0.5] * 4
    assert not cat.scn.resolved_catalog.compression_estimated("int8", "zstd")
    one = _one_model(compression=[{"compression": "zstd", "size_factor_16bit": 0.7}])
    comp = one.scn.resolved_catalog.compression
    assert comp.at["zstd", "size_factor_16bit"] == 0.7
    assert comp.at["zstd", "size_factor_32bit"] == 0.943  # the catalog's, untouched
    assert one.scn.resolved_catalog.compression_estimated("int8", "zstd")
    assert load_catalog().compression_estimated("int8", "zstd")
    assert not load_catalog().compression_estimated("bf16", "zstd")


def test_scenario_overrides_and_adds_rows():
    scn = validate_scenario(
        {
            "currency": "USD",
            "models": [{"name": "a", "size_gb": 1}],
            "catalog": {
                "hardware": [
                    {"name": "g5.xlarge", "price_on_demand_per_hour": 0.5},
                    {
                        "name": "my-box",
                        "compute_class": "cpu",
                        "accelerator": "xeon-spr-vcpu",
                        "accel_count": 0,
                        "vcpus": 4,
                        "memory_gib": 8,
                        "currency": "USD",
                        "price_on_demand_per_hour": 0.1,
                    },
                ]
            },
        }
    )
    hw = scn.resolved_catalog.hardware
    assert hw.at["g5.xlarge", "price_on_demand_per_hour"] == 0.5
    assert hw.at["g5.xlarge", "source"] == "scenario file"
    assert hw.at["my-box", "vcpus"] == 4
    assert load_catalog().hardware.at["g5.xlarge", "price_on_demand_per_hour"] == 1.006
    prices = build_prices(scn)
    assert prices.values[prices.index("instance_hour[g5.xlarge]")] == 0.5


def test_default_exchange_rate_comes_from_the_catalog():
    scn = validate_scenario({"currency": "USD", "models": [{"name": "a", "size_gb": 1}]})
    assert scn.rate_to_scenario("CNY") == pytest.approx(1 / 7.2464)


def test_spot_prices_rise_with_size_or_say_why():
    """Within an instance family, a larger size whose spot price is below a smaller one's
    (a snapshot artefact: spot prices move by AZ and hour) must carry ESTIMATE and the reason
    in its note, so that every answer using it lists it."""
    hw = load_catalog().hardware
    spot = hw[hw.price_spot_per_hour.notna()].copy()
    # c7i.2xlarge -> c7i; ecs.gn7i-c8g1.2xlarge -> gn7i
    spot["family"] = [n.removeprefix("ecs.").split(".")[0].split("-")[0] for n in spot.index]
    flagged = []
    for _, rows in spot.groupby(["family", "region"]):
        for _, row in rows.iterrows():
            larger = rows[rows.vcpus > row.vcpus]
            if len(larger) and larger.price_spot_per_hour.min() < row.price_spot_per_hour:
                culprit = larger.price_spot_per_hour.idxmin()
                flagged.append(culprit)
                assert "ESTIMATE" in str(hw.at[culprit, "note"]), culprit
    assert {"c7i.16xlarge", "c7i.48xlarge"} <= set(flagged)


def test_spot_prices_are_below_on_demand_and_gpu_rows_have_them():
    hw = load_catalog().hardware
    spot = hw[hw.price_spot_per_hour.notna()]
    assert (spot.price_spot_per_hour < spot.price_on_demand_per_hour).all()
    aws_gpu = hw[(hw.provider == "AWS") & (hw.compute_class != "cpu")]
    priced = aws_gpu.price_spot_per_hour.notna()
    assert priced.sum() >= 15, list(aws_gpu.index[~priced])
    assert all("Spot Instance Advisor" in s for s in aws_gpu.source[priced])


def test_a_new_compression_row_needs_its_size():
    with pytest.raises(ScenarioError, match=r"catalog.compression\[brotli\].size_factor"):
        _one_model(compression=[{"compression": "brotli", "size_factor_16bit": 0.8}])
    whole = {f"size_factor_{w}": 0.9 for w in WIDTHS}
    cost = _one_model(compression=[{"compression": "brotli", **whole}])
    assert cost.scn.resolved_catalog.compression.at["brotli", "size_factor_4bit"] == 0.9


def test_a_roofline_on_estimated_accelerator_figures_says_so():
    """The A10G row borrows the A10 datasheet (ESTIMATE): an answer whose service time is a
    roofline on a g5 lists it; on a g4dn (T4, vendor datasheet) it does not."""
    from deploycost.optimize.solve import solve

    def estimates(instance: str) -> list[str]:
        raw = {
            "currency": "USD",
            "models": [
                {
                    "name": "m",
                    "params_million": 300,
                    "latency_slo_ms": 50,
                    "allowed_instances": [instance],
                }
            ],
        }
        return solve(validate_scenario(raw), runner_ups=False).raise_for_status().estimates

    on_g5 = [e for e in estimates("g5.xlarge") if e.startswith("m: service time on g5.xlarge")]
    assert len(on_g5) == 1
    assert "its A10G peak and bandwidth figures are an ESTIMATE" in on_g5[0]
    assert not [e for e in estimates("g4dn.xlarge") if "figures are an ESTIMATE" in e]
