"""Analytic p99 against simulation, per dispatch policy, on deployments of the shipped
problems: the optimum, a runner-up and random grid points of every model.

    python benchmarks/compare_analytic_sim.py [--requests 200000] [--random 2] [--seed 0]

For every shipped (non-fleet) problem and every model of its optimal fusion, the
deployments compared are the chosen option, the runner-up (the cheapest feasible option on
another instance type) and ``--random`` feasible options drawn from the option grid, each
simulated at the peak hour under each dispatch policy with deterministic service. The
simulated p99 is set against the analytic p99 twice: *before* (the model as it was: a
central M/M/c queue whatever the dispatch, full-batch formation) and *after* (the same
dispatch, service CV 0, the scenario's batcher delay; LLMs: the wait for a slot, the same
in both). Printed: per policy, the ratio simulated / predicted (median, min, max), how many
predictions are within +-10 %, and how many SLO violations the prediction hides
(simulated above the SLO, predicted below).
"""

from __future__ import annotations

import argparse
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from deploycost.cost.model import CostModel
from deploycost.optimize.solve import choice_of, solve
from deploycost.options.grid import enumerate_options
from deploycost.options.latency import Queueing
from deploycost.scenario.schema import load_scenario
from deploycost.simulate import run as simrun
from deploycost.simulate.engine import POLICIES
from deploycost.simulate.run import Settings, simulate_deployment

ROOT = Path(__file__).resolve().parents[1]


def deployments(scn, spec, n_random: int, rng) -> list[tuple[str, str, object]]:
    """(model, kind, deployment) for the chosen, runner-up and random options."""
    table = enumerate_options(CostModel(scn)).table
    table = table[table.fusion == spec.fusion]
    out = []
    for name, choice in spec.models.items():
        out.append((name, "chosen", spec))
        mine = table[table.model == name].sort_values("cost_per_day")
        other = mine[mine.instance != choice.instance]
        picks = [("runner-up", other.iloc[0])] if len(other) else []
        if len(mine):
            drawn = rng.choice(len(mine), size=min(n_random, len(mine)), replace=False)
            picks += [("random", mine.iloc[int(k)]) for k in drawn]
        for kind, row in picks:
            models = {**spec.models, name: choice_of(row)}
            out.append((name, kind, spec.model_copy(update={"models": models})))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200_000)
    parser.add_argument("--random", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    rows = []
    for path in sorted((ROOT / "problems").glob("*.yaml")):
        scn = load_scenario(path)
        spec = solve(scn, runner_ups=False).plan.deployment
        delay = scn.options.max_queue_delay_ms
        for name, kind, deployment in deployments(scn, spec, args.random, rng):
            for policy in POLICIES:
                settings = Settings(
                    requests=args.requests,
                    hours="peak",
                    dispatch=policy,
                    max_queue_delay_ms=math.inf if delay is None else delay,
                )
                after = simulate_deployment(scn, deployment, settings, models={name})
                original = simrun.Settings.queueing
                try:  # the model before: a central M/M/c queue, no batcher delay
                    simrun.Settings.queueing = lambda self: Queueing()
                    before = simulate_deployment(
                        scn, deployment, replace(settings, requests=1000), models={name}
                    )
                finally:
                    simrun.Settings.queueing = original
                a, b = after.iloc[0], before.iloc[0]
                if "p99_ms" not in after or a.p99_ms != a.p99_ms:
                    continue
                choice = deployment.models[name]
                rows.append(
                    {
                        "problem": path.stem,
                        "model": name,
                        "kind": kind,
                        "instance": choice.instance,
                        "replicas": choice.replicas,
                        "batch": choice.batch,
                        "policy": policy,
                        "simulated": a.p99_ms,
                        "after": a.predicted_p99_ms,
                        "before": b.predicted_p99_ms,
                        "slo": a.slo_ms,
                    }
                )
    table = pd.DataFrame(rows)
    pd.set_option("display.width", 220)
    print(table.to_string(index=False, float_format=lambda v: f"{v:,.2f}"))
    deployments_n = len(table.drop_duplicates(["problem", "model", "kind", "instance", "replicas"]))
    print(f"\n{deployments_n} model-deployments x {len(POLICIES)} policies")
    print("| policy | model | median | min | max | within +-10 % | hidden SLO violations |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for policy, part in table.groupby("policy", sort=False):
        for label in ("before", "after"):
            ratio = part.simulated / part[label]
            hidden = int(((part.simulated > part.slo) & (part[label] <= part.slo)).sum())
            print(
                f"| {policy} | {label} | {np.median(ratio):.2f} | {ratio.min():.2f} | "
                f"{ratio.max():.2f} | {int((abs(ratio - 1) <= 0.1).sum())} / {len(part)} | "
                f"{hidden} |"
            )


if __name__ == "__main__":
    main()
