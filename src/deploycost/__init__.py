"""deploycost: the cheapest way to deploy AI models, with every assumption priced and sourced.

    import deploycost as dc
    result = dc.solve("problems/ecommerce_search_rec.yaml")   # a path, a mapping or a Scenario
    dc.evaluate(scenario, deployment)    # the six components of a fixed deployment
    dc.sweep(scenario, "spec.yaml")      # the optimum under many price scenarios
    dc.solve("problems/fleet/ecommerce_fleet.yaml")  # a fleet section: result.plan is a fleet

The pipeline, one package per stage: ``scenario`` (schema, checks, loading) -> ``options``
(performance, queueing, the option grid) -> ``optimize`` (limits, formulation, solvers,
audit, explain, solve) -> ``analysis`` (sweep, sensitivity) -> ``outputs`` (export, report),
with ``cost`` (prices, the ledger) used throughout and ``cli`` on top.
"""

from typing import TYPE_CHECKING

from deploycost.errors import DeployCostError, ScenarioError
from deploycost.version import __version__

if TYPE_CHECKING:
    from deploycost.api import evaluate, load_scenario, solve, sweep
    from deploycost.scenario.schema import Scenario

__all__ = [
    "DeployCostError",
    "Scenario",
    "ScenarioError",
    "__version__",
    "evaluate",
    "load_scenario",
    "solve",
    "sweep",
]
_API = {"evaluate", "load_scenario", "solve", "sweep"}


def __getattr__(name: str):
    """The API on first use: ``import deploycost`` itself loads no numpy, pandas or solver."""
    if name in _API:
        from deploycost import api

        return getattr(api, name)
    if name == "Scenario":
        from deploycost.scenario.schema import Scenario

        return Scenario
    raise AttributeError(f"module 'deploycost' has no attribute {name!r}")
