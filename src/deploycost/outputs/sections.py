"""The parts of a report that every plan's report shares: the ``Report`` itself, tables
and plots as HTML and Markdown, the estimates, verification, sweep, tornado and prices
sections."""

from __future__ import annotations

import html
import io
import textwrap

import matplotlib

matplotlib.use("Agg")
from dataclasses import dataclass, field  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from deploycost.analysis.sweep import parameter_columns  # noqa: E402
from deploycost.cost.model import COMPONENTS  # noqa: E402
from deploycost.simulate.run import simulated_rows  # noqa: E402

COLORS = dict(
    zip(COMPONENTS, ("#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860"), strict=True)
)


@dataclass
class Report:
    title: str
    sections: list[tuple[str, str, str]] = field(default_factory=list)  # heading, html, md
    images: dict[str, bytes] = field(default_factory=dict)


def png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return buffer.getvalue()


def number(value: float) -> str:
    """A figure as people read it: thousands separators, never scientific notation (money
    and counts of a thousand and more to two decimals, smaller figures to four
    significant digits)."""
    if value != value or value in (float("inf"), float("-inf")):
        return str(value)
    if abs(value) >= 1000:
        return f"{value:,.2f}"
    return f"{value:,.4g}" if abs(value) >= 1e-4 or value == 0 else f"{value:.2e}"


_MD_SPECIAL = str.maketrans({c: f"\\{c}" for c in "\\`*_{}[]()#+!|~>"})


def md_text(value) -> str:
    """A scenario string as Markdown text: HTML escaped, Markdown syntax backslashed."""
    return html.escape(str(value)).translate(_MD_SPECIAL)


MONEY_WORDS = ("per_day", "per_month", "per_year", "/day", "/month", "/year", "change", "cost")


def _with_money(frame: pd.DataFrame) -> pd.DataFrame:
    """Money columns as text with thousands separators and two decimals."""
    money = [
        c
        for c in frame.columns
        if any(w in str(c) for w in MONEY_WORDS) and pd.api.types.is_float_dtype(frame[c])
    ]
    if not money:
        return frame
    return frame.assign(**{c: frame[c].map(lambda v: f"{v:,.2f}") for c in money})


def frame_html(frame: pd.DataFrame) -> str:
    return _with_money(frame).to_html(
        index=False, border=0, classes="table", float_format=number, escape=True
    )


def frame_md(frame: pd.DataFrame) -> str:
    frame = _with_money(frame)
    cols = list(frame.columns)
    lines = ["| " + " | ".join(md_text(c) for c in cols) + " |", "|" + "---|" * len(cols)]
    for row in frame.itertuples(index=False):
        cells = [number(v) if isinstance(v, float) else md_text(v) for v in row]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _label(column: str) -> str:
    kind, _, name = column.partition(":")
    return {"model": name, "data": f"data {name}"}.get(kind, column)


def deployment_names(sweep: pd.DataFrame) -> dict[int, str]:
    """A readable name per deployment of a sweep: the most frequent one is named by its
    models' choices, the others by what differs from it."""
    models = [c for c in sweep.columns if c.startswith(("model:", "data:"))]
    if "automation" in sweep.columns:
        models.append("automation")
    found = sweep[sweep.deployment >= 0].drop_duplicates("deployment").set_index("deployment")
    if not len(found):
        return {}
    common = int(sweep.deployment[sweep.deployment >= 0].mode().iloc[0])
    base = found.loc[common]
    names = {}
    for d, row in found.iterrows():
        if d == common:
            parts = [f"{_label(c)} {row[c]}" for c in models if row[c] not in ("-", "")]
            names[int(d)] = "most frequent: " + "; ".join(parts)
            continue
        parts = [f"{_label(c)} {row[c]}" for c in models if row[c] != base[c]]
        if "fusion_config" in found.columns and row.fusion_config != base.fusion_config:
            parts.insert(0, f"fusion {row.fusion_config}")
        names[int(d)] = "; ".join(parts) or f"deployment {d}"
    return names


