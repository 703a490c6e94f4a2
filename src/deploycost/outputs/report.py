"""A readable report: one self-contained HTML file (plots embedded) and a Markdown twin.

Sections: the recommendation, cost by model and component, latency and utilisation
against each limit, the sweep (curve with breakpoints, or the spread of a Monte Carlo run)
when one is given, the verification by simulation (simulated p99 by hour against the
analytic one and the SLO), a tornado of price groups, the cost frontier against the end-to-end
latency limit, and the assumptions (every price used, with its source and date).
"""

from __future__ import annotations

import base64
import html
import io
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from deploycost.analysis.sweep import parameter_columns, scenario_digest  # noqa: E402
from deploycost.cost.model import COMPONENTS, Evaluation  # noqa: E402
from deploycost.errors import DeployCostError  # noqa: E402
from deploycost.files import atomic_write, exclusive, io_error  # noqa: E402
from deploycost.optimize.solve import CHOICE_COLUMNS, SolveResult  # noqa: E402
from deploycost.periods import DAYS_PER_MONTH  # noqa: E402
from deploycost.scenario.schema import Scenario  # noqa: E402
from deploycost.simulate.run import simulated_rows  # noqa: E402

COLORS = dict(
    zip(COMPONENTS, ("#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860"), strict=True)
)


@dataclass
class Report:
    title: str
    sections: list[tuple[str, str, str]] = field(default_factory=list)  # heading, html, md
    images: dict[str, bytes] = field(default_factory=dict)


def _png(fig) -> bytes:
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


# Markdown and inline HTML that a scenario string could smuggle into report.md
_MD_SPECIAL = str.maketrans({c: f"\\{c}" for c in "\\`*_{}[]()#+!|~>"})


def md_text(value) -> str:
    """A scenario string as Markdown text: HTML escaped, Markdown syntax backslashed."""
    return html.escape(str(value)).translate(_MD_SPECIAL)


# columns that hold money: two decimals always (other figures: ``number``)
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


def _frame_html(frame: pd.DataFrame) -> str:
    return _with_money(frame).to_html(
        index=False, border=0, classes="table", float_format=number, escape=True
    )


def _frame_md(frame: pd.DataFrame) -> str:
    frame = _with_money(frame)
    cols = list(frame.columns)
    lines = ["| " + " | ".join(md_text(c) for c in cols) + " |", "|" + "---|" * len(cols)]
    for row in frame.itertuples(index=False):
        cells = [number(v) if isinstance(v, float) else md_text(v) for v in row]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _cost_plot(scn: Scenario, evaluation: Evaluation) -> bytes:
    table = evaluation.breakdown()
    pivot = (
        table.assign(component=table.component.astype(str))
        .pivot_table(index="owner", columns="component", values="per_month", aggfunc="sum")
        .reindex(columns=list(COMPONENTS))
        .fillna(0.0)
    )
    pivot = pivot.loc[pivot.sum(axis=1).sort_values().index]
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(pivot) + 1.5))
    left = np.zeros(len(pivot))
    for component in COMPONENTS:
        values = pivot[component].to_numpy()
        if values.any():
            ax.barh(pivot.index, values, left=left, color=COLORS[component], label=component)
            left += values
    ax.set_xlabel(f"cost ({scn.currency} per month)")
    ax.set_title("Cost by model and component")
    ax.legend(loc="lower right", fontsize=8)
    return _png(fig)


def _latency_plot(scn: Scenario, result: SolveResult) -> bytes:
    models = result.models
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 0.5 * len(models) + 1.8))
    y = np.arange(len(models))
    left.barh(y, models.p99_ms, color="#4c72b0", label="p99")
    left.scatter(models.slo_ms, y, color="#c44e52", marker="|", s=400, label="SLO")
    left.set_yticks(y, models.model)
    left.set_xlabel("p99 latency (ms)")
    left.set_title("p99 latency against each SLO")
    left.legend(fontsize=8, loc="lower right")
    right.barh(y, models.utilisation * 100, color="#55a868")
    right.axvline(
        scn.constraints.utilisation_max * 100, color="#c44e52", linestyle="--", label="ceiling"
    )
    right.set_yticks(y, models.model)
    right.set_xlabel("utilisation at peak (%)")
    right.set_title("Utilisation against the ceiling")
    right.legend(fontsize=8)
    return _png(fig)


