"""A given fleet (an export's own ``recommended.yaml`` with ``pools``) costed and checked.

The file states every decision of the fleet MILP: the fusion configuration and automation
level, each data source's tier, each model's artifact, the share of its load on each
(type, batch) it runs on, and the instances of every (pool, type, plan) per hour of each
day type. Those fix every column (a count column of an hour slot takes the largest count
the file gives in the slot's hours: the cost never comes out below what the file buys), so
the fleet's cost is the objective at that point, its rows are checked one by one, and the
decoded fleet goes through the same limits and independent audit as a solved one.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from deploycost.catalog import COMMITTED_PLANS
from deploycost.cost.model import CostModel
from deploycost.errors import ScenarioError
from deploycost.optimize.fleet import FleetFormulation, build_fleet
from deploycost.optimize.fleet_llm import fleet_llm_table
from deploycost.optimize.fleet_solve import audit_fleet, decode
from deploycost.optimize.limits import fleet_limits
from deploycost.optimize.result import SolveResult
from deploycost.optimize.solvers import Status
from deploycost.options.capacity import fleet_options

ROW_TOL = 1e-6  # relative, as the audit's


@dataclass(frozen=True)
class GivenFleet:
    """The fleet a file states: decoded like a solved one (``result``: cost, components,
    limits, audit), and every way it fails the scenario (``problems``: rows of the fleet
    MILP it breaks, audit findings, limits not met)."""

    result: SolveResult
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def evaluate_fleet(scn, doc: dict, source: str = "fleet file") -> GivenFleet:
    """Cost and check the fleet ``doc`` states for scenario ``scn`` (see the module
    docstring); a ``ScenarioError`` naming the field when the file states a choice the
    scenario does not offer."""
    if scn.fleet is None:
        raise ScenarioError(
            ["pools: a fleet's file needs a scenario with a 'fleet' section"], source
        )
    cost = CostModel(scn)
    fleet = fleet_options(cost)
    if fleet.missing:
        raise ScenarioError(list(fleet.missing.values()), source)
    form = build_fleet(cost, fleet, hourly=True)
    problems: list[str] = []
    x = _point(form, doc, problems)
    if problems:
        raise ScenarioError(problems, source)
    broken = _broken_rows(form, x)
    result = decode(form, x, Status.FEASIBLE, "given", None)
    limits = fleet_limits(form, result.plan, result.objective_per_day)
    audit = audit_fleet(form, result, limits)
    result = replace(
        result,
        plan=replace(result.plan, audit=audit),
        limits=limits,
        llm=fleet_llm_table(form, result.plan),
    )
    return GivenFleet(result, tuple(broken + list(audit.problems)))


def _point(form: FleetFormulation, doc: dict, problems: list[str]) -> np.ndarray:
    """Every column's value as the file states it (problems: what it cannot match)."""
    space = form.cost.space
    x = np.zeros(len(form.milp.c))
    f = _index(space.fusions, doc.get("fusion"), "fusion", problems)
    a = _index(space.automation, doc.get("automation"), "automation", problems)
    if f is None or a is None:
        return x
    x[
        form.z.start + int(np.nonzero((form.z_pairs[:, 0] == f) & (form.z_pairs[:, 1] == a))[0][0])
    ] = 1
    tiers = doc.get("data_tiers") or {}
    for s, name in enumerate(space.sources):
        t = _index(space.tiers, tiers.get(name), f"data_tiers.{name}", problems)
        if t is not None:
            pair = np.nonzero((form.y_pairs[:, 0] == s) & (form.y_pairs[:, 1] == t))[0]
            if len(pair):
                x[form.y.start + pair[0]] = 1
            else:
                problems.append(f"data_tiers.{name}: tier {tiers.get(name)!r} is not offered")
    units = np.nonzero(form.fleet.units.fusion == f)[0]
    models = doc.get("models") or {}
    for u in units:
        name = space.models[form.fleet.units.model[u]]
        entry = models.get(name)
        if not isinstance(entry, dict):
            problems.append(f"models.{name}: missing (the fusion {doc['fusion']!r} runs it)")
            continue
        precision = _artifact(form, x, u, name, entry.get("artifact") or {}, problems)
        if precision is not None:
            _shares(form, x, u, name, precision, entry.get("runs_on") or [], problems)
    _counts(form, x, doc.get("pools") or [], problems)
    _stage_budgets(form, x, f)
    return x