def _sweep_plot(sweep: pd.DataFrame, currency: str, names: dict[int, str]) -> bytes:
    """Totals along a line (points by deployment, dashes where it changes) or their spread
    by deployment; ``names`` as ``deployment_names`` gives them."""

    def label(deployment) -> str:
        return textwrap.shorten(names.get(int(deployment), "infeasible"), 70)

    fig, ax = plt.subplots(figsize=(8, 4))
    if "t" in sweep.columns:
        params = parameter_columns(sweep)[:1]
        x = sweep[params[0]] if params else sweep.t
        ax.plot(x, sweep.total, color="#4c72b0", linewidth=1)
        for deployment, group in sweep.groupby("deployment", sort=False):
            ax.scatter(x[group.index], group.total, s=14, zorder=3, label=label(deployment))
        ax.legend(fontsize=7)
        flips = np.nonzero(sweep.deployment.to_numpy()[1:] != sweep.deployment.to_numpy()[:-1])[0]
        for j in flips:
            ax.axvline(
                (x.iloc[j] + x.iloc[j + 1]) / 2, color="#c44e52", linestyle="--", linewidth=1
            )
        ax.set_xlabel(params[0] if params else "t")
        ax.set_title("Sweep: optimal cost along the line (dashed: the answer changes)")
    else:
        for deployment, group in sweep.groupby("deployment"):
            ax.hist(group.total, bins=40, alpha=0.6, label=label(deployment))
        ax.set_xlabel(f"total ({currency} per day)")
        ax.set_ylabel("scenarios")
        ax.set_title("Sweep: optimal cost across scenarios, by deployment")
        ax.legend(fontsize=8)
    if "t" in sweep.columns:
        ax.set_ylabel(f"total ({currency} per day)")
    return png(fig)


def _tornado_plot(table: pd.DataFrame, currency: str, swing: float) -> bytes:
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(table) + 1.5))
    rows = table.iloc[::-1]
    base = rows.base_per_day.iloc[0]
    ax.barh(rows.parameter, rows.low_per_day - base, color="#55a868", label=f"-{swing:.0%}")
    ax.barh(rows.parameter, rows.high_per_day - base, color="#c44e52", label=f"+{swing:.0%}")
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_xlabel(f"change of the optimal cost ({currency} per day)")
    ax.set_title("Tornado: price groups")
    ax.legend(fontsize=8)
    return png(fig)


def _simulation_plot(table: pd.DataFrame) -> bytes:
    """Per model, the simulated p99 of every hour (95 % interval shaded) beside the analytic
    p99 and the SLO."""
    hourly = table[table.hour.map(lambda h: isinstance(h, int | np.integer))]
    models = list(dict.fromkeys(hourly.model))
    cols = 2 if len(models) > 1 else 1
    rows = -(-len(models) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 2.8 * rows), squeeze=False)
    for ax, name in zip(axes.flat, models, strict=False):
        mine = hourly[hourly.model == name].sort_values("hour")
        hours = mine.hour.astype(int)
        ax.plot(hours, mine.p99_ms, color="#4c72b0", marker=".", label="simulated p99")
        ax.fill_between(hours, mine.p99_low_ms, mine.p99_high_ms, color="#4c72b0", alpha=0.2)
        ax.plot(hours, mine.predicted_p99_ms, color="#dd8452", ls="--", label="analytic p99")
        ax.axhline(mine.slo_ms.iloc[0], color="#c44e52", lw=1, label="SLO")
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("hour of the day")
        ax.set_ylabel("ms")
        ax.set_xlim(0, 23)
        ax.set_ylim(bottom=0)
    for ax in list(axes.flat)[len(models) :]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    fig.suptitle("Simulated p99 by hour")
    fig.tight_layout()
    return png(fig)


def _verification_section(report: Report, checked, settings) -> None:
    state = "verified" if checked.verified else "NOT verified"
    lines = [
        f"The optimum was simulated hour by hour ({settings.requests:,} requests per model-hour, "
        f"{settings.dispatch} dispatch, {settings.service} service): {state}.",
        *checked.rounds,
    ]
    sim = simulated_rows(checked.simulation)
    worst = checked.worst
    fleet = "day_type" in sim.columns
    if fleet:  # per model and hour, the slowest of its types and day types, all running
        sim = sim[sim.case == sim.case.iloc[0]] if len(sim) else sim
        sim = sim.loc[sim.groupby(["model", "hour"]).p99_ms.idxmax()] if len(sim) else sim
    shown = pd.DataFrame(
        {
            "model": worst.model,
            **({"instance": worst.instance, "day type": worst.day_type} if fleet else {}),
            "worst hour": worst.hour.astype(str),
            "p99 simulated ms": worst.p99_ms,
            "95% interval ms": [
                f"{number(lo)}-{number(hi)}"
                for lo, hi in zip(worst.p99_low_ms, worst.p99_high_ms, strict=True)
            ],
            "p99 analytic ms": worst.predicted_p99_ms,
            "SLO ms": worst.slo_ms,
            "met": worst.met.map({True: "yes", False: "NO"}),
        }
    )
    if len(sim):
        report.images["simulation"] = _simulation_plot(sim)
    body = "".join(f"<p>{html.escape(line)}</p>" for line in lines) + frame_html(shown)
    md = "\n\n".join(md_text(line) for line in lines) + "\n\n" + frame_md(shown)
    report.sections.append(("Verification by simulation", body, md))


