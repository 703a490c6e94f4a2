"""``deploycost profile import``: measured LLM results into ``llm.profiles`` rows, with the
fit of the model's estimate to them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
import yaml
from pydantic import ValidationError

from deploycost.cli.common import _friendly, _scenario, _table, out
from deploycost.cost.model import CostModel
from deploycost.errors import ScenarioError
from deploycost.options.llm_performance import calibrate
from deploycost.options.performance import hardware_axes
from deploycost.scenario.architecture import architecture_of
from deploycost.scenario.models import TokenProfile
from deploycost.scenario.profile_import import read_result

profile_app = typer.Typer(no_args_is_help=True, help="Measured LLM serving profiles.")


@profile_app.command(name="import")
@_friendly
def import_command(
    files: Annotated[list[Path], typer.Argument(help="vLLM benchmark JSON or MLPerf summary")],
    model: Annotated[str, typer.Option(help="The LLM model (in --scenario) measured")],
    instance: Annotated[str, typer.Option(help="The instance type it ran on")],
    precision: Annotated[str, typer.Option(help="Weights precision of the run")] = "fp16",
    tensor_parallel: Annotated[int, typer.Option(help="Accelerators per engine")] = 1,
    concurrency: Annotated[
        float | None, typer.Option(help="Sequences in flight per engine (else read or derived)")
    ] = None,
    input_tokens: Annotated[
        float | None, typer.Option(help="Mean input tokens (MLPerf summaries have none)")
    ] = None,
    accelerators: Annotated[
        int | None,
        typer.Option(help="Accelerators of the measured system (MLPerf; default: the instance's)"),
    ] = None,
    scenario: Annotated[Path | None, typer.Option(help="Scenario with the model")] = None,
) -> None:
    """Read measured results into token profiles (YAML for models[].llm.profiles) and report
    how the model's estimate fits them."""
    scn = _scenario(scenario)
    count = _check_options(scn, model, instance, precision, tensor_parallel)
    _check_numbers(concurrency=concurrency, input_tokens=input_tokens, accelerators=accelerators)
    engines = (accelerators or count) // tensor_parallel
    if engines < 1:
        raise ScenarioError(
            [
                f"--accelerators must be at least --tensor-parallel ({tensor_parallel}), got "
                f"{accelerators}"
            ],
            "profile import",
        )
    given = {"concurrency": concurrency, "input_tokens": input_tokens}
    rows = [
        _profile(read_result(path), path, engines, given, (instance, precision, tensor_parallel))
        for path in files
    ]
    # YAML to paste: never wrapped
    out.print(f"# models[{model}].llm.profiles:", markup=False, highlight=False, soft_wrap=True)
    out.print(
        yaml.safe_dump([r.model_dump(exclude_none=True) for r in rows], sort_keys=False),
        markup=False,
        highlight=False,
        end="",
        soft_wrap=True,
    )
    _report_fit(scn, model, rows)


def _check_options(scn, model: str, instance: str, precision: str, tensor_parallel: int) -> int:
    """The names and the tensor-parallel degree checked against the scenario; the
    accelerators of ``instance`` (0 for a CPU type)."""
    names = [m.name for m in scn.models if m.is_llm]
    if model not in names:
        raise ScenarioError(
            [
                f"--model must name an LLM model of {scn.name} "
                f"({', '.join(names) or 'none'}), got {model!r}"
            ],
            "profile import",
        )
    hardware = scn.resolved_catalog.hardware
    if instance not in hardware.index:
        raise ScenarioError(
            [f"--instance must name a catalog instance, got {instance!r}"], "profile import"
        )
    if precision not in scn.resolved_catalog.precision.index:
        raise ScenarioError(
            [f"--precision must name a catalog precision, got {precision!r}"], "profile import"
        )
    count = (
        int(hardware.at[instance, "accel_count"])
        if hardware.at[instance, "compute_class"] != "cpu"
        else 0
    )
    if tensor_parallel not in (1, 2, 4, 8) or tensor_parallel > count:
        raise ScenarioError(
            [
                f"--tensor-parallel must be 1, 2, 4 or 8 and <= the {count} accelerators of "
                f"{instance}, got {tensor_parallel}"
            ],
            "profile import",
        )
    return count


