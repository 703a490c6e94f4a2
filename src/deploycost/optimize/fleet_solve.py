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
from deploycost.cost.model import COMPONENTS
from deploycost.cost.prices import PriceVector, plan_price_name, priced_as
from deploycost.errors import DeployCostError
from deploycost.optimize.blocks import IN_BLOCKS, solve_in_blocks
from deploycost.optimize.days import hourly_counts
from deploycost.optimize.fleet import FleetFormulation, build_fleet
from deploycost.optimize.fleet_llm import compute_shares, fleet_llm_table, type_costs
from deploycost.optimize.fleet_pools import shown_plans
from deploycost.optimize.limits import (
    BY_FAMILY,
    RELAX_ORDER,
    LimitValue,
    Relaxed,
    fleet_limits,
    quota_hours,
)
from deploycost.optimize.prepared import fleet_options_of
from deploycost.optimize.result import (
    FleetAudit,
    FleetPlan,
    SolveResult,
    components_table,
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
from deploycost.options.capacity import slices_per_node
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
    cost, fleet = fleet_options_of(scn, prices)
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
    limits = fleet_limits(form, result.plan, result.objective_per_day)
    audit_report = audit_fleet(form, result, limits)
    t3 = time.perf_counter()
    timings["audit_s"] = t3 - t2
    if not audit_report.ok:
        raise DeployCostError(
            "internal error: the solver's fleet fails the independent audit: "
            + "; ".join(audit_report.problems[:5])
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


def solve_formulation(form: FleetFormulation, solver, options: SolverOptions):
    """The fleet MILP, pool by pool when the coupling rows do not bind (exact; see
    ``optimize.blocks``), else whole, in the time left."""
    start = time.perf_counter()
    choice = np.arange(form.z.start, form.z.stop)
    coupling = form.rows_of(lambda limit: limit.couples)
    raisable = form.rows_of(lambda limit: limit.raisable)
    out = solve_in_blocks(form, solver, options, choice, coupling, raisable)
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


def explain_infeasible_fleet(form: FleetFormulation, solver, options: SolverOptions) -> list[str]:
    """Which limit family makes the fleet infeasible: each family's rows (``RELAX_ORDER``)
    are lifted in turn and the fleet re-solved; the first that brings a fleet back is
    named, with what that fleet needs of it (``Limit.fleet_explain``)."""
    m = form.milp
    limit = SolverOptions(time_limit_s=min(options.time_limit_s or 60.0, 60.0))
    for family in RELAX_ORDER:
        keyed = form.limit_rows.get(family, ())
        if not keyed:
            continue
        rows = np.zeros(len(m.row_names), bool)
        rows[[row for row, _ in keyed]] = True
        lifted = replace(
            m,
            row_lb=np.where(rows, -np.inf, m.row_lb),
            row_ub=np.where(rows, np.inf, m.row_ub),
        )
        out = solver(replace(form, milp=lifted), limit)
        if out.x is None:
            continue
        activity = m.A @ out.x
        tol = 1e-6 * np.maximum(1.0, np.abs(np.where(np.isfinite(m.row_ub), m.row_ub, m.row_lb)))
        over = [
            (key, float(activity[row]), float(bound))
            for row, key in keyed
            for bound in [m.row_ub[row] if np.isfinite(m.row_ub[row]) else m.row_lb[row]]
            if activity[row] > m.row_ub[row] + tol[row] or activity[row] < m.row_lb[row] - tol[row]
        ]
        return [BY_FAMILY[family].fleet_explain(form, Relaxed(float(out.objective), over))]
    return [
        "no fleet carries the load at the SLO even without quotas, budget, quality, "
        "latency, memory, type or storage limits: allow more instance types or plans"
    ]


def decode(
    form: FleetFormulation, x: np.ndarray, status: Status, backend: str, gap: float | None
) -> SolveResult:
    """The fleet a solution ``x`` of the fleet MILP states, with its cost lines."""
    cost, space = form.cost, form.cost.space
    x = np.asarray(x, float)
    f, a = form.z_pairs[int(np.argmax(x[form.z]))]
    artifacts = _decoded_artifacts(form, x)
    n = np.round(x[form.cols.counts]).astype(int)
    nz = np.nonzero(n)[0]
    shares = _with_standby(form, _decoded_shares(form, x), form.cols.count_keys.iloc[nz], artifacts)
    counts = _decoded_counts(form, n, nz)
    shares["compute_per_day"] = compute_shares(form, shares, counts)
    q = np.array([form.cols.by_component[part].T @ x for part in COMPONENTS])
    per_component = q @ cost.prices.values
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
        costs=_cost_lines(form, n, per_component),
        commitments=tuple(commitment_advice(form, counts, shares)),
        component_quantities=q,
        prices=cost.prices,
        days=form.days,
    )
    return SolveResult(
        status=status,
        backend=backend,
        currency=cost.scn.currency,
        objective_per_day=float(form.milp.c @ x),
        gap=gap,
        plan=plan,
        components=components_table(dict(zip(COMPONENTS, per_component.tolist(), strict=True))),
        explanation=stopped_early(status, gap),
        solution=x,
    )


def _decoded_artifacts(form: FleetFormulation, x: np.ndarray) -> pd.DataFrame:
    """The artifact stored for each model of the chosen configuration."""
    space, art = form.cost.space, form.fleet.artifacts
    chosen = np.nonzero(x[form.x] > 0.5)[0]
    return pd.DataFrame(
        {
            "model": [space.models[form.fleet.units.model[u]] for u in art.unit.iloc[chosen]],
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


def _decoded_shares(form: FleetFormulation, x: np.ndarray) -> pd.DataFrame:
    """Each mode carrying load: its model, pool, type, configuration and share."""
    w = x[form.cols.w] / form.cols.w_scale
    used = np.nonzero(w > SHARE_TOL)[0]
    modes = form.fleet.modes.iloc[used]
    return pd.DataFrame(
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


def _decoded_counts(form: FleetFormulation, n: np.ndarray, nz: np.ndarray) -> pd.DataFrame:
    """Instances per (pool, type, plan) and hour of each day type ("all", hour -1 for a
    committed plan), with the count column each comes from."""
    keys, space = form.cols.count_keys, form.cost.space
    pool, inst = keys.pool.to_numpy(), keys.instance_idx.to_numpy()
    plan, day, group = keys.plan.to_numpy(), keys.day.to_numpy(), keys.group.to_numpy()
    records = []
    for j in nz:
        where = (form.pools[pool[j]], space.instances[inst[j]], plan[j])
        if plan[j] in COMMITTED_PLANS:
            records.append((*where, "all", -1, n[j], j))
            continue
        name = form.days.names[day[j]]
        for t in form.days.slots[day[j]][group[j]][1]:  # a slot's count, hour by hour
            records.append((*where, name, t, n[j], j))
    return pd.DataFrame(
        records, columns=["pool", "instance", "plan", "day_type", "hour", "instances", "column"]
    )


def _cost_lines(form: FleetFormulation, n: np.ndarray, per_component: np.ndarray):
    """Per component its cost per day, compute followed by the instances of each plan."""
    paid = n * form.milp.c[form.cols.counts]  # per count column: instances x hours x price
    plan_of = form.cols.count_keys.plan.to_numpy()
    lines = []
    for part, amount in zip(COMPONENTS, per_component.tolist(), strict=True):
        lines.append((part, amount))
        if part == "compute":  # the fleet's instances by purchase plan
            for plan in shown_plans(form.cost.scn):
                lines.append((f"  {plan}", float(paid[plan_of == plan].sum())))
    costs = pd.DataFrame(lines, columns=["line", "per_day"])
    costs.loc[len(costs)] = ("total", float(per_component.sum()))  # plan lines are in compute
    return costs


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


def audit_fleet(
    form: FleetFormulation, result: SolveResult, limits: tuple[LimitValue, ...]
) -> FleetAudit:
    """Check the decoded fleet (``result.plan``) against the scenario (see the module
    docstring); ``limits``: its values of every limit family (``fleet_limits``), each of
    which must be met."""
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
    problems += [
        f"{v.name}: {v.value:.6g} {v.sense} {v.limit:g} {v.unit}" for v in limits if not v.met
    ]
    checks += len(limits)
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
    checks += _audit_quotas(form, plan, problems)
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


def _recomputed_cost(form: FleetFormulation, plan: FleetPlan, x: np.ndarray) -> float:
    """Counts x plan prices x hours, from the scenario's day types, plus the artifacts,
    fusion, people and data priced from the price vector."""
    total = sum(type_costs(form, plan.counts).values())
    fixed = form.cols.by_price[: form.latency.start] @ form.cost.prices.values
    return total + float(fixed @ x[: form.latency.start])
