"""The analytic p99 against simulation on random replica configurations.

A configuration is one model on ``replicas`` identical servers: a dispatch policy, a
utilisation (of the full-batch throughput), a service time per batch size
``s_k = s_1 (1 + growth (k - 1))``, a maximum batch with a batcher's maximum queue delay,
and a service-time CV (lognormal noise of mean one per batch; 0: deterministic). The same
configuration is given to the analytic model (``options.latency.p99_latency_ms``) and to
the discrete-event kernel (``simulate.engine``); ``compare`` returns both p99s.
Used by ``benchmarks/compare_analytic_sim.py`` and by a slow test that holds the bound.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from deploycost.options.latency import Queueing, p99_latency_ms
from deploycost.simulate import POLICIES
from deploycost.simulate.stats import estimate

BATCHES = (1, 1, 1, 2, 4, 8, 16, 32)  # drawn uniformly: batch 1 three times as often
ZERO_CV_SHARE = 0.2  # configurations with deterministic service


@dataclass(frozen=True)
class Config:
    policy: str
    replicas: int
    utilisation: float
    cv: float
    batch: int
    service_1_ms: float  # one request alone
    growth: float  # extra service per extra request in a batch, as a share of s_1
    delay_ms: float  # the batcher's maximum queue delay (inf: full batches only)

    def service_s(self) -> np.ndarray:
        """Seconds of a batch of k = 0..batch (index 0 unused)."""
        k = np.arange(self.batch + 1)
        return self.service_1_ms / 1000.0 * (1.0 + self.growth * np.maximum(k - 1, 0))

    @property
    def throughput(self) -> float:
        """Requests/s of one replica serving full batches."""
        return self.batch / self.service_s()[self.batch]

    @property
    def arrival_qps(self) -> float:
        return self.utilisation * self.replicas * self.throughput


def random_configs(count: int, seed: int = 0) -> list[Config]:
    """``count`` configurations over the ranges the analytic model must hold on: 1-40
    replicas, utilisation 0.3-0.95, service CV 0-1.5, batch 1-32 with a delay, every policy
    in turn."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(count):
        batch = int(rng.choice(BATCHES))
        s1 = float(np.exp(rng.uniform(np.log(1.0), np.log(20.0))))
        cv = 0.0 if rng.random() < ZERO_CV_SHARE else float(rng.uniform(0.05, 1.5))
        out.append(
            Config(
                policy=POLICIES[i % len(POLICIES)],
                replicas=int(np.round(np.exp(rng.uniform(0.0, np.log(40.0))))),
                utilisation=float(rng.uniform(0.3, 0.95)),
                cv=cv,
                batch=batch,
                service_1_ms=s1,
                growth=float(rng.uniform(0.05, 0.6)),
                delay_ms=float(s1 * rng.uniform(0.2, 3.0)) if batch > 1 else np.inf,
            )
        )
    return out


def analytic_p99_ms(c: Config) -> float:
    q = Queueing(c.policy, c.cv, c.delay_ms)
    return float(
        p99_latency_ms(
            np.array(c.throughput),
            np.array(c.service_s()[c.batch] * 1000.0),
            np.array(np.nan),
            np.array(float(c.replicas)),
            np.array(c.arrival_qps),
            np.array(float(c.batch)),
            np.array(np.inf),
            q,
            c.policy,
        )
    )


def simulated_p99_ms(c: Config, requests: int, seed: int) -> tuple[float, float, float]:
    """(p99, its 95 % interval low, high) in ms of ``requests`` Poisson arrivals."""
    from deploycost.simulate.engine import simulate

    rng = np.random.default_rng(seed)
    arrivals = np.cumsum(rng.exponential(1.0 / c.arrival_qps, requests))
    kind = 0 if c.cv == 0 else 1
    tau = c.delay_ms / 1000.0 if c.batch > 1 else 0.0
    latency = simulate(
        arrivals,
        c.replicas,
        POLICIES.index(c.policy),
        c.batch,
        tau,
        c.service_s(),
        kind,
        c.cv,
        rng,
    )[0]
    e = estimate(latency * 1000.0, "p99")
    return e.value, e.low, e.high


def requests_for(c: Config, base: int) -> int:
    """More requests near saturation, where a queue's p99 settles slowly: ``base`` up to
    utilisation 0.6, ``base x (0.4 / (1 - rho))^2`` above it, at most 20x (from 0.91)."""
    return int(base * min(20.0, max(1.0, (0.4 / (1.0 - c.utilisation)) ** 2)))


def compare(configs: list[Config], requests: int = 100_000, seed: int = 0) -> pd.DataFrame:
    """One row per configuration: its settings, the simulated p99 (with its interval),
    the analytic p99 and their ratio analytic / simulated (``requests`` at low load,
    ``requests_for``)."""
    rows = []
    for i, c in enumerate(configs):
        sim, low, high = simulated_p99_ms(c, requests_for(c, requests), seed + i)
        rows.append(
            {
                **c.__dict__,
                "simulated_ms": sim,
                "sim_low_ms": low,
                "sim_high_ms": high,
                "analytic_ms": analytic_p99_ms(c),
            }
        )
    table = pd.DataFrame(rows)
    table["ratio"] = table.analytic_ms / table.simulated_ms
    table["cv_band"] = pd.cut(
        table.cv, [-0.01, 0.0, 0.5, 1.0, 1.5], labels=["0", "0-0.5", "0.5-1", "1-1.5"]
    )
    return table
