"""Arrivals and a plain FIFO M/D/c reference, shared by the simulator's tests."""

from __future__ import annotations

import heapq

import numpy as np

N = 1_000_000


def _arrivals(rate: float, n: int = N, seed: int = 1) -> np.ndarray:
    return np.cumsum(np.random.default_rng(seed).exponential(1.0 / rate, n))


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
