"""The report of a fleet: what runs where under which purchase plan, hour by hour, what it
costs per plan, what to commit to, and the same estimates, verification, sweep, tornado and
prices sections as a single-type report (``outputs.report``)."""

from __future__ import annotations

import html

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.ticker import MaxNLocator

from deploycost.catalog import COMMITTED_PLANS
from deploycost.optimize.result import FleetPlan, SolveResult
from deploycost.outputs.fleet_tables import fleet_load_table, fleet_plan_table
from deploycost.outputs.sections import (
    Report,
    baseline_section,
    checks_sections,
    frame_html,
    frame_md,
    llm_section,
    md_text,
    png,
    prices_section,
    rests_on_section,
)
from deploycost.periods import DAYS_PER_MONTH
from deploycost.scenario.schema import Scenario

PLAN_COLORS = {
    "reserved_3yr": "#8172b3",
    "reserved_1yr": "#4c72b0",
    "on_demand": "#dd8452",
    "spot": "#55a868",
}


def _fleet_plot(plan: FleetPlan) -> bytes:
    """Instances running per hour of each day type, stacked by purchase plan, per type."""
    counts = plan.counts
    days = list(plan.days.names)
    types = list(dict.fromkeys(zip(counts.pool, counts.instance, strict=True)))
    fig, axes = plt.subplots(
        len(types), len(days), figsize=(4.5 * len(days), 2.4 * len(types)), squeeze=False
    )
    hours = np.arange(24)
    for row, (pool, inst) in enumerate(types):
        mine = counts[(counts.pool == pool) & (counts.instance == inst)]
        for col, day in enumerate(days):
            ax = axes[row, col]
            bottom = np.zeros(24)
            for bought, color in PLAN_COLORS.items():
                part = mine[mine.plan == bought]
                if bought not in COMMITTED_PLANS:
                    part = part[part.day_type == day]
                if not len(part):
                    continue
                per_hour = np.zeros(24)
                if bought in COMMITTED_PLANS:
                    per_hour[:] = part.instances.max()
                else:
                    per_hour[part.hour.to_numpy(int)] = part.instances.to_numpy(float)
                ax.bar(hours, per_hour, bottom=bottom, color=color, width=0.9, label=bought)
                bottom += per_hour
            ax.set_title(f"{pool} / {inst} - {day}", fontsize=9)
            ax.set_xlim(-0.5, 23.5)
            ax.set_xlabel("hour of the day", fontsize=8)
            ax.set_ylabel("instances", fontsize=8)
            ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    handles = {
        label: h
        for ax in axes.flat
        for h, label in zip(*ax.get_legend_handles_labels(), strict=True)
    }
    axes.flat[0].legend(handles.values(), handles.keys(), fontsize=7)
    fig.suptitle("Instances per hour, by purchase plan")
    fig.tight_layout()
    return png(fig)


def _commitment_text(scn: Scenario, plan: FleetPlan) -> str:
    if plan.commitments:
        return " ".join(plan.commitments)
    if not set(COMMITTED_PLANS) & set(scn.fleet.plans):
        return "Reserved instances are not among the scenario's plans: nothing is committed."
    return (
        "The optimum commits nothing: no reserved instance, paid 24 hours a day, "
        "costs less than the on-demand and spot hours it would replace."
    )


def build_fleet_report(
    scn: Scenario,
    result: SolveResult,
    sweep: pd.DataFrame | None = None,
    tornado: pd.DataFrame | None = None,
    swing: float = 0.2,
    verified=None,
    compared=None,
) -> Report:
    """Render a fleet result and, when given, a sweep table, a tornado, a verification by
    simulation and the baseline deployment against it (``analysis.diff.diff_result``);
    nothing here solves or re-costs (``outputs.report.build_report`` comes here
    for a fleet)."""
    fleet = result.plan
    cur = scn.currency
    report = Report(f"deploycost report: {scn.name} (fleet)")
    gap = "" if result.gap in (None, 0.0) else f", gap {result.gap:.3%}"
    per_day = f"{result.objective_per_day:,.2f} {cur}/day"
    per_month = f"{result.objective_per_day * DAYS_PER_MONTH:,.2f} {cur}/month"
    summary = (
        f"<p>Status <b>{result.status.value}</b> fleet ({html.escape(result.backend)}{gap}); "
        f"cost <b>{per_day}</b>, {per_month}; fusion <b>{html.escape(str(fleet.fusion))}</b>, "
        f"automation <b>{html.escape(str(fleet.automation))}</b>.</p>"
    )
    md_summary = (
        f"Status **{result.status.value}** fleet ({result.backend}{gap}); cost **{per_day}**, "
        f"{per_month}; fusion **{md_text(fleet.fusion)}**, automation "
        f"**{md_text(fleet.automation)}**."
    )
    load = fleet_load_table(fleet)
    report.sections.append(
        ("Recommendation", summary + frame_html(load), md_summary + "\n\n" + frame_md(load))
    )
    plan = fleet_plan_table(fleet)
    report.images["fleet"] = _fleet_plot(fleet)
    report.sections.append(("Instances per pool, type and plan", frame_html(plan), frame_md(plan)))
    commit = _commitment_text(scn, fleet)
    costs = fleet.costs.rename(columns={"per_day": f"{cur}/day"})
    report.sections.append(
        (
            "Cost per day, compute by purchase plan",
            f"<p>{html.escape(commit)}</p>" + frame_html(costs),
            md_text(commit) + "\n\n" + frame_md(costs),
        )
    )
    warnings = list(fleet.audit.warnings) if fleet.audit else []
    if warnings:
        items = "".join(f"<li>{html.escape(w)}</li>" for w in warnings)
        report.sections.append(
            ("Warnings", f"<ul>{items}</ul>", "\n".join(f"- {md_text(w)}" for w in warnings))
        )
    llm_section(report, result)
    rests_on_section(report, result)
    if compared is not None:
        baseline_section(report, compared)
    checks_sections(report, verified, sweep, tornado, cur, swing)
    paid = {fleet.prices.names[r] for r in fleet.paid_prices()}
    prices_section(report, fleet.prices, paid)
    return report
