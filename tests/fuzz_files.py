"""Structural attacks on input files, shared by the reliability test and
``benchmarks/fuzz_files.py``: alias bombs, deep nesting, duplicate keys, huge numbers, odd
number spellings, control characters, byte-level corruption, oversized files and special
files, for scenarios and sweep specifications.

A case passes when loading ends within ``DEADLINE_S`` with ``DeployCostError`` (clean) or a
valid object (accepted; an accepted scenario's baseline must then cost a finite,
non-negative amount); a case marked ``must_reject`` that is accepted is silent nonsense;
any other exception or a timeout is a failure.
"""

from __future__ import annotations

import json
import os
import re
import signal
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from deploycost.analysis.sweep_spec import load_spec_file
from deploycost.cost.deployments import from_specs
from deploycost.cost.model import evaluate
from deploycost.errors import DeployCostError
from deploycost.scenario.profile_import import read_result
from deploycost.scenario.schema import load_plan_file, load_scenario
from deploycost.simulate.run import load_trace

DEADLINE_S = 2.0


@dataclass
class Case:
    kind: str
    text: bytes | None  # None: ``special`` names a path that is not a regular file
    must_reject: bool
    spec: bool = False  # a sweep specification (loaded against a valid scenario)
    special: str | None = None


@dataclass
class Tally:
    tried: int = 0
    clean: int = 0
    accepted: int = 0
    failures: list[str] = field(default_factory=list)
    # kind -> [tried, failed, accepted]
    by_kind: dict[str, list[int]] = field(default_factory=dict)

    def add(self, case: Case, outcome: str, detail: str = "") -> None:
        self.tried += 1
        counts = self.by_kind.setdefault(case.kind, [0, 0, 0])
        counts[0] += 1
        if outcome == "clean":
            self.clean += 1
        elif outcome == "accepted":
            self.accepted += 1
            counts[2] += 1
        else:
            counts[1] += 1
            self.failures.append(f"{case.kind}: {outcome}: {detail}"[:300])


class _Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise _Timeout


def _bomb(rng) -> tuple[str, bool]:
    depth, fan = int(rng.integers(2, 10)), int(rng.integers(2, 12))
    lines = ['a0: &a0 ["lol"' + ', "lol"' * (fan - 1) + "]"]
    for k in range(1, depth):
        lines.append(f"a{k}: &a{k} [" + ", ".join([f"*a{k - 1}"] * fan) + "]")
    where = rng.choice(["models", "description", "workload"])
    lines.append(f"{where}: [" + ", ".join([f"*a{depth - 1}"] * fan) + "]")
    expanded = fan ** (depth + 1)
    return "\n".join(lines), expanded > 1_000_000 or depth * fan > 100


def _deep(rng) -> tuple[str, bool]:
    depth = int(rng.integers(50, 20_000))
    style = rng.choice(["flow_list", "flow_map", "block_list", "block_map"])
    if style == "flow_list":
        text = "models: " + "[" * depth + "]" * depth
    elif style == "flow_map":
        text = "models: " + "{a: " * depth + "1" + "}" * depth
    elif style == "block_list":
        depth = min(depth, 3000)
        text = "models:\n" + "".join("  " * k + "-\n" for k in range(depth))
    else:
        depth = min(depth, 3000)
        text = "".join("  " * k + f"k{k}:\n" for k in range(depth))
    return text, True


def _numbers(rng, base: str) -> tuple[str, bool]:
    spelling = rng.choice(
        ["2e6", "0100", "1:40", "0x10", ".inf", "-.inf", ".nan", "1_000", "9" * 5000, "1e999"]
    )
    return base.replace("size_gb: 1", f"size_gb: {spelling}", 1), spelling in (
        ".inf",
        "-.inf",
        ".nan",
        "1:40",
        "9" * 5000,
        "1e999",
    )


def _duplicate(rng, base: str) -> tuple[str, bool]:
    key = rng.choice(["currency: CNY\n", "models: []\n"])  # both already in ``base``
    return key + base, True


