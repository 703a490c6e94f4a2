"""Solver backends, in a registry keyed by name. A MILP backend's ``solve`` takes the
``Milp`` (matrix, bounds, integrality and how it is best solved) and the ``SolverOptions``;
an oracle (the exhaustive enumerator) takes the formulation, whose option table it
enumerates. Each module declares what it can solve (``CAPABILITIES``); ``get_backend``
gives every caller one calling convention, ``backend(formulation, options)``. A backend
that stopped on a limit reports ``FEASIBLE`` with its gap."""

from __future__ import annotations

import math
import os
import re
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
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


@dataclass(frozen=True)
class Capabilities:
    """What a backend declares it can solve (each backend module's ``CAPABILITIES``)."""

    fleets: bool  # the fleet MILP (continuous load shares, counts per hour)
    why_not: str = ""  # when it cannot: why, in a few words
    oracle: bool = False  # enumerates the formulation's options instead of solving its MILP


# name -> module whose ``solve`` is the backend; a module is imported only when its backend
# is asked for (PuLP and its CBC binary are not loaded by a HiGHS solve)
REGISTRY = {
    "scipy-highs": "deploycost.optimize.solvers.scipy_highs",
    "pulp-cbc": "deploycost.optimize.solvers.pulp_cbc",
    "exhaustive": "deploycost.optimize.solvers.exhaustive",
}
BACKENDS = tuple(REGISTRY)


def get_backend(name: str) -> Backend:
    """``backend(formulation, options)``: the MILP backend on ``formulation.milp``, or the
    oracle on the formulation itself."""
    if name not in REGISTRY:
        raise DeployCostError(f"backend must be one of {', '.join(REGISTRY)}, got {name!r}")
    module = import_module(REGISTRY[name])
    if module.CAPABILITIES.oracle:
        return module.solve
    solve = module.solve

    def on_milp(form, options: SolverOptions | None = None) -> SolverOutput:
        return solve(form.milp, options)

    return on_milp


def capabilities(name: str) -> Capabilities:
    """What the backend called ``name`` declares it can solve."""
    if name not in REGISTRY:
        raise DeployCostError(f"backend must be one of {', '.join(REGISTRY)}, got {name!r}")
    return import_module(REGISTRY[name]).CAPABILITIES


def fleet_backends() -> list[str]:
    return [name for name in REGISTRY if capabilities(name).fleets]


def relative_gap(objective: float | None, bound: float | None) -> float | None:
    if objective is None or bound is None or not np.isfinite(bound):
        return None
    return abs(objective - bound) / max(abs(objective), 1e-9)


_STDOUT = threading.Lock()
_redirect: dict = {"depth": 0}  # one redirection of fd 1 shared by concurrent solves


@contextmanager
def captured_stdout(lines: list[str]) -> Iterator[None]:
    """Run a native solver with the process's standard output captured into ``lines``:
    a library that prints from C (HiGHS prints debug lines at some prices) must not write
    into a ``--json`` document on stdout. Solves running at once (``solve_many``) share
    one redirection: the last to finish restores fd 1 and takes what was printed."""
    with _STDOUT:
        if _redirect["depth"] == 0:
            sys.stdout.flush()
            _redirect["saved"] = os.dup(1)
            _redirect["sink"] = tempfile.TemporaryFile()
            os.dup2(_redirect["sink"].fileno(), 1)
        _redirect["depth"] += 1
    try:
        yield
    finally:
        with _STDOUT:
            _redirect["depth"] -= 1
            if _redirect["depth"] == 0:
                os.dup2(_redirect["saved"], 1)
                os.close(_redirect["saved"])
                sink = _redirect["sink"]
                sink.seek(0)
                lines.extend(sink.read().decode("utf-8", "replace").splitlines())
                sink.close()


def solve_workers() -> int:
    """Solves run at once by ``solve_many``: ``DEPLOYCOST_SOLVE_THREADS``, else the cores
    this process may use, at most 4 (HiGHS runs a MIP on one core and releases the GIL;
    CBC runs in its own process)."""
    raw = os.environ.get("DEPLOYCOST_SOLVE_THREADS", "").strip()
    if raw:
        # ASCII digits only: str.isdigit also takes "²", and int() refuses 5,000 digits
        if not re.fullmatch(r"[0-9]{1,3}", raw) or not 1 <= int(raw) <= 256:
            raise DeployCostError(
                f"DEPLOYCOST_SOLVE_THREADS must be a whole number from 1 to 256, got {raw[:40]!r}"
            )
        return int(raw)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(4, cores or 1))


def solve_many(solve: Callable, items: list) -> list:
    """``[solve(item) for item in items]``, independent solves spread over the cores."""
    workers = min(solve_workers(), len(items))
    if workers <= 1:
        return [solve(item) for item in items]
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(solve, items))
