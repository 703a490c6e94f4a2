"""Simulate a fleet hour by hour, per day type: every (pool, instance type) is a group of
the instances the fleet runs that hour, serving the models placed there.

A model's requests at hour ``t`` of day type ``d`` (the day table's user queries/s times the
model's requests per query) reach each of its types in proportion to the type's share (a
random split of a Poisson stream is Poisson); the instances of a type share its requests by
the dispatch policy, each instance one server with a queue per model
(``simulate.run.run_group``). Instances = committed + on-demand + spot of that hour. Where
spot instances run, a second case ``spot cut`` keeps the whole instances the interruption
rule leaves, ``committed + on-demand + floor((1 - f) x spot)``; an hour with traffic and
no instance left is an outage, a row with an infinite p99 that counts as a miss. The
analytic p99 is the fleet's own: one instance at the rate it receives.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from deploycost.cost.model import CostModel
from deploycost.optimize.days import hourly_counts
from deploycost.optimize.result import FleetPlan
from deploycost.options.capacity import slices_per_node
from deploycost.options.grid import Units
from deploycost.scenario.schema import Scenario
from deploycost.simulate.run import Served, Settings, _row, run_group


def fleet_counts(plan: FleetPlan, pool: str, instance: str) -> np.ndarray:
    """(D, 24, 2) instances of one (pool, type) per day type and hour: all, and spot."""
    names = plan.days.names
    mine = plan.counts[(plan.counts.pool == pool) & (plan.counts.instance == instance)]
    spot = mine[mine.plan == "spot"]
    return np.stack([hourly_counts(mine, names), hourly_counts(spot, names)], axis=2)


def simulate_fleet(
    scn: Scenario, plan: FleetPlan, settings: Settings, progress=None
) -> pd.DataFrame:
    """One row per (model, pool, type, day type, hour, case) with the columns of
    ``simulate_deployment`` plus ``pool``, ``instance``, ``day_type`` and ``case``."""
    settings.check()
    cost = CostModel(scn)
    space, units = cost.space, Units.of(cost)
    fusion = space.fusions.index(plan.fusion)
    per_query = {
        space.models[int(units.model[u])]: float(units.share[u])
        for u in np.nonzero(units.fusion == fusion)[0]
    }
    keep = 1.0 - scn.fleet.spot_interruption_fraction
    slices = slices_per_node(cost)  # a partition row's node: its slices are the servers
    days = plan.days
    hours = range(24) if settings.hours == "all" else None
    rng = np.random.default_rng(settings.seed)
    loaded = plan.shares[plan.shares["mode"] >= 0]
    rows = []
    for (pool, instance), here in loaded.groupby(["pool", "instance"], sort=False):
        served = [
            Served(
                cost,
                space.models.index(r.model),
                space.instances.index(instance),
                space.precisions.index(r.precision),
                int(r.batch),
                int(r.tensor_parallel),
                settings.queueing(space.models),
            )
            for r in here.itertuples()
        ]
        llm = [s.spec.is_llm for s in served]
        counts = fleet_counts(plan, pool, instance)
        servers = int(slices[space.instances.index(instance)])  # per instance (node)
        for d, day in enumerate(days.names):
            qps = days.qps[d]
            for t in hours if hours is not None else [int(np.argmax(qps))]:
                total, spot = counts[d, t]
                cases = [("all instances", int(total) * servers)]
                if spot > 0 and math.floor(keep * spot) < spot:
                    left = int(total - spot + math.floor(keep * spot))
                    cases.append(("spot cut", left * servers))
                rates = [qps[t] * per_query[r.model] * r.share for r in here.itertuples()]
                for case, n in cases:
                    rows += _simulate_hour(
                        served,
                        llm,
                        rates,
                        n,
                        settings,
                        rng,
                        {
                            "pool": pool,
                            "instance": instance,
                            "day_type": day,
                            "hour": t,
                            "case": case,
                        },
                    )
                    if progress is not None:
                        progress()
    return pd.DataFrame(rows)


def _simulate_hour(served, llm, rates, n, settings, rng, where) -> list[dict]:
    bases = [s.base_row(settings, rate, n, **where) for s, rate in zip(served, rates, strict=True)]
    predicted = [
        s.predicted(1.0, rate / n) if n > 0 else (math.inf, math.nan)
        for s, rate in zip(served, rates, strict=True)
    ]
    active = [k for k, rate in enumerate(rates) if rate > 0]
    if not active:
        return [
            {**b, "predicted_p99_ms": p[0], "note": "no traffic"}
            for b, p in zip(bases, predicted, strict=True)
        ]
    if n == 0:  # traffic and no instance: an outage, counted as a miss at every quantile
        outage = {"p99_ms": math.inf, "p99_low_ms": math.inf, "p99_high_ms": math.inf}
        return [
            {
                **b,
                **outage,
                "predicted_p99_ms": math.inf,
                "note": "outage: no instance runs",
                "met": False,
            }
            for b in bases
        ]
    if len(active) > 1 and any(llm[k] for k in active):
        return [
            {**b, "predicted_p99_ms": p[0], "note": "an LLM sharing instances: not simulated"}
            for b, p in zip(bases, predicted, strict=True)
        ]
    first = served[active[0]]
    streams = [served[k].stream(rates[k]) for k in active]
    figures = run_group(
        streams, n, first.slots, settings, rng, dispatch=settings.dispatch_of(first.name)
    )
    out = []
    for k, base in enumerate(bases):
        if k in active:
            out.append(_row(base, figures[active.index(k)], predicted[k]))
        else:
            out.append({**base, "predicted_p99_ms": predicted[k][0], "note": "no traffic"})
    return out
