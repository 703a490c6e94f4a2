"""The cost model: the named price vector (``prices``), deployments as arrays over the
problem's axes (``deployments``) and the six components as ledger lines of quantities x
prices (``model``). A new cost term is a block method of ``model.CostModel``."""
