"""``deploycost solve``, and the optimum (verified by simulation when asked) that export
and report start from."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Annotated

import typer

from deploycost.cli.common import (
    DEFAULT_BACKEND,
    BackendOption,
    ScenarioArgument,
    _friendly,
    _progress,
    _scenario,
    emit,
    progress_bar,
)
from deploycost.cli.show import (
    _exit_unless_found,
    _print_verification,
    _refuse_estimates,
    print_result,
    solve_json,
)
from deploycost.optimize.solve import solve as run_solve
from deploycost.optimize.solvers import SolverOptions
from deploycost.scenario.schema import Scenario


@_friendly
def solve_command(
    scenario: ScenarioArgument = None,
    backend: BackendOption = DEFAULT_BACKEND,
    time_limit: Annotated[
        float | None,
        typer.Option(
            help="Seconds the solver stage may take, then it reports feasible + gap (the option "
            "grid, audit and output come on top)"
        ),
    ] = None,
    gap: Annotated[float, typer.Option(help="Relative MIP gap at which to stop")] = 0.0,
    runner_ups: Annotated[
        bool | None,
        typer.Option(
            "--runner-ups/--no-runner-ups",
            help="Re-solve per model for the best alternative (default: on up to 20 models; "
            "for a fleet off: a fleet solve per model and type)",
        ),
    ] = None,
    verify: Annotated[
        bool,
        typer.Option(
            "--verify/--no-verify", help="Simulate the optimum and re-solve until it holds"
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
    wide: Annotated[
        bool, typer.Option("--wide", help="Every column (the default table fits 100 columns)")
    ] = False,
    strict: Annotated[
        bool,
        typer.Option(help="Refuse an answer that rests on an estimate or an unstated default"),
    ] = False,
) -> None:
    """The cheapest deployment that meets every latency, throughput, quality and budget limit."""
    backend = str(backend)  # the choice as the plain name the solvers take
    SolverOptions(time_limit, gap)  # refuses nan, inf, <= 0, a gap outside [0, 1)
    scn = _scenario(scenario)
    checked = None
    if verify:
        checked, settings = _verified(scn, backend)
        result = checked.result
        if runner_ups:
            result = _with_runner_ups(scn, result, backend, time_limit, gap)
    else:
        result = _solved(scn, backend, time_limit, gap, runner_ups)
    if strict:
        _refuse_estimates(result, scn)
    if as_json:
        payload = solve_json(result, scn)
        payload["verification"] = None if checked is None else checked.document(settings)
        emit(json.dumps(payload, indent=2, default=str) + "\n")
    else:
        print_result(result, scn, wide)
        if checked is not None:
            _print_verification(checked)
    _exit_unless_found(result)


def _solved(scn: Scenario, backend: str, time_limit, gap, runner_ups):
    """The optimum, with a progress bar on stderr (on a terminal) per runner-up solve."""
    with progress_bar() as bar:
        task = bar.add_task("solving", total=None)

        def step(text: str) -> None:
            bar.update(task, description=f"runner-up: {text}")

        return run_solve(
            scn,
            backend=backend,
            time_limit_s=time_limit,
            mip_gap=gap,
            runner_ups=runner_ups,
            progress=step,
        )


def _with_runner_ups(scn: Scenario, result, backend: str, time_limit, gap):
    """A verified optimum's runner-ups: the scenario solved again with them, kept when
    verification left the optimum as it was (else they would be relative to another)."""
    if not result.ok:
        return result
    again = _solved(scn, backend, time_limit, gap, True)
    if again.ok and abs(again.objective_per_day - result.objective_per_day) < 1e-6 * max(
        1.0, abs(result.objective_per_day)
    ):
        return replace(result, runner_ups=again.runner_ups)
    return result


VERIFY_REQUESTS = 50_000  # simulated requests per model-hour when verifying


def _optimum(scn: Scenario, backend: str, verify: bool):
    """(the optimum, ``(checked, settings)`` when verified by simulation, else None)."""
    if verify:
        checked, settings = _verified(scn, backend)
        return checked.result, (checked, settings)
    with _progress("solving"):
        return run_solve(scn, backend=backend, runner_ups=False), None


def _stop_unless_found(result, scn: Scenario) -> None:
    """Print why there is no optimum and exit 2 (infeasible) or 3 (stopped) when so."""
    if not result.ok:
        print_result(result, scn)
        _exit_unless_found(result)


def _verified(scn: Scenario, backend: str):
    """Solve and verify by simulation (every hour, the scenario's queueing options)."""
    from deploycost.simulate.run import Settings
    from deploycost.simulate.verify import solve_verified

    settings = Settings.of(scn, requests=VERIFY_REQUESTS)
    with _progress("solving and verifying by simulation"):
        return solve_verified(scn, settings, backend), settings
