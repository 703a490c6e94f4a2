"""Cost-model throughput: vectorized Q @ P.T against a plain Python loop over the same pairs.

    python benchmarks/bench_costmodel.py [--deployments 1000] [--scenarios 1000]

Prints, from one run: the time to cost every (deployment, price scenario) pair by the
vectorized path and by a Python loop over each deployment's non-zero quantities, their
ratio, and the flop rate of the matmul as a fraction of this run's numpy dgemm rate on
square matrices. Machines are shared and noisy: compare ratios, not absolute times.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from deploycost.cost.deployments import Deployments, Space
from deploycost.cost.model import CostModel
from deploycost.cost.prices import build_prices
from deploycost.scenario.schema import load_scenario

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from timing import best_of  # noqa: E402


def random_deployments(scn, count: int, rng: np.random.Generator) -> Deployments:
    """Random valid choices for every model, drawn directly as index arrays."""
    space = Space.of(scn)
    m = len(space.models)
    tiers = [space.tiers.index(t) for t in scn.model_storage_tiers]
    data_tiers = [[space.tiers.index(t) for t in s.storage_tiers] for s in scn.data_sources]
    return Deployments(
        instance=rng.integers(len(space.instances), size=(count, m)),
        replicas=rng.integers(1, 50, size=(count, m)).astype(float),
        precision=rng.integers(len(space.precisions), size=(count, m)),
        batch=rng.integers(1, 64, size=(count, m)),
        tier=rng.choice(tiers, size=(count, m)),
        backups=rng.integers(0, 3, size=(count, m)),
        compression=rng.integers(len(space.compressions), size=(count, m)),
        capacity_qps=np.where(
            rng.random((count, m)) < 0.5, rng.uniform(10, 5000, (count, m)), np.nan
        ),
        fusion=rng.integers(len(space.fusions), size=count),
        data_tier=np.stack([rng.choice(t, size=count) for t in data_tiers], axis=1),
        automation=rng.integers(len(space.automation), size=count),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--deployments", type=int, default=1000)
    parser.add_argument("--scenarios", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    scn = load_scenario(ROOT / "problems" / "ecommerce_search_rec.yaml")
    prices = build_prices(scn)
    dep = random_deployments(scn, args.deployments, rng)
    price_matrix = prices.values * rng.uniform(0.5, 1.5, size=(args.scenarios, len(prices.names)))
    pairs = args.deployments * args.scenarios

    prepare_s, model = best_of(3, lambda: CostModel(scn, prices))
    build_s, q = best_of(3, lambda: model.quantities(dep))
    fold_s, by_price = best_of(3, lambda: model.quantities(dep).by_price)
    fold_s = max(fold_s - build_s, 0.0)
    matmul_s, totals = best_of(5, lambda: by_price @ price_matrix.T)
    evaluate_s = fold_s + matmul_s
    vector_s = prepare_s + build_s + evaluate_s

    # The loop gets the same quantities, stripped to each deployment's non-zero terms.
    sparse = [
        [
            (int(r), float(x))
            for r, x in zip(np.nonzero(row)[0], row[np.nonzero(row)[0]], strict=True)
        ]
        for row in by_price
    ]
    rows = [list(map(float, p)) for p in price_matrix]
    start = time.perf_counter()
    loop = [[sum(x * p[r] for r, x in terms) for p in rows] for terms in sparse]
    loop_s = time.perf_counter() - start
    error = float(np.max(np.abs(np.array(loop) - totals) / np.maximum(1.0, np.abs(totals))))

    n = 1000
    a, b = rng.random((n, n)), rng.random((n, n))
    gemm_s, _ = best_of(5, lambda: a @ b)
    gemm_rate = 2 * n**3 / gemm_s
    d, p = by_price.shape
    matmul_rate = 2 * d * p * args.scenarios / matmul_s

    print(
        f"pairs: {pairs:,} ({args.deployments} deployments x {args.scenarios} price scenarios,"
        f" {len(q.lines)} ledger lines, {p} prices)"
    )
    print(
        f"vectorized end to end: {vector_s:.4f} s  (prepare scenario {prepare_s:.4f} s, "
        f"build Q {build_s:.4f} s, fold lines to prices {fold_s:.4f} s, "
        f"matmul {matmul_s:.4f} s)"
    )
    print(
        f"python loop over each deployment's non-zero (price, quantity) terms, given Q: "
        f"{loop_s:.3f} s; max relative difference {error:.1e}"
    )
    print(
        f"speed-up, costing given quantities (fold + matmul vs loop): {loop_s / evaluate_s:,.0f}x"
    )
    print(
        f"speed-up, end to end (prepare + build Q + fold + matmul vs loop given Q): "
        f"{loop_s / vector_s:,.0f}x"
    )
    print(
        f"matmul: {matmul_rate / 1e9:.2f} GFLOP/s = {matmul_rate / gemm_rate:.0%} of this run's "
        f"square dgemm ({gemm_rate / 1e9:.2f} GFLOP/s, n={n})"
    )


if __name__ == "__main__":
    main()
