"""Hypothesis properties of the cost model: non-negative, linear in each price, additive."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deploycost.cost.deployments import from_specs
from deploycost.cost.model import quantities
from deploycost.cost.prices import build_prices
from deploycost.scenario.schema import DeploymentSpec, validate_scenario

from .conftest import HAND_SCENARIO

SCN = validate_scenario(HAND_SCENARIO)
PRICES = build_prices(SCN)

choice = st.fixed_dictionaries(
    {
        "instance": st.sampled_from(["box-a", "gpu-b", "g5.xlarge", "c7i.2xlarge"]),
        "replicas": st.integers(1, 500),
        "precision": st.sampled_from(["fp32", "fp16", "bf16", "int8", "int4"]),
        "tier": st.sampled_from(["tier-x", "s3-standard"]),
        "backups": st.integers(0, 5),
        "compression": st.sampled_from(["none", "gzip", "lz4", "zstd"]),
        "autoscale": st.booleans(),
        "capacity_qps": st.floats(0.5, 1e4),
    }
)
deployment = st.one_of(
    st.fixed_dictionaries(
        {
            "fusion": st.just("f1"),
            "automation": st.sampled_from(["manual", "auto"]),
            "data_tiers": st.fixed_dictionaries({"s1": st.sampled_from(["tier-x", "s3-standard"])}),
            "models": st.fixed_dictionaries({"m1": choice, "m2": choice}),
        }
    ),
    st.fixed_dictionaries(
        {
            "fusion": st.just("f2"),
            "automation": st.sampled_from(["manual", "auto"]),
            "models": st.fixed_dictionaries({"m2": choice}),
        }
    ),
)
# subnormal prices underflow to 0 when halved, which no relative tolerance can absorb
price_vectors = st.lists(
    st.floats(0, 1e4, allow_subnormal=False), min_size=len(PRICES.names), max_size=len(PRICES.names)
).map(np.array)


def _quantities(specs: list[dict]):
    return quantities(
        SCN, from_specs(SCN, [DeploymentSpec.model_validate(s) for s in specs]), PRICES
    )


@pytest.mark.slow
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(deployment, min_size=1, max_size=5), price_vectors)
def test_costs_are_non_negative_and_totals_are_sums(specs, prices):
    q = _quantities(specs)
    assert np.all(q.q >= 0)
    lines = q.line_costs(prices)
    assert np.all(lines >= 0)
    components = q.component_costs(prices)
    totals = q.totals(prices)[:, 0]
    np.testing.assert_allclose(components.sum(axis=1), totals, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(lines.sum(axis=1), totals, rtol=1e-9, atol=1e-9)


@pytest.mark.slow
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(deployment, min_size=1, max_size=4),
    price_vectors,
    st.integers(0, len(PRICES.names) - 1),
    st.one_of(st.just(0.0), st.floats(1e-3, 100)),
)
def test_scaling_one_price_scales_exactly_its_lines(specs, prices, r, factor):
    q = _quantities(specs)
    changed = prices.copy()
    changed[r] *= factor
    before, after = q.line_costs(prices), q.line_costs(changed)
    mine = q.price_of_line == r
    np.testing.assert_allclose(after[:, mine], before[:, mine] * factor, rtol=1e-12)
    np.testing.assert_array_equal(after[:, ~mine], before[:, ~mine])
    delta = q.totals(changed)[:, 0] - q.totals(prices)[:, 0]
    np.testing.assert_allclose(
        delta, q.by_price[:, r] * prices[r] * (factor - 1), rtol=1e-9, atol=1e-6
    )


@pytest.mark.slow
@settings(max_examples=100, deadline=None)
@given(st.lists(deployment, min_size=1, max_size=4), price_vectors, price_vectors)
def test_cost_is_additive_in_prices(specs, p1, p2):
    q = _quantities(specs)
    np.testing.assert_allclose(
        q.totals(p1 + p2)[:, 0], q.totals(p1)[:, 0] + q.totals(p2)[:, 0], rtol=1e-9, atol=1e-6
    )
