"""Solve the fleet MILP, decode it into a fleet, and audit that fleet independently.

The audit recomputes, from the decoded shares and instance counts and the scenario alone
(not from the matrix): every unit's shares sum to one, the capacity each pool and type
offers at every hour of every day type (spot part reduced by the interruption fraction)
carries its load at the per-instance capacity, one instance's p99 at the rate it then
receives meets the SLO (pools of one model), the models placed on an instance fit its
memory, type caps and minimum shares, quotas, and the cost per day from counts x catalog
prices; the solver's objective must match that cost.
"""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np
import pandas as pd

from deploycost.catalog import COMMITTED_PLANS
from deploycost.cost.model import COMPONENTS, CostModel
from deploycost.cost.prices import PriceVector, plan_price_name, priced_as
from deploycost.errors import DeployCostError
from deploycost.optimize.blocks import IN_BLOCKS, solve_in_blocks
from deploycost.optimize.fleet import (
    FleetFormulation,
    build_fleet,
    fit_together,
    shown_plans,
)
from deploycost.optimize.fleet_limits import fleet_limits, pipeline_ms, quota_hours
from deploycost.optimize.fleet_llm import compute_shares, fleet_llm_table, type_costs
from deploycost.optimize.limits import stages_text
from deploycost.optimize.result import (
    FleetAudit,
    FleetPlan,
    SolveResult,
    components_table,
    hourly_counts,
    stopped_early,
)
from deploycost.optimize.solvers import (
    SolverOptions,
    SolverOutput,
    Status,
    capabilities,
    fleet_backends,
    get_backend,
)
from deploycost.options.capacity import fleet_options, slices_per_node
from deploycost.periods import DAYS_PER_YEAR, HOURS_PER_DAY
from deploycost.scenario.assumptions import rows_estimates, service_estimates, stated_defaults
from deploycost.scenario.schema import as_scenario

SHARE_TOL = 1e-6
TERM = {"reserved_1yr": "a year", "reserved_3yr": "three years"}
AUDIT_REL_TOL = 1e-6


def solve_fleet(
    scenario,
    backend: str = "scipy-highs",
    options: SolverOptions | None = None,
    prices: PriceVector | None = None,
) -> SolveResult:
    """Cheapest fleet for a scenario with a ``fleet`` section (``optimize.solve.solve``
    comes here for one)."""
    scn = as_scenario(scenario)
    if scn.fleet is None:
        raise DeployCostError("the scenario has no 'fleet' section: use solve")
    solver = get_backend(backend)
    can = capabilities(backend)
    if not can.fleets:
        raise DeployCostError(
            f"backend {backend!r} does not solve fleets ({can.why_not}); "
            f"use {' or '.join(fleet_backends())}"
        )
    options = options or SolverOptions()
    t0 = time.perf_counter()
    cost = CostModel(scn, prices)
    fleet = fleet_options(cost)
    if fleet.missing:  # a model no instance serves within its limits: nothing to build
        return SolveResult(
            Status.INFEASIBLE,
            backend,
            scn.currency,
            explanation=tuple(fleet.missing.values()),
            timings={"build_s": time.perf_counter() - t0},
            size={"modes": len(fleet.modes), "artifacts": len(fleet.artifacts)},
        )
    form = build_fleet(cost, fleet)
    t1 = time.perf_counter()
    size = {
        "modes": len(form.fleet.modes),
        "artifacts": len(form.fleet.artifacts),
        "columns": len(form.milp.c),
        "rows": len(form.milp.row_names),
        "integer_columns": int(form.milp.integrality.sum()),
    }
    out = solve_formulation(form, solver, options)
    t2 = time.perf_counter()
    timings = {"build_s": t1 - t0, "solve_s": t2 - t1}
    size["solved_in_blocks"] = int(out.message == IN_BLOCKS)
    if out.x is None:
        why = (
            explain_infeasible_fleet(form, solver, options)
            if out.status == Status.INFEASIBLE
            else [f"the solver stopped before finding a fleet: {out.message}"]
        )
        return SolveResult(
            out.status, backend, scn.currency, explanation=tuple(why), timings=timings, size=size
        )
    result = decode(form, out.x, out.status, backend, out.gap)
    audit_report = audit_fleet(form, result)
    t3 = time.perf_counter()
    timings["audit_s"] = t3 - t2
    if not audit_report.ok:
        raise DeployCostError(
            "internal error: the solver's fleet fails the independent audit: "
            + "; ".join(audit_report.problems[:5])
        )
    limits = fleet_limits(form, result.plan, result.objective_per_day)
    broken = [
        f"{v.name}: {v.value:.6g} {v.sense} {v.limit:g} {v.unit}" for v in limits if not v.met
    ]
    if broken:
        raise DeployCostError(
            "internal error: the solver's fleet breaks a limit: " + "; ".join(broken[:5])
        )
    return replace(
        result,
        plan=replace(result.plan, audit=audit_report),
        limits=limits,
        timings=timings,
        size=size,
        llm=fleet_llm_table(form, result.plan),
        estimates=tuple(fleet_estimates(scn, result.plan)),
        defaults=tuple(stated_defaults(scn)),
    )


