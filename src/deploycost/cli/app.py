"""Command line: validate, schema, catalog, evaluate, solve, export, report, sweep,
sensitivity and profile (``deploycost --help``)."""

from __future__ import annotations

import enum
import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

from deploycost.catalog import KEYS, load_catalog
from deploycost.cli.common import (
    _friendly,
    _progress,
    _records,
    _scenario,
    _table,
    err,
    out,
    print_table,
)
from deploycost.cli.profile import profile_app
from deploycost.cli.simulate import simulate_command
from deploycost.cost.deployments import from_specs
from deploycost.cost.model import COMPONENTS, evaluate
from deploycost.errors import DeployCostError, ScenarioError
from deploycost.optimize.result import DeploymentPlan, FleetPlan
from deploycost.optimize.solve import CHOICE_COLUMNS
from deploycost.optimize.solve import solve as run_solve
from deploycost.optimize.solvers import BACKENDS, SolverOptions, Status
from deploycost.outputs.fleet_tables import fleet_load_table, fleet_plan_table
from deploycost.periods import DAYS_PER_MONTH, DAYS_PER_YEAR
from deploycost.scenario.schema import (
    Scenario,
    load_deployment,
    load_scenario,
    scenario_json_schema,
)
from deploycost.version import __version__

# the registered backends as choices (a StrEnum member is its name wherever a string is)
Backend = enum.StrEnum("Backend", {name: name for name in BACKENDS})
DEFAULT_BACKEND = Backend("scipy-highs")

app = typer.Typer(
    no_args_is_help=True,
    help="The cheapest way to deploy AI models, with every assumption priced.",
)


@app.command()
@_friendly
def validate(
    scenario: Annotated[Path, typer.Argument(help="Scenario YAML file")],
    deployment: Annotated[Path | None, typer.Option(help="Also check a deployment file")] = None,
) -> None:
    """Check a scenario (and optionally a deployment) file; exit 0 when valid, 1 otherwise."""
    scn = load_scenario(scenario)
    if deployment is not None:
        load_deployment(scn, deployment)
    out.print(
        f"{scenario}: valid ({len(scn.models)} models, {len(scn.fusion_configs)} fusion "
        f"configurations, {len(scn.data_sources)} data sources)"
    )


@app.command()
@_friendly
def schema(
    output: Annotated[Path | None, typer.Option("--out", help="Write to this file")] = None,
    markdown: Annotated[
        bool, typer.Option("--markdown", help="The reference in Markdown instead of JSON Schema")
    ] = False,
) -> None:
    """Print the JSON Schema of scenario files (for editors), or its Markdown reference."""
    from deploycost.scenario.reference import scenario_reference

    text = (
        scenario_reference()
        if markdown
        else json.dumps(scenario_json_schema(), indent=2, sort_keys=True) + "\n"
    )
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")


SHORT_HEADERS = {  # catalog columns as the default (100-column) view heads them
    "compute_class": "class",
    "accelerator": "device",
    "accel_count": "n",
    "accel_mem_gb": "GB/dev",
    "memory_gib": "RAM GiB",
    "currency": "cur",
    "price_on_demand_per_hour": "on-demand/h",
    "price_reserved_1yr_per_hour": "1-yr/h",
    "price_reserved_3yr_per_hour": "3-yr/h",
    "price_spot_per_hour": "spot/h",
    "price_per_gb_month": "GB-month",
    "retrieval_per_gb": "retrieval/GB",
    "min_storage_days": "min days",
    "first_byte_s": "1st byte s",
    "slices_per_node": "slices",
    "slices_per_gpu": "per GPU",
    "memory_gb": "GB",
    "sm_count": "SMs",
    "gpu_sm_count": "GPU SMs",
    "bandwidth_fraction": "bw share",
}