def llm_section(report: Report, result) -> None:
    """The LLMs in token terms (TTFT, TPOT, tokens a day, cost per 1M), when there are any."""
    if len(result.llm):
        llm = result.llm.drop(columns=["cost_per_day"])
        report.sections.append(("LLM serving in tokens", frame_html(llm), frame_md(llm)))


def rests_on_section(report: Report, result) -> None:
    """The estimates and unstated defaults an answer rests on, when there are any."""
    rests_on = [f"estimate: {x}" for x in result.estimates] + [
        f"default: {x}" for x in result.defaults
    ]
    if rests_on:
        items = "".join(f"<li>{html.escape(line)}</li>" for line in rests_on)
        md_items = "\n".join(f"- {md_text(line)}" for line in rests_on)
        report.sections.append(
            ("Estimates and defaults the answer rests on", f"<ul>{items}</ul>", md_items)
        )


def checks_sections(report: Report, verified, sweep, tornado, cur: str, swing: float) -> None:
    """The verification by simulation, the price sweep and the tornado, where given."""
    if verified is not None:
        _verification_section(report, *verified)
    if sweep is not None:
        sweep_section(report, sweep, cur)
    if tornado is not None:
        tornado_section(report, tornado, cur, swing)


def sweep_section(report: Report, sweep: pd.DataFrame, cur: str) -> None:
    """A sweep's spread of totals and its deployments, named, with a plot."""
    names = deployment_names(sweep)
    report.images["sweep"] = _sweep_plot(sweep, cur, names)
    shares = sweep.how.str.startswith("certified").mean()
    text = (
        f"{len(sweep):,} scenarios, {sweep.deployment.nunique()} distinct "
        f"deployments, {shares:.1%} certified; total {sweep.total.min():,.2f} to "
        f"{sweep.total.max():,.2f} {cur}/day."
    )
    found = sweep[sweep.deployment >= 0].groupby("deployment").total
    table = pd.DataFrame(
        {
            "deployment": [names[int(d)] for d in found.size().index],
            "scenarios": found.size().to_numpy(),
            f"lowest {cur}/day": found.min().to_numpy(),
            f"highest {cur}/day": found.max().to_numpy(),
        }
    ).sort_values("scenarios", ascending=False)
    report.sections.append(
        (
            "Price sweep",
            f"<p>{html.escape(text)}</p>" + frame_html(table),
            text + "\n\n" + frame_md(table),
        )
    )


def tornado_section(report: Report, tornado: pd.DataFrame, cur: str, swing: float) -> None:
    report.images["tornado"] = _tornado_plot(tornado, cur, swing)
    report.sections.append(
        (f"Tornado: price groups -/+{swing:.0%}", frame_html(tornado), frame_md(tornado))
    )


def prices_section(report: Report, prices, used: set[str]) -> None:
    """Every price the answer pays, with its source and date."""
    table = prices.table
    shown = table[table.name.isin(used)][
        ["name", "value", "unit", "native_value", "native_currency", "as_of", "source"]
    ]
    report.sections.append(("Assumptions: every price used", frame_html(shown), frame_md(shown)))


def baseline_section(report: Report, compared) -> None:
    """The baseline deployment against the recommendation (``analysis.diff.Diff``: a
    deployment's or a fleet's): the change, the limits each breaks, per component and
    per model."""
    cur = compared.currency
    comp = compared.components
    base = float(comp.baseline.iloc[-1])
    change = compared.change_per_day
    lines = [
        f"Recommended against the baseline deployment: {change:+,.2f} {cur}/day"
        + (f" ({change / base:+.1%})." if base else "."),
        *(
            f"The {label} breaks {len(broken)} limit(s): " + "; ".join(broken)
            if broken
            else f"The {label} meets every limit."
            for label, broken in zip(
                ("baseline", "recommendation"), compared.violations, strict=True
            )
        ),
    ]
    table = comp.rename(
        columns={"baseline": f"baseline {cur}/day", "other": f"recommended {cur}/day"}
    )
    models = compared.models.rename(
        columns={
            "change": "what changes",
            "compute_baseline": f"compute baseline {cur}/day",
            "compute_other": f"compute recommended {cur}/day",
            "compute_change": "compute change",
        }
    )
    body = "".join(f"<p>{html.escape(line)}</p>" for line in lines)
    md = "\n\n".join(md_text(line) for line in lines)
    report.sections.append(
        (
            "Baseline vs recommended",
            body + frame_html(table) + frame_html(models),
            md + "\n\n" + frame_md(table) + "\n\n" + frame_md(models),
        )
    )
