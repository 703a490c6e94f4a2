"""The tables a fleet is shown with, in the terminal and in the report."""

from __future__ import annotations

import numpy as np
import pandas as pd

from deploycost.catalog import COMMITTED_PLANS


def fleet_load_table(plan) -> pd.DataFrame:
    """Per model and instance type it runs on: its share of the load and the requests/s
    one instance carries at the SLO (``standby`` where a type only makes up
    min_replicas)."""
    shares = plan.shares
    standby = shares["mode"] < 0
    return pd.DataFrame(
        {
            "model": shares.model,
            "pool": shares.pool,
            "instance": shares.instance,
            "precision": shares.precision,
            "batch": np.where(
                standby,
                "-",
                [
                    f"{t} x {b}" if t > 1 else str(b)
                    for t, b in zip(shares.tensor_parallel, shares.batch, strict=True)
                ],
            ),
            "share %": np.where(standby, "standby", (shares.share * 100).map("{:.1f}".format)),
            "req/s per instance": np.where(standby, "-", shares.cap_qps.map(lambda v: f"{v:,.1f}")),
        }
    )


def fleet_plan_table(plan) -> pd.DataFrame:
    """Instances per pool, type and plan: the range over the hours of each day type and
    the instance-hours per day (committed instances count every hour)."""
    rows = []
    counts = plan.counts
    for (pool, inst, plan), group in counts.groupby(["pool", "instance", "plan"], sort=False):
        if plan in COMMITTED_PLANS:
            n = int(group.instances.max())
            rows.append((pool, inst, plan, "every day", f"{n}", f"{24 * n:g}"))
            continue
        for day, by_day in group.groupby("day_type", sort=False):
            hi = int(by_day.instances.max())
            lo = int(by_day.instances.min()) if len(by_day) == 24 else 0
            hours = float(by_day.instances.sum())
            span = f"{lo}-{hi}" if lo != hi else f"{hi}"
            rows.append((pool, inst, plan, day, span, f"{hours:g}"))
    return pd.DataFrame(
        rows, columns=["pool", "instance", "plan", "day type", "instances", "instance-h/day"]
    )
