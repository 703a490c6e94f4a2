"""``deploycost simulate``: the chosen (or a given) deployment, simulated hour by hour."""

from __future__ import annotations

import enum
import json
import sys
from functools import partial
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

from deploycost.cli.common import (
    ScenarioArgument,
    _records,
    _scenario,
    _table,
    emit,
    out,
    print_table,
    progress_bar,
)
from deploycost.errors import ScenarioError
from deploycost.optimize.solve import solve
from deploycost.scenario.schema import load_deployment
from deploycost.simulate import DISTRIBUTIONS, POLICIES

Dispatch = enum.StrEnum("Dispatch", {name: name for name in POLICIES})
Service = enum.StrEnum("Service", {name: name for name in DISTRIBUTIONS})
Hours = enum.StrEnum("Hours", {"all": "all", "peak": "peak"})
DEFAULT_HOURS = Hours("all")


def simulate_command(
    scenario: ScenarioArgument = None,
    deployment: Annotated[
        Path | None, typer.Option(help="Deployment YAML (default: solve the scenario first)")
    ] = None,
    hours: Annotated[Hours, typer.Option(help="Every hour of the profile, or the peak")] = (
        DEFAULT_HOURS
    ),
    requests: Annotated[int, typer.Option(help="Simulated requests per model-hour")] = 200_000,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same figures)")] = 0,
    dispatch: Annotated[
        Dispatch | None,
        typer.Option(help="How requests reach replicas (default: the scenario's options)"),
    ] = None,
    max_queue_delay_ms: Annotated[
        float | None,
        typer.Option(help="A batcher's maximum queue delay (default: the scenario's)"),
    ] = None,
    service: Annotated[
        Service | None,
        typer.Option(help="Service-time distribution (default: deterministic, or lognormal)"),
    ] = None,
    cv: Annotated[
        float | None,
        typer.Option(
            help="Service-time CV (default: options.service_cv, as the optimiser assumed)"
        ),
    ] = None,
    trace: Annotated[
        Path | None,
        typer.Option(help="CSV of request timestamps (s from the start of a day) to replay"),
    ] = None,
    scale_up_lag_min: Annotated[
        float | None,
        typer.Option(help="Minutes before an autoscaler's added replicas serve (default 0)"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
    wide: Annotated[
        bool, typer.Option("--wide", help="Every column (the default table fits 100 columns)")
    ] = False,
) -> None:
    """Simulate each model's replicas (Poisson arrivals per hour or a replayed trace,
    dispatch, dynamic batching, LLM slots; a fleet per type, day type and hour) and set the
    simulated p99 beside the analytic one and the SLO. Dispatch, batch delay and service
    variability default to the scenario's options, the same the analytic model uses."""
    # the simulator (and numba) load only when a simulation runs
    from deploycost.simulate.run import Settings

    scn = _scenario(scenario)
    settings = Settings.of(
        scn,
        requests=requests,
        hours=str(hours),
        seed=seed,
        dispatch=None if dispatch is None else str(dispatch),
        max_queue_delay_ms=max_queue_delay_ms,
        service=None if service is None else str(service),
        cv=cv,
        trace=None if trace is None else str(trace),
        scale_up_lag_min=scale_up_lag_min,
    )
    settings.check()
    table = _simulated(scn, settings, deployment, trace, progress=not as_json)
    if as_json:
        payload = {"scenario": scn.name, "rows": _records(table)}
        emit(json.dumps(payload, indent=2) + "\n")
        return
    _print(table, settings, wide)


def _simulated(scn, settings, deployment: Path | None, trace: Path | None, progress: bool):
    """The simulation's table: of the given deployment, else of the solved plan (a fleet
    as solved, per day type); a progress bar on a terminal."""
    from deploycost.simulate.run import simulate_deployment
    from deploycost.simulate.verify import simulate_plan

    if scn.fleet is not None and (deployment is not None or trace is not None):
        raise ScenarioError(
            [
                "a fleet is simulated as solved, per day type: --deployment and --trace "
                "are for scenarios without a fleet section"
            ],
            "simulate",
        )
    if deployment is not None:
        spec = load_deployment(scn, deployment)
        run = partial(simulate_deployment, scn, spec, settings)
    else:
        plan = solve(scn, runner_ups=False).raise_for_status().plan
        spec = getattr(plan, "deployment", None)
        run = partial(simulate_plan, scn, plan, settings)
    steps = None
    if spec is not None and not trace:  # a fleet's hours are not known before it runs
        steps = len(spec.models) * (25 if settings.hours == "all" else 1)
    if sys.stderr.isatty() and progress:
        with progress_bar() as bar:
            task = bar.add_task("simulating", total=steps)
            return run(lambda: bar.advance(task))
    return run()


def _policies(settings) -> str:
    own = "".join(f"; {model}: {d}" for model, d in settings.by_model)
    return f"{settings.dispatch} dispatch{own}"


def _print(table: pd.DataFrame, settings, wide: bool = False) -> None:
    from deploycost.simulate.run import simulated_rows

    everything = simulated_rows(table)
    cut = everything.case == "spot cut" if "case" in everything else everything.met & False
    simulated = everything[~cut]
    where = (
        simulated.instance
        + ", "
        + simulated.day_type
        + " "
        + simulated.hour.astype(str)
        + "h"
        + simulated.case.map({"spot cut": " spot cut"}).fillna("")
        if "day_type" in simulated
        else simulated.hour.astype(str)
    )
    shown = pd.DataFrame(
        {
            "model": simulated.model,
            "hour": where,
            "req/s": simulated.arrival_qps.map(lambda v: f"{v:,.1f}"),
            "replicas": simulated.replicas.astype(int),
            "batch": simulated.batch.astype(int),
            "p99 predicted": simulated.predicted_p99_ms.map(lambda v: f"{v:,.2f}"),
            "p99 simulated (95% CI)": [
                f"{p:,.2f} ({lo:,.2f}-{hi:,.2f})"
                for p, lo, hi in zip(
                    simulated.p99_ms, simulated.p99_low_ms, simulated.p99_high_ms, strict=True
                )
            ],
            "SLO ms": simulated.slo_ms.map(lambda v: f"{v:,.0f}"),
            "util": simulated.utilisation.map(lambda v: f"{v:.2f}"),
            "met": simulated.met.map({True: "yes", False: "NO"}),
        }
    )
    if settings.hours == "all":  # one line per model: its worst hour, and the count missed
        worst = simulated.groupby("model").p99_ms.idxmax()
        shown = shown.loc[worst.to_numpy()]
        missed = simulated.groupby("model").met.apply(lambda m: int((~m).sum()))
        shown.insert(2, "h missed", [missed[m] for m in shown.model])
        title = f"simulated p99, worst hour per model ({_policies(settings)})"
    else:
        title = f"simulated p99 at peak ({_policies(settings)})"
    if not wide:
        shown = shown.drop(columns=["req/s", "batch", "util"])
    print_table(_table(shown, title), wide)
    for note in table.note.dropna().unique():
        if note:
            out.print(f"note: {note}", markup=False, highlight=False)
    misses = int((~simulated.met).sum())
    out.print(
        f"{len(simulated)} model-hours simulated ({settings.requests:,} requests each); "
        + (f"the SLO is missed in {misses}" if misses else "every SLO is met"),
        markup=False,
        highlight=False,
    )
    if cut.any():
        lost = int((~everything.met & cut).sum())
        out.print(
            f"with the spot instances the interruption rule may lose gone (whole instances): "
            f"{int(cut.sum())} model-hours, the SLO is missed in {lost}",
            markup=False,
            highlight=False,
        )
