"""Block-by-block solves as the fleet solve runs them, for the block and frontier tests."""

from __future__ import annotations

import numpy as np

from deploycost.optimize.blocks import solve_in_blocks


def in_blocks(form, solver, options, choice, families: tuple[str, ...] | None = None):
    """``solve_in_blocks`` on a built fleet with its coupling rows (the limit families that
    couple; the raisable ones may be raised) or, on a hand-made MILP, with the rows whose
    names start with one of ``families`` (each raisable)."""
    if families is None:
        coupling = form.rows_of(lambda limit: limit.couples)
        raisable = form.rows_of(lambda limit: limit.raisable)
    else:
        names = np.array(form.milp.row_names, dtype=str)
        coupling = np.any([np.char.startswith(names, f) for f in families], axis=0)
        raisable = coupling
    return solve_in_blocks(form, solver, options, choice, coupling, raisable)