@app.command()
@_friendly
def catalog(
    table: Annotated[str, typer.Argument(help=f"One of: {', '.join(KEYS)}")] = "hardware",
    csv: Annotated[bool, typer.Option("--csv", help="Print CSV instead of a table")] = False,
    where: Annotated[
        list[str] | None,
        typer.Option(
            "--where",
            help="Keep rows whose COLUMN contains TEXT (COLUMN=TEXT, case-insensitive; repeat)",
        ),
    ] = None,
    wide: Annotated[
        bool, typer.Option("--wide", help="Every column, sources and notes included")
    ] = False,
) -> None:
    """Print a shipped catalog table: figures as written in the catalog (never rounded),
    sources with --wide or --csv."""
    aliases = {"precisions": "precision", "tiers": "storage", "instances": "hardware"}
    name = aliases.get(table, table)
    if name not in KEYS:
        raise ScenarioError([f"table must be one of {', '.join(KEYS)}, got {table!r}"], "catalog")
    frame = load_catalog().table(name).reset_index(drop=True)
    for rule in where or []:
        column, sep, text = rule.partition("=")
        if not sep or column not in frame.columns:
            raise ScenarioError(
                [
                    f"--where must be COLUMN=TEXT with a column of {name} "
                    f"({', '.join(frame.columns)}), got {rule!r}"
                ],
                "catalog",
            )
        keep = frame[column].astype(str).str.contains(text, case=False, regex=False)
        frame = frame[keep.to_numpy()]
    if csv:
        sys.stdout.write(frame.to_csv(index=False))
        return
    brief = (
        *("source", "note", "as_of", "instance_type", "provider", "compute_class", "kind"),
        *("partition_of", "partition_profile", "compute_fraction", "bandwidth_fraction"),
    )
    shown = frame if wide else frame.drop(columns=[c for c in brief if c in frame.columns])
    if not wide:  # columns no listed row fills say nothing (--wide keeps them)
        shown = shown.loc[:, shown.notna().any()].rename(columns=SHORT_HEADERS)
    text = shown.astype(object).where(shown.notna(), "").astype(str)  # as written, not rounded
    print_table(_table(text, f"catalog: {name} ({len(frame)} rows)"), wide)


