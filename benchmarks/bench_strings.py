"""Small solves with pandas' two text storages, from one run.

    python benchmarks/bench_strings.py [--repeats 3] [--scenarios 12] [--fleets 6]

pandas 3 keeps text columns in pyarrow arrays when pyarrow is installed, else as Python
objects; the command line and the test suite choose Python objects
(``deploycost.pandas_setup``). Each storage runs in fresh processes, alternately (the
shipped catalog is read once per process, in the storage then in force): the same seeded
small scenarios (validate and solve on HiGHS and CBC, as the cross-checks do) and small
fleets. Printed: per storage the min and median seconds over the repeats, and the ratio
pyarrow / python of the medians. Machines are shared and noisy: compare within one run.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys

CHILD = """
import sys, time
import pandas as pd
pd.set_option("mode.string_storage", sys.argv[1])
from deploycost.optimize.solve import solve
from deploycost.scenario.schema import validate_scenario
from deploycost.scenario.synthetic import random_fleet_scenario, random_scenario
scenarios, fleets = int(sys.argv[2]), int(sys.argv[3])
solve(validate_scenario(random_scenario(0)), runner_ups=False)  # imports, catalog
start = time.perf_counter()
for seed in range(scenarios):
    scn = validate_scenario(random_scenario(seed))
    for backend in ("scipy-highs", "pulp-cbc"):
        solve(scn, backend=backend, runner_ups=False)
for seed in range(fleets):
    scn = validate_scenario(random_fleet_scenario(seed, models=3, pool_size=2))
    for backend in ("scipy-highs", "pulp-cbc"):
        solve(scn, backend=backend)
print(time.perf_counter() - start)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--scenarios", type=int, default=12)
    parser.add_argument("--fleets", type=int, default=6)
    args = parser.parse_args()
    times: dict[str, list[float]] = {"pyarrow": [], "python": []}
    for _ in range(args.repeats):
        for storage in times:
            out = subprocess.run(
                [sys.executable, "-c", CHILD, storage, str(args.scenarios), str(args.fleets)],
                capture_output=True,
                text=True,
                check=True,
            )
            times[storage].append(float(out.stdout.split()[-1]))
    for storage, seconds in times.items():
        print(
            f"{storage:8s} min {min(seconds):6.2f} s  median {statistics.median(seconds):6.2f} s"
            f"  ({args.scenarios} scenarios x 2 backends, {args.fleets} fleets x 2)"
        )
    ratio = statistics.median(times["pyarrow"]) / statistics.median(times["python"])
    print(f"pyarrow / python (medians): {ratio:.2f}")


if __name__ == "__main__":
    main()
