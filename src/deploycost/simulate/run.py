"""Simulate a deployment hour by hour and set the result beside the analytic prediction.

For every model of the deployment's fusion configuration and every hour simulated (the
24 hours of the profile and the peak, or only the peak), Poisson arrivals at the hour's rate
(``queries_per_day x hourly weight / 3600`` times the model's requests per query; at the
peak, the scenario's peak rate) are served by the replicas running that hour (all of them,
or the autoscaled count), with the scenario's dispatch policy, batch size and maximum
queue delay (``deploycost.simulate.engine``). A replica's batch of ``k`` occupies it for
``k / throughput(k)`` (the option grid's figures at batch ``k``); a measured capacity
profile whose latency exceeds that occupancy (a pipelined engine) adds the difference to
each request as a fixed delay. The analytic p99 is computed for the same hour, replicas,
dispatch policy, service variability and batcher delay (``options.performance.Queueing``).

LLM models (continuous batching) and fleets are not simulated yet: their rows say so.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from deploycost.cost.model import CostModel, running_replicas
from deploycost.errors import DeployCostError
from deploycost.memory import check_fits
from deploycost.options.grid import Units
from deploycost.options.performance import Configs, Queueing, performance
from deploycost.scenario.schema import DeploymentSpec, Scenario
from deploycost.simulate.engine import DISTRIBUTIONS, POLICIES, simulate
from deploycost.simulate.stats import estimate

BYTES_PER_REQUEST = 56.0  # arrival, latency, wait, replica, queue link, and a sort copy


@dataclass(frozen=True)
class Settings:
    """How to simulate: requests per model-hour, which hours, dispatch, batching, noise."""

    requests: int = 200_000
    hours: str = "all"  # or "peak"
    dispatch: str = "random"
    max_queue_delay_ms: float = math.inf  # inf: a batch waits until it is full
    service: str = "deterministic"
    cv: float = 0.0
    seed: int = 0

    @classmethod
    def of(cls, scn: Scenario, **given) -> Settings:
        """The scenario's dispatch, batcher delay and service variability, with ``given``
        (None values ignored) on top. Accelerator service times are nearly deterministic
        (CV under 1 % in published benchmarks): that is the distribution unless the scenario
        states ``service_cv`` (the analytic default CV of 1 is its M/M/c assumption for the
        queue wait) or a ``cv`` is given."""
        opts = scn.options
        given = {k: v for k, v in given.items() if v is not None}
        stated = "service_cv" in opts.model_fields_set
        cv = given.pop("cv", opts.service_cv if stated else 0.0)
        service = given.pop("service", "deterministic" if cv == 0.0 else "lognormal")
        delay = given.pop("max_queue_delay_ms", opts.max_queue_delay_ms)
        return cls(
            dispatch=given.pop("dispatch", opts.dispatch),
            max_queue_delay_ms=math.inf if delay is None else delay,
            service=service,
            cv=cv,
            **given,
        )

    def queueing(self) -> Queueing:
        """The analytic model's view of the same settings (for the predicted p99)."""
        cv = {"deterministic": 0.0, "exponential": 1.0}.get(self.service, self.cv)
        return Queueing(self.dispatch, cv, self.max_queue_delay_ms)

    def check(self) -> None:
        problems = []
        if self.dispatch not in POLICIES:
            problems.append(f"dispatch must be one of {', '.join(POLICIES)}, got {self.dispatch!r}")
        if self.service not in DISTRIBUTIONS:
            problems.append(
                f"service must be one of {', '.join(DISTRIBUTIONS)}, got {self.service!r}"
            )
        if not (self.cv >= 0 and math.isfinite(self.cv)):
            problems.append(f"cv must be a finite number >= 0, got {self.cv}")
        if not self.max_queue_delay_ms >= 0:
            problems.append(f"max_queue_delay_ms must be >= 0, got {self.max_queue_delay_ms}")
        if self.hours not in ("all", "peak"):
            problems.append(f"hours must be all or peak, got {self.hours!r}")
        if self.requests < 1000:
            problems.append(f"requests must be >= 1000 per model-hour, got {self.requests}")
        if problems:
            raise DeployCostError("; ".join(problems))
        check_fits(
            "the simulation",
            {"requests per model-hour": self.requests},
            BYTES_PER_REQUEST,
            hint="simulate fewer requests per model-hour (--requests)",
        )


def _batch_sizes_performance(cost: CostModel, batch: int):
    """The performance table at batch sizes 1..batch (config k - 1 is batch k)."""
    sizes = np.arange(1, batch + 1)
    return performance(cost, Configs.of(sizes, np.ones(batch), np.zeros(batch, bool)))


