"""Analytic p99 against simulation on random replica configurations, per dispatch policy
and service-CV band, for the model before and after the service-time tail.

    python benchmarks/compare_analytic_sim.py [--configs 400] [--requests 100000] [--seed 0]

Configurations (``deploycost.simulate.compare.random_configs``): 1-40 replicas, utilisation
0.3-0.95, service CV 0-1.5 (a fifth at 0), batch 1-32 with a batcher delay of 0.2-3 batch-1
service times, the four dispatch policies in turn. Each is simulated by the compiled kernel
(more requests near saturation) and set against:

* *before*: batch formation ``(b - 1) n / lambda`` (capped by the delay) + the *mean* batch
  service time + the p99 wait counted per request (M/M/c or M/M/1 by policy, Allen-Cunneen
  ``(ca^2 + cs^2) / 2`` with ``ca^2 = 1`` or ``1/n``);
* *after* (``options.latency.p99_latency_ms`` today): the p99 of formation + wait + service
  bounded by splitting the 1 % tail among them, the wait counted in batches, the service
  time's own lognormal tail.

Printed: ratio analytic / simulated (min, median, max) per policy and CV band for both, the
count below 0.9 (an optimistic p99; also against the low end of the simulated p99's 95 %
interval, as heavy-tailed service near saturation settles slowly) and above 1.5, and the
worst configurations after with their intervals.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from deploycost.options.queueing import wait_quantile_s
from deploycost.simulate.compare import Config, compare, random_configs


def before_p99_ms(c: Config) -> float:
    """The analytic p99 as it was: mean service, per-request wait, mean formation."""
    lam, n, b = c.arrival_qps, c.replicas, c.batch
    formation = min((b - 1) * n / lam * 1000.0, c.delay_ms) if b > 1 else 0.0
    if c.policy == "central_queue":
        wait = float(wait_quantile_s(n, lam, c.throughput))
    else:
        wait = float(wait_quantile_s(1, lam / n, c.throughput))
    ca2 = 1.0 / n if c.policy == "round_robin" else 1.0
    return formation + c.service_s()[b] * 1000.0 + wait * (ca2 + c.cv**2) / 2 * 1000.0


def summary(table: pd.DataFrame, column: str) -> pd.DataFrame:
    ratio = table[column] / table.simulated_ms
    grouped = ratio.groupby([table.policy, table.cv_band], observed=True)
    out = grouped.agg(["count", "min", "median", "max"])
    out["below_0.9"] = grouped.apply(lambda r: int((r < 0.9).sum()))
    out["above_1.5"] = grouped.apply(lambda r: int((r > 1.5).sum()))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", type=int, default=400)
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    configs = random_configs(args.configs, args.seed)
    start = time.perf_counter()
    table = compare(configs, args.requests, args.seed)
    table["before_ms"] = [before_p99_ms(c) for c in configs]
    seconds = time.perf_counter() - start
    pd.set_option("display.width", 200)
    for label, column in (("before", "before_ms"), ("after", "analytic_ms")):
        ratio = table[column] / table.simulated_ms
        print(
            f"\n{label}: analytic / simulated over {len(table)} configurations: median "
            f"{np.median(ratio):.2f}, min {ratio.min():.2f}, max {ratio.max():.2f}; below 0.9: "
            f"{int((ratio < 0.9).sum())} (below 0.9 x the low end of the simulated p99's 95 % "
            f"interval: {int((table[column] < 0.9 * table.sim_low_ms).sum())}); median per policy: "
            + ", ".join(f"{p} {m:.2f}" for p, m in ratio.groupby(table.policy).median().items())
        )
        print(summary(table, column).round(2).to_string())
    worst = table.sort_values("ratio").head(5)
    print("\nlowest ratios after:")
    columns = ["policy", "replicas", "utilisation", "cv", "batch", "delay_ms"]
    shown = [*columns, "simulated_ms", "sim_low_ms", "sim_high_ms", "analytic_ms", "ratio"]
    print(worst[shown].round(3).to_string())
    print(f"\n{len(table)} configurations simulated in {seconds:.1f} s")


if __name__ == "__main__":
    main()
