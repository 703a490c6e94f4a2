"""Questions asked of many solves: price sweeps with exact breakpoints and certificates
(``sweep``), tornado, Pareto frontiers and Sobol indices (``sensitivity``)."""
