"""A scenario's cost model and enumerated options, kept while the scenario object lives.

Enumerating the options is most of a small solve (about 45 % on a three-model scenario,
``options_s`` against ``solve_s`` in ``SolveResult.timings``). The same scenario is often
solved again with the same prices: on another backend (the cross-checks), after a
``--verify`` round, for the limits' explanations. Scenarios are frozen models, so their
options are a function of (scenario, prices); one entry per scenario keeps the memory
bounded (a sweep that solves at new prices replaces it), and the entry goes with the
scenario (``weakref.finalize``). The arrays kept are made read-only: a caller that wrote
into shared options would change the next solve's."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from typing import Any

import numpy as np

from deploycost.cost.model import CostModel
from deploycost.cost.prices import PriceVector
from deploycost.options.capacity import FleetOptions, fleet_options
from deploycost.options.grid import OptionSet, enumerate_options

_KEPT: dict[int, tuple[PriceVector | None, Callable, Any]] = {}
_LOCK = threading.Lock()


def prepared(scn, prices: PriceVector | None, make: Callable[[CostModel], Any]) -> Any:
    """``make(CostModel(scn, prices))``, computed once for the same scenario object, the
    same ``prices`` object (or None) and the same ``make``."""
    key = id(scn)
    with _LOCK:
        kept = _KEPT.get(key)
    if kept is not None and kept[0] is prices and kept[1] is make:
        return kept[2]
    value = make(CostModel(scn, prices))
    _freeze(value)
    with _LOCK:
        if key not in _KEPT:
            weakref.finalize(scn, _forget, key)
        _KEPT[key] = (prices, make, value)
    return value


def deployment_options(scn, prices: PriceVector | None = None) -> tuple[CostModel, OptionSet]:
    """The cost model and the options of a single-deployment scenario."""
    return prepared(scn, prices, _with_options)


def fleet_options_of(scn, prices: PriceVector | None = None) -> tuple[CostModel, FleetOptions]:
    """The cost model and the fleet options of a fleet scenario."""
    return prepared(scn, prices, _with_fleet_options)


def _with_options(cost: CostModel) -> tuple[CostModel, OptionSet]:
    return cost, enumerate_options(cost)


def _with_fleet_options(cost: CostModel) -> tuple[CostModel, FleetOptions]:
    return cost, fleet_options(cost)


def _forget(key: int) -> None:
    with _LOCK:
        _KEPT.pop(key, None)


def _freeze(value: Any) -> None:
    """Every numpy array reachable through tuples, dicts and dataclass fields, read-only."""
    if isinstance(value, np.ndarray):
        value.setflags(write=False)
    elif isinstance(value, tuple | list):
        for item in value:
            _freeze(item)
    elif isinstance(value, dict):
        for item in value.values():
            _freeze(item)
    elif hasattr(value, "__dataclass_fields__"):
        for name in value.__dataclass_fields__:
            _freeze(getattr(value, name))