def fleet_estimates(scn, plan: FleetPlan) -> list[str]:
    """The estimates a fleet rests on: service times of the types that carry load, then
    the catalog rows it uses (see ``scenario.assumptions``)."""
    serving = plan.shares[plan.shares["mode"] >= 0]
    choices = [
        (
            model,
            instance,
            precision,
            scn.model(model).is_llm
            and any(p.instance == instance for p in scn.model(model).llm.profiles),
        )
        for model, instance, precision in dict.fromkeys(
            zip(serving.model, serving.instance, serving.precision, strict=True)
        )
    ]
    art = plan.artifacts
    served = dict(zip(art.model, art.precision, strict=True))
    stored = set(zip(art.precision, art.compression, strict=True))
    used = plan.catalog_rows()
    return service_estimates(scn, choices) + rows_estimates(scn, used, served, stored)


# rows that tie pools together: set aside while the pools are solved one by one, then checked
COUPLING = (
    "quality_min",
    "quota_max",
    "budget_max",
    "storage_capacity_max",
    "latency_e2e_max",
)


def solve_formulation(form: FleetFormulation, solver, options: SolverOptions):
    """The fleet MILP, pool by pool when the coupling rows do not bind (exact; see
    ``optimize.blocks``), else whole, in the time left."""
    start = time.perf_counter()
    choice = np.arange(form.z.start, form.z.stop)
    out = solve_in_blocks(form, solver, options, choice, COUPLING)
    if out is not None:
        return out
    if options.time_limit_s is None:
        return solver(form, options)
    left = options.time_limit_s - (time.perf_counter() - start)
    if left <= 0:
        return SolverOutput(
            Status.NOT_SOLVED, None, None, None, None, 0.0, "time limit reached in blocks"
        )
    return solver(form, replace(options, time_limit_s=left))


# limit families an infeasible fleet is explained by, in the order they are tried: the rows
# whose names start with the prefix are lifted one family at a time
RELAXABLE = (
    ("quota_max", "instance quotas"),
    ("budget_max", "the budget"),
    ("quality_min", "the quality floor"),
    ("latency_e2e_max", "the end-to-end latency limit"),
    ("memory_", "the memory of shared instances"),
    ("max_types", "the cap on instance types per model"),
    ("min_share", "the minimum share per type"),
    ("storage_capacity_max", "owned storage capacity"),
)


def explain_infeasible_fleet(form: FleetFormulation, solver, options: SolverOptions) -> list[str]:
    """Which limit family makes the fleet infeasible: each family's rows are lifted in turn
    and the fleet re-solved; the first that brings a fleet back is named, with what that
    fleet needs (instances per type against a quota, cost against a budget)."""
    m = form.milp
    names = np.array(m.row_names)
    limit = SolverOptions(time_limit_s=min(options.time_limit_s or 60.0, 60.0))
    for prefix, words in RELAXABLE:
        rows = np.char.startswith(names.astype(str), prefix)
        if not rows.any():
            continue
        lifted = replace(
            m,
            row_lb=np.where(rows, -np.inf, m.row_lb),
            row_ub=np.where(rows, np.inf, m.row_ub),
        )
        out = solver(replace(form, milp=lifted), limit)
        if out.x is None:
            continue
        return [_without(form, prefix, words, rows, out)]
    return [
        "no fleet carries the load at the SLO even without quotas, budget, quality, "
        "latency, memory, type or storage limits: allow more instance types or plans"
    ]


