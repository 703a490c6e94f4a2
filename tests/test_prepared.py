"""What a process keeps between solves of one scenario: its options (``optimize.prepared``),
the validated scenario of a file read again (``load_scenario``), and partition rows derived
again only from the parents a scenario changed (``Catalog.with_partitions``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from deploycost.catalog import load_catalog
from deploycost.cost.prices import build_prices
from deploycost.optimize import prepared
from deploycost.optimize.solve import solve
from deploycost.scenario.schema import load_scenario, validate_scenario

from .conftest import hand


def test_a_scenario_solved_again_enumerates_its_options_once(monkeypatch):
    calls = []
    original = prepared.enumerate_options
    monkeypatch.setattr(
        prepared, "enumerate_options", lambda cost: calls.append(1) or original(cost)
    )
    scn = validate_scenario(hand())
    first = solve(scn, backend="scipy-highs", runner_ups=False)
    second = solve(scn, backend="pulp-cbc", runner_ups=False)
    assert len(calls) == 1
    assert second.objective_per_day == pytest.approx(first.objective_per_day, rel=1e-9)
    cost, options = prepared.deployment_options(scn)
    assert not options.by_price.data.flags.writeable  # shared: read-only
    assert all(not a.flags.writeable for a in options.columns.values())
    with pytest.raises(ValueError, match="read-only"):
        options.columns["replicas"][0] = 99
    # other prices: enumerated again (and kept in place of the first)
    solve(scn, runner_ups=False, prices=build_prices(scn))
    assert len(calls) == 2
    # an equal scenario is another object: its own options
    solve(validate_scenario(hand()), runner_ups=False)
    assert len(calls) == 3


def test_only_the_last_scenarios_solved_are_kept():
    first = validate_scenario(hand())
    prepared.deployment_options(first)
    assert prepared._KEPT[id(first)][0] is first
    others = [validate_scenario(hand()) for _ in range(prepared.KEPT)]
    for scn in others:
        prepared.deployment_options(scn)
    assert len(prepared._KEPT) == prepared.KEPT
    assert all(entry[0] is not first for entry in prepared._KEPT.values())  # dropped
    assert prepared._KEPT[id(others[-1])][0] is others[-1]


def test_a_file_read_again_gives_the_same_scenario_until_its_bytes_change(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(hand()), encoding="utf-8")
    first = load_scenario(path)
    assert load_scenario(path) is first
    path.write_text(yaml.safe_dump(hand(models__0__latency_slo_ms=20)), encoding="utf-8")
    changed = load_scenario(path)
    assert changed is not first
    assert changed.models[0].latency_slo_ms == 20
    path.write_text("models: [", encoding="utf-8")  # a broken file is refused every time
    for _ in range(2):
        with pytest.raises(Exception, match="s.yaml"):
            load_scenario(path)


@pytest.mark.parametrize("rows", [["p4d.24xlarge"], ["p5.48xlarge", "box"], ["box"]])
def test_partitions_derived_again_from_changed_parents_equal_a_full_rebuild(rows):
    """A scenario row that changes a parent (its price, its memory) or adds a type: the
    incremental table equals the one derived from scratch, row order included."""
    price = "price_on_demand_per_hour"
    changed = load_catalog().with_rows(
        "hardware",
        [
            {"name": name, price: 1.0, "vcpus": 4, "memory_gib": 16.0}
            if name == "box"
            else {"name": name, price: 7.0, "memory_gib": 500.0}
            for name in rows
        ],
    )
    full = changed.with_partitions().hardware
    incremental = changed.with_partitions(parents=rows).hardware
    pd.testing.assert_frame_equal(full, incremental)
    for name in rows:
        if name != "box":
            slices = full[full.partition_of == name]
            assert len(slices) >= 2
            np.testing.assert_allclose(slices[price].astype(float), 7.0)  # priced per node
            per_slice = 500.0 / slices.slices_per_node.astype(float)
            np.testing.assert_allclose(slices.memory_gib.astype(float), per_slice, atol=1e-4)
