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

from deploycost.cost.constants import running_replicas
from deploycost.cost.model import CostModel, Evaluation
from deploycost.errors import DeployCostError
from deploycost.optimize.layout import Layout, lay_out
from deploycost.optimize.limits import LimitValue, Picks, check
from deploycost.options.grid import enumerate_options
from deploycost.options.latency import option_latency
from deploycost.options.performance import REASONS, Configs, cold_start_seconds, performance
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
    problems = check_deployment(cost.scn, spec, where)
    if problems:
        return problems, None
    at = _Chosen.of(layout, spec)
    perf = performance(cost, at.configs)
    cell = (at.model, at.instance, at.precision, at.config)
    lam = layout.options.units.arrival_qps[at.unit]
    thr = perf.throughput_qps[cell]
    p99, ttft = _latency(layout, at, perf, lam)
    tpot = perf.tpot_ms[cell]
    utilisation = lam / (at.replicas * thr)
    cold = cold_start_seconds(cost, at.model, at.precision, at.tier, at.compression)
    for name, reason in zip(at.names, perf.reason[cell], strict=True):
        if reason:
            problems.append(f"{name}: option is infeasible ({REASONS[reason - 1]})")
    const = cost.const.take(at.model)
    stored = (
        cost.artifact_gb(const, at.precision, at.compression)
        * const.versions_kept
        * (1 + at.backups)
    )
    space = cost.space
    picks = Picks(
        fusion=at.fusion,
        units=at.unit,
        instance=at.instance[None],
        replicas=at.replicas[None],
        p99_ms=p99[None],
        ttft_ms=ttft[None],
        tpot_ms=tpot[None],
        utilisation=utilisation[None],
        cold_start_s=cold[None],
        quality_delta=cost.quality_delta[at.model, at.precision][None],
        tier=at.tier[None],
        stored_gb=stored[None],
        data_tier=_indices(space.tiers, [spec.data_tiers.get(s) for s in space.sources])[None],
        cost_per_day=np.array([float(evaluation.total_per_day[row])]),
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
        for j, name in enumerate(at.names)
    }
    return problems, AuditReport(figures, limits)


@dataclass(frozen=True)
class _Chosen:
    """A deployment's choices as indices on the scenario's axes, model by model."""

    names: list[str]
    choices: list
    fusion: int
    model: np.ndarray
    unit: np.ndarray
    instance: np.ndarray
    precision: np.ndarray
    tier: np.ndarray
    compression: np.ndarray
    backups: np.ndarray
    replicas: np.ndarray
    configs: Configs
    config: np.ndarray

    @classmethod
    def of(cls, layout: Layout, spec: DeploymentSpec) -> _Chosen:
        scn, space = layout.cost.scn, layout.cost.space
        f = space.fusions.index(spec.fusion or space.fusions[0])
        units = layout.options.units
        position = {name: i for i, name in enumerate(space.models)}
        unit_of_model = {int(units.model[u]): int(u) for u in np.nonzero(units.fusion == f)[0]}
        names = list(spec.models)
        choices = [spec.models[n] for n in names]
        specs = {m.name: m for m in scn.models}
        idx = np.array([position[n] for n in names], np.intp)
        precisions = [
            c.precision if c.precision is not None else specs[n].checkpoint_precision
            for n, c in zip(names, choices, strict=True)
        ]
        batch = np.array([c.batch for c in choices])
        tp = np.array([c.tensor_parallel for c in choices])
        is_llm = np.array([specs[n].is_llm for n in names], bool)
        configs = Configs.of(batch, tp, is_llm)
        return cls(
            names=names,
            choices=choices,
            fusion=f,
            model=idx,
            unit=np.array([unit_of_model[i] for i in idx], np.intp),
            instance=_indices(space.instances, [c.instance for c in choices]),
            precision=_indices(space.precisions, precisions),
            tier=_indices(space.tiers, [c.tier for c in choices]),
            compression=_indices(space.compressions, [c.compression for c in choices]),
            backups=np.array([c.backups for c in choices]),
            replicas=np.array([c.replicas for c in choices], float),
            configs=configs,
            config=configs.index(batch, tp, is_llm),
        )


def _latency(layout: Layout, at: _Chosen, perf, lam: np.ndarray):
    """(p99, TTFT p99) of each model at its replicas, hour by hour as the autoscaler runs
    them where it scales (the hours the cost model bills)."""
    cost = layout.cost
    scn, share = cost.scn, layout.options.units.share[at.unit]
    capacity = np.array(
        [ch.capacity_qps if ch.autoscale and ch.capacity_qps else np.nan for ch in at.choices]
    )
    scaled = ~np.isnan(capacity)
    hourly = np.repeat(at.replicas[:, None], 24, axis=1)
    if scaled.any():
        hourly[scaled] = running_replicas(
            scn,
            at.replicas[scaled],
            capacity[scaled],
            share[scaled],
            cost.const.take(at.model[scaled]).min_replicas,
        )
    return option_latency(
        perf,
        scn.workload,
        scn.options.latency_every_hour,
        (at.model, at.instance, at.precision, at.config),
        at.replicas,
        lam,
        share,
        hourly,
    )


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
