"""Solver backends, in a registry keyed by name. Each takes a ``Formulation`` and returns a
``SolverOutput``; a backend that stopped on a limit reports ``FEASIBLE`` with its gap."""

from __future__ import annotations

import math
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from importlib import import_module

import numpy as np

from deploycost.errors import DeployCostError


class Status(StrEnum):
    OPTIMAL = "optimal"
    FEASIBLE = "feasible"  # stopped by a time or gap limit: a solution, not proven optimal
    INFEASIBLE = "infeasible"
    NOT_SOLVED = "not_solved"  # stopped before any solution was found, or solver failure


@dataclass(frozen=True)
class SolverOutput:
    status: Status
    x: np.ndarray | None
    objective: float | None
    bound: float | None
    gap: float | None
    seconds: float
    message: str = ""


@dataclass(frozen=True)
class SolverOptions:
    """Limits of one solver run; checked here so that every caller gets the same error."""

    time_limit_s: float | None = None  # the solver stage only (not the grid or the audit)
    mip_gap: float = 0.0

    def __post_init__(self) -> None:
        limit = self.time_limit_s
        if limit is not None and not (math.isfinite(limit) and limit > 0):
            raise DeployCostError(
                f"the time limit (--time-limit) must be a finite number of seconds > 0, got {limit}"
            )
        if not (math.isfinite(self.mip_gap) and 0 <= self.mip_gap < 1):
            raise DeployCostError(f"the MIP gap (--gap) must be in [0, 1), got {self.mip_gap}")


Backend = Callable[..., SolverOutput]


# name -> module whose ``solve`` is the backend; a module is imported only when its backend
# is asked for (PuLP and its CBC binary are not loaded by a HiGHS solve)
REGISTRY = {
    "scipy-highs": "deploycost.optimize.solvers.scipy_highs",
    "pulp-cbc": "deploycost.optimize.solvers.pulp_cbc",
    "exhaustive": "deploycost.optimize.solvers.exhaustive",
}
BACKENDS = tuple(REGISTRY)


def get_backend(name: str) -> Backend:
    if name not in REGISTRY:
        raise DeployCostError(f"backend must be one of {', '.join(REGISTRY)}, got {name!r}")
    return import_module(REGISTRY[name]).solve


def relative_gap(objective: float | None, bound: float | None) -> float | None:
    if objective is None or bound is None or not np.isfinite(bound):
        return None
    return abs(objective - bound) / max(abs(objective), 1e-9)


@contextmanager
def captured_stdout(lines: list[str]) -> Iterator[None]:
    """Run a native solver with the process's standard output captured into ``lines``:
    a library that prints from C (HiGHS prints debug lines at some prices) must not write
    into a ``--json`` document on stdout."""
    sys.stdout.flush()
    saved = os.dup(1)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 1)
        try:
            yield
        finally:
            os.dup2(saved, 1)
            os.close(saved)
            sink.seek(0)
            lines.extend(sink.read().decode("utf-8", "replace").splitlines())
