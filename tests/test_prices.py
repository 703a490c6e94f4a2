"""The named price vector: every name, value, unit, currency conversion and source."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from deploycost.cost.prices import build_prices
from deploycost.scenario.schema import validate_scenario

from .conftest import HAND_SCENARIO


@pytest.fixture(scope="module")
def prices():
    return build_prices(validate_scenario(HAND_SCENARIO))


def test_hand_scenario_prices_by_name(prices):
    table = prices.table.set_index("name")
    expected = {
        "instance_hour[box-a]": 2.0,
        "instance_hour[gpu-b]": 10.0,
        "storage_gb_month[tier-x]": 0.3,
        "retrieval_gb[tier-x]": 0.01,
        "day_rate[eng]": 500.0,
        "day_rate[ops]": 300.0 * 1.1,  # EUR at the scenario's 1.1 USD/EUR
        "data_acquisition_gb[s1]": 2.0,
        "data_cleaning_gb[s1]": 0.5,
        "fusion_unit_day[f1]": 40.0,
        "fusion_unit_day[f2]": 0.0,
        "automation_fixed_month[manual]": 0.0,
        "automation_fixed_month[auto]": 304.0,
    }
    for name, value in expected.items():
        assert prices.values[prices.index(name)] == pytest.approx(value), name
        assert table.at[name, "value"] == pytest.approx(value), name
    assert table.at["day_rate[ops]", "native_value"] == 300.0
    assert table.at["day_rate[ops]", "native_currency"] == "EUR"
    assert table.at["day_rate[ops]", "fx_rate"] == 1.1
    assert table.at["storage_gb_month[tier-x]", "unit"] == "USD/GB-month"
    assert table.at["instance_hour[box-a]", "kind"] == "compute"


def test_names_are_unique_and_every_price_is_finite_and_non_negative(prices):
    assert len(set(prices.names)) == len(prices.names)
    assert np.isfinite(prices.values).all()
    assert (prices.values >= 0).all()
    positions = prices.indices(["day_rate[eng]", "instance_hour[box-a]"])
    assert [prices.names[i] for i in positions] == ["day_rate[eng]", "instance_hour[box-a]"]


def test_with_values_replaces_values_and_checks_the_shape(prices):
    doubled = prices.with_values(prices.values * 2)
    assert doubled.table.value.to_numpy() == pytest.approx(prices.values * 2)
    assert doubled.names == prices.names
    with pytest.raises(ValueError, match=r"expected \d+ prices, got \(3,\)"):
        prices.with_values(np.ones(3))


def test_prices_convert_currency_with_the_exchange_rate():
    scn = validate_scenario(
        {"currency": "CNY", "exchange_rates": {"USD": 7.0}, "models": [{"name": "a", "size_gb": 1}]}
    )
    prices = build_prices(scn)
    row = prices.table.set_index("name").loc["instance_hour[g5.xlarge]"]
    assert row.native_value == 1.006
    assert row.native_currency == "USD"
    assert row.value == pytest.approx(1.006 * 7.0)
    alibaba = prices.table.set_index("name").loc["instance_hour[ecs.gn7i-c8g1.2xlarge]"]
    assert alibaba.fx_rate == 1.0
    assert isinstance(prices.table, pd.DataFrame)
    assert prices.table.value.ge(0).all()
