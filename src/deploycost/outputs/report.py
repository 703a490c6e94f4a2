"""A readable report: one self-contained HTML file (plots embedded) and a Markdown twin.

Sections: the recommendation, cost by model and component, latency and utilisation
against each limit, the sweep (curve with breakpoints, or the spread of a Monte Carlo run)
when one is given, the verification by simulation (simulated p99 by hour against the
analytic one and the SLO), a tornado of price groups, the cost frontier against the end-to-end
latency limit, and the assumptions (every price used, with its source and date).
"""

from __future__ import annotations

import base64
import hashlib
import html
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from deploycost.analysis.sweep import scenario_digest  # noqa: E402
from deploycost.cost.model import COMPONENTS, Evaluation  # noqa: E402
from deploycost.errors import DeployCostError  # noqa: E402
from deploycost.files import atomic_write, exclusive, io_error  # noqa: E402
from deploycost.optimize.result import FleetPlan, SolveResult  # noqa: E402
from deploycost.optimize.solve import CHOICE_COLUMNS  # noqa: E402
from deploycost.outputs.sections import (  # noqa: E402
    COLORS,
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
from deploycost.periods import DAYS_PER_MONTH  # noqa: E402
from deploycost.scenario.schema import Scenario  # noqa: E402

# Markdown and inline HTML that a scenario string could smuggle into report.md


# columns that hold money: two decimals always (other figures: ``number``)


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
    return png(fig)


def _latency_plot(scn: Scenario, models: pd.DataFrame) -> bytes:
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
    return png(fig)


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
    return png(fig)


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
    baseline deployment (``analysis.diff.Diff``); nothing here solves or re-costs. A fleet's
    report is ``outputs.fleet_report.build_fleet_report``'s (no frontier)."""
    if result.plan is None:
        raise DeployCostError(
            f"nothing to report: the solve ended {result.status.value}: "
            + "; ".join(result.explanation)
        )
    if isinstance(result.plan, FleetPlan):
        from deploycost.outputs.fleet_report import build_fleet_report

        return build_fleet_report(scn, result, sweep, tornado, swing, verified, compared)
    evaluation = result.plan.evaluation
    report = Report(f"deploycost report: {scn.name}")
    cur = scn.currency
    spec = result.plan.deployment
    summary = (
        f"<p>Status <b>{result.status.value}</b> ({html.escape(result.backend)}); "
        f"optimal cost <b>{result.objective_per_day:,.2f} {cur}/day</b>, "
        f"{result.objective_per_day * DAYS_PER_MONTH:,.2f} {cur}/month; fusion "
        f"<b>{html.escape(spec.fusion)}</b>, automation "
        f"<b>{html.escape(str(spec.automation))}</b>.</p>"
    )
    shown = result.plan.models[CHOICE_COLUMNS]
    md_summary = (
        f"Status **{result.status.value}** ({result.backend}); optimal cost "
        f"**{result.objective_per_day:,.2f} {cur}/day**, "
        f"{result.objective_per_day * DAYS_PER_MONTH:,.2f} {cur}/month; fusion "
        f"**{md_text(spec.fusion)}**, automation **{md_text(spec.automation)}**."
    )
    report.sections.append(
        ("Recommendation", summary + frame_html(shown), md_summary + "\n\n" + frame_md(shown))
    )
    llm_section(report, result)
    rests_on_section(report, result)
    if compared is not None:
        baseline_section(report, compared)
    components = result.components.copy()
    report.images["cost"] = _cost_plot(scn, evaluation)
    report.sections.append(
        ("Cost by model and component", frame_html(components), frame_md(components))
    )
    report.images["latency"] = _latency_plot(scn, result.plan.models)
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
                frame_html(frontier),
                frame_md(frontier),
            )
        )
    prices_section(report, evaluation.prices, set(evaluation.ledger().price))
    return report


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
            parts.append(f"![{heading}]({image_dir}/{image_file(name, report.images[name])})")
        if body:
            parts.append(body)
    return "\n\n".join(parts) + "\n"


def check_report_path(out: Path, force: bool = False) -> None:
    """Refuse a report path before any work is done: not .html, a folder in the way that
    is a file, or (without ``force``) an existing report. A missing folder is made when
    the report is written."""
    out = Path(out)
    if out.suffix != ".html":
        raise DeployCostError(f"--out must end in .html, got {out.name!r}")
    folder = next((p for p in [out.parent, *out.parent.parents] if p.exists()), None)
    if folder is not None and not folder.is_dir():
        raise DeployCostError(f"--out: {folder} is a file, not a folder")
    existing = [str(t) for t in (out, out.with_suffix(".md")) if t.exists()]
    if existing and not force:
        raise DeployCostError(f"would overwrite {', '.join(existing)}; pass --force")


def image_file(name: str, data: bytes) -> str:
    """A plot's file name with a digest of its bytes: a new report's images never replace
    the ones the earlier report's Markdown shows until the new Markdown is in place."""
    return f"{name}-{hashlib.sha256(data).hexdigest()[:12]}.png"


def write_report(report: Report, out: Path, force: bool = False) -> list[Path]:
    """Write ``out`` (HTML, self-contained), its Markdown twin and the twin's images: each
    file atomically, the images first under names of their own (``image_file``), then the
    Markdown and the HTML; the earlier report's images are removed last. A run killed at
    any point leaves each document whole with every image it shows."""
    out = Path(out)
    check_report_path(out, force)
    markdown = out.with_suffix(".md")
    images = out.with_name(out.stem + "_files")
    pictures = {images / image_file(n, data): data for n, data in report.images.items()}
    targets = [out, markdown, *pictures]
    contents: list[tuple[Path, bytes]] = [
        *pictures.items(),
        (markdown, render_markdown(report, images.name).encode("utf-8")),
        (out, render_html(report).encode("utf-8")),
    ]
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise io_error(out.parent, exc) from None
    with exclusive(out, "report"):
        if out.exists() and not force:  # made meanwhile by another run
            raise DeployCostError(f"would overwrite {out}; pass --force")
        if images.is_symlink():
            raise DeployCostError(f"{images} is a link; remove it or choose another --out")
        try:
            images.mkdir(exist_ok=True)
        except OSError as exc:
            raise io_error(images, exc) from None
        for path, data in contents:
            atomic_write(path, data)
        for stale in images.glob("*.png"):  # the earlier report's, now shown by nothing
            if stale not in pictures and not stale.is_symlink():
                stale.unlink(missing_ok=True)
    return targets