def _without(form: FleetFormulation, prefix: str, words: str, rows, out) -> str:
    m = form.milp
    activity = m.A @ out.x
    over = np.nonzero(rows & (activity > m.row_ub + 1e-6 * np.maximum(1.0, np.abs(m.row_ub))))[0]
    cur = form.cost.scn.currency
    if prefix == "budget_max":
        return (
            f"{words} cannot be met: the cheapest fleet meeting every other limit costs "
            f"{out.objective:,.2f} {cur}/day, over the budget of {m.row_ub[over[0]]:,.2f}"
            if len(over)
            else f"{words} cannot be met"
        )
    if prefix == "latency_e2e_max" and len(over):
        e2e = form.cost.scn.constraints.e2e_latency_ms
        key = m.row_names[over[0]].removeprefix(f"{prefix}[").removesuffix("]")
        f = form.cost.space.fusions.index(key)
        return (
            f"end-to-end p99 <= {e2e:g} ms ({m.row_names[over[0]]}, "
            f"{stages_text(form, f)}) cannot be met: the cheapest fleet meeting every other "
            f"limit ({out.objective:,.2f} {cur}/day) needs {activity[over[0]] + e2e:.4g} ms"
        )
    details = [
        f"{m.row_names[r]} needs {activity[r]:.4g} (limit {m.row_ub[r]:g})" for r in over[:3]
    ]
    return (
        f"{words} cannot all be met; without them the cheapest fleet costs "
        f"{out.objective:,.2f} {cur}/day and needs: " + "; ".join(details or ["(no detail)"])
    )


def decode(
    form: FleetFormulation, x: np.ndarray, status: Status, backend: str, gap: float | None
) -> SolveResult:
    cost, space, fleet = form.cost, form.cost.space, form.fleet
    x = np.asarray(x, float)
    zj = int(np.argmax(x[form.z]))
    f, a = form.z_pairs[zj]
    art = fleet.artifacts
    chosen = np.nonzero(x[form.x] > 0.5)[0]
    artifacts = pd.DataFrame(
        {
            "model": [space.models[fleet.units.model[u]] for u in art.unit.iloc[chosen]],
            "precision": [space.precisions[c] for c in art.precision_idx.iloc[chosen]],
            "tier": [space.tiers[t] for t in art.tier_idx.iloc[chosen]],
            "compression": [space.compressions[z] for z in art.compression_idx.iloc[chosen]],
            "backups": art.backups.iloc[chosen].to_numpy(),
            "cold_start_s": art.cold_start_s.iloc[chosen].to_numpy(),
            "stored_gb": art.stored_gb.iloc[chosen].to_numpy(),
            "quality_delta": art.quality_delta.iloc[chosen].to_numpy(),
            "cost_per_day": art.cost_per_day.iloc[chosen].to_numpy(),
        }
    )
    w = x[form.cols.w] / form.cols.w_scale
    used = np.nonzero(w > SHARE_TOL)[0]
    modes = fleet.modes.iloc[used]
    shares = pd.DataFrame(
        {
            "model": modes.model.to_numpy(),
            "pool": [form.pools[form.pool_of_unit[u]] for u in modes.unit],
            "instance": modes.instance.to_numpy(),
            "precision": modes.precision.to_numpy(),
            "batch": modes.batch.to_numpy(),
            "tensor_parallel": modes.tensor_parallel.to_numpy(),
            "share": w[used],
            "cap_qps": modes.cap_qps.to_numpy(),
            "p99_at_cap_ms": modes.p99_at_cap_ms.to_numpy(),
            "host_gb": modes.host_gb.to_numpy(),  # memory one instance holds for the model
            "device_gb": modes.device_gb.to_numpy(),
            "mode": used,
        }
    )
    keys = form.cols.count_keys
    n = np.round(x[form.cols.counts]).astype(int)
    nz = np.nonzero(n)[0]
    shares = _with_standby(form, shares, keys.iloc[nz], artifacts)
    records = []
    for j in nz:
        k = keys.iloc[j]
        pool, inst = form.pools[k.pool], space.instances[k.instance_idx]
        if k.plan in COMMITTED_PLANS:
            records.append((pool, inst, k.plan, "all", -1, n[j], j))
            continue
        day = form.days.names[k.day]
        for t in form.days.slots[k.day][k.group][1]:  # a slot's count, hour by hour
            records.append((pool, inst, k.plan, day, t, n[j], j))
    counts = pd.DataFrame(
        records, columns=["pool", "instance", "plan", "day_type", "hour", "instances", "column"]
    )
    shares["compute_per_day"] = compute_shares(form, shares, counts)
    prices = cost.prices
    c = form.milp.c
    paid = n * c[form.cols.counts]  # per day, per count column: instances x hours x price
    plan_of = keys.plan.to_numpy()
    q = np.array([form.cols.by_component[part].T @ x for part in COMPONENTS])
    per_component = q @ prices.values
    lines = []
    for part, amount in zip(COMPONENTS, per_component.tolist(), strict=True):
        lines.append((part, amount))
        if part == "compute":  # the fleet's instances by purchase plan
            for plan in shown_plans(cost.scn):
                lines.append((f"  {plan}", float(paid[plan_of == plan].sum())))
    costs = pd.DataFrame(lines, columns=["line", "per_day"])
    costs.loc[len(costs)] = ("total", float(per_component.sum()))  # plan lines are in compute
    plan = FleetPlan(
        fusion=space.fusions[f],
        automation=space.automation[a],
        data_tiers={
            space.sources[s]: space.tiers[t]
            for s, t in form.y_pairs[np.nonzero(x[form.y] > 0.5)[0]]
        },
        artifacts=artifacts,
        shares=shares,
        counts=counts,
        costs=costs,
        commitments=tuple(commitment_advice(form, counts, shares)),
        component_quantities=q,
        prices=prices,
        days=form.days,
    )
    return SolveResult(
        status=status,
        backend=backend,
        currency=cost.scn.currency,
        objective_per_day=float(c @ x),
        gap=gap,
        plan=plan,
        components=components_table(dict(zip(COMPONENTS, per_component.tolist(), strict=True))),
        explanation=stopped_early(status, gap),
        solution=x,
    )