def _index(names, value, field: str, problems: list[str]) -> int | None:
    if value in names:
        return list(names).index(value)
    problems.append(f"{field}: must be one of {', '.join(map(str, names))}; got {value!r}")
    return None


def _artifact(form, x, u: int, model: str, art: dict, problems) -> int | None:
    """Sets the artifact column the file states for unit u; its precision index."""
    space, table = form.cost.space, form.fleet.artifacts
    want = {
        "precision_idx": (space.precisions, art.get("precision")),
        "tier_idx": (space.tiers, art.get("tier")),
        "compression_idx": (space.compressions, art.get("compression")),
    }
    mine = table.unit.to_numpy() == u
    for column, (names, value) in want.items():
        mine &= table[column].to_numpy() == (list(names).index(value) if value in names else -1)
    mine &= table.backups.to_numpy() == art.get("backups")
    hit = np.nonzero(mine)[0]
    if not len(hit):
        problems.append(
            f"models.{model}.artifact: {art.get('precision')}/{art.get('tier')}/"
            f"{art.get('compression')} with {art.get('backups')} backups is not an artifact "
            f"the scenario allows"
        )
        return None
    x[form.x.start + hit[0]] = 1
    return int(table.precision_idx.iat[hit[0]])


def _shares(form, x, u: int, model: str, precision: int, runs_on: list, problems) -> None:
    """Sets the share columns (and the type-use and placement binaries) of unit u."""
    modes, cols = form.fleet.modes, form.cols
    instances = form.cost.space.instances
    for k, run in enumerate(runs_on):
        where = f"models.{model}.runs_on[{k}]"
        if not isinstance(run, dict) or run.get("instance") not in instances:
            problems.append(f"{where}.instance: not an instance type of the scenario")
            continue
        h = instances.index(run["instance"])
        pair = np.nonzero((cols.use_pairs[:, 0] == u) & (cols.use_pairs[:, 1] == h))[0]
        if len(pair):
            x[cols.use.start + pair[0]] = 1
        if run.get("role") == "standby":
            continue
        same = (
            (modes.unit.to_numpy() == u)
            & (modes.instance_idx.to_numpy() == h)
            & (modes.precision_idx.to_numpy() == precision)
            & (modes.batch.to_numpy() == run.get("batch"))
        )
        if "tensor_parallel" in run:
            same &= modes.tensor_parallel.to_numpy() == run["tensor_parallel"]
        hit = np.nonzero(same)[0]
        if not len(hit):
            problems.append(
                f"{where}: {run['instance']} at batch {run.get('batch')} is not a mode the "
                f"scenario offers for {model} (within its limits, not dominated)"
            )
            continue
        m = hit[0]
        share = run.get("share")
        if isinstance(share, bool) or not isinstance(share, int | float) or not 0 <= share <= 1:
            problems.append(f"{where}.share: must be a number from 0 to 1; got {share!r}")
            continue
        x[cols.w.start + m] = share * cols.w_scale[m]
        placed = np.nonzero(cols.place_modes == m)[0]
        if len(placed) and share > 0:
            x[cols.place.start + placed[0]] = 1


