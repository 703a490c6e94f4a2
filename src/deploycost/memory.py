"""Refuse work that would not fit in memory before allocating it, naming the dimensions."""

from __future__ import annotations

import os
import resource

from deploycost.errors import DeployCostError


def memory_budget_bytes() -> float:
    """Half of the memory available now (Linux ``SC_AVPHYS_PAGES``), else 4 GB; no more than
    half of the process's address-space limit where one is set (``ulimit -v``)."""
    try:
        budget = 0.5 * os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        budget = 4e9
    try:
        limit, _ = resource.getrlimit(resource.RLIMIT_AS)
    except (ValueError, OSError):
        limit = resource.RLIM_INFINITY
    if limit != resource.RLIM_INFINITY:
        budget = min(budget, 0.5 * limit)
    return budget


GRID_HINT = "allow fewer instance types or precisions per model, or fewer batch sizes"


def check_fits(
    what: str, dims: dict[str, int], bytes_per_item: float, hint: str = GRID_HINT
) -> None:
    """Raise when ``prod(dims) x bytes_per_item`` exceeds the budget, e.g. "the option grid
    of 5,000 units x 1,000 instance types x 5 precisions x 6 batch sizes x 3 replica
    counts (4.5e+08 points) needs ~21.6 GB; the budget is 10.2 GB (half the available
    memory)"."""
    count = 1.0
    for size in dims.values():
        count *= float(size)
    need = count * bytes_per_item
    budget = memory_budget_bytes()
    if need > budget:
        shape = " x ".join(f"{size:,} {name}" for name, size in dims.items())
        raise DeployCostError(
            f"{what} of {shape} ({count:,.3g} points) needs ~{need / 1e9:,.3g} GB; the "
            f"budget is {budget / 1e9:,.3g} GB (half the memory this process may use): {hint}"
        )
