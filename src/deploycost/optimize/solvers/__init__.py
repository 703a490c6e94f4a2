"""Solver backends, in a registry keyed by name. Each takes a ``Formulation`` and returns a
``SolverOutput``; a backend that stopped on a limit reports ``FEASIBLE`` with its gap."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

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
    time_limit_s: float | None = None
    mip_gap: float = 0.0


Backend = Callable[..., SolverOutput]


def _registry() -> dict[str, Backend]:
    from deploycost.optimize.solvers.exhaustive import solve as exhaustive
    from deploycost.optimize.solvers.pulp_cbc import solve as pulp_cbc
    from deploycost.optimize.solvers.scipy_highs import solve as scipy_highs

    return {"scipy-highs": scipy_highs, "pulp-cbc": pulp_cbc, "exhaustive": exhaustive}


BACKENDS = ("scipy-highs", "pulp-cbc", "exhaustive")


def get_backend(name: str) -> Backend:
    registry = _registry()
    if name not in registry:
        raise DeployCostError(f"backend must be one of {', '.join(registry)}, got {name!r}")
    return registry[name]


def relative_gap(objective: float | None, bound: float | None) -> float | None:
    if objective is None or bound is None or not np.isfinite(bound):
        return None
    return abs(objective - bound) / max(abs(objective), 1e-9)
