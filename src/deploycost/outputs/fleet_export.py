"""Export of a solved fleet: ``recommended.yaml``/``.json`` and Kubernetes manifests.

The document holds the solver status, per model its artifact and its shares over
instance types, per pool and type the instances per plan (committed count; on-demand and
spot per day type and hour), the commitment advice, the off-peak warnings, the six
components per day, month and year with compute split by plan, every price the fleet pays
with its source, and the assumptions the answer rests on.

Manifests: per pool, type and capacity class (on-demand capacity serves the committed and
on-demand instances, spot capacity the spot ones) a Deployment whose pods hold one
container per model of the pool on that type, on nodes of that instance type and capacity
type, sized at the class's largest count. Where the count changes over the day, a KEDA
``ScaledObject`` follows the hourly schedule with one ``cron`` trigger per run of equal
counts above the day's lowest (``minReplicaCount``), in ``fleet.timezone``; KEDA takes
the largest active trigger. The Deployment's file holds the schedule of the day type with
the most days; every other day type's schedule (same object name: applying it replaces
the first) is in ``k8s/schedules/<day type>/<name>.yaml``, to apply on those days.
"""

from __future__ import annotations

import numpy as np

from deploycost.catalog import COMMITTED_PLANS
from deploycost.cost.model import COMPONENTS
from deploycost.optimize.days import hourly_counts
from deploycost.optimize.fleet_pools import shown_plans
from deploycost.optimize.result import SolveResult
from deploycost.outputs.document import (
    check_exportable,
    clean,
    document_head,
    limits_section,
    llm_fields,
)
from deploycost.outputs.k8s import (
    PORT,
    check_images,
    deployment_doc,
    image_of,
    k8s_name,
    namespace_doc,
    namespace_of,
    node_selector,
    pdb_doc,
    pod_resources,
    probes,
    service_doc,
    serving,
    spread,
    tolerations,
)
from deploycost.periods import DAYS_PER_MONTH, DAYS_PER_YEAR
from deploycost.scenario.schema import Scenario

CAPACITY_TYPE = {
    "reserved_1yr": "on-demand",
    "reserved_3yr": "on-demand",
    "on_demand": "on-demand",
    "spot": "spot",
}


def _schedule(counts, day_types: list[str]) -> dict[str, list[int]]:
    """Per day type, the 24 hourly counts of ``counts`` (committed rows in every hour)."""
    return dict(zip(day_types, hourly_counts(counts, day_types).tolist(), strict=True))


def fleet_recommendation(scn: Scenario, result: SolveResult) -> dict:
    """The export document of a solved fleet (see the module docstring)."""
    check_exportable(result)
    plan = result.plan
    head = document_head(scn, result, plan.catalog_rows())
    head["solver"]["audit_checks"] = plan.audit.checks if plan.audit else 0
    costs = {
        line.strip(): {
            "per_day": per_day,
            "per_month": per_day * DAYS_PER_MONTH,
            "per_year": per_day * DAYS_PER_YEAR,
        }
        for line, per_day in zip(plan.costs.line, plan.costs.per_day, strict=True)
    }
    return clean(
        {
            **head,
            "fusion": plan.fusion,
            "automation": plan.automation,
            "data_tiers": dict(plan.data_tiers),
            "models": _fleet_models(scn, result),
            "pools": _fleet_pools(scn, plan),
            "commitments": list(plan.commitments),
            "warnings": list(plan.audit.warnings) if plan.audit else [],
            "estimates": list(result.estimates),
            "defaults": list(result.defaults),
            "costs": {k: costs[k] for k in (*COMPONENTS, *shown_plans(scn))}
            | {"total": costs["total"]},
            "limits": limits_section(result),
            "prices": _paid_prices(plan),
            "assumptions": _fleet_assumptions(scn, plan),
        }
    )


def _fleet_models(scn: Scenario, result: SolveResult) -> dict:
    """Per model: its pool, its artifact, and the types it runs on with their share."""
    plan, shares = result.plan, result.plan.shares
    llm = _llm_fields(scn, result.llm)
    models = {}
    for art in plan.artifacts.itertuples():
        mine = shares[shares.model == art.model]
        models[art.model] = {
            "pool": str(mine.pool.iat[0]) if len(mine) else None,
            "artifact": {
                "precision": art.precision,
                "tier": art.tier,
                "compression": art.compression,
                "backups": int(art.backups),
                "cold_start_s": float(art.cold_start_s),
            },
            "runs_on": [
                {
                    "instance": r.instance,
                    "batch": None if r.mode < 0 else int(r.batch),
                    "share": 0.0 if r.mode < 0 else float(r.share),
                    "role": "standby" if r.mode < 0 else "serves",
                    "capacity_qps_per_instance": None if r.mode < 0 else float(r.cap_qps),
                    "p99_at_capacity_ms": None if r.mode < 0 else float(r.p99_at_cap_ms),
                    **(llm.get((art.model, r.instance), {}) if r.mode >= 0 else {}),
                }
                for r in mine.itertuples()
            ],
        }
    return models


