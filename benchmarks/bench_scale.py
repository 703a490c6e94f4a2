"""Growth with the catalog and with the number of models, against an earlier revision.

    python benchmarks/bench_scale.py [--types 30 130 330 1000] [--grid-models 200]
                                     [--e2e-models 1000 5000] [--baseline REV] [--repeats 2]

* grid: a synthetic scenario of ``--grid-models`` models, every one allowed on every
  instance type of a catalog grown to ``--types`` types (the shipped us-east-1 rows plus
  copies at perturbed prices), validated, costed and its option grid enumerated in a fresh
  process: wall seconds and the process's peak resident memory;
* end to end: ``python -m deploycost solve FILE --json --no-runner-ups`` on a synthetic
  scenario of ``--e2e-models`` models, as a fresh process (imports, YAML, grid, MILP,
  audit, output).

With ``--baseline REV`` the same runs are made, in the same invocation, on a ``git
worktree`` of REV (e.g. the commit before a change), and the ratio baseline / current is
printed. Each child process is capped at ``--memory-cap-gb`` of address space, so a run that
would exhaust the machine ends with ``MemoryError`` instead. Machines are shared and noisy:
read the ratios, each cell is the best of ``--repeats``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from importlib import import_module
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _synthetic(models: int, seed: int, types: int | None) -> dict:
    try:
        from deploycost.scenario.synthetic import random_scenario
    except ImportError:  # revisions before the pipeline packages
        random_scenario = import_module("deploycost.synthetic").random_scenario
    raw = random_scenario(seed, models=models, instances=4, small=True, stages=4)
    raw["constraints"] = {"utilisation_max": 0.8}
    if types is None:  # end to end: SLOs loose enough that every model can be served
        for model in raw["models"]:
            model["latency_slo_ms"] = max(model["latency_slo_ms"], 150.0)
        return raw
    import pandas as pd

    shipped = pd.read_csv(ROOT / "src" / "deploycost" / "catalog" / "hardware.csv")
    shipped = shipped[shipped.region == "us-east-1"].reset_index(drop=True)
    rows = []
    for k in range(max(0, types - len(shipped))):
        base = shipped.iloc[k % len(shipped)]
        row = {
            "name": f"syn{k}.{base['name']}",
            "compute_class": base.compute_class,
            "accelerator": base.accelerator,
            "accel_count": int(base.accel_count),
            "vcpus": int(base.vcpus),
            "memory_gib": float(base.memory_gib),
            "currency": "USD",
            "price_on_demand_per_hour": round(
                float(base.price_on_demand_per_hour) * (1.01 + k % 97 / 100), 4
            ),
        }
        if base.accel_mem_gb == base.accel_mem_gb:  # not NaN
            row["accel_mem_gb"] = float(base.accel_mem_gb)
        rows.append(row)
    raw["catalog"] = {"regions": ["us-east-1"], "hardware": rows}
    for model in raw["models"]:
        model.pop("allowed_instances", None)
    return raw


def child_grid(models: int, types: int, seed: int) -> dict:
    """In a fresh process: validate, cost and enumerate the grid; seconds and peak RSS."""
    try:
        from deploycost.cost.model import CostModel
        from deploycost.options.grid import enumerate_options
        from deploycost.scenario.schema import validate_scenario
    except ImportError:  # revisions before the pipeline packages
        CostModel = import_module("deploycost.costmodel").CostModel  # noqa: N806
        enumerate_options = import_module("deploycost.options").enumerate_options
        validate_scenario = import_module("deploycost.scenario").validate_scenario
    raw = _synthetic(models, seed, types)
    start = time.perf_counter()
    try:
        scn = validate_scenario(raw)
        cost = CostModel(scn)
        options = enumerate_options(cost)
        result = {"seconds": time.perf_counter() - start, "options": len(options.table)}
        result["instance_types"] = len(cost.space.instances)
    except MemoryError as exc:
        result = {"error": f"MemoryError {str(exc)[:60]}"}
    result["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def _run_child(src: Path, args: list[str], cap_gb: float) -> dict:
    env = dict(os.environ, PYTHONPATH=str(src))

    def cap() -> None:
        limit = int(cap_gb * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    proc = subprocess.run(
        [sys.executable, __file__, "--child", *args],
        capture_output=True,
        text=True,
        env=env,
        preexec_fn=cap,
        check=False,
    )
    if proc.returncode != 0:
        return {"error": (proc.stderr.strip().splitlines() or ["killed"])[-1][:80]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _e2e(src: Path, path: Path, cap_gb: float) -> dict:
    env = dict(os.environ, PYTHONPATH=str(src))

    def cap() -> None:
        limit = int(cap_gb * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "deploycost", "solve", str(path), "--json", "--no-runner-ups"],
        capture_output=True,
        text=True,
        env=env,
        preexec_fn=cap,
        check=False,
    )
    seconds = time.perf_counter() - start
    if proc.returncode not in (0, 2):
        return {"error": (proc.stderr.strip().splitlines() or ["killed"])[-1][:80]}
    status = json.loads(proc.stdout)["status"]
    return {"seconds": seconds, "status": status}


def _best(runs: list[dict]) -> dict:
    ok = [r for r in runs if "error" not in r]
    return min(ok, key=lambda r: r["seconds"]) if ok else runs[-1]


def _cell(result: dict, key: str, fmt: str) -> str:
    return format(result[key], fmt) if key in result else "-"


def _ratio(base: dict | None, mine: dict, key: str) -> str:
    if base is None or key not in base or key not in mine:
        return "-"
    return f"{base[key] / mine[key]:.2f}x"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--types", type=int, nargs="+", default=[30, 130, 330, 1000])
    parser.add_argument("--grid-models", type=int, default=200)
    parser.add_argument("--e2e-models", type=int, nargs="+", default=[1000, 5000])
    parser.add_argument("--baseline", help="git revision to compare against, in the same run")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--memory-cap-gb", type=float, default=12.0)
    parser.add_argument("--child", nargs=3, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child_grid(*args.child)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        trees = {"current": ROOT / "src"}
        if args.baseline:
            worktree = Path(tmp) / "baseline"
            subprocess.run(
                ["git", "worktree", "add", "--detach", str(worktree), args.baseline],
                cwd=ROOT,
                check=True,
                capture_output=True,
            )
            trees = {"baseline": worktree / "src", **trees}
        try:
            _report(args, trees, Path(tmp))
        finally:
            if args.baseline:
                subprocess.run(
                    ["git", "worktree", "remove", "--force", str(Path(tmp) / "baseline")],
                    cwd=ROOT,
                    check=False,
                )


def _report(args, trees: dict[str, Path], tmp: Path) -> None:
    print(f"grid: {args.grid_models} models x instance types (best of {args.repeats})")
    print(
        f"{'types':>6} {'tree':<9} {'options':>9} {'grid s':>8} {'peak MB':>9} "
        f"{'time ratio':>10} {'memory ratio':>12}"
    )
    for types in args.types:
        results = {}
        for name, src in trees.items():
            runs = [
                _run_child(
                    src, [str(args.grid_models), str(types), str(args.seed)], args.memory_cap_gb
                )
                for _ in range(args.repeats)
            ]
            results[name] = _best(runs)
        base = results.get("baseline")
        for name, r in results.items():
            mine = results["current"]
            print(
                f"{types:>6} {name:<9} {_cell(r, 'options', ','):>9} "
                f"{_cell(r, 'seconds', '.2f'):>8} "
                f"{_cell(r, 'peak_mb', ',.0f'):>9} "
                f"{_ratio(base, mine, 'seconds') if name == 'current' else '':>10} "
                f"{_ratio(base, mine, 'peak_mb') if name == 'current' else '':>12} "
                f"{r.get('error', '')}",
                flush=True,
            )
    print()
    print(f"end to end: python -m deploycost solve (fresh process, best of {args.repeats})")
    print(f"{'models':>6} {'tree':<9} {'status':<10} {'seconds':>8} {'time ratio':>10}")
    import yaml

    for models in args.e2e_models:
        path = tmp / f"synthetic-{models}.yaml"
        path.write_text(yaml.safe_dump(_synthetic(models, args.seed, None), sort_keys=False))
        results = {
            name: _best([_e2e(src, path, args.memory_cap_gb) for _ in range(args.repeats)])
            for name, src in trees.items()
        }
        base = results.get("baseline")
        for name, r in results.items():
            print(
                f"{models:>6} {name:<9} {r.get('status', r.get('error', '-')):<10} "
                f"{_cell(r, 'seconds', '.2f'):>8} "
                f"{_ratio(base, results['current'], 'seconds') if name == 'current' else '':>10}"
                f" {r.get('error', '')}",
                flush=True,
            )


if __name__ == "__main__":
    main()
