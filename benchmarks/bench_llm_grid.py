"""The option grid with LLM axes, against a non-LLM grid of the same size.

    python benchmarks/bench_llm_grid.py [--models 20] [--repeats 7]

* LLM: ``--models`` LLMs (catalog architectures in turn, token counts, TTFT / TPOT
  limits) allowed on every catalog instance type (all providers and regions) and every
  precision, over the default LLM axes: tensor-parallel degree {1, 2, 4, 8} x 7
  concurrencies = 28 serving configs;
* peer: as many per-request roofline models over 29 batch sizes (the same grid shape:
  units x instances x precisions x 29 configs x replica counts; the LLM grid's 29th is
  the one per-request batch size every grid carries).

Each run builds the performance table and the compute grid (``compute_grid``: replicas,
queueing and reasons over every point) and then the full option set
(``enumerate_options``: storage choices and the priced table). The machine is shared and
noisy: the figures are min / median of ``--repeats`` runs, and the ratio is taken within
this run.
"""

from __future__ import annotations

import argparse
import statistics
import time

from deploycost.cost.model import CostModel
from deploycost.options.grid import Units, compute_grid, enumerate_options
from deploycost.scenario.schema import validate_scenario
from deploycost.scenario.synthetic import LLM_ARCHITECTURES

CONFIGS = 28


def scenario(models: int, llm: bool) -> dict:
    specs = []
    for j in range(models):
        if llm:
            spec = {
                "name": f"llm{j}",
                "kind": "llm",
                "llm": {
                    "architecture": LLM_ARCHITECTURES[j % len(LLM_ARCHITECTURES)],
                    "input_tokens": {"mean": 200 + 50 * j},
                    "output_tokens": {"mean": 100 + 10 * j, "p99": 300 + 20 * j},
                    "ttft_p99_ms": 1000 + 50 * j,
                    "tpot_p99_ms": 40 + j,
                },
            }
        else:
            spec = {"name": f"m{j}", "params_million": 100 + 20 * j, "latency_slo_ms": 50 + j}
        specs.append({**spec, "traffic_share": 1.0 / models, "quality": 0.8})
    # the LLM grid also carries the per-request batch axis (one size here), so the peer
    # gets one batch size more: both grids have the same number of points
    sizes = [1] if llm else list(range(1, CONFIGS + 2))
    options = {"batch_sizes": sizes}
    return {
        "currency": "USD",
        "workload": {"queries_per_day": 5_000_000},
        "models": specs,
        "options": options,
    }


def timed(raw: dict, repeats: int) -> tuple[list[float], list[float], tuple]:
    scn = validate_scenario(raw)
    grids, options = [], []
    shape = ()
    for _ in range(repeats):
        cost = CostModel(scn)
        start = time.perf_counter()
        grid = compute_grid(cost, Units.of(cost))
        grids.append(time.perf_counter() - start)
        shape = grid.reason.shape
        cost = CostModel(scn)
        start = time.perf_counter()
        enumerate_options(cost)
        options.append(time.perf_counter() - start)
    return grids, options, shape


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    llm = timed(scenario(args.models, True), args.repeats)
    peer = timed(scenario(args.models, False), args.repeats)
    print(f"grid points: LLM {llm[2]}, peer {peer[2]}")
    for label, k in (("compute grid", 0), ("option set", 1)):
        a, b = llm[k], peer[k]
        print(
            f"{label}: LLM min {min(a):.3f} s / median {statistics.median(a):.3f} s; "
            f"peer min {min(b):.3f} s / median {statistics.median(b):.3f} s; "
            f"ratio LLM/peer (medians) {statistics.median(a) / statistics.median(b):.2f}"
        )


if __name__ == "__main__":
    main()
