"""The recommended configuration, as files: YAML and JSON, and Kubernetes manifests.

``recommendation(...)`` builds one ordered mapping with everything a reviewer or a
pipeline needs: schema and program versions, a sha256 of the canonical inputs (the
scenario and every catalog row used), the solver's status and gap, the deployment, a bill
of materials, the six-component cost per day, month and year, every price used with its
source and date, and the slack of each limit. Nothing in it depends on when or where it
runs, so the same inputs give byte-identical files.

``write_export`` writes ``recommended.yaml``, ``recommended.json`` and ``k8s/<model>.yaml``
(``outputs.k8s``: namespace, Deployment, Service, PodDisruptionBudget, and an autoscaler
when the scenario autoscales), each to a temporary file renamed into place, and refuses to
overwrite without ``force``.
"""

from __future__ import annotations

from pathlib import Path

from deploycost.cost.model import COMPONENTS
from deploycost.optimize.result import FleetPlan, SolveResult
from deploycost.outputs.document import (
    check_exportable,
    check_out_dir,
    clean,
    document_head,
    limits_section,
    llm_fields,
    rows_of,
    write_set,
)
from deploycost.outputs.k8s import manifests
from deploycost.periods import DAYS_PER_MONTH, DAYS_PER_YEAR
from deploycost.scenario.assumptions import used_catalog_rows
from deploycost.scenario.schema import Scenario


def recommendation(scn: Scenario, result: SolveResult) -> dict:
    """The export document for a solved scenario (see the module docstring; a fleet's is
    ``outputs.fleet_export.fleet_recommendation``)."""
    check_exportable(result)
    if isinstance(result.plan, FleetPlan):
        from deploycost.outputs.fleet_export import fleet_recommendation

        return fleet_recommendation(scn, result)
    spec = result.plan.deployment
    evaluation = result.plan.evaluation
    prices = evaluation.prices.table.set_index("name")
    cat = scn.resolved_catalog
    catalog_rows = used_catalog_rows(scn, spec)
    by_price = evaluation.ledger().groupby("price", sort=True).quantity_per_day.sum()
    totals = evaluation.components().iloc[0]
    models = result.plan.models.set_index("model")
    used_prices = [n for n in prices.index if by_price.get(n, 0.0) != 0.0]
    doc = {
        **document_head(scn, result, catalog_rows),
        "deployment": {
            "regions": scn.regions,
            "fusion": spec.fusion,
            "automation": spec.automation,
            "data_tiers": dict(sorted(spec.data_tiers.items())),
            "models": {
                name: _model_entry(scn, result, models, name, c)
                for name, c in sorted(spec.models.items())
            },
        },
        "bill_of_materials": _bill_of_materials(by_price),
        "cost": {
            "per_day": {c: totals[c] for c in (*COMPONENTS, "total")},
            "per_month": {c: totals[c] * DAYS_PER_MONTH for c in (*COMPONENTS, "total")},
            "per_year": {c: totals[c] * DAYS_PER_YEAR for c in (*COMPONENTS, "total")},
            "per_model_per_day": {
                name: {
                    c.removesuffix("_per_day"): models.at[name, c]
                    for c in (
                        "compute_per_day",
                        "model_storage_per_day",
                        "compression_per_day",
                        "people_per_day",
                    )
                }
                for name in sorted(spec.models)
            },
        },
        "limits": limits_section(result),
        "estimates": list(result.estimates),
        "defaults": list(result.defaults),
        "prices": [{"name": n, **{k: prices.at[n, k] for k in PRICE_FIELDS}} for n in used_prices],
        "catalog_rows": {
            kind: rows_of(cat.table(kind), rows) for kind, rows in catalog_rows.items()
        },
    }
    return clean(doc)


PRICE_FIELDS = (
    "kind",
    "unit",
    "value",
    "native_value",
    "native_currency",
    "fx_rate",
    "as_of",
    "source",
    "note",
)


def _bill_of_materials(by_price) -> dict[str, dict]:
    """Instance-hours, GB kept and retrieved, and person-days per day (and month) of every
    price with a quantity (``by_price``: quantity per day per price name)."""
    bom: dict[str, dict] = {
        "instance_hours": {},
        "storage_gb": {},
        "retrieved_gb": {},
        "person_days": {},
    }
    labels = {
        "instance_hour": "instance_hours",
        "retrieval_gb": "retrieved_gb",
        "day_rate": "person_days",
    }
    for name, qty in by_price.items():
        kind, _, item = name.partition("[")
        item = item.rstrip("]")
        if not qty:
            continue
        if kind == "storage_gb_month":  # GB-months per day x 30.4 = GB kept on average
            bom["storage_gb"][item] = {"average_stored": qty * DAYS_PER_MONTH}
        elif kind in labels:
            bom[labels[kind]][item] = {"per_day": qty, "per_month": qty * DAYS_PER_MONTH}
    return bom


def _model_entry(scn: Scenario, result: SolveResult, models, name: str, c) -> dict:
    """A model's choice and the figures it was sized at (``models``: the plan's table)."""
    return {
        "instance": c.instance,
        "region": _or_text(scn.resolved_catalog.hardware.at[c.instance, "region"]),
        "replicas": c.replicas,
        "precision": c.precision,
        "batch": c.batch,
        "artifact_tier": c.tier,
        "backups": c.backups,
        "file_compression": c.compression,
        "autoscale": c.autoscale,
        **({"autoscale_capacity_qps": c.capacity_qps} if c.autoscale else {}),
        "p99_ms": models.at[name, "p99_ms"],
        "slo_ms": models.at[name, "slo_ms"],
        "latency_headroom_ms": models.at[name, "headroom_ms"],
        "utilisation": models.at[name, "utilisation"],
        "utilisation_max": scn.constraints.utilisation_max,
        "peak_requests_per_s": models.at[name, "arrival_qps"],
        "capacity_requests_per_s": models.at[name, "capacity_qps"],
        **_llm_fields(scn, result, name, c),
    }


def _llm_fields(scn: Scenario, result: SolveResult, name: str, choice) -> dict:
    """An LLM's serving configuration, TTFT/TPOT and what its tokens cost (empty for other
    models, so their entries do not change)."""
    if not scn.model(name).is_llm:
        return {}
    row = result.llm.set_index("model").loc[name]
    return llm_fields(scn.resolved_catalog.hardware.loc[choice.instance], row)


def _or_text(value) -> str | None:
    return value if isinstance(value, str) else None


def write_export(
    scn: Scenario,
    result: SolveResult,
    out_dir: Path,
    force: bool = False,
    verification: dict | None = None,
    images: dict[str, str] | None = None,
    template: bool = True,
) -> list[Path]:
    """Write the recommendation and manifests as one set under ``out_dir``; return the paths.

    The set is written into a fresh sibling folder and renamed into place, so a kill leaves
    the old set or the new one, never a mix, and manifests of models no longer deployed do
    not linger. ``--force`` replaces only a folder that holds nothing but an earlier export;
    a lock refuses a second export to the same folder while one runs. ``verification``
    (``simulate.verify.Verified.document``) is written as the document's last key.
    ``images`` (model -> image) overrides ``models[].image``; without ``template`` a model
    with no image is an error instead of a placeholder.
    """
    check_out_dir(out_dir)
    doc = recommendation(scn, result)
    if verification is not None:
        doc["verification"] = verification
    if isinstance(result.plan, FleetPlan):
        from deploycost.outputs.fleet_export import fleet_manifests

        docs = fleet_manifests(scn, result, images, template)
    else:
        docs = manifests(scn, result, images, template)
    return write_set(Path(out_dir), doc, docs, force)