def _with_standby(form, shares, bought, artifacts) -> pd.DataFrame:
    """Shares plus a zero-share row for each type a pool runs instances of without load
    (spares bought to reach a model's min_replicas): they serve the pool's model, idle."""
    space = form.cost.space
    rows = []
    for p, h in {(int(a), int(b)) for a, b in zip(bought.pool, bought.instance_idx, strict=True)}:
        pool, inst = form.pools[p], space.instances[h]
        if ((shares.pool == pool) & (shares.instance == inst)).any():
            continue
        units = np.nonzero(form.pool_of_unit == p)[0]
        for name in sorted({space.models[form.fleet.units.model[u]] for u in units}):
            if name in set(artifacts.model):
                precision = artifacts.precision[artifacts.model == name].iat[0]
                rows.append((name, pool, inst, precision, 0, 1, 0.0, np.nan, np.nan, 0.0, 0.0, -1))
    if not rows:
        return shares
    extra = pd.DataFrame(rows, columns=list(shares.columns))
    return pd.concat([shares, extra], ignore_index=True)


def required_instances(form: FleetFormulation, shares: pd.DataFrame) -> dict:
    """(pool, instance) -> (D, 24) instances its load needs at the SLO (fractional),
    recomputed from the shares, the day table and the per-instance capacities."""
    fleet, days = form.fleet, form.days
    out: dict[tuple[str, str], np.ndarray] = {}
    for r in shares[shares["mode"] >= 0].itertuples():
        unit = int(fleet.modes.unit.iat[r.mode])
        load = days.need_qps * fleet.units.share[unit] * r.share / r.cap_qps
        key = (r.pool, r.instance)
        out[key] = out.get(key, 0.0) + load
    return out


def commitment_advice(form: FleetFormulation, counts: pd.DataFrame, shares) -> list[str]:
    """A sentence per committed (pool, type): how many, average hours used, break-even."""
    prices, days = form.cost.prices, form.days
    need = required_instances(form, shares)
    out = []
    committed = counts[counts.plan.isin(COMMITTED_PLANS)]
    total = committed.groupby(["pool", "instance"]).instances.sum()
    for r in committed.itertuples():
        k = int(total[(r.pool, r.instance)])  # every term's commitments of (pool, type)
        load = np.ceil(need.get((r.pool, r.instance), np.zeros((1, 24))) - 1e-9)
        busy = np.minimum(load, k) / k  # share of the committed instances at work
        hours = float((busy.sum(axis=1) * days.days).sum() / DAYS_PER_YEAR)
        node = priced_as(form.cost.scn, r.instance)
        reserved = prices.values[prices.index(plan_price_name(r.plan, node))]
        od_name = plan_price_name("on_demand", node)
        if od_name in prices and prices.values[prices.index(od_name)] > 0:
            even = HOURS_PER_DAY * reserved / prices.values[prices.index(od_name)]
            tail = f"; break-even against on-demand is {even:.1f} h"
        else:
            tail = ""
        out.append(
            f"commit {r.instances} x {r.instance} for {TERM[r.plan]} (pool {r.pool}): "
            f"{'they run' if k == r.instances else f'the {k} committed run'} {hours:.1f} h "
            f"a day on average{tail}"
        )
    return out


