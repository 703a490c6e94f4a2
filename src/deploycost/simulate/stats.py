"""Estimates from one simulated run with confidence intervals (batch means).

Successive latencies are correlated (a queue remembers), so the sample is cut into
``batches`` contiguous parts after a warm-up; each part gives its own mean and quantiles,
and the interval is the Student-t interval of those part estimates. The point estimate is
the statistic over the whole kept sample.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

BATCHES = 20
WARMUP = 0.05  # share of the requests dropped at the start (the queue starts empty)


@dataclass(frozen=True)
class Estimate:
    value: float
    low: float
    high: float

    def covers(self, x: float) -> bool:
        return self.low <= x <= self.high


def estimate(sample: np.ndarray, statistic: str, batches: int = BATCHES) -> Estimate:
    """``statistic`` is ``mean`` or ``p<q>`` (e.g. ``p99``, ``p50``) of ``sample`` after the
    warm-up (NaN entries, requests never served, left out), with its 95 % batch-means
    interval."""
    kept = np.asarray(sample, float)[int(len(sample) * WARMUP) :]
    kept = kept[~np.isnan(kept)]  # requests still waiting when the arrivals ended

    def stat(x: np.ndarray) -> float:
        if statistic == "mean":
            return float(np.mean(x))
        return float(np.quantile(x, float(statistic[1:]) / 100.0))

    parts = np.array([stat(part) for part in np.array_split(kept, batches)])
    half = stats.t.ppf(0.975, batches - 1) * parts.std(ddof=1) / np.sqrt(batches)
    centre = parts.mean()
    return Estimate(stat(kept), float(centre - half), float(centre + half))
