"""The discrete-event core: requests dispatched to replicas that serve dynamic batches.

Requests arrive at sorted times ``a``. A *dispatch policy* sends each to a replica queue:

* ``round_robin``: replica ``i mod r`` for the i-th request;
* ``random``: a uniformly random replica (what a Kubernetes Service does);
* ``least_request``: the fewer outstanding (queued + in service) of two random replicas
  (power of two choices, Envoy's LEAST_REQUEST);
* ``central_queue``: one FIFO queue that every replica pulls from (M/G/c).

A replica serves one *batch* at a time (a dynamic batcher such as Triton's, with a maximum
batch ``B`` and a maximum queue delay ``tau``): when it is free it starts a batch as soon as
``B`` requests wait, or when the oldest waiting request has waited ``tau`` (``tau = 0``:
whatever is waiting, at once; ``tau = inf``: only full batches). A batch of ``k`` takes
``service[k]`` seconds times a noise factor of mean one: none (deterministic), lognormal
with a coefficient of variation, or exponential.

The state advances lazily: before a request is placed, the replicas it may join are brought
up to its arrival time (every batch that must have started by then is started; arrivals
are known in order, so no later request can join those). That makes one kernel exact for
all four policies. It is compiled with numba: it is a loop over requests with a little work
each, which numpy cannot vectorise for the state-dependent policies and batching (see
``benchmarks/bench_simulate.py`` for the measured gain over the same loop in Python).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

POLICIES = ("round_robin", "random", "least_request", "central_queue")
DISTRIBUTIONS = ("deterministic", "lognormal", "exponential")


@njit(cache=True)
def _noise(rng, kind: int, sigma: float) -> float:
    if kind == 0:
        return 1.0
    if kind == 1:
        return math.exp(sigma * rng.standard_normal() - 0.5 * sigma * sigma)
    return rng.exponential(1.0)


@njit(cache=True)
def _pick(rng, replicas: int) -> int:
    """A uniformly random replica (numba's Generator has no ``integers``)."""
    return min(int(rng.random() * replicas), replicas - 1)


@njit(cache=True)
def _start_time(oldest: float, full_at: float, free: float, tau: float) -> float:
    """When a replica free at ``free`` starts its next batch: at ``full_at`` (the arrival
    that fills it) or at ``oldest + tau``, whichever comes first, but not before it is free
    or before the oldest request is there."""
    return max(free, oldest, min(full_at, oldest + tau))


@njit(cache=True)
def _advance(rng, q: int, until: float, a, state, model) -> None:
    """Start every batch of queue ``q`` that starts before ``until``. For a central queue
    (``servers`` > 1) the batch goes to the earliest free server. ``state`` and ``model``
    are the tuples ``simulate`` builds (queues and servers; batching and service)."""
    nxt, head, tail, count, free, busy, in_service, service_end, latency, wait, server_of = state
    max_batch, tau, service, kind, sigma, servers = model
    while count[q] > 0:
        s = 0
        if servers > 1:
            for j in range(1, servers):
                if free[j] < free[s]:
                    s = j
        else:
            s = q
        first = head[q]
        oldest = a[first]
        full_at = math.inf
        if count[q] >= max_batch:
            j = first
            for _ in range(max_batch - 1):
                j = nxt[j]
            full_at = a[j]
        start = _start_time(oldest, full_at, free[s], tau)
        if start > until or start == math.inf:  # a partial batch at the end never fills
            return
        k = 0
        j = first
        while k < max_batch and k < count[q] and a[j] <= start:
            k += 1
            j = nxt[j]
        duration = service[k] * _noise(rng, kind, sigma)
        done = start + duration
        j = first
        for _ in range(k):
            latency[j] = done - a[j]
            wait[j] = start - a[j]
            server_of[j] = s
            j = nxt[j]
        head[q] = j
        count[q] -= k
        if count[q] == 0:
            tail[q] = -1
        free[s] = done
        busy[s] += duration
        in_service[s] = k
        service_end[s] = done


@njit(cache=True)
def simulate(
    a,
    replicas: int,
    policy: int,
    max_batch: int,
    tau: float,
    service,
    kind: int,
    cv: float,
    rng,
):
    """Latency of every request (s), its wait before its batch started (s), the replica
    that served it, and each replica's busy seconds. ``a`` sorted arrival times (s);
    ``service[k]`` the seconds of a batch of k (index 0 unused); ``kind`` an index into
    ``DISTRIBUTIONS``; ``policy`` into ``POLICIES``; ``rng`` a ``numpy.random.Generator``
    (all randomness comes from it). Requests left in a batch that never fills (no maximum
    queue delay, the arrivals ended) have NaN latency and wait."""
    n = len(a)
    sigma = math.sqrt(math.log(1.0 + cv * cv)) if kind == 1 else 0.0
    central = policy == 3
    queues = 1 if central else replicas
    servers = replicas if central else 1
    nxt = np.full(n, -1, np.int64)
    head = np.full(queues, -1, np.int64)
    tail = np.full(queues, -1, np.int64)
    count = np.zeros(queues, np.int64)
    free = np.zeros(replicas)
    busy = np.zeros(replicas)
    in_service = np.zeros(replicas, np.int64)
    service_end = np.zeros(replicas)
    latency = np.full(n, np.nan)
    wait = np.full(n, np.nan)
    server_of = np.full(n, -1, np.int64)
    state = (nxt, head, tail, count, free, busy, in_service, service_end, latency, wait, server_of)
    model = (max_batch, tau, service, kind, sigma, servers)
    for i in range(n):
        t = a[i]
        if central:
            q = 0
        elif policy == 0:
            q = i % replicas
        elif policy == 1:
            q = _pick(rng, replicas)
        else:
            q1 = _pick(rng, replicas)
            q2 = _pick(rng, replicas)
            for q in (q1, q2):
                _advance(rng, q, t, a, state, model)
            o1 = count[q1] + (in_service[q1] if service_end[q1] > t else 0)
            o2 = count[q2] + (in_service[q2] if service_end[q2] > t else 0)
            q = q1 if o1 <= o2 else q2
        _advance(rng, q, t, a, state, model)
        if count[q] == 0:
            head[q] = i
        else:
            nxt[tail[q]] = i
        tail[q] = i
        count[q] += 1
    for q in range(queues):
        _advance(rng, q, math.inf, a, state, model)
    return latency, wait, server_of, busy