def _counts(form, x, pools: list, problems) -> None:
    """Sets every count column (one per hour) from the pools' hourly schedules; instances
    the file buys that no column can hold (a type or plan the scenario does not offer for
    the pool) are problems, never dropped from the cost."""
    keys, days = form.cols.count_keys, form.days
    instances = form.cost.space.instances
    plans = ("on_demand", "spot", *COMMITTED_PLANS)
    offered = set(zip(keys.pool, keys.instance_idx, keys.plan, strict=True))
    schedules = {}
    for k, entry in enumerate(pools):
        if not isinstance(entry, dict):
            problems.append(f"pools[{k}]: must be a mapping; got {entry!r:.80}")
            continue
        pool, inst = entry.get("pool"), entry.get("instance")
        if pool not in form.pools or inst not in instances:
            problems.append(f"pools[{k}]: pool {pool!r} on {inst!r} is not in the scenario")
            continue
        p, h = form.pools.index(pool), instances.index(inst)
        for plan in plans:
            hours = _schedule(entry.get(plan), f"pools[{k}].{plan}", days.names, problems)
            if hours is None or not np.any(hours):
                continue
            if (p, h, plan) not in offered:
                problems.append(
                    f"pools[{k}].{plan}: {pool} on {inst} under {plan} is not offered "
                    f"(a type none of the pool's models runs on within its limits, or a plan "
                    f"the scenario does not allow or price)"
                )
            schedules[(p, h, plan)] = hours
    for j, key in enumerate(keys.itertuples(index=False)):
        hours = schedules.get((int(key.pool), int(key.instance_idx), key.plan))
        if hours is None:
            continue
        if key.plan in COMMITTED_PLANS:
            x[form.cols.counts.start + j] = float(hours)
        else:
            (hour,) = days.slots[key.day][key.group][1]
            x[form.cols.counts.start + j] = float(hours[key.day, hour])


def _schedule(stated, field: str, day_types: list[str], problems):
    """A plan's instances as the file states them: a whole number for a committed plan
    (all year), else per day type 24 hourly whole numbers, as a (D, 24) array; absent: 0."""
    if stated is None:
        return 0 if field.rsplit(".", 1)[1] in COMMITTED_PLANS else np.zeros((len(day_types), 24))
    if field.rsplit(".", 1)[1] in COMMITTED_PLANS:
        if _count(stated):
            return stated
        problems.append(f"{field}: must be a whole number of instances >= 0; got {stated!r}")
        return None
    if not isinstance(stated, dict) or set(stated) - set(day_types):
        problems.append(
            f"{field}: must map day types ({', '.join(day_types)}) to 24 hourly counts; "
            f"got {stated!r:.80}"
        )
        return None
    out = np.zeros((len(day_types), 24))
    for d, day in enumerate(day_types):
        hours = stated.get(day, [0] * 24)
        if not isinstance(hours, list) or len(hours) != 24 or not all(map(_count, hours)):
            problems.append(
                f"{field}.{day}: must be 24 whole numbers of instances >= 0; got {hours!r:.80}"
            )
            return None
        out[d] = hours
    return out


def _count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**9


def _stage_budgets(form, x, f: int) -> None:
    """Each stage budget of configuration f at the slowest placed mode of its stage."""
    if form.latency.start == form.latency.stop:
        return
    modes, cols = form.fleet.modes, form.cols
    p99 = modes.p99_at_cap_ms.to_numpy()
    unit_of = modes.unit.to_numpy()
    for i, m in enumerate(cols.place_modes):
        col = form.stage_col[unit_of[m]]
        if col >= 0 and x[cols.place.start + i] > 0.5:
            x[col] = max(x[col], p99[m])


def _broken_rows(form: FleetFormulation, x: np.ndarray) -> list[str]:
    """The rows of the fleet MILP the given point breaks, each with its activity and bound."""
    m = form.milp
    activity = m.A @ x
    scale = ROW_TOL * np.maximum(1.0, np.abs(np.where(np.isfinite(m.row_ub), m.row_ub, m.row_lb)))
    over = activity > m.row_ub + scale
    under = activity < m.row_lb - scale
    return [
        f"{m.row_names[r]}: {activity[r]:.6g} "
        + (f"> {m.row_ub[r]:g}" if over[r] else f"< {m.row_lb[r]:g}")
        for r in np.nonzero(over | under)[0]
    ]
