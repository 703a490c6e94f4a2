"""Audit a chosen deployment independently of the solver and of the MILP matrix.

The deployment is re-costed through the full ledger (``CostModel.quantities``), and each
model's latency, utilisation, throughput and cold start are recomputed from the option
functions (``options.performance``), not read from the option table. Every limit of the
registry (``optimize.limits``) is then evaluated on those figures. Any mismatch with what
the solver reported, or any violated limit, raises ``AuditError``: a solver answer that does
not survive the audit is a bug, never a result.

Linear in the number of models: names are looked up in dictionaries and every figure is
computed for all members at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from deploycost.cost.model import CostModel, Evaluation, running_replicas
from deploycost.errors import DeployCostError
from deploycost.optimize.layout import Layout, lay_out
from deploycost.optimize.limits import LimitValue, Picks, check
from deploycost.options.grid import enumerate_options
from deploycost.options.performance import (
    REASONS,
    Configs,
    cold_start_seconds,
    option_latency,
    performance,
)
from deploycost.scenario.schema import DeploymentSpec, check_deployment

REL_TOL = 1e-6


class AuditError(DeployCostError):
    """The solver's answer failed the independent audit."""


@dataclass(frozen=True)
class ModelFigures:
    """One deployed model at peak, recomputed by the audit."""

    p99_ms: float
    ttft_ms: float  # LLMs: time to first token at p99; NaN for other models
    tpot_ms: float  # LLMs: time per output token; NaN for other models
    utilisation: float
    throughput_qps: float  # per replica
    arrival_qps: float
    cold_start_s: float


@dataclass(frozen=True)
class AuditReport:
    """What the audit recomputed: per-model figures and every limit's value."""

    models: dict[str, ModelFigures]
    limits: tuple[LimitValue, ...]


def audit(
    layout: Layout, spec: DeploymentSpec, evaluation: Evaluation, objective: float
) -> AuditReport:
    """Recompute everything about ``spec``; return the figures, raise on any violation.

    ``evaluation`` is the full ledger of ``spec`` (``cost.model.evaluate``), built from the
    deployment alone, not from the solver's matrix.
    """
    problems, report = check_limits(layout, spec, evaluation)
    total = float(evaluation.total_per_day[0])
    if not np.isclose(total, objective, rtol=REL_TOL, atol=1e-9):
        problems.append(f"cost: ledger gives {total:.10g} per day, solver said {objective:.10g}")
    if problems:
        raise AuditError("solution failed the audit:\n" + "\n".join(f"  - {p}" for p in problems))
    return report


