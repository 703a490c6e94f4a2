"""Solve, then verify by simulation; where a model misses its limit, tell the solver and
solve again.

Round k solves the scenario, simulates the optimum hour by hour
(``simulate.run.simulate_deployment``) and, for every model whose simulated p99 exceeds its
SLO in some hour, tightens that model's analytic limit by the factor the simulation showed:
``slo_next = slo_used x min over hours (predicted / simulated)`` (the analytic model was
that much optimistic there), so the next optimum leaves the failing option behind. It
stops when every simulated p99 meets the scenario's own SLO (verified), when the tightened
scenario has no feasible deployment, or after ``max_rounds`` (not verified; the last
figures are reported). LLM models are not simulated yet and are left as they are.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import pandas as pd

from deploycost.optimize.solve import SolveResult, solve
from deploycost.scenario.schema import Scenario, validate_scenario
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
                "max_queue_delay_ms": None if math.isinf(delay) else delay,
                "service": settings.service,
                "service_cv": settings.cv,
                "seed": settings.seed,
            },
            "rounds": list(self.rounds),
            "not_simulated": sorted(
                set(self.simulation.get("model", [])) - set(self.worst.get("model", []))
            ),
            "models": {
                row.model: {
                    "worst_hour": row.hour,
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
        sim = simulated_rows(self.simulation)
        if sim.empty:
            return sim
        return sim.loc[sim.groupby("model").p99_ms.idxmax()].reset_index(drop=True)


def _with_scenario_slos(scn: Scenario, result: SolveResult) -> SolveResult:
    """The result as the user sees it: each model's own SLO and headroom against it (the
    tightened limits are the solver's means, reported in the rounds)."""
    models = result.models.copy()
    models["slo_ms"] = [scn.model(m).latency_limit_ms for m in models.model]
    models["headroom_ms"] = models.slo_ms - models.p99_ms
    return dataclasses.replace(result, models=models)


def _tightened(scn: Scenario, limits: dict[str, float]) -> Scenario:
    raw = scn.model_dump(exclude_unset=True, mode="json")
    for spec in raw["models"]:
        if spec["name"] in limits:
            spec["latency_slo_ms"] = limits[spec["name"]]
    return validate_scenario(raw)


def solve_verified(
    scn: Scenario,
    settings: Settings,
    backend: str = "scipy-highs",
    max_rounds: int = MAX_ROUNDS,
) -> Verified:
    limits: dict[str, float] = {}
    rounds: list[str] = []
    result = solve(scn, backend=backend, runner_ups=False)
    if not result.ok:
        return Verified(result, False, pd.DataFrame(), ["no deployment to verify"])
    last = (result, pd.DataFrame())
    for k in range(1, max_rounds + 1):
        if not result.ok:
            rounds.append(f"round {k}: no deployment meets the tightened limits")
            return Verified(_with_scenario_slos(scn, last[0]), False, last[1], rounds)
        table = simulate_deployment(scn, result.deployment, settings)
        last = (result, table)
        sim = simulated_rows(table)
        missed = sim[~sim.met.astype(bool)] if len(sim) else sim
        if missed.empty:
            skipped = sorted(set(table.model) - set(sim.model))
            rounds.append(
                f"round {k}: {result.objective_per_day:,.2f} {scn.currency}/day, verified"
                + (f" (not simulated: {', '.join(skipped)})" if skipped else "")
            )
            return Verified(_with_scenario_slos(scn, result), True, table, rounds)
        notes = []
        solver_p99 = result.models.set_index("model").p99_ms
        for model, rows in missed.groupby("model"):
            slo = scn.model(model).latency_limit_ms
            used = limits.get(model, slo)
            factor = float(solver_p99[model] / rows.p99_ms.max())
            limits[model] = min(used * 0.99, slo * factor)
            notes.append(
                f"{model} simulated {rows.p99_ms.max():,.4g} ms > SLO "
                f"{scn.model(model).latency_limit_ms:g} ms; its analytic limit becomes "
                f"{limits[model]:,.4g} ms"
            )
        rounds.append(
            f"round {k}: {result.objective_per_day:,.2f} {scn.currency}/day; " + "; ".join(notes)
        )
        result = solve(_tightened(scn, limits), backend=backend, runner_ups=False)
    rounds.append(f"stopped after {max_rounds} rounds without a verified deployment")
    return Verified(_with_scenario_slos(scn, last[0]), False, last[1], rounds)
