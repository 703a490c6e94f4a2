"""Fleet optimiser benchmarks: scale, and a Mélange-style GPU-mix peer instance.

    python benchmarks/bench_fleet.py [--models 10 50 200] [--melange 10 20] [--repeats 2]
                                     [--time-limit 300] [--whole]

* scale: ``random_fleet_scenario`` (every us-east-1 instance type, pools of five models,
  three purchase plans, 24 h x two day types with autoscaling, a cap of two types per
  model) at each ``--models``, in a fresh process: seconds for the capacity search and
  artifacts (grid), the MILP build, the HiGHS solve, end to end, the build's share of the
  solve, the gap, how it was solved (``blocks``: pool by pool, a binding quality floor
  raised pool by pool by ``optimize.frontier``; ``whole``: another coupling row binds,
  one MILP) and the process's peak resident memory; each size twice, with the generated
  quality floor (which ties the pools together) and without it;
* Mélange-style peer: N x N request-size buckets (input x output tokens) sharing one pool
  of four GPU types, each bucket a model with a capacity per GPU (requests/s at the SLO),
  solved (a) as a deploycost scenario by our formulation and HiGHS, and (b) as Mélange
  writes it, variable by variable in PuLP, solved by CBC: each bucket's load cut into 8
  slices, each slice assigned to one GPU type (binary), min sum_h price_h n_h with
  sum_{b, s} lambda_b / 8 / cap_bh x_bsh <= n_h; in the same run: seconds, cost, ratio
  (ours end to end, with the cost model and capacity search, and from the capacities on,
  which is what the PuLP side is given).
  Capacities and loads are synthetic (below); GPU prices are the shipped catalog's
  on-demand prices of g6.xlarge (L4), g5.xlarge (A10G), and one eighth of p4d.24xlarge
  (A100) and p5.48xlarge (H100).

Machines are shared and noisy: read the ratios; each cell is the best of ``--repeats``.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import numpy as np

# synthetic serving figures per GPU, for the peer instance only: prefill and decode
# tokens/s of one GPU at its SLO batch, and the time per output token of one request
GPUS = {
    "L4": {"row": ("g6.xlarge", 1), "prefill": 4_000, "decode": 600, "tpot_s": 0.040},
    "A10G": {"row": ("g5.xlarge", 1), "prefill": 5_000, "decode": 800, "tpot_s": 0.030},
    "A100": {"row": ("p4d.24xlarge", 8), "prefill": 20_000, "decode": 2_500, "tpot_s": 0.015},
    "H100": {"row": ("p5.48xlarge", 8), "prefill": 45_000, "decode": 5_000, "tpot_s": 0.008},
}
E2E_SLO_S = 40.0


def melange_case(buckets: int, seed: int = 0) -> tuple[dict, dict]:
    """A scenario mapping and the raw ILP data (prices, loads, capacities)."""
    from deploycost.catalog import load_catalog

    hw = load_catalog().hardware
    rng = np.random.default_rng(seed)
    inputs = np.geomspace(25, 4000, buckets).round()
    outputs = np.geomspace(25, 2000, buckets).round()
    prices = {
        g: float(hw.at[spec["row"][0], "price_on_demand_per_hour"]) / spec["row"][1]
        for g, spec in GPUS.items()
    }
    boxes = [
        {
            "name": f"gpu-{g.lower()}",
            "compute_class": "gpu",
            "accelerator": "T4",
            "accel_count": 1,
            "accel_mem_gb": 80,
            "vcpus": 8,
            "memory_gib": 64,
            "currency": "USD",
            "price_on_demand_per_hour": round(prices[g], 6),
        }
        for g in GPUS
    ]
    models, loads, caps = [], {}, {}
    for i, tokens_in in enumerate(inputs):
        for j, tokens_out in enumerate(outputs):
            name = f"b{i}-{j}"
            loads[name] = float(np.round(rng.lognormal(np.log(0.5), 1.0), 4))
            profiles = []
            for g, spec in GPUS.items():
                latency = tokens_in / spec["prefill"] + tokens_out * spec["tpot_s"]
                if latency > E2E_SLO_S:
                    continue
                cap = 1.0 / (tokens_in / spec["prefill"] + tokens_out / spec["decode"])
                caps[(name, g)] = round(cap, 6)
                profiles.append(
                    {
                        "instance": f"gpu-{g.lower()}",
                        "precision": "fp16",
                        "throughput_qps": round(cap, 6),
                        "latency_ms": round(latency * 1000, 3),
                        "p99_bound_ms": round(latency * 1000, 3),
                    }
                )
            models.append(
                {
                    "name": name,
                    "size_gb": 0.001,
                    "checkpoint_precision": "fp16",
                    "retrains_per_month": 0,
                    "latency_slo_ms": E2E_SLO_S * 1000,
                    "allowed_precisions": ["fp16"],
                    "requests_per_query": loads[name],
                    "pool": "llm",
                    "profiles": profiles,
                }
            )
    scenario = {
        "name": f"melange-{buckets}x{buckets}",
        "currency": "USD",
        "workload": {"queries_per_day": 86400.0, "peak_qps": 1.0},
        "models": models,
        "model_storage_tiers": ["s3-standard"],
        "fusion": [{"name": "all", "members": [m["name"] for m in models], "method": "average"}],
        "constraints": {"utilisation_max": 1.0},
        "catalog": {
            "regions": ["us-east-1"],
            "calibration_instance": "g5.xlarge",
            "hardware": boxes,
        },
        "options": {"backups": [0], "file_compressions": ["none"], "batch_sizes": [1]},
        "fleet": {"plans": ["on_demand"]},
    }
    data = {"prices": prices, "loads": loads, "caps": caps}
    return scenario, data


def pulp_per_variable(data: dict, slices: int = 8) -> tuple[float, float, str]:
    """Mélange's way: each bucket's load cut into ``slices`` equal slices, each assigned to
    one GPU type (binary), GPU counts integer; written variable by variable in PuLP and
    solved by CBC. Our continuous shares relax the slices, so our cost is the same or lower."""
    import pulp

    start = time.perf_counter()
    prob = pulp.LpProblem("melange", pulp.LpMinimize)
    n = {g: pulp.LpVariable(f"n_{g}", lowBound=0, cat="Integer") for g in GPUS}
    x = {
        (b, s, g): pulp.LpVariable(f"x_{b}_{s}_{g}".replace("-", "_"), cat="Binary")
        for (b, g) in data["caps"]
        for s in range(slices)
    }
    prob += pulp.lpSum(24 * data["prices"][g] * n[g] for g in GPUS)
    for b in data["loads"]:
        for s in range(slices):
            prob += pulp.lpSum(x[(b, s, g)] for g in GPUS if (b, s, g) in x) == 1
    for g in GPUS:
        prob += (
            pulp.lpSum(
                data["loads"][b] / slices / data["caps"][(b, g)] * x[(b, s, g)]
                for b in data["loads"]
                for s in range(slices)
                if (b, s, g) in x
            )
            <= n[g]
        )
    prob.solve(pulp.COIN_CMD(msg=False, gapRel=0))
    seconds = time.perf_counter() - start
    return seconds, float(pulp.value(prob.objective)), pulp.LpStatus[prob.status]


def ours(scenario: dict) -> tuple[float, float, float, float, str]:
    """Our formulation and HiGHS: (end-to-end seconds incl. validation and the capacity
    search, the cost model + capacity search + build + solve seconds, the build + solve
    seconds from the capacities on (what the PuLP side is given), cost per day of the
    instances, status)."""
    from deploycost.cost.model import CostModel
    from deploycost.optimize.fleet import build_fleet
    from deploycost.optimize.fleet_solve import solve_fleet, solve_formulation
    from deploycost.optimize.solvers import SolverOptions, get_backend
    from deploycost.options.capacity import fleet_options
    from deploycost.scenario.schema import validate_scenario

    start = time.perf_counter()
    result = solve_fleet(validate_scenario(scenario), "scipy-highs")
    seconds = time.perf_counter() - start
    compute = float(result.plan.costs.per_day[result.plan.costs.line == "compute"].sum())
    inner = result.timings["build_s"] + result.timings["solve_s"]
    cost = CostModel(validate_scenario(scenario))
    fleet = fleet_options(cost)
    start = time.perf_counter()
    form = build_fleet(cost, fleet)
    out = solve_formulation(form, get_backend("scipy-highs"), SolverOptions())
    formulation = time.perf_counter() - start
    assert abs(out.objective - result.objective_per_day) <= 1e-6 * out.objective
    return seconds, inner, formulation, compute, result.status.value


def scale_child(models: int, time_limit: float, floor: bool, whole: bool = False) -> dict:
    """One scale run, in this (fresh) process; without ``floor`` the generated quality
    floor is dropped (the pools are then independent and solved apart); with ``whole``
    also the seconds HiGHS takes on the whole MILP at once and its cost."""
    from deploycost.cost.model import CostModel
    from deploycost.optimize.fleet import build_fleet
    from deploycost.optimize.fleet_solve import solve_fleet
    from deploycost.optimize.solvers import SolverOptions
    from deploycost.options.capacity import fleet_options
    from deploycost.scenario.schema import validate_scenario
    from deploycost.scenario.synthetic import random_fleet_scenario

    start = time.perf_counter()
    raw = random_fleet_scenario(1, models=models)
    if not floor:
        raw["constraints"].pop("quality_floor", None)
    scn = validate_scenario(raw)
    cost = CostModel(scn)
    t0 = time.perf_counter()
    fleet = fleet_options(cost)
    t1 = time.perf_counter()
    form = build_fleet(cost, fleet)
    t2 = time.perf_counter()
    del form
    result = solve_fleet(scn, "scipy-highs", SolverOptions(time_limit_s=time_limit))
    end = time.perf_counter()
    extra = {}
    if whole:
        from deploycost.optimize.solvers import get_backend

        form = build_fleet(cost, fleet)
        out = get_backend("scipy-highs")(form, SolverOptions(time_limit_s=time_limit))
        extra = {"whole_s": out.seconds, "whole_status": out.status.value}
        extra["same_cost"] = bool(
            abs(out.objective - result.objective_per_day) <= 1e-6 * out.objective
        )
    return extra | {
        "grid_s": t1 - t0,
        "build_s": t2 - t1,
        "solve_s": result.timings.get("solve_s", float("nan")),
        "e2e_s": (t0 - start) + (end - t2),
        "status": result.status.value,
        "gap": result.gap,
        "columns": result.size["columns"],
        "integer": result.size["integer_columns"],
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "how": "blocks" if result.size.get("solved_in_blocks") else "whole",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, nargs="*", default=[10, 50, 200])
    parser.add_argument("--melange", type=int, nargs="*", default=[10, 20])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--time-limit", type=float, default=300.0)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--no-floor", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(
        "--whole",
        action="store_true",
        help="also solve each scale case as one MILP (slow) and print the ratio",
    )
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(scale_child(args.child, args.time_limit, not args.no_floor, args.whole)))
        return

    print("Mélange-style peer (best of repeats; ratio = PuLP per variable + CBC / ours):")
    print(
        "  e2e: validation, capacity search, build, solve; model+build+solve: cost model,\n"
        "  capacity search, build, solve; build+solve: from the capacities on, as PuLP gets them"
    )
    header = (
        f"{'buckets':>8} {'ours e2e s':>10} {'model+build+solve s':>19} {'build+solve s':>13} "
        f"{'PuLP+CBC s':>10} {'ratio e2e':>9} {'ratio m+b+s':>11} {'ratio b+s':>9} "
        f"{'ours cost':>10} {'CBC cost':>10}"
    )
    print(header)
    for n in args.melange:
        scenario, data = melange_case(n)
        best = np.full(4, np.inf)
        for _ in range(args.repeats):
            e2e, inner, formulation, cost_ours, status = ours(scenario)
            seconds, cost_pulp, status_pulp = pulp_per_variable(data)
            best = np.minimum(best, [e2e, inner, formulation, seconds])
        e2e, inner, formulation, pulp_s = best
        print(
            f"{n}x{n:<5} {e2e:10.2f} {inner:19.3f} {formulation:13.3f} {pulp_s:10.2f} "
            f"{pulp_s / e2e:9.2f} {pulp_s / inner:11.2f} {pulp_s / formulation:9.2f} "
            f"{cost_ours:10.2f} {cost_pulp:10.2f}  ({status}, CBC {status_pulp})"
        )

    print("\nScale (fresh process per run, best of repeats by end to end):")
    print(
        f"{'models':>6} {'floor':>5} {'grid s':>7} {'build s':>7} {'solve s':>8} {'e2e s':>7} "
        f"{'build/solve':>11} {'status':>9} {'gap':>8} {'how':>6} {'columns':>8} {'RSS MB':>7}"
    )
    for models in args.models:
        for floor in (True, False):
            runs = []
            for _ in range(args.repeats):
                command = [sys.executable, __file__, "--child", str(models)]
                command += ["--time-limit", str(args.time_limit)] + ["--whole"] * args.whole
                out = subprocess.run(
                    command + ([] if floor else ["--no-floor"]),
                    capture_output=True,
                    text=True,
                    check=True,
                )
                runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
            r = min(runs, key=lambda run: run["e2e_s"])
            gap = "-" if r["gap"] is None else f"{r['gap']:.2%}"
            print(
                f"{models:6d} {'yes' if floor else 'no':>5} {r['grid_s']:7.2f} "
                f"{r['build_s']:7.2f} {r['solve_s']:8.2f} {r['e2e_s']:7.2f} "
                f"{r['build_s'] / r['solve_s']:11.1%} {r['status']:>9} {gap:>8} {r['how']:>6} "
                f"{r['columns']:8d} {r['rss_mb']:7.0f}"
            )
            if "whole_s" in r:
                print(
                    f"{'':13}whole MILP: {r['whole_s']:.2f} s ({r['whole_status']}, same cost: "
                    f"{r['same_cost']}), {r['whole_s'] / r['solve_s']:.1f}x the solve above"
                )


if __name__ == "__main__":
    main()
