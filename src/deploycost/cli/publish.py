"""``deploycost export`` and ``deploycost report``: the optimum written as files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from deploycost.cli.common import (
    DEFAULT_BACKEND,
    BackendOption,
    ScenarioArgument,
    _friendly,
    _progress,
    _scenario,
    err,
    out,
)
from deploycost.cli.solving import (
    _optimum,
    _stop_unless_found,
)
from deploycost.errors import ScenarioError
from deploycost.optimize.result import DeploymentPlan


@_friendly
def export_command(
    scenario: ScenarioArgument = None,
    out_dir: Annotated[
        Path, typer.Option("--out", help="Folder for recommended.yaml/.json and k8s/")
    ] = Path("deploycost-out"),
    force: Annotated[bool, typer.Option(help="Overwrite existing files")] = False,
    backend: BackendOption = DEFAULT_BACKEND,
    verify: Annotated[
        bool,
        typer.Option(
            "--verify/--no-verify", help="Simulate the optimum and re-solve until it holds"
        ),
    ] = True,
    image: Annotated[
        list[str] | None,
        typer.Option(
            help="MODEL=IMAGE, a model's container image (repeat for each; overrides "
            "models[].image)"
        ),
    ] = None,
    template: Annotated[
        bool,
        typer.Option(help="Write placeholder images for models without one, to fill in"),
    ] = False,
) -> None:
    """Solve (and verify by simulation), then write the recommended configuration and
    Kubernetes manifests. Every deployed model needs a container image (models[].image or
    --image) unless --template asks for placeholders."""
    backend = str(backend)  # the choice as the plain name the solvers take
    from deploycost.outputs.export import write_export
    from deploycost.outputs.k8s import check_images

    scn = _scenario(scenario)
    images = _image_map(scn, image or [])
    check_images(scn, sorted(images), images)  # the references, before any solving
    result, verified = _optimum(scn, backend, verify)
    verification = None
    if verified is not None:
        checked, settings = verified
        verification = checked.document(settings)
        for line in checked.rounds:
            err.print(f"verify: {line}", markup=False, highlight=False)
    _stop_unless_found(result, scn)
    for path in write_export(scn, result, out_dir, force, verification, images, template):
        out.print(str(path), markup=False, highlight=False)


def _image_map(scn, given: list[str]) -> dict[str, str]:
    """``--image MODEL=IMAGE`` options as a mapping; an error naming a malformed option or a
    model the scenario does not have."""
    names = [m.name for m in scn.models]
    images, problems = {}, []
    for text in given:
        model, sep, ref = text.partition("=")
        if not sep or not ref:
            problems.append(f"--image must be MODEL=IMAGE, got {text[:80]!r}")
        elif model not in names:
            problems.append(
                f"--image must name a model of the scenario ({', '.join(names)}), got {model!r}"
            )
        else:
            images[model] = ref
    if problems:
        raise ScenarioError(problems, "export")
    return images


@_friendly
def report_command(
    scenario: ScenarioArgument = None,
    sweep: Annotated[
        Path | None, typer.Option(help="Results of deploycost sweep (.csv or .parquet)")
    ] = None,
    out_path: Annotated[
        Path, typer.Option("--out", help="report.html; the Markdown twin goes beside it")
    ] = Path("report.html"),
    swing: Annotated[float, typer.Option(help="Tornado: price groups -/+ this fraction")] = 0.2,
    force: Annotated[bool, typer.Option(help="Overwrite existing files")] = False,
    backend: BackendOption = DEFAULT_BACKEND,
    verify: Annotated[
        bool,
        typer.Option(
            "--verify/--no-verify", help="Simulate the optimum (and re-solve until it holds)"
        ),
    ] = True,
) -> None:
    """Solve (and verify by simulation), then write an HTML report with plots and its
    Markdown twin."""
    backend = str(backend)  # the choice as the plain name the solvers take
    from deploycost.analysis.sensitivity import pareto, tornado
    from deploycost.outputs.report import (
        build_report,
        check_report_path,
        load_sweep_results,
        write_report,
    )

    if not 0 < swing < 1:
        raise ScenarioError([f"--swing must be in (0, 1), got {swing}"], "report")
    check_report_path(out_path, force)
    scn = _scenario(scenario)
    table = None if sweep is None else load_sweep_results(sweep, scn)
    result, verified = _optimum(scn, backend, verify)
    _stop_unless_found(result, scn)
    frontier = compared = None
    if isinstance(result.plan, DeploymentPlan):  # a fleet: no frontier, a fleet solve a point
        with _progress("sensitivity for the report (tornado, cost frontier)"):
            torn = tornado(scn, swing, backend)
            frontier = pareto(scn, "e2e_latency_ms", backend=backend)
    else:
        with _progress("sensitivity for the report (tornado)"):
            torn = tornado(scn, swing, backend)
    if scn.baseline_deployment is not None:
        from deploycost.analysis.diff import diff_result

        compared = diff_result(scn, scn.baseline_deployment, result)
    with _progress("drawing the report"):
        report = build_report(scn, result, table, torn, frontier, swing, verified, compared)
    for path in write_report(report, out_path, force):
        out.print(str(path), markup=False, highlight=False)
