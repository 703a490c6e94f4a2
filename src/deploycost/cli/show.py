"""A solve result as the terminal and ``--json`` show it: the head line, the plan's own
tables, the six components, the LLM figures, limits, runner-ups, what the answer rests on,
the verification; the exit code of an answer that is not there."""

from __future__ import annotations

import pandas as pd
import typer

from deploycost.cli.common import (
    _records,
    _table,
    err,
    out,
    print_table,
)
from deploycost.errors import DeployCostError
from deploycost.optimize.result import DeploymentPlan, FleetPlan
from deploycost.optimize.solve import CHOICE_COLUMNS
from deploycost.optimize.solvers import Status
from deploycost.outputs.fleet_tables import fleet_load_table, fleet_plan_table
from deploycost.periods import DAYS_PER_MONTH, DAYS_PER_YEAR
from deploycost.scenario.schema import Scenario

PERIOD_DAYS = {"day": 1.0, "month": DAYS_PER_MONTH, "year": DAYS_PER_YEAR}


def _in_period(per_day: float, scn: Scenario) -> str:
    """A daily amount in the scenario's reporting period, e.g. '39,781.83 USD/month'."""
    period = scn.reporting_period
    return f"{per_day * PERIOD_DAYS[period]:,.2f} {scn.currency}/{period}"


EXIT_INFEASIBLE = 2


EXIT_NOT_SOLVED = 3


def _json_head(result, scn: Scenario) -> dict:
    return {
        "scenario": scn.name,
        "status": result.status.value,
        "backend": result.backend,
        "currency": result.currency,
        "objective_per_day": result.objective_per_day,
        "gap": result.gap,
    }


def solve_json(result, scn: Scenario) -> dict:
    """A solve result as JSON: the common figures, then the plan's own (``plan_json``)."""
    return {
        **_json_head(result, scn),
        "explanation": list(result.explanation),
        "binding": result.binding,
        **plan_json(result.plan),
        "components": _records(result.components),
        "limits": _records(limits_table(result.limits)),
        "runner_ups": _records(result.runner_ups),
        "llm": _records(result.llm),
        "estimates": list(result.estimates),
        "defaults": list(result.defaults),
        "timings_s": result.timings,
        "size": result.size,
    }


def plan_json(plan) -> dict:
    """A deployment's choices and per-model table, or a fleet's shares, counts per plan and
    hour, artifacts, costs, advice and audit."""
    if plan is None:
        return {"deployment": None, "models": []}
    if isinstance(plan, DeploymentPlan):
        return {"deployment": plan.deployment.model_dump(), "models": _records(plan.models)}
    return {
        "fusion": plan.fusion,
        "automation": plan.automation,
        "data_tiers": plan.data_tiers,
        "shares": _records(plan.shares.drop(columns="mode", errors="ignore")),
        "instances": _records(plan.counts.drop(columns="column", errors="ignore")),
        "artifacts": _records(plan.artifacts),
        "costs": _records(plan.costs),
        "commitments": list(plan.commitments),
        "warnings": list(plan.audit.warnings) if plan.audit else [],
        "audit_checks": plan.audit.checks if plan.audit else 0,
    }


def limits_table(limits) -> pd.DataFrame:
    """Every limit of a deployment: value, bound, slack, met."""
    return pd.DataFrame(
        {
            "limit": [v.name for v in limits],
            "value": [v.value for v in limits],
            "sense": [v.sense for v in limits],
            "bound": [v.limit for v in limits],
            "unit": [v.unit for v in limits],
            "met": [v.met for v in limits],
        }
    )


def _print_verification(checked) -> None:
    state = "verified" if checked.verified else "NOT verified"
    out.print(
        f"simulation: {state} ({len(checked.rounds)} round(s))",
        style=None if checked.verified else "yellow",
        markup=False,
        highlight=False,
    )
    for line in checked.rounds:
        out.print(f"  {line}", markup=False, highlight=False)
    worst = checked.worst
    if len(worst):
        shown = pd.DataFrame(
            {
                "model": worst.model,
                "worst hour": (
                    worst.day_type + " " + worst.hour.astype(str) + "h"
                    if "day_type" in worst
                    else worst.hour.astype(str)
                ),
                "p99 simulated": worst.p99_ms.map(lambda v: f"{v:,.2f}"),
                "95% CI": [
                    f"{lo:,.2f}-{hi:,.2f}"
                    for lo, hi in zip(worst.p99_low_ms, worst.p99_high_ms, strict=True)
                ],
                "SLO ms": worst.slo_ms.map(lambda v: f"{v:,.0f}"),
                "met": worst.met.map({True: "yes", False: "NO"}),
            }
        )
        out.print(_table(shown, "simulated p99, worst hour per model"))
    cut = checked.spot_cut
    if len(cut):
        missed = cut[~cut.met.astype(bool)]
        out.print(
            f"with the spot instances the interruption rule may lose gone (whole instances): "
            f"{len(cut)} model-hours simulated, the SLO is missed in {len(missed)}"
            + "".join(
                f"\n  {r.model} on {r.instance}, {r.day_type} {r.hour:02d}h: {r.p99_ms:,.4g} ms "
                f"with {r.replicas} instance(s) left (SLO {r.slo_ms:g} ms)"
                for r in missed.itertuples()
            ),
            markup=False,
            highlight=False,
        )


