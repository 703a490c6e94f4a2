"""Input surfaces and writes that must end in one clean line, never a traceback or a silent
value: environment variables, simulation options and traces, numbers at the edge of the
scenario schema, the output lock, file modes, an interrupted export, a failing standard
output."""

from __future__ import annotations

import copy
import os
import resource
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from deploycost.cli.app import app
from deploycost.errors import DeployCostError, ScenarioError
from deploycost.files import atomic_write, exclusive
from deploycost.optimize.solve import solve
from deploycost.optimize.solvers import solve_workers
from deploycost.outputs.export import write_export
from deploycost.scenario.schema import load_scenario, validate_scenario

from .conftest import ROOT, hand

runner = CliRunner()
SEED = ROOT / "problems" / "seed_example.yaml"


@pytest.mark.parametrize("value", ["²", "9" * 5000, "0", "-1", "1.5", "٣"])
def test_a_solve_threads_setting_that_is_not_a_small_ascii_number_names_the_variable(
    value, monkeypatch
):
    monkeypatch.setenv("DEPLOYCOST_SOLVE_THREADS", value)
    with pytest.raises(DeployCostError, match="DEPLOYCOST_SOLVE_THREADS must be a whole") as e:
        solve_workers()
    assert len(str(e.value)) < 200  # the value is shown cut, not 5,000 digits


@pytest.mark.parametrize(
    ("option", "value", "says"),
    [
        ("--seed", "-1", "seed must be a whole number from 0"),
        ("--cv", "1e308", "cv must be a number from 0 to 10"),
        ("--cv", "nan", "cv must be a number from 0 to 10"),
        ("--requests", "10000000", "requests must be from 1,000 to 2,000,000"),
    ],
)
def test_simulation_options_outside_their_range_are_refused(option, value, says):
    out = runner.invoke(app, ["simulate", str(SEED), option, value])
    assert out.exit_code == 1, out.output
    assert says in out.output
    assert "Traceback" not in out.output


def test_a_trace_that_is_no_csv_of_one_day_is_refused(tmp_path):
    packed = tmp_path / "t.zip"
    with zipfile.ZipFile(packed, "w") as archive:
        archive.writestr("t.csv", "timestamp_s\n1\n2\n")
    late = tmp_path / "late.csv"
    late.write_text("timestamp_s\n1\n172800\n")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for path, says in (
        (packed, "not UTF-8"),
        (late, "timestamps must lie within one day"),
        (fifo, "not a regular file"),
    ):
        out = runner.invoke(app, ["simulate", str(SEED), "--trace", str(path)])
        assert out.exit_code == 1, out.output
        assert says in out.output


def _llm_raw() -> dict:
    return yaml.safe_load((ROOT / "problems" / "ecommerce_genai.yaml").read_text())


def _tokens(raw: dict) -> dict:
    return next(m for m in raw["models"] if "llm" in m)["llm"]["input_tokens"]


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (lambda d: d["workload"].update(queries_per_day=5e-324), "queries_per_day must be >= 1"),
        (
            lambda d: d.setdefault("constraints", {}).update(utilisation_max=5e-324),
            "utilisation_max must be >= 0.01",
        ),
        (lambda d: _tokens(d).update(mean=5e-324), "input_tokens.mean must be >= 1"),
        (lambda d: _tokens(d).update(mean=600, p99=500), "p99 (500) must be at least the mean"),
        (lambda d: _tokens(d).update(p50=300, p90=200), "p50 (300) must not exceed p90 (200)"),
        (
            lambda d: d["workload"].update(
                day_types=[{"name": "normal", "days": 365, "peak_qps": 5e-324}]
            ),
            "peak_qps must be >= 1e-06",
        ),
    ],
)
def test_numbers_at_the_edge_of_the_schema_are_refused_by_name(change, says):
    raw = _llm_raw()
    change(raw)
    with pytest.raises(ScenarioError, match=says.replace("(", r"\(").replace(")", r"\)")):
        validate_scenario(raw)


