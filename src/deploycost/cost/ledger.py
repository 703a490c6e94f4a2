"""The cost ledger's structures: quantities per (deployment, line, price), and the blocks
of lines each cost component contributes (``cost.model.CostModel`` builds them)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd
import scipy.sparse as sp

COMPONENTS = ("data", "model_storage", "compression", "compute", "people", "fusion")


@dataclass(frozen=True)
class Quantities:
    """``q[d, l]``: quantity per day of ledger line ``l`` in deployment ``d``."""

    q: np.ndarray
    lines: pd.DataFrame  # component, owner, owner_kind, price, unit
    price_of_line: np.ndarray  # (L,) index into the price vector
    n_prices: int

    @cached_property
    def by_price(self) -> np.ndarray:
        """``Q[d, r]``: quantity per day bought at price ``r`` (lines summed per price)."""
        n_lines = self.price_of_line.shape[0]
        fold = sp.csr_matrix(
            (np.ones(n_lines), (np.arange(n_lines), self.price_of_line)),
            shape=(n_lines, self.n_prices),
        )
        return np.asarray((fold.T @ self.q.T).T)

    def line_costs(self, prices: np.ndarray) -> np.ndarray:
        """Cost per day of every line, (D, L); a line not bought costs nothing, whatever
        its price (an infinite price of an unused instance type is not a NaN total)."""
        unit = np.asarray(prices)[self.price_of_line]
        with np.errstate(invalid="ignore", over="ignore"):
            return np.where(self.q == 0, 0.0, self.q * unit)

    def totals(self, price_scenarios: np.ndarray) -> np.ndarray:
        """Total cost per day for (D deployments) x (S price scenarios): ``Q @ P.T``."""
        return self.by_price @ np.atleast_2d(price_scenarios).T

    @cached_property
    def component_of_line(self) -> np.ndarray:
        """(L,) index of each line's component in ``COMPONENTS``."""
        return pd.Categorical(self.lines.component, categories=COMPONENTS).codes

    def component_costs(self, prices: np.ndarray) -> np.ndarray:
        """(D, 6) cost per day by component, in ``COMPONENTS`` order."""
        onehot = np.zeros((len(self.component_of_line), len(COMPONENTS)))
        onehot[np.arange(len(self.component_of_line)), self.component_of_line] = 1.0
        return self.line_costs(prices) @ onehot

    def component_quantities(self, row: int = 0) -> np.ndarray:
        """(6, P): deployment ``row``'s quantities per component and price."""
        out = np.zeros((len(COMPONENTS), self.n_prices))
        np.add.at(out, (self.component_of_line, self.price_of_line), self.q[row])
        return out


@dataclass(frozen=True)
class Block:
    """Ledger lines of one cost term: owner o of deployment d buys ``values[d, o]``.

    A *choice* block has a line for every (owner, price) pair and the deployment buys at
    one of them, ``prices[choice[d, o]]``; a *fixed* block (``choice`` None) has one line per
    owner, at that owner's own price ``prices[o]``. ``q`` lays the lines out densely (for the
    ledger of a few deployments); ``CostModel._sparse`` keeps the bought lines only (for many
    options).
    """

    component: str
    owner_kind: str
    owners: list[str]
    prices: list[str]
    unit: str
    values: np.ndarray  # (D, O)
    choice: np.ndarray | None  # (D, O) index into ``prices``; None for a fixed block

    @property
    def fixed(self) -> bool:
        return self.choice is None

    @property
    def q(self) -> np.ndarray:
        """``q[d, o * K + k]`` (choice) or ``q[d, o]`` (fixed)."""
        if self.choice is None:
            return np.asarray(self.values)
        d, o = self.values.shape
        q = np.zeros((d, o, len(self.prices)))
        choice = np.broadcast_to(self.choice, (d, o))[..., None]
        np.put_along_axis(q, choice, self.values[..., None], axis=2)
        return q.reshape(d, o * len(self.prices))

    @property
    def line_owner(self) -> list[str]:
        return list(self.owners) if self.fixed else [o for o in self.owners for _ in self.prices]

    @property
    def line_price(self) -> list[str]:
        return list(self.prices) if self.fixed else [p for _ in self.owners for p in self.prices]


def choice_block(
    component: str,
    owner_kind: str,
    owners: list[str],
    prices: list[str],
    unit: str,
    values: np.ndarray,
    choice: np.ndarray,
) -> Block:
    """Deployment d buys ``values[d, o]`` at price ``prices[choice[d, o]]``."""
    values = np.asarray(values, float)
    choice = np.broadcast_to(np.asarray(choice, np.intp), values.shape)
    return Block(component, owner_kind, owners, prices, unit, values, choice)


def fixed_block(
    component: str,
    owner_kind: str,
    owners: list[str],
    prices: list[str],
    unit: str,
    values: np.ndarray,
) -> Block:
    """Deployment d buys ``values[d, o]`` at owner o's own price ``prices[o]``."""
    return Block(component, owner_kind, owners, prices, unit, np.asarray(values), None)
