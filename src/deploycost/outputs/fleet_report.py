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
from deploycost.errors import DeployCostError
from deploycost.optimize.fleet_solve import FleetResult
from deploycost.outputs.fleet_tables import fleet_load_table, fleet_plan_table
from deploycost.outputs.report import (
    Report,
    _frame_html,
    _frame_md,
    _png,
    checks_sections,
    md_text,
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


def _fleet_plot(result: FleetResult) -> bytes:
    """Instances running per hour of each day type, stacked by purchase plan, per type."""
    counts = result.counts
    days = list(result.days.names)
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
            for plan, color in PLAN_COLORS.items():
                part = mine[mine.plan == plan]
                if plan not in COMMITTED_PLANS:
                    part = part[part.day_type == day]
                if not len(part):
                    continue
                per_hour = np.zeros(24)
                if plan in COMMITTED_PLANS:
                    per_hour[:] = part.instances.max()
                else:
                    per_hour[part.hour.to_numpy(int)] = part.instances.to_numpy(float)
                ax.bar(hours, per_hour, bottom=bottom, color=color, width=0.9, label=plan)
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
    return _png(fig)


def _commitment_text(scn: Scenario, result: FleetResult) -> str:
    if result.commitments:
        return " ".join(result.commitments)
    if not set(COMMITTED_PLANS) & set(scn.fleet.plans):
        return "Reserved instances are not among the scenario's plans: nothing is committed."
    return (
        "The optimum commits nothing: no reserved instance, paid 24 hours a day, "
        "costs less than the on-demand and spot hours it would replace."
    )


def build_fleet_report(
    scn: Scenario,
    result: FleetResult,
    sweep: pd.DataFrame | None = None,
    tornado: pd.DataFrame | None = None,
    swing: float = 0.2,
    verified=None,
) -> Report:
    """Render a fleet result and, when given, a sweep table, a tornado and a verification by
    simulation; nothing here solves or re-costs."""
    if not result.ok:
        raise DeployCostError(
            f"nothing to report: the fleet solve ended {result.status.value}: "
            + "; ".join(result.explanation)
        )
    cur = scn.currency
    report = Report(f"deploycost report: {scn.name} (fleet)")
    gap = "" if result.gap in (None, 0.0) else f", gap {result.gap:.3%}"
    per_day = f"{result.objective_per_day:,.2f} {cur}/day"
    per_month = f"{result.objective_per_day * DAYS_PER_MONTH:,.2f} {cur}/month"
    summary = (
        f"<p>Status <b>{result.status.value}</b> fleet ({html.escape(result.backend)}{gap}); "
        f"cost <b>{per_day}</b>, {per_month}; fusion <b>{html.escape(str(result.fusion))}</b>, "
        f"automation <b>{html.escape(str(result.automation))}</b>.</p>"
    )
    md_summary = (
        f"Status **{result.status.value}** fleet ({result.backend}{gap}); cost **{per_day}**, "
        f"{per_month}; fusion **{md_text(result.fusion)}**, automation "
        f"**{md_text(result.automation)}**."
    )
    load = fleet_load_table(result)
    report.sections.append(
        ("Recommendation", summary + _frame_html(load), md_summary + "\n\n" + _frame_md(load))
    )
    plan = fleet_plan_table(result)
    report.images["fleet"] = _fleet_plot(result)
    report.sections.append(
        ("Instances per pool, type and plan", _frame_html(plan), _frame_md(plan))
    )
    commit = _commitment_text(scn, result)
    costs = result.costs.rename(columns={"per_day": f"{cur}/day"})
    report.sections.append(
        (
            "Cost per day, compute by purchase plan",
            f"<p>{html.escape(commit)}</p>" + _frame_html(costs),
            md_text(commit) + "\n\n" + _frame_md(costs),
        )
    )
    warnings = list(result.audit.warnings) if result.audit else []
    if warnings:
        items = "".join(f"<li>{html.escape(w)}</li>" for w in warnings)
        report.sections.append(
            ("Warnings", f"<ul>{items}</ul>", "\n".join(f"- {md_text(w)}" for w in warnings))
        )
    rests_on_section(report, result)
    checks_sections(report, verified, sweep, tornado, cur, swing)
    paid = {result.prices.names[r] for r in result.paid_prices()}
    prices_section(report, result.prices, paid)
    return report
