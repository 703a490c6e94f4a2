"""Input files are read with bounded time and memory, and numbers as users write them."""

from __future__ import annotations

import os

import pytest
from typer.testing import CliRunner

from deploycost.cli.app import app
from deploycost.errors import ScenarioError
from deploycost.scenario.schema import load_scenario, validate_scenario
from deploycost.scenario.yamlfile import MAX_DEPTH, parse_yaml, read_input

runner = CliRunner()
SMALL = "currency: USD\nmodels:\n  - {name: a, size_gb: 1}\n"


def _file(tmp_path, text: str, name: str = "s.yaml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_an_alias_bomb_is_refused_before_it_expands(tmp_path):
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for k in range(1, 9):
        lines.append(f"a{k}: &a{k} [" + ", ".join([f"*a{k - 1}"] * 9) + "]")
    lines.append("description: [" + ", ".join(["*a8"] * 9) + "]")
    with pytest.raises(ScenarioError, match=r"aliases expand to more than 1,000,000 values"):
        load_scenario(_file(tmp_path, "\n".join(lines)))


def test_many_aliases_are_refused(tmp_path):
    text = "x: &x 1\ny: [" + ", ".join(["*x"] * 101) + "]\n"
    with pytest.raises(ScenarioError, match=r"more than 100 YAML aliases"):
        parse_yaml(text, "s.yaml")


@pytest.mark.parametrize(
    "text",
    [
        "models: " + "[" * 10_000 + "]" * 10_000,  # flow sequence
        "models:\n" + "".join("  " * k + "-\n" for k in range(3_000)),  # block list
        "".join("  " * k + f"k{k}:\n" for k in range(3_000)),  # block mapping
    ],
    ids=["flow", "list", "map"],
)
def test_deep_nesting_is_refused(text):
    with pytest.raises(ScenarioError, match=rf"nesting deeper than {MAX_DEPTH} levels"):
        parse_yaml(text, "s.yaml")


def test_a_huge_integer_is_refused_against_its_field():
    raw = parse_yaml("currency: USD\nmodels:\n  - name: a\n    size_gb: " + "9" * 5_000, "s")
    with pytest.raises(
        ScenarioError,
        match=r"models\[a\]\.size_gb must be a number, got a 5,000-digit integer",
    ):
        validate_scenario(raw)


def test_a_key_given_twice_is_an_error():
    with pytest.raises(ScenarioError, match=r"line 2.*'currency' is given twice.*first at line 1"):
        parse_yaml("currency: USD\ncurrency: CNY\n", "s.yaml")


def test_numbers_as_users_write_them():
    raw = parse_yaml("a: 2e6\nb: 0100\nc: 1:40\nd: 1_000\ne: -.5\nf: 0x1F\ng: .inf\nh: 3\n", "s")
    assert raw == {
        "a": 2e6,
        "b": 100,
        "c": "1:40",
        "d": 1000,
        "e": -0.5,
        "f": 31,
        "g": float("inf"),
        "h": 3,
    }
    assert isinstance(raw["b"], int)
    assert isinstance(raw["a"], float)


def test_only_regular_files_are_read(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)  # no writer: opening it would block
    for path in (fifo, "/dev/zero", tmp_path):
        with pytest.raises(ScenarioError, match=r"cannot read file: (not a regular file|a folder)"):
            read_input(path)


def test_the_size_limit_is_documented_and_overridable(tmp_path, monkeypatch):
    path = _file(tmp_path, SMALL + "description: " + "x" * 5_000 + "\n")
    monkeypatch.setenv("DEPLOYCOST_MAX_INPUT_MB", "0.001")
    with pytest.raises(
        ScenarioError, match=r"over the 0.001 MB input limit .*DEPLOYCOST_MAX_INPUT_MB"
    ):
        load_scenario(path)
    monkeypatch.setenv("DEPLOYCOST_MAX_INPUT_MB", "1")
    assert load_scenario(path).currency == "USD"


def test_text_that_is_not_utf8_is_refused(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_bytes(b"currency: \xff\xfe\n")
    with pytest.raises(ScenarioError, match=r"not UTF-8 text"):
        read_input(path)


def test_the_cli_exits_1_with_one_line_per_problem(tmp_path):
    os.mkfifo(tmp_path / "fifo")
    result = runner.invoke(app, ["validate", str(tmp_path / "fifo")])
    assert result.exit_code == 1
    assert "not a regular file" in result.output
    assert "Traceback" not in result.output


def test_terminal_escapes_in_names_are_shown_escaped(tmp_path):
    path = _file(tmp_path, 'currency: USD\nmodels:\n  - {name: "\\e[31mred", size_gb: -1}\n')
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 1
    assert "\x1b" not in result.output
    assert "\\x1b[31mred" in result.output


def test_non_finite_prices_are_an_error_not_a_nan_total(hand_raw):
    import numpy as np

    from deploycost.cost.deployments import from_specs
    from deploycost.cost.model import evaluate
    from deploycost.cost.prices import build_prices
    from deploycost.errors import DeployCostError
    from deploycost.optimize.solve import solve

    scn = validate_scenario(hand_raw)
    prices = build_prices(scn)
    values = prices.values.copy()
    values[prices.index("instance_hour[box-a]")] = np.inf
    broken = prices.with_values(values)
    with pytest.raises(
        DeployCostError, match=r"compute / m2 / instance_hour\[box-a\] is not a finite"
    ):
        evaluate(scn, from_specs(scn, [scn.baseline_deployment]), broken)
    with pytest.raises(DeployCostError, match=r"prices instance_hour\[box-a\] are not finite"):
        solve(scn, prices=broken)


def test_catalog_row_keys_must_be_printable_names(hand_raw):
    hand_raw["catalog"]["precision"] = [
        {"precision": "", "bytes_per_param": 1, "compute_dtype": "int8", "quality_delta_rel": 0}
    ]
    with pytest.raises(
        ScenarioError, match=r"catalog\.precision\[0\]\.precision must be a name of 1 to 100"
    ):
        validate_scenario(hand_raw)


def _attack(tmp_path, count: int, surfaces: bool = False):
    """``count`` structural attacks (or, with ``surfaces``, attacks on the newer input
    surfaces), each loaded by its reader; the tally."""
    import numpy as np

    from .conftest import ROOT
    from .fuzz_files import BASE, Tally, cases, run, run_surface, special_files, surface_cases

    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(BASE, encoding="utf-8")
    tally = Tally()
    if surfaces:
        for case in surface_cases(np.random.default_rng(11), count, ROOT):
            run_surface(case, tmp_path, scenario, tally)
    else:
        for case in cases(np.random.default_rng(7), count, special_files(tmp_path)):
            run(case, tmp_path, scenario, tally)
    return tally


def test_structural_attacks_end_clean_or_accepted_quick(tmp_path):
    tally = _attack(tmp_path, 60)
    assert tally.failures == []
    assert tally.clean >= 48  # most attacks must be refused, not merely survived


def test_the_newer_surfaces_end_clean_or_accepted_quick(tmp_path):
    tally = _attack(tmp_path, 70, surfaces=True)
    assert tally.failures == []
    assert tally.clean >= 35  # corrupted files are mostly refused, not merely survived


@pytest.mark.slow
def test_the_newer_surfaces_end_clean_or_accepted(tmp_path):
    """Fleet and LLM scenarios, profile results, traces and plan files, 1,400 cases: every
    kind refused cleanly or accepted with finite figures; some of each accepted."""
    tally = _attack(tmp_path, 1400, surfaces=True)
    assert tally.failures == []
    assert tally.tried == 1400
    assert all(accepted > 0 for _, _, accepted in tally.by_kind.values()), tally.by_kind


@pytest.mark.slow
def test_structural_attacks_end_clean_or_accepted(tmp_path):
    tally = _attack(tmp_path, 3000)
    assert tally.failures == []
    assert tally.tried == 3000


def test_work_that_would_not_fit_in_memory_is_refused_first(hand_raw, monkeypatch):
    from deploycost import memory
    from deploycost.errors import DeployCostError
    from deploycost.optimize.solve import solve

    scn = validate_scenario(hand_raw)
    monkeypatch.setattr(memory, "memory_budget_bytes", lambda: 1000.0)
    with pytest.raises(
        DeployCostError,
        match=r"the option grid of 3 units x \d+ precisions x \d+ instance types x \d+ batch "
        r"sizes x 3 replica counts .* needs ~.* GB; the budget is 1e-06 GB",
    ):
        solve(scn)


@pytest.mark.slow
def test_five_thousand_data_sources_solve_without_a_dense_allocation(hand_raw):
    from deploycost.optimize.solve import solve

    hand_raw["data_sources"] = [
        {"name": f"d{k}", "gb_per_day": 1.0, "storage_tiers": ["tier-x", "s3-standard"]}
        for k in range(5000)
    ]
    hand_raw.pop("baseline_deployment")
    result = solve(validate_scenario(hand_raw), runner_ups=False)
    assert result.ok
    assert len(result.plan.deployment.data_tiers) == 5000


@pytest.mark.slow
def test_a_full_disk_while_writing_a_report_is_one_line(tmp_path):
    import yaml

    from .conftest import cli_under_file_limit, hand

    scenario = tmp_path / "s.yaml"
    scenario.write_text(yaml.safe_dump(hand(models__0__latency_slo_ms=20)), encoding="utf-8")
    out = tmp_path / "r.html"
    proc = cli_under_file_limit(["report", str(scenario), "--out", str(out)], 8000)
    assert proc.returncode == 1, proc.stderr
    assert "the file is larger than allowed (file-size limit)" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not out.exists()
    assert [p.name for p in tmp_path.rglob("*.tmp")] == []
