"""Day types of a fleet: days a year, requests/s per hour, and the hour slots sized.

Hours of a day type with the same rate to carry need the same instance counts at the
optimum, so one count column serves each such slot.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from deploycost.catalog import COMMITTED_PLANS
from deploycost.cost.model import CostModel
from deploycost.periods import DAYS_PER_YEAR


@dataclass(frozen=True)
class DayTable:
    """Day types: name, days a year, requests/s per hour (24) and the hours sized."""

    names: list[str]
    days: np.ndarray  # (D,)
    qps: np.ndarray  # (D, 24) user queries/s
    need_qps: np.ndarray  # (D, 24) the rate capacity must carry (scale-up lag applied)
    # per day type, its slots: (rate to carry, hours) for each distinct rate; hours with
    # the same rate need the same counts at the optimum, so one count column serves them
    # all (without autoscaling, one slot: the day's peak, all 24 hours)
    slots: list[list[tuple[float, list[int]]]]


def day_table(cost: CostModel, hourly: bool = False) -> DayTable:
    """The scenario's day types; ``hourly``: one slot per hour (a given fleet's counts may
    differ between hours of equal load), else one per distinct rate."""
    scn = cost.scn
    wl = scn.workload
    if wl.day_types:
        names = [d.name for d in wl.day_types]
        days = np.array([d.days for d in wl.day_types])
        qps = np.array([d.hourly_qps() for d in wl.day_types])
    else:
        weights = np.asarray(wl.hourly_weights)
        names, days = ["every_day"], np.array([DAYS_PER_YEAR])
        qps = (wl.peak_qps_resolved * weights / weights.max())[None, :]
    ahead = int(np.ceil(scn.fleet.scale_up_lag_min / 60.0))
    need = qps.copy()
    for k in range(1, min(ahead, 23) + 1):
        need = np.maximum(need, np.roll(qps, -k, axis=1))
    if not scn.options.autoscale:
        need = np.repeat(need.max(axis=1, keepdims=True), 24, axis=1)
    if hourly:
        slots = [[(float(rate), [t]) for t, rate in enumerate(row)] for row in need]
    else:
        slots = [
            [(float(rate), [int(t) for t in np.nonzero(row == rate)[0]]) for rate in np.unique(row)]
            for row in need
        ]
    return DayTable(names, days, qps, need, slots)


def flat_slots(days: DayTable) -> tuple[list[tuple[int, int]], np.ndarray]:
    """Every (day type, slot), day type by day type (the flat slot index is the position),
    and the rate each slot carries."""
    slots = [(d, g) for d in range(len(days.names)) for g in range(len(days.slots[d]))]
    return slots, np.array([days.slots[d][g][0] for d, g in slots], float)


def hourly_counts(counts: pd.DataFrame, day_types: list[str]) -> np.ndarray:
    """(D, 24) instances of ``counts`` rows (any subset of ``FleetPlan.counts``) per day
    type and hour: a committed row counts in every hour, the others in their own."""
    out = np.zeros((len(day_types), 24), int)
    committed = counts.plan.isin(COMMITTED_PLANS).to_numpy()
    out += int(counts.instances.to_numpy()[committed].sum())
    rest = counts[~committed]
    day = pd.Index(day_types).get_indexer(rest.day_type)
    np.add.at(out, (day, rest.hour.to_numpy(int)), rest.instances.to_numpy(int))
    return out
