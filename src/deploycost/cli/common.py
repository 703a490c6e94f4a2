"""What every command shares: consoles, error handling, the default scenario, tables."""

from __future__ import annotations

import enum
import io
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pandas as pd
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from deploycost.errors import DeployCostError, printable
from deploycost.files import io_error
from deploycost.optimize.solvers import BACKENDS
from deploycost.scenario.schema import Scenario, load_scenario

WIDTH = 100  # columns the default tables are laid out for (a pipe or log has no width)
WIDE_MAX = 240  # --wide: a table's natural width, up to this (long sources fold)


def _width(stream) -> int | None:
    """A terminal's own width (or $COLUMNS, which rich reads); else ``WIDTH``."""
    return None if stream.isatty() or os.environ.get("COLUMNS") else WIDTH


out = Console(width=_width(sys.stdout))
err = Console(stderr=True, width=_width(sys.stderr), soft_wrap=True)  # a message a line

DEFAULT_SCENARIO = "ecommerce_search_rec.yaml"


def builtin_problem(name: str) -> Path:
    """Path of a problem file shipped with the package."""
    return Path(str(resources.files("deploycost") / "problems" / name))


def _friendly(command: Callable[..., Any]) -> Callable[..., Any]:
    """Print user errors without a traceback and exit 1."""

    @wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            try:
                return command(*args, **kwargs)
            finally:
                sys.stdout.flush()  # a write error surfaces here, not after the exit code
        except DeployCostError as exc:
            err.print("error:", style="bold red", end=" ")
            err.print(printable(str(exc)), markup=False, highlight=False)
            raise typer.Exit(1) from None
        except OSError as exc:
            raise typer.Exit(_os_error(exc)) from None

    return run


def emit(text: str) -> None:
    """Write ``text`` to standard output in full or raise ``OSError``: the text layer lets
    a short write (a file-size limit reached mid-way) pass as success, which would leave a
    truncated JSON file behind an exit code of 0."""
    sys.stdout.flush()
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, ValueError, io.UnsupportedOperation):  # captured, as in tests
        sys.stdout.write(text)
        return
    view = memoryview(text.encode(sys.stdout.encoding or "utf-8", errors="replace"))
    while view:
        view = view[os.write(fd, view) :]


def _os_error(exc: OSError) -> int:
    """One line for an error of the system and exit 1. Without a file name it is a write to
    standard output that failed (the disk full, a file-size limit, a closed pipe): what
    was left to write goes nowhere, so no second error follows at the exit."""
    if exc.filename is None:
        message = str(io_error("standard output", exc))
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError):
            pass
    else:
        message = f"{exc.filename}: {exc.strerror or exc}"
    err.print("error:", style="bold red", end=" ")
    err.print(printable(message), markup=False, highlight=False)
    return 1


def progress_bar(show: bool | None = None, counter: str | None = None):
    """A rich progress display on stderr for long work: spinner, what runs, a bar where the
    amount of work is known (or ``counter``, e.g. ``"{task.completed} solves"``, where it is
    not), and the time elapsed; shown only on a terminal (``show`` overrides) and cleared
    when done."""
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn() if counter is None else TextColumn(counter),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not (sys.stderr.isatty() if show is None else show),
    )


@contextmanager
def _progress(description: str) -> Iterator[None]:
    """A spinner with the time elapsed on stderr while long work runs (on a terminal)."""
    with progress_bar() as bar:
        bar.add_task(description, total=None)
        yield


def _scenario(path: Path | None) -> Scenario:
    return load_scenario(path if path is not None else builtin_problem(DEFAULT_SCENARIO))


def _money(value: float) -> str:
    return f"{value:,.2f}"


def _is_number(text: str) -> bool:
    try:
        float(text.replace(",", "").lstrip("+"))
    except ValueError:
        return False
    return True


def _table(frame: pd.DataFrame, title: str, keep_numbers: bool = True) -> Table:
    """A table that wraps (folds) a text cell rather than cut it short with an ellipsis;
    a column of numbers keeps each number on one line where the console has the room (the
    text columns give way), else it folds too."""
    cells = [
        [_money(v) if isinstance(v, float) else escape(str(v)) for v in frame[column]]
        for column in frame.columns
    ]
    table = Table(title=title, title_justify="left")
    for column, values in zip(frame.columns, cells, strict=True):
        numbers = [v for v in values if v]
        whole = keep_numbers and numbers and all(_is_number(v) for v in numbers)
        table.add_column(
            str(column),
            justify="right" if pd.api.types.is_numeric_dtype(frame[column]) else "left",
            overflow="fold",
            min_width=max(len(v) for v in numbers) if whole else None,
        )
    for row in zip(*cells, strict=True) if cells else ():
        table.add_row(*row)
    wide_open = out.options.update(max_width=10_000)
    if keep_numbers and out.measure(table, options=wide_open).minimum > out.width:
        return _table(frame, title, keep_numbers=False)
    return table


def print_table(table: Table, wide: bool = False) -> None:
    """Print ``table``; ``wide``: at its natural width even beyond the console's."""
    if not wide:
        out.print(table)
        return
    natural = out.measure(table, options=out.options.update(max_width=10_000)).maximum
    if natural <= out.width:
        out.print(table)
        return
    wider = Console(file=out.file, width=min(natural, WIDE_MAX), force_terminal=out.is_terminal)
    wider.print(table, crop=False)


def _records(frame: pd.DataFrame) -> list[dict]:
    """Rows as dicts with None where a value is missing or infinite (strict JSON has no
    NaN or Infinity)."""
    numeric = frame.select_dtypes("number")
    finite = (
        frame.notna() & ~frame.isin([np.inf, -np.inf]) if len(numeric.columns) else frame.notna()
    )
    return frame.astype(object).where(finite, None).to_dict(orient="records")


# the registered backends as choices (a StrEnum member is its name wherever a string is)
Backend = enum.StrEnum("Backend", {name: name for name in BACKENDS})
DEFAULT_BACKEND = Backend("scipy-highs")
# the arguments most commands share
ScenarioArgument = Annotated[
    Path | None, typer.Argument(help="Scenario YAML (default: built-in e-commerce scenario)")
]
BackendOption = Annotated[Backend, typer.Option(help="Solver backend")]
