"""Structural attacks on input files (alias bombs, deep nesting, duplicate keys, huge and
oddly written numbers, control characters, byte corruption, oversized and special files,
bad sweep specifications), each loaded under a 2 s deadline; prints the table. With
``--surfaces``: the newer surfaces instead (the shipped fleet and LLM problems corrupted or
with an odd number, vLLM profile results, request traces, plan files), each through its
own reader.

    python -m benchmarks.fuzz_files [--cases 25000] [--seed 1] [--surfaces]

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
from tests.fuzz_files import BASE, Tally, cases, run, run_surface, special_files, surface_cases

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=25_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--surfaces", action="store_true", help="the newer input surfaces")
    args = parser.parse_args()
    tally = Tally()
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        scenario = work / "scenario.yaml"
        scenario.write_text(BASE, encoding="utf-8")
        rng = np.random.default_rng(args.seed)
        if args.surfaces:
            for case in surface_cases(rng, args.cases, ROOT):
                run_surface(case, work, scenario, tally)
        else:
            for case in cases(rng, args.cases, special_files(work)):
                run(case, work, scenario, tally)
    elapsed = time.perf_counter() - start
    failed = len(tally.failures)
    print(f"{'kind':<14} {'tried':>7} {'accepted':>9} {'failures':>9}")
    for kind, (tried, bad, accepted) in sorted(tally.by_kind.items()):
        print(f"{kind:<14} {tried:>7} {accepted:>9} {bad:>9}")
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
