"""Solve: options -> formulation -> backend -> decode -> audit -> explain.

``solve(scenario)`` returns a frozen ``SolveResult`` whatever happens; a caller who wants an
exception calls ``result.raise_for_status()``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from deploycost.cost.deployments import from_specs
from deploycost.cost.model import COMPONENTS, Evaluation, evaluate
from deploycost.cost.prices import PriceVector
from deploycost.optimize.audit import ModelFigures, audit
from deploycost.optimize.explain import explain_infeasible, slack_report
from deploycost.optimize.fleet_alternatives import fleet_runner_ups
from deploycost.optimize.fleet_solve import solve_fleet
from deploycost.optimize.formulation import Formulation, build
from deploycost.optimize.layout import tighten_latency
from deploycost.optimize.prepared import deployment_options
from deploycost.optimize.result import (
    DeploymentPlan,
    InfeasibleError,
    NoSolutionError,
    SolveResult,
    components_table,
    stopped_early,
    token_figures,
)
from deploycost.optimize.solvers import SolverOptions, Status, get_backend
from deploycost.scenario.assumptions import (
    catalog_estimates,
    service_estimates,
    stated_defaults,
)
from deploycost.scenario.models import ModelChoice
from deploycost.scenario.schema import DeploymentSpec, Scenario, as_scenario

RUNNER_UP_MODEL_LIMIT = 20
CHOICE_COLUMNS = [
    "model",
    "instance",
    "replicas",
    "precision",
    "batch",
    "tier",
    "backups",
    "compression",
    "p99_ms",
    "slo_ms",
    "utilisation",
]


def _decode(form: Formulation, x: np.ndarray) -> tuple[DeploymentSpec, np.ndarray]:
    scn, space = form.cost.scn, form.cost.space
    chosen = np.nonzero(x[form.x] > 0.5)[0]
    rows = form.options.table.iloc[chosen]
    zj = int(np.argmax(x[form.z]))
    f, a = form.z_pairs[zj]
    y_cols = np.nonzero(x[form.y] > 0.5)[0]
    models = {r.model: choice_of(r, scn.options.autoscale) for r in rows.itertuples()}
    spec = DeploymentSpec(
        models=models,
        fusion=space.fusions[f],
        automation=space.automation[a],
        data_tiers={space.sources[s]: space.tiers[t] for s, t in form.y_pairs[y_cols]},
    )
    return spec, chosen


def _llm_table(
    form: Formulation, chosen: np.ndarray, models: pd.DataFrame, figures: dict[str, ModelFigures]
) -> pd.DataFrame:
    """Per LLM model: its serving configuration, TTFT and TPOT against their limits, tokens
    a day and what they cost. The model's daily cost (compute, storage, compression,
    people) is split between input and output tokens by the engine time prefill and decode
    take (``prefill_share``)."""
    scn = form.cost.scn
    table = form.options.table.iloc[chosen].reset_index(drop=True)
    queries = scn.workload.queries_per_day
    rows = []
    for r, m in zip(table.itertuples(), models.itertuples(), strict=True):
        spec = scn.model(r.model)
        if not spec.is_llm:
            continue
        requests = queries * float(form.options.units.share[r.unit])
        cost = m.compute_per_day + m.model_storage_per_day + m.compression_per_day
        cost += m.people_per_day
        rows.append(
            {
                "model": r.model,
                "tensor_parallel": int(r.tensor_parallel),
                "sequences_per_engine": int(r.batch),
                "ttft_p99_ms": figures[r.model].ttft_ms,
                "ttft_limit_ms": spec.llm.ttft_p99_ms,
                "tpot_ms": figures[r.model].tpot_ms,
                "tpot_limit_ms": spec.llm.tpot_p99_ms,
                **token_figures(spec, requests, cost, float(r.prefill_share), queries),
                "basis": _basis(r),
            }
        )
    return pd.DataFrame(rows)


def _basis(row) -> str:
    if not row.profile_points:
        return "estimate"
    return f"measured ({row.profile_points} points, fit residual {row.profile_residual:.1%})"


def choice_of(row, autoscale: bool = False) -> ModelChoice:
    """The deployment of one model from a row of the option table."""
    return ModelChoice(
        instance=row.instance,
        replicas=int(row.replicas),
        precision=row.precision,
        batch=int(row.batch),
        tier=row.tier,
        backups=int(row.backups),
        compression=row.compression,
        autoscale=autoscale,
        capacity_qps=float(row.autoscale_qps) if autoscale else None,
        tensor_parallel=int(row.tensor_parallel),
    )


def _estimates(form: Formulation, chosen: np.ndarray) -> list[str]:
    """What the answer rests on that is an estimate rather than a measurement, per model."""
    rows = form.options.table.iloc[chosen]
    return service_estimates(
        form.cost.scn,
        zip(rows.model, rows.instance, rows.precision, rows.profile_points > 0, strict=True),
    )


def _model_table(
    form: Formulation, chosen: np.ndarray, result: Evaluation, figures: dict[str, ModelFigures]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    table = form.options.table.iloc[chosen].reset_index(drop=True)
    ledger = result.ledger()
    per_model = (
        ledger[ledger.owner_kind == "model"]
        .groupby(["owner", "component"], observed=True)
        .per_day.sum()
        .unstack()
        .reindex(columns=["compute", "model_storage", "compression", "people"])
        .fillna(0.0)
        .add_suffix("_per_day")
    )
    models = pd.DataFrame(
        {
            "model": table.model,
            "instance": table.instance,
            "replicas": table.replicas,
            "precision": table.precision,
            "batch": table.batch,
            "tier": table.tier,
            "backups": table.backups,
            "compression": table.compression,
            "p99_ms": [figures[m].p99_ms for m in table.model],
            "slo_ms": table.slo_ms,
            "headroom_ms": table.slo_ms - [figures[m].p99_ms for m in table.model],
            "utilisation": [figures[m].utilisation for m in table.model],
            "arrival_qps": table.arrival_qps,
            "capacity_qps": table.replicas * table.throughput_qps,
            "host_gb": table.host_gb,
            "device_gb": table.device_gb,
            "cold_start_s": table.cold_start_s,
        }
    )
    models = models.join(per_model, on="model").fillna(0.0)
    totals = result.components().iloc[0]
    return models, components_table({c: float(totals[c]) for c in COMPONENTS})


def _runner_ups(
    form: Formulation, spec: DeploymentSpec, objective: float, backend: str, options: SolverOptions
) -> pd.DataFrame:
    """For each model: the cheapest deployment with another instance type, or precision."""
    table = form.options.table
    rows = []
    solver = get_backend(backend)
    for name, choice in spec.models.items():
        for what, column, value in (
            ("instance", "instance", choice.instance),
            ("precision", "precision", choice.precision),
        ):
            forbid = ((table.model == name) & (table[column] == value)).to_numpy()
            alt = build(form.cost, form.options, forbid=forbid)
            out = solver(alt, options)
            if out.x is None:
                rows.append(
                    {
                        "model": name,
                        "change": f"other {what}",
                        "alternative": "none",
                        "extra_per_day": np.nan,
                    }
                )
                continue
            alt_spec, _ = _decode(alt, out.x)
            if name in alt_spec.models:
                c = alt_spec.models[name]
                text = f"{c.replicas} x {c.instance} {c.precision} batch {c.batch}"
            else:
                text = f"drop {name} (fusion {alt_spec.fusion})"
            rows.append(
                {
                    "model": name,
                    "change": f"other {what}",
                    "alternative": text,
                    "extra_per_day": out.objective - objective,
                }
            )
    return pd.DataFrame(rows)


def solve(
    scn: str | Path | Mapping[str, Any] | Scenario,
    backend: str = "scipy-highs",
    time_limit_s: float | None = None,
    mip_gap: float = 0.0,
    runner_ups: bool | None = None,
    prices: PriceVector | None = None,
    progress: Callable[[str], None] | None = None,
) -> SolveResult:
    """Cheapest plan for ``scn`` (a path, a mapping or a ``Scenario``) meeting every limit,
    audited: a fleet when the scenario has a ``fleet`` section, else a deployment. Never
    raises for infeasibility (see ``SolveResult.raise_for_status``).

    ``runner_ups``: per model the best answer without its instance type or precision (on by
    default up to 20 models; off by default for a fleet, where each is a fleet solve);
    ``progress`` is called with a short text before each runner-up solve."""
    scn = as_scenario(scn)
    options = SolverOptions(time_limit_s=time_limit_s, mip_gap=mip_gap)
    if scn.fleet is not None:
        return _solve_fleet(scn, backend, options, prices, bool(runner_ups), progress)
    return _solve_deployment(scn, backend, options, runner_ups, prices)


def _solve_fleet(scn, backend, options, prices, runner_ups, progress) -> SolveResult:
    """The fleet's optimum and, when asked, its runner-ups (each a fleet solve)."""
    result = solve_fleet(scn, backend, options, prices)
    if not (runner_ups and result.ok):
        return result
    start = time.perf_counter()
    alternatives = fleet_runner_ups(scn, result, backend, options, progress)
    timings = {**result.timings, "runner_ups_s": time.perf_counter() - start}
    return replace(result, runner_ups=alternatives, timings=timings)