@app.command(name="evaluate")
@_friendly
def evaluate_command(
    scenario: Annotated[
        Path | None, typer.Argument(help="Scenario YAML (default: built-in e-commerce scenario)")
    ] = None,
    deployment: Annotated[
        Path | None,
        typer.Option(help="Deployment YAML (default: the scenario's baseline_deployment)"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Cost of a fixed deployment (the six components per day, month and year) and every
    limit it is held to; exit 2 when it violates any (peak capacity, latency, memory,
    quality, cold start, budget, quotas)."""
    from deploycost.optimize.audit import deployment_limits

    scn = _scenario(scenario)
    if deployment is not None:
        spec = load_deployment(scn, deployment)
    elif scn.baseline_deployment is not None:
        spec = scn.baseline_deployment
    else:
        raise ScenarioError(
            ["--deployment is required: the scenario has no baseline_deployment"], str(scenario)
        )
    result = evaluate(scn, from_specs(scn, [spec]))
    totals = result.components().iloc[0]
    ((violations, checked),) = deployment_limits(scn, [spec], result)
    limits = [] if checked is None else checked.limits
    if as_json:
        payload = {
            "scenario": scn.name,
            "currency": scn.currency,
            "per_day": {c: float(totals[c]) for c in (*COMPONENTS, "total")},
            "per_month": {c: float(totals[c] * DAYS_PER_MONTH) for c in (*COMPONENTS, "total")},
            "per_year": {c: float(totals[c] * DAYS_PER_YEAR) for c in (*COMPONENTS, "total")},
            "lines": result.ledger().to_dict(orient="records"),
            "meets_every_limit": not violations,
            "violations": violations,
            "limits": _records(limits_table(limits)),
        }
        sys.stdout.write(json.dumps(payload, indent=2, allow_nan=False) + "\n")
        if violations:
            raise typer.Exit(EXIT_INFEASIBLE)
        return
    detail = result.breakdown().astype({"component": str})
    detail.columns = [
        "component",
        "kind",
        "owner",
        f"{scn.currency}/day",
        f"{scn.currency}/month",
        f"{scn.currency}/year",
    ]
    out.print(_table(detail, f"{scn.name}: cost by component and owner"))
    summary = pd.DataFrame(
        {
            "component": [*COMPONENTS, "total"],
            f"{scn.currency}/day": [float(totals[c]) for c in (*COMPONENTS, "total")],
        }
    )
    summary[f"{scn.currency}/month"] = summary[f"{scn.currency}/day"] * DAYS_PER_MONTH
    summary[f"{scn.currency}/year"] = summary[f"{scn.currency}/day"] * DAYS_PER_YEAR
    out.print(_table(summary, f"{scn.name}: six-component breakdown"))
    out.print(f"total: {_in_period(float(totals['total']), scn)}", markup=False, highlight=False)
    if not violations:
        out.print(f"meets every limit ({len(limits)} checked)", markup=False, highlight=False)
        return
    err.print(
        f"violates {len(violations)} limit(s) of {len(limits) or 'the'} checked:",
        style="bold red",
        markup=False,
    )
    for line in violations:
        err.print(f"  - {line}", markup=False, highlight=False)
    raise typer.Exit(EXIT_INFEASIBLE)


def limits_table(limits) -> pd.DataFrame:
    """Every limit of a deployment: value, bound, slack, met."""
    return pd.DataFrame(
        {
            "limit": [v.name for v in limits],
            "value": [v.value for v in limits],
            "sense": [v.sense for v in limits],
            "bound": [v.limit for v in limits],
            "unit": [v.unit for v in limits],
            "met": [v.met for v in limits],
        }
    )


@app.command(name="diff")
@_friendly
def diff_command(
    scenario: Annotated[
        Path | None, typer.Argument(help="Scenario YAML (default: built-in e-commerce scenario)")
    ] = None,
    baseline: Annotated[
        Path | None,
        typer.Option(help="Deployment YAML (default: the scenario's baseline_deployment)"),
    ] = None,
    recommended: Annotated[
        Path | None, typer.Option(help="Deployment YAML (default: solve the scenario)")
    ] = None,
    backend: Annotated[Backend, typer.Option(help="Solver backend")] = DEFAULT_BACKEND,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Two deployments side by side: cost per component, per owner and per model choice,
    the change, and the limits each one breaks."""
    from deploycost.analysis.diff import diff

    scn = _scenario(scenario)
    if baseline is not None:
        before = load_deployment(scn, baseline)
    elif scn.baseline_deployment is not None:
        before = scn.baseline_deployment
    else:
        raise ScenarioError(
            ["--baseline is required: the scenario has no baseline_deployment"], str(scenario)
        )
    if recommended is not None:
        after = load_deployment(scn, recommended)
    else:
        with _progress("solving for the recommended deployment"):
            result = run_solve(scn, backend=str(backend), runner_ups=False)
        if not result.ok:
            print_result(result, scn)
            _exit_unless_found(result)
        after = result.plan.deployment
    with _progress("costing and checking both deployments"):
        change = diff(scn, before, after)
    if as_json:
        payload = {
            "scenario": scn.name,
            "currency": scn.currency,
            "change_per_day": change.change_per_day,
            "components": _records(change.components),
            "owners": _records(change.owners),
            "models": _records(change.models),
            "baseline_violations": change.violations[0],
            "recommended_violations": change.violations[1],
        }
        sys.stdout.write(json.dumps(payload, indent=2, allow_nan=False) + "\n")
        return
    print_diff(change, scn)


def _signed(value: float) -> str:
    return "0.00" if abs(value) < 0.005 else f"{value:+,.2f}"


def print_diff(change, scn: Scenario) -> None:
    cur = scn.currency
    base = float(change.components.baseline.iloc[-1])
    total = change.change_per_day
    share = f" ({total / base:+.1%})" if base else ""
    out.print(
        f"{scn.name}: recommended vs baseline {_signed(total)} {cur}/day{share}, "
        f"{_signed(total * DAYS_PER_MONTH)} {cur}/month",
        markup=False,
        highlight=False,
    )
    comp = change.components
    shown = pd.DataFrame(
        {
            "component": comp.component,
            f"baseline {cur}/d": comp.baseline,
            f"recommended {cur}/d": comp.other,
            "change": comp.change.map(_signed),
        }
    )
    out.print(_table(shown, "cost per component"))
    models = change.models
    shown = pd.DataFrame(
        {
            "model": models.model,
            "what changes": models.change,
            f"compute {cur}/d before": models.compute_baseline,
            "after": models.compute_other,
            "change": models.compute_change.map(_signed),
        }
    )
    out.print(_table(shown, "per model"))
    for label, broken in zip(("baseline", "recommended"), change.violations, strict=True):
        if broken:
            out.print(
                f"{label} breaks {len(broken)} limit(s): " + "; ".join(broken),
                style="yellow",
                markup=False,
                highlight=False,
            )
        else:
            out.print(f"{label} meets every limit", markup=False, highlight=False)


@app.command(name="export")
@_friendly
def export_command(
    scenario: Annotated[
        Path | None, typer.Argument(help="Scenario YAML (default: built-in e-commerce scenario)")
    ] = None,
    out_dir: Annotated[
        Path, typer.Option("--out", help="Folder for recommended.yaml/.json and k8s/")
    ] = Path("deploycost-out"),
    force: Annotated[bool, typer.Option(help="Overwrite existing files")] = False,
    backend: Annotated[Backend, typer.Option(help="Solver backend")] = DEFAULT_BACKEND,
    verify: Annotated[
        bool,
        typer.Option(
            "--verify/--no-verify", help="Simulate the optimum and re-solve until it holds"
        ),
    ] = True,
) -> None:
    """Solve (and verify by simulation), then write the recommended configuration and
    Kubernetes manifests."""
    backend = str(backend)  # the choice as the plain name the solvers take
    from deploycost.outputs.export import write_export

    scn = _scenario(scenario)
    result, verified = _optimum(scn, backend, verify)
    verification = None
    if verified is not None:
        checked, settings = verified
        verification = checked.document(settings)
        for line in checked.rounds:
            err.print(f"verify: {line}", markup=False, highlight=False)
    _stop_unless_found(result, scn)
    for path in write_export(scn, result, out_dir, force, verification):
        out.print(str(path), markup=False, highlight=False)


@app.command(name="report")
@_friendly
def report_command(
    scenario: Annotated[
        Path | None, typer.Argument(help="Scenario YAML (default: built-in e-commerce scenario)")
    ] = None,
    sweep: Annotated[
        Path | None, typer.Option(help="Results of deploycost sweep (.csv or .parquet)")
    ] = None,
    out_path: Annotated[
        Path, typer.Option("--out", help="report.html; the Markdown twin goes beside it")
    ] = Path("report.html"),
    swing: Annotated[float, typer.Option(help="Tornado: price groups -/+ this fraction")] = 0.2,
    force: Annotated[bool, typer.Option(help="Overwrite existing files")] = False,
    backend: Annotated[Backend, typer.Option(help="Solver backend")] = DEFAULT_BACKEND,
    verify: Annotated[
        bool,
        typer.Option(
            "--verify/--no-verify", help="Simulate the optimum (and re-solve until it holds)"
        ),
    ] = True,
) -> None:
    """Solve (and verify by simulation), then write an HTML report with plots and its
    Markdown twin."""
    backend = str(backend)  # the choice as the plain name the solvers take
    from deploycost.analysis.sensitivity import pareto, tornado
    from deploycost.outputs.report import (
        build_report,
        check_report_path,
        load_sweep_results,
        write_report,
    )

    if not 0 < swing < 1:
        raise ScenarioError([f"--swing must be in (0, 1), got {swing}"], "report")
    check_report_path(out_path, force)
    scn = _scenario(scenario)
    table = None if sweep is None else load_sweep_results(sweep, scn)
    result, verified = _optimum(scn, backend, verify)
    _stop_unless_found(result, scn)
    frontier = compared = None
    if isinstance(result.plan, DeploymentPlan):  # a fleet: no frontier, a fleet solve a point
        with _progress("sensitivity for the report (tornado, cost frontier)"):
            torn = tornado(scn, swing, backend)
            frontier = pareto(scn, "e2e_latency_ms", backend=backend)
        if scn.baseline_deployment is not None:
            from deploycost.analysis.diff import diff

            compared = diff(scn, scn.baseline_deployment, result.plan.deployment)
    else:
        with _progress("sensitivity for the report (tornado)"):
            torn = tornado(scn, swing, backend)
    report = build_report(scn, result, table, torn, frontier, swing, verified, compared)
    for path in write_report(report, out_path, force):
        out.print(str(path), markup=False, highlight=False)


@app.command(name="sweep")
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
    backend: Annotated[Backend, typer.Option(help="Solver backend")] = DEFAULT_BACKEND,
    progress: Annotated[
        bool | None,
        typer.Option("--progress/--no-progress", help="Progress bar (default: on a terminal)"),
    ] = None,
) -> None:
    """Sweep price assumptions: exact breakpoints on a line, certified grids and samples."""
    backend = str(backend)  # the choice as the plain name the solvers take
    from deploycost.analysis.sweep import load_spec_file, remove_state, write_table
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
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from deploycost.analysis.sweep import DaskExecutor, run_sweep

    executor = DaskExecutor(dask) if dask else None
    show = sys.stderr.isatty() if progress is None else progress
    try:
        with Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TextColumn("{task.completed} solves"),
            TimeElapsedColumn(),
            console=err,
            disable=not show,
            transient=True,
        ) as bar:
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


@app.command(name="sensitivity")
@_friendly
def sensitivity_command(
    scenario: Annotated[
        Path | None, typer.Argument(help="Scenario YAML (default: built-in e-commerce scenario)")
    ] = None,
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
    backend: Annotated[Backend, typer.Option(help="Solver backend")] = DEFAULT_BACKEND,
) -> None:
    """Tornado of price groups; optionally the cost frontier against a limit and Sobol
    indices over price distributions."""
    backend = str(backend)  # the choice as the plain name the solvers take
    from deploycost.analysis.sensitivity import check_sobol, pareto, sobol, tornado
    from deploycost.analysis.sweep import load_spec_file

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


PERIOD_DAYS = {"day": 1.0, "month": DAYS_PER_MONTH, "year": DAYS_PER_YEAR}


def _in_period(per_day: float, scn: Scenario) -> str:
    """A daily amount in the scenario's reporting period, e.g. '39,781.83 USD/month'."""
    period = scn.reporting_period
    return f"{per_day * PERIOD_DAYS[period]:,.2f} {scn.currency}/{period}"


EXIT_INFEASIBLE = 2
EXIT_NOT_SOLVED = 3


def _json_head(result, scn: Scenario) -> dict:
    return {
        "scenario": scn.name,
        "status": result.status.value,
        "backend": result.backend,
        "currency": result.currency,
        "objective_per_day": result.objective_per_day,
        "gap": result.gap,
    }


def solve_json(result, scn: Scenario) -> dict:
    """A solve result as JSON: the common figures, then the plan's own (``plan_json``)."""
    return {
        **_json_head(result, scn),
        "explanation": list(result.explanation),
        "binding": result.binding,
        **plan_json(result.plan),
        "components": _records(result.components),
        "limits": _records(limits_table(result.limits)),
        "runner_ups": _records(result.runner_ups),
        "llm": _records(result.llm),
        "estimates": list(result.estimates),
        "defaults": list(result.defaults),
        "timings_s": result.timings,
        "size": result.size,
    }


def plan_json(plan) -> dict:
    """A deployment's choices and per-model table, or a fleet's shares, counts per plan and
    hour, artifacts, costs, advice and audit."""
    if plan is None:
        return {"deployment": None, "models": []}
    if isinstance(plan, DeploymentPlan):
        return {"deployment": plan.deployment.model_dump(), "models": _records(plan.models)}
    return {
        "fusion": plan.fusion,
        "automation": plan.automation,
        "data_tiers": plan.data_tiers,
        "shares": _records(plan.shares.drop(columns="mode", errors="ignore")),
        "instances": _records(plan.counts.drop(columns="column", errors="ignore")),
        "artifacts": _records(plan.artifacts),
        "costs": _records(plan.costs),
        "commitments": list(plan.commitments),
        "warnings": list(plan.audit.warnings) if plan.audit else [],
        "audit_checks": plan.audit.checks if plan.audit else 0,
    }


@app.command(name="solve")
@_friendly
def solve_command(
    scenario: Annotated[
        Path | None, typer.Argument(help="Scenario YAML (default: built-in e-commerce scenario)")
    ] = None,
    backend: Annotated[Backend, typer.Option(help="Solver backend")] = DEFAULT_BACKEND,
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
        sys.stdout.write(json.dumps(payload, indent=2, default=str) + "\n")
    else:
        print_result(result, scn, wide)
        if checked is not None:
            _print_verification(checked)
    _exit_unless_found(result)


def _solved(scn: Scenario, backend: str, time_limit, gap, runner_ups):
    """The optimum, with a progress bar on stderr (on a terminal) per runner-up solve."""
    from rich.progress import Progress

    with Progress(console=err, transient=True, disable=not sys.stderr.isatty()) as bar:
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


def _print_verification(checked) -> None:
    state = "verified" if checked.verified else "NOT verified"
    out.print(
        f"simulation: {state} ({len(checked.rounds)} round(s))",
        style=None if checked.verified else "yellow",
        markup=False,
        highlight=False,
    )
    for line in checked.rounds:
        out.print(f"  {line}", markup=False, highlight=False)
    worst = checked.worst
    if len(worst):
        shown = pd.DataFrame(
            {
                "model": worst.model,
                "worst hour": (
                    worst.day_type + " " + worst.hour.astype(str) + "h"
                    if "day_type" in worst
                    else worst.hour.astype(str)
                ),
                "p99 simulated": worst.p99_ms.map(lambda v: f"{v:,.2f}"),
                "95% CI": [
                    f"{lo:,.2f}-{hi:,.2f}"
                    for lo, hi in zip(worst.p99_low_ms, worst.p99_high_ms, strict=True)
                ],
                "SLO ms": worst.slo_ms.map(lambda v: f"{v:,.0f}"),
                "met": worst.met.map({True: "yes", False: "NO"}),
            }
        )
        out.print(_table(shown, "simulated p99, worst hour per model"))
    cut = checked.spot_cut
    if len(cut):
        missed = cut[~cut.met.astype(bool)]
        out.print(
            f"with the spot instances the interruption rule may lose gone (whole instances): "
            f"{len(cut)} model-hours simulated, the SLO is missed in {len(missed)}"
            + "".join(
                f"\n  {r.model} on {r.instance}, {r.day_type} {r.hour:02d}h: {r.p99_ms:,.4g} ms "
                f"with {r.replicas} instance(s) left (SLO {r.slo_ms:g} ms)"
                for r in missed.itertuples()
            ),
            markup=False,
            highlight=False,
        )


def print_result(result, scn: Scenario, wide: bool = False) -> None:
    """A solve result in the terminal: why there is none, or the head line, the plan's own
    tables (``_print_deployment``, ``_print_fleet``), the six components, the LLM figures,
    what the answer rests on, the binding limits and the runner-ups."""
    kind = "fleet" if isinstance(result.plan, FleetPlan) or scn.fleet is not None else "deployment"
    if result.status == Status.INFEASIBLE:
        err.print("infeasible:", style="bold red", end=" ")
        err.print(f"no {kind} meets every limit", markup=False)
        for line in result.explanation:
            err.print(f"  - {line}", markup=False, highlight=False)
        return
    if result.status == Status.NOT_SOLVED:
        err.print("not solved:", style="bold red", end=" ")
        err.print("; ".join(result.explanation), markup=False)
        return
    cur = scn.currency
    plan = result.plan
    gap = "" if result.gap in (None, 0.0) else f", gap {result.gap:.3%}"
    what = " fleet" if kind == "fleet" else ""
    out.print(
        f"{scn.name}: {result.status.value}{what} ({result.backend}{gap}) - "
        f"{result.objective_per_day:,.2f} {cur}/day, "
        f"{_in_period(result.objective_per_day, scn)}; fusion "
        f"{plan.fusion!r}, automation {plan.automation!r}",
        markup=False,
        highlight=False,
    )
    for line in result.explanation:
        out.print(f"warning: {line}", style="yellow", markup=False)
    if isinstance(plan, FleetPlan):
        _print_fleet(plan, cur, wide)
    else:
        print_table(_table(models_table(plan.models, cur, wide), "deployment per model"), wide)
    if plan.data_tiers:
        out.print(
            "data tiers: " + ", ".join(f"{k} -> {v}" for k, v in plan.data_tiers.items()),
            markup=False,
            highlight=False,
        )
    components = result.components.rename(
        columns={"per_day": f"{cur}/day", "per_month": f"{cur}/month", "per_year": f"{cur}/year"}
    )
    out.print(_table(components, "six-component breakdown"))
    if len(result.llm):
        print_table(_table(llm_table(result.llm, cur, wide), "LLM serving (tokens)"), wide)
    _print_rests_on(result)
    if result.binding:
        out.print("binding limits: " + ", ".join(result.binding), markup=False, highlight=False)
    title = "runner-ups (the whole fleet re-solved)" if kind == "fleet" else "runner-ups"
    _print_runner_ups(result.runner_ups, cur, title)


def _print_fleet(plan: FleetPlan, cur: str, wide: bool) -> None:
    """A fleet's load per model, instances per pool, type and plan, cost per plan, the
    commitment advice and the audit's warnings."""
    shares = plan.shares
    shown = fleet_load_table(plan)
    if not wide and (shares.pool == shares.model).all():  # a pool per model: said once
        shown = shown.drop(columns=["pool"])
    print_table(_table(shown, "load per model"), wide)
    out.print(_table(fleet_plan_table(plan), "instances per pool, type and plan"))
    by_plan = plan.costs[plan.costs.line.str.startswith("  ")]  # compute's lines per plan
    shown = pd.DataFrame({"plan": by_plan.line.str.strip(), f"{cur}/day": by_plan.per_day})
    out.print(_table(shown, "compute by purchase plan"))
    for line in plan.commitments:
        out.print(line, markup=False, highlight=False)
    for line in plan.audit.warnings if plan.audit else ():
        out.print(f"warning: {line}", style="yellow", markup=False)


def _refuse_estimates(result, scn: Scenario) -> None:
    """``--strict``: an answer that rests on an estimate or an unstated default is refused."""
    if not (result.ok and (result.estimates or result.defaults)):
        return
    lines = [f"estimate: {x}" for x in result.estimates]
    lines += [f"default: {x}" for x in result.defaults]
    raise DeployCostError(
        f"--strict: the answer ({result.objective_per_day:,.2f} {scn.currency}/day) rests "
        f"on {len(lines)} estimate(s) or default(s); measure or state them:\n"
        + "\n".join(f"  - {line}" for line in lines)
    )


def _print_rests_on(result) -> None:
    """The estimates and defaults an answer rests on, one line each."""
    for line in result.estimates:
        out.print(f"estimate: {line}", markup=False, highlight=False)
    for line in result.defaults:
        out.print(f"default: {line}", markup=False, highlight=False)


def _exit_unless_found(result) -> None:
    """Exit 2 when no deployment meets the limits, 3 when the solver stopped without one."""
    if result.status == Status.INFEASIBLE:
        raise typer.Exit(EXIT_INFEASIBLE)
    if result.status == Status.NOT_SOLVED:
        raise typer.Exit(EXIT_NOT_SOLVED)


def llm_table(llm: pd.DataFrame, cur: str, wide: bool = False) -> pd.DataFrame:
    """The LLM serving figures as printed: limits beside values, money per 1M tokens (fits
    100 columns); ``wide`` adds the engine's shape, tokens a day and money per 1k queries."""

    def against(value, limit) -> str:
        return f"{value:,.1f}" + ("" if limit is None or limit != limit else f"/{limit:,.0f}")

    model = llm.model
    if "instance" in llm:  # a fleet: a row per model and type it runs on
        model = [
            f"{m} @ {i}" + ("" if share > 0.9995 else f" {share:.0%}")
            for m, i, share in zip(llm.model, llm.instance, llm.share, strict=True)
        ]
    table = pd.DataFrame(
        {
            "model": model,
            "TP x seqs": [
                f"{t} x {b}"
                for t, b in zip(llm.tensor_parallel, llm.sequences_per_engine, strict=True)
            ],
            "TTFT p99/limit ms": [
                against(v, lim) for v, lim in zip(llm.ttft_p99_ms, llm.ttft_limit_ms, strict=True)
            ],
            "TPOT/limit ms": [
                against(v, lim) for v, lim in zip(llm.tpot_ms, llm.tpot_limit_ms, strict=True)
            ],
            "M tokens/d in, out": [
                f"{i / 1e6:,.1f}, {o / 1e6:,.1f}"
                for i, o in zip(llm.input_tokens_per_day, llm.output_tokens_per_day, strict=True)
            ],
            f"{cur}/1M in": llm.per_1m_input_tokens.map(lambda v: f"{v:,.4f}"),
            f"{cur}/1M out": llm.per_1m_output_tokens.map(lambda v: f"{v:,.4f}"),
            f"{cur}/1k queries": llm.per_1k_queries.map(lambda v: f"{v:,.4f}"),
        }
    )
    if wide:
        return table
    return table.drop(columns=["TP x seqs", "M tokens/d in, out", f"{cur}/1k queries"])


def models_table(models: pd.DataFrame, cur: str, wide: bool = False) -> pd.DataFrame:
    """Per model as printed: a summary (fits 100 columns), or with ``wide`` every choice
    and cost line."""
    if wide:
        parts = ["compute", "model_storage", "compression", "people"]
        return models[[*CHOICE_COLUMNS, *(f"{p}_per_day" for p in parts)]].rename(
            columns={
                "utilisation": "util",
                "compute_per_day": f"compute {cur}/d",
                "model_storage_per_day": f"storage {cur}/d",
                "compression_per_day": f"compress {cur}/d",
                "people_per_day": f"people {cur}/d",
            }
        )
    per_day = models[
        ["compute_per_day", "model_storage_per_day", "compression_per_day", "people_per_day"]
    ].sum(axis=1)
    return pd.DataFrame(
        {
            "model": models.model,
            "instance": models.instance,
            "n": models.replicas,
            "precision": models.precision,
            "batch": models.batch,
            "p99 / SLO ms": [
                f"{p:,.2f} / {s:,.0f}" for p, s in zip(models.p99_ms, models.slo_ms, strict=True)
            ],
            "util": models.utilisation.map("{:.2f}".format),
            f"{cur}/day": per_day,
        }
    )


def _print_runner_ups(ups: pd.DataFrame, cur: str, title: str) -> None:
    """The runner-ups with their extra cost per day ('n/a' where none was found)."""
    if not len(ups):
        return
    ups = ups.copy()
    ups["extra_per_day"] = ups.extra_per_day.map(lambda v: "n/a" if v != v else f"+{v:,.2f}")
    out.print(_table(ups.rename(columns={"extra_per_day": f"extra {cur}/day"}), title))


app.add_typer(profile_app, name="profile")
app.command(name="simulate")(_friendly(simulate_command))


def _version(value: bool) -> None:
    if value:
        out.print(f"deploycost {__version__}", markup=False, highlight=False)
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version"),
    ] = False,
) -> None:
    """The cheapest way to deploy AI models, with every assumption priced."""


def main() -> None:
    """The console entry point: a command-line usage error (unknown option, a value not
    among the choices) is invalid input, exit 1, like every other; exit 2 stays
    'infeasible'."""
    try:
        code = app(standalone_mode=False, prog_name="deploycost")
    except typer.Abort:
        sys.exit(1)
    except typer.TyperException as exc:  # usage errors: bad option, value, choice
        exc.show()
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)
