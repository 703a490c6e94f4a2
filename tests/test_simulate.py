"""The simulator against closed forms at 10^6 requests, an independent reference
implementation, and the structural facts of dispatch and batching."""

from __future__ import annotations

import heapq

import numpy as np
import pytest

from deploycost.options.queueing import erlang_c, wait_quantile_s
from deploycost.simulate.engine import DISTRIBUTIONS, POLICIES, simulate
from deploycost.simulate.stats import estimate

N = 1_000_000
ONE = np.array([0.0, 1.0])  # service seconds of a batch of 1 (index 0 unused)


def _arrivals(rate: float, n: int = N, seed: int = 1) -> np.ndarray:
    return np.cumsum(np.random.default_rng(seed).exponential(1.0 / rate, n))


def _run(
    a,
    replicas=1,
    policy="round_robin",
    batch=1,
    tau=0.0,
    service=ONE,
    dist="exponential",
    cv=0.0,
    seed=7,
):
    return simulate(
        a,
        replicas,
        POLICIES.index(policy),
        batch,
        tau,
        service,
        DISTRIBUTIONS.index(dist),
        cv,
        np.random.default_rng(seed),
    )


def test_mm1_mean_and_p99_sojourn():
    """M/M/1, lambda 0.8, mu 1: sojourn ~ Exp(mu - lambda): mean 5 s, p99 ln(100)/0.2."""
    latency, *_ = _run(_arrivals(0.8))
    assert estimate(latency, "mean").covers(5.0)
    assert estimate(latency, "p99").covers(np.log(100) / 0.2)


def test_mmc_wait_matches_erlang_c():
    """M/M/4 (central queue), lambda 3.2, mu 1: mean wait C / (c mu - lambda), p99 wait
    from the Erlang C tail (the analytic model's own function)."""
    _, wait, *_ = _run(_arrivals(3.2), replicas=4, policy="central_queue")
    assert estimate(wait, "mean").covers(float(erlang_c(4, 3.2)) / (4 - 3.2))
    assert estimate(wait, "p99").covers(float(wait_quantile_s(4, 3.2, 1.0)))


def test_md1_mean_wait_is_pollaczek_khinchine():
    """M/D/1, rho 0.8, service 1 s: Wq = rho S / (2 (1 - rho)) = 2 s."""
    _, wait, *_ = _run(_arrivals(0.8), dist="deterministic")
    assert estimate(wait, "mean").covers(2.0)


def _reference_mdc_waits(a: np.ndarray, servers: int, service: float) -> np.ndarray:
    """FIFO M/D/c written the plain way: each request takes the earliest free server."""
    free = [0.0] * servers
    waits = np.empty(len(a))
    for i, t in enumerate(a):
        earliest = heapq.heappop(free)
        start = max(t, earliest)
        waits[i] = start - t
        heapq.heappush(free, start + service)
    return waits


def test_mdc_p99_wait_against_an_independent_reference():
    """M/D/5 at rho 0.9: the p99 wait of the simulator's central queue against a heap-based
    reference run on its own arrivals (a different implementation of the same system)."""
    a = _arrivals(4.5, n=300_000, seed=3)
    reference = np.quantile(_reference_mdc_waits(a, 5, 1.0)[15_000:], 0.99)
    _, wait, *_ = _run(
        _arrivals(4.5, seed=5), replicas=5, policy="central_queue", dist="deterministic"
    )
    got = estimate(wait, "p99")
    assert got.low * 0.97 <= reference <= got.high * 1.03  # reference has its own noise
    # M/D/c waits are shorter than M/M/c's (half, in heavy traffic)
    assert got.value < 0.7 * float(wait_quantile_s(5, 4.5, 1.0))


def test_round_robin_is_c_queues_with_erlang_arrivals():
    """Round robin over 4 replicas of a Poisson(3.2) stream gives each replica Erlang-4
    interarrival times of rate 0.8: one such queue has the same mean wait."""
    _, wait_rr, *_ = _run(_arrivals(3.2), replicas=4, dist="deterministic")
    gaps = np.random.default_rng(9).gamma(4.0, 1.0 / 3.2, N // 4)
    _, wait_one, *_ = _run(np.cumsum(gaps), dist="deterministic")
    rr, one = estimate(wait_rr, "mean"), estimate(wait_one, "mean")
    assert rr.low <= one.high
    assert one.low <= rr.high


def test_random_dispatch_is_worse_than_round_robin_and_central_queue_best():
    a = _arrivals(3.2)
    p99 = {
        policy: estimate(_run(a, replicas=4, policy=policy)[0], "p99").value for policy in POLICIES
    }
    assert p99["central_queue"] < p99["least_request"] < p99["round_robin"] < p99["random"]


def test_batch_delay_never_exceeds_the_cap():
    """At low load (the server is always free), a request waits for its batch at most the
    maximum queue delay; with no cap, batch 8 waits for seven more arrivals."""
    a = _arrivals(100.0, n=200_000)
    service = np.linspace(0.0, 0.0008, 9)  # 0.1 ms per request in the batch
    _, wait, *_ = _run(a, batch=8, tau=0.005, service=service, dist="deterministic")
    assert np.nanmax(wait) <= 0.005 + 1e-12
    _, uncapped, *_ = _run(a, batch=8, tau=np.inf, service=service, dist="deterministic")
    # each of 8 waits for the arrivals after it: (b - 1) / 2 mean gaps (of this sample)
    assert estimate(uncapped, "mean").covers(7 / 2 * np.diff(a).mean())


def test_a_seeded_run_is_reproducible_bit_for_bit():
    a = _arrivals(3.0, n=100_000)
    first = _run(
        a, replicas=4, policy="least_request", batch=4, tau=0.01, dist="lognormal", cv=0.3, seed=11
    )
    again = _run(
        a, replicas=4, policy="least_request", batch=4, tau=0.01, dist="lognormal", cv=0.3, seed=11
    )
    other = _run(
        a, replicas=4, policy="least_request", batch=4, tau=0.01, dist="lognormal", cv=0.3, seed=12
    )
    for x, y in zip(first, again, strict=True):
        assert np.array_equal(x, y)
    assert not np.array_equal(first[0], other[0])


def test_lognormal_noise_has_mean_one_and_the_cv_asked():
    a = np.arange(200_000) * 10.0  # far apart: no queueing, latency = service time
    latency, *_ = _run(a, dist="lognormal", cv=0.5)
    assert latency.mean() == pytest.approx(1.0, rel=0.01)
    assert latency.std() / latency.mean() == pytest.approx(0.5, rel=0.02)
