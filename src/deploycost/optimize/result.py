"""One result for every solve: the status and figures every answer has, and its ``plan``.

A scenario without a ``fleet`` section is answered with a ``DeploymentPlan`` (one instance
type, precision and replica count per model, sized at the peak or autoscaled); one with a
fleet section with a ``FleetPlan`` (load shares over instance types, pools, instances per
purchase plan, day type and hour). Both are kept rather than one written as a special
case of the other: a deployment's latency is the M/M/c queue of its replicas, a fleet's
the per-instance bound of each type, so the two size the same model differently, and the
shipped single-type answers stay what they were. Everything else — status, cost, the six
components, limits, LLM figures, runner-ups, estimates, defaults — is common, so callers
read it without asking which plan they hold and dispatch on the plan type only where the
rendering differs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from deploycost.cost.model import COMPONENTS
from deploycost.errors import DeployCostError
from deploycost.optimize.limits import LimitValue
from deploycost.optimize.solvers import Status
from deploycost.periods import DAYS_PER_MONTH, DAYS_PER_YEAR
from deploycost.scenario.schema import DeploymentSpec

if TYPE_CHECKING:
    from deploycost.cost.model import Evaluation
    from deploycost.cost.prices import PriceVector
    from deploycost.optimize.days import DayTable


class InfeasibleError(DeployCostError):
    """No deployment meets every limit; the message says which limit and by how much."""


class NoSolutionError(DeployCostError):
    """The solver stopped (time limit) before finding any deployment."""


@dataclass(frozen=True)
class DeploymentPlan:
    """One instance type, precision, batch and replica count per model."""

    deployment: DeploymentSpec
    models: pd.DataFrame  # per model: its choices, p99 against the SLO, cost lines
    evaluation: Evaluation  # the deployment's ledger

    @property
    def fusion(self) -> str:
        return self.deployment.fusion

    @property
    def automation(self) -> str:
        return self.deployment.automation

    @property
    def data_tiers(self) -> dict[str, str]:
        return dict(self.deployment.data_tiers)

    def summary(self) -> str:
        """The plan in one line: fusion, then per model its replicas, type and precision."""
        models = ", ".join(
            f"{m}: {c.replicas} x {c.instance} {c.precision}"
            for m, c in self.deployment.models.items()
        )
        return f"{self.fusion} ({models})"


@dataclass(frozen=True)
class FleetAudit:
    problems: tuple[str, ...]
    cost_per_day: float  # recomputed from counts x prices, artifacts, fusion, people, data
    checks: int  # how many figures were compared
    warnings: tuple[str, ...] = ()  # off-peak latency the sizing does not cover

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class FleetPlan:
    """Per model its shares over instance types, per pool and type the instances per plan,
    day type and hour, the cost per day by what is bought."""

    fusion: str
    automation: str
    data_tiers: dict[str, str]
    artifacts: pd.DataFrame  # per model: precision, tier, compression, backups
    shares: pd.DataFrame  # per model and type: share of the load, capacity per instance
    counts: pd.DataFrame  # per pool, type, plan, day type and hour: instances
    costs: pd.DataFrame  # the six components per day, compute split by plan
    commitments: tuple[str, ...]
    # (6, P) quantities per day of the fleet, per cost component: cost = q @ prices
    component_quantities: np.ndarray
    prices: PriceVector  # the prices it was solved at
    days: DayTable  # the day types and hours it was sized for
    audit: FleetAudit | None = None

    def catalog_rows(self) -> dict[str, list[str]]:
        """Per catalog table, the rows the fleet uses (its instance types, artifact and
        data tiers, precisions, file compressions), sorted."""
        art = self.artifacts
        return {
            "hardware": sorted(set(self.counts.instance)),
            "storage": sorted(set(art.tier) | set(self.data_tiers.values())),
            "precision": sorted(set(art.precision)),
            "compression": sorted(set(art.compression)),
        }

    def paid_prices(self) -> np.ndarray:
        """Indices into ``prices`` of the prices the fleet pays (a quantity above zero)."""
        return np.nonzero(self.component_quantities.sum(axis=0))[0]

    def summary(self) -> str:
        """The plan in one line: fusion, then per model its share on each type."""
        serving = self.shares[self.shares["mode"] >= 0]
        models = ", ".join(
            f"{r.model}: {r.share:.0%} {r.instance} {r.precision}" for r in serving.itertuples()
        )
        return f"{self.fusion} ({models})"


Plan = DeploymentPlan | FleetPlan


def token_figures(
    spec, requests: float, cost_per_day: float, prefill_share: float, queries: float
) -> dict[str, float]:
    """An LLM's tokens a day and what they cost: ``requests`` a day of the model
    (``spec``: its ``ModelSpec``) costing ``cost_per_day``, split between input and output
    tokens by the engine time prefill takes (``prefill_share``); ``queries``: user queries a
    day, for the cost per 1,000 of them."""
    tokens_in = requests * spec.llm.input_tokens.mean
    tokens_out = requests * spec.llm.output_tokens.mean
    return {
        "input_tokens_per_day": tokens_in,
        "output_tokens_per_day": tokens_out,
        "cost_per_day": cost_per_day,
        "per_1m_input_tokens": cost_per_day * prefill_share / (tokens_in / 1e6),
        "per_1m_output_tokens": cost_per_day * (1.0 - prefill_share) / (tokens_out / 1e6),
        "per_1k_queries": cost_per_day / (queries / 1e3),
    }


def components_table(per_day: dict[str, float]) -> pd.DataFrame:
    """The six components and their total per day, month and year."""
    names = [*COMPONENTS, "total"]
    total = sum(per_day[c] for c in COMPONENTS)
    table = pd.DataFrame(
        {"component": names, "per_day": [*(float(per_day[c]) for c in COMPONENTS), total]}
    )
    table["per_month"] = table.per_day * DAYS_PER_MONTH
    table["per_year"] = table.per_day * DAYS_PER_YEAR
    return table


def stopped_early(status: Status, gap: float | None) -> tuple[str, ...]:
    """What a solve that is not proven optimal says about it: its gap."""
    if status == Status.OPTIMAL:
        return ()
    if gap is None:
        return ("stopped on a limit: gap unknown",)
    return (f"stopped on a limit: relative gap {gap:.3%}",)


@dataclass(frozen=True)
class SolveResult:
    """What a solve found: ``plan`` is None unless the status is optimal or feasible."""

    status: Status
    backend: str
    currency: str
    objective_per_day: float | None = None
    gap: float | None = None
    plan: Plan | None = None
    components: pd.DataFrame = field(default_factory=pd.DataFrame)  # the six, per period
    limits: tuple[LimitValue, ...] = ()
    runner_ups: pd.DataFrame = field(default_factory=pd.DataFrame)
    explanation: tuple[str, ...] = ()
    timings: dict[str, float] = field(default_factory=dict)
    size: dict[str, int] = field(default_factory=dict)
    solution: np.ndarray | None = None  # the MILP column values
    llm: pd.DataFrame = field(default_factory=pd.DataFrame)  # LLM models in token terms
    estimates: tuple[str, ...] = ()  # what rests on estimates, per model
    defaults: tuple[str, ...] = ()  # inputs left to a default that matter

    @property
    def ok(self) -> bool:
        return self.status in (Status.OPTIMAL, Status.FEASIBLE)

    @property
    def binding(self) -> list[str]:
        """Names of the limits the chosen plan meets with no slack."""
        return [limit.name for limit in self.limits if limit.binding]

    def limit(self, name: str) -> LimitValue:
        """The limit called ``name`` (``quota_max[g6.xlarge]``, ``budget_max``, ...)."""
        for limit in self.limits:
            if limit.name == name:
                return limit
        raise KeyError(f"no limit {name!r}; limits: {', '.join(x.name for x in self.limits)}")

    def summary(self) -> str:
        """The plan in one line ('' without one)."""
        return "" if self.plan is None else self.plan.summary()

    def raise_for_status(self) -> SolveResult:
        if self.status == Status.INFEASIBLE:
            raise InfeasibleError(
                "no deployment meets every limit:\n"
                + "\n".join(f"  - {line}" for line in self.explanation)
            )
        if self.status == Status.NOT_SOLVED:
            raise NoSolutionError(
                "the solver stopped before finding a deployment: " + "; ".join(self.explanation)
            )
        return self
