"""Audit a chosen deployment independently of the solver and of the MILP matrix.

The deployment is re-costed through the full ledger (``CostModel.quantities``), and its
latency, utilisation, memory, cold start, quality, end-to-end latency, quotas, budget and
owned storage are recomputed from the option functions. Any mismatch with what the solver
reported, or any violated limit, raises ``AuditError``: a solver answer that does not
survive the audit is a bug, never a result.
"""

from __future__ import annotations

import numpy as np

from deploycost.cost.model import CostModel, Evaluation
from deploycost.errors import DeployCostError
from deploycost.options.grid import Units
from deploycost.options.performance import (
    REASONS,
    cold_start_seconds,
    p99_latency_ms,
    performance,
)
from deploycost.scenario.schema import DeploymentSpec, check_deployment

REL_TOL = 1e-6


def _tight(used: float, limit: float) -> bool:
    return abs(used - limit) <= 1e-6 * max(1.0, abs(limit))


class AuditError(DeployCostError):
    """The solver's answer failed the independent audit."""


def audit(
    cost: CostModel,
    spec: DeploymentSpec,
    evaluation: Evaluation,
    objective: float,
    fusion_quality: np.ndarray,
) -> dict:
    """Recompute everything about ``spec``; return the figures, raise on any violation.

    ``evaluation`` is the full ledger of ``spec`` (``costmodel.evaluate``), built from the
    deployment alone, not from the solver's matrix.
    """
    scn, space = cost.scn, cost.space
    problems = check_deployment(scn, spec, "solution")
    total = float(evaluation.total_per_day[0])
    if not np.isclose(total, objective, rtol=REL_TOL, atol=1e-9):
        problems.append(f"cost: ledger gives {total:.10g} per day, solver said {objective:.10g}")
    f = space.fusions.index(spec.fusion)
    cfg = scn.fusion_configs[f]
    units = Units.of(cost)
    figures: dict = {}
    binding: list[str] = []
    names = list(spec.models)
    idx = np.array([space.models.index(n) for n in names])
    batches = np.array(sorted({spec.models[n].batch for n in names}))
    perf = performance(cost, batches)
    cons = scn.constraints
    for name, i in zip(names, idx, strict=True):
        choice = spec.models[name]
        model = scn.model(name)
        unit = int(np.nonzero((units.fusion == f) & (units.model == i))[0][0])
        h = space.instances.index(choice.instance)
        c = space.precisions.index(choice.precision or model.checkpoint_precision)
        b = int(np.searchsorted(batches, choice.batch))
        lam = units.arrival_qps[unit]
        thr = perf.throughput_qps[i, h, c, b]
        p99 = float(
            p99_latency_ms(
                thr,
                perf.service_ms[i, h, c, b],
                perf.capacity_bound_ms[i, h, c, b],
                choice.replicas,
                lam,
                choice.batch,
                model.latency_slo_ms,
            )
        )
        util = lam / (choice.replicas * thr)
        reason = int(perf.reason[i, h, c, b])
        cold = float(
            cold_start_seconds(
                cost,
                i,
                c,
                space.tiers.index(choice.tier),
                space.compressions.index(choice.compression),
            )
        )
        figures[name] = {
            "p99_ms": p99,
            "utilisation": util,
            "throughput_qps": thr,
            "arrival_qps": lam,
            "cold_start_s": cold,
        }
        if _tight(p99, model.latency_slo_ms):
            binding.append(f"latency_p99_max[{name}]")
        if _tight(util, cons.utilisation_max):
            binding.append(f"utilisation_max[{name}]")
        if reason:
            problems.append(f"{name}: option is infeasible ({REASONS[reason - 1]})")
        if not p99 <= model.latency_slo_ms * (1 + REL_TOL):
            problems.append(f"{name}: p99 {p99:.6g} ms > SLO {model.latency_slo_ms:g} ms")
        if not util <= cons.utilisation_max * (1 + REL_TOL):
            problems.append(f"{name}: utilisation {util:.6g} > {cons.utilisation_max:g}")
        if cold > cons.max_cold_start_s * (1 + REL_TOL):
            problems.append(f"{name}: cold start {cold:.6g} s > {cons.max_cold_start_s:g} s")
    if cons.quality_floor is not None:
        deltas = cost.scn.resolved_catalog.precision.quality_delta_rel
        quality = fusion_quality[f] * (
            1
            + sum(
                float(deltas[spec.models[n].precision or scn.model(n).checkpoint_precision])
                for n in names
            )
        )
        figures["_quality"] = quality
        if _tight(quality, cons.quality_floor):
            binding.append(f"quality_min[{spec.fusion}]")
        if quality < cons.quality_floor - 1e-9:
            problems.append(f"quality {quality:.6g} < floor {cons.quality_floor:g}")
    if cons.e2e_latency_ms is not None:
        stages: dict[str, float] = {}
        for name in cfg.members:
            model = scn.model(name)
            stage = (model.stage or model.name) if cfg.method == "cascade" else "ensemble"
            stages[stage] = max(stages.get(stage, 0.0), figures[name]["p99_ms"])
        e2e = sum(stages.values())
        figures["_e2e_ms"] = e2e
        if _tight(e2e, cons.e2e_latency_ms):
            binding.append(f"latency_e2e_max[{spec.fusion}]")
        if e2e > cons.e2e_latency_ms * (1 + REL_TOL):
            problems.append(f"end-to-end p99 {e2e:.6g} ms > {cons.e2e_latency_ms:g} ms")
    for instance, quota in cons.quotas.items():
        used = sum(spec.models[n].replicas for n in names if spec.models[n].instance == instance)
        used += cfg.replicas if cfg.instance == instance else 0
        if used > quota:
            problems.append(f"quota {instance}: {used} > {quota}")
        if used == quota:
            binding.append(f"quota_max[{instance}]")
    if cons.budget_per_day is not None and total > cons.budget_per_day * (1 + REL_TOL):
        problems.append(f"budget: {total:.6g} > {cons.budget_per_day:g} per day")
    if cons.budget_per_day is not None and _tight(total, cons.budget_per_day):
        binding.append("budget_max")
    for tier, capacity in cons.owned_storage_gb.items():
        used = sum(
            cost.artifact_gb(
                cost.const.take(np.array([space.models.index(n)])),
                np.array(
                    [
                        space.precisions.index(
                            spec.models[n].precision or scn.model(n).checkpoint_precision
                        )
                    ]
                ),
                np.array([space.compressions.index(spec.models[n].compression)]),
            )[0]
            * scn.model(n).versions_kept
            * (1 + spec.models[n].backups)
            for n in names
            if spec.models[n].tier == tier
        )
        used += sum(
            s.gb_per_day * s.retention_days
            for s in scn.data_sources
            if spec.data_tiers.get(s.name) == tier
        )
        if used > capacity * (1 + REL_TOL) + 1e-9:
            problems.append(f"owned storage {tier}: {used:.6g} GB > {capacity:g} GB")
        if _tight(used, capacity):
            binding.append(f"storage_capacity_max[{tier}]")
    if problems:
        raise AuditError("solution failed the audit:\n" + "\n".join(f"  - {p}" for p in problems))
    figures["_total_per_day"] = total
    figures["_binding"] = binding
    return figures