def _control(rng, base: str) -> tuple[str, bool]:
    char = rng.choice(["\\e[31m", "\\x07", "\\r", "\\x00", "\\u202e"])
    return base.replace("name: a,", f'name: "a{char}b",', 1), True


def _corrupt(rng, base: bytes) -> bytes:
    data = bytearray(base)
    for _ in range(int(rng.integers(1, 8))):
        i = int(rng.integers(0, len(data)))
        op = rng.integers(0, 3)
        if op == 0:
            data[i] = int(rng.integers(0, 256))
        elif op == 1:
            del data[i]
        else:
            data.insert(i, int(rng.choice(list(b"[]{}:&*!|>-'\"#%@` \n\t,"))))
    return bytes(data)


BASE = (
    "currency: USD\n"
    "workload: {queries_per_day: 2000000, peak_to_mean: 3}\n"
    "models:\n"
    "  - {name: a, size_gb: 1, latency_slo_ms: 100}\n"
    "baseline_deployment:\n"
    "  models:\n"
    "    a: {instance: g6.xlarge, replicas: 2}\n"
)
SPECS = (
    [
        {"mode": "random", "parameters": [{"name": "p", "select": "compute", "distribution": d}]}
        for d in (
            {"kind": "uniform"},
            {"kind": "normal", "mean": 1},
            {"kind": "lognormal"},
            {"kind": "triangular", "low": 1, "high": 1, "mode": 1},
            {"kind": "triangular", "low": 0.5, "high": 1.5, "mode": 3},
            {"kind": "uniform", "low": 2, "high": 1},
            {"kind": "normal", "mean": 1, "sd": 10},
        )
    ]
    + [
        {"mode": "grid", "parameters": [{"name": "p", "select": "compute", "range": r}]}
        for r in (
            {"start": 2, "stop": 1, "step": 0.1},
            {"start": 0, "stop": 1e12, "step": 1e-300},
            {"start": -5, "stop": -1, "step": 1},
        )
    ]
    + [
        {"mode": "grid", "parameters": [{"name": "p", "select": "compute", "values": [-1, 1]}]},
        {
            "mode": "lhs",
            "seed": -1,
            "parameters": [{"name": "p", "select": "compute", "range": {"start": 0.5, "stop": 1}}],
        },
        {
            "mode": "random",
            "samples": 10_000_000,
            "parameters": [
                {"name": p, "select": s, "range": {"start": 0.5, "stop": 1}}
                for p, s in (("a", "compute"), ("b", "storage"), ("c", "labor"))
            ],
        },
    ]
)


def cases(rng: np.random.Generator, count: int, specials: list[str]) -> Iterator[Case]:
    """``count`` cases drawn over the attack kinds (specials: paths of a FIFO etc.), made
    one at a time (a 3,000-deep block file is megabytes)."""
    valid_spec = yaml.safe_dump(
        {"mode": "grid", "parameters": [{"name": "p", "select": "compute", "values": [1, 2]}]}
    )
    for i in range(count):
        kind = [
            "bomb",
            "deep",
            "numbers",
            "duplicate",
            "control",
            "corrupt",
            "spec",
            "spec_corrupt",
            "special",
            "oversize",
        ][i % 10]
        if kind == "bomb":
            text, reject = _bomb(rng)
            yield Case(kind, text.encode(), reject)
        elif kind == "deep":
            text, reject = _deep(rng)
            yield Case(kind, text.encode(), reject)
        elif kind == "numbers":
            text, reject = _numbers(rng, BASE)
            yield Case(kind, text.encode(), reject)
        elif kind == "duplicate":
            text, reject = _duplicate(rng, BASE)
            yield Case(kind, text.encode(), reject)
        elif kind == "control":
            text, reject = _control(rng, BASE)
            yield Case(kind, text.encode(), reject)
        elif kind == "corrupt":
            yield Case(kind, _corrupt(rng, BASE.encode()), False)
        elif kind == "spec":
            spec = SPECS[int(rng.integers(0, len(SPECS)))]
            yield Case(kind, yaml.safe_dump(spec).encode(), True, spec=True)
        elif kind == "spec_corrupt":
            yield Case(kind, _corrupt(rng, valid_spec.encode()), False, spec=True)
        elif kind == "special":
            yield Case(kind, None, True, special=specials[int(rng.integers(0, len(specials)))])
        else:  # a valid file padded past the size limit, only now and then (they are big)
            if i % 1000 == 9:
                pad = b"# " + b"x" * 21_000_000 + b"\n"
                yield Case(kind, BASE.encode() + pad, True)
            else:
                yield Case("corrupt", _corrupt(rng, BASE.encode()), False)


