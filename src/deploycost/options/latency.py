"""Latency of replicas under load: the 99th-percentile wait by dispatch policy, with
service variability and a batcher's delay, and the p99 a model sees over the hours.

p99 = batch-formation delay ``(b - 1) n / lambda`` + service time + the 99th-percentile
wait (``options.queueing``); an LLM's TTFT queues for a sequence slot (``slot_wait_ms``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from deploycost.options.queueing import wait_quantile_s

if TYPE_CHECKING:
    from deploycost.options.performance import Performance


@dataclass(frozen=True)
class Queueing:
    """How requests reach replicas and how service times vary (``options``; a model's own
    ``dispatch`` overrides the scenario's: ``by_model[i]`` for model index i)."""

    dispatch: str = "central_queue"
    service_cv: float = 1.0
    max_queue_delay_ms: float = np.inf
    by_model: tuple[str, ...] = ()

    @classmethod
    def of(cls, scn) -> Queueing:
        opts = scn.options
        delay = opts.max_queue_delay_ms
        own = tuple(m.dispatch or opts.dispatch for m in scn.models)
        by_model = own if any(d != opts.dispatch for d in own) else ()
        return cls(opts.dispatch, opts.service_cv, np.inf if delay is None else delay, by_model)

    def of_models(self, model) -> str | np.ndarray:
        """The dispatch policy of each model index in ``model`` (one name when all share
        the scenario's)."""
        if not self.by_model:
            return self.dispatch
        return np.asarray(self.by_model, object)[np.asarray(model)]


def queue_wait_ms(
    replicas: np.ndarray,
    arrival_qps: np.ndarray,
    throughput: np.ndarray,
    q: Queueing,
    dispatch: str | np.ndarray | None = None,
) -> np.ndarray:
    """The 99th-percentile wait for a replica, by dispatch policy, with a service-time
    variability correction (Allen-Cunneen: the M/M wait times ``(ca^2 + cs^2) / 2``):

    * ``central_queue``: one queue, ``replicas`` servers: M/M/c (``ca^2 = 1``);
    * ``random``: each replica an M/M/1 queue at ``lambda / n`` (a random split of a
      Poisson stream is Poisson, ``ca^2 = 1``);
    * ``round_robin``: each replica fed every n-th request, Erlang-n gaps (``ca^2 = 1/n``);
    * ``least_request``: taken as random (the power of two choices does better than random
      in simulation, but can do worse than round robin with near-deterministic service at
      high load: this side errs long, never short).

    ``cs^2`` is ``service_cv^2``: 1 (exponential) reproduces plain M/M/c and M/M/1.
    ``dispatch`` (a name, or one per point) defaults to ``q.dispatch``.
    """
    policy = q.dispatch if dispatch is None else dispatch
    return _policy_wait_ms(replicas, arrival_qps, throughput, policy, q.service_cv**2)


def slot_wait_ms(slots, replicas, arrival_qps, throughput, dispatch) -> np.ndarray:
    """The 99th-percentile wait of an LLM request for a sequence slot (M/M/c over slots, a
    request's time ``slots / throughput`` on average), by dispatch policy:
    ``central_queue`` one queue for every slot of every replica; ``random`` and
    ``least_request`` (taken as random, as in ``queue_wait_ms``) an M/M/c queue of one
    replica's slots at ``lambda / n``; ``round_robin`` the same with Erlang-n arrivals
    (Allen-Cunneen, ``(1/n + 1) / 2``)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        per_slot = throughput / slots
    return _policy_wait_ms(replicas, arrival_qps, per_slot, dispatch, 1.0, slots)


def _policy_wait_ms(replicas, arrival_qps, server_qps, dispatch, cs2, per_replica=1.0):
    """The p99 wait (ms) for one of ``per_replica`` servers of rate ``server_qps`` in each
    of ``replicas`` replicas: one M/M/c queue over all of them (``central_queue``), else
    an M/M/c queue per replica at ``lambda / n``; times ``(ca^2 + cs^2) / 2`` with
    ``ca^2 = 1/n`` for round robin, else 1. Only the queue models a policy needs are
    computed."""
    policy = np.asarray(dispatch, object)
    pooled = policy == "central_queue"
    with np.errstate(divide="ignore", invalid="ignore"):
        if np.all(pooled):
            base = wait_quantile_s(replicas * per_replica, arrival_qps, server_qps)
        elif not np.any(pooled):
            base = wait_quantile_s(per_replica, arrival_qps / replicas, server_qps)
        else:
            base = np.where(
                pooled,
                wait_quantile_s(replicas * per_replica, arrival_qps, server_qps),
                wait_quantile_s(per_replica, arrival_qps / replicas, server_qps),
            )
    ca2 = np.where(policy == "round_robin", 1.0 / np.maximum(replicas, 1.0), 1.0)
    return base * ((ca2 + cs2) / 2.0) * 1000.0


def p99_latency_ms(
    throughput: np.ndarray,
    service_ms: np.ndarray,
    bound_ms: np.ndarray,
    replicas: np.ndarray,
    arrival_qps: np.ndarray,
    batch: np.ndarray,
    slo_ms: np.ndarray,
    q: Queueing = Queueing(),
    dispatch: str | np.ndarray | None = None,
) -> np.ndarray:
    """p99 latency of ``replicas`` servers at ``arrival_qps`` (all arrays broadcast).

    A measured capacity (``bound_ms`` not NaN) with an SLO no tighter than its bound gives
    the measured p99 directly; otherwise batch formation ``(b - 1) n / lambda`` (at most
    the batcher's maximum queue delay) + service time + the 99th-percentile queue wait of
    the dispatch policy (``queue_wait_ms``).
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        batch_ms = np.where(batch > 1, (batch - 1) * replicas / arrival_qps * 1000.0, 0.0)
    batch_ms = np.minimum(batch_ms, q.max_queue_delay_ms)
    wait_ms = queue_wait_ms(replicas, arrival_qps, throughput, q, dispatch)
    measured_capacity = ~np.isnan(bound_ms) & (slo_ms >= bound_ms)
    return np.where(measured_capacity, service_ms, batch_ms + service_ms + wait_ms)


def option_latency(
    perf: Performance,
    workload,
    every_hour: bool,
    at: tuple[np.ndarray, ...],
    replicas: np.ndarray,
    peak_qps: np.ndarray,
    share: np.ndarray,
    hourly_replicas: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(p99, TTFT) of options (``share``: requests per query of each) at the peak, or with
    ``every_hour`` the worst of the peak and every hour (``worst_hour_latency``, at
    ``hourly_replicas`` (K, 24) where an autoscaler runs fewer): what the option grid
    enforces and the audit recomputes."""
    if not every_hour:
        return perf.latency_ms(at, replicas, peak_qps)
    hourly = np.asarray(share)[:, None] * np.asarray(workload.hourly_mean_qps)
    return worst_hour_latency(perf, at, replicas, peak_qps, hourly, hourly_replicas)


HOUR_CHUNK = 50_000  # candidate options evaluated at once over the 24 hours


def worst_hour_latency(
    perf: Performance,
    at: tuple[np.ndarray, ...],
    replicas: np.ndarray,
    peak_qps: np.ndarray,
    hourly_qps: np.ndarray,
    hourly_replicas: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(p99, TTFT p99) of K options, the worst of the peak and every hour of the day.

    ``at`` are flat (model, instance, precision, config) indices, ``replicas`` and
    ``peak_qps`` (K,), ``hourly_qps`` (K, 24). Off-peak a batch fills more slowly
    (formation ``(b - 1) n / lambda_h``, capped by the batcher's delay); an hour without
    traffic has no latency to meet. Every hour is checked at ``hourly_replicas`` (K, 24),
    the replicas running then (an autoscaler's count), or the deployed count."""
    p99, ttft = perf.latency_ms(at, replicas, peak_qps)
    p99, ttft = np.array(p99, float), np.array(ttft, float)
    if hourly_replicas is None:
        hourly_replicas = np.asarray(replicas, float)[:, None]
    for start in range(0, len(replicas), HOUR_CHUNK):
        k = slice(start, start + HOUR_CHUNK)
        rates = hourly_qps[k]
        where = tuple(a[k, None] for a in at)
        with np.errstate(divide="ignore", invalid="ignore"):
            hour_p99, hour_ttft = perf.latency_ms(where, hourly_replicas[k], rates)
        idle = rates <= 0
        p99[k] = np.maximum(p99[k], np.where(idle, 0.0, hour_p99).max(axis=1))
        worst_ttft = np.where(idle | np.isnan(hour_ttft), -np.inf, hour_ttft).max(axis=1)
        ttft[k] = np.where(np.isnan(ttft[k]), ttft[k], np.maximum(ttft[k], worst_ttft))
    return p99, ttft
