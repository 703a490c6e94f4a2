"""A fleet's LLMs in token terms: per model and instance type it runs on, the serving
configuration, TTFT p99 and TPOT at the per-instance capacity the fleet was sized at,
tokens a day and what they cost, in the columns of a deployment's LLM table
(``optimize.solve._llm_table``) plus ``instance`` and ``share``.

What a row costs per day: the (pool, type)'s instances x plan prices x hours, split among
the models placed there by the instance-hours their load needs; the model's artifact
(storage, compression) and maintenance, split among its types by load share. Like a
deployment's, it is split between input and output tokens by the engine time prefill and
decode take (``prefill_share``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from deploycost.catalog import COMMITTED_PLANS
from deploycost.cost.prices import payers, plan_price_name
from deploycost.optimize.fleet import FleetFormulation
from deploycost.optimize.result import FleetPlan, token_figures
from deploycost.periods import DAYS_PER_YEAR, HOURS_PER_DAY


def type_costs(form: FleetFormulation, counts: pd.DataFrame) -> dict[tuple[str, str], float]:
    """(pool, type) -> what its instances cost per day: counts x plan prices x hours over
    the scenario's day types (a committed instance every hour of every day)."""
    prices, days, scn = form.cost.prices, form.days, form.cost.scn
    out: dict[tuple[str, str], float] = {}
    for r, node in zip(counts.itertuples(), payers(scn, counts.instance), strict=True):
        price = prices.values[prices.index(plan_price_name(r.plan, node))]
        if r.plan in COMMITTED_PLANS:
            paid = r.instances * HOURS_PER_DAY * price
        else:  # one hour of one day type, averaged over the year
            paid = r.instances * price * days.days[days.names.index(r.day_type)] / DAYS_PER_YEAR
        out[(r.pool, r.instance)] = out.get((r.pool, r.instance), 0.0) + float(paid)
    return out


def compute_shares(form: FleetFormulation, shares: pd.DataFrame, counts: pd.DataFrame):
    """(R,) each row of ``shares`` its part of the compute per day: its (pool, type)'s
    instances x plan prices x hours, split among the rows there by the instance-hours
    their load needs at the per-instance capacity (a type that only makes up min_replicas
    is split evenly among its standby rows)."""
    days, units = form.days, form.fleet.units
    weight = days.days / DAYS_PER_YEAR  # (D,) share of the year's days
    loaded = shares["mode"].to_numpy() >= 0
    unit = form.fleet.modes.unit.to_numpy()[np.where(loaded, shares["mode"], 0)]
    with np.errstate(invalid="ignore", divide="ignore"):
        need = units.share[unit] * shares.share.to_numpy() / shares.cap_qps.to_numpy()
    need = np.where(loaded, need * float((weight[:, None] * days.need_qps).sum()), 1.0)
    key = list(zip(shares.pool, shares.instance, strict=True))
    total: dict[tuple[str, str], float] = {}
    for k, n in zip(key, need, strict=True):
        total[k] = total.get(k, 0.0) + float(n)
    paid = type_costs(form, counts)
    return np.array(
        [
            paid.get(k, 0.0) * float(n) / max(total[k], 1e-300)
            for k, n in zip(key, need, strict=True)
        ]
    )


def fleet_llm_table(form: FleetFormulation, plan: FleetPlan) -> pd.DataFrame:
    """One row per LLM and instance type carrying its load (see the module docstring)."""
    cost, fleet, days = form.cost, form.fleet, form.days
    scn, space = cost.scn, cost.space
    serving = plan.shares[plan.shares["mode"] >= 0]
    if not any(scn.model(m).is_llm for m in serving.model):
        return pd.DataFrame()
    units, perf, modes = fleet.units, fleet.perf, fleet.modes
    weight = days.days / DAYS_PER_YEAR  # (D,) share of the year's days
    queries = scn.workload.queries_per_day  # user queries a day, on the year's average
    if scn.workload.day_types:  # their hours are the traffic (without, the sizing rate)
        queries = float((weight[:, None] * days.qps).sum() * 3600.0)
    per_query = units.share[modes.unit.to_numpy()[serving["mode"].to_numpy()]]
    own = plan.artifacts.set_index("model").cost_per_day
    f, a = space.fusions.index(plan.fusion), space.automation.index(plan.automation)
    upkeep = cost.maintenance_per_day(f, a)
    rows = []
    for j, r in enumerate(serving.itertuples()):
        spec = scn.model(r.model)
        if not spec.is_llm:
            continue
        mode = modes.iloc[int(r.mode)]
        at = (
            space.models.index(r.model),
            int(mode.instance_idx),
            int(mode.precision_idx),
            int(mode.config_idx),
        )
        compute = float(r.compute_per_day)
        fixed = float(own.get(r.model, 0.0)) + float(upkeep[at[0]])
        day_cost = compute + fixed * float(r.share)
        requests = queries * float(per_query[j]) * float(r.share)
        figures = token_figures(spec, requests, day_cost, float(perf.prefill_share[at]), queries)
        rows.append(
            {
                "model": r.model,
                "instance": r.instance,
                "share": float(r.share),
                "tensor_parallel": int(r.tensor_parallel),
                "sequences_per_engine": int(r.batch),
                "ttft_p99_ms": float(mode.ttft_at_cap_ms),
                "ttft_limit_ms": spec.llm.ttft_p99_ms,
                "tpot_ms": float(perf.tpot_ms[at]),
                "tpot_limit_ms": spec.llm.tpot_p99_ms,
                **figures,
                "basis": "measured" if perf.profiled[at] else "estimate",
            }
        )
    return pd.DataFrame(rows)