def load_sweep_results(path: Path, scn: Scenario) -> pd.DataFrame:
    """The table ``deploycost sweep`` wrote (CSV or Parquet), refused when it is not one or
    when it is the sweep of another scenario (its ``scenario_sha256`` column)."""
    path = Path(path)
    try:
        table = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    except ImportError:
        raise DeployCostError(
            f"{path}: reading Parquet needs pyarrow: pip install 'deploycost[parquet]'"
        ) from None
    except (OSError, ValueError) as exc:
        raise DeployCostError(f"{path}: cannot read the sweep results: {exc}") from None
    needed = {"total", "deployment", "how", "scenario_sha256"}
    if not needed <= set(table.columns):
        missing = ", ".join(sorted(needed - set(table.columns)))
        raise DeployCostError(
            f"{path}: sweep results must have the columns {', '.join(sorted(needed))} "
            f"(missing {missing}); is it the output of deploycost sweep (re-run it if older)?"
        )
    if table.empty:
        raise DeployCostError(f"{path}: sweep results have no rows")
    for column in ("total", "deployment"):
        if not pd.api.types.is_numeric_dtype(table[column]):
            raise DeployCostError(f"{path}: sweep results column {column!r} must hold numbers")
    want = scenario_digest(scn)
    got = set(table.scenario_sha256.astype(str))
    if got != {want}:
        raise DeployCostError(
            f"{path}: these are the sweep results of another scenario (scenario_sha256 "
            f"{sorted(got)[0][:12]}..., this scenario {want[:12]}...); sweep this scenario"
        )
    return table


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
    return _png(fig)


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
    return _png(fig)


def _pareto_plot(table: pd.DataFrame, currency: str) -> bytes:
    fig, ax = plt.subplots(figsize=(8, 4))
    ok = table[table.status != "infeasible"]
    ax.plot(ok.e2e_latency_ms, ok.total_per_day, color="#4c72b0", marker="o", label="optimum")
    front = ok[ok.frontier]
    ax.scatter(
        front.e2e_latency_ms, front.total_per_day, color="#c44e52", zorder=3, s=60, label="frontier"
    )
    ax.set_xlabel("end-to-end p99 limit (ms)")
    ax.set_ylabel(f"optimal cost ({currency} per day)")
    ax.set_title("Pareto frontier: cost against the end-to-end latency limit")
    ax.legend(fontsize=8)
    return _png(fig)


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
    return _png(fig)


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
    body = "".join(f"<p>{html.escape(line)}</p>" for line in lines) + _frame_html(shown)
    md = "\n\n".join(md_text(line) for line in lines) + "\n\n" + _frame_md(shown)
    report.sections.append(("Verification by simulation", body, md))


def _baseline_section(report: Report, compared) -> None:
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
            body + _frame_html(table) + _frame_html(models),
            md + "\n\n" + _frame_md(table) + "\n\n" + _frame_md(models),
        )
    )


