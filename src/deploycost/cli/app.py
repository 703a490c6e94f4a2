"""Command line: validate, schema, catalog, evaluate, solve, export, report, sweep,
sensitivity and profile (``deploycost --help``)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from deploycost.catalog import KEYS, load_catalog
from deploycost.cli.analysis import sensitivity_command, sweep_command
from deploycost.cli.common import (
    _friendly,
    _table,
    emit,
    out,
    print_table,
)
from deploycost.cli.compare import diff_command, evaluate_command
from deploycost.cli.profile import profile_app
from deploycost.cli.publish import export_command, report_command
from deploycost.cli.simulate import simulate_command
from deploycost.cli.solving import solve_command
from deploycost.errors import ScenarioError
from deploycost.pandas_setup import use_python_strings
from deploycost.scenario.schema import (
    load_deployment,
    load_scenario,
    scenario_json_schema,
)
from deploycost.version import __version__

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
        emit(text)
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
        emit(frame.to_csv(index=False))
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


app.command(name="evaluate")(evaluate_command)
app.command(name="diff")(diff_command)
app.command(name="export")(export_command)
app.command(name="report")(report_command)
app.command(name="sweep")(sweep_command)
app.command(name="sensitivity")(sensitivity_command)
app.command(name="solve")(solve_command)
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
    use_python_strings()
    try:
        code = app(standalone_mode=False, prog_name="deploycost")
    except typer.Abort:
        sys.exit(1)
    except typer.TyperException as exc:  # usage errors: bad option, value, choice
        exc.show()
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)
