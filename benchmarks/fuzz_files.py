"""Structural attacks on input files (alias bombs, deep nesting, duplicate keys, huge and
oddly written numbers, control characters, byte corruption, oversized and special files,
bad sweep specifications), each loaded under a 2 s deadline; prints the table.

    python -m benchmarks.fuzz_files [--cases 25000] [--seed 1]

(from the checkout's root: it shares the test suite's generators in ``tests``)

tried = clean (refused with a clear error) + accepted (valid, with finite non-negative
costs) + failures (tracebacks, hangs over 2 s, silent: a file that must be refused was
accepted). Also prints this process's peak memory (all cases run in it).
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
from tests.fuzz_files import BASE, Tally, cases, run, special_files


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=25_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    tally = Tally()
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        scenario = work / "scenario.yaml"
        scenario.write_text(BASE, encoding="utf-8")
        for case in cases(np.random.default_rng(args.seed), args.cases, special_files(work)):
            run(case, work, scenario, tally)
    elapsed = time.perf_counter() - start
    failed = len(tally.failures)
    print(f"{'kind':<14} {'tried':>7} {'failures':>9}")
    for kind, (tried, bad) in sorted(tally.by_kind.items()):
        print(f"{kind:<14} {tried:>7} {bad:>9}")
    print(
        f"tried {tally.tried:,}  clean {tally.clean:,}  accepted {tally.accepted:,}  "
        f"failures {failed:,}  ({elapsed:.1f} s; peak memory "
        f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MB)"
    )
    for failure in tally.failures[:20]:
        print("FAIL", failure)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
