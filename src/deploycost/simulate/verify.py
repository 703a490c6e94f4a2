"""Solve, then verify by simulation; where a model misses its limit, tell the solver and
solve again.

Round k solves the scenario, simulates the optimum hour by hour
(``simulate.run.simulate_deployment``) and, for every model whose simulated p99 exceeds its
SLO in some hour, tightens that model's analytic limit by the factor the simulation showed:
``slo_next = slo x solver's p99 / worst simulated p99`` (the analytic model was
that much optimistic there), so the next optimum leaves the failing option behind. It
stops when every simulated p99 meets the scenario's own SLO (verified), when the tightened
scenario has no feasible deployment, or after ``max_rounds`` (not verified; the last
figures are reported). Fleets are verified the same way (``simulate.fleet``): every
(pool, type), day type and hour with all its instances; the ``spot cut`` case (whole spot
instances lost) is reported beside the verdict, not in it (the interruption rule counts
capacity in fractions of an instance, the cut in whole ones).
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

MAX_ROUNDS = 5


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


def solve_verified(
    scn: Scenario,
    settings: Settings,
    backend: str = "scipy-highs",
    max_rounds: int = MAX_ROUNDS,
) -> Verified:
    limits: dict[str, float] = {}
    rounds: list[str] = []
    result = _solve(scn, backend)
    if not result.ok:
        return Verified(result, False, pd.DataFrame(), ["no deployment to verify"])
    last = (result, pd.DataFrame())
    for k in range(1, max_rounds + 1):
        if not result.ok:
            rounds.append(f"round {k}: no deployment meets the tightened limits")
            return Verified(_with_scenario_slos(scn, last[0]), False, last[1], rounds)
        table = simulate_plan(scn, result.plan, settings)
        last = (result, table)
        sim = _judged(table)
        missed = sim[~sim.met.astype(bool)] if len(sim) else sim
        if missed.empty:
            skipped = sorted(set(table.model) - set(sim.model))
            rounds.append(
                f"round {k}: {result.objective_per_day:,.2f} {scn.currency}/day, verified"
                + (f" (not simulated: {', '.join(skipped)})" if skipped else "")
            )
            return Verified(_with_scenario_slos(scn, result), True, table, rounds)
        notes = []
        for model, rows in missed.groupby("model"):
            slo = scn.model(model).latency_limit_ms
            used = limits.get(model, slo)
            factor = float(_solver_p99(result.plan, model) / rows.p99_ms.max())
            limits[model] = min(used * 0.99, slo * factor)
            notes.append(
                f"{model} simulated {rows.p99_ms.max():,.4g} ms > SLO "
                f"{scn.model(model).latency_limit_ms:g} ms; its analytic limit becomes "
                f"{limits[model]:,.4g} ms"
            )
        rounds.append(
            f"round {k}: {result.objective_per_day:,.2f} {scn.currency}/day; " + "; ".join(notes)
        )
        result = _solve(_tightened(scn, limits), backend)
    rounds.append(f"stopped after {max_rounds} rounds without a verified deployment")
    return Verified(_with_scenario_slos(scn, last[0]), False, last[1], rounds)
