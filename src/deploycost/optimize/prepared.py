"""A scenario's cost model and enumerated options, kept for the scenarios solved last.

Enumerating the options is most of a small solve (about 45 % on a three-model scenario,
``options_s`` against ``solve_s`` in ``SolveResult.timings``). The same scenario is often
solved again with the same prices: on another backend (the cross-checks), after a
``--verify`` round, for the limits' explanations. Scenarios are frozen models, so their
options are a function of (scenario object, prices); one entry per scenario, for the last
``KEPT`` scenarios (each entry holds its scenario: the memory stays bounded however many a
process solves; a sweep that solves at new prices replaces its scenario's entry). The
arrays kept are made read-only (a caller that wrote into shared options would change the
next solve's); the option table (pandas) cannot be, and nothing writes to it."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse as sp

from deploycost.cost.model import CostModel
from deploycost.cost.prices import PriceVector
from deploycost.options.capacity import FleetOptions, fleet_options
from deploycost.options.grid import OptionSet, enumerate_options

KEPT = 8  # scenarios whose options are kept, the least recently solved dropped first
_KEPT: OrderedDict[int, tuple[Any, PriceVector | None, Callable, Any]] = OrderedDict()
_LOCK = threading.Lock()


def prepared(scn, prices: PriceVector | None, make: Callable[[CostModel], Any]) -> Any:
    """``make(CostModel(scn, prices))``, computed once for the same scenario object, the
    same ``prices`` object (or None) and the same ``make``."""
    key = id(scn)  # the entry holds scn, so no other object can take its id meanwhile
    with _LOCK:
        kept = _KEPT.get(key)
        if kept is not None and kept[1] is prices and kept[2] is make:
            _KEPT.move_to_end(key)
            return kept[3]
    value = make(CostModel(scn, prices))
    _freeze(value)
    with _LOCK:
        _KEPT[key] = (scn, prices, make, value)
        _KEPT.move_to_end(key)
        while len(_KEPT) > KEPT:
            _KEPT.popitem(last=False)
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


def _freeze(value: Any) -> None:
    """Every numpy array (and sparse matrix) reachable through tuples, dicts and dataclass
    fields, read-only."""
    if isinstance(value, np.ndarray):
        value.setflags(write=False)
    elif sp.issparse(value):
        for part in ("data", "indices", "indptr", "row", "col"):
            if isinstance(getattr(value, part, None), np.ndarray):
                getattr(value, part).setflags(write=False)
    elif isinstance(value, tuple | list):
        for item in value:
            _freeze(item)
    elif isinstance(value, dict):
        for item in value.values():
            _freeze(item)
    elif hasattr(value, "__dataclass_fields__"):
        for name in value.__dataclass_fields__:
            _freeze(getattr(value, name))
