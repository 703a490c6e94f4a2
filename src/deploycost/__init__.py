"""deploycost: the cheapest way to deploy AI models, with every assumption priced and sourced."""

from deploycost.errors import DeployCostError, ScenarioError

__version__ = "0.1.0"
__all__ = ["DeployCostError", "ScenarioError", "__version__"]
