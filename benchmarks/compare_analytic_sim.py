"""Analytic p99 against simulation, per dispatch policy, on the shipped problems' optima.

    python benchmarks/compare_analytic_sim.py [--requests 200000]

For every shipped problem (LLM models excepted: not simulated yet) the optimum is simulated
at its peak hour under each dispatch policy with deterministic service, and the simulated
p99 is set against the analytic p99 twice: *before* (the model as it was: a central M/M/c
queue whatever the dispatch, full-batch formation) and *after* (the same dispatch, service
CV 0, the scenario's batcher delay). Printed: per policy, the ratio simulated / predicted
(median, min, max over model-deployments), how many predictions are within +-10 %, and
how many SLO violations the prediction hides (simulated above the SLO, predicted below).
"""

from __future__ import annotations

import argparse
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from deploycost.optimize.solve import solve
from deploycost.options.performance import Queueing
from deploycost.scenario.schema import load_scenario
from deploycost.simulate import run as simrun
from deploycost.simulate.engine import POLICIES
from deploycost.simulate.run import Settings, simulate_deployment

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200_000)
    args = parser.parse_args()
    rows = []
    for path in sorted((ROOT / "problems").glob("*.yaml")):
        scn = load_scenario(path)
        spec = solve(scn, runner_ups=False).deployment
        delay = scn.options.max_queue_delay_ms
        for policy in POLICIES:
            settings = Settings(
                requests=args.requests,
                hours="peak",
                dispatch=policy,
                max_queue_delay_ms=math.inf if delay is None else delay,
            )
            after = simulate_deployment(scn, spec, settings)
            original = simrun.Settings.queueing
            try:  # the model before: a central M/M/c queue, no batcher delay
                simrun.Settings.queueing = lambda self: Queueing()
                before = simulate_deployment(scn, spec, replace(settings, requests=1000))
            finally:
                simrun.Settings.queueing = original
            for a, b in zip(after.itertuples(), before.itertuples(), strict=True):
                if getattr(a, "p99_ms", None) is None or a.p99_ms != a.p99_ms:
                    continue
                rows.append(
                    {
                        "problem": path.stem,
                        "model": a.model,
                        "policy": policy,
                        "simulated": a.p99_ms,
                        "after": a.predicted_p99_ms,
                        "before": b.predicted_p99_ms,
                        "slo": a.slo_ms,
                    }
                )
    table = pd.DataFrame(rows)
    pd.set_option("display.width", 200)
    print(table.to_string(index=False, float_format=lambda v: f"{v:,.2f}"))
    print()
    for policy, part in table.groupby("policy", sort=False):
        for label in ("before", "after"):
            ratio = part.simulated / part[label]
            hidden = int(((part.simulated > part.slo) & (part[label] <= part.slo)).sum())
            print(
                f"{policy:14s} {label:6s}: simulated/predicted median {np.median(ratio):.2f} "
                f"(min {ratio.min():.2f}, max {ratio.max():.2f}), within +-10 % in "
                f"{int((abs(ratio - 1) <= 0.1).sum())} of {len(part)}, hidden SLO "
                f"violations {hidden}"
            )


if __name__ == "__main__":
    main()