def print_result(result, scn: Scenario, wide: bool = False) -> None:
    """A solve result in the terminal: why there is none, or the head line, the plan's own
    tables (a deployment's per model, ``_print_fleet``), the six components, the LLM
    figures, what the answer rests on, the binding limits and the runner-ups."""
    kind = "fleet" if scn.fleet is not None else "deployment"  # also when there is no plan
    if result.status == Status.INFEASIBLE:
        err.print("infeasible:", style="bold red", end=" ")
        err.print(f"no {kind} meets every limit", markup=False)
        for line in result.explanation:
            err.print(f"  - {line}", markup=False, highlight=False)
        return
    if result.status == Status.NOT_SOLVED:
        err.print("not solved:", style="bold red", end=" ")
        err.print("; ".join(result.explanation), markup=False)
        return
    cur = scn.currency
    plan = result.plan
    gap = "" if result.gap in (None, 0.0) else f", gap {result.gap:.3%}"
    what = " fleet" if kind == "fleet" else ""
    out.print(
        f"{scn.name}: {result.status.value}{what} ({result.backend}{gap}) - "
        f"{result.objective_per_day:,.2f} {cur}/day, "
        f"{_in_period(result.objective_per_day, scn)}; fusion "
        f"{plan.fusion!r}, automation {plan.automation!r}",
        markup=False,
        highlight=False,
    )
    for line in result.explanation:
        out.print(f"warning: {line}", style="yellow", markup=False)
    if isinstance(plan, FleetPlan):
        _print_fleet(plan, cur, wide)
    else:
        print_table(_table(models_table(plan.models, cur, wide), "deployment per model"), wide)
    if plan.data_tiers:
        out.print(
            "data tiers: " + ", ".join(f"{k} -> {v}" for k, v in plan.data_tiers.items()),
            markup=False,
            highlight=False,
        )
    components = result.components.rename(
        columns={"per_day": f"{cur}/day", "per_month": f"{cur}/month", "per_year": f"{cur}/year"}
    )
    out.print(_table(components, "six-component breakdown"))
    if len(result.llm):
        print_table(_table(llm_table(result.llm, cur, wide), "LLM serving (tokens)"), wide)
    _print_rests_on(result)
    if result.binding:
        out.print("binding limits: " + ", ".join(result.binding), markup=False, highlight=False)
    title = "runner-ups (the whole fleet re-solved)" if kind == "fleet" else "runner-ups"
    _print_runner_ups(result.runner_ups, cur, title)


def _print_fleet(plan: FleetPlan, cur: str, wide: bool) -> None:
    """A fleet's load per model, instances per pool, type and plan, cost per plan, the
    commitment advice and the audit's warnings."""
    shares = plan.shares
    shown = fleet_load_table(plan)
    if not wide and (shares.pool == shares.model).all():  # a pool per model: said once
        shown = shown.drop(columns=["pool"])
    print_table(_table(shown, "load per model"), wide)
    out.print(_table(fleet_plan_table(plan), "instances per pool, type and plan"))
    by_plan = plan.costs[plan.costs.line.str.startswith("  ")]  # compute's lines per plan
    shown = pd.DataFrame({"plan": by_plan.line.str.strip(), f"{cur}/day": by_plan.per_day})
    out.print(_table(shown, "compute by purchase plan"))
    for line in plan.commitments:
        out.print(line, markup=False, highlight=False)
    for line in plan.audit.warnings if plan.audit else ():
        out.print(f"warning: {line}", style="yellow", markup=False)


def _refuse_estimates(result, scn: Scenario) -> None:
    """``--strict``: an answer that rests on an estimate or an unstated default is refused."""
    if not (result.ok and (result.estimates or result.defaults)):
        return
    lines = [f"estimate: {x}" for x in result.estimates]
    lines += [f"default: {x}" for x in result.defaults]
    raise DeployCostError(
        f"--strict: the answer ({result.objective_per_day:,.2f} {scn.currency}/day) rests "
        f"on {len(lines)} estimate(s) or default(s); measure or state them:\n"
        + "\n".join(f"  - {line}" for line in lines)
    )