def build_report(
    scn: Scenario,
    result: SolveResult,
    sweep: pd.DataFrame | None = None,
    tornado: pd.DataFrame | None = None,
    frontier: pd.DataFrame | None = None,
    swing: float = 0.2,
    verified=None,
    compared=None,
) -> Report:
    """Render a solve result and, when given, a sweep table, a tornado (``sensitivity.
    tornado``, at ``swing``), a cost frontier (``sensitivity.pareto``) and a verification
    by simulation (``(Verified, Settings)`` of ``simulate.verify``) and a comparison with the
    baseline deployment (``analysis.diff.Diff``); nothing here solves or re-costs."""
    if result.deployment is None:
        raise DeployCostError(
            f"nothing to report: the solve ended {result.status.value}: "
            + "; ".join(result.explanation)
        )
    evaluation = result.evaluation
    report = Report(f"deploycost report: {scn.name}")
    cur = scn.currency
    spec = result.deployment
    summary = (
        f"<p>Status <b>{result.status.value}</b> ({html.escape(result.backend)}); "
        f"optimal cost <b>{result.objective_per_day:,.2f} {cur}/day</b>, "
        f"{result.objective_per_day * DAYS_PER_MONTH:,.2f} {cur}/month; fusion "
        f"<b>{html.escape(spec.fusion)}</b>, automation "
        f"<b>{html.escape(str(spec.automation))}</b>.</p>"
    )
    shown = result.models[CHOICE_COLUMNS]
    md_summary = (
        f"Status **{result.status.value}** ({result.backend}); optimal cost "
        f"**{result.objective_per_day:,.2f} {cur}/day**, "
        f"{result.objective_per_day * DAYS_PER_MONTH:,.2f} {cur}/month; fusion "
        f"**{md_text(spec.fusion)}**, automation **{md_text(spec.automation)}**."
    )
    report.sections.append(
        ("Recommendation", summary + _frame_html(shown), md_summary + "\n\n" + _frame_md(shown))
    )
    if len(result.llm):
        llm = result.llm.drop(columns=["cost_per_day"])
        report.sections.append(("LLM serving in tokens", _frame_html(llm), _frame_md(llm)))
    rests_on_section(report, result)
    if compared is not None:
        _baseline_section(report, compared)
    components = result.components.copy()
    report.images["cost"] = _cost_plot(scn, evaluation)
    report.sections.append(
        ("Cost by model and component", _frame_html(components), _frame_md(components))
    )
    report.images["latency"] = _latency_plot(scn, result)
    report.sections.append(("Latency and utilisation against each limit", "", ""))
    checks_sections(report, verified, sweep, tornado, cur, swing)
    feasible = None if frontier is None else frontier[frontier.status != "infeasible"]
    if feasible is not None and feasible.total_per_day.round(6).nunique() <= 1 and len(feasible):
        low, high = feasible.e2e_latency_ms.min(), feasible.e2e_latency_ms.max()
        text = (
            f"The end-to-end latency limit does not bind between {low:,.4g} and {high:,.4g} "
            f"ms: the optimum costs {feasible.total_per_day.iloc[0]:,.2f} {cur}/day at every "
            f"value tried."
        )
        report.sections.append(
            ("Pareto frontier: cost against end-to-end latency", f"<p>{text}</p>", text)
        )
    elif frontier is not None:
        report.images["pareto"] = _pareto_plot(frontier, cur)
        report.sections.append(
            (
                "Pareto frontier: cost against end-to-end latency",
                _frame_html(frontier),
                _frame_md(frontier),
            )
        )
    prices_section(report, evaluation.prices, set(evaluation.ledger().price))
    return report


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
            f"<p>{html.escape(text)}</p>" + _frame_html(table),
            text + "\n\n" + _frame_md(table),
        )
    )


def tornado_section(report: Report, tornado: pd.DataFrame, cur: str, swing: float) -> None:
    report.images["tornado"] = _tornado_plot(tornado, cur, swing)
    report.sections.append(
        (f"Tornado: price groups -/+{swing:.0%}", _frame_html(tornado), _frame_md(tornado))
    )


def prices_section(report: Report, prices, used: set[str]) -> None:
    """Every price the answer pays, with its source and date."""
    table = prices.table
    shown = table[table.name.isin(used)][
        ["name", "value", "unit", "native_value", "native_currency", "as_of", "source"]
    ]
    report.sections.append(("Assumptions: every price used", _frame_html(shown), _frame_md(shown)))


