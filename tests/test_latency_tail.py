"""The analytic p99 with the service-time tail against the simulator on random
configurations (every dispatch policy, service CV 0-1.5, batches with a batcher delay): it
is never optimistic by more than 10 % (``benchmarks/compare_analytic_sim.py`` prints the
full distribution over 400)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from deploycost.options.latency import (
    SPLITS,
    Queueing,
    gamma_quantile,
    p99_latency_ms,
    service_tail_factor,
)
from deploycost.simulate.compare import compare, random_configs


def test_the_service_tail_is_the_lognormal_quantile():
    # CV 1: sigma^2 = ln 2; p99 = exp(2.3263 sqrt(ln 2) - ln 2 / 2) = 4.90 means
    s = math.sqrt(math.log(2.0))
    assert float(service_tail_factor(1.0, 0.01)) == pytest.approx(
        math.exp(2.3263478740408408 * s - s * s / 2), rel=1e-9
    )
    assert float(service_tail_factor(0.0, 0.0)) == 1.0  # fixed times have no tail
    assert math.isinf(float(service_tail_factor(0.3, 0.0)))
    rng = np.random.default_rng(0)
    sigma2 = math.log(1 + 0.5**2)
    draws = rng.lognormal(-sigma2 / 2, math.sqrt(sigma2), 2_000_000)
    assert float(service_tail_factor(0.5, 0.01)) == pytest.approx(
        np.quantile(draws, 0.99), rel=0.01
    )


def test_the_formation_quantile_is_the_gamma_quantile():
    from scipy import stats

    for shape in (1, 3, 15, 120):
        exact = stats.gamma.ppf(0.99, shape, scale=2.0 / shape)
        assert float(gamma_quantile(shape, 2.0, 0.01)) == pytest.approx(exact, rel=0.01)


def test_fixed_service_keeps_wait_plus_service():
    """With CV 0 the split (0, 1, 0) gives the p99 wait + the service time: the bound is
    the former figure for batch 1 (the tail adds nothing where there is none)."""
    from deploycost.options.queueing import wait_quantile_s

    assert (0.0, 1.0, 0.0) in SPLITS
    q = Queueing("random", 0.0)
    got = p99_latency_ms(
        np.array(100.0),
        np.array(10.0),
        np.array(np.nan),
        np.array(4.0),
        np.array(320.0),
        np.array(1.0),
        np.array(np.inf),
        q,
    )
    wait = float(wait_quantile_s(1, 80.0, 100.0)) * 1000 / 2
    assert float(got) == pytest.approx(10.0 + wait, rel=1e-12)


@pytest.mark.slow
def test_the_analytic_p99_is_never_optimistic_on_random_configurations():
    table = compare(random_configs(120, seed=7), requests=50_000, seed=7)
    # the simulated p99's own 95 % interval: the analytic figure is at least 0.9 of it
    short = table[table.analytic_ms < 0.9 * table.sim_low_ms]
    assert short.empty, short.to_string()
    assert (table.ratio >= 0.9).mean() >= 0.97
    assert set(table.policy) == {"round_robin", "random", "least_request", "central_queue"}
    assert (table.cv == 0).any()
    assert (table.cv > 1).any()
    assert (table.batch > 1).any()