def check_limits(
    layout: Layout,
    spec: DeploymentSpec,
    evaluation: Evaluation,
    where: str = "solution",
    row: int = 0,
) -> tuple[list[str], AuditReport | None]:
    """Every limit of ``spec`` (row ``row`` of ``evaluation``) recomputed from the scenario
    (the audit's figures), and the problems: a choice that is no option (unknown or not
    allowed, out of memory), or a limit violated. ``None`` for the report when the choices
    cannot be evaluated."""
    cost = layout.cost
    scn, space = cost.scn, cost.space
    problems = check_deployment(scn, spec, where)
    if problems:
        return problems, None
    total = float(evaluation.total_per_day[row])
    f = space.fusions.index(spec.fusion or space.fusions[0])
    units = layout.options.units
    position = {name: i for i, name in enumerate(space.models)}
    unit_of_model = {int(units.model[u]): int(u) for u in np.nonzero(units.fusion == f)[0]}
    names = list(spec.models)
    choices = [spec.models[n] for n in names]
    specs = {m.name: m for m in scn.models}
    idx = np.array([position[n] for n in names], np.intp)
    unit = np.array([unit_of_model[i] for i in idx], np.intp)
    h = _indices(space.instances, [c.instance for c in choices])
    c = _indices(
        space.precisions,
        [
            c.precision if c.precision is not None else specs[n].checkpoint_precision
            for n, c in zip(names, choices, strict=True)
        ],
    )
    tier = _indices(space.tiers, [c.tier for c in choices])
    zips = _indices(space.compressions, [c.compression for c in choices])
    batch = np.array([c.batch for c in choices])
    tp = np.array([c.tensor_parallel for c in choices])
    is_llm = np.array([specs[n].is_llm for n in names], bool)
    replicas = np.array([c.replicas for c in choices], float)
    configs = Configs.of(batch, tp, is_llm)
    b = configs.index(batch, tp, is_llm)
    perf = performance(cost, configs)
    lam = units.arrival_qps[unit]
    thr = perf.throughput_qps[idx, h, c, b]
    capacity = np.array(
        [ch.capacity_qps if ch.autoscale and ch.capacity_qps else np.nan for ch in choices]
    )
    scaled = ~np.isnan(capacity)
    hourly = np.repeat(replicas[:, None], 24, axis=1)
    if scaled.any():  # the hours run what the autoscaler runs, as the cost model bills
        hourly[scaled] = running_replicas(
            scn,
            replicas[scaled],
            capacity[scaled],
            units.share[unit][scaled],
            cost.const.take(idx[scaled]).min_replicas,
        )
    p99, ttft = option_latency(
        perf,
        scn.workload,
        scn.options.latency_every_hour,
        (idx, h, c, b),
        replicas,
        lam,
        units.share[unit],
        hourly,
    )
    tpot = perf.tpot_ms[idx, h, c, b]
    utilisation = lam / (replicas * thr)
    cold = cold_start_seconds(cost, idx, c, tier, zips)
    for name, reason in zip(names, perf.reason[idx, h, c, b], strict=True):
        if reason:
            problems.append(f"{name}: option is infeasible ({REASONS[reason - 1]})")
    const = cost.const.take(idx)
    backups = np.array([ch.backups for ch in choices])
    stored = cost.artifact_gb(const, c, zips) * const.versions_kept * (1 + backups)
    picks = Picks(
        fusion=f,
        units=unit,
        instance=h[None],
        replicas=replicas[None],
        p99_ms=p99[None],
        ttft_ms=ttft[None],
        tpot_ms=tpot[None],
        utilisation=utilisation[None],
        cold_start_s=cold[None],
        quality_delta=cost.quality_delta[idx, c][None],
        tier=tier[None],
        stored_gb=stored[None],
        data_tier=_indices(space.tiers, [spec.data_tiers.get(s) for s in space.sources])[None],
        cost_per_day=np.array([total]),
    )
    limits = tuple(checked.at(0) for checked in check(layout, picks))
    for limit in limits:
        if not limit.met:
            problems.append(
                f"{limit.name}: {limit.value:.6g} {limit.unit} violates "
                f"{limit.sense} {limit.limit:g}"
            )
    figures = {
        name: ModelFigures(
            float(p99[j]),
            float(ttft[j]),
            float(tpot[j]),
            float(utilisation[j]),
            float(thr[j]),
            float(lam[j]),
            float(cold[j]),
        )
        for j, name in enumerate(names)
    }
    return problems, AuditReport(figures, limits)


def _indices(axis: tuple[str, ...], names: list[str | None]) -> np.ndarray:
    """Positions of ``names`` on ``axis`` (-1 for a name not on it, e.g. no data tier)."""
    position = {name: i for i, name in enumerate(axis)}
    return np.array([position.get(n, -1) for n in names], np.intp)


def deployment_limits(
    scn, specs: list[DeploymentSpec], evaluation: Evaluation
) -> list[tuple[list[str], AuditReport | None]]:
    """``check_limits`` of fixed deployments (row d of ``evaluation`` is ``specs[d]``;
    ``deploycost evaluate`` and ``diff``): the scenario's option grid gives the units and
    stages the limits are written over."""
    cost = CostModel(scn, evaluation.prices)
    layout = lay_out(cost, enumerate_options(cost))
    return [
        check_limits(layout, spec, evaluation, "deployment", row=d) for d, spec in enumerate(specs)
    ]
