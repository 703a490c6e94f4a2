"""Command line: ``deploycost validate | schema | catalog | evaluate``."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from functools import wraps
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from deploycost.catalog import KEYS, load_catalog
from deploycost.costmodel import COMPONENTS, evaluate
from deploycost.deployment import from_specs
from deploycost.errors import DeployCostError, ScenarioError
from deploycost.scenario import (
    Scenario,
    load_deployment,
    load_scenario,
    scenario_json_schema,
)
from deploycost.units import DAYS_PER_MONTH, DAYS_PER_YEAR

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="The cheapest way to deploy AI models, with every assumption priced.",
)
# A pipe or CI log has no width; 160 columns keeps tables readable there.
out = Console(width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 160)

DEFAULT_SCENARIO = "ecommerce_search_rec.yaml"


def builtin_problem(name: str) -> Path:
    """Path of a problem file shipped with the package."""
    return Path(str(resources.files("deploycost") / "problems" / name))


def _friendly(command: Callable[..., Any]) -> Callable[..., Any]:
    """Print user errors without a traceback and exit 1."""

    @wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except DeployCostError as exc:
            err.print("error:", style="bold red", end=" ")
            err.print(str(exc), markup=False, highlight=False)
            raise typer.Exit(1) from None

    return run


def _scenario(path: Path | None) -> Scenario:
    return load_scenario(path if path is not None else builtin_problem(DEFAULT_SCENARIO))


def _money(value: float) -> str:
    return f"{value:,.2f}"


def _table(frame: pd.DataFrame, title: str) -> Table:
    table = Table(title=title, title_justify="left")
    for column in frame.columns:
        numeric = pd.api.types.is_numeric_dtype(frame[column])
        table.add_column(str(column), justify="right" if numeric else "left")
    for row in frame.itertuples(index=False):
        table.add_row(*[_money(v) if isinstance(v, float) else escape(str(v)) for v in row])
    return table


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
) -> None:
    """Print the JSON Schema of scenario files (for editor validation)."""
    text = json.dumps(scenario_json_schema(), indent=2, sort_keys=True)
    if output is None:
        sys.stdout.write(text + "\n")
    else:
        output.write_text(text + "\n", encoding="utf-8")


@app.command()
@_friendly
def catalog(
    table: Annotated[str, typer.Argument(help=f"One of: {', '.join(KEYS)}")] = "hardware",
    csv: Annotated[bool, typer.Option("--csv", help="Print CSV instead of a table")] = False,
) -> None:
    """Print a shipped catalog table with its sources."""
    aliases = {"precisions": "precision", "tiers": "storage", "instances": "hardware"}
    name = aliases.get(table, table)
    if name not in KEYS:
        raise ScenarioError([f"table must be one of {', '.join(KEYS)}, got {table!r}"], "catalog")
    frame = load_catalog().table(name).reset_index(drop=True)
    if csv:
        sys.stdout.write(frame.to_csv(index=False))
        return
    shown = frame.drop(columns=[c for c in ("note",) if c in frame.columns])
    out.print(_table(shown.astype(object).where(shown.notna(), ""), f"catalog: {name}"))


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
    """Cost of a fixed deployment: the six components per day, month and year."""
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
    if as_json:
        payload = {
            "scenario": scn.name,
            "currency": scn.currency,
            "per_day": {c: float(totals[c]) for c in (*COMPONENTS, "total")},
            "per_month": {c: float(totals[c] * DAYS_PER_MONTH) for c in (*COMPONENTS, "total")},
            "per_year": {c: float(totals[c] * DAYS_PER_YEAR) for c in (*COMPONENTS, "total")},
            "lines": result.ledger().to_dict(orient="records"),
        }
        sys.stdout.write(json.dumps(payload, indent=2) + "\n")
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


def main() -> None:  # pragma: no cover - console entry point
    app()