def run(case: Case, workdir: Path, scenario: Path, tally: Tally) -> None:
    """Load one case under a deadline and record the outcome."""
    path = Path(case.special) if case.special else workdir / "case.yaml"
    if case.text is not None:
        path.write_bytes(case.text)

    def load() -> str | None:
        if case.spec:
            load_spec_file(path, load_scenario(scenario))
            return None
        return _scenario_costs(path)

    _judge(case, tally, load)


def _judge(case: Case, tally: Tally, load: Callable[[], str | None]) -> None:
    """Run ``load`` (which names a silent failure, or returns None) under the deadline and
    record the outcome: clean (refused by name), accepted, or a failure."""
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, DEADLINE_S)
    try:
        silent = load()
        if silent:
            tally.add(case, "silent", silent)
        elif case.must_reject:
            tally.add(case, "silent", "accepted a file that must be refused")
        else:
            tally.add(case, "accepted")
    except DeployCostError:
        tally.add(case, "clean")
    except _Timeout:
        tally.add(case, "hang", f"over {DEADLINE_S} s")
    except Exception as exc:  # noqa: BLE001 - every other exception is the finding
        tally.add(case, "traceback", f"{type(exc).__name__}: {exc}")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def special_files(workdir: Path) -> list[str]:
    fifo = workdir / "fifo"
    if not fifo.exists():
        os.mkfifo(fifo)
    folder = workdir / "folder"
    folder.mkdir(exist_ok=True)
    link = workdir / "zero-link"
    if not link.exists():
        link.symlink_to("/dev/zero")
    return [str(fifo), "/dev/zero", "/dev/null", str(folder), str(link)]


# --- the newer surfaces: fleet and LLM scenarios, profile results, traces, plan files ---

# ``key: number`` on its own line or in a flow mapping, before a comment, comma or brace
NUMBER_LINE = re.compile(rb"(\b[A-Za-z_][\w-]*:[ \t]*)(-?\d[\d.eE+_]*)(?=[ \t]*(?:[,}\]#\n]|$))")
NON_FINITE = (".inf", "-.inf", ".nan", "1e999")
PROFILE = json.dumps(
    {
        "backend": "vllm",
        "model_id": "meta-llama/Llama-2-7b-hf",
        "max_concurrency": 32,
        "duration": 80.0,
        "completed": 400,
        "total_input_tokens": 204800,
        "total_output_tokens": 51200,
        "request_throughput": 5.0,
        "output_throughput": 640.0,
        "mean_ttft_ms": 90.0,
        "p99_ttft_ms": 250.0,
        "mean_tpot_ms": 48.0,
        "p99_tpot_ms": 60.0,
    }
)
TRACE = "timestamp_s\n" + "".join(f"{0.25 * i:.2f}\n" for i in range(200))


def _in_comment(text: bytes, at: int) -> bool:
    """Position ``at`` sits after a ``#`` on its line (a comment: no value to change)."""
    return b"#" in text[text.rfind(b"\n", 0, at) + 1 : at]


