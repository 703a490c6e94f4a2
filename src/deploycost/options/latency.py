"""Latency of replicas under load: the 99th-percentile wait by dispatch policy, with
service variability and a batcher's delay, and the p99 a model sees over the hours.

p99 = batch-formation delay ``(b - 1) n / lambda`` + service time + the 99th-percentile
wait (``options.queueing``); an LLM's TTFT queues for a sequence slot (``slot_wait_ms``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy.special import ndtri

from deploycost.options.queueing import quantile_of_tail, wait_tail

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


TAIL = 0.01  # the p99's share of requests above it
# Splits (formation, wait, service) of that tail among which the latency bound takes the
# smallest: (0, 1, 0) reproduces "p99 wait + mean service" for fixed service times, where
# the service has no tail to give
SPLITS = tuple(
    (f, (1.0 - f) * w, (1.0 - f) * (1.0 - w))
    for f in (0.0, 0.25, 0.5)
    for w in ((1.0, 0.9, 0.75, 0.5, 0.25, 0.1) if f == 0.0 else (1.0, 0.75, 0.5, 0.25))
)


def service_tail_factor(cv, beyond: float) -> np.ndarray:
    """The service time exceeded with probability ``beyond``, in means: a lognormal of
    mean one and coefficient of variation ``cv`` (the simulator's noise), ``exp(z s -
    s^2 / 2)`` with ``s^2 = ln(1 + cv^2)``; 1 for fixed times (``cv`` 0); inf where
    ``beyond`` is 0 and the time varies."""
    cv = np.asarray(cv, float)
    if beyond <= 0:
        return np.where(cv > 0, np.inf, 1.0)
    sigma2 = np.log1p(cv * cv)
    return np.exp(ndtri(1.0 - beyond) * np.sqrt(sigma2) - sigma2 / 2.0)


def gamma_quantile(shape, mean, beyond: float) -> np.ndarray:
    """The value a Gamma(``shape``) variable of ``mean`` exceeds with probability ``beyond``
    (Wilson-Hilferty: ``mean (1 - 1/(9k) + z / (3 sqrt k))^3``, within 1 % of the exact
    quantile for k >= 1 at the 99th percentile; inf at ``beyond`` 0)."""
    if beyond <= 0:
        return np.full(np.shape(mean), np.inf)
    k = np.maximum(np.asarray(shape, float), 1e-9)
    z = ndtri(1.0 - beyond)
    return mean * np.maximum(1.0 - 1.0 / (9.0 * k) + z / (3.0 * np.sqrt(k)), 0.0) ** 3


def latency_p99_ms(formation, tail, service_ms, cv) -> np.ndarray:
    """The p99 of formation + wait + service, bounded without assuming them independent:
    ``P(F + W + S > f + w + s) <= P(F > f) + P(W > w) + P(S > s)``, so for every split of
    the 1 % tail the sum of the three quantiles at their shares is at least the p99; the
    smallest over ``SPLITS``. ``formation`` = (Gamma shape, mean ms, cap ms) of the time
    the first request of a batch waits for it to fill (the batcher's delay caps it);
    ``tail`` = (P(wait), drain 1/s, scale) of the policy's wait (``policy_wait_tail``);
    ``cv`` the service time's."""
    shape, mean_ms, cap_ms = formation
    p_wait, drain, scale = tail
    # the pieces that do not depend on the split, once (this runs inside bisections)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_wait = np.log(p_wait)
        stable = drain > 0
        per_nat_ms = np.where(stable, scale * 1000.0 / drain, 0.0)
    filling = np.asarray(mean_ms) > 0
    fills = {
        f: np.where(filling, np.minimum(gamma_quantile(shape, mean_ms, TAIL * f), cap_ms), 0.0)
        for f in {f for f, _, _ in SPLITS}
    }
    best = np.inf
    for f, w, s in SPLITS:
        # quantile_of_tail: ln(P(wait) / beyond) / drain, 0 when fewer wait
        nats = np.maximum(log_wait - np.log(TAIL * w), 0.0)
        with np.errstate(invalid="ignore"):
            wait_ms = np.where(stable, nats * per_nat_ms, np.inf)
            served_ms = service_ms * service_tail_factor(cv, TAIL * s)
            best = np.minimum(best, fills[f] + wait_ms + served_ms)
    return best


def policy_wait_tail(
    replicas: np.ndarray,
    arrival_qps: np.ndarray,
    throughput: np.ndarray,
    q: Queueing,
    dispatch: str | np.ndarray | None = None,
    batch: np.ndarray | float = 1.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The queue wait's tail for a replica, by dispatch policy, with a service-time
    variability correction (Allen-Cunneen: the M/M wait times ``(ca^2 + cs^2) / 2``).
    The customers are *batches*: b requests served together in ``b / throughput`` s with
    the scenario's CV, arriving as the b-th of b Poisson arrivals (``ca^2 = 1 / b``); the
    same Erlang C as per request, a drain b times slower. Counted per request instead, a
    batch's service variability would be spread over b requests: with b = 16 and CV 0.5
    the wait came out 4x short of simulation; for fixed service times both agree.

    * ``central_queue``: one queue, ``replicas`` servers: M/M/c (``ca^2 = 1``);
    * ``random``: each replica an M/M/1 queue at ``lambda / n`` (a random split of a
      Poisson stream is Poisson, ``ca^2 = 1``);
    * ``round_robin``: each replica fed every n-th request, Erlang-n gaps (``ca^2 = 1/n``);
    * ``least_request``: taken as random (the power of two choices does better than random
      in simulation, but can do worse than round robin with near-deterministic service at
      high load: this side errs long, never short).

    ``cs^2`` is ``service_cv^2``: 1 (exponential) reproduces plain M/M/c and M/M/1.
    ``dispatch`` (a name, or one per point) defaults to ``q.dispatch``. Returns (P(wait),
    drain 1/s, scale): ``P(W > t) = P(wait) exp(-drain t / scale)``.
    """
    policy = q.dispatch if dispatch is None else dispatch
    return _policy_tail(replicas, arrival_qps, throughput, policy, q.service_cv**2, 1.0, batch)


def slot_wait_ms(slots, replicas, arrival_qps, throughput, dispatch, cs2=1.0) -> np.ndarray:
    """The 99th-percentile wait of an LLM request for a sequence slot (M/M/c over slots, a
    request's time ``slots / throughput`` on average), by dispatch policy:
    ``central_queue`` one queue for every slot of every replica; ``random`` and
    ``least_request`` (taken as random, as in ``policy_wait_tail``) an M/M/c queue of one
    replica's slots at ``lambda / n``; ``round_robin`` the same with Erlang-n arrivals;
    scaled by Allen-Cunneen's ``(ca^2 + cs^2) / 2`` with ``cs2`` the squared CV of a
    request's time in its slot (1: exponential)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        per_slot = throughput / slots
    p_wait, drain, scale = _policy_tail(replicas, arrival_qps, per_slot, dispatch, cs2, slots)
    return quantile_of_tail(p_wait, drain, TAIL) * scale * 1000.0


def _policy_tail(replicas, arrival_qps, server_qps, dispatch, cs2, per_replica=1.0, batch=1.0):
    """The wait's tail for one of ``per_replica`` servers of rate ``server_qps`` (requests/s)
    in each of ``replicas`` replicas, serving ``batch`` requests at once: one M/M/c queue
    over all of them (``central_queue``), else an M/M/c queue per replica at
    ``lambda / n``; in batches the drain is ``batch`` times slower; scaled by
    ``(ca^2 + cs^2) / 2`` with ``ca^2 = 1 / (n b)`` for round robin, else ``1 / b``. Only
    the queue models a policy needs are computed."""
    policy = np.asarray(dispatch, object)
    pooled = policy == "central_queue"
    with np.errstate(divide="ignore", invalid="ignore"):
        if np.all(pooled):
            p_wait, drain = wait_tail(replicas * per_replica, arrival_qps, server_qps)
        elif not np.any(pooled):
            p_wait, drain = wait_tail(per_replica, arrival_qps / replicas, server_qps)
        else:
            whole = wait_tail(replicas * per_replica, arrival_qps, server_qps)
            each = wait_tail(per_replica, arrival_qps / replicas, server_qps)
            p_wait = np.where(pooled, whole[0], each[0])
            drain = np.where(pooled, whole[1], each[1])
    batch = np.maximum(np.asarray(batch, float), 1.0)
    ca2 = np.where(policy == "round_robin", 1.0 / np.maximum(replicas, 1.0), 1.0) / batch
    return p_wait, drain / batch, (ca2 + cs2) / 2.0


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
    the measured p99 directly; otherwise the p99 of batch formation + queue wait + service
    time (``latency_p99_ms``):

    * formation: the first request's wait for ``b - 1`` more arrivals at ``lambda / n``
      (from a central queue at ``lambda``; Erlang gaps under round robin), at most the
      batcher's maximum queue delay ``tau``;
    * wait: the dispatch policy's (``policy_wait_tail``) for batches of ``b``;
    * service: the full batch's time with its own tail at ``q.service_cv``.

    A batcher whose delay ends batches before they fill runs partial batches, which cost
    more per request than full ones: the wait is then counted at a throughput the replica
    does not reach (1 of 400 random configurations, deterministic service, batches of ~2
    of 4: 12 % short of simulation; ``benchmarks/compare_analytic_sim.py``).
    """
    policy = np.asarray(q.dispatch if dispatch is None else dispatch, object)
    # a replica's batch fills from its share of the arrivals (every n-th one under round
    # robin: Erlang-n gaps), a central queue's from all of them
    feeding = np.where(policy == "central_queue", 1.0, replicas)
    stages = np.where(policy == "round_robin", replicas, 1.0)
    more = np.maximum(batch - 1.0, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        fill_mean_ms = np.where(more > 0, more * feeding / arrival_qps * 1000.0, 0.0)
    formation = (more * stages, fill_mean_ms, q.max_queue_delay_ms)
    tail = policy_wait_tail(replicas, arrival_qps, throughput, q, dispatch, batch)
    total_ms = latency_p99_ms(formation, tail, service_ms, q.service_cv)
    measured_capacity = ~np.isnan(bound_ms) & (slo_ms >= bound_ms)
    return np.where(measured_capacity, service_ms, total_ms)


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
