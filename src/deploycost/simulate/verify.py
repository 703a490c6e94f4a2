"""Solve, then verify by simulation; search each model's analytic limit both ways until
the cheapest answer the simulation accepts is found.

Round k solves the scenario with an analytic p99 limit per model (the SLO at first) and
simulates the optimum hour by hour (``simulate.run.simulate_deployment``; a fleet every
(pool, type), day type and hour with all its instances, ``simulate.fleet``). Per model the
limits tried bracket the answer: ``hi`` the smallest analytic p99 whose answer missed the
SLO in simulation, ``lo`` the largest limit whose answer met it, ``floor`` the largest
limit with no feasible answer. The next limit is the secant step ``limit x SLO / simulated
p99`` (from the analytic p99 of the answer when it missed), kept strictly inside the
bracket (else its middle):

* a model that missed its SLO is *tightened* (more or faster replicas);
* a model whose simulated p99 met it (the high end of its 95 % interval, so that a lucky
  run loosens nothing) while its analytic p99 was within ``SHAPED`` of a limit below its
  SLO is *loosened* back towards the SLO (a tightening step may overshoot: fewer replicas
  may still meet it), until the bracket is within ``CLOSE``, a round gives the answer of
  the round before, or the rounds run out.

Limits never rise above the SLO: the answer always meets the analytic model at the
scenario's own limits (what ``evaluate`` checks its exported file against), and simulation
only ever asks for more. Where the analytic model is pessimistic (least-request dispatch,
taken as random) the answer keeps that margin.

The answer is the cheapest round whose simulation met every SLO (verified), else the last
one found (not verified; the last figures are reported); ``max_rounds`` bounds the solves.
The ``spot cut`` case of a fleet (whole spot instances lost) is reported beside the
verdict, not in it (the interruption rule counts capacity in fractions of an instance, the
cut in whole ones).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import pandas as pd

from deploycost.optimize.result import DeploymentPlan, FleetPlan, SolveResult
from deploycost.optimize.solve import solve
from deploycost.scenario.schema import Scenario, validate_scenario
from deploycost.simulate.fleet import simulate_fleet
from deploycost.simulate.run import Settings, simulate_deployment, simulated_rows

MAX_ROUNDS = 8


@dataclass(frozen=True)
class Verified:
    """The last solve that found a deployment, whether its simulation met every SLO, and
    what each round did."""

    result: SolveResult
    verified: bool
    simulation: pd.DataFrame  # the last round's rows (simulate_deployment)
    rounds: list[str] = field(default_factory=list)  # one line per round, readable

    def document(self, settings: Settings) -> dict:
        """What ``recommended.yaml`` and ``solve --json`` say about the verification."""
        delay = settings.max_queue_delay_ms
        return {
            "verified": self.verified,
            "simulated": {
                "requests_per_model_hour": settings.requests,
                "hours": settings.hours,
                "dispatch": settings.dispatch,
                **({"dispatch_by_model": dict(settings.by_model)} if settings.by_model else {}),
                "max_queue_delay_ms": None if math.isinf(delay) else delay,
                "service": settings.service,
                "service_cv": settings.cv,
                "seed": settings.seed,
            },
            "rounds": list(self.rounds),
            "not_simulated": sorted(
                set(self.simulation.get("model", [])) - set(self.worst.get("model", []))
            ),
            "spot_cut_misses": [
                f"{r.model} on {r.instance}, {r.day_type} {r.hour:02d}h: {r.p99_ms:,.4g} ms "
                f"with {r.replicas} instance(s) left (SLO {r.slo_ms:g} ms)"
                for r in self.spot_cut.itertuples()
                if not r.met
            ],
            "models": {
                row.model: {
                    "worst_hour": row.hour,
                    **({"day_type": row.day_type} if "day_type" in self.worst else {}),
                    "simulated_p99_ms": float(row.p99_ms),
                    "p99_interval_ms": [float(row.p99_low_ms), float(row.p99_high_ms)],
                    "predicted_p99_ms": float(row.predicted_p99_ms),
                    "slo_ms": float(row.slo_ms),
                    "met": bool(row.met),
                }
                for row in self.worst.itertuples()
            },
        }

    @property
    def worst(self) -> pd.DataFrame:
        """Per model, the simulated hour with the highest p99 of the last round."""
        sim = _judged(self.simulation)
        if sim.empty:
            return sim
        return sim.loc[sim.groupby("model").p99_ms.idxmax()].reset_index(drop=True)

    @property
    def spot_cut(self) -> pd.DataFrame:
        """The fleet's simulated hours with the spot instances the interruption rule
        may lose gone (empty without spot)."""
        sim = simulated_rows(self.simulation)
        if "case" not in sim:
            return sim.iloc[0:0]
        return sim[sim.case == "spot cut"]


def _judged(table: pd.DataFrame) -> pd.DataFrame:
    """The simulated rows the verdict rests on (a fleet's hours with all its instances)."""
    sim = simulated_rows(table)
    return sim[sim.case != "spot cut"] if "case" in sim else sim


def _with_scenario_slos(scn: Scenario, result):
    """The result as the user sees it: each model's own SLO and headroom against it (the
    tightened limits are the solver's means, reported in the rounds)."""
    if not isinstance(result.plan, DeploymentPlan):
        return result  # a fleet's shares carry no SLO column
    models = result.plan.models.copy()
    models["slo_ms"] = [scn.model(m).latency_limit_ms for m in models.model]
    models["headroom_ms"] = models.slo_ms - models.p99_ms
    return dataclasses.replace(result, plan=dataclasses.replace(result.plan, models=models))


def _tightened(scn: Scenario, limits: dict[str, float]) -> Scenario:
    raw = scn.model_dump(exclude_unset=True, mode="json")
    for spec in raw["models"]:
        if spec["name"] in limits:
            spec["latency_slo_ms"] = limits[spec["name"]]
    return validate_scenario(raw)


def _solve(scn: Scenario, backend: str) -> SolveResult:
    return solve(scn, backend=backend, runner_ups=False)


def simulate_plan(scn: Scenario, plan, settings: Settings, progress=None) -> pd.DataFrame:
    """Simulate a solved plan hour by hour: a deployment's models, or a fleet's types per
    day type (``simulate.run``, ``simulate.fleet``)."""
    if isinstance(plan, FleetPlan):
        return simulate_fleet(scn, plan, settings, progress)
    return simulate_deployment(scn, plan.deployment, settings, progress)


def _solver_p99(plan, model: str) -> float:
    """The p99 the solver promised for ``model`` (a fleet: its worst type at capacity)."""
    if isinstance(plan, FleetPlan):
        mine = plan.shares[(plan.shares.model == model) & (plan.shares["mode"] >= 0)]
        return float(mine.p99_at_cap_ms.max())
    return float(plan.models.set_index("model").p99_ms[model])


@dataclass
class _Bracket:
    """One model's analytic limits tried so far (see the module docstring)."""

    limit: float  # the limit of the round being simulated
    lo: float = 0.0  # largest limit whose answer met the SLO
    hi: float = math.inf  # smallest analytic p99 whose answer missed it
    floor: float = 0.0  # largest limit without a feasible answer

    def inside(self, target: float) -> float:
        """``target`` if strictly inside the bracket, else the bracket's middle."""
        low, high = max(self.lo, self.floor), self.hi
        if low < target < high:
            return target
        if math.isinf(high):
            return max(target, low * 1.1)
        return (low + high) / 2 if low > 0 else high * 0.9

    def closed(self) -> bool:
        return self.hi <= max(self.lo, self.floor) * CLOSE


CLOSE = 1.02  # a bracket this narrow moves no replica worth a round
SHAPED = 0.8  # an answer's analytic p99 this near its limit: the limit may have shaped it


def _steps(scn, result, missed, sim, brackets) -> tuple[list[str], bool]:
    """Move each model's limit for the next round; (notes, whether any limit moved)."""
    notes, moved = [], False
    # per model its worst hour: the estimate (tightening rests on it, as the verdict does)
    # and the high end of the 95 % interval (loosening does: a cheaper answer from a lucky
    # run would be an optimistic error)
    worst = sim.groupby("model")[["p99_ms", "p99_high_ms"]].max()
    for model, b in brackets.items():
        slo = scn.model(model).latency_limit_ms
        if model not in worst.index:
            continue
        simulated, predicted = float(worst.p99_ms[model]), _solver_p99(result.plan, model)
        if model in missed:
            b.hi = min(b.hi, predicted)
            step = b.inside(predicted * slo / simulated)
            what = f"{model} simulated {simulated:,.4g} ms > SLO {slo:g} ms"
        else:
            b.lo = max(b.lo, b.limit)
            upper = float(worst.loc[model].max())
            shaped = b.limit < slo and predicted >= SHAPED * b.limit and not b.closed()
            if not shaped or not 0 < upper < slo:
                continue
            step = min(b.inside(b.limit * slo / upper), slo)
            what = f"{model} simulated {simulated:,.4g} ms <= SLO {slo:g} ms"
        notes.append(f"{what}; its analytic limit {b.limit:,.4g} -> {step:,.4g} ms")
        moved = moved or step != b.limit
        b.limit = step
    return notes, moved


def solve_verified(
    scn: Scenario,
    settings: Settings,
    backend: str = "scipy-highs",
    max_rounds: int = MAX_ROUNDS,
) -> Verified:
    rounds: list[str] = []
    result = _solve(scn, backend)
    if not result.ok:
        return Verified(result, False, pd.DataFrame(), ["no deployment to verify"])
    brackets = {m.name: _Bracket(m.latency_limit_ms) for m in scn.models}
    last, best, previous = (result, pd.DataFrame()), None, None
    for k in range(1, max_rounds + 1):
        if not result.ok:  # the limits tried are out of reach: back towards the last met
            for b in brackets.values():
                if b.limit < (b.lo or math.inf) and b.limit < b.hi:
                    b.floor = max(b.floor, b.limit)
                    b.limit = b.inside(b.limit)
            rounds.append(f"round {k}: no deployment meets the analytic limits tried")
            result = _solve(_tightened(scn, _limits(brackets)), backend)
            continue
        table = simulate_plan(scn, result.plan, settings)
        last = (result, table)
        sim = _judged(table)
        missed = set(sim[~sim.met.astype(bool)].model) if len(sim) else set()
        cost = f"{result.objective_per_day:,.2f} {scn.currency}/day"
        if not missed and (best is None or result.objective_per_day < best[0].objective_per_day):
            best = (result, table)
        notes, moved = _steps(scn, result, missed, sim, brackets) if len(sim) else ([], False)
        verdict = "verified" if not missed else "not verified"
        skipped = sorted(set(table.model) - set(sim.model)) if len(table) else []
        rounds.append(
            f"round {k}: {cost}, {verdict}"
            + (f" (not simulated: {', '.join(skipped)})" if skipped else "")
            + ("; " + "; ".join(notes) if notes else "")
        )
        if not moved or _same(result, previous):
            break
        previous = result
        result = _solve(_tightened(scn, _limits(brackets)), backend)
    else:
        if best is None:
            rounds.append(f"stopped after {max_rounds} rounds without a verified deployment")
    if best is not None:
        if best[0] is not last[0]:
            rounds.append(
                f"the cheapest verified round: {best[0].objective_per_day:,.2f} {scn.currency}/day"
            )
        return Verified(_with_scenario_slos(scn, best[0]), True, best[1], rounds)
    return Verified(_with_scenario_slos(scn, last[0]), False, last[1], rounds)


def _same(result: SolveResult, other: SolveResult | None) -> bool:
    """The same answer (to the cent) as the round before."""
    return (
        other is not None
        and other.ok
        and (round(result.objective_per_day, 2) == round(other.objective_per_day, 2))
    )


def _limits(brackets: dict[str, _Bracket]) -> dict[str, float]:
    return {m: b.limit for m, b in brackets.items()}