def test_a_refused_run_leaves_the_lock_of_the_run_that_holds_it(tmp_path):
    target = tmp_path / "out"
    lock = tmp_path / ".out.lock"
    with exclusive(target, "export"):
        for _ in range(2):  # the second refusal proves the first did not remove the lock
            with pytest.raises(DeployCostError, match="another deploycost export"):
                with exclusive(target, "export"):
                    pass
            assert lock.exists()
    assert not lock.exists()  # the holder removes it when done
    with exclusive(target, "export"):
        pass


@pytest.mark.parametrize(("mask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_files_are_written_with_the_user_s_umask(tmp_path, mask, mode):
    old = os.umask(mask)
    try:
        atomic_write(tmp_path / "f.txt", "x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "f.txt").stat().st_mode) == mode


def test_an_export_killed_between_its_renames_is_recovered_by_the_next(tmp_path):
    """A run killed after moving the earlier export aside (``.out.old-*``) and before putting
    the new one in place (``.out.new-*``): the next run puts the earlier one back, replaces
    it with --force, and leaves no hidden folder; files and folders follow the umask."""
    scn = validate_scenario(hand())
    result = solve(scn, runner_ups=False).raise_for_status()
    out = tmp_path / "out"
    write_export(scn, result, out)
    os.replace(out, tmp_path / ".out.old-abc")
    (tmp_path / ".out.new-def").mkdir()
    (tmp_path / ".out.new-def" / "recommended.yaml").write_text("half")
    with pytest.raises(DeployCostError, match="pass --force"):  # the earlier one is back
        write_export(scn, result, out)
    assert (out / "recommended.yaml").exists()
    write_export(scn, result, out, force=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    assert stat.S_IMODE(out.stat().st_mode) == 0o777 & ~_umask()
    assert stat.S_IMODE((out / "recommended.yaml").stat().st_mode) == 0o666 & ~_umask()


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@pytest.mark.slow  # a whole report
def test_report_makes_its_folder(tmp_path):
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(hand()), encoding="utf-8")
    target = tmp_path / "new" / "sub" / "r.html"
    out = runner.invoke(app, ["report", str(tmp_path / "s.yaml"), "--out", str(target)])
    assert out.exit_code == 0, out.output
    assert target.exists()
    assert target.with_suffix(".md").exists()
    (tmp_path / "file").write_text("")
    blocked = runner.invoke(
        app, ["report", str(tmp_path / "s.yaml"), "--out", str(tmp_path / "file" / "r.html")]
    )
    assert blocked.exit_code == 1
    assert "is a file, not a folder" in blocked.output


def _python(code: str) -> str:
    """What ``code`` prints in a Python process of its own (which must succeed)."""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _limited(limit_bytes: int):
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))

    return apply


@pytest.mark.slow  # a process of its own under a file-size limit
@pytest.mark.parametrize("as_json", [True, False])
def test_standard_output_that_cannot_be_written_is_one_line_and_exit_1(tmp_path, as_json):
    """Standard output to a file under a 2 KB file-size limit: one error line and exit 1,
    never exit 0 over a truncated file, never a traceback."""
    problem = ROOT / "problems" / "ecommerce_search_rec.yaml"
    args = [sys.executable, "-m", "deploycost", "solve", str(problem), "--no-runner-ups"]
    with open(tmp_path / "out.txt", "wb") as sink:
        done = subprocess.run(
            args + (["--json"] if as_json else []),
            stdout=sink,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=_limited(2048),
            timeout=300,
        )
    assert done.returncode == 1, done.stderr
    assert "cannot write standard output: the file is larger than allowed" in done.stderr
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_the_shipped_problems_stay_inside_the_new_bounds():
    for path in sorted((ROOT / "problems").rglob("*.yaml")):
        if "sweeps" not in path.parts:
            load_scenario(path)
    raw = copy.deepcopy(_llm_raw())
    assert validate_scenario(raw).name == raw["name"]


@pytest.mark.slow  # three whole reports
def test_a_report_killed_mid_write_keeps_every_image_its_markdown_shows(tmp_path, monkeypatch):
    """A second report of another scenario, killed after its images and before its
    Markdown: the earlier Markdown still shows only images that exist; a finished run
    leaves only its own images."""
    import re

    import deploycost.outputs.report as report

    first, second = tmp_path / "a.yaml", tmp_path / "b.yaml"
    first.write_text(yaml.safe_dump(hand()), encoding="utf-8")
    second.write_text(yaml.safe_dump(hand(models__0__latency_slo_ms=20)), encoding="utf-8")
    out = tmp_path / "r.html"
    assert runner.invoke(app, ["report", str(first), "--out", str(out)]).exit_code == 0
    before = out.with_suffix(".md").read_text()
    written = report.atomic_write

    def killed(path, data):
        if Path(path).suffix == ".md":
            raise KeyboardInterrupt
        written(path, data)

    monkeypatch.setattr(report, "atomic_write", killed)
    runner.invoke(app, ["report", str(second), "--out", str(out), "--force"])
    monkeypatch.setattr(report, "atomic_write", written)
    assert out.with_suffix(".md").read_text() == before
    folder = tmp_path / "r_files"
    for shown in re.findall(r"\(r_files/([^)]+)\)", before):
        assert (folder / shown).exists(), shown
    assert runner.invoke(app, ["report", str(second), "--out", str(out), "--force"]).exit_code == 0
    shown = set(re.findall(r"\(r_files/([^)]+)\)", out.with_suffix(".md").read_text()))
    assert {p.name for p in folder.glob("*.png")} == shown


def test_the_memory_budget_respects_an_address_space_limit():
    """Under ``ulimit -v`` 3 GB the budget is at most half of it, so work that would not fit
    is refused by name instead of ending in a MemoryError."""
    printed = _python(
        "import resource; resource.setrlimit(resource.RLIMIT_AS, (3 * 2**30, "
        "resource.getrlimit(resource.RLIMIT_AS)[1])); "
        "from deploycost.memory import memory_budget_bytes; print(memory_budget_bytes())"
    )
    assert float(printed) <= 1.5 * 2**30


def test_every_deployment_runs_restricted(tmp_path):
    """Single-type and fleet manifests alike: no root, no privilege escalation, no
    capabilities, the runtime's seccomp profile, a read-only root file system with a
    writable /tmp, no service-account token, and resources on every container."""
    from .fleet_cases import box, fleet_scenario, model

    fleet = fleet_scenario([model("a", {"b": 100.0})], [box("b", on_demand=1.0)], 150.0)
    for n, raw in enumerate((hand(), fleet)):
        scn = validate_scenario(raw)
        write_export(scn, solve(scn, runner_ups=False).raise_for_status(), tmp_path / f"o{n}")
        deployments = [
            doc
            for path in (tmp_path / f"o{n}" / "k8s").rglob("*.yaml")
            for doc in yaml.safe_load_all(path.read_text())
            if doc["kind"] == "Deployment"
        ]
        assert deployments
        for doc in deployments:
            pod = doc["spec"]["template"]["spec"]
            assert pod["securityContext"]["runAsNonRoot"] is True
            assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
            assert pod["automountServiceAccountToken"] is False
            for container in pod["containers"]:
                context = container["securityContext"]
                assert context["allowPrivilegeEscalation"] is False
                assert context["readOnlyRootFilesystem"] is True
                assert context["capabilities"] == {"drop": ["ALL"]}
                assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]
                assert container["resources"]["requests"]
                assert container["resources"]["limits"]