def _fleet_pools(scn: Scenario, plan) -> list[dict]:
    """Per pool and type: its models and the instances of each plan (committed: a count,
    on demand and spot: 24 hourly counts per day type)."""
    counts, shares, day_types = plan.counts, plan.shares, plan.days.names
    hardware = scn.resolved_catalog.hardware
    pools = []
    for (pool, inst), group in counts.groupby(["pool", "instance"], sort=True):
        entry = {
            "pool": pool,
            "instance": inst,
            "models": sorted(set(shares[(shares.pool == pool) & (shares.instance == inst)].model)),
        }
        parent = hardware.at[inst, "partition_of"]
        if isinstance(parent, str):  # instances are nodes of the parent, split in slices
            entry["partition_of"] = parent
            entry["slices_per_node"] = int(hardware.at[inst, "slices_per_node"])
        for bought in [p for p in shown_plans(scn) if p in COMMITTED_PLANS]:
            entry[bought] = int(group[group.plan == bought].instances.sum())
        for bought in ("on_demand", "spot"):
            mine = group[group.plan == bought]
            if len(mine):
                entry[bought] = _schedule(mine, day_types)
        pools.append(entry)
    return pools


def _paid_prices(plan) -> list[dict]:
    """Every price the fleet pays, with its unit, source and date."""
    prices = plan.prices
    table = prices.table.set_index("name")
    return [
        {
            "name": prices.names[r],
            "value": float(prices.values[r]),
            "unit": str(table.at[prices.names[r], "unit"]),
            "source": str(table.at[prices.names[r], "source"]),
            "as_of": str(table.at[prices.names[r], "as_of"]),
        }
        for r in plan.paid_prices()
    ]


def _fleet_assumptions(scn: Scenario, plan) -> dict:
    fleet = scn.fleet
    return {
        "capacity": "each instance has its own queue (requests spread by a load "
        "balancer): per-instance M/M/1 p99 at the SLO, capped at utilisation_max",
        "plans": list(fleet.plans),
        "spot_interruption_fraction": fleet.spot_interruption_fraction,
        "scale_up_lag_min": fleet.scale_up_lag_min,
        "autoscale": scn.options.autoscale,
        "day_types": [
            {"name": name, "days": n_days, "peak_qps": peak}
            for name, n_days, peak in zip(
                plan.days.names,
                plan.days.days.tolist(),
                plan.days.qps.max(axis=1).tolist(),
                strict=True,
            )
        ],
    }


def _llm_fields(scn: Scenario, table) -> dict[tuple[str, str], dict]:
    """(model, type) -> an LLM's serving figures on that type, as a deployment's export
    names them."""
    hardware = scn.resolved_catalog.hardware
    return {
        (r.model, r.instance): llm_fields(hardware.loc[r.instance], r) for r in table.itertuples()
    }


def fleet_manifests(
    scn: Scenario, result: SolveResult, images: dict[str, str] | None = None, template: bool = True
) -> dict[str, list[dict]]:
    """Per (pool, type, capacity type): Namespace, Deployment (one container per pooled
    model, each on its own port from 8000, with the probes, tolerations and zone spread of
    ``outputs.k8s``; replicas at the class's peak, the hourly schedule as an annotation),
    Service, a PodDisruptionBudget allowing one pod down at a time and, where the count
    changes over the day, the ``ScaledObject`` of each day type (see the module docstring)."""
    cat = scn.resolved_catalog
    plan = result.plan
    counts, shares = plan.counts, plan.shares
    names = sorted(set(shares.model))
    check_images(scn, names, images, template)
    namespace = namespace_of(scn)
    part_of = {"app.kubernetes.io/part-of": namespace, "app.kubernetes.io/managed-by": "deploycost"}
    day_types = plan.days.names
    out: dict[str, list[dict]] = {}
    counts = counts.assign(capacity=counts.plan.map(CAPACITY_TYPE))
    main = day_types[int(np.argmax(plan.days.days))]  # the day type with the most days
    folder: dict[str, str] = {}  # a folder per day type, unique once made a DNS label
    for day in day_types:
        base = k8s_name(day) or "day"
        folder[day] = base if base not in folder.values() else f"{base}-{len(folder) + 1}"
    for (pool, inst, capacity), group in counts.groupby(["pool", "instance", "capacity"]):
        hw = cat.hardware.loc[inst]
        models = sorted(set(shares[(shares.pool == pool) & (shares.instance == inst)].model))
        name = k8s_name(f"{pool}-{inst}-{capacity}")
        committed = int(group[group.plan.isin(COMMITTED_PLANS)].instances.sum())
        pods = int(np.nan_to_num(float(hw.get("slices_per_node", 1)), nan=1.0))  # per node
        per_hour = {day: [n * pods for n in v] for day, v in _schedule(group, day_types).items()}
        peak = max(max(v) for v in per_hour.values())
        labels = {
            "app.kubernetes.io/name": name,
            **part_of,
            "deploycost.io/pool": k8s_name(pool),
        }
        containers, ports, notes = _pool_containers(scn, plan, inst, models, images)
        pod = {
            "nodeSelector": {
                **node_selector(hw, inst),
                "karpenter.sh/capacity-type": capacity,
            },
            "tolerations": tolerations(hw),
            "topologySpreadConstraints": spread(labels),
            "containers": containers,
        }
        annotations = {
            "deploycost.io/plan": ", ".join(sorted(set(group.plan))),
            "deploycost.io/committed": str(committed),
            **notes,
            **({"deploycost.io/slices-per-node": str(pods)} if pods > 1 else {}),
            "deploycost.io/hourly-replicas": "; ".join(
                f"{day}: {' '.join(map(str, v))}" for day, v in per_hour.items()
            ),
        }
        out[name] = [
            namespace_doc(namespace, part_of),
            deployment_doc(name, namespace, labels, annotations, int(peak), pod),
            service_doc(name, namespace, labels, ports),
            pdb_doc(name, namespace, labels),
        ]
        if len({n for v in per_hour.values() for n in v}) > 1:  # the count changes
            tz = scn.fleet.timezone
            out[name].append(scaled_object(name, namespace, labels, main, per_hour[main], tz))
            for day, hours in per_hour.items():
                if day != main:
                    out[f"schedules/{folder[day]}/{name}"] = [
                        scaled_object(name, namespace, labels, day, hours, tz)
                    ]
    return out


