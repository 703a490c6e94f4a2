"""Simulator speed: the compiled kernel, the same loop in Python, and a whole problem.

    python benchmarks/bench_simulate.py [--requests 1000000] [--repeats 5]

* kernel: a 24-replica model at 80 % utilisation, ``--requests`` Poisson arrivals, each
  dispatch policy, batch 1 and batch 8 with a 5 ms maximum queue delay, lognormal service
  (CV 0.3): simulated requests per second (min / median of ``--repeats``; the first,
  compiling call is not timed);
* the same kernel run as plain Python (numba's ``py_func`` for every function of the
  engine) on 20,000 requests, for the ratio that decides whether compiling earns its place;
* the shipped e-commerce problem: its optimum simulated over 24 hours at 200,000 requests
  per model-hour, end to end (solve excluded).

The machine is shared and noisy: compare figures of the same run.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

from deploycost.simulate import engine
from deploycost.simulate.engine import DISTRIBUTIONS, POLICIES, simulate

ROOT = Path(__file__).resolve().parents[1]


def arrivals(n: int, rate: float = 24 * 0.8 / 0.01, seed: int = 1) -> np.ndarray:
    return np.cumsum(np.random.default_rng(seed).exponential(1.0 / rate, n))


def run(a, policy: str, batch: int, fn=simulate):
    service = np.concatenate([[0.0], 0.01 * np.arange(1, batch + 1) ** 0.5])
    return fn(
        a,
        24,
        POLICIES.index(policy),
        batch,
        0.005,
        service,
        DISTRIBUTIONS.index("lognormal"),
        0.3,
        np.random.default_rng(3),
    )


def timed(repeats: int, fn) -> list[float]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def python_kernel():
    """The engine's functions as plain Python, swapped into the module for one call."""
    names = ("_noise", "_pick", "_start_time", "_advance", "_outstanding", "simulate_groups")
    compiled = {name: getattr(engine, name) for name in names}
    for name in names:
        setattr(engine, name, compiled[name].py_func)
    return compiled


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    a = arrivals(args.requests)
    print(f"kernel, 24 replicas, {args.requests:,} requests (M requests/s, min / median time):")
    for batch in (1, 8):
        for policy in POLICIES:
            run(a[:1000], policy, batch)  # compile outside the timing
            times = timed(args.repeats, lambda p=policy, b=batch: run(a, p, b))
            print(
                f"  batch {batch} {policy:14s} {args.requests / min(times) / 1e6:6.2f} best, "
                f"{args.requests / statistics.median(times) / 1e6:6.2f} median"
            )
    small = a[:20_000]
    for policy, batch in (("random", 1), ("least_request", 8)):
        fast = min(timed(args.repeats, lambda p=policy, b=batch: run(small, p, b)))
        compiled = python_kernel()
        try:
            slow = min(
                timed(1, lambda p=policy, b=batch: run(small, p, b, engine.simulate.py_func))
            )
        finally:
            for name, fn in compiled.items():
                setattr(engine, name, fn)
        print(
            f"same loop in Python, 20,000 requests, {policy} batch {batch}: {slow:.3f} s vs "
            f"compiled {fast:.4f} s: {slow / fast:,.0f}x"
        )

    from deploycost.optimize.solve import solve
    from deploycost.scenario.schema import load_scenario
    from deploycost.simulate.run import Settings, simulate_deployment

    scn = load_scenario(ROOT / "problems" / "ecommerce_search_rec.yaml")
    spec = solve(scn, runner_ups=False).plan.deployment
    times = timed(
        max(1, args.repeats // 2), lambda: simulate_deployment(scn, spec, Settings(hours="all"))
    )
    print(
        f"e-commerce optimum, 3 models x 24 hours x 200,000 requests: "
        f"{min(times):.2f} s best, {statistics.median(times):.2f} s median"
    )
    from deploycost.simulate.verify import solve_verified

    fleet = load_scenario(ROOT / "problems" / "fleet" / "ecommerce_fleet.yaml")
    settings = Settings.of(fleet, requests=50_000)  # what solve --verify and export use
    times = timed(max(1, args.repeats // 2), lambda: solve_verified(fleet, settings))
    print(
        f"e-commerce fleet solved and verified, 24 hours x 2 day types (+ spot cut) x 50,000 "
        f"requests per model-hour: {min(times):.2f} s best, {statistics.median(times):.2f} s "
        f"median"
    )


if __name__ == "__main__":
    main()