def audit_fleet(form: FleetFormulation, result: SolveResult) -> FleetAudit:
    """Check the decoded fleet (``result.plan``) against the scenario (see the module
    docstring)."""
    plan, objective_per_day = result.plan, result.objective_per_day
    scn, space, fleet, days = form.cost.scn, form.cost.space, form.fleet, form.days
    problems: list[str] = []
    checks = 0
    shares = plan.shares[plan.shares["mode"] >= 0]  # standby rows carry no load
    units = fleet.units
    unit_of_row = fleet.modes.unit.to_numpy()[shares["mode"].to_numpy()]
    totals = np.bincount(unit_of_row, weights=shares.share.to_numpy(), minlength=len(units.model))
    chosen = np.array([space.fusions[f] == plan.fusion for f in units.fusion])
    for u in np.nonzero(chosen & (np.abs(totals - 1.0) > 1e-6))[0]:
        problems.append(f"{space.models[units.model[u]]}: shares sum to {totals[u]:.6g}, not 1")
    checks += int(chosen.sum())
    per_type = shares.groupby(["model", "instance"]).share.sum()
    if scn.fleet.max_types_per_model is not None:
        over = per_type.groupby(level=0).size() > scn.fleet.max_types_per_model
        problems += [f"{m}: more types than allowed" for m in over.index[over]]
    if scn.fleet.min_share > 0:
        low = per_type < scn.fleet.min_share - 1e-6
        problems += [f"{m} on {h}: below min_share" for m, h in per_type.index[low]]
    keep = 1.0 - scn.fleet.spot_interruption_fraction
    counts = plan.counts
    need = required_instances(form, shares)
    slices = slices_per_node(form.cost)
    slow: dict = {}
    for (pool, inst), load in need.items():
        mine = counts[(counts.pool == pool) & (counts.instance == inst)]
        spot = mine.plan == "spot"
        # the interruption rule: the spot part counts reduced by the fraction it may lose
        offer = hourly_counts(mine[~spot], days.names)
        offer = offer + keep * hourly_counts(mine[spot], days.names)
        node = float(slices[space.instances.index(inst)])  # servers per instance
        checks += offer.size
        for d, t in zip(*np.nonzero(load > offer * (1 + AUDIT_REL_TOL) + 1e-9), strict=True):
            problems.append(
                f"pool {pool} on {inst}, {days.names[d]} {t:02d}h: load needs "
                f"{load[d, t]:.6g} instances, {float(offer[d, t]):g} offered"
            )
        _audit_p99(form, shares, (pool, inst), offer, node, problems, slow)
    _audit_memory(form, shares, problems)
    checks += _audit_quotas(form, plan, problems)
    checks += _audit_e2e(form, plan, problems)
    cost = _recomputed_cost(form, plan, result.solution)
    checks += 1
    if abs(cost - objective_per_day) > AUDIT_REL_TOL * max(1.0, abs(cost)):
        problems.append(
            f"cost per day recomputed {cost:.6f}, the solver reports {objective_per_day:.6f}"
        )
    warnings = tuple(
        f"{model} on {inst}: batch {batch} fills slowly at low traffic; p99 reaches "
        f"{worst:.4g} ms (SLO {slo:g} ms) in {hours} hour(s) of the day types; use a smaller "
        f"batch or a batcher with a maximum queue delay"
        for (model, inst, batch, slo), (hours, worst) in slow.items()
    )
    return FleetAudit(tuple(problems), cost, checks, warnings)


