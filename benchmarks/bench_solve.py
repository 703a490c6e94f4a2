"""Solve time by problem size and backend, from one run.

    python benchmarks/bench_solve.py [--sizes 10 50 200 1000] [--seed 3]

For each size, a seeded synthetic scenario (``deploycost.scenario.synthetic``; 4 allowed instance
types and 2 precisions per model, 4 pipeline stages, an end-to-end latency limit and a
quality floor) is solved by each backend. Printed per run:

* grid: enumerating and pruning the option grid (numpy), one call;
* formulate: building the MILP matrices from the grid (numpy / scipy.sparse), best of 5;
* solve: the backend itself (for pulp-cbc this includes handing the model to PuLP), the
  backend's own timing, best of 3 up to 200 models;
* end to end: ``python -m deploycost solve FILE --json`` as a fresh process, imports and
  file parsing included;
* pulp objects: building the same model as per-variable PuLP objects
  (``solvers.pulp_cbc.to_pulp``), and the ratio of our formulation time to it.

Machines are shared and noisy: compare ratios within one run, not absolute times.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

from deploycost.cost.model import CostModel
from deploycost.optimize.formulation import build
from deploycost.optimize.solvers import SolverOptions, get_backend
from deploycost.optimize.solvers.pulp_cbc import to_pulp
from deploycost.options.grid import enumerate_options
from deploycost.scenario.schema import validate_scenario
from deploycost.scenario.synthetic import random_scenario

sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import best_of  # noqa: E402


def scenario(models: int, seed: int) -> dict:
    raw = random_scenario(seed, models=models, instances=4, small=False, stages=4)
    raw["constraints"] = {"utilisation_max": 0.8, "e2e_latency_ms": 400.0, "quality_floor": 0.5}
    return raw


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 50, 200, 1000])
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--time-limit", type=float, default=120.0)
    args = parser.parse_args()
    header = (
        f"{'models':>6} {'backend':<12} {'options':>8} {'columns':>8} {'rows':>6} "
        f"{'grid s':>8} {'formul. s':>9} {'solve s':>8} {'formul/solve':>12} "
        f"{'end-to-end s':>12} {'status':<10} {'objective':>12}"
    )
    print(header)
    pulp_lines = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            raw = scenario(size, args.seed)
            path = Path(tmp) / f"synthetic-{size}.yaml"
            path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
            scn = validate_scenario(raw)
            cost = CostModel(scn)
            grid_s, options = best_of(1, lambda cost=cost: enumerate_options(cost))
            formulate_s, form = best_of(5, lambda cost=cost, options=options: build(cost, options))
            pulp_s, _ = best_of(5, lambda form=form: to_pulp(form.milp))
            pulp_lines.append(
                f"{size:>6} models: formulate {formulate_s:.4f} s, per-variable "
                f"PuLP objects {pulp_s:.4f} s; PuLP / ours = "
                f"{pulp_s / formulate_s:.1f}"
            )
            backends = ["scipy-highs", "pulp-cbc"] + (["exhaustive"] if size <= 3 else [])
            for backend in backends:
                opts = SolverOptions(time_limit_s=args.time_limit)
                repeats = 3 if size <= 200 else 1
                runs = [get_backend(backend)(form, opts) for _ in range(repeats)]
                out = min(runs, key=lambda run: run.seconds)
                e2e_s, proc = best_of(
                    1,
                    lambda backend=backend, path=path: subprocess.run(
                        [
                            sys.executable,
                            "-m",
                            "deploycost",
                            "solve",
                            str(path),
                            "--backend",
                            backend,
                            "--json",
                            "--no-runner-ups",
                            "--time-limit",
                            str(args.time_limit),
                        ],
                        capture_output=True,
                        text=True,
                        check=False,
                    ),
                )
                status = out.status.value if proc.returncode in (0, 2, 3) else "error"
                objective = f"{out.objective:,.2f}" if out.objective is not None else "-"
                print(
                    f"{size:>6} {backend:<12} {len(options.table):>8} {len(form.milp.c):>8} "
                    f"{len(form.milp.row_names):>6} {grid_s:>8.3f} {formulate_s:>9.4f} "
                    f"{out.seconds:>8.3f} {formulate_s / out.seconds:>12.1%} {e2e_s:>12.2f} "
                    f"{status:<10} {objective:>12}",
                    flush=True,
                )
    print()
    print("formulation vs per-variable PuLP objects (same model):")
    for line in pulp_lines:
        print("  " + line)


if __name__ == "__main__":
    main()
