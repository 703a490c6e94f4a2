"""The discrete-event core: requests dispatched to replicas that serve dynamic batches.

Requests arrive at sorted times ``a``, each of a *class* (a model) and with a *size* (a
multiplier of its service time, 1 unless requests differ, e.g. an LLM answer's length).
Replicas form *groups*: a group has ``per_group`` servers and one FIFO queue per class;
its servers take batches from its queues. A *dispatch policy* sends each request to a group:

* ``round_robin``: the groups in turn;
* ``random``: a uniformly random group (what a Kubernetes Service does);
* ``least_request``: the fewer outstanding (queued + in service) of two random groups
  (power of two choices, Envoy's LEAST_REQUEST);
* ``central_queue``: one group holding every server (M/G/c).

A replica is a group of one server; an LLM instance is a group of ``engines x sequences``
servers (slots); a central queue is one group of all servers; an instance shared by several
models is a group with one queue per model.

A server serves one *batch* of one class at a time (a dynamic batcher such as Triton's, with
a maximum batch ``B_c`` and a maximum queue delay ``tau_c``): when it is free it starts a
batch as soon as ``B_c`` requests wait, or when the oldest waiting request has waited
``tau_c`` (``tau = 0``: whatever is waiting, at once; ``tau = inf``: only full batches);
among its classes it takes the batch that is ready first (of two ready at once, the one
whose oldest request came first: FIFO across classes). A batch of ``k`` takes
``service[c, k]`` seconds times the largest size in it times a noise factor of mean one:
none (deterministic), lognormal with a coefficient of variation, or exponential.

A server is there from its ``ready`` time on (a replica still starting: an autoscaler's
lag); dispatch chooses among the groups whose first server is ready (groups in order of
readiness).

The state advances lazily: before a request is placed, the groups it may join are brought
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

from deploycost.simulate import DISTRIBUTIONS, POLICIES

__all__ = ["DISTRIBUTIONS", "POLICIES", "simulate", "simulate_groups"]


@njit(cache=True)
def _noise(rng, kind: int, sigma: float) -> float:
    if kind == 0:
        return 1.0
    if kind == 1:
        return math.exp(sigma * rng.standard_normal() - 0.5 * sigma * sigma)
    return rng.exponential(1.0)


@njit(cache=True)
def _pick(rng, groups: int) -> int:
    """A uniformly random group (numba's Generator has no ``integers``)."""
    return min(int(rng.random() * groups), groups - 1)


@njit(cache=True)
def _start_time(oldest: float, full_at: float, free: float, tau: float) -> float:
    """When a server free at ``free`` starts its next batch: at ``full_at`` (the arrival
    that fills it) or at ``oldest + tau``, whichever comes first, but not before it is free
    or before the oldest request is there."""
    return max(free, oldest, min(full_at, oldest + tau))


@njit(cache=True)
def _advance(rng, g: int, until: float, a, state, model) -> None:
    """Start every batch of group ``g`` that starts before ``until``, each on the group's
    earliest free server. ``state`` and ``model`` are the tuples ``simulate_groups`` builds
    (queues and servers; classes, batching and service)."""
    nxt, head, tail, count, free, busy, in_service, service_end, latency, wait, server_of = state
    max_batch, tau, service, kind, sigma, per_group, size = model
    classes = len(max_batch)
    while True:
        s = g * per_group
        for j in range(s + 1, (g + 1) * per_group):
            if free[j] < free[s]:
                s = j
        q = -1
        start = math.inf
        oldest = math.inf
        for c in range(classes):
            qc = g * classes + c
            if count[qc] == 0:
                continue
            first = head[qc]
            full_at = math.inf
            if count[qc] >= max_batch[c]:
                j = first
                for _ in range(max_batch[c] - 1):
                    j = nxt[j]
                full_at = a[j]
            begin = _start_time(a[first], full_at, free[s], tau[c])
            if begin < start or (begin == start and a[first] < oldest):
                q, start, oldest = qc, begin, a[first]
        if q < 0 or start > until or start == math.inf:  # a partial batch never fills
            return
        c = q - g * classes
        k = 0
        largest = 0.0
        j = head[q]
        while k < max_batch[c] and k < count[q] and a[j] <= start:
            largest = max(largest, size[j])
            k += 1
            j = nxt[j]
        duration = service[c, k] * largest * _noise(rng, kind, sigma)
        done = start + duration
        j = head[q]
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
def _outstanding(g: int, t: float, count, in_service, service_end, classes, per_group) -> int:
    n = 0
    for q in range(g * classes, (g + 1) * classes):
        n += count[q]
    for s in range(g * per_group, (g + 1) * per_group):
        if service_end[s] > t:
            n += in_service[s]
    return n


@njit(cache=True)
def simulate_groups(
    a,
    cls,
    size,
    ready,
    per_group: int,
    policy: int,
    max_batch,
    tau,
    service,
    kind: int,
    cv: float,
    rng,
):
    """Latency of every request (s), its wait before its batch started (s), the server
    that served it, and each server's busy seconds.

    ``a`` sorted arrival times (s), ``cls`` each request's class, ``size`` its service
    multiplier; ``ready`` (servers,) when each server is there (non-decreasing by group);
    ``per_group`` servers per group; per class ``max_batch``, ``tau`` (s) and
    ``service[c, k]`` the seconds of a batch of k (column 0 unused); ``kind`` an index into
    ``DISTRIBUTIONS``; ``policy`` into ``POLICIES`` (``central_queue`` needs one group);
    ``rng`` a ``numpy.random.Generator`` (all randomness comes from it). Requests left in a
    batch that never fills (no maximum queue delay, the arrivals ended) have NaN latency
    and wait. A ``service`` table without a column for every batch size up to a class's
    maximum is refused (the kernel does not check its reads)."""
    n = len(a)
    servers = len(ready)
    groups = servers // per_group
    classes = len(max_batch)
    for c in range(classes):
        if max_batch[c] < 1 or service.shape[1] <= max_batch[c]:
            raise ValueError("service needs a time for every batch size up to the maximum")
    sigma = math.sqrt(math.log(1.0 + cv * cv)) if kind == 1 else 0.0
    queues = groups * classes
    nxt = np.full(n, -1, np.int64)
    head = np.full(queues, -1, np.int64)
    tail = np.full(queues, -1, np.int64)
    count = np.zeros(queues, np.int64)
    free = ready.copy()
    busy = np.zeros(servers)
    in_service = np.zeros(servers, np.int64)
    service_end = np.zeros(servers)
    latency = np.full(n, np.nan)
    wait = np.full(n, np.nan)
    server_of = np.full(n, -1, np.int64)
    state = (nxt, head, tail, count, free, busy, in_service, service_end, latency, wait, server_of)
    model = (max_batch, tau, service, kind, sigma, per_group, size)
    active = 0
    turn = 0
    for i in range(n):
        t = a[i]
        while active < groups and ready[active * per_group] <= t:
            active += 1
        live = max(active, 1)
        if policy == 3:
            g = 0
        elif policy == 0:
            g = turn % live
            turn += 1
        elif policy == 1:
            g = _pick(rng, live)
        else:
            g1 = _pick(rng, live)
            g2 = _pick(rng, live)
            for g in (g1, g2):
                _advance(rng, g, t, a, state, model)
            o1 = _outstanding(g1, t, count, in_service, service_end, classes, per_group)
            o2 = _outstanding(g2, t, count, in_service, service_end, classes, per_group)
            g = g1 if o1 <= o2 else g2
        _advance(rng, g, t, a, state, model)
        q = g * classes + cls[i]
        if count[q] == 0:
            head[q] = i
        else:
            nxt[tail[q]] = i
        tail[q] = i
        count[q] += 1
    for g in range(groups):
        _advance(rng, g, math.inf, a, state, model)
    return latency, wait, server_of, busy


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
    """One class on ``replicas`` single-server replicas, all there from the start: the
    common case of ``simulate_groups`` (``service[k]`` the seconds of a batch of k)."""
    n = len(a)
    per_group = replicas if policy == 3 else 1
    return simulate_groups(
        a,
        np.zeros(n, np.int64),
        np.ones(n),
        np.zeros(replicas),
        per_group,
        policy,
        np.array([max_batch]),
        np.array([tau]),
        service.reshape(1, -1),
        kind,
        cv,
        rng,
    )
