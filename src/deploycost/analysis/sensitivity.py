"""Sensitivity: a tornado over price groups, and Pareto frontiers of cost against limits."""

from __future__ import annotations

import numpy as np
import pandas as pd

from deploycost.analysis.sweep import SweepResult, decision_of, run_sweep
from deploycost.analysis.sweep_spec import GROUPS, Parameter, SweepSpec, inverse_cdf
from deploycost.cost.prices import build_prices
from deploycost.errors import DeployCostError
from deploycost.optimize.solve import solve
from deploycost.scenario.schema import Scenario, validate_scenario


def _optimum(scn: Scenario, backend: str, prices=None):
    """(cost per day, the decision) of the optimum at ``prices``: a deployment, or a
    fleet's choices (``analysis.sweep.decision_of``)."""
    result = solve(scn, backend=backend, runner_ups=False, prices=prices).raise_for_status()
    return result.objective_per_day, decision_of(result.plan)


def tornado(scn: Scenario, fraction: float = 0.2, backend: str = "scipy-highs") -> pd.DataFrame:
    """Each price group -fraction and +fraction: cost change and whether the answer changes
    (a fleet: whether its shares, pools or counts change).

    Rows are sorted by swing (largest first), as a tornado chart draws them.
    """
    prices = build_prices(scn)
    base_cost, base = _optimum(scn, backend)
    rows = []
    for group in GROUPS:
        mask = (prices.table.kind == group).to_numpy() & (prices.values > 0)
        if not mask.any():
            continue
        row = {"parameter": group, "base_per_day": base_cost}
        for side, factor in (("low", 1 - fraction), ("high", 1 + fraction)):
            values = prices.values.copy()
            values[mask] *= factor
            cost, decision = _optimum(scn, backend, prices.with_values(values))
            row[f"{side}_per_day"] = cost
            row[f"{side}_changes_deployment"] = decision != base
        rows.append(row)
    table = pd.DataFrame(rows)
    table["swing_per_day"] = table.high_per_day - table.low_per_day
    return table.sort_values("swing_per_day", ascending=False, kind="stable").reset_index(drop=True)


def pareto(
    scn: Scenario, limit: str, values: list[float] | None = None, backend: str = "scipy-highs"
) -> pd.DataFrame:
    """Optimal cost (of the deployment, or of the fleet with a fleet section) as ``limit``
    ("e2e_latency_ms" or "quality_floor") takes ``values``; the ``frontier`` column marks
    the points no other point beats on both cost and limit."""
    raw = scn.model_dump(mode="json", exclude_unset=True)
    current = getattr(scn.constraints, limit)
    if values is None:
        if limit == "e2e_latency_ms":
            reference = current or sum(m.latency_slo_ms for m in scn.models)
            values = list(np.round(np.linspace(0.25, 2.0, 15) * reference, 6))
        else:
            top = max(
                f.quality or max(scn.model(m).quality for m in f.members)
                for f in scn.fusion_configs
            )
            values = list(np.round(np.linspace(0.8, 1.0, 11) * top, 6))
    rows = []
    for value in values:
        raw.setdefault("constraints", {})[limit] = float(value)
        at = validate_scenario(raw)
        result = solve(at, backend=backend, runner_ups=False)
        rows.append(
            {
                limit: float(value),
                "status": result.status.value,
                "total_per_day": result.objective_per_day,
                "deployment": result.summary(),
            }
        )
    table = pd.DataFrame(rows)
    # tightest limit first: a smaller latency, a larger quality floor. A point is on the
    # frontier when it is cheaper than every tighter one.
    tight_first = table.sort_values(limit, ascending=limit == "e2e_latency_ms")
    cost = tight_first.total_per_day.astype(float).fillna(np.inf).to_numpy()
    before = np.r_[np.inf, np.minimum.accumulate(cost)[:-1]]
    margin = 1e-9 * np.maximum(1.0, np.where(np.isfinite(cost), np.abs(cost), 1.0))
    on = np.isfinite(cost) & (cost < np.where(np.isfinite(before), before - margin, np.inf))
    table["frontier"] = pd.Series(on, index=tight_first.index)
    return table


def check_sobol(spec: SweepSpec, samples: int) -> None:
    """Everything a Sobol analysis needs, checked before any solving starts."""
    try:
        import SALib  # noqa: F401
    except ImportError:
        raise DeployCostError("Sobol indices need SALib: pip install 'deploycost[sobol]'") from None
    if spec.mode not in ("random", "lhs"):
        raise DeployCostError(
            f"Sobol indices need parameter distributions: mode random or lhs, got {spec.mode!r}"
        )
    if samples < 2 or samples & (samples - 1):
        raise DeployCostError(f"Sobol samples must be a power of two, got {samples}")


def sobol(
    scn: Scenario,
    spec: SweepSpec,
    params: list[Parameter],
    samples: int = 256,
    backend: str = "scipy-highs",
) -> tuple[pd.DataFrame, SweepResult]:
    """First-order and total Sobol indices of the optimal daily cost over the parameters'
    distributions (SALib's Saltelli/Sobol sampling; each scenario certified or solved).

    ``samples`` (a power of two) base points give ``samples x (k + 2)`` scenarios.
    """
    check_sobol(spec, samples)
    from SALib.analyze import sobol as analyze
    from SALib.sample import sobol as sample

    names = [p.spec.name for p in params]
    problem = {"num_vars": len(params), "names": names, "bounds": [[0.0, 1.0]] * len(params)}
    u = np.clip(
        sample.sample(problem, samples, calc_second_order=False, seed=spec.seed), 1e-9, 1 - 1e-9
    )  # quantiles of 0 or 1 are infinite for normal distributions
    theta = np.stack([inverse_cdf(p.spec, u[:, j]) for j, p in enumerate(params)], axis=1)
    result = run_sweep(scn, spec, params, backend=backend, points=theta)
    cost = result.table.total.to_numpy()
    if not np.all(np.isfinite(cost)):
        raise DeployCostError(
            "some scenarios have no feasible deployment: Sobol indices need a cost at every point"
        )
    indices = analyze.analyze(problem, cost, calc_second_order=False, seed=spec.seed)
    table = pd.DataFrame(
        {
            "parameter": names,
            "S1": indices["S1"],
            "S1_conf": indices["S1_conf"],
            "ST": indices["ST"],
            "ST_conf": indices["ST_conf"],
        }
    )
    return table, result
