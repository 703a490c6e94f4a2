"""Fuzz scenario validation with >= 10,000 mutated files and print the counts.

python benchmarks/fuzz_scenarios.py [--cases 10000] [--seed 1]
"""

from __future__ import annotations

import argparse
import collections
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.conftest import HAND_SCENARIO, PROBLEMS  # noqa: E402
from tests.fuzzing import (  # noqa: E402
    Tally,  # noqa: E402
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
