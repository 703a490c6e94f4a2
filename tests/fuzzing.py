"""Mutations of valid scenario files, shared by the fuzz test and benchmarks/fuzz_scenarios.py.

Each mutation either *must* make the file invalid (negative, NaN, infinite, huge or
wrongly typed values, unknown keys, deleted required keys, dangling references) or may
leave it valid (in-range values, deleted optional keys). A case passes when validation
raises ``ScenarioError`` or, for an accepted file, the baseline deployment evaluates to
finite non-negative costs; any other exception is a failure, as is accepting a file a
must-reject mutation produced.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from deploycost.cost.deployments import from_specs
from deploycost.cost.model import evaluate
from deploycost.errors import ScenarioError
from deploycost.scenario.schema import validate_scenario

Path_ = tuple[Any, ...]

# Keys whose string value names something defined elsewhere (cross-references).
REFERENCE_KEYS = {
    "instance",
    "tier",
    "fusion",
    "automation",
    "role",
    "training_role",
    "calibration_instance",
    "checkpoint_precision",
    "precision",
    "compression",
    "catalog",
}
REFERENCE_LISTS = {
    "members",
    "storage_tiers",
    "model_storage_tiers",
    "allowed_instances",
    "allowed_precisions",
}
# Required keys ("replicas" only in a deployment: a fusion layer defaults to none).
REQUIRED_KEYS = {"gb_per_day", "members", "replicas", "throughput_qps", "latency_ms"}
SIGNED_KEYS = {"quality_delta_rel"}  # the only numeric fields that may be negative


def _leaves(node: Any, path: Path_ = ()) -> Iterator[tuple[Path_, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _leaves(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _leaves(value, (*path, i))
    else:
        yield path, node


def _containers(node: Any, path: Path_ = ()) -> Iterator[tuple[Path_, Any]]:
    if isinstance(node, dict | list):
        yield path, node
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, value in items:
            yield from _containers(value, (*path, key))


def _get(node: Any, path: Path_) -> Any:
    for part in path:
        node = node[part]
    return node


def _set(node: Any, path: Path_, value: Any) -> None:
    _get(node, path[:-1])[path[-1]] = value


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _last_key(path: Path_) -> str | None:
    keys = [p for p in path if isinstance(p, str)]
    return keys[-1] if keys else None


@dataclass(frozen=True)
class Case:
    kind: str
    must_reject: bool
    data: Any


def _numeric(raw: dict) -> list[Path_]:
    return [p for p, v in _leaves(raw) if _is_number(v) and _last_key(p) not in SIGNED_KEYS]


def mutate(raw: dict, rng: np.random.Generator) -> Case:
    """One random mutation of ``raw`` (not modified)."""
    data = copy.deepcopy(raw)
    kind = str(
        rng.choice(
            [
                "negative",
                "nan",
                "inf",
                "huge",
                "wrong_type",
                "unknown_key",
                "missing_key",
                "dangling",
                "in_range",
                "drop_optional",
            ]
        )
    )
    numeric = _numeric(data)
    if kind in ("negative", "nan", "inf", "huge") and numeric:
        path = numeric[rng.integers(len(numeric))]
        value = {
            "negative": -abs(_get(data, path)) - 1.0,
            "nan": math.nan,
            "inf": float(rng.choice([math.inf, -math.inf])),
            "huge": 1e300,
        }[kind]
        _set(data, path, value)
        return Case(kind, True, data)
    if kind == "wrong_type":
        leaves = [(p, v) for p, v in _leaves(data) if not isinstance(v, bool) and v is not None]
        path, value = leaves[rng.integers(len(leaves))]
        _set(data, path, "not-a-number" if _is_number(value) else [value])
        return Case(kind, True, data)
    if kind == "unknown_key":
        mappings = [p for p, c in _containers(data) if isinstance(c, dict)]
        path = mappings[rng.integers(len(mappings))]
        _get(data, path)["zzz_unknown"] = 1
        return Case(kind, True, data)
    if kind == "missing_key":
        required = [
            p
            for p, _ in _leaves(data)
            if _last_key(p) in REQUIRED_KEYS
            and not (_last_key(p) == "replicas" and p[0] == "fusion")
        ]
        required += [
            (*p, "name")
            for p, c in _containers(data)
            if isinstance(c, dict) and "name" in c and p and isinstance(p[-1], int)
        ]
        if required:
            path = required[rng.integers(len(required))]
            while path and not isinstance(path[-1], str):
                path = path[:-1]
            del _get(data, path[:-1])[path[-1]]
            return Case(kind, True, data)
    if kind == "dangling":
        refs = [
            p
            for p, v in _leaves(data)
            if isinstance(v, str)
            and (_last_key(p) in REFERENCE_KEYS or _last_key(p) in REFERENCE_LISTS)
        ]
        if refs:
            _set(data, refs[rng.integers(len(refs))], "zz-dangling")
            return Case(kind, True, data)
    if kind == "drop_optional":
        mappings = [(p, c) for p, c in _containers(data) if isinstance(c, dict) and c]
        path, mapping = mappings[rng.integers(len(mappings))]
        key = list(mapping)[rng.integers(len(mapping))]
        del mapping[key]
        return Case(kind, False, data)
    if numeric:
        path = numeric[rng.integers(len(numeric))]
        value = _get(data, path)
        scale = float(rng.choice([0.0, 1e-9, 0.5, 2.0, 10.0, 1e6]))
        _set(data, path, type(value)(value * scale) if isinstance(value, int) else value * scale)
    return Case("in_range", False, data)


@dataclass
class Tally:
    cases: int = 0
    rejected: int = 0
    accepted: int = 0
    failures: list[str] | None = None

    def __post_init__(self) -> None:
        self.failures = []


def check(case: Case, tally: Tally) -> None:
    """Run one case; record a failure instead of raising."""
    tally.cases += 1
    try:
        scn = validate_scenario(case.data)
    except ScenarioError as error:
        tally.rejected += 1
        if not error.problems:
            tally.failures.append(f"{case.kind}: error without problems")
        return
    except Exception as error:  # noqa: BLE001 - any other exception is what we hunt for
        tally.failures.append(f"{case.kind}: {type(error).__name__}: {error}")
        return
    tally.accepted += 1
    if case.must_reject:
        tally.failures.append(f"{case.kind}: invalid file accepted")
        return
    if scn.baseline_deployment is None:
        return
    try:
        costs = evaluate(scn, from_specs(scn, [scn.baseline_deployment])).components()
    except Exception as error:  # noqa: BLE001
        tally.failures.append(f"{case.kind}: evaluate raised {type(error).__name__}: {error}")
        return
    values = costs.to_numpy()
    if not (np.all(np.isfinite(values)) and np.all(values >= 0)):
        tally.failures.append(f"{case.kind}: accepted file gives costs {values.tolist()}")


def seeds(paths: list[Path]) -> list[dict]:
    return [yaml.safe_load(p.read_text(encoding="utf-8")) for p in paths]


def run(bases: list[dict], count: int, seed: int) -> Tally:
    rng = np.random.default_rng(seed)
    tally = Tally()
    for i in range(count):
        check(mutate(bases[i % len(bases)], rng), tally)
    return tally