# the physical range of each number option (the profile's own bounds)
RANGES = {"concurrency": (1, 65536), "input_tokens": (1, 10_000_000), "accelerators": (1, 1024)}


def _check_numbers(**given: float | None) -> None:
    problems = [
        f"--{name.replace('_', '-')} must be a number from {low:g} to {high:g}, got {value:g}"
        for name, value in given.items()
        if value is not None
        for low, high in [RANGES[name]]
        if not low <= value <= high  # NaN fails too
    ]
    if problems:
        raise ScenarioError(problems, "profile import")


def _profile(measured, path: Path, engines: int, given: dict, where: tuple) -> TokenProfile:
    """One result file as a profile row of one engine: an MLPerf summary's figures are the
    system's, divided over its engines; an option given overrides what the file states."""
    instance, precision, tensor_parallel = where
    share = engines if measured.format == "mlperf" else 1
    seqs = given["concurrency"]
    if seqs is None and measured.concurrency is not None:
        seqs = measured.concurrency / share
    tokens_in = given["input_tokens"] or measured.input_tokens
    problems = []
    if seqs is None:
        problems.append(f"--concurrency is required: {path} does not state the sequences in flight")
    elif seqs < 1:
        problems.append(
            f"{path}: {seqs:.3g} sequences in flight per engine ({engines} engines): at least "
            f"one is needed; pass --concurrency or --accelerators"
        )
    if tokens_in is None:
        problems.append(f"--input-tokens is required: {path} carries no input lengths")
    if problems:
        raise ScenarioError(problems, "profile import")
    try:
        return TokenProfile(
            instance=instance,
            precision=precision,
            tensor_parallel=tensor_parallel,
            concurrency=round(seqs),
            input_tokens=round(float(tokens_in), 3),
            output_tokens=round(float(measured.output_tokens), 3),
            output_tokens_per_s=round(measured.output_tokens_per_s / share, 6),
            tpot_ms=measured.tpot_ms,
            ttft_ms=measured.ttft_ms,
            source=f"{path.name} ({measured.format})",
        )
    except ValidationError as exc:
        raise ScenarioError(
            [
                f"{path}: {'.'.join(map(str, e['loc']))} {e['msg'].lower()}, got "
                f"{str(e.get('input'))[:40]}"
                for e in exc.errors()
            ],
            "profile import",
        ) from None


def _report_fit(scn, model: str, rows: list[TokenProfile]) -> None:
    """The estimate at each measured point, the calibration factor over all of them (with
    the model's profiles of the same group) and the residual."""
    cost = CostModel(scn)
    spec = scn.model(model)
    group = [
        p
        for p in spec.llm.profiles
        if (p.instance, p.precision, p.tensor_parallel)
        == (rows[0].instance, rows[0].precision, rows[0].tensor_parallel)
    ] + rows
    ax = hardware_axes(cost)
    h = cost.space.instances.index(rows[0].instance)
    c = cost.space.precisions.index(rows[0].precision)
    arch = architecture_of(spec, scn.resolved_catalog)
    fit = calibrate(cost, ax, arch, h, c, rows[0].tensor_parallel, group)
    single = [calibrate(cost, ax, arch, h, c, rows[0].tensor_parallel, [p]) for p in group]
    table = pd.DataFrame(
        {
            "source": [p.source for p in group],
            "sequences": [p.concurrency for p in group],
            "tokens in/out": [f"{p.input_tokens:g}/{p.output_tokens:g}" for p in group],
            "measured tok/s": [p.output_tokens_per_s for p in group],
            "estimate tok/s": [
                p.output_tokens_per_s * s.time_scale for p, s in zip(group, single, strict=True)
            ],
            "calibrated tok/s": [
                p.output_tokens_per_s * s.time_scale / fit.time_scale
                for p, s in zip(group, single, strict=True)
            ],
        }
    )
    out.print(
        _table(
            table,
            f"fit of {model}'s estimate on {rows[0].instance} {rows[0].precision} "
            f"TP {rows[0].tensor_parallel}",
        )
    )
    out.print(
        f"calibration: engine time x {fit.time_scale:.4g} (estimate / measured throughput), "
        f"TPOT x {fit.tpot_scale:.4g}, TTFT x {fit.ttft_scale:.4g}; fit residual "
        f"{fit.residual:.2%} over {fit.points} point(s)",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
