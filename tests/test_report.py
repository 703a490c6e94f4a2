"""The report: sections and plots, and what headless Chromium actually renders."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import matplotlib.image as mpimg
import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from deploycost.analysis.sweep import run_sweep
from deploycost.analysis.sweep_spec import load_spec
from deploycost.cli.app import app
from deploycost.errors import DeployCostError
from deploycost.optimize.solve import solve
from deploycost.scenario.schema import validate_scenario

from .conftest import hand, line_sweep

runner = CliRunner()
HEADINGS = [
    "Recommendation",
    "Cost by model and component",
    "Latency and utilisation against each limit",
    "Verification by simulation",
    "Price sweep",
    "Tornado: price groups -/+20%",
    "Pareto frontier: cost against end-to-end latency",
    "Assumptions: every price used",
]
PLOTS = ["cost", "latency", "simulation", "sweep", "tornado", "pareto"]


@pytest.fixture(scope="module")
def report_files(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("report")
    raw = hand(models__0__latency_slo_ms=20)
    scn = validate_scenario(raw)
    spec, params = load_spec(
        line_sweep("fast", "instance_hour[fast]", 0.5, 2.0, 11),
        scn,
    )
    run_sweep(scn, spec, params).table.to_csv(tmp / "sweep.csv", index=False)
    (tmp / "s.yaml").write_text(yaml.safe_dump(raw), encoding="utf-8")
    out = tmp / "report.html"
    result = runner.invoke(
        app, ["report", str(tmp / "s.yaml"), "--sweep", str(tmp / "sweep.csv"), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    return out


def test_html_is_self_contained_with_every_section(report_files):
    text = report_files.read_text(encoding="utf-8")
    for heading in HEADINGS:
        assert f"<h2>{heading}</h2>" in text
    for name in PLOTS:
        assert re.search(rf"id='plot-{name}'[^>]*src='data:image/png;base64,", text)
    assert "src='http" not in text
    assert 'src="http' not in text


def test_markdown_twin_points_at_real_images(report_files):
    md = report_files.with_suffix(".md").read_text(encoding="utf-8")
    for heading in HEADINGS:
        assert f"## {heading}" in md
    folder = report_files.with_name("report_files")
    assert len(list(folder.glob("*.png"))) == len(PLOTS)  # no image of an earlier report
    for name in PLOTS:
        (png,) = folder.glob(f"{name}-*.png")
        assert f"(report_files/{png.name})" in md
        image = mpimg.imread(png)
        assert image.std() > 0.05  # not a blank image


def _chromium() -> str | None:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None and os.environ.get("CI"):
        pytest.fail("CI must install Debian's chromium (.ci/run does)")
    if found is None:
        pytest.skip("chromium is not installed here (.ci/run installs it)")
    return found


FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--virtual-time-budget=5000",
]


def test_chromium_renders_headings_and_plots(report_files, tmp_path):
    chromium = _chromium()
    url = report_files.as_uri()
    common = [chromium, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run(
        [*common, "--dump-dom", url], capture_output=True, text=True, timeout=120, check=True
    ).stdout
    assert 'data-ready="1"' in dom
    loaded = re.findall(r"data-loaded=\"(\d+)\"", dom)
    assert len(loaded) == len(PLOTS)
    assert all(int(width) > 100 for width in loaded)  # every plot decoded with a real width
    for heading in HEADINGS:
        assert f"<h2>{heading}</h2>" in dom
    shot = tmp_path / "shot.png"
    subprocess.run(
        [*common, "--window-size=1200,2400", f"--screenshot={shot}", url],
        capture_output=True,
        timeout=120,
        check=True,
    )
    pixels = mpimg.imread(shot)[..., :3]
    assert pixels.shape[0] >= 2000
    assert pixels.std() > 0.1  # text and plots, not a blank page
    colored = np.abs(pixels[..., 0] - pixels[..., 2]) > 0.2  # the plots' red/blue bars
    assert colored.mean() > 0.01


def test_report_refuses_bad_inputs(tmp_path):
    raw = hand()
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(raw), encoding="utf-8")
    bad_out = runner.invoke(
        app, ["report", str(tmp_path / "s.yaml"), "--out", str(tmp_path / "r.pdf")]
    )
    assert bad_out.exit_code == 1
    assert "--out must end in .html" in bad_out.output
    pd.DataFrame({"x": [1]}).to_csv(tmp_path / "bad.csv", index=False)
    bad_sweep = runner.invoke(
        app,
        [
            "report",
            str(tmp_path / "s.yaml"),
            "--sweep",
            str(tmp_path / "bad.csv"),
            "--out",
            str(tmp_path / "r.html"),
        ],
    )
    assert bad_sweep.exit_code == 1
    assert "is it the output of deploycost sweep" in bad_sweep.output
    assert not (tmp_path / "r.html").exists()
    head = "total,deployment,how,scenario_sha256\n"
    for rows, message in (
        (head, "sweep results have no rows"),
        (head + "abc,0,solved,x\n", "column 'total' must hold numbers"),
        (head + "1.0,0,solved,0123abcd\n", "these are the sweep results of another scenario"),
    ):
        (tmp_path / "bad.csv").write_text(rows, encoding="utf-8")
        args = ["report", str(tmp_path / "s.yaml"), "--sweep", str(tmp_path / "bad.csv")]
        result = runner.invoke(app, [*args, "--out", str(tmp_path / "r.html")])
        assert result.exit_code == 1
        assert message in result.output
        assert "Traceback" not in result.output
    assert solve(validate_scenario(raw), runner_ups=False).ok


def test_money_reads_with_separators_never_in_scientific_notation():
    from deploycost.outputs.sections import number

    assert number(94_500.0) == "94,500.00"
    assert number(1_234_567.891) == "1,234,567.89"
    assert number(12.3456) == "12.35"
    assert number(0.0) == "0"


def test_markdown_twin_escapes_scenario_strings(tmp_path):
    """A scenario named with HTML and Markdown (a script tag, an onerror attribute, a link)
    reaches report.md as text: nothing a Markdown renderer would run or link."""
    from deploycost.outputs.report import build_report, render_markdown

    raw = hand()
    raw["name"] = "<script>alert(1)</script><img src=x onerror=alert(2)> [x](javascript:y)"
    scn = validate_scenario(raw)
    text = render_markdown(build_report(scn, solve(scn, runner_ups=False)), "files")
    assert "<script>" not in text
    assert "<img" not in text
    assert "](javascript" not in text
    assert "&lt;script&gt;" in text
    assert not re.search(r"\d\.\d+e[+-]\d", text)  # no scientific notation anywhere


def test_report_reads_a_parquet_sweep_of_its_scenario_names_its_deployments_and_refuses_another(
    tmp_path,
):
    """A sweep written as Parquet is read back; the sweep section names each deployment by
    what differs from the most frequent one; the same results under another scenario are
    refused by their scenario_sha256; a latency limit that never binds is one sentence."""
    from deploycost.analysis.sweep import run_sweep, scenario_digest
    from deploycost.analysis.sweep_spec import load_spec
    from deploycost.analysis.sweep_store import write_table
    from deploycost.outputs.report import build_report, load_sweep_results, render_markdown

    scn = validate_scenario(hand())
    spec, params = load_spec(line_sweep("fast", "instance_hour[fast]", 0.5, 2.0, 7), scn)
    result = run_sweep(scn, spec, params)
    path = tmp_path / "sweep.parquet"
    write_table(result.table, path, spec.chunk_rows)
    table = load_sweep_results(path, scn)
    assert set(table.scenario_sha256) == {scenario_digest(scn)}
    report = build_report(scn, solve(scn, runner_ups=False), table)
    text = render_markdown(report, "img")
    section = text.split("## Price sweep")[1].split("\n## ")[0]
    # fast (3 replicas at 144 USD/day x price) until 4/3 x, then 10 x cheap (240 USD/day)
    names = table.groupby("deployment").first()["model:m"]
    assert set(names) == {
        "3 x fast fp32 batch 1, s3-standard none",
        "10 x cheap fp32 batch 1, s3-standard none",
    }
    assert (
        "| most frequent: m 10 x cheap fp32 batch 1, s3-standard none; automation manual | 4 |"
        in section
    )
    assert "| m 3 x fast fp32 batch 1, s3-standard none | 3 | 108.00 | 216.00 |" in section
    other = validate_scenario(hand(name="another"))
    with pytest.raises(DeployCostError, match="the sweep results of another scenario"):
        load_sweep_results(path, other)
