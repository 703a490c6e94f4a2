"""``deploycost sweep`` and ``deploycost sensitivity``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from deploycost.cli.common import (
    DEFAULT_BACKEND,
    BackendOption,
    ScenarioArgument,
    _friendly,
    _scenario,
    _table,
    err,
    out,
    progress_bar,
)
from deploycost.cli.show import (
    EXIT_INFEASIBLE,
)
from deploycost.errors import ScenarioError
from deploycost.scenario.schema import load_scenario


@_friendly
def sweep_command(
    scenario: Annotated[Path, typer.Argument(help="Scenario YAML")],
    spec: Annotated[Path, typer.Argument(help="Sweep specification YAML")],
    out_path: Annotated[Path, typer.Option("--out", help="Results: .csv or .parquet")] = Path(
        "sweep.csv"
    ),
    breakpoints: Annotated[
        Path | None, typer.Option(help="Also write the breakpoints table (line mode) as CSV")
    ] = None,
    resume: Annotated[
        bool, typer.Option(help="Continue an interrupted sweep of the same inputs")
    ] = False,
    force: Annotated[bool, typer.Option(help="Overwrite an existing --out")] = False,
    dask: Annotated[
        str | None,
        typer.Option(help="'local' (LocalCluster) or a scheduler address tcp://host:port"),
    ] = None,
    backend: BackendOption = DEFAULT_BACKEND,
    progress: Annotated[
        bool | None,
        typer.Option("--progress/--no-progress", help="Progress bar (default: on a terminal)"),
    ] = None,
) -> None:
    """Sweep price assumptions: exact breakpoints on a line, certified grids and samples."""
    backend = str(backend)  # the choice as the plain name the solvers take
    from deploycost.analysis.sweep_spec import load_spec_file
    from deploycost.analysis.sweep_store import remove_state, write_table
    from deploycost.files import atomic_write, exclusive
    from deploycost.optimize.solvers import get_backend

    get_backend(backend)
    scn = load_scenario(scenario)
    sweep_spec, params = load_spec_file(spec, scn)
    state = out_path.with_name(out_path.name + ".state")
    if out_path.suffix not in (".csv", ".parquet"):
        raise ScenarioError([f"--out must end in .csv or .parquet, got {out_path.name!r}"], "sweep")
    if not out_path.parent.is_dir():
        raise ScenarioError([f"--out folder does not exist: {out_path.parent}"], "sweep")
    if out_path.exists() and not (force or resume):
        raise ScenarioError([f"--out {out_path} exists; pass --force to overwrite"], "sweep")
    if state.exists() and not resume:
        raise ScenarioError(
            [f"{state} holds an interrupted sweep; pass --resume to continue it, or remove it"],
            "sweep",
        )
    with exclusive(out_path, "sweep"):
        result = _run_sweep_with_progress(scn, sweep_spec, params, backend, state, dask, progress)
        write_table(result.table, out_path, sweep_spec.chunk_rows, state)
        if breakpoints is not None:
            atomic_write(breakpoints, result.breakpoints.to_csv(index=False))
        remove_state(state)
    table = result.table
    if (table.status == "infeasible").all():
        err.print("infeasible:", style="bold red", end=" ")
        err.print(
            f"no deployment meets every limit at any price of the sweep; table written "
            f"to {out_path}. Run deploycost solve for the reason.",
            markup=False,
            highlight=False,
        )
        raise typer.Exit(EXIT_INFEASIBLE)
    out.print(
        f"{len(table)} scenarios, {result.solves} solves this run, "
        f"{result.certified_share:.1%} certified, {len(result.decisions)} distinct "
        f"deployments; totals {table.total.min():,.2f} to {table.total.max():,.2f} "
        f"{scn.currency}/day -> {out_path}",
        markup=False,
        highlight=False,
    )
    for line in result.breakpoints.description:
        out.print(f"  - {line}", markup=False, highlight=False)


def _run_sweep_with_progress(scn, sweep_spec, params, backend, state, dask, progress):
    """run_sweep with a progress bar on stderr (on a terminal) and the Dask cluster closed
    whatever happens."""
    from deploycost.analysis.sweep import run_sweep
    from deploycost.analysis.sweep_dask import DaskExecutor

    executor = DaskExecutor(dask) if dask else None
    try:  # progress None: shown on a terminal
        with progress_bar(progress, counter="{task.completed} solves") as bar:
            task = bar.add_task(f"sweeping {sweep_spec.mode}", total=None)
            kwargs = {"executor": executor} if executor else {}
            return run_sweep(
                scn,
                sweep_spec,
                params,
                backend=backend,
                state_dir=state,
                progress=lambda n: bar.advance(task, n),
                **kwargs,
            )
    finally:
        if executor is not None:
            executor.close()


@_friendly
def sensitivity_command(
    scenario: ScenarioArgument = None,
    swing: Annotated[float, typer.Option(help="Tornado: each price group -/+ this fraction")] = 0.2,
    pareto_limit: Annotated[
        str | None,
        typer.Option("--pareto", help="Also trace cost against e2e_latency_ms or quality_floor"),
    ] = None,
    sobol_spec: Annotated[
        Path | None,
        typer.Option(
            "--sobol", help="Also Sobol indices over a sweep spec's distributions (random/lhs)"
        ),
    ] = None,
    sobol_samples: Annotated[int, typer.Option(help="Sobol base samples (a power of two)")] = 256,
    backend: BackendOption = DEFAULT_BACKEND,
) -> None:
    """Tornado of price groups; optionally the cost frontier against a limit and Sobol
    indices over price distributions."""
    backend = str(backend)  # the choice as the plain name the solvers take
    from deploycost.analysis.sensitivity import check_sobol, pareto, sobol, tornado
    from deploycost.analysis.sweep_spec import load_spec_file

    if not 0 < swing < 1:
        raise ScenarioError([f"--swing must be in (0, 1), got {swing}"], "sensitivity")
    if pareto_limit not in (None, "e2e_latency_ms", "quality_floor"):
        raise ScenarioError(
            [f"--pareto must be e2e_latency_ms or quality_floor, got {pareto_limit!r}"],
            "sensitivity",
        )
    scn = _scenario(scenario)
    if sobol_spec is not None:  # a bad spec fails here, before the tornado's solves
        spec, params = load_spec_file(sobol_spec, scn)
        check_sobol(spec, sobol_samples)
    table = tornado(scn, swing, backend)
    out.print(
        _table(
            table.astype({c: str for c in table.columns if "changes" in c}),
            f"tornado: price groups -/+{swing:.0%} ({scn.currency}/day)",
        )
    )
    if pareto_limit:
        frontier = pareto(scn, pareto_limit, backend=backend)
        out.print(_table(frontier.astype({"frontier": str}), f"cost against {pareto_limit}"))
    if sobol_spec is not None:
        indices, sweep = sobol(scn, spec, params, sobol_samples, backend)
        out.print(
            _table(
                indices,
                f"Sobol indices of the optimal cost ({len(sweep.table):,} "
                f"scenarios, {sweep.solves} solves, "
                f"{sweep.certified_share:.1%} certified)",
            )
        )