def test_version_answers_without_loading_the_command_line():
    """``deploycost --version`` prints the version without importing pandas, SciPy or the
    command line (the answer costs a few hundredths of a second, not the ~1 s they take)."""
    printed = _python(
        "import sys; sys.argv = ['deploycost', '--version']; "
        "from deploycost.cli.entry import main; main(); "
        "print(sorted(m for m in ('pandas', 'scipy', 'numpy', 'typer') if m in sys.modules))"
    )
    from deploycost.version import __version__

    assert printed.splitlines() == [f"deploycost {__version__}", "[]"]


def test_export_needs_an_image_for_every_model_or_a_template(tmp_path):
    """No placeholder image unless asked: the error names the models without one and the
    two ways to give it; --image fills them (and is checked before any solve)."""
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(hand()), encoding="utf-8")
    base = ["export", str(tmp_path / "s.yaml"), "--no-verify", "--out"]
    refused = runner.invoke(app, [*base, str(tmp_path / "a")])
    assert refused.exit_code == 1
    assert "no container image for m" in refused.output
    assert "--image m=REGISTRY/m:TAG" in refused.output
    assert not (tmp_path / "a").exists()
    given = runner.invoke(app, [*base, str(tmp_path / "b"), "--image", "m=registry.example/m:1.2"])
    assert given.exit_code == 0, given.output
    assert "image: registry.example/m:1.2" in (tmp_path / "b" / "k8s" / "m.yaml").read_text()
    for bad, says in (("x=registry/x:1", "must name a model"), ("m", "must be MODEL=IMAGE")):
        out = runner.invoke(app, [*base, str(tmp_path / "c"), "--image", bad])
        assert out.exit_code == 1
        assert says in out.output
    template = runner.invoke(app, [*base, str(tmp_path / "d"), "--template"])
    assert template.exit_code == 0, template.output
    assert "REPLACE-ME.example/m:latest" in (tmp_path / "d" / "k8s" / "m.yaml").read_text()