def _audit_quotas(form: FleetFormulation, plan: FleetPlan, problems: list[str]) -> int:
    """Every hour of every day type within each quota (``fleet_limits.quota_hours``)."""
    days, quotas = form.days.names, form.cost.scn.constraints.quotas
    checks = 0
    for name, used in quota_hours(form, plan).items():
        checks += used.size
        for d, t in zip(*np.nonzero(used > quotas[name]), strict=True):
            problems.append(
                f"{name}, {days[d]} {t:02d}h: {used[d, t]} instances, quota {quotas[name]}"
            )
    return checks


def _audit_p99(form, shares, where, offer, slices, problems, slow) -> None:
    """One server's p99 at the rate it receives in every hour of every day type, at
    ``where`` = (pool, type) with ``offer`` (D, 24) instances of ``slices`` servers each
    (pools of a single model; a partition row's instance is a node of slices). Above the
    capacity it is a sizing error; below it, a batch that fills slowly at low traffic
    (recorded in ``slow``: a warning, the peak-sized grid does not model batch timeouts)."""
    pool, inst = where
    mine = shares[(shares.pool == pool) & (shares.instance == inst)]
    if mine.model.nunique() != 1:
        return
    fleet, days = form.fleet, form.days
    for r in mine.itertuples():
        unit = int(fleet.modes.unit.iat[r.mode])
        with np.errstate(divide="ignore", invalid="ignore"):
            rate = days.qps * fleet.units.share[unit] * r.share / (offer * slices)
        d, t = np.nonzero((offer > 0) & (rate > 0))
        if not len(d):
            continue
        mode = fleet.modes.iloc[r.mode]
        slo = form.cost.scn.model(r.model).latency_limit_ms
        idx = (fleet.units.model[unit], mode.instance_idx, mode.precision_idx, mode.config_idx)
        at = tuple(np.full(len(d), int(v)) for v in idx)
        p99, ttft = fleet.perf.latency_ms(at, 1.0, rate[d, t])
        missed = ~fleet.perf.meets(at[0], p99, ttft, rel_tol=1e-6)
        over = rate[d, t] * slices > mode.cap_qps * (1 + 1e-9)
        for k in np.nonzero(missed & over)[0]:
            problems.append(
                f"{r.model} on {inst}, {days.names[d[k]]} {t[k]:02d}h: p99 {p99[k]:.4g} ms "
                f"> SLO {slo:g} ms"
            )
        late = missed & ~over
        if late.any():
            key = (r.model, inst, int(mode.batch), slo)
            hours, worst = slow.get(key, (0, 0.0))
            slow[key] = (hours + int(late.sum()), max(worst, float(p99[late].max())))


def _audit_e2e(form: FleetFormulation, plan: FleetPlan, problems: list[str]) -> int:
    """The pipeline's p99 (``fleet_limits.pipeline_ms``) within the end-to-end limit."""
    e2e = form.cost.scn.constraints.e2e_latency_ms
    if e2e is None:
        return 0
    total = pipeline_ms(form, plan)
    if total > e2e * (1 + AUDIT_REL_TOL):
        problems.append(f"end-to-end p99 {total:.4g} ms > {e2e:g} ms for fusion {plan.fusion!r}")
    return 1


def _audit_memory(form, shares, problems) -> None:
    """The models placed on an instance of a shared pool fit it together."""
    reserve = form.cost.scn.options.host_reserve_gb
    for (pool, inst), group in shares.groupby(["pool", "instance"]):
        if group.model.nunique() < 2:
            continue
        h = form.cost.space.instances.index(inst)
        modes = form.fleet.modes.iloc[group["mode"].to_numpy()]
        dev, host = float(modes.device_gb.sum()), float(modes.host_gb.sum())
        device_ok, host_ok = fit_together(form.cost, h, dev, host, len(modes), tol=1e-9)
        if not device_ok:
            problems.append(f"pool {pool} on {inst}: {dev:.4g} GB of accelerator memory")
        if not host_ok:
            problems.append(
                f"pool {pool} on {inst}: {host - reserve * (len(modes) - 1):.4g} GB of host memory"
            )


def _recomputed_cost(form: FleetFormulation, plan: FleetPlan, x: np.ndarray) -> float:
    """Counts x plan prices x hours, from the scenario's day types, plus the artifacts,
    fusion, people and data priced from the price vector."""
    total = sum(type_costs(form, plan.counts).values())
    fixed = form.cols.by_price[: form.latency.start] @ form.cost.prices.values
    return total + float(fixed @ x[: form.latency.start])