def _without_answer(form, backend, options, out, timings, size) -> SolveResult:
    """The result of a solve that found no deployment: infeasible (explained by the limits
    that cause it) or stopped (its message)."""
    start = timings.pop("start")
    scn = form.cost.scn
    if out.status == Status.INFEASIBLE:
        mark = time.perf_counter()
        explanation = explain_infeasible(form, backend, options, out.seconds)
        timings["explain_s"] = time.perf_counter() - mark
        status = Status.INFEASIBLE
    else:
        explanation = [out.message or "no solution within the limits"]
        status = Status.NOT_SOLVED
    timings["total_s"] = time.perf_counter() - start
    return SolveResult(
        status, backend, scn.currency, explanation=tuple(explanation), timings=timings, size=size
    )


def _solve_deployment(
    scn: Scenario,
    backend: str,
    options: SolverOptions,
    runner_ups: bool | None,
    prices: PriceVector | None,
) -> SolveResult:
    solver = get_backend(backend)
    timings: dict[str, float] = {}
    start = time.perf_counter()
    cost, option_set = deployment_options(scn, prices)
    timings["options_s"] = time.perf_counter() - start
    mark = time.perf_counter()
    form = build(cost, option_set)
    timings["build_s"] = time.perf_counter() - mark
    size = {
        "options": len(option_set.table),
        "columns": len(form.milp.c),
        "rows": len(form.milp.row_names),
        "nonzeros": int(form.milp.A.nnz),
    }
    out = solver(form, options)
    timings["solve_s"] = out.seconds
    if out.x is None:
        return _without_answer(form, backend, options, out, timings | {"start": start}, size)
    mark = time.perf_counter()
    spec, chosen = _decode(form, out.x)
    evaluation = evaluate(scn, from_specs(scn, [spec]), cost.prices)
    report = audit(form, spec, evaluation, out.objective)
    models, components = _model_table(form, chosen, evaluation, report.models)
    llm = _llm_table(form, chosen, models, report.models)
    timings["audit_s"] = time.perf_counter() - mark
    want_runner_ups = (
        len(spec.models) <= RUNNER_UP_MODEL_LIMIT if runner_ups is None else runner_ups
    )
    mark = time.perf_counter()
    alternatives = (
        _runner_ups(form, spec, out.objective, backend, options)
        if want_runner_ups
        else pd.DataFrame()
    )
    timings["runner_ups_s"] = time.perf_counter() - mark
    timings["total_s"] = time.perf_counter() - start
    return SolveResult(
        out.status,
        backend,
        scn.currency,
        out.objective,
        out.gap,
        plan=DeploymentPlan(spec, models, evaluation),
        components=components,
        limits=report.limits,
        runner_ups=alternatives,
        explanation=stopped_early(out.status, out.gap),
        timings=timings,
        size=size,
        solution=tighten_latency(form, out.x),
        llm=llm,
        estimates=tuple(_estimates(form, chosen) + catalog_estimates(scn, spec)),
        defaults=tuple(stated_defaults(scn)),
    )


__all__ = [
    "DeploymentPlan",
    "InfeasibleError",
    "NoSolutionError",
    "SolveResult",
    "slack_report",
    "solve",
]
