"""Fuzz scenario validation with >= 10,000 mutated files and print the counts.

python -m benchmarks.fuzz_scenarios [--cases 10000] [--seed 1]

(from the checkout's root: it shares the test suite's generators in ``tests``)
"""

from __future__ import annotations

import argparse
import collections
import time

from tests.conftest import HAND_SCENARIO, PROBLEMS
from tests.fuzzing import (
    Tally,
    check,
    mutate,
    seeds,
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    import numpy as np

    bases = [*seeds(PROBLEMS), HAND_SCENARIO]
    rng = np.random.default_rng(args.seed)
    tally = Tally()
    kinds: collections.Counter[str] = collections.Counter()
    start = time.perf_counter()
    for i in range(args.cases):
        case = mutate(bases[i % len(bases)], rng)
        kinds[case.kind] += 1
        check(case, tally)
    elapsed = time.perf_counter() - start
    print(
        f"cases: {tally.cases}  rejected: {tally.rejected}  accepted: {tally.accepted}  "
        f"failures: {len(tally.failures)}  ({elapsed:.1f} s)"
    )
    print("mutations: " + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())))
    for failure in tally.failures[:20]:
        print("FAIL", failure)
    return 1 if tally.failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