def _number(rng, base: bytes) -> tuple[bytes, bool]:
    """One ``key: number`` of ``base`` given an odd spelling; the non-finite ones must be
    refused (no field of the schema takes them)."""
    lines = [m for m in NUMBER_LINE.finditer(base) if not _in_comment(base, m.start())]
    hit = lines[int(rng.integers(0, len(lines)))]
    spelling = str(rng.choice(["2e6", "0100", "1:40", "0x10", *NON_FINITE, "-1", "0", "9" * 400]))
    text = base[: hit.start(2)] + spelling.encode() + base[hit.end(2) :]
    return text, spelling in NON_FINITE


def surface_cases(rng: np.random.Generator, count: int, root: Path) -> Iterator[Case]:
    """``count`` cases over the newer surfaces in turn: the shipped fleet and LLM problems
    corrupted or with an odd number, a vLLM profile result and a request trace corrupted,
    a plan file corrupted or with an odd number (``run_surface`` loads each through its
    own reader)."""
    fleet = (root / "problems" / "fleet" / "ecommerce_fleet.yaml").read_bytes()
    llm = (root / "problems" / "ecommerce_genai.yaml").read_bytes()
    plan = yaml.safe_dump(
        {"models": {"a": {"instance": "g6.xlarge", "replicas": 2, "precision": "fp16"}}}
    ).encode()
    for i in range(count):
        kind = ["fleet", "fleet_number", "llm", "llm_number", "profile", "trace", "plan"][i % 7]
        if kind == "fleet":
            yield Case(kind, _corrupt(rng, fleet), False)
        elif kind == "fleet_number":
            yield Case(kind, *_number(rng, fleet))
        elif kind == "llm":
            yield Case(kind, _corrupt(rng, llm), False)
        elif kind == "llm_number":
            yield Case(kind, *_number(rng, llm))
        elif kind == "profile":
            yield Case(kind, _corrupt(rng, PROFILE.encode()), False)
        elif kind == "trace":
            yield Case(kind, _corrupt(rng, TRACE.encode()), False)
        elif (i // 7) % 2:
            yield Case(kind, _corrupt(rng, plan), False)
        else:  # a tiny file seldom survives corruption: every other one, an odd number
            yield Case(kind, *_number(rng, plan))


def _finite_costs(scn, spec=None) -> bool:
    """The deployment ``spec`` (by default the scenario's baseline, if it has one) costs a
    finite, non-negative amount."""
    spec = scn.baseline_deployment if spec is None else spec
    if spec is None:
        return True
    total = evaluate(scn, from_specs(scn, [spec])).total_per_day
    return bool(np.all(np.isfinite(total)) and np.all(total >= 0))


def _scenario_costs(path: Path) -> str | None:
    """Load the scenario at ``path``; a silent failure when its baseline's cost is not
    finite and non-negative."""
    return None if _finite_costs(load_scenario(path)) else "a non-finite or negative cost"


def _load_surface(case: Case, path: Path, scenario: Path) -> str | None:
    """Load ``path`` as ``case.kind`` says; a string names a silent failure."""
    if case.kind.startswith(("fleet", "llm")):
        return _scenario_costs(path)
    if case.kind == "profile":
        got = read_result(path)
        figures = [got.output_tokens_per_s, got.output_tokens]
        return None if all(np.isfinite(figures)) and min(figures) > 0 else f"read {got}"
    if case.kind == "trace":
        t = load_trace(path)
        return None if np.all((t >= 0) & (t < 86_400)) and np.all(np.diff(t) >= 0) else "trace"
    scn = load_scenario(scenario)
    spec = load_plan_file(scn, path)
    if isinstance(spec, dict):
        return None
    return None if _finite_costs(scn, spec) else "plan cost"


def run_surface(case: Case, workdir: Path, scenario: Path, tally: Tally) -> None:
    """Load one newer-surface case under the deadline and record the outcome."""
    suffix = {"profile": ".json", "trace": ".csv"}.get(case.kind, ".yaml")
    path = workdir / f"case{suffix}"
    path.write_bytes(case.text)
    _judge(case, tally, lambda: _load_surface(case, path, scenario))