def _print_rests_on(result) -> None:
    """The estimates and defaults an answer rests on, one line each."""
    for line in result.estimates:
        out.print(f"estimate: {line}", markup=False, highlight=False)
    for line in result.defaults:
        out.print(f"default: {line}", markup=False, highlight=False)


def _exit_unless_found(result) -> None:
    """Exit 2 when no deployment meets the limits, 3 when the solver stopped without one."""
    if result.status == Status.INFEASIBLE:
        raise typer.Exit(EXIT_INFEASIBLE)
    if result.status == Status.NOT_SOLVED:
        raise typer.Exit(EXIT_NOT_SOLVED)


def llm_table(llm: pd.DataFrame, cur: str, wide: bool = False) -> pd.DataFrame:
    """The LLM serving figures as printed: limits beside values, money per 1M tokens (fits
    100 columns); ``wide`` adds the engine's shape, tokens a day and money per 1k queries."""

    def against(value, limit) -> str:
        return f"{value:,.1f}" + ("" if limit is None or limit != limit else f"/{limit:,.0f}")

    model = llm.model
    if "instance" in llm:  # a fleet: a row per model and type it runs on
        model = [
            f"{m} @ {i}" + ("" if share > 0.9995 else f" {share:.0%}")
            for m, i, share in zip(llm.model, llm.instance, llm.share, strict=True)
        ]
    table = pd.DataFrame(
        {
            "model": model,
            "TP x seqs": [
                f"{t} x {b}"
                for t, b in zip(llm.tensor_parallel, llm.sequences_per_engine, strict=True)
            ],
            "TTFT p99/limit ms": [
                against(v, lim) for v, lim in zip(llm.ttft_p99_ms, llm.ttft_limit_ms, strict=True)
            ],
            "TPOT/limit ms": [
                against(v, lim) for v, lim in zip(llm.tpot_ms, llm.tpot_limit_ms, strict=True)
            ],
            "M tokens/d in, out": [
                f"{i / 1e6:,.1f}, {o / 1e6:,.1f}"
                for i, o in zip(llm.input_tokens_per_day, llm.output_tokens_per_day, strict=True)
            ],
            f"{cur}/1M in": llm.per_1m_input_tokens.map(lambda v: f"{v:,.4f}"),
            f"{cur}/1M out": llm.per_1m_output_tokens.map(lambda v: f"{v:,.4f}"),
            f"{cur}/1k queries": llm.per_1k_queries.map(lambda v: f"{v:,.4f}"),
        }
    )
    if wide:
        return table
    return table.drop(columns=["TP x seqs", "M tokens/d in, out", f"{cur}/1k queries"])


def models_table(models: pd.DataFrame, cur: str, wide: bool = False) -> pd.DataFrame:
    """Per model as printed: a summary (fits 100 columns), or with ``wide`` every choice
    and cost line."""
    if wide:
        parts = ["compute", "model_storage", "compression", "people"]
        return models[[*CHOICE_COLUMNS, *(f"{p}_per_day" for p in parts)]].rename(
            columns={
                "utilisation": "util",
                "compute_per_day": f"compute {cur}/d",
                "model_storage_per_day": f"storage {cur}/d",
                "compression_per_day": f"compress {cur}/d",
                "people_per_day": f"people {cur}/d",
            }
        )
    per_day = models[
        ["compute_per_day", "model_storage_per_day", "compression_per_day", "people_per_day"]
    ].sum(axis=1)
    return pd.DataFrame(
        {
            "model": models.model,
            "instance": models.instance,
            "n": models.replicas,
            "precision": models.precision,
            "batch": models.batch,
            "p99 / SLO ms": [
                f"{p:,.2f} / {s:,.0f}" for p, s in zip(models.p99_ms, models.slo_ms, strict=True)
            ],
            "util": models.utilisation.map("{:.2f}".format),
            f"{cur}/day": per_day,
        }
    )


def _print_runner_ups(ups: pd.DataFrame, cur: str, title: str) -> None:
    """The runner-ups with their extra cost per day ('n/a' where none was found)."""
    if not len(ups):
        return
    ups = ups.copy()
    ups["extra_per_day"] = ups.extra_per_day.map(lambda v: "n/a" if v != v else f"+{v:,.2f}")
    out.print(_table(ups.rename(columns={"extra_per_day": f"extra {cur}/day"}), title))
