"""Sweep throughput: 10,000 random price scenarios on a 20-model scenario.

    python benchmarks/bench_sweep.py [--samples 10000] [--models 20] [--naive 20]

Prints, from one run: wall time of the certified sweep, its number of MILP solves and
certified share; the time of naive per-scenario solves on a random subset of the same
scenarios (``--naive`` of them), extrapolated to all of them, and the ratio. A sample of the
certified answers is checked against those naive solves (mismatches printed).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from deploycost.analysis.sweep import run_sweep
from deploycost.analysis.sweep_spec import load_spec, price_matrix, scenario_points
from deploycost.cost.prices import build_prices
from deploycost.optimize.solve import solve
from deploycost.scenario.schema import validate_scenario
from deploycost.scenario.synthetic import random_scenario


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--samples", type=int, default=10_000)
    parser.add_argument("--models", type=int, default=20)
    parser.add_argument("--naive", type=int, default=20)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    raw = random_scenario(args.seed, models=args.models, instances=4, small=False, stages=4)
    raw["constraints"] = {"utilisation_max": 0.8, "e2e_latency_ms": 400.0, "quality_floor": 0.5}
    scn = validate_scenario(raw)
    spec, params = load_spec(
        {
            "mode": "random",
            "samples": args.samples,
            "seed": 1,
            "parameters": [
                {
                    "name": "gpu",
                    "select": "instance_hour[g*]",
                    "distribution": {"kind": "uniform", "low": 0.5, "high": 1.5},
                },
                {
                    "name": "h100",
                    "select": "instance_hour[p5*]",
                    "distribution": {"kind": "uniform", "low": 0.5, "high": 1.5},
                },
                {
                    "name": "cpu",
                    "select": "instance_hour[c7i*]",
                    "distribution": {"kind": "uniform", "low": 0.5, "high": 1.5},
                },
            ],
        },
        scn,
    )
    start = time.perf_counter()
    result = run_sweep(scn, spec, params)
    sweep_s = time.perf_counter() - start
    table = result.table
    print(
        f"sweep: {len(table):,} scenarios on {args.models} models in {sweep_s:.2f} s; "
        f"{result.solves} MILP solves; {result.certified_share:.2%} certified; "
        f"{len(result.decisions)} distinct deployments"
    )

    theta, _ = scenario_points(spec, params)
    base = build_prices(scn)
    rng = np.random.default_rng(0)
    subset = rng.choice(len(theta), size=args.naive, replace=False)
    start = time.perf_counter()
    naive = []
    for i in subset:
        prices = price_matrix(base.values, params, theta[i : i + 1])[0]
        naive.append(
            solve(scn, runner_ups=False, prices=base.with_values(prices)).objective_per_day
        )
    naive_s = time.perf_counter() - start
    per_scenario = naive_s / args.naive
    mismatches = int(
        np.sum(~np.isclose(np.array(naive), table.total.to_numpy()[subset], rtol=1e-6))
    )
    print(
        f"naive: {args.naive} per-scenario solves in {naive_s:.2f} s "
        f"({per_scenario * 1000:.0f} ms each) -> {per_scenario * len(table):,.0f} s for "
        f"all {len(table):,}"
    )
    print(
        f"speed-up of the certified sweep over naive re-solving: "
        f"{per_scenario * len(table) / sweep_s:,.0f}x; "
        f"{mismatches} mismatches on the {args.naive} scenarios solved both ways"
    )


if __name__ == "__main__":
    main()
