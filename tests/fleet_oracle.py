"""A brute-force oracle for small fleet scenarios, written from the scenario alone.

Scope: one or two models, one or two instance types (in a quarter of the cases the last
one is the catalog's MIG row: a node of 7 H100 slices at the parent's prices), measured
capacities (an instance of type h carries ``cap[u, h] = utilisation_max x throughput``
requests/s of model u, a split node its slices' together), free
artifacts, no data or people costs, no quotas or budget; either every model has its own
pool or all share one; any plans, spot interruption fraction, type cap, minimum share,
day types, autoscaling and scale-up lag.

Method. For a pool p and type h, let ``x`` be the load it carries in instances per
request/s of the day table (``x = sum_u share_u w[u, h] / cap[u, h]``); at day type d and
hour t it needs ``x need[d, t]`` instances. The cheapest counts covering that,
``C_ph(x)``, are found by enumerating the committed count K and, per hour, the spot count
S (on-demand N fills the rest). ``C_ph`` is a step function that changes only where
``x need[d, t]`` crosses a capacity level ``K + N + (1 - f) S``, so an optimal fleet may
take x at one of those crossings: the oracle enumerates them for every (pool, type),
checks that some load shares reach them (a polygon of at most two share variables,
whose vertices are enumerated) and keeps the cheapest. No LP or MILP solver is used.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from tests.fleet_cases import box, fleet_scenario, model

PLANS = ("on_demand", "reserved_1yr", "spot", "reserved_3yr")
TOL = 1e-9
GIB = 1.073741824
# an accelerator partition row of the shipped catalog: one H100 node (p5.4xlarge) split
# into 7 MIG 1g.10gb slices (NVIDIA MIG user guide, Table 7), bought at the parent's
# prices; a slice's measured throughput makes 7 x that per node
MIG_PARENT, MIG_ROW, MIG_SLICES = "p5.4xlarge", "p5.4xlarge:mig-1g.10gb", 7


def random_fleet(seed: int) -> dict:
    rng = np.random.default_rng(seed)
    n_types = int(rng.integers(1, 3))
    plans = [p for p in PLANS if rng.random() < 0.6] or ["on_demand"]
    boxes = []
    for k in range(n_types):
        od = float(np.round(rng.uniform(0.5, 3.0), 3))
        boxes.append(
            box(
                f"box{k}",
                on_demand=od,
                reserved=float(np.round(od * rng.uniform(0.4, 0.8), 3)),
                spot=float(np.round(od * rng.uniform(0.2, 0.7), 3)),
                reserved_3yr=float(np.round(od * rng.uniform(0.25, 0.6), 3)),
                memory_gib=float(rng.choice([12, 24, 48])),
            )
        )
    n_models = int(rng.integers(1, 3))
    shared = n_models == 2 and rng.random() < 0.5
    models = []
    for i in range(n_models):
        types = [b["name"] for b in boxes if rng.random() < 0.8] or [boxes[0]["name"]]
        caps = {t: float(np.round(rng.uniform(8, 50), 2)) for t in types}
        extra = {"requests_per_query": float(rng.choice([1.0, 2.0])), "mb_per_query": 0.0}
        if shared:
            extra["pool"] = "shared"
        models.append(model(f"m{i}", caps, size_gb=float(rng.choice([2.0, 5.0, 8.0])), **extra))
    fleet = {
        "plans": plans,
        "spot_interruption_fraction": float(rng.choice([0.0, 0.2, 0.5])),
        "scale_up_lag_min": float(rng.choice([0, 30, 90])),
    }
    if rng.random() < 0.3:
        fleet["max_types_per_model"] = 1
    if rng.random() < 0.3:
        fleet["min_share"] = 0.3
    n_days = int(rng.integers(1, 3))
    split = [365.0] if n_days == 1 else [300.0, 65.0]
    day_types = []
    for d in range(n_days):
        levels = rng.uniform(0.2, 1.0, size=int(rng.integers(2, 4)))
        profile = [float(np.round(levels[(h * len(levels)) // 24], 3)) for h in range(24)]
        day_types.append(
            {
                "name": f"d{d}",
                "days": split[d],
                "peak_qps": float(np.round(rng.uniform(10, 45), 2)),
                "hourly_profile": profile,
            }
        )
    # a quarter of the cases run their last type as MIG slices of one H100 node instead (a
    # separate stream: the other draws of a seed stay as they were)
    if np.random.default_rng(seed + 1_000_003).random() < 0.25:
        last = boxes[-1]
        boxes[-1] = {"name": MIG_PARENT, **{k: v for k, v in last.items() if "price" in k}}
        for m in models:
            m["size_gb"] = 1.0  # fits a 10 GB slice, several models too
            for p in m["profiles"]:
                if p["instance"] == last["name"]:
                    p["instance"] = MIG_ROW
        fleet["partitions"] = True
    raw = fleet_scenario(
        models,
        boxes,
        max(d["peak_qps"] for d in day_types),
        fleet=fleet,
        day_types=day_types,
        autoscale=bool(rng.random() < 0.5),
    )
    raw["constraints"]["utilisation_max"] = float(rng.choice([1.0, 0.8]))
    return raw


def day_need(raw: dict) -> tuple[np.ndarray, np.ndarray, int]:
    """(D,) days, (D, 24) requests/s capacity must carry (lag applied), hour groups."""
    days, need = [], []
    lag_hours = math.ceil(raw["fleet"].get("scale_up_lag_min", 0) / 60)
    for d in raw["workload"]["day_types"]:
        prof = np.array(d["hourly_profile"], float)
        q = d["peak_qps"] * prof / prof.max()
        window = [np.roll(q, -k) for k in range(lag_hours + 1)]
        n = np.max(window, axis=0)
        if not raw["options"]["autoscale"]:
            n = np.full(24, n.max())
        days.append(d["days"])
        need.append(n)
    return np.array(days), np.array(need), 24 if raw["options"]["autoscale"] else 1


def _prices(raw: dict, name: str) -> dict[str, float | None]:
    bought = MIG_PARENT if name == MIG_ROW else name  # a split node at its parent's prices
    row = next(b for b in raw["catalog"]["hardware"] if b["name"] == bought)
    plans = raw["fleet"]["plans"]
    return {
        "on_demand": row.get("price_on_demand_per_hour") if "on_demand" in plans else None,
        "reserved_1yr": row.get("price_reserved_1yr_per_hour") if "reserved_1yr" in plans else None,
        "reserved_3yr": row.get("price_reserved_3yr_per_hour") if "reserved_3yr" in plans else None,
        "spot": row.get("price_spot_per_hour") if "spot" in plans else None,
    }


def covering_cost(x: np.ndarray, prices: dict, days, need, groups, keep) -> np.ndarray:
    """C(x): cheapest instances per day covering ``x need[d, t]`` at every hour, for each x."""
    od, spot = prices["on_demand"], prices["spot"]
    # both terms are paid every hour of the year: only the cheaper one is ever worth it
    terms = [p for p in (prices["reserved_1yr"], prices["reserved_3yr"]) if p is not None]
    res = min(terms) if terms else None
    needs = need if groups == 24 else need[:, :1]  # (D, G)
    weights = days[:, None] / 365.0 * (1 if groups == 24 else 24)
    load = x[:, None, None] * needs[None]  # (X, D, G)
    top = int(math.ceil(float(load.max(initial=0)) - TOL)) if load.size else 0
    best = np.full(len(x), np.inf)
    k_range = range(top + 1) if res is not None else [0]
    for k in k_range:
        rest = np.maximum(load - k, 0.0)
        cheapest = np.full(rest.shape, np.inf)
        s_top = int(math.ceil(float(rest.max(initial=0)) / keep - TOL)) if spot is not None else 0
        for s in range(s_top + 1):
            left = np.maximum(rest - keep * s, 0.0)
            if od is None:
                ok = left <= TOL
                cost = np.where(ok, s * (spot or 0.0), np.inf)
            else:
                n = np.ceil(left - TOL)
                cost = n * od + s * (spot or 0.0)
            cheapest = np.minimum(cheapest, cost)
        total = k * 24 * (res or 0.0) + (cheapest * weights[None]).sum(axis=(1, 2))
        best = np.minimum(best, total)
    return best


def _levels(top: float, keep: float, spot: bool) -> np.ndarray:
    ints = np.arange(int(math.ceil(top)) + 2, dtype=float)
    if not spot or keep == 1.0:
        return ints
    s = np.arange(int(math.ceil(top / keep)) + 2) * keep
    return np.unique((ints[:, None] + s[None, :]).ravel())


def _feasible(a: np.ndarray, box_lo, box_hi, budgets: list[np.ndarray]) -> np.ndarray:
    """Whether shares exist: a[u, h] load per unit share; unit u's share on the first type
    is w_u in [lo_u, hi_u] (the rest on the second type); per type h the load
    sum_u a[u, h] w_uh <= budgets[h] (arrays over candidates). At most two units."""
    n_u, n_h = a.shape
    if n_h == 1:
        return a[:, 0].sum() <= budgets[0] * (1 + TOL) + TOL
    # constraints g . w <= r: type 0: sum_u a[u,0] w_u <= b0; type 1: -sum_u a[u,1] w_u
    # <= b1 - sum_u a[u,1]; box rows
    rows = [(a[:, 0], budgets[0]), (-a[:, 1], budgets[1] - a[:, 1].sum())]
    for u in range(n_u):
        e = np.zeros(n_u)
        e[u] = 1.0
        rows.append((e, np.full_like(budgets[0], box_hi[u])))
        rows.append((-e, np.full_like(budgets[0], -box_lo[u])))
    ok = np.zeros(len(budgets[0]), bool)
    for combo in itertools.combinations(range(len(rows)), n_u):
        g = np.array([rows[i][0] for i in combo])  # (n_u, n_u)
        if abs(np.linalg.det(g)) < 1e-12:
            continue
        r = np.stack([rows[i][1] for i in combo], axis=1)  # (X, n_u)
        w = np.linalg.solve(g, r.T).T  # (X, n_u)
        good = np.ones(len(w), bool)
        for coef, rhs in rows:
            good &= w @ coef <= rhs + 1e-9 * (1 + np.abs(rhs))
        ok |= good
    return ok


def oracle(raw: dict) -> float:
    """The cheapest fleet's cost per day (inf when none)."""
    days, need, groups = day_need(raw)
    keep = 1.0 - raw["fleet"].get("spot_interruption_fraction", 0.0)
    rho = raw["constraints"]["utilisation_max"]
    models = raw["models"]
    types = [b["name"] for b in raw["catalog"]["hardware"]]
    if any(MIG_ROW in _caps(m) for m in models):
        types.append(MIG_ROW)
    max_types = raw["fleet"].get("max_types_per_model")
    min_share = raw["fleet"].get("min_share", 0.0)
    memory = {
        b["name"]: b["memory_gib"] * GIB * 0.9
        for b in raw["catalog"]["hardware"]
        if "memory_gib" in b
    }
    memory[MIG_ROW] = math.inf  # 1 GB models on 10 GB slices with 36 GiB of host RAM each
    reserve = 2.0
    shared = any(m.get("pool") for m in models)
    groups_of_units = [list(range(len(models)))] if shared else [[u] for u in range(len(models))]
    total = 0.0
    for members in groups_of_units:
        best = np.inf
        for type_sets in itertools.product(
            *[
                [
                    s
                    for r in range(1, len(types) + 1)
                    for s in itertools.combinations([t for t in types if t in _caps(models[u])], r)
                    if max_types is None or len(s) <= max_types
                ]
                for u in members
            ]
        ):
            used = sorted({t for s in type_sets for t in s}, key=types.index)
            fits = all(
                sum(models[u]["size_gb"] for u, s in zip(members, type_sets, strict=True) if t in s)
                + reserve
                <= memory[t] + 1e-9
                for t in used
            )
            if not fits:
                continue
            a = np.array(
                [
                    [
                        models[u].get("requests_per_query", 1.0) / (rho * _caps(models[u])[t])
                        if t in s
                        else 0.0
                        for t in used
                    ]
                    for u, s in zip(members, type_sets, strict=True)
                ]
            )
            lo, hi = [], []
            for s in type_sets:
                if len(used) == 1:
                    lo.append(1.0), hi.append(1.0)
                elif len(s) == 1:
                    first = s[0] == used[0]
                    lo.append(1.0 if first else 0.0), hi.append(1.0 if first else 0.0)
                else:
                    lo.append(min_share), hi.append(1.0 - min_share)
            candidates, costs = [], []
            for j, t in enumerate(used):
                top = a[:, j].sum() * need.max()
                levels = _levels(top, keep, _prices(raw, t)["spot"] is not None)
                xs = np.unique(
                    np.concatenate(
                        [(levels[:, None] / need.ravel()[None, :]).ravel(), [a[:, j].sum()]]
                    )
                )
                xs = xs[xs <= a[:, j].sum() * (1 + 1e-12)]
                candidates.append(xs)
                costs.append(covering_cost(xs, _prices(raw, t), days, need, groups, keep))
            grids = np.meshgrid(*[np.arange(len(c)) for c in candidates], indexing="ij")
            idx = [g.ravel() for g in grids]
            cost = sum(costs[j][idx[j]] for j in range(len(used)))
            feasible = _feasible(a, lo, hi, [candidates[j][idx[j]] for j in range(len(used))])
            if feasible.any():
                best = min(best, float(cost[feasible].min()))
        total += best
    return total


def _caps(m: dict) -> dict[str, float]:
    """Requests/s one instance carries at full use: a split node, its slices together."""
    return {
        p["instance"]: p["throughput_qps"] * (MIG_SLICES if p["instance"] == MIG_ROW else 1)
        for p in m["profiles"]
    }