def _export_set(out: Path) -> float:
    """The objective a complete export at ``out`` states (its YAML and JSON agree on it and
    on the manifests listed); fails on a missing or mixed set."""
    import json

    doc = yaml.safe_load((out / "recommended.yaml").read_text())
    twin = json.loads((out / "recommended.json").read_text())
    assert doc["solver"]["objective_per_day"] == twin["solver"]["objective_per_day"]
    assert sorted(p.name for p in (out / "k8s").iterdir()) == ["m.yaml"]
    return float(doc["solver"]["objective_per_day"])


@pytest.mark.slow  # export processes killed with SIGKILL
def test_an_export_killed_at_any_moment_leaves_the_old_set_or_the_new(tmp_path):
    """``export --force`` of another answer, killed (SIGKILL) at spread moments of its run:
    ``--out`` always holds one complete set, the earlier or the new one, and the next run
    leaves nothing hidden beside it."""
    import signal
    import time

    old, new = tmp_path / "old.yaml", tmp_path / "new.yaml"
    old.write_text(yaml.safe_dump(hand(models__0__latency_slo_ms=20)), encoding="utf-8")
    new.write_text(yaml.safe_dump(hand()), encoding="utf-8")
    out = tmp_path / "out"

    def export(scenario: Path) -> subprocess.Popen:
        args = [sys.executable, "-m", "deploycost", "export", str(scenario), "--out", str(out)]
        return subprocess.Popen(
            [*args, "--force", "--no-verify", "--template"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    start = time.perf_counter()
    assert export(new).wait(timeout=300) == 0
    whole = time.perf_counter() - start
    new_total = _export_set(out)
    assert export(old).wait(timeout=300) == 0
    old_total = _export_set(out)
    assert old_total < new_total  # 2 fast replicas against 3
    seen = set()
    for fraction in (0.5, 0.8, 0.9, 0.95, 1.0, 1.1):
        proc = export(new)
        time.sleep(whole * fraction)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        total = _export_set(out)
        assert total in (old_total, new_total)
        seen.add(total)
        assert export(old).wait(timeout=300) == 0  # the next run recovers and goes on
        assert _export_set(out) == old_total
        assert sorted(p.name for p in tmp_path.iterdir()) == ["new.yaml", "old.yaml", "out"]
    assert old_total in seen  # some kills came before the swap
