"""Thousands of seeded random small scenarios: every backend against exhaustive enumeration.

    python benchmarks/crosscheck_backends.py [--scenarios 2000] [--first-seed 0]

Prints how many scenarios were solved, how many were infeasible, and the number of
mismatches (status or optimum differing by more than 1e-6 relative) per backend.
"""

from __future__ import annotations

import argparse
import collections
import time

from deploycost.optimize.solve import solve
from deploycost.optimize.solvers import BACKENDS
from deploycost.scenario.schema import validate_scenario
from deploycost.scenario.synthetic import random_scenario


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scenarios", type=int, default=2000)
    parser.add_argument("--first-seed", type=int, default=0)
    args = parser.parse_args()
    outcomes: collections.Counter[str] = collections.Counter()
    mismatches: collections.Counter[str] = collections.Counter()
    examples = []
    start = time.perf_counter()
    for seed in range(args.first_seed, args.first_seed + args.scenarios):
        scn = validate_scenario(random_scenario(seed))
        results = {b: solve(scn, backend=b, runner_ups=False) for b in BACKENDS}
        truth = results["exhaustive"]
        outcomes[truth.status.value] += 1
        for backend, result in results.items():
            same = result.status == truth.status and (
                truth.objective_per_day is None
                or abs(result.objective_per_day - truth.objective_per_day)
                <= 1e-6 * max(1.0, abs(truth.objective_per_day))
            )
            if not same:
                mismatches[backend] += 1
                examples.append(
                    (
                        seed,
                        backend,
                        result.status.value,
                        result.objective_per_day,
                        truth.objective_per_day,
                    )
                )
    elapsed = time.perf_counter() - start
    print(
        f"scenarios: {args.scenarios} (seeds {args.first_seed}..."
        f"{args.first_seed + args.scenarios - 1}) in {elapsed:.0f} s; exhaustive says "
        + ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items()))
    )
    for backend in BACKENDS:
        print(f"  {backend}: {mismatches[backend]} mismatches")
    for example in examples[:10]:
        print("  mismatch", example)
    return 1 if examples else 0


if __name__ == "__main__":
    raise SystemExit(main())