IMAGE_SECTIONS = {
    "Cost by model and component": "cost",
    "Latency and utilisation against each limit": "latency",
    "Price sweep": "sweep",
    "Verification by simulation": "simulation",
    "Instances per pool, type and plan": "fleet",
}
CSS = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222}
table.table{border-collapse:collapse;font-size:13px;margin:1em 0}
table.table td,table.table th{padding:3px 8px;border-bottom:1px solid #ddd;text-align:right}
img{max-width:100%;display:block;margin:1em 0}"""
READY = (
    "window.addEventListener('load',function(){document.querySelectorAll('img')"
    ".forEach(function(i){i.dataset.loaded=i.naturalWidth;});"
    "document.body.dataset.ready='1';});"
)


def _image_for(heading: str) -> str | None:
    if heading in IMAGE_SECTIONS:
        return IMAGE_SECTIONS[heading]
    if heading.startswith("Tornado"):
        return "tornado"
    if heading.startswith("Pareto"):
        return "pareto"
    return None


def render_html(report: Report) -> str:
    parts = [
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(report.title)}</title><style>{CSS}</style>"
        f"<script>{READY}</script></head><body><h1>{html.escape(report.title)}</h1>"
    ]
    for heading, body, _ in report.sections:
        parts.append(f"<h2>{html.escape(heading)}</h2>")
        name = _image_for(heading)
        if name in report.images:
            data = base64.b64encode(report.images[name]).decode("ascii")
            parts.append(
                f"<img id='plot-{name}' alt='{html.escape(heading)}' "
                f"src='data:image/png;base64,{data}'>"
            )
        parts.append(body)
    parts.append("</body></html>")
    return "\n".join(parts)


def render_markdown(report: Report, image_dir: str) -> str:
    parts = [f"# {md_text(report.title)}"]
    for heading, _, body in report.sections:
        parts.append(f"## {heading}")
        name = _image_for(heading)
        if name in report.images:
            parts.append(f"![{heading}]({image_dir}/{name}.png)")
        if body:
            parts.append(body)
    return "\n\n".join(parts) + "\n"


def check_report_path(out: Path, force: bool = False) -> None:
    """Refuse a report path before any work is done: not .html, no folder, or (without
    ``force``) an existing report."""
    out = Path(out)
    if out.suffix != ".html":
        raise DeployCostError(f"--out must end in .html, got {out.name!r}")
    if not out.parent.is_dir():
        raise DeployCostError(f"--out: the folder {out.parent} does not exist")
    existing = [str(t) for t in (out, out.with_suffix(".md")) if t.exists()]
    if existing and not force:
        raise DeployCostError(f"would overwrite {', '.join(existing)}; pass --force")


def write_report(report: Report, out: Path, force: bool = False) -> list[Path]:
    """Write ``out`` (HTML), its Markdown twin and the twin's images, atomically."""
    out = Path(out)
    check_report_path(out, force)
    markdown = out.with_suffix(".md")
    images = out.with_name(out.stem + "_files")
    targets = [out, markdown] + [images / f"{n}.png" for n in report.images]
    existing = [str(t) for t in targets if t.exists()]
    if existing and not force:
        raise DeployCostError(f"would overwrite {', '.join(existing)}; pass --force")
    contents: list[tuple[Path, bytes]] = [
        *[(images / f"{n}.png", data) for n, data in report.images.items()],
        (markdown, render_markdown(report, images.name).encode("utf-8")),
        (out, render_html(report).encode("utf-8")),
    ]
    with exclusive(out, "report"):
        if images.is_symlink():
            raise DeployCostError(f"{images} is a link; remove it or choose another --out")
        try:
            images.mkdir(exist_ok=True)
        except OSError as exc:
            raise io_error(images, exc) from None
        for path, data in contents:  # images first: the HTML appears only when complete
            atomic_write(path, data)
    return targets