def _service_table(perf, model: int, h: int, c: int, batch: int):
    """Occupancy of a batch of k = 1..batch (s, index 0 unused) and the fixed delay a
    measured capacity profile adds beyond it, from ``_batch_sizes_performance``."""
    sizes = np.arange(1, batch + 1)
    throughput = perf.throughput_qps[model, h, c]
    service_s = perf.service_ms[model, h, c] / 1000.0
    occupancy = sizes / throughput
    occupancy = np.where(np.isfinite(occupancy), occupancy, occupancy[-1])
    fixed = max(0.0, float(service_s[-1] - occupancy[-1]))
    return np.concatenate([[0.0], occupancy]), fixed


def _replicas_by_hour(cost: CostModel, choice, share: float, min_replicas: float) -> np.ndarray:
    if not choice.autoscale or choice.capacity_qps is None:
        return np.full(24, float(choice.replicas))
    one = np.ones(1)
    return running_replicas(
        cost.scn, one * choice.replicas, one * choice.capacity_qps, one * share, one * min_replicas
    )[0]


def simulate_deployment(
    scn: Scenario, spec: DeploymentSpec, settings: Settings, progress=None
) -> pd.DataFrame:
    """One row per (model, hour): rates, replicas, simulated p50 / p99 with 95 % intervals,
    utilisation, the analytic p99 and whether the simulated p99 meets the SLO."""
    settings.check()
    cost = CostModel(scn)
    space, units = cost.space, Units.of(cost)
    fusion = space.fusions.index(spec.fusion or space.fusions[0])
    hourly = np.asarray(scn.workload.hourly_mean_qps)
    peak_qps = scn.workload.peak_qps_resolved
    hours = [*range(24), "peak"] if settings.hours == "all" else ["peak"]
    rng = np.random.default_rng(settings.seed)
    tau = settings.max_queue_delay_ms / 1000.0
    rows = []
    for u in np.nonzero(units.fusion == fusion)[0]:
        i = int(units.model[u])
        name = space.models[i]
        model, choice = scn.model(name), spec.models[name]
        share = float(units.share[u])
        if model.is_llm:
            rows.append({"model": name, "note": "LLM: not simulated yet"})
            continue
        h = space.instances.index(choice.instance)
        c = space.precisions.index(choice.precision or model.checkpoint_precision)
        perf = _batch_sizes_performance(cost, int(choice.batch))
        service, fixed = _service_table(perf, i, h, c, int(choice.batch))
        running = _replicas_by_hour(cost, choice, share, model.min_replicas)
        grid = dataclasses.replace(perf, queueing=settings.queueing())
        for hour in hours:
            rate = share * (peak_qps if hour == "peak" else hourly[hour])
            replicas = int(max(running)) if hour == "peak" else int(running[hour])
            at = tuple(np.array([v]) for v in (i, h, c, int(choice.batch) - 1))
            predicted, _ = grid.latency_ms(at, float(replicas), np.array([rate]))
            row = {
                "model": name,
                "hour": hour,
                "arrival_qps": rate,
                "replicas": replicas,
                "batch": int(choice.batch),
                "dispatch": settings.dispatch,
                "slo_ms": model.latency_limit_ms,
                "predicted_p99_ms": float(predicted[0]),
                "note": "",
            }
            if rate <= 0:
                rows.append({**row, "note": "no traffic"})
                continue
            arrivals = np.cumsum(rng.exponential(1.0 / rate, settings.requests))
            latency, _, _, busy = simulate(
                arrivals,
                replicas,
                POLICIES.index(settings.dispatch),
                int(choice.batch),
                tau,
                service,
                DISTRIBUTIONS.index(settings.service),
                settings.cv,
                rng,
            )
            latency_ms = (latency + fixed) * 1000.0
            p50, p99 = estimate(latency_ms, "p50"), estimate(latency_ms, "p99")
            rows.append(
                {
                    **row,
                    "requests": settings.requests,
                    "p50_ms": p50.value,
                    "p99_ms": p99.value,
                    "p99_low_ms": p99.low,
                    "p99_high_ms": p99.high,
                    "utilisation": float(busy.sum() / (replicas * arrivals[-1])),
                    "met": bool(p99.value <= model.latency_limit_ms),
                    "p99_sim_over_predicted": p99.value / float(predicted[0]),
                }
            )
            if progress is not None:
                progress()
    return pd.DataFrame(rows)


def simulated_rows(table: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``simulate_deployment`` that were simulated (not LLM, not idle)."""
    if "p99_ms" not in table.columns:
        return table.iloc[0:0]
    return table[table.p99_ms.notna()]