def _pool_containers(scn: Scenario, plan, inst: str, models: list[str], images=None):
    """(containers, ports, annotations) of a pool's pod on type ``inst``: one container per
    model on its own port from 8000, its serving settings as costed, its share of the
    traffic, its memory and devices (the first container holds the pod's devices)."""
    hw = scn.resolved_catalog.hardware.loc[inst]
    shares = plan.shares
    cold = plan.artifacts.set_index("model").cold_start_s
    containers, ports, notes = [], [], {}
    for k, model in enumerate(models):
        mine = shares[(shares.model == model) & (shares.instance == inst)].iloc[0]
        port = {"name": f"http-{k}" if len(models) > 1 else "http", "containerPort": PORT + k}
        ports.append(port)
        llm = scn.model(model).is_llm
        config = (mine.precision, int(mine.batch), int(mine.tensor_parallel))
        env, llm_notes = serving(llm, hw, *config)
        if len(models) == 1:  # several models: each container's env says it
            notes = llm_notes
        memory = (float(mine.host_gb), float(mine.device_gb))
        containers.append(
            {
                "name": model,
                "image": image_of(scn, model, images),
                "ports": [port],
                "resources": pod_resources(hw, *memory, len(models), devices=k == 0),
                "env": [*env, {"name": "TRAFFIC_SHARE", "value": f"{float(mine.share):.6g}"}],
                **probes(llm, float(cold.get(model, 0.0)), port["name"]),
            }
        )
    return containers, ports, notes


def scaled_object(
    name: str, namespace: str, labels: dict, day: str, hours: list[int], timezone: str
) -> dict:
    """A KEDA ``ScaledObject`` holding Deployment ``name`` at ``hours[t]`` replicas in hour
    t of day type ``day``: ``minReplicaCount`` the day's lowest count, one ``cron`` trigger
    (start and end on the hour, in ``timezone``) per run of equal higher counts."""
    low = min(hours)

    def cron(start: str, end: str, count: int) -> dict:
        meta = {"timezone": timezone, "start": start, "end": end, "desiredReplicas": str(count)}
        return {"type": "cron", "metadata": meta}

    triggers = [
        cron(f"0 {start} * * *", f"0 {end % 24} * * *", count)
        for start, end, count in runs(hours)
        if count > low
    ]
    if not triggers:  # one count all day (KEDA wants a trigger): the whole day
        triggers = [cron("0 0 * * *", "59 23 * * *", low)]
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": labels,
            "annotations": {"deploycost.io/day-type": day},
        },
        "spec": {
            "scaleTargetRef": {"name": name},
            "minReplicaCount": int(low),
            "maxReplicaCount": int(max(max(hours), 1)),
            "triggers": triggers,
        },
    }


def runs(hours: list[int]) -> list[tuple[int, int, int]]:
    """(first hour, end hour, count) of each run of equal consecutive counts in the day."""
    out, start = [], 0
    for t in range(1, 25):
        if t == 24 or hours[t] != hours[start]:
            out.append((start, t, int(hours[start])))
            start = t
    return out
