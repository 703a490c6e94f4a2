"""From options to the cheapest deployment: the limit registry (``limits``: each coupled
limit's MILP rows, check, value and explanation, defined once), the formulation, the solver
backends (``solvers``), the independent audit, infeasibility explanations and ``solve``."""
